//! Finding segments and tidying up after crashed writers: what `shm ls`, `shm doctor` and
//! `shm remove --stale` are made of.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::channel::{Reader, SegmentInfo, WriterStatus};
use crate::error::{OpenError, ReadError, RemoveError};
use crate::layout::MAGIC;
use crate::segment::{Segment, SegmentLocation, SegmentName};
use crate::sys::FileSystemSpace;

/// Where named segments live, where they are files (Linux).
pub const NAMED_SEGMENTS_DIR: &str = "/dev/shm";

/// Room on the file system holding `path` (see [`SegmentLocation::storage_dir`]).
pub fn file_system_space(path: &Path) -> io::Result<FileSystemSpace> {
    crate::sys::space(path)
}

/// A segment found by [`find_segments`].
#[derive(Debug)]
pub struct FoundSegment {
    /// Where it is.
    pub location: SegmentLocation,
    /// Bytes its file takes.
    pub size: u64,
    /// Its owner's uid.
    pub owner: u32,
    /// Its permission bits.
    pub mode: u32,
    /// Its header and slots, or why it cannot be opened (another user's, open to others,
    /// damaged...).
    pub info: Result<SegmentInfo, Undescribed>,
}

/// Why a segment found could not be described.
#[derive(Debug, thiserror::Error)]
pub enum Undescribed {
    /// It could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Its header could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl FoundSegment {
    /// Left by a writer that crashed, and not kept on purpose: `shm remove --stale` removes it.
    pub fn is_stale(&self) -> bool {
        self.info
            .as_ref()
            .is_ok_and(|info| matches!(info.writer, WriterStatus::Crashed { .. }) && !info.persist)
    }
}

/// Every segment of ours: the named ones (files in [`NAMED_SEGMENTS_DIR`] that start with our
/// magic number; elsewhere than Linux named segments cannot be listed) and the `files` given.
/// Files this user cannot read are passed over: nothing says they are segments.
pub fn find_segments(files: &[PathBuf]) -> Vec<FoundSegment> {
    let mut found = Vec::new();
    if cfg!(target_os = "linux")
        && let Ok(entries) = std::fs::read_dir(NAMED_SEGMENTS_DIR)
    {
        let mut names: Vec<SegmentName> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        for name in names {
            let path = Path::new(NAMED_SEGMENTS_DIR).join(name.as_str());
            if starts_with_magic(&path).unwrap_or(false) {
                found.extend(describe(SegmentLocation::Named(name), &path));
            }
        }
    }
    for path in files {
        found.extend(describe(SegmentLocation::File(path.clone()), path));
    }
    found
}

/// Whether the file at `path` starts with our magic number (never through a symbolic link).
fn starts_with_magic(path: &Path) -> io::Result<bool> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut magic = [0u8; 8];
    file.read_exact_at(&mut magic, 0)?;
    Ok(u64::from_le_bytes(magic) == MAGIC)
}

fn describe(location: SegmentLocation, path: &Path) -> Option<FoundSegment> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let info = Reader::open(&location)
        .map_err(Undescribed::from)
        .and_then(|reader| reader.info().map_err(Undescribed::from));
    Some(FoundSegment {
        location,
        size: meta.len(),
        owner: meta.uid(),
        mode: meta.mode() & 0o7777,
        info,
    })
}

/// What `remove --stale` did with a segment.
#[derive(Debug)]
pub enum StaleOutcome {
    /// Removed: its writer had crashed and it was not kept on purpose.
    Removed,
    /// Left alone: a writer took it over meanwhile, or it is kept on purpose.
    Kept,
    /// It could not be checked or removed.
    Failed(RemoveError),
}

/// Removes the segments whose writer crashed and that were not kept on purpose (`--persist`),
/// among the named ones and `files`. Each is checked again under its writer lock before it
/// goes, so a writer that takes one over meanwhile keeps it.
pub fn remove_stale(files: &[PathBuf]) -> Vec<(SegmentLocation, StaleOutcome)> {
    find_segments(files)
        .into_iter()
        .filter(FoundSegment::is_stale)
        .map(|found| {
            let outcome = match Segment::remove_if_stale(&found.location) {
                Ok(true) => StaleOutcome::Removed,
                Ok(false) => StaleOutcome::Kept,
                Err(err) => StaleOutcome::Failed(err),
            };
            (found.location, outcome)
        })
        .collect()
}
