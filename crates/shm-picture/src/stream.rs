//! The frames of a live stream: all of one size, RGBA8 with tightly packed rows, made once so
//! that sending a frame is one copy of its rows into shared memory.
//!
//! * [`StreamFrames::pattern`]: a test pattern that moves 8 pixels to the left per frame. It
//!   is a strip one period wider than the frame; frame `n` is the window starting
//!   `8 n mod period` pixels in, so no frame is ever drawn, only copied out.
//! * [`StreamFrames::from_paths`]: every frame of the pictures and animations named (a folder
//!   stands for the pictures in it), each fitted into the stream's size on black.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::{Rgba, RgbaImage};

use crate::{DecodeError, decode};

/// How far the test pattern moves per frame, in pixels.
const PATTERN_STEP: u32 = 8;
/// After how many pixels the test pattern repeats.
const PATTERN_PERIOD: u32 = 512;
/// The most pixel bytes kept for the frames of pictures: later pictures are left out.
pub const MAX_STREAM_BYTES: u64 = 1 << 30;
/// The largest side a stream's frame may have.
pub const MAX_STREAM_SIDE: u32 = 16384;

/// Why no stream could be made.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A side is 0 or too large.
    #[error("a stream of {width}x{height} pixels is not possible; each side must be 1 to 16384")]
    Size {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// Nothing named could be shown.
    #[error("none of the {count} files named is a picture this program can show")]
    NoPictures {
        /// How many files were tried.
        count: usize,
    },
}

/// Something a stream left out, for the person who asked for it.
#[derive(Debug)]
pub enum StreamNote {
    /// A file could not be read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file is not a picture that can be shown.
    NotAPicture {
        /// The file.
        path: PathBuf,
        /// Why.
        error: DecodeError,
    },
    /// The frames would need more than [`MAX_STREAM_BYTES`]: the rest were left out.
    Cut {
        /// Frames kept.
        kept: usize,
    },
}

impl std::fmt::Display for StreamNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamNote::Unreadable { path, error } => {
                write!(f, "'{}' left out: {error}", path.display())
            }
            StreamNote::NotAPicture { path, error } => {
                write!(f, "'{}' left out: {error}", path.display())
            }
            StreamNote::Cut { kept } => write!(
                f,
                "only the first {kept} frames are streamed: more would need over {} MiB",
                MAX_STREAM_BYTES >> 20
            ),
        }
    }
}

/// What the frames come from.
enum Source {
    /// A strip `width + PATTERN_PERIOD` pixels wide, periodic across.
    Pattern { strip: RgbaImage },
    /// Pictures, each already `width` x `height`, cycled.
    Pictures(Vec<RgbaImage>),
}

/// The frames of a stream, made up front.
pub struct StreamFrames {
    width: u32,
    height: u32,
    source: Source,
}

impl StreamFrames {
    /// The moving test pattern at `width` x `height`.
    pub fn pattern(width: u32, height: u32) -> Result<StreamFrames, StreamError> {
        check_size(width, height)?;
        let strip = RgbaImage::from_fn(width + PATTERN_PERIOD, height, |x, y| {
            pattern_pixel(x % PATTERN_PERIOD, y, height)
        });
        Ok(StreamFrames {
            width,
            height,
            source: Source::Pattern { strip },
        })
    }

    /// Every frame of the pictures at `paths` (a folder stands for the pictures directly in
    /// it, by name), fitted into `size` or, without one, the first picture's size. Files that
    /// are not pictures are left out and named in the notes.
    pub fn from_paths(
        paths: &[PathBuf],
        size: Option<(u32, u32)>,
    ) -> Result<(StreamFrames, Vec<StreamNote>), StreamError> {
        if let Some((width, height)) = size {
            check_size(width, height)?;
        }
        let files = expand(paths);
        let mut notes = Vec::new();
        let mut size = size;
        let mut frames = Vec::new();
        let mut bytes = 0u64;
        'files: for path in &files {
            let data = match std::fs::read(path) {
                Ok(data) => data,
                Err(error) => {
                    notes.push(StreamNote::Unreadable {
                        path: path.clone(),
                        error,
                    });
                    continue;
                }
            };
            let picture = match decode(&data, MAX_STREAM_SIDE) {
                Ok(picture) => picture,
                Err(error) => {
                    notes.push(StreamNote::NotAPicture {
                        path: path.clone(),
                        error,
                    });
                    continue;
                }
            };
            let (width, height) = *size.get_or_insert(picture.rgba.dimensions());
            let images: Vec<&RgbaImage> = if picture.is_animated() {
                picture.frames.iter().map(|frame| &frame.rgba).collect()
            } else {
                vec![&picture.rgba]
            };
            for image in images {
                bytes += u64::from(width) * u64::from(height) * 4;
                if bytes > MAX_STREAM_BYTES {
                    notes.push(StreamNote::Cut { kept: frames.len() });
                    break 'files;
                }
                frames.push(fitted(image, width, height));
            }
        }
        let (Some((width, height)), false) = (size, frames.is_empty()) else {
            return Err(StreamError::NoPictures { count: files.len() });
        };
        let stream = StreamFrames {
            width,
            height,
            source: Source::Pictures(frames),
        };
        Ok((stream, notes))
    }

    /// Width and height of every frame.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Bytes of one row (4 per pixel, no padding).
    pub fn row_len(&self) -> usize {
        self.width as usize * 4
    }

    /// Bytes of one frame's pixels.
    pub fn frame_len(&self) -> usize {
        self.row_len() * self.height as usize
    }

    /// After how many frames the stream repeats.
    pub fn cycle_len(&self) -> usize {
        match &self.source {
            Source::Pattern { .. } => (PATTERN_PERIOD / PATTERN_STEP) as usize,
            Source::Pictures(frames) => frames.len(),
        }
    }

    /// The rows of frame `number`, top to bottom, each [`StreamFrames::row_len`] bytes.
    pub fn rows(&self, number: u64) -> Vec<&[u8]> {
        let row_len = self.row_len();
        match &self.source {
            Source::Pattern { strip } => {
                let shift = (number % self.cycle_len() as u64) as usize * PATTERN_STEP as usize;
                let strip_row = strip.width() as usize * 4;
                strip
                    .as_raw()
                    .chunks_exact(strip_row)
                    .map(|row| &row[shift * 4..shift * 4 + row_len])
                    .collect()
            }
            Source::Pictures(frames) => {
                let frame = &frames[(number % frames.len() as u64) as usize];
                frame.as_raw().chunks_exact(row_len).collect()
            }
        }
    }
}

/// Keeps a stream at its frame rate: [`Pacer::wait`] returns when the next frame is due.
#[derive(Debug)]
pub struct Pacer {
    period: Option<Duration>,
    next: Instant,
}

impl Pacer {
    /// A pacer for `fps` frames a second; 0 (or less) for as fast as possible.
    pub fn new(fps: f64) -> Pacer {
        let period = (fps > 0.0 && fps.is_finite()).then(|| Duration::from_secs_f64(1.0 / fps));
        Pacer {
            period,
            next: Instant::now(),
        }
    }

    /// Sleeps until the next frame is due. A frame that is already late goes at once, and the
    /// schedule restarts from now, so a stall is not followed by a burst of frames.
    pub fn wait(&mut self) {
        let Some(period) = self.period else {
            return;
        };
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
            self.next += period;
        } else {
            self.next = now + period;
        }
    }
}

fn check_size(width: u32, height: u32) -> Result<(), StreamError> {
    let side = 1..=MAX_STREAM_SIDE;
    if side.contains(&width) && side.contains(&height) {
        Ok(())
    } else {
        Err(StreamError::Size { width, height })
    }
}

/// Files named, with each folder replaced by the files directly in it, sorted by name.
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_file())
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// `image` scaled to fit `width` x `height` (aspect kept) and centred on black.
fn fitted(image: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    let scale = (f64::from(width) / f64::from(image.width()))
        .min(f64::from(height) / f64::from(image.height()));
    let side = |length: u32, max: u32| ((f64::from(length) * scale).round() as u32).clamp(1, max);
    let scaled = image::imageops::resize(
        image,
        side(image.width(), width),
        side(image.height(), height),
        image::imageops::FilterType::Triangle,
    );
    let mut canvas = RgbaImage::from_pixel(width, height, Rgba([0, 0, 0, 255]));
    let x = i64::from((width - scaled.width()) / 2);
    let y = i64::from((height - scaled.height()) / 2);
    image::imageops::overlay(&mut canvas, &scaled, x, y);
    canvas
}

/// The test pattern at column `x` of one period: eight colour bars over a grey ramp, with a
/// white line every 64 pixels so motion is easy to follow.
fn pattern_pixel(x: u32, y: u32, height: u32) -> Rgba<u8> {
    const BARS: [[u8; 3]; 8] = [
        [235, 235, 235],
        [235, 235, 16],
        [16, 235, 235],
        [16, 235, 16],
        [235, 16, 235],
        [235, 16, 16],
        [16, 16, 235],
        [16, 16, 16],
    ];
    if x % 64 < 2 {
        return Rgba([255, 255, 255, 255]);
    }
    let band = y * 4 / height.max(1);
    if band == 3 {
        let grey = (x * 255 / (PATTERN_PERIOD - 1)) as u8;
        return Rgba([grey, grey, grey, 255]);
    }
    let [r, g, b] = BARS[(x / (PATTERN_PERIOD / 8)) as usize % 8];
    Rgba([r, g, b, 255])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_moves_by_one_step_per_frame_and_repeats() {
        let stream = StreamFrames::pattern(100, 20).unwrap();
        assert_eq!(stream.size(), (100, 20));
        let first = stream.rows(0);
        let second = stream.rows(1);
        assert_eq!(first.len(), 20);
        assert!(first.iter().all(|row| row.len() == 400));
        // Frame 1 is frame 0 moved left by one step.
        let step = PATTERN_STEP as usize * 4;
        assert_eq!(&second[0][..400 - step], &first[0][step..]);
        assert_eq!(stream.rows(stream.cycle_len() as u64), first);
    }

    #[test]
    fn a_pacer_keeps_the_rate_and_does_not_burst_after_a_stall() {
        let mut pacer = Pacer::new(200.0);
        let start = Instant::now();
        for _ in 0..11 {
            pacer.wait();
        }
        assert!(start.elapsed() >= Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(30));
        let late = Instant::now();
        pacer.wait();
        pacer.wait();
        assert!(
            late.elapsed() >= Duration::from_millis(5),
            "no burst of late frames"
        );
        assert!(Pacer::new(0.0).period.is_none(), "0: as fast as possible");
    }

    #[test]
    fn impossible_sizes_are_refused() {
        assert!(StreamFrames::pattern(0, 10).is_err());
        assert!(StreamFrames::pattern(10, MAX_STREAM_SIDE + 1).is_err());
    }

    #[test]
    fn pictures_are_fitted_into_one_size_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("shm-picture-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wide = dir.join("a.png");
        RgbaImage::from_pixel(40, 10, Rgba([200, 0, 0, 255]))
            .save(&wide)
            .unwrap();
        let tall = dir.join("b.png");
        RgbaImage::from_pixel(10, 40, Rgba([0, 200, 0, 255]))
            .save(&tall)
            .unwrap();
        std::fs::write(dir.join("c.txt"), b"not a picture").unwrap();
        let (stream, notes) = StreamFrames::from_paths(std::slice::from_ref(&dir), None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(stream.size(), (40, 10), "the first picture's size");
        assert_eq!(stream.cycle_len(), 2);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].to_string().contains("c.txt' left out"),
            "{}",
            notes[0]
        );
        // The tall one is letterboxed: black at the sides, green in the middle.
        let rows = stream.rows(1);
        assert_eq!(&rows[5][0..4], &[0, 0, 0, 255]);
        assert_eq!(&rows[5][80..84], &[0, 200, 0, 255]);
        assert!(matches!(
            StreamFrames::from_paths(&[PathBuf::from("/no/such")], None),
            Err(StreamError::NoPictures { count: 1 })
        ));
    }
}
