//! Segments: where the shared memory lives, how it is created or opened, its owner and header
//! checked, its space reserved, and its writer lock taken.
//!
//! A segment is a file and a mapping of it: a file the user named (`--file`), or a POSIX shared
//! memory object, which on Linux is the file `/dev/shm/NAME` (what `shm_open` opens). Working on
//! the file itself gives one descriptor for everything a segment needs: the writer lock that
//! the kernel releases when its holder dies, the reservation of its space, its owner and mode,
//! and its identity (device and inode) before its name is removed. (The `shared_memory` crate
//! keeps its descriptor to itself, so none of these can be done on the object it maps.)

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{CreateError, LayoutError, OpenError, RemoveError};
use crate::layout::{CONTROL_SIZE, Layout, MAGIC};
pub(crate) use crate::location::{CreationMode, SegmentLocation, SegmentName};
use crate::sys::{self, MapError, SharedRegion};

/// How long an opener waits for a segment's creator to finish writing the header.
const INITIALISATION_WAIT: Duration = Duration::from_millis(500);

/// A mapped segment whose owner, mode and header have been checked.
pub(crate) struct Segment {
    pub(crate) region: SharedRegion,
    pub(crate) layout: Layout,
    pub(crate) location: SegmentLocation,
    /// This process created (or initialised) it, rather than opening an existing one.
    pub(crate) created: bool,
    /// This process holds the segment's writer lock, through `region`'s descriptor.
    pub(crate) locked: bool,
    /// How many times the file's length was asked about.
    pub(crate) length_checks: std::sync::atomic::AtomicU32,
    /// One more than the length the last look found the file truncated to, 0 if it found it
    /// whole: the checks that do not look report it, so a truncation one look found (before a
    /// sleep, say) is what the next read reports, however rarely that read would look.
    pub(crate) truncated_to: std::sync::atomic::AtomicU64,
}

/// One in how many accesses to a named segment's control page alone checks the file's length:
/// rarely, because each check is a syscall that a struct round trip would wait for (every 64th
/// put one in about every twentieth round trip, and the slowest percent of them at three times
/// the median); a reader also checks whenever it is about to sleep.
pub(crate) const LENGTH_CHECK_EVERY: u32 = 1 << 16;

/// Offset of the writer's pid in the header (see [`crate::layout::ControlBlock`]).
const PID_OFFSET: u64 = std::mem::offset_of!(crate::layout::ControlBlock, writer) as u64;

impl Segment {
    /// Opens an existing segment to read it. Waits briefly for a creator that is still writing
    /// the header, or has created the file and not yet taken its lock.
    pub(crate) fn for_reader(location: &SegmentLocation) -> Result<Segment, OpenError> {
        let deadline = Instant::now() + INITIALISATION_WAIT;
        loop {
            let (file, _) = open_object(location, CreationMode::OpenExisting)
                .map_err(|err| err.into_open_error(location))?;
            // Its creator takes the writer lock just after creating the file: an unlocked,
            // uninitialised one is being set up while it is new and was abandoned once old.
            let initialising = |err: &OpenError| {
                still_initialising(err)
                    && Instant::now() < deadline
                    && (sys::writer_lock_held(&file).unwrap_or(false) || just_made(&file))
            };
            let attempt = map(
                location,
                file.try_clone()
                    .map_err(|err| io_error("open", location, err))?,
                true,
            )
            .and_then(|region| validated(region, location, false));
            match attempt {
                Err(err) if initialising(&err) => std::thread::sleep(Duration::from_millis(5)),
                other => return other,
            }
        }
    }

    /// Creates or opens the segment for the one writer, and takes its writer lock; a fresh (or
    /// abandoned) one gets `layout`, its space reserved and its header and directory written,
    /// the magic last and only once the lock is held. An existing one keeps its own layout.
    /// [`CreateError::WriterActive`] if a live writer holds the lock.
    pub(crate) fn for_writer(
        location: &SegmentLocation,
        mode: CreationMode,
        layout: Layout,
    ) -> Result<Segment, CreateError> {
        let (file, fresh) = open_object(location, mode).map_err(|err| match err {
            Opened::Exists => CreateError::AlreadyExists {
                segment: location.clone(),
            },
            Opened::Failed(err) => CreateError::Open(err),
        })?;
        let locked = sys::try_lock_writer(&file).map_err(|err| io_error("lock", location, err))?;
        if !locked {
            return Err(CreateError::WriterActive {
                segment: location.clone(),
                pid: header_pid(&file),
            });
        }
        let len = file
            .metadata()
            .map_err(|err| io_error("inspect", location, err))?
            .len();
        let mut magic = [0u8; 8];
        let initialised = len >= CONTROL_SIZE as u64
            && file.read_exact_at(&mut magic, 0).is_ok()
            && magic != [0; 8];
        // A named segment whose creator died before its magic was written is ours to set up
        // (we hold its lock); a file the user named is only taken over when empty.
        let blank =
            fresh || len == 0 || (matches!(location, SegmentLocation::Named(_)) && !initialised);
        if !blank {
            let region = map(location, file, true)?;
            let mut segment = validated(region, location, true)?;
            segment.locked = true;
            return Ok(segment);
        }
        match initialise(file, layout, location) {
            Ok(segment) => Ok(segment),
            Err(err) => {
                // Nothing half-made stays behind under the name.
                if fresh {
                    let _ = remove_location(location);
                }
                Err(err)
            }
        }
    }

    /// Removes the segment at `location` if no writer holds it, its last writer died (its pid
    /// is still in the header) and did not ask to keep it. Decided under the writer lock, so a
    /// writer cannot take it over in between; `Ok(false)` if it is not stale.
    pub(crate) fn remove_if_stale(location: &SegmentLocation) -> Result<bool, RemoveError> {
        let cannot_check = |source| RemoveError::CannotCheck {
            segment: location.clone(),
            source: Box::new(source),
        };
        let (file, _) = open_object(location, CreationMode::OpenExisting)
            .map_err(|err| cannot_check(err.into_open_error(location)))?;
        if !sys::try_lock_writer(&file).map_err(|err| remove_error(location, err))? {
            return Ok(false);
        }
        let region = map(location, file, true).map_err(cannot_check)?;
        let segment = validated(region, location, true).map_err(cannot_check)?;
        let writer = &segment.region.control().writer;
        // Relaxed: the previous writer is gone and we hold the lock: nothing moves.
        let load =
            |word: &std::sync::atomic::AtomicU32| word.load(std::sync::atomic::Ordering::Relaxed);
        let stale =
            load(&writer.pid) != 0 && load(&writer.superseded) == 0 && load(&writer.persist) == 0;
        if !stale {
            return Ok(false);
        }
        segment.unlink_if_ours()?;
        Ok(true)
    }

    /// Removes the segment's name, if the name still refers to this segment (a writer that
    /// grew it, or `shm remove` and a new writer, may have given the name to another).
    pub(crate) fn unlink_if_ours(&self) -> Result<(), RemoveError> {
        let ours = self
            .region
            .file()
            .metadata()
            .map_err(|source| remove_error(&self.location, source))?;
        let named = object_metadata(&self.location)
            .map_err(|source| remove_error(&self.location, source))?;
        if (named.dev(), named.ino()) != (ours.dev(), ours.ino()) {
            return Ok(());
        }
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

    /// The file's length if someone truncated it below the layout. Touching the missing pages
    /// would raise SIGBUS, so callers check before they touch the segment: a file segment
    /// every time; a named one every time before copying a record in the data buffers or
    /// sleeping (`always`), where a `fstat` costs nothing beside the copy or the sleep, and
    /// every [`LENGTH_CHECK_EVERY`]th time otherwise (a struct round trip through the control
    /// page takes less than one `fstat`, and only the segment's owner can truncate it). A
    /// truncation between this check and the access remains possible; see the crate docs.
    pub(crate) fn truncated_file_len(&self, always: bool) -> Option<u64> {
        let named = matches!(self.location, SegmentLocation::Named(_));
        // Relaxed, and a load and a store rather than an atomic increment, which would be a
        // full barrier on every access: a count another thread loses now and then only moves
        // the next look.
        let count = self
            .length_checks
            .load(std::sync::atomic::Ordering::Relaxed);
        self.length_checks
            .store(count.wrapping_add(1), std::sync::atomic::Ordering::Relaxed);
        if named && !always && !count.is_multiple_of(LENGTH_CHECK_EVERY) {
            // Relaxed: what an earlier look of this process found.
            let known = self.truncated_to.load(std::sync::atomic::Ordering::Relaxed);
            return known.checked_sub(1);
        }
        let len = self
            .region
            .file()
            .metadata()
            .map(|meta| meta.len())
            .unwrap_or(0);
        let truncated = (len < self.layout.total_size as u64).then_some(len);
        // Relaxed: read back only by this process's checks that do not look.
        self.truncated_to.store(
            truncated.map_or(0, |len| len + 1),
            std::sync::atomic::Ordering::Relaxed,
        );
        truncated
    }

    /// Whether a writer holds the lock: this process through this segment, or any other open.
    pub(crate) fn writer_lock_held(&self) -> bool {
        self.locked || sys::writer_lock_held(self.region.file()).unwrap_or(false)
    }
}

/// The writer's line of the header, read through the file rather than the mapping, so that a
/// truncated file answers with an error instead of a SIGBUS.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WriterWords {
    pub(crate) pid: u32,
    pub(crate) superseded: bool,
}

impl Segment {
    /// The writer's pid and whether a larger segment replaced this one; `None` if the file is
    /// too short to hold them (someone truncated it).
    pub(crate) fn writer_words(&self) -> Option<WriterWords> {
        read_writer_words(self.region.file())
    }
}

/// [`Segment::writer_words`] for a file not mapped yet.
fn read_writer_words(file: &File) -> Option<WriterWords> {
    let mut words = [0u8; 12];
    file.read_exact_at(&mut words, PID_OFFSET).ok()?;
    let word =
        |at: usize| u32::from_ne_bytes([words[at], words[at + 1], words[at + 2], words[at + 3]]);
    Some(WriterWords {
        pid: word(0),
        superseded: word(8) != 0,
    })
}

/// The writer's pid as the header names it (0 if it cannot be read): for messages only.
fn header_pid(file: &File) -> u32 {
    read_writer_words(file).map_or(0, |words| words.pid)
}

/// Sizes `file` for `layout`, reserves its space, maps it and writes its header (the magic
/// last). The caller holds the writer lock.
fn initialise(
    file: File,
    layout: Layout,
    location: &SegmentLocation,
) -> Result<Segment, CreateError> {
    let total = layout.total_size as u64;
    file.set_len(total)
        .map_err(|err| io_error("size", location, err))?;
    let region = map(location, file, false)?;
    // Before: a reservation that fails half-way has taken what was free.
    let available = sys::space(&location.storage_dir()).map_or(0, |space| space.available);
    if let Err(err) = region.reserve() {
        return Err(match err.raw_os_error() {
            Some(libc::ENOSPC) => CreateError::NoSpace {
                shared_memory: matches!(location, SegmentLocation::Named(_)),
                segment: location.clone(),
                needed: total,
                available,
                directory: location.storage_dir(),
            },
            _ => io_error("reserve space for", location, err).into(),
        });
    }
    let directory = region
        .words(CONTROL_SIZE, layout.directory.len() / 8)
        .ok_or_else(|| {
            io_error(
                "write the channel directory of",
                location,
                io::Error::other("the mapping is shorter than the layout"),
            )
        })?;
    layout.initialise(region.control(), directory, random_instance_id());
    Ok(Segment {
        region,
        layout,
        location: location.clone(),
        created: true,
        locked: true,
        length_checks: Default::default(),
        truncated_to: Default::default(),
    })
}

/// The path of a named segment's object on Linux.
#[cfg(target_os = "linux")]
fn named_path(name: &SegmentName) -> PathBuf {
    PathBuf::from("/dev/shm").join(name.as_str())
}

/// Opens (or creates, as `mode` says) the object behind `location`: read and write, owner-only
/// when created, never through a symbolic link for a named segment. An existing one must
/// belong to this user and be closed to everyone else. Returns whether it was created now.
fn open_object(location: &SegmentLocation, mode: CreationMode) -> Result<(File, bool), Opened> {
    let open = |create_new: bool| -> io::Result<File> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .mode(0o600)
            .create_new(create_new);
        match location {
            #[cfg(target_os = "linux")]
            SegmentLocation::Named(name) => options
                .custom_flags(libc::O_NOFOLLOW)
                .open(named_path(name)),
            #[cfg(not(target_os = "linux"))]
            SegmentLocation::Named(name) => sys::shm_open(name.as_str(), create_new),
            SegmentLocation::File(path) => options.open(path),
        }
    };
    let (file, fresh) = match mode {
        CreationMode::OpenExisting => (open(false), false),
        CreationMode::CreateNew => (open(true), true),
        CreationMode::CreateOrOpen => match open(true) {
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => (open(false), false),
            other => (other, true),
        },
    };
    let file = file.map_err(|err| match err.kind() {
        io::ErrorKind::AlreadyExists => Opened::Exists,
        _ => Opened::Failed(io_error("open", location, err)),
    })?;
    if !fresh {
        check_owner(&file, location).map_err(Opened::Failed)?;
    }
    Ok((file, fresh))
}

/// Opens (or creates) the bare file behind `location`, owner-only and checked as a segment's
/// is, without any header: for [`SharedLine`](crate::SharedLine) and [`SharedBytes`](crate::SharedBytes).
pub(crate) fn open_bare(location: &SegmentLocation, mode: CreationMode) -> Result<File, OpenError> {
    open_object(location, mode)
        .map(|(file, _)| file)
        .map_err(|err| err.into_open_error(location))
}

/// Why [`open_object`] failed: `CreateNew` found the segment there, or anything else.
enum Opened {
    Exists,
    Failed(OpenError),
}

impl Opened {
    /// For a reader, which never creates: there is no "already exists".
    fn into_open_error(self, location: &SegmentLocation) -> OpenError {
        match self {
            Opened::Failed(err) => err,
            Opened::Exists => io_error(
                "open",
                location,
                io::Error::from(io::ErrorKind::AlreadyExists),
            ),
        }
    }
}

/// Another user's segment, or one others may read or write, is refused: they could read or
/// alter every record.
fn check_owner(file: &File, location: &SegmentLocation) -> Result<(), OpenError> {
    let meta = file
        .metadata()
        .map_err(|err| io_error("inspect", location, err))?;
    let you = sys::effective_uid();
    if meta.uid() != you {
        return Err(OpenError::ForeignOwner {
            segment: location.clone(),
            owner: meta.uid(),
            you,
        });
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(OpenError::OpenToOthers {
            segment: location.clone(),
            mode,
        });
    }
    Ok(())
}

/// The metadata of whatever has `location`'s name now.
fn object_metadata(location: &SegmentLocation) -> io::Result<std::fs::Metadata> {
    match location {
        #[cfg(target_os = "linux")]
        SegmentLocation::Named(name) => std::fs::symlink_metadata(named_path(name)),
        #[cfg(not(target_os = "linux"))]
        SegmentLocation::Named(name) => sys::shm_open(name.as_str(), false)?.metadata(),
        SegmentLocation::File(path) => std::fs::metadata(path),
    }
}

/// Maps `file`: an existing segment with its pages faulted in now, a new one (`populate`
/// false) to be reserved and populated in one pass.
fn map(location: &SegmentLocation, file: File, populate: bool) -> Result<SharedRegion, OpenError> {
    SharedRegion::map(file, populate).map_err(|err| match err {
        MapError::TooSmall { len } => OpenError::Invalid {
            segment: location.clone(),
            reason: if len == 0 {
                LayoutError::Uninitialised
            } else {
                LayoutError::Truncated {
                    mapped: len,
                    needed: CONTROL_SIZE,
                }
            },
        },
        MapError::Os(err) => io_error("map", location, err),
    })
}

fn random_instance_id() -> u64 {
    // RandomState is seeded from the OS's randomness; mixing in the time and pid keeps ids
    // distinct even if two processes drew the same keys.
    RandomState::new().hash_one((sys::monotonic_ns(), std::process::id()))
}

/// Whether `file` was created (or last resized) within [`INITIALISATION_WAIT`]; a time in
/// the future (the clock was set back) counts as new.
fn just_made(file: &File) -> bool {
    file.metadata()
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|modified| {
            modified
                .elapsed()
                .map_or(true, |age| age < INITIALISATION_WAIT)
        })
}

/// A fresh segment has size 0 until its creator sizes it, and magic 0 until it is initialised.
fn still_initialising(err: &OpenError) -> bool {
    matches!(
        err,
        OpenError::Invalid {
            reason: LayoutError::Uninitialised | LayoutError::Truncated { .. },
            ..
        }
    )
}

fn validated(
    region: SharedRegion,
    location: &SegmentLocation,
    locked: bool,
) -> Result<Segment, OpenError> {
    match Layout::validate(region.control(), region.len(), |offset, count| {
        region.words(offset, count)
    }) {
        Ok(layout) => Ok(Segment {
            region,
            layout,
            location: location.clone(),
            created: false,
            locked,
            length_checks: Default::default(),
            truncated_to: Default::default(),
        }),
        Err(reason) => Err(OpenError::Invalid {
            segment: location.clone(),
            reason,
        }),
    }
}

fn io_error(action: &'static str, location: &SegmentLocation, source: io::Error) -> OpenError {
    let segment = location.clone();
    match source.kind() {
        io::ErrorKind::NotFound => OpenError::NotFound { segment },
        io::ErrorKind::PermissionDenied => OpenError::PermissionDenied { segment },
        _ => OpenError::Os {
            action,
            segment,
            source,
        },
    }
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
    std::fs::rename(named_path(from), named_path(to))
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
            .and_then(|file| {
                let len = file.metadata()?.len();
                if len == 0 {
                    return Ok(true);
                }
                file.read_exact_at(&mut magic, 0)?;
                Ok(u64::from_le_bytes(magic) == MAGIC)
            })
            .map_err(|source| remove_error(location, source))?;
        if !ours {
            return Err(RemoveError::NotOurs {
                segment: location.clone(),
            });
        }
    }
    remove_location(location)
}

pub(crate) fn remove_location(location: &SegmentLocation) -> Result<(), RemoveError> {
    let result = match location {
        #[cfg(target_os = "linux")]
        SegmentLocation::Named(name) => std::fs::remove_file(named_path(name)),
        #[cfg(not(target_os = "linux"))]
        SegmentLocation::Named(name) => sys::shm_unlink(name.as_str()),
        SegmentLocation::File(path) => std::fs::remove_file(path),
    };
    result.map_err(|source| remove_error(location, source))
}

fn remove_error(location: &SegmentLocation, source: io::Error) -> RemoveError {
    let segment = location.clone();
    if source.kind() == io::ErrorKind::NotFound {
        RemoveError::NotFound { segment }
    } else {
        RemoveError::Os { segment, source }
    }
}
