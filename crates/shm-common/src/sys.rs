//! All FFI and `unsafe` of the crate, one operation per block.
//!
//! The mapping is memory that other processes write at any time, so this module hands out
//! `&[u8]` into it only for a record held under a lease (`held_bytes`, unsafe: the caller
//! vouches for the lease); otherwise only the control block (made entirely of atomics) and
//! slices of aligned `AtomicU64` words, through which every access is an atomic load or store
//! of one width.
//!
//! Every segment is a file descriptor and a mapping of it: a file the user named, or a POSIX
//! shared memory object (on Linux, the file `/dev/shm/NAME`, exactly what `shm_open` opens).
//! The descriptor carries the writer lock (an open-file-description lock, which the kernel
//! releases when the holder dies), reserves the segment's space and tells its owner and mode.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use memmap2::{MmapOptions, MmapRaw};

use crate::checksum::Lanes;
use crate::layout::ControlBlock;

mod wide;

/// A mapped region at least as large as a [`ControlBlock`], accessed only through atomics, and
/// the descriptor it maps.
pub(crate) struct SharedRegion {
    map: MmapRaw,
    file: File,
}

// SAFETY: the region is a process-wide MAP_SHARED mapping that stays mapped until `SharedRegion`
// is dropped; its pointer is valid from any thread, and all access to the memory goes through
// atomics, so moving the owner to another thread is sound.
unsafe impl Send for SharedRegion {}
// SAFETY: `&SharedRegion` only gives out `&ControlBlock` and slices of atomics, which are `Sync`.
unsafe impl Sync for SharedRegion {}

/// Why a file cannot serve as a region.
#[derive(Debug)]
pub(crate) enum MapError {
    /// Shorter than a control block (or misaligned).
    TooSmall { len: usize },
    /// The OS refused the mapping.
    Os(io::Error),
}

impl SharedRegion {
    /// Maps all of `file`; with `populate`, every page is faulted in now rather than by the
    /// first send or read (for a segment that exists: its space is already there).
    pub(crate) fn map(file: File, populate: bool) -> Result<SharedRegion, MapError> {
        let len = file.metadata().map_err(MapError::Os)?.len();
        if len < size_of::<ControlBlock>() as u64 {
            return Err(MapError::TooSmall {
                len: usize::try_from(len).unwrap_or(0),
            });
        }
        let mut options = MmapOptions::new();
        if populate {
            options.populate();
        }
        let map = options.map_raw(&file).map_err(MapError::Os)?;
        let region = SharedRegion { map, file };
        let aligned = (region.base() as usize).is_multiple_of(align_of::<ControlBlock>());
        if region.len() < size_of::<ControlBlock>() || !aligned {
            return Err(MapError::TooSmall { len: region.len() });
        }
        Ok(region)
    }

    fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Mapped length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Allocates every page of a new segment now and maps it writable, so that no store can
    /// later find the file system full (which would raise SIGBUS) and no send pays page
    /// faults. `ErrorKind::StorageFull` when the file system cannot hold it.
    ///
    /// `MADV_POPULATE_WRITE` (Linux 5.14) does both in one pass; measured on this project's
    /// machine for 20 MiB in /dev/shm: 7 to 9 ms, against 10 to 21 ms for `posix_fallocate`
    /// and a `MAP_POPULATE` mapping. Where it is missing, `posix_fallocate` reserves the space
    /// and pages are faulted in as they are first used.
    pub(crate) fn reserve(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: `base..base + len` is this region's own mapping, alive for the call;
            // MADV_POPULATE_WRITE only faults its pages in (as a write would), nothing is
            // read or written through the pointer.
            let result =
                unsafe { libc::madvise(self.base().cast(), self.len(), libc::MADV_POPULATE_WRITE) };
            if result == 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                // A page could not be had: the file system is full (EFAULT: a write would
                // have raised SIGBUS) or memory is.
                Some(libc::EFAULT | libc::ENOMEM) => {
                    return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                }
                // An older kernel: reserve the space instead.
                Some(libc::EINVAL) => {}
                _ => return Err(error),
            }
        }
        reserve(&self.file, self.len() as u64)
    }

    /// The descriptor the region maps.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The control block at offset 0.
    pub(crate) fn control(&self) -> &ControlBlock {
        // SAFETY: `checked` ensured the mapping is at least `size_of::<ControlBlock>()` bytes and
        // aligned for it; `ControlBlock` consists only of atomics, valid for any bit pattern and
        // made for concurrent mutation; the mapping lives as long as `&self`.
        unsafe { &*(self.base() as *const ControlBlock) }
    }

    /// `offset` if `offset..offset + len` lies in the mapping and `offset` is 8-aligned.
    fn checked_range(&self, offset: usize, len: usize) -> Option<usize> {
        let end = offset.checked_add(len)?;
        (end <= self.len() && offset.is_multiple_of(8)).then_some(offset)
    }

    /// Copies `src`, whole 32-byte blocks, into the region at the 8-aligned `offset` with the
    /// CPU's wide moves, adding each block to `lanes`. `Some(false)` (nothing done) where the
    /// CPU has none, `None` if out of bounds or misaligned.
    pub(crate) fn store_blocks(
        &self,
        offset: usize,
        src: &[u8],
        lanes: &mut Lanes,
    ) -> Option<bool> {
        let offset = self.checked_range(offset, src.len())?;
        if !wide::available() {
            return Some(false);
        }
        // SAFETY: the moves are available; `offset..offset + src.len()` was checked to lie in
        // the mapping, which lives as long as `&self`, and `offset` (so the address: the mapping
        // is page-aligned) to be 8-aligned.
        unsafe { wide::store_blocks(self.base().add(offset), src, lanes) };
        Some(true)
    }

    /// Copies whole 32-byte blocks from the region at the 8-aligned `offset` into `dst` with
    /// the CPU's wide moves, adding each block to `lanes`. `Some(false)` (nothing done) where
    /// the CPU has none, `None` if out of bounds or misaligned.
    pub(crate) fn load_blocks(
        &self,
        offset: usize,
        dst: &mut [u8],
        lanes: &mut Lanes,
    ) -> Option<bool> {
        let offset = self.checked_range(offset, dst.len())?;
        if !wide::available() {
            return Some(false);
        }
        // SAFETY: as in `store_blocks`, for `offset..offset + dst.len()`.
        unsafe { wide::load_blocks(self.base().add(offset), dst, lanes) };
        Some(true)
    }

    /// Checks a copy of `len` bytes at `offset` in whole words (a whole number of them, in the
    /// mapping, 8-aligned) and splits it: the offset, and how many leading bytes the CPU's wide
    /// moves take (whole 32-byte blocks; none where it has none).
    fn word_copy(&self, offset: usize, len: usize) -> Option<(usize, usize)> {
        if !len.is_multiple_of(8) {
            return None;
        }
        let offset = self.checked_range(offset, len)?;
        let wide = if wide::available() { len / 32 * 32 } else { 0 };
        Some((offset, wide))
    }

    /// Copies `src`, a whole number of words, into the region at the 8-aligned `offset` (as
    /// relaxed atomic word stores, 32 bytes per instruction where the CPU can), with no
    /// checksum; `None` (nothing done) if out of bounds, misaligned or not whole words.
    pub(crate) fn store_bytes(&self, offset: usize, src: &[u8]) -> Option<()> {
        let (offset, wide) = self.word_copy(offset, src.len())?;
        // SAFETY: the moves are available (or `wide` is 0); `offset..offset + wide` was checked
        // to lie in the mapping, which lives as long as `&self`, 8-aligned.
        unsafe { wide::store(self.base().add(offset), &src[..wide]) };
        let words = self.words(offset + wide, (src.len() - wide) / 8)?;
        for (word, chunk) in words.iter().zip(src[wide..].chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            // Relaxed: whoever publishes these bytes orders them.
            word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        Some(())
    }

    /// Copies from the region at the 8-aligned `offset` into `dst`, a whole number of words
    /// (as relaxed atomic word loads, 32 bytes per instruction where the CPU can), with no
    /// checksum; `None` (nothing done) if out of bounds, misaligned or not whole words.
    pub(crate) fn load_bytes(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        let (offset, wide) = self.word_copy(offset, dst.len())?;
        // SAFETY: as in `store_bytes`, for `offset..offset + wide`.
        unsafe { wide::load(self.base().add(offset), &mut dst[..wide]) };
        let words = self.words(offset + wide, (dst.len() - wide) / 8)?;
        for (word, chunk) in words.iter().zip(dst[wide..].chunks_exact_mut(8)) {
            // Relaxed: whoever published these bytes orders them.
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        Some(())
    }

    /// Reads from `source` with `read(2)` straight into the region's `offset..offset + len`:
    /// the kernel's copy is the only one. Returns how many bytes the kernel stored (0 at the
    /// end of the input); `InvalidInput` if the range is not in the mapping.
    pub(crate) fn read_into(
        &self,
        offset: usize,
        len: usize,
        source: std::os::fd::BorrowedFd<'_>,
    ) -> io::Result<usize> {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len());
        if !in_bounds {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: `offset..offset + len` was checked to lie in the mapping, which lives for the
        // call; the kernel stores at most `len` bytes there and nowhere else. No Rust reference
        // to these bytes exists (the crate reaches the mapping only through atomics and the
        // wide moves), and the kernel's stores, like another process's, are outside this
        // program's memory model: readers meet them only through the seqlock, which discards
        // what they copied while the record was being written.
        let read = unsafe { libc::read(source.as_raw_fd(), self.base().add(offset).cast(), len) };
        usize::try_from(read).map_err(|_| io::Error::last_os_error())
    }

    /// The `len` bytes at `offset` as a slice, or `None` if out of bounds.
    ///
    /// # Safety
    ///
    /// Nothing may write those bytes while the slice lives: the caller holds them under a lease
    /// that every writer following the protocol respects (`protocol/lease.rs`), and gives the
    /// lease back only after the slice is gone.
    pub(crate) unsafe fn held_bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        // SAFETY: `offset..offset + len` lies inside the mapping, which lives as long as `&self`
        // and which the slice borrows; bytes have no alignment; the caller guarantees that no one
        // writes them while the slice lives, so they are as immutable as any `&[u8]`'s.
        Some(unsafe { std::slice::from_raw_parts(self.base().add(offset), len) })
    }

    /// `count` 8-byte words at `offset`, or `None` if out of bounds or misaligned.
    pub(crate) fn words(&self, offset: usize, count: usize) -> Option<&[AtomicU64]> {
        if count == 0 {
            return Some(&[]);
        }
        let offset = self.checked_range(offset, count.checked_mul(8)?)?;
        // SAFETY: `offset..offset + 8 * count` lies inside the mapping, which is page-aligned,
        // so the start (checked to be a multiple of 8) is 8-byte aligned; `AtomicU64` has the size and alignment of `u64` and every bit pattern
        // is valid; other processes may write these words concurrently, which atomics permit;
        // the slice borrows `self`, so it cannot outlive the mapping.
        Some(unsafe { std::slice::from_raw_parts(self.base().add(offset).cast(), count) })
    }
}

/// Where the byte-range locks of readers holding records in place begin: past the end of any
/// segment (15 channels of three 1 GiB buffers stay far below). The writer's lock covers the
/// bytes before it, channel `i`'s lease lock the one byte at `LEASE_LOCKS + i`.
#[cfg(target_os = "linux")]
const LEASE_LOCKS: i64 = 1 << 40;

/// Adds the whole 32-byte blocks of `bytes` (private memory) to `lanes` with the CPU's vector
/// additions, as [`Lanes::block`] would one by one; false (nothing done) where it has none.
pub(crate) fn sum_blocks(bytes: &[u8], lanes: &mut Lanes) -> bool {
    if !wide::available() {
        return false;
    }
    // SAFETY: the vector instructions are available (checked above).
    unsafe { wide::sum_blocks(bytes, lanes) };
    true
}

/// A lock on `len` bytes of a file from `start` that conflicts with every other open of the
/// file, in this process or another, and that the kernel drops when the descriptor's last copy
/// closes (its holder exits or dies): on Linux an open-file-description (OFD) lock.
#[cfg(target_os = "linux")]
fn range_lock(kind: libc::c_int, start: i64, len: i64) -> libc::flock {
    // SAFETY: `flock` is plain old data; all zeros is valid (pid 0, as OFD locks require).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start;
    lock.l_len = len;
    lock
}

/// The writer's lock: every byte before the lease locks.
#[cfg(target_os = "linux")]
fn writer_range_lock(kind: libc::c_int) -> libc::flock {
    range_lock(kind, 0, LEASE_LOCKS)
}

/// Takes `lock` without waiting: `Ok(false)` if another open of the file holds a conflicting
/// one.
#[cfg(target_os = "linux")]
fn try_set_lock(file: &File, lock: &libc::flock) -> io::Result<bool> {
    // SAFETY: the descriptor is open for the duration of the call and `lock` is a valid flock.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, lock) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// Takes the writer lock on `file` if nobody holds it: `Ok(false)` if another open of the file
/// (another writer) holds it.
#[cfg(target_os = "linux")]
pub(crate) fn try_lock_writer(file: &File) -> io::Result<bool> {
    try_set_lock(file, &writer_range_lock(libc::F_WRLCK))
}

/// Drops the writer lock held through `file`.
#[cfg(target_os = "linux")]
pub(crate) fn unlock_writer(file: &File) -> io::Result<()> {
    let lock = writer_range_lock(libc::F_UNLCK);
    // SAFETY: as in `try_set_lock`.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes channel `channel`'s lease lock on `file` (the right to use the slot's lease entry)
/// if no other open of the file holds it: `Ok(false)` if one does.
#[cfg(target_os = "linux")]
pub(crate) fn try_lock_lease(file: &File, channel: usize) -> io::Result<bool> {
    try_set_lock(
        file,
        &range_lock(libc::F_WRLCK, LEASE_LOCKS + channel as i64, 1),
    )
}

/// Drops channel `channel`'s lease lock, held through `file`.
#[cfg(target_os = "linux")]
pub(crate) fn unlock_lease(file: &File, channel: usize) {
    let lock = range_lock(libc::F_UNLCK, LEASE_LOCKS + channel as i64, 1);
    // SAFETY: as in `try_set_lock`. Unlocking a range one holds cannot fail for a valid
    // descriptor; if it did, the kernel drops the lock when the descriptor closes.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
}

/// Elsewhere records are not held in place: readers copy.
#[cfg(not(target_os = "linux"))]
pub(crate) fn try_lock_lease(_file: &File, _channel: usize) -> io::Result<bool> {
    Ok(false)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn unlock_lease(_file: &File, _channel: usize) {}

/// Whether another open of `file` holds the writer lock. It only asks: it never takes the
/// lock, so it cannot get in a starting writer's way.
#[cfg(target_os = "linux")]
pub(crate) fn writer_lock_held(file: &File) -> io::Result<bool> {
    // A read lock conflicts only with a write lock: the answer is the writer's.
    let mut lock = writer_range_lock(libc::F_RDLCK);
    // SAFETY: the descriptor is open for the duration of the call and `lock` is a valid,
    // writable flock that the call fills in.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(libc::c_int::from(lock.l_type) != libc::F_UNLCK)
}

/// Elsewhere: `flock`, also per open file description and dropped by the kernel on exit.
#[cfg(not(target_os = "linux"))]
pub(crate) fn try_lock_writer(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Elsewhere: drops the `flock` held through `file`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unlock_writer(file: &File) -> io::Result<()> {
    file.unlock()
}

/// Elsewhere `flock` cannot be asked without taking it: a shared lock, taken and dropped at
/// once. A writer starting in that instant is refused (and told it may retry).
#[cfg(not(target_os = "linux"))]
pub(crate) fn writer_lock_held(file: &File) -> io::Result<bool> {
    match file.try_lock_shared() {
        Ok(()) => {
            file.unlock()?;
            Ok(false)
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Opens the POSIX shared memory object `name` for reading and writing where it is not a file
/// one can open by path; with `create_new`, creates it (owner-only), failing if it exists.
#[cfg(not(target_os = "linux"))]
pub(crate) fn shm_open(name: &str, create_new: bool) -> io::Result<File> {
    use std::os::fd::FromRawFd;
    let c_name = CString::new(format!("/{name}"))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut flags = libc::O_RDWR | libc::O_CLOEXEC;
    if create_new {
        flags |= libc::O_CREAT | libc::O_EXCL;
    }
    // Apple declares shm_open variadic, where the mode travels as an int.
    #[cfg(target_vendor = "apple")]
    let mode = 0o600 as libc::c_uint;
    #[cfg(not(target_vendor = "apple"))]
    let mode: libc::mode_t = 0o600;
    // SAFETY: `c_name` is NUL-terminated and outlives the call; flags and mode are integers.
    let fd = unsafe { libc::shm_open(c_name.as_ptr(), flags, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened by shm_open and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Removes the name of the POSIX shared memory object `name`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn shm_unlink(name: &str) -> io::Result<()> {
    let c_name = CString::new(format!("/{name}"))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c_name` is NUL-terminated and outlives the call.
    if unsafe { libc::shm_unlink(c_name.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Allocates the first `len` bytes of `file` now, so that no later store into the mapping can
/// find the file system full (which would raise SIGBUS).
fn reserve(file: &File, len: u64) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the descriptor is open for the duration of the call; posix_fallocate takes plain
    // integers and returns an error number instead of setting errno.
    let result = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match result {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

/// This process's effective user id.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Room on a file system, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSystemSpace {
    /// Its size.
    pub total: u64,
    /// What an unprivileged process may still allocate on it.
    pub available: u64,
}

/// Room on the file system holding `path`.
pub(crate) fn space(path: &std::path::Path) -> io::Result<FileSystemSpace> {
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
    let (blocks, available, fragment) = (
        u64::from(stats.f_blocks),
        u64::from(stats.f_bavail),
        u64::from(stats.f_frsize),
    );
    Ok(FileSystemSpace {
        total: blocks.saturating_mul(fragment),
        available: available.saturating_mul(fragment),
    })
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

/// The CPU the calling thread runs on now, if the system says: a hint, as the thread may move
/// at any time.
#[cfg(target_os = "linux")]
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no arguments and only reports on the calling thread.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// Moves the calling thread off `cpu` to another CPU its affinity allows, then gives it its
/// affinity back (the scheduler has no reason to move it back). Returns whether it moved;
/// nothing happens if `cpu` is the only CPU allowed, or not one of them. Another thread that
/// changes this thread's affinity between the two calls has its change undone.
#[cfg(target_os = "linux")]
pub(crate) fn move_off_cpu(cpu: u32) -> bool {
    let cpu = cpu as usize;
    if cpu >= 8 * size_of::<libc::cpu_set_t>() {
        return false;
    }
    let Some(allowed) = affinity() else {
        return false;
    };
    // SAFETY: `cpu` is below the set's size in bits (checked above); both only read the set.
    let (mine, count) = unsafe { (libc::CPU_ISSET(cpu, &allowed), libc::CPU_COUNT(&allowed)) };
    if !mine || count < 2 {
        return false;
    }
    let mut elsewhere = allowed;
    // SAFETY: as above, `cpu` is within the set.
    unsafe { libc::CPU_CLR(cpu, &mut elsewhere) };
    // Setting an affinity without the thread's CPU moves it before the call returns.
    if !set_affinity(&elsewhere) {
        return false;
    }
    set_affinity(&allowed);
    true
}

/// The CPUs the calling thread may run on.
#[cfg(target_os = "linux")]
fn affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain bits, for which all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable set of the size given; pid 0 is the calling thread.
    let done = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    (done == 0).then_some(set)
}

/// Lets the calling thread run on `set` only; whether the system agreed.
#[cfg(target_os = "linux")]
fn set_affinity(set: &libc::cpu_set_t) -> bool {
    // SAFETY: `set` is a valid set of the size given; pid 0 is the calling thread.
    unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), set) == 0 }
}

/// The CPUs the calling thread may run on, in order (for tests).
#[cfg(test)]
#[cfg(target_os = "linux")]
pub(crate) fn allowed_cpus() -> Vec<u32> {
    let set = affinity().expect("sched_getaffinity");
    (0..8 * size_of::<libc::cpu_set_t>())
        // SAFETY: every `cpu` is below the set's size in bits; CPU_ISSET only reads the set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .map(|cpu| cpu as u32)
        .collect()
}

/// Lets the calling thread run on `cpus` only (for tests).
#[cfg(test)]
#[cfg(target_os = "linux")]
pub(crate) fn allow_cpus(cpus: &[u32]) {
    // SAFETY: cpu_set_t is plain bits, for which all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        assert!((cpu as usize) < 8 * size_of::<libc::cpu_set_t>());
        // SAFETY: `cpu` is within the set (asserted).
        unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    }
    assert!(set_affinity(&set), "{}", io::Error::last_os_error());
}

/// Elsewhere the CPU is not asked: a woken reader stays where the scheduler put it.
#[cfg(not(target_os = "linux"))]
pub(crate) fn current_cpu() -> Option<u32> {
    None
}

/// Elsewhere threads are not moved (see [`current_cpu`]).
#[cfg(not(target_os = "linux"))]
pub(crate) fn move_off_cpu(_cpu: u32) -> bool {
    false
}

/// Without futexes: sleep a little, the caller re-checks.
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wait(_word: &AtomicU32, _expected: u32, timeout: Duration) {
    std::thread::sleep(timeout.min(Duration::from_millis(1)));
}

/// Without futexes, sleeping readers poll: nothing to wake.
#[cfg(not(target_os = "linux"))]
pub(crate) fn futex_wake_all(_word: &AtomicU32) {}
