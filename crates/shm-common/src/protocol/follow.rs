//! Reading a large record while it is being written.
//!
//! A writer takes about a millisecond to copy a 10 MiB picture in, and a reader as long to copy
//! it out: one after the other, the picture arrives two copies after the writer started. A
//! streaming reader instead copies each part as soon as the writer has stored it, on the other
//! core, so the picture arrives about one copy after the writer started.
//!
//! On top of the slot's seqlock (see [`super::slot`]), step by step:
//!
//! 1. The writer resets the buffer's `written` count to 0, stores the odd sequence word `2m - 1`
//!    (release), then the record's length and kind, then the bytes in chunks of
//!    [`STREAM_CHUNK`](super::copy::STREAM_CHUNK) bytes, storing the count written so far after
//!    each chunk (release); last, as for any record, checksum, timestamps and `2m`.
//! 2. A reader that has read record `m - 1` and finds buffer `m % 2`'s word at `2m - 1` waits
//!    for a count of at least 1 (acquire: it now sees this record's length and kind, which it
//!    checks, and the physical buffer the writer chose, see `lease.rs`), then copies only bytes below the last count it loaded (acquire: they are
//!    complete, and the writer touches them again only after two more records).
//! 3. With every byte copied, it waits for the word to leave `2m - 1`, issues an acquire fence
//!    and reloads it: `2m` means the copy is record `m`, whole, and the checksum (now visible)
//!    is compared; anything else means the writer went on to record `m + 2` in this buffer, and
//!    the copy is thrown away.
//! 4. A writer that makes no progress for a while (it died mid-write: one second unless the
//!    reader set another timeout) is given up on.
//! 5. A new writer that takes the segment over from one that died mid-write numbers its first
//!    record as the dead one's (same buffer, same odd word) and starts its count at 0 again:
//!    a follower that went on would join the dead writer's bytes to the new one's. Before it
//!    writes anything, the new writer marks the dead write given up (step 6) and bumps the
//!    writer generation, so the follower compares the generation with the one it started with
//!    after every count and word it loads (Acquire, which makes the bump visible) and starts
//!    again if it changed.
//! 6. A writer that gives a write up (a loan dropped unpublished, see `Writer::loan_image`)
//!    leaves the odd word as a dead writer would, bumps the generation as a new writer would
//!    (its next write is the same record again), and stores the count [`ABANDONED`] (release):
//!    a follower that loads it gives the write up at once, as if it had stalled.

use std::time::Duration;

use super::backoff::Backoff;
use super::copy::SharedSource;
use super::record::RecordMeta;
use super::sequence::RecordNumber;
use super::slot::{ABANDONED, Slot};
use crate::checksum::Checksum;
use crate::error::{FrameError, ReadError};
use crate::message::Source;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// Waits for a writer's next bytes that spin before they yield: the writer is usually one
/// chunk ahead on the other core.
const FOLLOW_SPINS: u32 = 1024;

/// How long a streaming reader waits, by default, for a writer that makes no progress.
pub(crate) const STALL_AFTER: Duration = Duration::from_secs(1);

/// What a streaming read found.
#[derive(Debug)]
pub(crate) enum Streamed {
    /// The record, read whole while it was written.
    Read(RecordMeta),
    /// The next record is not being written (or its write is the one that stalled before).
    NotWriting,
    /// The writer wrote two more records over the one being read.
    Overtaken,
    /// The writer made no progress for the stall timeout; its odd sequence word.
    Stalled(u64),
}

/// Why a streaming source stopped waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interruption {
    Overtaken,
    Stalled,
}

/// A record's bytes, copied out right behind the writer.
struct StreamSource<'a> {
    shared: SharedSource<'a>,
    /// Offset of the buffer: `shared.offset - start` bytes are consumed.
    start: usize,
    written: &'a AtomicU64,
    seq: &'a AtomicU64,
    /// The segment's writer generation, and its value when the follow began.
    generation: &'a AtomicU32,
    generation_at_start: u32,
    /// The odd sequence word of the write being followed.
    writing: u64,
    /// The record's length, once known.
    len: usize,
    /// Bytes known to be written (at most `len`).
    available: usize,
    complete: bool,
    interrupted: Option<Interruption>,
    stall_after: Duration,
}

impl StreamSource<'_> {
    /// Whether another writer took the segment over since the follow began. Called after an
    /// Acquire load that saw the new writer's stores, which come after its generation bump.
    fn taken_over(&self) -> bool {
        // Relaxed: ordered after the caller's Acquire load (see above).
        self.generation.load(Ordering::Relaxed) != self.generation_at_start
    }

    /// What an interrupted follow amounts to.
    fn outcome(&self) -> Streamed {
        match self.interrupted {
            Some(Interruption::Stalled) => Streamed::Stalled(self.writing),
            Some(Interruption::Overtaken) | None => Streamed::Overtaken,
        }
    }

    /// Waits until more than `consumed` bytes are written, or the write is complete; false if
    /// the writer went on past this record or stalled.
    fn wait_for_more(&mut self, consumed: usize) -> bool {
        let mut patience = Patience::new(self.available);
        loop {
            if self.complete {
                self.available = self.len;
                return true;
            }
            // Acquire: every byte below the count is visible.
            let count = self.written.load(Ordering::Acquire);
            if count == ABANDONED {
                self.interrupted = Some(Interruption::Stalled);
                return false;
            }
            let written = usize::try_from(count).unwrap_or(0);
            if self.taken_over() {
                self.interrupted = Some(Interruption::Overtaken);
                return false;
            }
            if written > consumed {
                self.available = written.min(self.len);
                return true;
            }
            // Acquire: once the word is even, every byte and the metadata are visible.
            match self.seq.load(Ordering::Acquire) {
                word if word == self.writing => {}
                word if word == self.writing.wrapping_add(1) => {
                    self.complete = true;
                    continue;
                }
                _ => {
                    self.interrupted = Some(Interruption::Overtaken);
                    return false;
                }
            }
            if !patience.wait(written, self.stall_after) {
                self.interrupted = Some(Interruption::Stalled);
                return false;
            }
        }
    }

    /// Waits for the write to complete; false if the writer went on or stalled.
    fn wait_complete(&mut self) -> bool {
        let mut patience = Patience::new(self.available);
        loop {
            // Acquire: the checksum and timestamps, stored before the even word, are visible.
            let word = self.seq.load(Ordering::Acquire);
            if self.taken_over() {
                self.interrupted = Some(Interruption::Overtaken);
                return false;
            }
            // Relaxed: the write is given up on whatever it orders.
            if self.written.load(Ordering::Relaxed) == ABANDONED {
                self.interrupted = Some(Interruption::Stalled);
                return false;
            }
            match word {
                word if word == self.writing.wrapping_add(1) => return true,
                word if word == self.writing => {}
                _ => {
                    self.interrupted = Some(Interruption::Overtaken);
                    return false;
                }
            }
            if !patience.wait(self.available, self.stall_after) {
                self.interrupted = Some(Interruption::Stalled);
                return false;
            }
        }
    }
}

/// Waiting for a writer to make progress: a [`Backoff`] whose clock starts again whenever the
/// writer's count moves, so only a writer that stops for `stall_after` is given up on.
struct Patience {
    backoff: Backoff,
    last_written: usize,
}

impl Patience {
    fn new(written: usize) -> Patience {
        Patience {
            backoff: Backoff::new(FOLLOW_SPINS),
            last_written: written,
        }
    }

    /// Waits a moment; false once the count `written` has not moved for `stall_after`.
    fn wait(&mut self, written: usize, stall_after: Duration) -> bool {
        if written != self.last_written {
            self.last_written = written;
            self.backoff.restart();
        } else if self.backoff.steps().is_multiple_of(64) && self.backoff.waited() > stall_after {
            return false;
        }
        self.backoff.snooze();
        true
    }
}

impl Source for StreamSource<'_> {
    fn remaining(&self) -> usize {
        self.shared.remaining
    }

    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), FrameError> {
        if dst.len() > self.shared.remaining {
            return Err(FrameError::Truncated {
                needed: dst.len(),
                remaining: self.shared.remaining,
            });
        }
        let mut done = 0;
        while done < dst.len() {
            let consumed = self.shared.offset - self.start;
            if self.available <= consumed && !self.wait_for_more(consumed) {
                // The caller sees why in `interrupted`; the decoder just stops.
                return Err(FrameError::Truncated {
                    needed: dst.len() - done,
                    remaining: 0,
                });
            }
            let take = (dst.len() - done).min(self.available - consumed);
            self.shared.read_exact(&mut dst[done..done + take])?;
            done += take;
        }
        Ok(())
    }
}

impl Slot<'_> {
    /// If record `after + 1` is being written now (and its write is not `stalled`), reads it
    /// through `decode` while it is written and returns it once it is complete and whole; gives
    /// up on a writer that makes no progress for `stall_after`.
    pub(crate) fn stream(
        &self,
        after: u64,
        stalled: u64,
        stall_after: Duration,
        decode: impl FnOnce(&mut dyn Source) -> Result<(), FrameError>,
    ) -> Result<Streamed, ReadError> {
        let number = RecordNumber(after).next();
        let index = number.buffer();
        let meta = &self.control.buffers[index];
        let writing = number.writing().0;
        let generation = &self.region.control().writer.generation;
        // Acquire: if this sees a bump by a writer giving a write up, no count of that write
        // can be loaded below (see `abandon_write`); later loads are compared with it after
        // Acquire loads (`taken_over`).
        let generation_at_start = generation.load(Ordering::Acquire);
        // Acquire: pairs with the writer's Release store of the odd word, so the reset of
        // `written` before it is visible: no count of an older record is taken for this one.
        if self.layout.is_one_line()
            || writing == stalled
            || meta.seq.load(Ordering::Acquire) != writing
        {
            return Ok(Streamed::NotWriting);
        }
        // Where the bytes are is known once the first count is loaded (below).
        let mut source = StreamSource {
            shared: SharedSource {
                region: self.region,
                offset: 0,
                remaining: 0,
                checksum: Checksum::new(),
                word: None,
            },
            start: 0,
            written: &meta.written,
            seq: &meta.seq,
            generation,
            generation_at_start,
            writing,
            len: usize::MAX,
            available: 0,
            complete: false,
            interrupted: None,
            stall_after,
        };
        // The length and kind are stored before the first bytes.
        if !source.wait_for_more(0) {
            return Ok(source.outcome());
        }
        // Relaxed: made visible by the Acquire load of the count (or of the even word).
        let len = meta.len.load(Ordering::Relaxed);
        let kind_code = meta.kind.load(Ordering::Relaxed);
        let len = self.check_record(len, kind_code)?;
        // Relaxed: the writer stored the physical buffer before any count (see `lease.rs`).
        let Ok(start) = self.mapped_offset(index) else {
            // Only a corrupt segment names no buffer; a plain read then says so, if it lasts.
            return Ok(Streamed::NotWriting);
        };
        source.start = start;
        source.shared.offset = start;
        source.len = len;
        source.shared.remaining = len;
        source.available = source.available.min(len);
        let decoded = decode(&mut source);
        if source.interrupted.is_some() || !source.wait_complete() {
            return Ok(source.outcome());
        }
        // Relaxed: made visible by the Acquire load of the even word in `wait_complete`, and
        // validated with the copy by the re-check below (the writer stores them again for
        // record `number + 2`).
        let stored = meta.checksum.load(Ordering::Relaxed);
        let started_ns = meta.started_ns.load(Ordering::Relaxed);
        let published_ns = meta.published_ns.load(Ordering::Relaxed);
        // Acquire fence: every load above happens before the re-check.
        fence(Ordering::Acquire);
        // Relaxed: ordered after the copies by the fence above.
        if meta.seq.load(Ordering::Relaxed) != number.complete().0 || source.taken_over() {
            return Ok(Streamed::Overtaken);
        }
        decoded.map_err(|source| ReadError::Malformed {
            kind: self.kind,
            source,
        })?;
        let computed = source.shared.checksum.finish();
        if computed != stored {
            return Err(ReadError::ChecksumMismatch {
                kind: self.kind,
                stored,
                computed,
            });
        }
        Ok(Streamed::Read(RecordMeta {
            kind: self.kind,
            sequence: number.0,
            len,
            checksum: computed,
            started_ns,
            published_ns,
        }))
    }
}
