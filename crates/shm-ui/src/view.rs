//! Widgets both apps use: the picture viewer, the status line, the language picker.

use std::time::{Duration, Instant};

use egui::{
    Color32, ColorImage, Pos2, Rect, Response, RichText, Role, Sense, TextureHandle,
    TextureOptions, Ui, Vec2, WidgetInfo,
};
use shm_common::SegmentLocation;
use shm_picture::DecodedPicture;

use crate::i18n::Language;
use crate::notes::Note;

/// Sharp pixels when magnified, smooth when reduced.
pub const PICTURE_TEXTURE: TextureOptions = TextureOptions {
    magnification: egui::TextureFilter::Nearest,
    minification: egui::TextureFilter::Linear,
    wrap_mode: egui::TextureWrapMode::ClampToEdge,
    mipmap_mode: None,
};

/// The largest texture side the GPU takes: larger pictures must be scaled down first.
pub fn max_texture_side(ctx: &egui::Context) -> u32 {
    u32::try_from(ctx.input(|input| input.max_texture_side)).unwrap_or(u32::MAX)
}

/// The GPU's texture limit if it differs from `known` (which it then becomes): the workers
/// that decode need to hear of it.
pub fn texture_limit_changed(ctx: &egui::Context, known: &mut Option<u32>) -> Option<u32> {
    let limit = max_texture_side(ctx);
    (known.replace(limit) != Some(limit)).then_some(limit)
}

/// Pixels ready for a texture.
pub fn to_color_image(rgba: &image::RgbaImage) -> ColorImage {
    let (width, height) = rgba.dimensions();
    ColorImage::from_rgba_unmultiplied([width as usize, height as usize], rgba.as_raw())
}

/// The textures of a picture on screen: one for a still picture, one per frame for an
/// animation, which plays in a loop.
pub struct PictureTextures {
    frames: Vec<TextureHandle>,
    delays: Vec<Duration>,
    cycle: Duration,
    since: Instant,
}

impl PictureTextures {
    /// Uploads a decoded picture (every frame of an animation).
    pub fn load(ctx: &egui::Context, name: &str, picture: &DecodedPicture) -> PictureTextures {
        if !picture.is_animated() {
            return PictureTextures::still(ctx, name, to_color_image(&picture.rgba));
        }
        let frames = picture
            .frames
            .iter()
            .enumerate()
            .map(|(index, frame)| {
                ctx.load_texture(
                    format!("{name}-{index}"),
                    to_color_image(&frame.rgba),
                    PICTURE_TEXTURE,
                )
            })
            .collect();
        // Browsers show frames with no delay (or a tiny one) for 100 ms; so do we.
        let delays: Vec<Duration> = picture
            .frames
            .iter()
            .map(|frame| {
                if frame.delay < Duration::from_millis(20) {
                    Duration::from_millis(100)
                } else {
                    frame.delay
                }
            })
            .collect();
        PictureTextures {
            frames,
            cycle: delays.iter().sum(),
            delays,
            since: Instant::now(),
        }
    }

    /// One still image.
    pub fn still(ctx: &egui::Context, name: &str, image: ColorImage) -> PictureTextures {
        PictureTextures {
            frames: vec![ctx.load_texture(name, image, PICTURE_TEXTURE)],
            delays: vec![Duration::ZERO],
            cycle: Duration::ZERO,
            since: Instant::now(),
        }
    }

    /// Replaces the picture with one still image, reusing the texture (live frames).
    pub fn replace(&mut self, image: ColorImage) {
        self.frames.truncate(1);
        self.delays.truncate(1);
        self.cycle = Duration::ZERO;
        if let Some(texture) = self.frames.first_mut() {
            texture.set(image, PICTURE_TEXTURE);
        }
    }

    /// Frames in the animation (1 for a still picture).
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// The texture to show now; asks for a repaint when the next frame is due.
    pub fn current(&self, ctx: &egui::Context) -> Option<&TextureHandle> {
        if self.cycle.is_zero() {
            return self.frames.first();
        }
        let cycle = self.cycle.as_nanos().max(1);
        let mut into = Duration::from_nanos((self.since.elapsed().as_nanos() % cycle) as u64);
        for (texture, delay) in self.frames.iter().zip(&self.delays) {
            if into < *delay {
                ctx.request_repaint_after(*delay - into);
                return Some(texture);
            }
            into -= *delay;
        }
        self.frames.first()
    }
}

/// How a picture is scaled in the view.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Zoom {
    /// Fitted to the view, never magnified: small pictures show at 1:1.
    Fit,
    /// This many screen points per picture pixel; `center` (in picture pixels) is at the view's
    /// centre.
    Scale { scale: f32, center: Vec2 },
}

/// A picture viewer: fitted or at 1:1, wheel zoom around the cursor, drag to pan, double-click
/// switches between fit and 1:1, a checkerboard under transparency.
pub struct PictureView {
    zoom: Zoom,
    checker: Option<TextureHandle>,
}

impl Default for PictureView {
    fn default() -> PictureView {
        PictureView {
            zoom: Zoom::Fit,
            checker: None,
        }
    }
}

const MIN_SCALE: f32 = 1.0 / 64.0;
const MAX_SCALE: f32 = 64.0;

impl PictureView {
    /// Back to fitting the view (for a new picture).
    pub fn fit(&mut self) {
        self.zoom = Zoom::Fit;
    }

    /// The scale the picture is shown at now in a view of `view` points: 1.0 is 1:1.
    fn scale_in(&self, view: Vec2, picture: Vec2, stretch: bool) -> Vec2 {
        match self.zoom {
            Zoom::Scale { scale, .. } => Vec2::splat(scale),
            Zoom::Fit if stretch => view / picture.max(Vec2::splat(1.0)),
            Zoom::Fit => {
                let fit = (view.x / picture.x.max(1.0)).min(view.y / picture.y.max(1.0));
                Vec2::splat(fit.min(1.0))
            }
        }
    }

    /// Shows `texture` in all the space left. `alt_text` names it for screen readers and tests;
    /// `stretch` fills the view like the original's picture box (while fitted).
    pub fn show(
        &mut self,
        ui: &mut Ui,
        texture: &TextureHandle,
        stretch: bool,
        alt_text: &str,
        language: Language,
    ) -> Response {
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        // Picture pixels in points: 1:1 means one picture pixel per physical pixel.
        let pixels_per_point = ui.ctx().pixels_per_point();
        let picture = texture.size_vec2() / pixels_per_point;
        self.handle_input(ui, &response, rect, picture, stretch);
        let scale = self.scale_in(rect.size(), picture, stretch);
        let texts = language.texts();
        let label = match self.zoom {
            Zoom::Fit if stretch => texts.stretch.to_owned(),
            Zoom::Fit => format!("{} {:.0}%", texts.fit, scale.x * 100.0),
            Zoom::Scale { scale, .. } => format!("{:.0}%", scale * 100.0),
        };
        // Screen readers (and tests) get the picture's name, and its scale as the value.
        response.widget_info(|| {
            let mut info = WidgetInfo::new(Role::Image);
            info.label = Some(alt_text.to_owned());
            info.current_text_value = Some(label.clone());
            info
        });
        let size = picture * scale;
        let center = match self.zoom {
            Zoom::Fit => rect.center(),
            Zoom::Scale { center, .. } => rect.center() - center * scale + picture * scale / 2.0,
        };
        let image_rect = Rect::from_center_size(center, size);
        let painter = ui.painter_at(rect);
        let checker = self.checker(ui.ctx());
        let cells = size / 8.0;
        painter.image(
            checker.id(),
            image_rect,
            Rect::from_min_max(Pos2::ZERO, cells.to_pos2()),
            Color32::WHITE,
        );
        painter.image(
            texture.id(),
            image_rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        painter.text(
            rect.right_bottom() - Vec2::new(6.0, 4.0),
            egui::Align2::RIGHT_BOTTOM,
            label,
            egui::FontId::proportional(12.0),
            ui.visuals().weak_text_color(),
        );
        response.on_hover_text(texts.view_hint)
    }

    fn handle_input(
        &mut self,
        ui: &Ui,
        response: &Response,
        rect: Rect,
        picture: Vec2,
        stretch: bool,
    ) {
        let current = self.scale_in(rect.size(), picture, stretch).x;
        let center_now = match self.zoom {
            Zoom::Fit => picture / 2.0,
            Zoom::Scale { center, .. } => center,
        };
        // The picture pixel under a screen point.
        let under = |point: Pos2| center_now + (point - rect.center()) / current;
        if response.double_clicked() {
            self.zoom = match self.zoom {
                Zoom::Fit => Zoom::Scale {
                    scale: 1.0,
                    center: response.interact_pointer_pos().map_or(picture / 2.0, under),
                },
                Zoom::Scale { .. } => Zoom::Fit,
            };
            return;
        }
        if response.dragged() {
            let delta = response.drag_delta();
            if delta != Vec2::ZERO {
                self.zoom = Zoom::Scale {
                    scale: current,
                    center: center_now - delta / current,
                };
            }
        }
        if !response.hovered() {
            return;
        }
        let (scroll, zoom) = ui.input(|input| (input.smooth_scroll_delta.y, input.zoom_delta()));
        let factor = zoom * (scroll / 200.0).exp();
        if (factor - 1.0).abs() < 1e-4 {
            return;
        }
        let pointer = response.hover_pos().unwrap_or(rect.center());
        let fixed = under(pointer);
        let scale = (current * factor).clamp(MIN_SCALE, MAX_SCALE);
        self.zoom = Zoom::Scale {
            scale,
            center: fixed - (pointer - rect.center()) / scale,
        };
    }

    /// A 2x2 grey checkerboard that repeats: drawn under every picture, it shows through
    /// where the picture is transparent.
    fn checker(&mut self, ctx: &egui::Context) -> TextureHandle {
        self.checker
            .get_or_insert_with(|| {
                let light = Color32::from_gray(204);
                let dark = Color32::from_gray(153);
                let image = ColorImage::new([2, 2], vec![light, dark, dark, light]);
                let options = TextureOptions {
                    wrap_mode: egui::TextureWrapMode::Repeat,
                    ..TextureOptions::NEAREST
                };
                ctx.load_texture("checkerboard", image, options)
            })
            .clone()
    }
}

/// What the status line shows: nothing, or a note worded when drawn.
#[derive(Debug, Default)]
pub struct Status(pub Option<Note>);

impl Status {
    /// Shows `note`.
    pub fn set(&mut self, note: Note) {
        self.0 = Some(note);
    }

    /// Shows nothing.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

/// Draws a note as a status line in the window's language.
pub fn show_note(ui: &mut Ui, note: &Note, language: Language, location: &SegmentLocation) {
    show_line(ui, &language.word(note, location), note.is_error());
}

/// Draws one line of text, in the error colour if `is_error`.
pub fn show_line(ui: &mut Ui, text: &str, is_error: bool) {
    if text.is_empty() {
        return;
    }
    let text = RichText::new(text);
    let text = if is_error {
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
