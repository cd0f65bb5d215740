//! Widgets both apps use: the picture view, the status line, the language picker.

use egui::{Color32, ColorImage, Response, RichText, TextureHandle, Ui};
use shm_picture::DecodedPicture;

use crate::i18n::Language;

/// The largest texture side the GPU takes: larger pictures must be scaled down first.
pub fn max_texture_side(ctx: &egui::Context) -> u32 {
    u32::try_from(ctx.input(|input| input.max_texture_side)).unwrap_or(u32::MAX)
}

/// Pixels ready for a texture.
pub fn to_color_image(picture: &DecodedPicture) -> ColorImage {
    let (width, height) = picture.rgba.dimensions();
    ColorImage::from_rgba_unmultiplied([width as usize, height as usize], picture.rgba.as_raw())
}

/// Shows a picture in all the space left: fitted with its aspect ratio kept, or stretched to
/// fill it like the original's picture box. `alt_text` names it for screen readers and tests.
pub fn picture_view(
    ui: &mut Ui,
    texture: &TextureHandle,
    stretch: bool,
    alt_text: &str,
) -> Response {
    let size = ui.available_size();
    let image = egui::Image::new(texture)
        .fit_to_exact_size(size)
        .maintain_aspect_ratio(!stretch)
        .alt_text(alt_text);
    ui.centered_and_justified(|ui| ui.add(image)).inner
}

/// One line of status: information, or an error the user should act on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The sentence.
    pub text: String,
    /// Shown in the error colour.
    pub is_error: bool,
}

impl Status {
    /// Information.
    pub fn info(text: impl Into<String>) -> Status {
        Status {
            text: text.into(),
            is_error: false,
        }
    }

    /// An error.
    pub fn error(text: impl Into<String>) -> Status {
        Status {
            text: text.into(),
            is_error: true,
        }
    }
}

/// Draws a status line (nothing if it is empty).
pub fn show_status(ui: &mut Ui, status: &Status) {
    if status.text.is_empty() {
        return;
    }
    let text = RichText::new(&status.text);
    let text = if status.is_error {
        text.color(ui.visuals().error_fg_color)
    } else {
        text.color(ui.visuals().text_color())
    };
    ui.add(egui::Label::new(text).wrap());
}

/// "语言: 中文 | English"; returns whether the language changed.
pub fn language_picker(ui: &mut Ui, language: &mut Language) -> bool {
    let before = *language;
    ui.horizontal(|ui| {
        ui.label(RichText::new(language.texts().language).color(Color32::GRAY));
        for choice in Language::ALL {
            ui.selectable_value(language, choice, choice.name());
        }
    });
    *language != before
}
