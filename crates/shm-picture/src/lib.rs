//! Decode pictures from untrusted bytes under memory limits.
//!
//! [`decode`] is the one way the apps and `shm read-image --decode` turn bytes into pixels: it
//! guesses the format from the bytes (never from a file name), reads the declared size,
//! decodes under [`limits`], turns the picture as its EXIF orientation says, decodes every
//! frame of an animated GIF, APNG or WebP, and scales anything wider or taller than the
//! caller's maximum side down to fit, keeping the aspect ratio.
//!
//! [`StreamFrames`] makes the raw frames of a live stream: a moving test pattern, or the
//! frames of pictures and animations scaled to one size.

mod stream;

pub use stream::{MAX_STREAM_BYTES, MAX_STREAM_SIDE, Pacer, StreamError, StreamFrames, StreamNote};

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{
    AnimationDecoder, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbaImage,
};

/// The most memory one decode may allocate: 512 MiB, the `image` crate's own default, stated
/// explicitly so it never depends on a dependency's choice.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// The decoder limits every picture is decoded under.
pub fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

/// At most this many bytes of decoded frames are kept for one animation: the rest is cut.
pub const MAX_ANIMATION_BYTES: u64 = MAX_DECODE_ALLOC / 2;
/// At most this many frames are kept for one animation.
pub const MAX_ANIMATION_FRAMES: usize = 2000;

/// A decoded picture, ready to show.
#[derive(Clone, Debug)]
pub struct DecodedPicture {
    /// RGBA8 pixels, turned as the EXIF orientation says, possibly scaled down (see
    /// `downscaled`); the first frame of an animation.
    pub rgba: RgbaImage,
    /// Width of the picture as stored (before any EXIF turn), in pixels.
    pub width: u32,
    /// Height of the picture as stored (before any EXIF turn), in pixels.
    pub height: u32,
    /// The format found in the bytes.
    pub format: ImageFormat,
    /// The EXIF orientation that was applied (`NoTransforms` without one).
    pub orientation: Orientation,
    /// Every frame of an animated GIF, APNG or WebP, the first one included; empty for a
    /// still picture.
    pub frames: Vec<AnimationFrame>,
    /// The animation has more frames than [`MAX_ANIMATION_BYTES`] or [`MAX_ANIMATION_FRAMES`]
    /// allow, or a damaged frame: only the frames before it are in `frames`.
    pub frames_cut: bool,
    /// Time spent decoding (and scaling).
    pub decode_time: Duration,
    /// Whether `rgba` was scaled down to fit the maximum side.
    pub downscaled: bool,
}

/// One frame of an animation.
#[derive(Clone, Debug)]
pub struct AnimationFrame {
    /// The whole canvas at this frame, RGBA8.
    pub rgba: RgbaImage,
    /// How long it stays before the next.
    pub delay: Duration,
}

impl DecodedPicture {
    /// Width and height as shown: after the EXIF turn, before any scaling down.
    pub fn shown_size(&self) -> (u32, u32) {
        match self.orientation {
            Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH => (self.height, self.width),
            _ => (self.width, self.height),
        }
    }

    /// Whether it has more than one frame to play.
    pub fn is_animated(&self) -> bool {
        self.frames.len() > 1
    }
}

/// The EXIF orientation in words, for the details panel: `None` when nothing was turned.
pub fn orientation_name(orientation: Orientation) -> Option<&'static str> {
    match orientation {
        Orientation::NoTransforms => None,
        Orientation::Rotate90 => Some("90°"),
        Orientation::Rotate180 => Some("180°"),
        Orientation::Rotate270 => Some("270°"),
        Orientation::FlipHorizontal => Some("⇆"),
        Orientation::FlipVertical => Some("⇅"),
        Orientation::Rotate90FlipH => Some("90° ⇆"),
        Orientation::Rotate270FlipH => Some("270° ⇆"),
    }
}

/// Why bytes could not be decoded.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all.
    #[error("the picture is empty (0 bytes)")]
    Empty,
    /// No known format's signature.
    #[error(
        "the bytes are not a picture in any format this program reads ({})",
        supported_formats()
    )]
    UnknownFormat,
    /// The declared size needs more memory than allowed.
    #[error(
        "the {format} picture declares {width}x{height} pixels, more than the {} MiB decoding limit allows",
        MAX_DECODE_ALLOC / (1024 * 1024)
    )]
    TooLarge {
        /// Format name.
        format: &'static str,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// Over a limit, size unknown.
    #[error("the {format} picture needs more than the {} MiB decoding limit allows", MAX_DECODE_ALLOC / (1024 * 1024))]
    OverLimit {
        /// Format name.
        format: &'static str,
    },
    /// A valid file using a feature the decoder lacks.
    #[error("the {format} picture uses a feature this program cannot decode: {detail}")]
    Unsupported {
        /// Format name.
        format: &'static str,
        /// The decoder's words.
        detail: String,
    },
    /// Damaged or truncated data.
    #[error("the {format} picture is damaged: {detail}")]
    Damaged {
        /// Format name.
        format: &'static str,
        /// The decoder's words.
        detail: String,
    },
}

/// The name people use for a format: `PNG`, `JPEG`, ...
pub fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Ico => "ICO",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Farbfeld => "farbfeld",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Qoi => "QOI",
        _ => "picture",
    }
}

/// The formats this build decodes, the common ones first.
pub fn readable_formats() -> Vec<ImageFormat> {
    const COMMON: [ImageFormat; 7] = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
        ImageFormat::Ico,
    ];
    let mut formats: Vec<ImageFormat> = ImageFormat::all()
        .filter(|format| format.reading_enabled())
        .collect();
    formats.sort_by_key(|format| {
        COMMON
            .iter()
            .position(|common| common == format)
            .unwrap_or(COMMON.len())
    });
    formats
}

/// File extensions of every readable format (for file dialogs), lower case, without dots.
pub fn readable_extensions() -> Vec<&'static str> {
    readable_formats()
        .into_iter()
        .flat_map(|format| format.extensions_str().iter().copied())
        .collect()
}

fn supported_formats() -> String {
    readable_formats()
        .into_iter()
        .map(format_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes `bytes`, scaling the result down so neither side exceeds `max_side` pixels.
pub fn decode(bytes: &[u8], max_side: u32) -> Result<DecodedPicture, DecodeError> {
    let started = Instant::now();
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| DecodeError::UnknownFormat)?;
    let name = format_name(format);
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        reader.limits(limits());
        reader
    };
    let declared = reader().into_dimensions().ok();
    let classify = |err| classify(err, name, declared);
    let mut decoder = reader().into_decoder().map_err(classify)?;
    if decoder.total_bytes() > MAX_DECODE_ALLOC {
        return Err(classify(ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::InsufficientMemory),
        )));
    }
    // A damaged EXIF block must not cost the picture: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    let (width, height) = (image.width(), image.height());
    image.apply_orientation(orientation);
    let (frames, frames_cut) = decode_frames(bytes, format);
    let mut picture = DecodedPicture {
        rgba: DynamicImage::into_rgba8(image),
        width,
        height,
        format,
        orientation,
        frames,
        frames_cut,
        decode_time: Duration::ZERO,
        downscaled: false,
    };
    picture.fit_within(max_side);
    picture.decode_time = started.elapsed();
    Ok(picture)
}

/// Every frame of an animated GIF, APNG or WebP (empty for anything else, or a single frame),
/// and whether some were cut.
fn decode_frames(bytes: &[u8], format: ImageFormat) -> (Vec<AnimationFrame>, bool) {
    let cursor = || Cursor::new(bytes);
    let frames = match format {
        ImageFormat::Gif => GifDecoder::new(cursor()).and_then(|mut decoder| {
            decoder.set_limits(limits())?;
            Ok(decoder.into_frames())
        }),
        ImageFormat::Png => PngDecoder::with_limits(cursor(), limits()).and_then(|decoder| {
            if decoder.is_apng()? {
                Ok(decoder.apng()?.into_frames())
            } else {
                Ok(image::Frames::new(Box::new(std::iter::empty())))
            }
        }),
        ImageFormat::WebP => WebPDecoder::new(cursor()).and_then(|mut decoder| {
            decoder.set_limits(limits())?;
            if decoder.has_animation() {
                Ok(decoder.into_frames())
            } else {
                Ok(image::Frames::new(Box::new(std::iter::empty())))
            }
        }),
        _ => return (Vec::new(), false),
    };
    let Ok(frames) = frames else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut bytes_kept = 0u64;
    let mut cut = false;
    for frame in frames {
        let Ok(frame) = frame else {
            cut = true;
            break;
        };
        let (numer, denom) = frame.delay().numer_denom_ms();
        let delay = Duration::from_secs_f64(f64::from(numer) / f64::from(denom.max(1)) / 1e3);
        let rgba = frame.into_buffer();
        bytes_kept += rgba.as_raw().len() as u64;
        if bytes_kept > MAX_ANIMATION_BYTES || kept.len() == MAX_ANIMATION_FRAMES {
            cut = true;
            break;
        }
        kept.push(AnimationFrame { rgba, delay });
    }
    if kept.len() < 2 {
        return (Vec::new(), false);
    }
    (kept, cut)
}

impl DecodedPicture {
    /// Scales the pixels (and every frame) down, keeping the aspect ratio, so neither side
    /// exceeds `max_side`.
    pub fn fit_within(&mut self, max_side: u32) {
        if let Some(scaled) = scaled_within(&self.rgba, max_side) {
            self.rgba = scaled;
            self.downscaled = true;
        }
        for frame in &mut self.frames {
            if let Some(scaled) = scaled_within(&frame.rgba, max_side) {
                frame.rgba = scaled;
            }
        }
    }
}

/// `image` scaled down to fit `max_side`, or `None` if it already fits.
fn scaled_within(image: &RgbaImage, max_side: u32) -> Option<RgbaImage> {
    let max_side = max_side.max(1);
    let (width, height) = image.dimensions();
    if width <= max_side && height <= max_side {
        return None;
    }
    let scale = f64::from(max_side) / f64::from(width.max(height));
    let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, max_side);
    Some(image::imageops::resize(
        image,
        scaled(width),
        scaled(height),
        image::imageops::FilterType::Triangle,
    ))
}

/// A decoder's message on one line: messages end up in one-line status bars and stderr.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn classify(err: ImageError, format: &'static str, declared: Option<(u32, u32)>) -> DecodeError {
    match err {
        ImageError::Limits(_) => match declared {
            Some((width, height)) => DecodeError::TooLarge {
                format,
                width,
                height,
            },
            None => DecodeError::OverLimit { format },
        },
        ImageError::Unsupported(detail) => DecodeError::Unsupported {
            format,
            detail: one_line(&detail.to_string()),
        },
        other => DecodeError::Damaged {
            format,
            detail: one_line(&other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([x as u8, y as u8, 7, 255])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_generated_png_decodes_with_its_size_and_format() {
        let picture = decode(&png(40, 30), 4096).unwrap();
        assert_eq!((picture.width, picture.height), (40, 30));
        assert_eq!(picture.format, ImageFormat::Png);
        assert!(!picture.downscaled);
        assert_eq!(picture.rgba.get_pixel(5, 6).0, [5, 6, 7, 255]);
    }

    #[test]
    fn pictures_beyond_the_texture_limit_are_scaled_down_keeping_their_shape() {
        let picture = decode(&png(400, 100), 100).unwrap();
        assert_eq!((picture.width, picture.height), (400, 100));
        assert!(picture.downscaled);
        assert_eq!(picture.rgba.dimensions(), (100, 25));
    }

    #[test]
    fn empty_and_foreign_bytes_are_named() {
        assert!(matches!(decode(&[], 100), Err(DecodeError::Empty)));
        let err = decode(b"plain text, not a picture", 100).unwrap_err();
        assert!(
            err.to_string().starts_with("the bytes are not a picture"),
            "{err}"
        );
        assert!(err.to_string().contains("PNG, JPEG"), "{err}");
    }

    #[test]
    fn a_truncated_png_is_damaged() {
        let bytes = png(64, 64);
        let err = decode(&bytes[..bytes.len() / 2], 100).unwrap_err();
        assert!(
            matches!(err, DecodeError::Damaged { format: "PNG", .. }),
            "{err}"
        );
    }

    #[test]
    fn exif_orientation_turns_the_picture() {
        use shm_testkit::pictures::jpeg_with_orientation;
        let picture = decode(&jpeg_with_orientation(80, 40, 6), 4096).unwrap();
        assert_eq!(picture.orientation, Orientation::Rotate90);
        assert_eq!((picture.width, picture.height), (80, 40), "as stored");
        assert_eq!(picture.shown_size(), (40, 80));
        assert_eq!(picture.rgba.dimensions(), (40, 80), "portrait");
        // Turned clockwise: the stored left half (red) is now on top.
        assert!(picture.rgba.get_pixel(20, 5).0[0] > 200);
        assert!(picture.rgba.get_pixel(20, 75).0[2] > 200);

        let mirrored = decode(&jpeg_with_orientation(80, 40, 2), 4096).unwrap();
        assert_eq!(mirrored.rgba.dimensions(), (80, 40));
        assert!(
            mirrored.rgba.get_pixel(5, 20).0[2] > 200,
            "blue on the left"
        );
    }

    #[test]
    fn an_animated_gif_decodes_every_frame_with_its_delay() {
        use image::codecs::gif::GifEncoder;
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            for (i, colour) in [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]
                .into_iter()
                .enumerate()
            {
                let frame = image::Frame::from_parts(
                    RgbaImage::from_pixel(16, 8, image::Rgba(colour)),
                    0,
                    0,
                    image::Delay::from_numer_denom_ms(100 * (i as u32 + 1), 1),
                );
                encoder.encode_frame(frame).unwrap();
            }
        }
        let picture = decode(&out, 4096).unwrap();
        assert!(picture.is_animated());
        assert_eq!(picture.frames.len(), 3);
        assert!(!picture.frames_cut);
        assert_eq!(picture.frames[1].delay, Duration::from_millis(200));
        assert_eq!(picture.frames[2].rgba.get_pixel(3, 3).0, [0, 0, 255, 255]);
        assert!(!decode(&png(4, 4), 100).unwrap().is_animated());
    }

    #[test]
    fn dialog_extensions_cover_the_common_formats() {
        let extensions = readable_extensions();
        for ext in ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "ico"] {
            assert!(
                extensions.contains(&ext),
                "{ext} missing from {extensions:?}"
            );
        }
    }
}
