//! Decode pictures from untrusted bytes under memory limits.
//!
//! [`decode`] is the one way the Reader app and `shm read-image --decode` turn bytes into
//! pixels: it guesses the format from the bytes (never from a file name), reads the declared
//! size, decodes under [`limits`], and scales anything wider or taller than the caller's
//! maximum side down to fit, keeping the aspect ratio.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits, RgbaImage};

/// The most memory one decode may allocate: 512 MiB, the `image` crate's own default, stated
/// explicitly so it never depends on a dependency's choice.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// The decoder limits every picture is decoded under.
pub fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

/// A decoded picture, ready to show.
#[derive(Clone, Debug)]
pub struct DecodedPicture {
    /// RGBA8 pixels, possibly scaled down (see `downscaled`).
    pub rgba: RgbaImage,
    /// Width of the picture as stored, in pixels.
    pub width: u32,
    /// Height of the picture as stored, in pixels.
    pub height: u32,
    /// The format found in the bytes.
    pub format: ImageFormat,
    /// Time spent decoding (and scaling).
    pub decode_time: Duration,
    /// Whether `rgba` was scaled down to fit the maximum side.
    pub downscaled: bool,
}

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
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
    let image = reader()
        .decode()
        .map_err(|err| classify(err, name, declared))?;
    let (width, height) = (image.width(), image.height());
    let mut picture = DecodedPicture {
        rgba: DynamicImage::into_rgba8(image),
        width,
        height,
        format,
        decode_time: Duration::ZERO,
        downscaled: false,
    };
    picture.fit_within(max_side);
    picture.decode_time = started.elapsed();
    Ok(picture)
}

impl DecodedPicture {
    /// Scales the pixels down, keeping the aspect ratio, so neither side exceeds `max_side`.
    pub fn fit_within(&mut self, max_side: u32) {
        let max_side = max_side.max(1);
        let (width, height) = self.rgba.dimensions();
        if width <= max_side && height <= max_side {
            return;
        }
        let scale = f64::from(max_side) / f64::from(width.max(height));
        let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, max_side);
        self.rgba = image::imageops::resize(
            &self.rgba,
            scaled(width),
            scaled(height),
            image::imageops::FilterType::Triangle,
        );
        self.downscaled = true;
    }
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
