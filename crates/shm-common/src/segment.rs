//! Segments: where the shared memory lives, how it is created or opened, and its header checked.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memmap2::MmapRaw;
use shared_memory::{ShmemConf, ShmemError};

use crate::error::{LayoutError, NameError, OpenError, RemoveError};
use crate::layout::{Capacities, Layout, MAGIC};
use crate::sys::{self, SharedRegion};

/// The segment both apps and the `shm` command use unless told otherwise.
pub const DEFAULT_SEGMENT_NAME: &str = "shm-exchange";

/// How long an opener waits for a segment's creator to finish writing the header.
const INITIALISATION_WAIT: Duration = Duration::from_millis(500);

/// A validated name for a named segment: 1 to 200 of `[A-Za-z0-9._-]`, not starting with '.'.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SegmentName(String);

impl SegmentName {
    /// Checks and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<SegmentName, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > 200 {
            return Err(NameError::TooLong { len: name.len() });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.starts_with('.') || !name.chars().all(allowed) {
            return Err(NameError::BadCharacter { name });
        }
        Ok(SegmentName(name))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The OS identifier: `/<name>`, which Linux shows as `/dev/shm/<name>`.
    fn os_id(&self) -> String {
        format!("/{}", self.0)
    }
}

impl Default for SegmentName {
    fn default() -> SegmentName {
        SegmentName(DEFAULT_SEGMENT_NAME.to_owned())
    }
}

impl std::str::FromStr for SegmentName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<SegmentName, NameError> {
        SegmentName::new(name)
    }
}

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a segment lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SegmentLocation {
    /// Named OS shared memory (`/dev/shm/<name>` on Linux), through the `shared_memory` crate.
    Named(SegmentName),
    /// A file on disk mapped into memory, through `memmap2`.
    File(PathBuf),
}

impl Default for SegmentLocation {
    fn default() -> SegmentLocation {
        SegmentLocation::Named(SegmentName::default())
    }
}

impl fmt::Display for SegmentLocation {
    /// `segment 'name'` or `segment file '/path'`, as used in every message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentLocation::Named(name) => write!(f, "segment '{name}'"),
            SegmentLocation::File(path) => write!(f, "segment file '{}'", path.display()),
        }
    }
}

/// How to get at a segment, named like the original's `MemoryMappedFile` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreationMode {
    /// Create it; fail if it exists.
    CreateNew,
    /// Create it, or open it if it exists (a writer's way in).
    CreateOrOpen,
    /// Open it; fail if it does not exist (a reader's way in).
    OpenExisting,
}

/// A mapped segment whose header has been checked.
pub(crate) struct Segment {
    pub(crate) region: SharedRegion,
    pub(crate) layout: Layout,
    pub(crate) location: SegmentLocation,
    /// This process created it (rather than opening an existing one).
    pub(crate) created: bool,
}

impl Segment {
    /// Creates or opens a segment. `capacities` are used only when creating.
    pub(crate) fn open(
        location: &SegmentLocation,
        mode: CreationMode,
        capacities: Capacities,
    ) -> Result<Segment, OpenError> {
        let layout = match mode {
            CreationMode::OpenExisting => None,
            _ => Some(Layout::for_capacities(capacities).map_err(|err| match err {
                LayoutError::CapacityOutOfRange { capacity } => OpenError::Capacity { capacity },
                _ => OpenError::Capacity {
                    capacity: capacities.picture,
                },
            })?),
        };
        match (location, layout) {
            (SegmentLocation::Named(name), None) => attach_named(location, name),
            (SegmentLocation::Named(name), Some(layout)) => {
                match create_named(location, name, layout) {
                    Err(OpenError::AlreadyExists { .. }) if mode == CreationMode::CreateOrOpen => {
                        attach_named(location, name)
                    }
                    other => other,
                }
            }
            (SegmentLocation::File(path), layout) => open_file(location, path, mode, layout),
        }
    }

    /// Removes the segment's name (named) or file now; the mapping stays valid until dropped.
    pub(crate) fn unlink(&self) -> Result<(), RemoveError> {
        remove_location(&self.location)
    }

    /// The random id written at creation.
    pub(crate) fn instance_id(&self) -> u64 {
        // Relaxed: written before the magic's Release store, which `validate` loaded with Acquire.
        self.region
            .control()
            .header
            .instance_id
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// For file-backed segments: the file's length if someone truncated it below the layout.
    /// Touching the missing pages would raise SIGBUS, so callers check before every access.
    /// (A truncation between this check and the access remains possible; see the crate docs.)
    pub(crate) fn truncated_file_len(&self) -> Option<u64> {
        let file = self.region.backing_file()?;
        let len = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        (len < self.layout.total_size as u64).then_some(len)
    }
}

/// The directory whose file system holds the segment's memory: where its space comes from.
pub(crate) fn storage_dir(location: &SegmentLocation) -> PathBuf {
    match location {
        // Linux keeps POSIX shared memory objects in the tmpfs mounted at /dev/shm.
        SegmentLocation::Named(_) => PathBuf::from("/dev/shm"),
        SegmentLocation::File(path) => match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        },
    }
}

fn segment_name(location: &SegmentLocation) -> String {
    location.to_string()
}

fn random_instance_id() -> u64 {
    // RandomState is seeded from the OS's randomness; mixing in the time and pid keeps ids
    // distinct even if two processes drew the same keys.
    RandomState::new().hash_one((sys::monotonic_ns(), std::process::id()))
}

fn initialise(region: SharedRegion, layout: Layout, location: &SegmentLocation) -> Segment {
    layout.initialise(region.control(), random_instance_id());
    Segment {
        region,
        layout,
        location: location.clone(),
        created: true,
    }
}

fn create_named(
    location: &SegmentLocation,
    name: &SegmentName,
    layout: Layout,
) -> Result<Segment, OpenError> {
    let segment = segment_name(location);
    let shmem = match ShmemConf::new()
        .os_id(name.os_id())
        .size(layout.total_size)
        .create()
    {
        Ok(shmem) => shmem,
        Err(ShmemError::MappingIdExists) => return Err(OpenError::AlreadyExists { segment }),
        Err(err) => return Err(shmem_error("create", segment, err)),
    };
    let mut region = SharedRegion::named(shmem).map_err(|too_small| OpenError::Invalid {
        segment: segment.clone(),
        reason: LayoutError::Truncated {
            mapped: too_small.len,
            needed: layout.total_size,
        },
    })?;
    // The channel decides whether the segment is removed when it closes.
    region.set_unlink_on_drop(false);
    Ok(initialise(region, layout, location))
}

/// Opens an existing named segment, waiting briefly for a creator that is still initialising.
fn attach_named(location: &SegmentLocation, name: &SegmentName) -> Result<Segment, OpenError> {
    let segment = segment_name(location);
    let deadline = Instant::now() + INITIALISATION_WAIT;
    loop {
        let attempt = ShmemConf::new()
            .os_id(name.os_id())
            .open()
            .map_err(|err| shmem_error("open", segment.clone(), err))
            .and_then(|mut shmem| {
                shmem.set_owner(false);
                SharedRegion::named(shmem).map_err(|too_small| OpenError::Invalid {
                    segment: segment.clone(),
                    reason: LayoutError::Truncated {
                        mapped: too_small.len,
                        needed: crate::layout::DATA_OFFSET,
                    },
                })
            })
            .and_then(|region| validated(region, location));
        match attempt {
            Err(err) if still_initialising(&err) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// A fresh segment has size 0 until its creator sizes it, and magic 0 until it is initialised.
fn still_initialising(err: &OpenError) -> bool {
    match err {
        OpenError::Invalid { reason, .. } => matches!(
            reason,
            LayoutError::Uninitialised | LayoutError::Truncated { .. }
        ),
        OpenError::Os { source, .. } => source.raw_os_error() == Some(libc::EINVAL),
        _ => false,
    }
}

/// Whether an open failure means a creator crashed half-way, leaving a segment a new writer
/// may replace.
pub(crate) fn is_abandoned_creation(err: &OpenError) -> bool {
    still_initialising(err)
}

fn validated(region: SharedRegion, location: &SegmentLocation) -> Result<Segment, OpenError> {
    match Layout::validate(region.control(), region.len()) {
        Ok(layout) => Ok(Segment {
            region,
            layout,
            location: location.clone(),
            created: false,
        }),
        Err(reason) => Err(OpenError::Invalid {
            segment: segment_name(location),
            reason,
        }),
    }
}

fn shmem_error(action: &'static str, segment: String, err: ShmemError) -> OpenError {
    let code = match err {
        ShmemError::MapCreateFailed(code)
        | ShmemError::MapOpenFailed(code)
        | ShmemError::UnknownOsError(code) => i32::try_from(code).unwrap_or(i32::MAX),
        other => {
            return OpenError::Os {
                action,
                segment,
                source: io::Error::other(other.to_string()),
            };
        }
    };
    io_error(action, segment, io::Error::from_raw_os_error(code))
}

fn io_error(action: &'static str, segment: String, source: io::Error) -> OpenError {
    match source.kind() {
        io::ErrorKind::NotFound => OpenError::NotFound { segment },
        io::ErrorKind::PermissionDenied => OpenError::PermissionDenied { segment },
        io::ErrorKind::AlreadyExists => OpenError::AlreadyExists { segment },
        _ => OpenError::Os {
            action,
            segment,
            source,
        },
    }
}

fn open_file(
    location: &SegmentLocation,
    path: &Path,
    mode: CreationMode,
    layout: Option<Layout>,
) -> Result<Segment, OpenError> {
    let segment = segment_name(location);
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let (file, fresh) = match mode {
        CreationMode::OpenExisting => (options.open(path), false),
        CreationMode::CreateNew => (options.create_new(true).open(path), true),
        CreationMode::CreateOrOpen => match options.clone().create_new(true).open(path) {
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => (options.open(path), false),
            other => (other, true),
        },
    };
    let file = file.map_err(|err| io_error("open", segment.clone(), err))?;
    let len = file
        .metadata()
        .map_err(|err| io_error("inspect", segment.clone(), err))?
        .len();
    // A writer may take over a file that is new or empty; anything else must be a valid segment.
    let blank = fresh || len == 0;
    match layout {
        Some(layout) if blank => {
            file.set_len(layout.total_size as u64)
                .map_err(|err| io_error("size", segment.clone(), err))?;
            let region = map_file(file, &segment, layout.total_size)?;
            Ok(initialise(region, layout, location))
        }
        _ => {
            if len == 0 {
                return Err(OpenError::Invalid {
                    segment,
                    reason: LayoutError::Uninitialised,
                });
            }
            let region = map_file(file, &segment, crate::layout::DATA_OFFSET)?;
            validated(region, location)
        }
    }
}

fn map_file(file: File, segment: &str, needed: usize) -> Result<SharedRegion, OpenError> {
    let map = MmapRaw::map_raw(&file).map_err(|err| io_error("map", segment.to_owned(), err))?;
    SharedRegion::file(map, file).map_err(|too_small| OpenError::Invalid {
        segment: segment.to_owned(),
        reason: LayoutError::Truncated {
            mapped: too_small.len,
            needed,
        },
    })
}

/// Where a segment that will replace the one at `location` is built before it takes the
/// name: beside it, under a name of this process's own.
pub(crate) fn location_beside(location: &SegmentLocation) -> SegmentLocation {
    let suffix = format!(".growing-{}", std::process::id());
    match location {
        SegmentLocation::Named(name) => {
            SegmentLocation::Named(SegmentName(format!("{name}{suffix}")))
        }
        SegmentLocation::File(path) => {
            let mut beside = path.clone().into_os_string();
            beside.push(suffix);
            SegmentLocation::File(PathBuf::from(beside))
        }
    }
}

/// Gives the segment at `from` the name `to` in one step, replacing whatever had it; readers
/// that have the old one mapped keep it.
pub(crate) fn rename(from: &SegmentLocation, to: &SegmentLocation) -> io::Result<()> {
    match (from, to) {
        (SegmentLocation::File(from), SegmentLocation::File(to)) => std::fs::rename(from, to),
        (SegmentLocation::Named(from), SegmentLocation::Named(to)) => rename_named(from, to),
        _ => Err(io::Error::from(io::ErrorKind::InvalidInput)),
    }
}

/// Linux keeps POSIX shared memory objects as files in /dev/shm, where rename(2) is atomic.
#[cfg(target_os = "linux")]
fn rename_named(from: &SegmentName, to: &SegmentName) -> io::Result<()> {
    let dir = Path::new("/dev/shm");
    std::fs::rename(dir.join(from.as_str()), dir.join(to.as_str()))
}

/// Elsewhere POSIX offers no way to rename a shared memory object: named segments cannot grow.
#[cfg(not(target_os = "linux"))]
fn rename_named(_from: &SegmentName, _to: &SegmentName) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "named segments can only grow on Linux; use a file-backed segment (--file) instead",
    ))
}

/// Removes a segment: the name of a named one, or the file of a file-backed one.
///
/// Processes that have it mapped keep their mapping (and its last records) until they close it.
/// A file is removed only if it is empty or starts with this program's magic number, so a
/// mistyped `--file` never deletes someone's document.
pub fn remove(location: &SegmentLocation) -> Result<(), RemoveError> {
    if let SegmentLocation::File(path) = location {
        let mut magic = [0u8; 8];
        let ours = File::open(path)
            .and_then(|mut file| {
                let len = file.metadata()?.len();
                if len == 0 {
                    return Ok(true);
                }
                file.read_exact(&mut magic)?;
                Ok(u64::from_le_bytes(magic) == MAGIC)
            })
            .map_err(|source| remove_error(location, source))?;
        if !ours {
            return Err(RemoveError::NotOurs {
                segment: segment_name(location),
            });
        }
    }
    remove_location(location)
}

fn remove_location(location: &SegmentLocation) -> Result<(), RemoveError> {
    let result = match location {
        SegmentLocation::Named(name) => sys::unlink_named(&name.os_id()),
        SegmentLocation::File(path) => std::fs::remove_file(path),
    };
    result.map_err(|source| remove_error(location, source))
}

fn remove_error(location: &SegmentLocation, source: io::Error) -> RemoveError {
    let segment = segment_name(location);
    if source.kind() == io::ErrorKind::NotFound {
        RemoveError::NotFound { segment }
    } else {
        RemoveError::Os { segment, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(SegmentName::new("shm-exchange").is_ok());
        assert!(SegmentName::new("a.b_c-1").is_ok());
        assert_eq!(SegmentName::new(""), Err(NameError::Empty));
        assert!(matches!(
            SegmentName::new("a/b"),
            Err(NameError::BadCharacter { .. })
        ));
        assert!(matches!(
            SegmentName::new(".hidden"),
            Err(NameError::BadCharacter { .. })
        ));
        assert!(matches!(
            SegmentName::new("图"),
            Err(NameError::BadCharacter { .. })
        ));
        assert!(matches!(
            SegmentName::new("x".repeat(201)),
            Err(NameError::TooLong { len: 201 })
        ));
    }

    #[test]
    fn locations_display_as_used_in_messages() {
        let named = SegmentLocation::Named(SegmentName::new("x").unwrap());
        assert_eq!(named.to_string(), "segment 'x'");
        let file = SegmentLocation::File(PathBuf::from("/tmp/seg"));
        assert_eq!(file.to_string(), "segment file '/tmp/seg'");
    }
}
