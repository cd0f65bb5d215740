//! What the Writer and Reader apps share: the bundled CJK font, their labels in Chinese and
//! English, the settings they remember, their event log, and the picture view.

mod events;
mod fonts;
mod i18n;
mod view;
mod window;

pub use events::EventLog;
pub use fonts::{CJK_FONT, install_cjk_font};
pub use i18n::{Language, Texts};
pub use view::{
    Status, language_picker, max_texture_side, picture_view, show_status, to_color_image,
};
pub use window::WindowArgs;

/// How long to wait between checks for something that no event announces (a writer that was
/// killed, a finished file dialog).
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
