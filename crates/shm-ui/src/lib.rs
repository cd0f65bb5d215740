//! What the Writer and Reader apps share: the bundled CJK font, their words in Chinese and
//! English (messages kept as data and worded when drawn), the picture viewer, their flags and
//! event log.

mod errors;
mod events;
mod fonts;
mod i18n;
mod notes;
mod view;
mod window;

pub use events::EventLog;
pub use fonts::{CJK_FONT, install_cjk_font};
pub use i18n::{Language, Texts};
pub use notes::Note;
pub use view::{
    PICTURE_TEXTURE, PictureTextures, PictureView, Status, language_picker, max_texture_side,
    show_line, show_note, texture_limit_changed, to_color_image,
};
pub use window::{Companion, WindowArgs};

/// How long to wait between checks for something that no event announces (a writer that was
/// killed, a finished file dialog).
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
