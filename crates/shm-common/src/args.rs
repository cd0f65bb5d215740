//! The flags every program of the project takes to pick a segment (feature `clap`).

use std::path::PathBuf;

use crate::channel::Capacity;
use crate::location::{SegmentLocation, SegmentName};
use crate::size::parse_size;

/// `--name NAME` or `--file PATH`: which segment to use.
#[derive(clap::Args, Debug, Clone)]
pub struct SegmentArgs {
    /// Name of the shared-memory segment (/dev/shm/NAME on Linux).
    #[arg(long, global = true, default_value = crate::location::DEFAULT_SEGMENT_NAME, conflicts_with = "file")]
    pub name: SegmentName,
    /// Use a file-backed segment at this path instead of a named one.
    #[arg(long, global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

impl SegmentArgs {
    /// The segment the flags name.
    pub fn location(&self) -> SegmentLocation {
        match &self.file {
            Some(path) => SegmentLocation::File(path.clone()),
            None => SegmentLocation::Named(self.name.clone()),
        }
    }
}

/// `--capacity BYTES`: the largest picture a writer's segment holds.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct CapacityArgs {
    /// Largest picture the segment holds (e.g. 16MiB). A new segment gets 10MiB without it;
    /// an existing one keeps its size unless this asks for more.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub capacity: Option<usize>,
}

impl CapacityArgs {
    /// The capacity the flag asks for.
    pub fn capacity(&self) -> Capacity {
        self.capacity.map_or(Capacity::Default, Capacity::AtLeast)
    }
}
