//! Shared memory with nothing else: no header, no protocol, no checksum, no clock. What moves
//! through it is the floor under any exchange between two processes on the machine, which `shm
//! bench` measures its figures against, in the same run (cross-core traffic on a virtual
//! machine switches between states several times apart): [`SharedLine`], one cache line handed
//! back and forth, for the round trip (and the page's other lines, for a bare model of a
//! protocol's line traffic); [`SharedBytes`], bytes copied in by one process and out by another,
//! for large transfers.

use std::io;
use std::sync::atomic::AtomicU64;

use crate::error::OpenError;
use crate::layout::CONTROL_SIZE;
use crate::location::{CreationMode, SegmentLocation};
use crate::segment;
use crate::sys::{MapError, SharedRegion};

/// A page of shared memory whose first word two processes hand back and forth; its other cache
/// lines are there for a model of a protocol with nothing else (see [`SharedLine::line`]).
pub struct SharedLine {
    bare: Bare,
}

impl SharedLine {
    /// Creates the line at `location` (owner-only, one page, zeroed), failing if it exists.
    /// It is removed when this value is dropped.
    pub fn create(location: &SegmentLocation) -> Result<SharedLine, OpenError> {
        Bare::create(location, CONTROL_SIZE).map(|bare| SharedLine { bare })
    }

    /// Opens the line another process created at `location`.
    pub fn open(location: &SegmentLocation) -> Result<SharedLine, OpenError> {
        Bare::open(location).map(|bare| SharedLine { bare })
    }

    /// The word both processes load and store: the page's first.
    pub fn word(&self) -> &AtomicU64 {
        &self.bare.region.control().header.magic
    }

    /// The eight words of cache line `index` of the page, `None` past its
    /// [`SharedLine::LINES`].
    pub fn line(&self, index: usize) -> Option<&[AtomicU64]> {
        if index >= Self::LINES {
            return None;
        }
        self.bare.region.words(64 * index, 8)
    }

    /// Cache lines in the page.
    pub const LINES: usize = CONTROL_SIZE / 64;
}

/// Bytes in shared memory after a page of [`SharedBytes::WORDS`] signal words, each on a cache
/// line of its own: one process copies bytes in, another copies them out, and the words say how
/// far they got.
///
/// The copies are relaxed atomic accesses of each 8-byte word (32 bytes per instruction where the
/// CPU can, as the segments' own copies): they never tear a word, and order nothing by
/// themselves; a Release store of a word after a copy in, and an Acquire load of it before the
/// copy out, make the bytes visible.
pub struct SharedBytes {
    bare: Bare,
}

impl SharedBytes {
    /// Signal words beside the bytes.
    pub const WORDS: usize = 8;

    /// Creates `len` zeroed bytes (rounded up to a cache line) at `location`, owner-only,
    /// failing if it exists. They are removed when this value is dropped.
    pub fn create(location: &SegmentLocation, len: usize) -> Result<SharedBytes, OpenError> {
        Bare::create(location, CONTROL_SIZE + len.next_multiple_of(64))
            .map(|bare| SharedBytes { bare })
    }

    /// Opens the bytes another process created at `location`.
    pub fn open(location: &SegmentLocation) -> Result<SharedBytes, OpenError> {
        Bare::open(location).map(|bare| SharedBytes { bare })
    }

    /// How many bytes there are.
    pub fn len(&self) -> usize {
        self.bare.region.len().saturating_sub(CONTROL_SIZE)
    }

    /// Whether there are no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Signal word `index` (below [`SharedBytes::WORDS`]), zero when created.
    pub fn word(&self, index: usize) -> Option<&AtomicU64> {
        if index >= Self::WORDS {
            return None;
        }
        self.bare.region.words(64 * index, 1)?.first()
    }

    /// Copies `bytes` in at `offset`; false (nothing copied) unless both are whole 8-byte
    /// words and the range lies within [`SharedBytes::len`].
    pub fn write(&self, offset: usize, bytes: &[u8]) -> bool {
        self.data_offset(offset, bytes.len())
            .and_then(|at| self.bare.region.store_bytes(at, bytes))
            .is_some()
    }

    /// Copies `out.len()` bytes out from `offset`; false (nothing copied) unless both are whole
    /// 8-byte words and the range lies within [`SharedBytes::len`].
    pub fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        self.data_offset(offset, out.len())
            .and_then(|at| self.bare.region.load_bytes(at, out))
            .is_some()
    }

    /// Where `offset..offset + len` of the bytes lies in the mapping, if within them.
    fn data_offset(&self, offset: usize, len: usize) -> Option<usize> {
        let end = offset.checked_add(len)?;
        (end <= self.len()).then_some(CONTROL_SIZE + offset)
    }
}

/// A mapped file with no header, removed by its creator.
struct Bare {
    region: SharedRegion,
    location: SegmentLocation,
    /// This side created it: dropping it removes the name.
    created: bool,
}

impl Bare {
    fn create(location: &SegmentLocation, size: usize) -> Result<Bare, OpenError> {
        let file = segment::open_bare(location, CreationMode::CreateNew)?;
        let sized = file
            .set_len(size as u64)
            .map_err(|source| os_error("size", location, source));
        let bare = sized.and_then(|()| Bare::map(location, file, true));
        if bare.is_err() {
            // Nobody else knows the name yet: it goes with the failure.
            let _ = segment::remove_location(location);
        }
        bare
    }

    fn open(location: &SegmentLocation) -> Result<Bare, OpenError> {
        let file = segment::open_bare(location, CreationMode::OpenExisting)?;
        Bare::map(location, file, false)
    }

    fn map(
        location: &SegmentLocation,
        file: std::fs::File,
        created: bool,
    ) -> Result<Bare, OpenError> {
        let region = SharedRegion::map(file, true).map_err(|err| match err {
            MapError::TooSmall { len } => os_error(
                "map",
                location,
                io::Error::other(format!("it is {len} bytes, not a page")),
            ),
            MapError::Os(source) => os_error("map", location, source),
        })?;
        Ok(Bare {
            region,
            location: location.clone(),
            created,
        })
    }
}

fn os_error(action: &'static str, location: &SegmentLocation, source: io::Error) -> OpenError {
    OpenError::Os {
        action,
        segment: location.clone(),
        source,
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        if self.created {
            let _ = segment::remove_location(&self.location);
        }
    }
}
