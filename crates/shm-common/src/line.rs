//! One cache line shared between processes and nothing else: no header, no protocol, no
//! checksum, no clock. A round trip through it is the floor under any exchange between two
//! processes on the machine, which `shm bench` measures every round trip against, in the same
//! run (cross-core traffic on a virtual machine switches between states several times apart).

use std::io;
use std::sync::atomic::AtomicU64;

use crate::error::OpenError;
use crate::location::{CreationMode, SegmentLocation};
use crate::segment;
use crate::sys::{MapError, SharedRegion};

/// A page of shared memory whose first word two processes hand back and forth.
pub struct SharedLine {
    region: SharedRegion,
    location: SegmentLocation,
    /// This side created it: dropping it removes the name.
    created: bool,
}

impl SharedLine {
    /// Creates the line at `location` (owner-only, one page, zeroed), failing if it exists.
    /// It is removed when this value is dropped.
    pub fn create(location: &SegmentLocation) -> Result<SharedLine, OpenError> {
        let file = segment::open_bare(location, CreationMode::CreateNew)?;
        file.set_len(4096)
            .map_err(|source| os_error("size", location, source))?;
        SharedLine::map(location, file, true)
    }

    /// Opens the line another process created at `location`.
    pub fn open(location: &SegmentLocation) -> Result<SharedLine, OpenError> {
        let file = segment::open_bare(location, CreationMode::OpenExisting)?;
        SharedLine::map(location, file, false)
    }

    fn map(
        location: &SegmentLocation,
        file: std::fs::File,
        created: bool,
    ) -> Result<SharedLine, OpenError> {
        let region = SharedRegion::map(file, true).map_err(|err| match err {
            MapError::TooSmall { len } => os_error(
                "map",
                location,
                io::Error::other(format!("it is {len} bytes, not a page")),
            ),
            MapError::Os(source) => os_error("map", location, source),
        })?;
        Ok(SharedLine {
            region,
            location: location.clone(),
            created,
        })
    }

    /// The word both processes load and store: the page's first, which a mapping (checked to
    /// be a control page long) sees as its header's first field.
    pub fn word(&self) -> &AtomicU64 {
        &self.region.control().header.magic
    }
}

fn os_error(action: &'static str, location: &SegmentLocation, source: io::Error) -> OpenError {
    OpenError::Os {
        action,
        segment: location.clone(),
        source,
    }
}

impl Drop for SharedLine {
    fn drop(&mut self) {
        if self.created {
            let _ = segment::remove_location(&self.location);
        }
    }
}
