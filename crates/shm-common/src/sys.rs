//! All FFI and `unsafe` of the crate, one operation per block.
//!
//! The mapping is memory that other processes write at any time, so this module never hands out
//! `&[u8]` into it: only the control block (made entirely of atomics) and slices of `AtomicU64` /
//! `AtomicU8`, through which every access is an atomic load or store.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
use std::time::Duration;

use memmap2::MmapRaw;
use shared_memory::Shmem;

use crate::layout::ControlBlock;

/// The two kinds of mapping behind a segment.
enum Mapping {
    /// Named OS shared memory (`/dev/shm/<name>` on Linux).
    Named(Shmem),
    /// A file mapped `MAP_SHARED`; the file stays open so its length can be checked.
    File { map: MmapRaw, file: File },
}

/// A mapped region at least as large as a [`ControlBlock`], accessed only through atomics.
pub(crate) struct SharedRegion {
    mapping: Mapping,
}

// SAFETY: the region is a process-wide MAP_SHARED mapping that stays mapped until `SharedRegion`
// is dropped; its pointer is valid from any thread, and all access to the memory goes through
// atomics, so moving the owner to another thread is sound.
unsafe impl Send for SharedRegion {}
// SAFETY: `&SharedRegion` only gives out `&ControlBlock` and slices of atomics, which are `Sync`.
unsafe impl Sync for SharedRegion {}

/// Why a mapping cannot serve as a region.
#[derive(Debug)]
pub(crate) struct RegionTooSmall {
    pub(crate) len: usize,
}

impl SharedRegion {
    /// Wraps named shared memory.
    pub(crate) fn named(shmem: Shmem) -> Result<SharedRegion, RegionTooSmall> {
        Self::checked(Mapping::Named(shmem))
    }

    /// Wraps a file mapping; `file` is kept to check its length later.
    pub(crate) fn file(map: MmapRaw, file: File) -> Result<SharedRegion, RegionTooSmall> {
        Self::checked(Mapping::File { map, file })
    }

    fn checked(mapping: Mapping) -> Result<SharedRegion, RegionTooSmall> {
        let region = SharedRegion { mapping };
        let len = region.len();
        let aligned = (region.base() as usize).is_multiple_of(align_of::<ControlBlock>());
        if len < size_of::<ControlBlock>() || !aligned {
            return Err(RegionTooSmall { len });
        }
        Ok(region)
    }

    fn base(&self) -> *mut u8 {
        match &self.mapping {
            Mapping::Named(shmem) => shmem.as_ptr(),
            Mapping::File { map, .. } => map.as_mut_ptr(),
        }
    }

    /// Mapped length in bytes.
    pub(crate) fn len(&self) -> usize {
        match &self.mapping {
            Mapping::Named(shmem) => shmem.len(),
            Mapping::File { map, .. } => map.len(),
        }
    }

    /// The backing file, for file-backed regions.
    pub(crate) fn backing_file(&self) -> Option<&File> {
        match &self.mapping {
            Mapping::Named(_) => None,
            Mapping::File { file, .. } => Some(file),
        }
    }

    /// Makes the named mapping remove its name when dropped (or not).
    pub(crate) fn set_unlink_on_drop(&mut self, unlink: bool) {
        if let Mapping::Named(shmem) = &mut self.mapping {
            shmem.set_owner(unlink);
        }
    }

    /// The control block at offset 0.
    pub(crate) fn control(&self) -> &ControlBlock {
        // SAFETY: `checked` ensured the mapping is at least `size_of::<ControlBlock>()` bytes and
        // aligned for it; `ControlBlock` consists only of atomics, valid for any bit pattern and
        // made for concurrent mutation; the mapping lives as long as `&self`.
        unsafe { &*(self.base() as *const ControlBlock) }
    }

    /// `count` 8-byte words at `offset`, or `None` if out of bounds or misaligned.
    pub(crate) fn words(&self, offset: usize, count: usize) -> Option<&[AtomicU64]> {
        if count == 0 {
            return Some(&[]);
        }
        let end = count.checked_mul(8)?.checked_add(offset)?;
        if end > self.len() || !offset.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `offset..end` lies inside the mapping, which is page-aligned, so the start is
        // 8-byte aligned; `AtomicU64` has the size and alignment of `u64` and every bit pattern
        // is valid; other processes may write these words concurrently, which atomics permit;
        // the slice borrows `self`, so it cannot outlive the mapping.
        Some(unsafe { std::slice::from_raw_parts(self.base().add(offset).cast(), count) })
    }

    /// `count` bytes at `offset`, or `None` if out of bounds.
    pub(crate) fn bytes(&self, offset: usize, count: usize) -> Option<&[AtomicU8]> {
        let end = offset.checked_add(count)?;
        if end > self.len() {
            return None;
        }
        // SAFETY: `offset..end` lies inside the mapping; `AtomicU8` has the layout of `u8`, every
        // bit pattern is valid and concurrent writes by other processes are atomic accesses; the
        // slice borrows `self`, so it cannot outlive the mapping.
        Some(unsafe { std::slice::from_raw_parts(self.base().add(offset).cast(), count) })
    }
}

/// Removes the name of a named shared-memory object.
pub(crate) fn unlink_named(os_id: &str) -> io::Result<()> {
    let c_name = CString::new(os_id).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the call.
    let result = unsafe { libc::shm_unlink(c_name.as_ptr()) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a process with this pid exists (zombies count as gone).
pub(crate) fn process_alive(pid: u32) -> bool {
    // Pid 0 and negative pids would address process groups: never pass them to kill(2).
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission; it sends nothing.
    let result = unsafe { libc::kill(pid, 0) };
    let exists = result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: libc::pid_t) -> bool {
    // /proc/<pid>/stat is "pid (comm) S ...": the state follows the last ')'.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn is_zombie(_pid: libc::pid_t) -> bool {
    false
}

/// Bytes an unprivileged process may still allocate on the file system holding `path`.
pub(crate) fn free_space(path: &std::path::Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: statvfs is plain old data; all zeros is a valid value that the call overwrites.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and outlives the call; `stats` is valid and writable.
    let result = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    let free = u64::from(stats.f_bavail).saturating_mul(u64::from(stats.f_frsize));
    Ok(free)
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process on the machine.
pub(crate) fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Sleeps until `word` no longer holds `expected`, a wake-up, or `timeout`; may return early.
///
/// Uses the shared futex operations (no `FUTEX_PRIVATE_FLAG`): only those wake waiters in other
/// processes mapping the same memory.
#[cfg(target_os = "linux")]
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 10^9, so it fits every platform's `c_long`.
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned 32-bit atomic for the duration of the call; FUTEX_WAIT
    // only reads it and sleeps; `timeout` is a valid relative timespec; the unused arguments are
    // null/zero as futex(2) requires. Errors (EAGAIN, EINTR, ETIMEDOUT) all mean "look again".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &timeout as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// Wakes every process sleeping in [`futex_wait`] on `word`.
#[cfg(target_os = "linux")]
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned 32-bit atomic; FUTEX_WAKE does not access memory
    // beyond looking up waiters on that address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// Without futexes: sleep a little, the caller re-checks.
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wait(_word: &AtomicU32, _expected: u32, timeout: Duration) {
    std::thread::sleep(timeout.min(Duration::from_millis(1)));
}

/// Without futexes, sleeping readers poll: nothing to wake.
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wake_all(_word: &AtomicU32) {}
