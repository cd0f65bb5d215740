//! A record read where it lies: the guard [`Reader::lease`](crate::Reader::lease) returns.

use std::fs::File;

use crate::checksum::Checksum;
use crate::error::{FrameError, ReadError};
use crate::message::{FrameView, ImageView};
use crate::protocol::RecordMeta;
use crate::protocol::lease::Held;
use crate::protocol::slot::Slot;
use crate::sys;

/// A record held for reading ([`Reader::lease`](crate::Reader::lease),
/// [`Reader::lease_next`](crate::Reader::lease_next)): its bytes, checked against their
/// checksum, stay exactly as they are while the lease lives.
///
/// Usually the bytes are the segment's own ([`Lease::is_in_place`]): the writer leaves them
/// alone and writes its next records into the channel's other buffers, so neither waits for the
/// other. When the channel's one lease is taken by another reader (or the channel's records fit
/// in one cache line, or the platform is not Linux) they are a copy in the reader's memory
/// instead. Drop the lease to give the buffer back; a reader that dies holding one keeps one of
/// the channel's three buffers from the writer until the next lease, and nothing else.
pub struct Lease<'r> {
    pub(crate) bytes: &'r [u8],
    pub(crate) meta: RecordMeta,
    /// Whether `bytes` were compared with the record's checksum (a [`HeldRecord`]'s are not
    /// yet).
    pub(crate) checked: bool,
    /// Present when `bytes` are the segment's: gives them back when the lease ends.
    pub(crate) holder: Option<Holder<'r>>,
}

impl Lease<'_> {
    /// The record's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }

    /// The record's number, length, checksum and times.
    pub fn meta(&self) -> &RecordMeta {
        &self.meta
    }

    /// Whether the bytes are read where the writer put them (no copy was made).
    pub fn is_in_place(&self) -> bool {
        self.holder.is_some()
    }

    /// The record as a picture: its path and the file's bytes ([`ReadError::Malformed`] if
    /// it is not framed as one).
    pub fn image(&self) -> Result<ImageView<'_>, ReadError> {
        ImageView::parse(self.bytes).map_err(|source| self.malformed(source))
    }

    /// The record as a frame: its header and pixels ([`ReadError::Malformed`] if it is not
    /// framed as one).
    pub fn frame(&self) -> Result<FrameView<'_>, ReadError> {
        FrameView::parse(self.bytes).map_err(|source| self.malformed(source))
    }

    /// The lease once its bytes are compared with the record's checksum.
    pub(crate) fn check(mut self) -> Result<Self, ReadError> {
        if !self.checked {
            self.compare(Checksum::of(self.bytes))?;
            self.checked = true;
        }
        Ok(self)
    }

    fn compare(&self, computed: u64) -> Result<(), ReadError> {
        if computed == self.meta.checksum {
            return Ok(());
        }
        Err(ReadError::ChecksumMismatch {
            kind: self.meta.kind,
            stored: self.meta.checksum,
            computed,
        })
    }

    fn malformed(&self, source: FrameError) -> ReadError {
        ReadError::Malformed {
            kind: self.meta.kind,
            source,
        }
    }
}

/// A record held where it lies but not checked yet ([`Reader::hold`](crate::Reader::hold)): to
/// copy it out and check it in one pass ([`HeldRecord::copy_into`]), or check it in place and
/// read it there ([`HeldRecord::check`]). The writer leaves it alone while it lives, as it does
/// a [`Lease`].
#[derive(Debug)]
pub struct HeldRecord<'r> {
    pub(crate) lease: Lease<'r>,
}

/// Bytes copied out between two checksum updates: small enough to be summed from the cache.
const COPY_CHUNK: usize = 16 * 1024;

impl<'r> HeldRecord<'r> {
    /// The record's length in bytes.
    pub fn len(&self) -> usize {
        self.lease.bytes.len()
    }

    /// Whether the record is empty.
    pub fn is_empty(&self) -> bool {
        self.lease.bytes.is_empty()
    }

    /// The record's number, length, checksum and times.
    pub fn meta(&self) -> &RecordMeta {
        &self.lease.meta
    }

    /// Copies the record into the first [`HeldRecord::len`] bytes of `out`, comparing it with
    /// its checksum in the same pass ([`ReadError::ChecksumMismatch`] if they differ; `out` then
    /// holds the damaged bytes). [`ReadError::Malformed`] if `out` is shorter.
    pub fn copy_into(self, out: &mut [u8]) -> Result<RecordMeta, ReadError> {
        let lease = &self.lease;
        let Some(out) = out.get_mut(..lease.bytes.len()) else {
            return Err(lease.malformed(FrameError::Truncated {
                needed: lease.bytes.len(),
                remaining: out.len(),
            }));
        };
        if lease.checked {
            out.copy_from_slice(lease.bytes);
            return Ok(lease.meta);
        }
        // Each piece is summed right after it is copied, from the cache.
        let mut checksum = Checksum::new();
        for (to, from) in out
            .chunks_mut(COPY_CHUNK)
            .zip(lease.bytes.chunks(COPY_CHUNK))
        {
            to.copy_from_slice(from);
            checksum.update(to);
        }
        lease.compare(checksum.finish())?;
        Ok(lease.meta)
    }

    /// The record checked in place: a [`Lease`] to read it where it lies.
    pub fn check(self) -> Result<Lease<'r>, ReadError> {
        self.lease.check()
    }
}

impl std::fmt::Debug for Lease<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("meta", &self.meta)
            .field("in_place", &self.is_in_place())
            .finish_non_exhaustive()
    }
}

/// The right to a slot's lease entry (the kernel's lock on the channel's lease byte of the
/// segment's file) and the record held through it.
pub(crate) struct Holder<'r> {
    pub(crate) slot: Slot<'r>,
    pub(crate) file: &'r File,
    pub(crate) channel: usize,
}

impl Holder<'_> {
    /// The lease lock on channel `channel` of the segment open as `file`, if no other reader
    /// holds it (or the kernel refuses: the caller then copies).
    pub(crate) fn take<'r>(slot: Slot<'r>, file: &'r File, channel: usize) -> Option<Holder<'r>> {
        let locked =
            !slot.layout.is_one_line() && sys::try_lock_lease(file, channel).unwrap_or(false);
        // Built only when locked: a holder dropped unlocked would clear another's lease.
        locked.then(|| Holder {
            slot,
            file,
            channel,
        })
    }
}

impl<'r> Holder<'r> {
    /// The lease on `held`, the record this holder holds: its bytes in place, `checked` if they
    /// were compared with the checksum while the record was written.
    pub(crate) fn into_lease(self, held: Held, checked: bool) -> Result<Lease<'r>, ReadError> {
        let Some(bytes) = self.held_bytes(&held) else {
            return Err(ReadError::LengthExceedsCapacity {
                kind: self.slot.kind,
                len: held.meta.len as u64,
                capacity: self.slot.layout.capacity,
            });
        };
        Ok(Lease {
            bytes,
            meta: held.meta,
            checked,
            holder: Some(self),
        })
    }

    /// The held record's bytes, for as long as the reader is borrowed; `None` if they are not
    /// all in the mapping.
    #[allow(unsafe_code)]
    fn held_bytes(&self, held: &Held) -> Option<&'r [u8]> {
        let region = self.slot.region;
        // SAFETY: `held` is held through this holder's lease entry (`Slot::hold_newest` or
        // `try_hold` succeeded while we owned the entry): no writer following the protocol
        // writes these bytes until the entry is cleared, which happens only when the holder is
        // dropped. The slice goes into the same `Lease` as the holder and is handed out only
        // through `&Lease`, so no borrow of it outlives the holder.
        unsafe { region.held_bytes(held.offset, held.meta.len) }
    }
}

impl Drop for Holder<'_> {
    fn drop(&mut self) {
        self.slot.release_hold();
        sys::unlock_lease(self.file, self.channel);
    }
}
