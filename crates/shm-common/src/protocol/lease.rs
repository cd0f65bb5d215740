//! Holding a record in place: a reader reads the newest record where it lies, with no copy,
//! and the writer never writes the bytes it holds.
//!
//! A slot whose records exceed one line has two logical buffers (record `n` goes to logical
//! buffer `n % 2`, as always) and three physical ones ([`STREAMED_REGIONS`]): each logical
//! buffer's descriptor names the physical buffer its record is in (`region`). The slot has one
//! lease entry (`lease` in buffer 0's descriptor): 0, or one more than the physical buffer a
//! reader holds. Which reader may use the entry is decided outside shared memory, by a lock the
//! kernel drops when its holder dies (see `Reader::lease`); a reader that dies holding a lease
//! leaves the entry set, which only keeps one physical buffer out of the writer's way until the
//! next reader takes the entry over.
//!
//! To hold the newest record, record `n` in logical buffer `i`, a reader
//!
//! 1. loads both sequence words (acquire), then buffer `i`'s `region` `p`, length, checksum,
//!    times and kind (relaxed: validated in step 3);
//! 2. stores `p + 1` in the lease entry, then issues a sequentially consistent fence;
//! 3. reloads buffer `i`'s sequence word and `region`: if they are still `2n` and `p`, the
//!    writer will see the lease before it next writes into `p` (below), and `p` holds record
//!    `n` whole. Otherwise it clears the entry and starts again (the writer went on; it never
//!    waits for the reader).
//!
//! To write record `m` into logical buffer `j`, the writer
//!
//! 1. stores the odd word `2m - 1` and its release fence, as for every record;
//! 2. issues a sequentially consistent fence and loads the lease entry (acquire);
//! 3. keeps buffer `j`'s physical buffer if it is neither leased nor the other logical buffer's;
//!    otherwise it picks the one that is neither (three physical buffers, at most two excluded:
//!    there always is one) and stores it in `region` before writing any byte.
//!
//! Why no byte of a held record is overwritten: the two fences are ordered one way or the
//! other. If the reader's comes first, the writer's load of the entry sees `p + 1` (or a later
//! value the reader stored) and the writer keeps out of `p`. If the writer's comes first, the
//! reader's reload sees the odd word (or later) and gives the lease up. The other logical
//! buffer never maps to `p` while buffer `i` does, and `p` changes hands only after an odd
//! word on buffer `i`. A reader drops the lease by storing 0 (release); the writer's acquire
//! load of it orders every read of the held bytes before the writer's next store into them.
//!
//! Loom checks this under every schedule (`loom_a_held_record_is_never_written`); removing
//! either fence, or the writer's move to a free buffer, makes it fail.

use crate::sync::atomic::{AtomicU64, Ordering, fence};

use super::record::RecordMeta;
use super::sequence::RecordNumber;
use super::slot::Slot;
use crate::error::ReadError;
use crate::layout::STREAMED_REGIONS;

// A free physical buffer exists for the writer as long as there are more than the two it may
// have to avoid (the other logical buffer's and the held one).
const _: () = assert!(STREAMED_REGIONS > 2);

/// A record held in place: where its bytes are and what the descriptor said of them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    /// Offset of the record's first byte in the segment.
    pub(crate) offset: usize,
    /// The record's metadata; `checksum` is the stored one, still to be compared with the
    /// bytes.
    pub(crate) meta: RecordMeta,
}

impl Slot<'_> {
    /// The slot's lease entry.
    fn lease_entry(&self) -> &AtomicU64 {
        &self.control.buffers[0].lease
    }

    /// Holds the newest complete record in place (the caller owns the lease entry); `Ok(None)`
    /// if nothing was published. Reader steps 1 to 3.
    pub(crate) fn hold_newest(&self) -> Result<Option<Held>, ReadError> {
        self.newest_stable(|number, before| self.try_hold(number, before))
    }

    /// Holds record `number`, whose sequence word was `before` when loaded (with Acquire), if
    /// the writer has not moved on; `Ok(None)`, and the entry cleared, if it has.
    pub(crate) fn try_hold(
        &self,
        number: RecordNumber,
        before: u64,
    ) -> Result<Option<Held>, ReadError> {
        let meta = &self.control.buffers[number.buffer()];
        // Relaxed: ordered after the Acquire load of `before`, validated by the re-check below.
        let region = meta.region.load(Ordering::Relaxed);
        let len = meta.len.load(Ordering::Relaxed);
        let checksum = meta.checksum.load(Ordering::Relaxed);
        let started_ns = meta.started_ns.load(Ordering::Relaxed);
        let published_ns = meta.published_ns.load(Ordering::Relaxed);
        let kind_code = meta.kind.load(Ordering::Relaxed);
        // Relaxed: the fence below orders it before the re-check, and before the writer's load
        // of the entry if the writer's fence comes later.
        self.lease_entry()
            .store(u64::from(region) + 1, Ordering::Relaxed);
        // SeqCst fence: pairs with the writer's (see the module docs); as an acquire fence it
        // also orders the loads above before the re-check.
        fence(Ordering::SeqCst);
        // Relaxed: ordered after the fence.
        let unchanged = meta.seq.load(Ordering::Relaxed) == before
            && meta.region.load(Ordering::Relaxed) == region;
        if !unchanged {
            self.release_hold();
            return Ok(None);
        }
        let checked = self.check_record(len, kind_code).and_then(|len| {
            let offset =
                self.layout
                    .region_offset(region as usize)
                    .ok_or(ReadError::BufferMapping {
                        kind: self.kind,
                        region,
                        regions: self.layout.regions,
                    })?;
            Ok((offset, len))
        });
        let (offset, len) = match checked {
            Ok(found) => found,
            Err(err) => {
                self.release_hold();
                return Err(err);
            }
        };
        Ok(Some(Held {
            offset,
            meta: RecordMeta {
                kind: self.kind,
                sequence: number.0,
                len,
                checksum,
                started_ns,
                published_ns,
            },
        }))
    }

    /// Gives a held record back: the writer may write its bytes again.
    pub(crate) fn release_hold(&self) {
        // Release: every read of the held bytes happens before the writer's next store into
        // them (it loads the entry with Acquire).
        self.lease_entry().store(0, Ordering::Release);
    }

    /// Writer steps 2 and 3, for a write into logical buffer `index` whose odd word is stored:
    /// the offset of the physical buffer to write, moved away from a held one.
    pub(crate) fn region_for_write(&self, index: usize) -> usize {
        // SeqCst fence: pairs with a holding reader's (see the module docs).
        fence(Ordering::SeqCst);
        // Acquire: a reader's release of the entry orders its reads before our stores.
        let held = self.lease_entry().load(Ordering::Acquire).checked_sub(1);
        let meta = &self.control.buffers[index];
        // Relaxed: only the writer stores the regions.
        let other = self.control.buffers[1 - index]
            .region
            .load(Ordering::Relaxed);
        let current = meta.region.load(Ordering::Relaxed);
        let usable = |region: u32| {
            (region as usize) < self.layout.regions
                && region != other
                && Some(u64::from(region)) != held
        };
        // At most two of the three excluded: the fallback is never taken.
        let chosen = std::iter::once(current)
            .chain(0..self.layout.regions as u32)
            .find(|&region| usable(region))
            .unwrap_or(current);
        if chosen != current {
            // Relaxed: after the odd word, like the bytes; readers validate it with the word,
            // followers load it after an Acquire load of the first count.
            meta.region.store(chosen, Ordering::Relaxed);
        }
        self.layout.offset + chosen as usize * self.layout.stride
    }
}
