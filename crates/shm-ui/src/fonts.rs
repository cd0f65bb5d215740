//! The bundled CJK font: egui's own fonts draw 咻 as an empty box.

use egui::{FontData, FontDefinitions, FontFamily};

/// Droid Sans Fallback (Apache-2.0, see `assets/fonts/`): every basic CJK ideograph, kana and
/// CJK punctuation, 4 MB.
pub const CJK_FONT: &[u8] = include_bytes!("../../../assets/fonts/DroidSansFallbackFull.ttf");

const CJK_FONT_NAME: &str = "droid-sans-fallback";

/// Installs the CJK font as the last fallback of both font families, after egui's own fonts,
/// so Latin text keeps egui's look and Chinese text renders everywhere. Call it on every
/// context: the apps' and every test harness's.
pub fn install_cjk_font(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert(
        CJK_FONT_NAME.to_owned(),
        std::sync::Arc::new(FontData::from_static(CJK_FONT)),
    );
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push(CJK_FONT_NAME.to_owned());
    }
    ctx.set_fonts(fonts);
}
