//! Test helpers shared by the workspace's crates.
//!
//! Empty under `--cfg loom`, where shm-common builds only its slot protocol.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use shm_common::{SegmentLocation, SegmentName};

/// Where a segment's fields are, for tests that damage one on purpose.
pub mod offsets {
    use std::mem::{offset_of, size_of};

    use shm_common::RecordKind;
    use shm_common::layout::{BufferMeta, ControlBlock, SlotControl};

    /// Start of the descriptor of buffer `index` of the demo segment's `kind` channel (record `n`
    /// is in buffer `n % 2`; the demo's channels are in `RecordKind` order);
    /// its first word is the sequence word.
    pub fn descriptor(kind: RecordKind, index: usize) -> u64 {
        (offset_of!(ControlBlock, slots)
            + kind.index() * size_of::<SlotControl>()
            + offset_of!(SlotControl, buffers)
            + index * size_of::<BufferMeta>()) as u64
    }

    /// The length field of that descriptor.
    pub fn length_field(kind: RecordKind, index: usize) -> u64 {
        descriptor(kind, index) + offset_of!(BufferMeta, len) as u64
    }

    /// The inline line after that descriptor: the struct slot's buffer itself.
    pub fn inline_line(kind: RecordKind, index: usize) -> u64 {
        descriptor(kind, index) + offset_of!(BufferMeta, inline) as u64
    }
}

/// Pictures made for a test.
pub mod pictures {
    /// A PNG of `width` x `height` pixels of one colour.
    pub fn png(width: u32, height: u32, rgba: [u8; 4]) -> Vec<u8> {
        let image = image::RgbaImage::from_pixel(width, height, image::Rgba(rgba));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A JPEG whose EXIF block says how to turn it (`orientation` 1 to 8): its left half red,
    /// its right half blue, as stored.
    pub fn jpeg_with_orientation(width: u32, height: u32, orientation: u8) -> Vec<u8> {
        use image::ImageEncoder;
        let image = image::RgbImage::from_fn(width, height, |x, _| {
            image::Rgb(if x < width / 2 {
                [250, 0, 0]
            } else {
                [0, 0, 250]
            })
        });
        // A little-endian TIFF block with one entry: Orientation (0x0112), SHORT, 1 value.
        let mut exif = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        exif.extend_from_slice(&[orientation, 0, 0, 0, 0, 0, 0, 0]);
        let mut out = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
        encoder.set_exif_metadata(exif).unwrap();
        encoder
            .write_image(
                image.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }
}

/// A named segment unique to this test and process, removed when dropped (even on panic).
pub struct TestSegment {
    /// Its location, to pass to writers and readers.
    pub location: SegmentLocation,
    /// Its bare name, to pass to `--name`.
    pub name: String,
}

impl TestSegment {
    /// A fresh name: `shm-test-<pid>-<tag>-<n>`.
    pub fn new(tag: &str) -> TestSegment {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("shm-test-{}-{tag}-{n}", std::process::id());
        TestSegment {
            location: SegmentLocation::Named(SegmentName::new(name.clone()).unwrap()),
            name,
        }
    }

    /// Where Linux shows it.
    pub fn dev_shm_path(&self) -> PathBuf {
        Path::new("/dev/shm").join(&self.name)
    }
}

impl Drop for TestSegment {
    fn drop(&mut self) {
        let _ = shm_common::remove(&self.location);
    }
}

/// What the manifest expects of a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Decodes.
    Ok,
    /// Is refused with an error.
    Error,
    /// Either.
    Any,
}

/// One row of `manifest.csv`.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// Path relative to the corpus, as in the manifest.
    pub relative: String,
    /// Width if it decodes.
    pub width: Option<u32>,
    /// Height if it decodes.
    pub height: Option<u32>,
    /// What decoding must do.
    pub expect: Expect,
    /// SHA-256 of the RGBA8 pixels, where defined.
    pub rgba8_sha256: Option<String>,
}

/// An image corpus: a folder with a `manifest.csv`.
pub struct Corpus {
    /// The folder.
    pub root: PathBuf,
    /// Its manifest's rows.
    pub entries: Vec<Entry>,
}

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

impl Corpus {
    /// Where the full shared corpus is: `$SHM_TESTDATA`, else `../shared/testdata/images`
    /// beside the repository (where CI puts it).
    pub fn shared_root() -> PathBuf {
        let root = std::env::var_os("SHM_TESTDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("../shared/testdata/images"));
        root.canonicalize().unwrap_or(root)
    }

    /// The full shared corpus, if it is there.
    pub fn find_shared() -> Option<Corpus> {
        let root = Corpus::shared_root();
        root.join("manifest.csv")
            .is_file()
            .then(|| Corpus::load(&root))
    }

    /// The full shared corpus, for the `#[ignore]`d tests that need it: panics, naming where
    /// it was looked for, if it is not there.
    pub fn shared() -> Corpus {
        Corpus::find_shared().unwrap_or_else(|| {
            panic!(
                "the shared image corpus is not at {}: run this test where it sits beside the \
                 repository, or set SHM_TESTDATA",
                Corpus::shared_root().display()
            )
        })
    }

    /// The subset committed under `testdata/images`.
    pub fn bundled() -> Corpus {
        Corpus::load(&workspace_root().join("testdata/images"))
    }

    /// The shared corpus if present, else the bundled subset (saying which, for the log).
    pub fn best(test: &str) -> Corpus {
        let corpus = Corpus::find_shared().unwrap_or_else(Corpus::bundled);
        println!("{test}: the corpus at {}", corpus.root.display());
        corpus
    }

    fn load(root: &Path) -> Corpus {
        let manifest = std::fs::read_to_string(root.join("manifest.csv")).unwrap();
        let entries = manifest
            .lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let fields = split_csv(line);
                let number = |i: usize| fields.get(i).and_then(|f| f.parse().ok());
                let relative = fields[0].clone();
                Entry {
                    path: root.join(&relative),
                    relative,
                    width: number(1),
                    height: number(2),
                    expect: match fields[3].as_str() {
                        "ok" => Expect::Ok,
                        "error" => Expect::Error,
                        _ => Expect::Any,
                    },
                    rgba8_sha256: fields.get(4).filter(|h| !h.is_empty()).cloned(),
                }
            })
            .collect();
        Corpus {
            root: root.to_path_buf(),
            entries,
        }
    }

    /// The entry whose relative path ends with `suffix`.
    pub fn find(&self, suffix: &str) -> &Entry {
        self.entries
            .iter()
            .find(|entry| entry.relative.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} is not in {}", self.root.display()))
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_manifest_lists_files_that_exist() {
        let corpus = Corpus::bundled();
        assert_eq!(corpus.entries.len(), 14);
        for entry in &corpus.entries {
            assert!(entry.path.is_file(), "{}", entry.path.display());
        }
        let hopper = corpus.find("valid/jpeg/hopper.jpg");
        assert_eq!((hopper.width, hopper.height), (Some(128), Some(128)));
        assert_eq!(corpus.find("empty.png").expect, Expect::Error);
    }

    #[test]
    fn quoted_csv_fields_keep_their_commas() {
        assert_eq!(split_csv(r#"a,"b,c",d"#), vec!["a", "b,c", "d"]);
        assert_eq!(split_csv(r#""x""y",z"#), vec![r#"x"y"#, "z"]);
    }
}
