//! The publish/read protocol of one slot: a double-buffered seqlock.
//!
//! Record `n` (counting from 1) is written into buffer `n % 2`, whose sequence word goes
//! `2n - 1` (writing) then `2n` (complete). The two words alone say which record is the
//! newest complete one (see [`Newest::of`]): no separate counter has to cross between cores.
//! A reader loads both words, copies the newest record's buffer and keeps the copy only if its
//! word did not change meanwhile. Because the writer always fills the *other* buffer, a reader
//! is disturbed only if the writer completes a whole record and starts the next one during the
//! reader's copy; a continuously rewriting writer therefore cannot starve readers, and a writer
//! that dies mid-write leaves the previous record intact.
//!
//! Bytes are moved with relaxed atomic loads and stores (8 bytes at a time where aligned):
//! the memory is written by another process while we read it, and a plain `memcpy` would be a
//! data race in Rust's memory model even though the sequence check discards torn copies. The
//! checksum is computed in the same pass.

use crate::sync::atomic::{AtomicU64, Ordering, fence};
use crate::sync::{hint, thread};
use std::time::{Duration, Instant};

use crate::checksum::Checksum;
use crate::error::{FrameError, ReadError};
use crate::layout::{BufferMeta, LINE_WORDS, SlotControl, SlotLayout};
use crate::message::{RecordKind, Sink, Source};
use crate::sys::{self, SharedRegion};

/// How long a reader keeps retrying a record whose sequence words never settle.
const UNSTABLE_AFTER: Duration = Duration::from_secs(1);

/// Metadata of a record that was read or published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// What the record holds.
    pub kind: RecordKind,
    /// Its number in its slot: 1 for the first record published to the slot, then 2, ...
    pub sequence: u64,
    /// Payload length in bytes.
    pub len: usize,
    /// Payload checksum.
    pub checksum: u64,
    /// Writer's monotonic clock, in nanoseconds, before it stored the record's first byte.
    pub started_ns: u64,
    /// Writer's monotonic clock, in nanoseconds, once it had stored the record's last byte.
    pub published_ns: u64,
}

impl RecordMeta {
    /// How long the writer took to store the record, first byte to last.
    pub fn write_time(&self) -> Duration {
        Duration::from_nanos(self.published_ns.saturating_sub(self.started_ns))
    }

    /// Time since the record was complete (both on the machine's monotonic clock).
    pub fn since_published(&self) -> Duration {
        Duration::from_nanos(monotonic_ns().saturating_sub(self.published_ns))
    }

    /// How the record reached a reader that asked for it at `asked_ns` (began waiting for it,
    /// or reading it) and held all of it, checked, at `received_ns`; see [`Delivery`].
    pub fn delivery(&self, asked_ns: u64, received_ns: u64) -> Delivery {
        let waited = asked_ns.saturating_sub(self.published_ns);
        let transfer = received_ns
            .saturating_sub(self.started_ns)
            .saturating_sub(waited);
        Delivery {
            transfer: Duration::from_nanos(transfer),
            waited: Duration::from_nanos(waited),
        }
    }
}

/// How one record reached one reader, on the machine-wide monotonic clock that writer and
/// reader share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// From the writer's first byte to the reader holding the whole record, less the time
    /// the complete record lay in the segment before the reader asked for it: for a reader
    /// that was waiting (or followed the write), the full latency; for one that read an old
    /// record on demand, the writer's copy plus the reader's.
    pub transfer: Duration,
    /// How long the complete record lay in the segment before the reader asked for it.
    pub waited: Duration,
}

/// Nanoseconds on the machine-wide monotonic clock that record timestamps use.
pub fn monotonic_ns() -> u64 {
    sys::monotonic_ns()
}

/// One slot of a mapped segment.
pub(crate) struct Slot<'a> {
    pub(crate) region: &'a SharedRegion,
    pub(crate) control: &'a SlotControl,
    pub(crate) layout: SlotLayout,
    pub(crate) kind: RecordKind,
}

/// What a slot's two sequence words say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Newest {
    /// Nothing was published yet.
    Nothing,
    /// Record `sequence`, in buffer `sequence % 2`, is the newest complete one.
    Record {
        /// The record's number.
        sequence: u64,
    },
    /// The words contradict each other: they were loaded while the writer moved on, or the
    /// segment is corrupt.
    Contradiction,
}

impl Newest {
    /// Reads a pair of sequence words. The higher one is the newest write: if even (`2n`),
    /// record `n` is complete; if odd (`2m - 1`), record `m` is being written and the other
    /// buffer must hold record `m - 1` (word `2m - 2`), or nothing if `m` is 1. Each record
    /// must be in buffer `n % 2`.
    pub(crate) fn of(words: [u64; 2]) -> Newest {
        let high = usize::from(words[1] > words[0]);
        let newest = words[high];
        let other = words[1 - high];
        if newest == 0 {
            return Newest::Nothing;
        }
        let writing = newest.div_ceil(2);
        if (writing & 1) as usize != high {
            return Newest::Contradiction;
        }
        if newest.is_multiple_of(2) {
            return Newest::Record { sequence: writing };
        }
        match (writing - 1, other) {
            (0, 0) => Newest::Nothing,
            (sequence, word) if sequence > 0 && word == newest - 1 => Newest::Record { sequence },
            _ => Newest::Contradiction,
        }
    }

    /// The newest complete record's number, 0 if none (or if the words contradict).
    pub(crate) fn sequence(self) -> u64 {
        match self {
            Newest::Record { sequence } => sequence,
            Newest::Nothing | Newest::Contradiction => 0,
        }
    }
}

impl Slot<'_> {
    /// Both buffers' sequence words.
    pub(crate) fn sequence_words(&self) -> [u64; 2] {
        // Acquire: the record's metadata and data loads that follow cannot move before these.
        self.control
            .buffers
            .each_ref()
            .map(|meta| meta.seq.load(Ordering::Acquire))
    }

    /// The newest complete record, as the sequence words say now.
    pub(crate) fn newest(&self) -> Newest {
        Newest::of(self.sequence_words())
    }

    /// The higher sequence word, loaded Relaxed: by the writer, which alone stores the words
    /// (the lock's Acquire ordered the previous holder's stores before ours), or as a hint.
    fn highest_word(&self) -> u64 {
        self.control
            .buffers
            .iter()
            .map(|meta| meta.seq.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// The sequence word of a write in progress (the higher word, if odd), or 0: a hint for
    /// how long to spin; correctness never depends on it.
    pub(crate) fn write_in_progress(&self) -> u64 {
        let newest = self.highest_word();
        if newest % 2 == 1 { newest } else { 0 }
    }

    /// Writes a `len`-byte record through `encode` and publishes it. Only the lock holder calls
    /// this; `len` must not exceed the slot's capacity (the caller checked).
    ///
    /// A record of a one-line slot is encoded, checksummed and timestamped on the stack first,
    /// then stored in one burst: a reader spinning on the descriptor line would otherwise take
    /// the line back between the writer's stores, and each theft costs a cache-line transfer.
    /// `started` is called once a streamed record's length is stored, before its bytes: readers
    /// can follow it from then on.
    pub(crate) fn publish(
        &self,
        len: usize,
        encode: impl FnOnce(&mut dyn Sink),
        started: impl FnOnce(),
    ) -> RecordMeta {
        // After `2n`, record `n + 1`; after `2m - 1` (a writer died writing `m`), `m` again.
        let sequence = (self.highest_word() / 2).wrapping_add(1).max(1);
        let index = (sequence & 1) as usize;
        let meta = &self.control.buffers[index];
        let offset = self.layout.buffer_offset(index);
        let (checksum, started_ns, published_ns) = if self.layout.is_one_line() {
            let mut line = LineSink::new();
            encode(&mut line);
            let checksum = Checksum::of(line.filled());
            // One reading serves as both times: the burst of stores below takes nanoseconds,
            // and a second clock read would cost more than it measures.
            let now = monotonic_ns();
            begin_write(meta, sequence);
            if let Some(words) = self.region.words(offset, self.layout.capacity.div_ceil(8)) {
                for (word, value) in words.iter().zip(line.words()) {
                    // Relaxed: ordered by the seqlock fences (`begin_write`, and the Release
                    // store of the even word below).
                    word.store(value, Ordering::Relaxed);
                }
            }
            // Relaxed: published by the Release store of the even sequence word below.
            meta.len.store(len as u64, Ordering::Relaxed);
            meta.kind.store(self.kind.code(), Ordering::Relaxed);
            (checksum, now, now)
        } else {
            // Before the odd word: a streaming reader that sees the odd word sees this reset or
            // this record's progress, never the previous record's count.
            meta.written.store(0, Ordering::Relaxed);
            let started_ns = monotonic_ns();
            begin_write(meta, sequence);
            // Relaxed: published to streaming readers by the first Release store of `written`
            // (and to the others by the even word).
            meta.len.store(len as u64, Ordering::Relaxed);
            meta.kind.store(self.kind.code(), Ordering::Relaxed);
            started();
            let mut sink = SharedSink {
                region: self.region,
                offset,
                remaining: len.min(self.layout.capacity),
                checksum: Checksum::new(),
                written: &meta.written,
                done: 0,
                stage: [0; 8],
                staged: 0,
            };
            encode(&mut sink);
            sink.finish();
            (sink.checksum.finish(), started_ns, monotonic_ns())
        };
        // Relaxed: published by the Release store of the even sequence word below.
        meta.checksum.store(checksum, Ordering::Relaxed);
        meta.started_ns.store(started_ns, Ordering::Relaxed);
        meta.published_ns.store(published_ns, Ordering::Relaxed);
        // Release: a reader whose Acquire load sees `2n` sees all the data and metadata above.
        meta.seq.store(sequence.wrapping_mul(2), Ordering::Release);
        RecordMeta {
            kind: self.kind,
            sequence,
            len,
            checksum,
            started_ns,
            published_ns,
        }
    }

    /// Reads the latest complete record through `decode`; `Ok(None)` if none was published.
    ///
    /// `decode` fills the caller's message. For a streamed record it may see torn bytes; the
    /// message then counts only if the sequence word did not move, so a framing error it reports
    /// is only returned for a stable record. A one-line record is decoded only once stable.
    pub(crate) fn read(
        &self,
        mut decode: impl FnMut(&mut dyn Source) -> Result<(), FrameError>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        let mut started: Option<Instant> = None;
        for attempt in 0u32.. {
            let words = self.sequence_words();
            match Newest::of(words) {
                Newest::Nothing => return Ok(None),
                Newest::Record { sequence } => {
                    let before = words[(sequence & 1) as usize];
                    if let Some(read) = self.read_stable(sequence, before, &mut decode)? {
                        return Ok(Some(read));
                    }
                }
                // Words loaded while the writer moved on can contradict each other, but a second
                // look then finds them changed; unchanged, nobody is writing and they are corrupt.
                Newest::Contradiction => {
                    if self.sequence_words() == words {
                        return Err(ReadError::Inconsistent { kind: self.kind });
                    }
                }
            }
            backoff(attempt, &mut started, self.kind)?;
        }
        Err(ReadError::Unstable {
            kind: self.kind,
            waited_ms: UNSTABLE_AFTER.as_millis() as u64,
        })
    }

    /// Decodes record `sequence`, whose sequence word was `before` when loaded (with Acquire);
    /// `Ok(None)` if the writer touched the buffer meanwhile.
    fn read_stable(
        &self,
        sequence: u64,
        before: u64,
        decode: &mut impl FnMut(&mut dyn Source) -> Result<(), FrameError>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        let index = (sequence & 1) as usize;
        let meta = &self.control.buffers[index];
        // Relaxed: ordered after the Acquire load of `before`, validated by the re-check below.
        let len = meta.len.load(Ordering::Relaxed);
        let stored_checksum = meta.checksum.load(Ordering::Relaxed);
        let started_ns = meta.started_ns.load(Ordering::Relaxed);
        let published_ns = meta.published_ns.load(Ordering::Relaxed);
        let kind_code = meta.kind.load(Ordering::Relaxed);
        let mut line = [0u64; LINE_WORDS];
        let streamed = if self.layout.is_one_line() {
            let offset = self.layout.buffer_offset(index);
            if let Some(words) = self.region.words(offset, self.layout.capacity.div_ceil(8)) {
                for (value, word) in line.iter_mut().zip(words) {
                    // Relaxed: the Acquire fence and sequence re-check below decide whether
                    // the copy counts.
                    *value = word.load(Ordering::Relaxed);
                }
            }
            None
        } else {
            Some(self.copy_record(index, len, kind_code, decode))
        };
        // Acquire fence: every load above happens before the re-check, so if the writer touched
        // this buffer meanwhile, the re-check sees a newer sequence word.
        fence(Ordering::Acquire);
        // Relaxed: ordered after the copy by the fence above.
        if meta.seq.load(Ordering::Relaxed) != before {
            return Ok(None);
        }
        let computed = match streamed {
            Some(outcome) => outcome?,
            None => self.decode_line(&line, len, kind_code, decode)?,
        };
        if computed != stored_checksum {
            return Err(ReadError::ChecksumMismatch {
                kind: self.kind,
                stored: stored_checksum,
                computed,
            });
        }
        let record = RecordMeta {
            kind: self.kind,
            sequence,
            len: len as usize,
            checksum: computed,
            started_ns,
            published_ns,
        };
        Ok(Some(record))
    }

    /// Checks the untrusted length and kind against the slot.
    pub(crate) fn check_record(&self, len: u64, kind_code: u32) -> Result<usize, ReadError> {
        let capacity = self.layout.capacity;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= capacity)
            .ok_or(ReadError::LengthExceedsCapacity {
                kind: self.kind,
                len,
                capacity,
            })?;
        if kind_code != self.kind.code() {
            return Err(ReadError::WrongKind {
                expected: self.kind,
                found: kind_code,
            });
        }
        Ok(len)
    }

    /// Decodes a one-line record copied out of the segment, and computes its checksum.
    fn decode_line(
        &self,
        line: &[u64; LINE_WORDS],
        len: u64,
        kind_code: u32,
        decode: &mut impl FnMut(&mut dyn Source) -> Result<(), FrameError>,
    ) -> Result<u64, ReadError> {
        let len = self.check_record(len, kind_code)?.min(LINE_WORDS * 8);
        let mut source = LineSource {
            line,
            offset: 0,
            end: len,
        };
        decode(&mut source).map_err(|source| ReadError::Malformed {
            kind: self.kind,
            source,
        })?;
        Ok(Checksum::of_native_words(line, len))
    }

    /// Checks the untrusted length and kind, then decodes the buffer's bytes straight out of
    /// the segment.
    fn copy_record(
        &self,
        index: usize,
        len: u64,
        kind_code: u32,
        decode: &mut impl FnMut(&mut dyn Source) -> Result<(), FrameError>,
    ) -> Result<u64, ReadError> {
        let len = self.check_record(len, kind_code)?;
        let mut source = SharedSource {
            region: self.region,
            offset: self.layout.buffer_offset(index),
            remaining: len,
            checksum: Checksum::new(),
            word: None,
        };
        decode(&mut source).map_err(|source| ReadError::Malformed {
            kind: self.kind,
            source,
        })?;
        Ok(source.checksum.finish())
    }
}

/// Marks record `sequence` as being written in `meta`'s buffer.
fn begin_write(meta: &BufferMeta, sequence: u64) {
    // Release store of the odd value: a reader that sees it also sees the stores before it and
    // the other buffer's word at `2(sequence - 1)` (so it can tell a busy writer from a corrupt
    // segment). Then a Release fence: no store after it can become visible before the odd
    // sequence word (the seqlock writer's fence).
    meta.seq
        .store(sequence.wrapping_mul(2).wrapping_sub(1), Ordering::Release);
    fence(Ordering::Release);
}

/// A one-line record being encoded on the stack.
struct LineSink {
    bytes: [u8; LINE_WORDS * 8],
    len: usize,
}

impl LineSink {
    fn new() -> LineSink {
        LineSink {
            bytes: [0; LINE_WORDS * 8],
            len: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The line as the words to store (native byte order: memory holds the bytes as given).
    fn words(&self) -> [u64; LINE_WORDS] {
        std::array::from_fn(|i| native_word(&self.bytes[i * 8..i * 8 + 8]))
    }
}

impl Sink for LineSink {
    fn put(&mut self, bytes: &[u8]) {
        // As with the shared sink, bytes beyond the line are dropped rather than overrun.
        let space = &mut self.bytes[self.len..];
        let take = bytes.len().min(space.len());
        space[..take].copy_from_slice(&bytes[..take]);
        self.len += take;
    }
}

/// A one-line record copied out of the segment, read back a word at a time: the copy was stored
/// a word at a time, and wider loads right after narrower stores stall store forwarding.
struct LineSource<'a> {
    line: &'a [u64; LINE_WORDS],
    offset: usize,
    end: usize,
}

impl Source for LineSource<'_> {
    fn remaining(&self) -> usize {
        self.end - self.offset
    }

    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), FrameError> {
        if dst.len() > self.remaining() {
            return Err(FrameError::Truncated {
                needed: dst.len(),
                remaining: self.remaining(),
            });
        }
        // Whole words while the offset is aligned (the struct is read in one go), then bytes.
        let mut done = 0;
        if self.offset.is_multiple_of(8) {
            let words = &self.line[self.offset / 8..];
            for (chunk, word) in dst.chunks_exact_mut(8).zip(words) {
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            done = (dst.len() / 8).min(words.len()) * 8;
        }
        for (i, byte) in dst.iter_mut().enumerate().skip(done) {
            let at = self.offset + i;
            *byte = self.line[at / 8].to_ne_bytes()[at % 8];
        }
        self.offset += dst.len();
        Ok(())
    }
}

/// Spin a little, then yield; give up once the record has been unstable for [`UNSTABLE_AFTER`].
fn backoff(attempt: u32, started: &mut Option<Instant>, kind: RecordKind) -> Result<(), ReadError> {
    if attempt < 16 {
        hint::spin_loop();
        return Ok(());
    }
    let started = *started.get_or_insert_with(Instant::now);
    if started.elapsed() > UNSTABLE_AFTER {
        return Err(ReadError::Unstable {
            kind,
            waited_ms: started.elapsed().as_millis() as u64,
        });
    }
    thread::yield_now();
    Ok(())
}

/// Writes a record's bytes into a buffer with atomic stores, computing its checksum.
///
/// Shared memory is only ever written in whole, aligned 8-byte words (a reader loads the same
/// words): bytes that do not fill a word yet wait in `stage`, and [`SharedSink::finish`]
/// stores the last partial word, padded with zeros. Mixing byte and word accesses to the same
/// memory from two threads is undefined in Rust's memory model, even when both are atomic.
/// Progress is published every [`STREAM_CHUNK`] bytes for streaming readers, and at the end.
pub(crate) struct SharedSink<'a> {
    pub(crate) region: &'a SharedRegion,
    /// Where the next whole word goes (8-aligned: buffers are 64-aligned).
    pub(crate) offset: usize,
    pub(crate) remaining: usize,
    pub(crate) checksum: Checksum,
    pub(crate) written: &'a AtomicU64,
    /// Bytes stored so far.
    pub(crate) done: u64,
    /// Bytes waiting for the rest of their word.
    pub(crate) stage: [u8; 8],
    pub(crate) staged: usize,
}

/// How many bytes a writer copies between two stores of its progress: small enough that a
/// streaming reader copies right behind it, large enough that the stores cost nothing. A
/// multiple of 8, so progress always counts whole words.
#[cfg(not(loom))]
pub(crate) const STREAM_CHUNK: usize = 64 * 1024;
/// Under loom, a word: the model's reader follows the writer word by word.
#[cfg(loom)]
pub(crate) const STREAM_CHUNK: usize = 8;

const _: () = assert!(STREAM_CHUNK.is_multiple_of(8));

impl SharedSink<'_> {
    /// Stores `words` (a whole number of words) at the current offset, publishing progress at
    /// every [`STREAM_CHUNK`] boundary.
    fn store_words(&mut self, mut words: &[u8]) {
        while !words.is_empty() {
            let to_boundary = STREAM_CHUNK - (self.done as usize % STREAM_CHUNK);
            let take = words.len().min(to_boundary);
            let (now, rest) = words.split_at(take);
            copy_in(self.region, self.offset, now, &mut self.checksum);
            self.offset += take;
            self.done += take as u64;
            words = rest;
            if self.done.is_multiple_of(STREAM_CHUNK as u64) {
                self.publish_progress();
            }
        }
    }

    fn publish_progress(&self) {
        // Release: a streaming reader that loads this count with Acquire sees every byte
        // before it.
        self.written.store(self.done, Ordering::Release);
    }

    /// Stores the last partial word (padded with zeros: buffers are whole lines long) and
    /// publishes the final count.
    pub(crate) fn finish(&mut self) {
        if self.staged > 0 {
            let staged = self.staged;
            self.checksum.update(&self.stage[..staged]);
            self.stage[staged..].fill(0);
            if let Some(word) = self.region.words(self.offset, 1) {
                // Relaxed: ordered by the seqlock fences in `Slot::publish`.
                word[0].store(u64::from_ne_bytes(self.stage), Ordering::Relaxed);
            }
            self.offset += 8;
            self.done += staged as u64;
            self.staged = 0;
        }
        self.publish_progress();
    }
}

impl Sink for SharedSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // The caller checked the record's length against the capacity; anything beyond it is
        // dropped here (and then fails the reader's framing check) rather than overrun.
        let mut bytes = &bytes[..bytes.len().min(self.remaining)];
        self.remaining -= bytes.len();
        if self.staged > 0 {
            let take = (8 - self.staged).min(bytes.len());
            self.stage[self.staged..self.staged + take].copy_from_slice(&bytes[..take]);
            self.staged += take;
            bytes = &bytes[take..];
            if self.staged < 8 {
                return;
            }
            self.staged = 0;
            let word = self.stage;
            self.store_words(&word);
        }
        let whole = bytes.len() / 8 * 8;
        self.store_words(&bytes[..whole]);
        let rest = &bytes[whole..];
        self.stage[..rest.len()].copy_from_slice(rest);
        self.staged = rest.len();
    }
}

/// Reads a record's bytes out of a buffer with atomic loads of whole, aligned words (as the
/// writer stores them), computing its checksum.
pub(crate) struct SharedSource<'a> {
    pub(crate) region: &'a SharedRegion,
    pub(crate) offset: usize,
    pub(crate) remaining: usize,
    pub(crate) checksum: Checksum,
    /// The last word loaded for bytes that do not fill a word, and its offset.
    pub(crate) word: Option<(usize, u64)>,
}

impl SharedSource<'_> {
    /// The byte at `offset`, from the whole word holding it.
    fn byte_at(&mut self, offset: usize) -> Option<u8> {
        let aligned = offset & !7;
        let word = match self.word {
            Some((at, word)) if at == aligned => word,
            _ => {
                // Relaxed: the reader's Acquire fence and sequence re-check decide whether it
                // counts.
                let word = self.region.words(aligned, 1)?[0].load(Ordering::Relaxed);
                self.word = Some((aligned, word));
                word
            }
        };
        Some(word.to_ne_bytes()[offset % 8])
    }

    /// Copies `dst.len()` bytes from `self.offset` on.
    fn copy(&mut self, dst: &mut [u8]) -> Option<()> {
        let mut done = 0;
        while done < dst.len() && !self.offset.is_multiple_of(8) {
            let byte = self.byte_at(self.offset)?;
            dst[done] = byte;
            self.checksum.byte(byte);
            self.offset += 1;
            done += 1;
        }
        let whole = (dst.len() - done) / 8 * 8;
        copy_out(
            self.region,
            self.offset,
            &mut dst[done..done + whole],
            &mut self.checksum,
        )?;
        self.offset += whole;
        done += whole;
        while done < dst.len() {
            let byte = self.byte_at(self.offset)?;
            dst[done] = byte;
            self.checksum.byte(byte);
            self.offset += 1;
            done += 1;
        }
        Some(())
    }
}

impl Source for SharedSource<'_> {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), FrameError> {
        let truncated = FrameError::Truncated {
            needed: dst.len(),
            remaining: self.remaining,
        };
        if dst.len() > self.remaining {
            return Err(truncated);
        }
        self.copy(dst).ok_or(truncated)?;
        self.remaining -= dst.len();
        Ok(())
    }
}

/// Copies `src`, a whole number of words, into the region at the 8-aligned `offset` (relaxed
/// atomic word stores), feeding `checksum`.
fn copy_in(
    region: &SharedRegion,
    offset: usize,
    src: &[u8],
    checksum: &mut Checksum,
) -> Option<()> {
    let words = src.len() / 8;
    let dst_words = region.words(offset, words)?;
    let mut pairs = dst_words.iter().zip(src.chunks_exact(8));
    while !checksum.at_block_boundary() {
        let Some((dst, chunk)) = pairs.next() else {
            break;
        };
        let native = native_word(chunk);
        checksum.word(u64::from_le(native));
        // Relaxed: ordered by the seqlock fences in `Slot::publish`.
        dst.store(native, Ordering::Relaxed);
    }
    let done = words - pairs.len();
    let blocks = dst_words[done..]
        .chunks_exact(4)
        .zip(src[done * 8..].chunks_exact(32));
    let whole = blocks.len() * 4;
    // A local copy of the state, indexed only by constants, stays in registers.
    let mut sum = *checksum;
    for (dst, chunk) in blocks {
        let native: [u64; 4] = std::array::from_fn(|i| native_word(&chunk[i * 8..i * 8 + 8]));
        sum.block(native.map(u64::from_le));
        for (dst, word) in dst.iter().zip(native) {
            // Relaxed: ordered by the seqlock fences in `Slot::publish`.
            dst.store(word, Ordering::Relaxed);
        }
    }
    *checksum = sum;
    for (dst, chunk) in dst_words[done + whole..]
        .iter()
        .zip(src[(done + whole) * 8..].chunks_exact(8))
    {
        let native = native_word(chunk);
        checksum.word(u64::from_le(native));
        // Relaxed: ordered by the seqlock fences in `Slot::publish`.
        dst.store(native, Ordering::Relaxed);
    }
    Some(())
}

fn native_word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_ne_bytes(bytes)
}

/// Copies from the region at the 8-aligned `offset` into `dst`, a whole number of words
/// (relaxed atomic word loads), feeding `checksum`.
fn copy_out(
    region: &SharedRegion,
    offset: usize,
    dst: &mut [u8],
    checksum: &mut Checksum,
) -> Option<()> {
    let words = dst.len() / 8;
    let src_words: &[AtomicU64] = region.words(offset, words)?;
    let mut done = 0;
    while done < words && !checksum.at_block_boundary() {
        // Relaxed: the reader's Acquire fence and sequence re-check decide whether it counts.
        let native = src_words[done].load(Ordering::Relaxed);
        dst[done * 8..done * 8 + 8].copy_from_slice(&native.to_ne_bytes());
        checksum.word(u64::from_le(native));
        done += 1;
    }
    let blocks = src_words[done..]
        .chunks_exact(4)
        .zip(dst[done * 8..].chunks_exact_mut(32));
    let whole = blocks.len() * 4;
    // A local copy of the state, indexed only by constants, stays in registers.
    let mut sum = *checksum;
    for (src, chunk) in blocks {
        // Relaxed: the reader's Acquire fence and sequence re-check decide whether it counts.
        let native: [u64; 4] = std::array::from_fn(|i| src[i].load(Ordering::Relaxed));
        let mut bytes = [0u8; 32];
        for (i, word) in native.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&word.to_ne_bytes());
        }
        chunk.copy_from_slice(&bytes);
        sum.block(native.map(u64::from_le));
    }
    *checksum = sum;
    for index in done + whole..words {
        // Relaxed: the reader's Acquire fence and sequence re-check decide whether it counts.
        let native = src_words[index].load(Ordering::Relaxed);
        dst[index * 8..index * 8 + 8].copy_from_slice(&native.to_ne_bytes());
        checksum.word(u64::from_le(native));
    }
    Some(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Newest;

    #[test]
    fn the_higher_sequence_word_names_the_newest_record() {
        let cases = [
            ([0, 0], Newest::Nothing),
            ([0, 1], Newest::Nothing),
            ([0, 2], Newest::Record { sequence: 1 }),
            ([3, 2], Newest::Record { sequence: 1 }),
            ([4, 2], Newest::Record { sequence: 2 }),
            ([4, 5], Newest::Record { sequence: 2 }),
            // Record 3 belongs in buffer 1, record 1 too; record 2 needs record 1 beside it.
            ([5, 2], Newest::Contradiction),
            ([2, 0], Newest::Contradiction),
            ([3, 0], Newest::Contradiction),
            ([u64::MAX, 0], Newest::Contradiction),
        ];
        for (words, expected) in cases {
            assert_eq!(Newest::of(words), expected, "{words:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_pair_of_words_is_judged_without_panicking(words: [u64; 2]) {
            if let Newest::Record { sequence } = Newest::of(words) {
                proptest::prop_assert!(words.contains(&sequence.wrapping_mul(2)));
            }
        }
    }
}

/// Loom explores every interleaving (up to three preemptions) of the real `Slot::publish` and
/// `Slot::read`, and every value the C11 memory model lets each relaxed or acquire load see,
/// with records that are two words of one repeated byte (a torn record shows at once), in a
/// one-line slot (staged and moved in a burst) and in a larger one (streamed); and a reader
/// following writes (`Slot::stream`) with one-word records.
/// Run: `RUSTFLAGS="--cfg loom" cargo test -p shm-common --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use std::sync::Arc;

    use super::*;
    use crate::layout::CONTROL_SIZE;
    use crate::message::{RecordKind, Sink, Source};

    const LEN: usize = 16;
    /// A one-line slot: records staged on the stack and moved in a burst.
    const ONE_LINE: usize = LEN;
    /// A larger slot: records streamed in and out of the segment.
    const STREAMED: usize = 72;

    fn slot(region: &SharedRegion, capacity: usize) -> Slot<'_> {
        Slot {
            region,
            control: &region.control().slots[0],
            layout: SlotLayout {
                offset: CONTROL_SIZE,
                stride: capacity,
                capacity,
            },
            kind: RecordKind::Struct,
        }
    }

    /// A writer publishing records `1..=records`, each `len` copies of its number.
    fn spawn_writer(
        region: &Arc<SharedRegion>,
        capacity: usize,
        records: u8,
        len: usize,
    ) -> loom::thread::JoinHandle<()> {
        let region = Arc::clone(region);
        loom::thread::spawn(move || {
            let slot = slot(&region, capacity);
            for record in 1..=records {
                slot.publish(len, |sink| sink.put(&vec![record; len]), || ());
            }
        })
    }

    fn check(records: u8, capacity: usize) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(move || {
            let region = Arc::new(SharedRegion::with_data_words(2 * capacity / 8));
            let writer = spawn_writer(&region, capacity, records, LEN);
            let slot = slot(&region, capacity);
            assert_eq!(slot.layout.is_one_line(), capacity == ONE_LINE);
            // Read until a record arrives, then once more: both reads race with the writer.
            let mut accepted = 0;
            while accepted < 2 {
                let mut bytes = [0u8; LEN];
                match slot.read(|source| source.read_exact(&mut bytes)) {
                    Ok(Some(meta)) => {
                        let record = u8::try_from(meta.sequence).unwrap();
                        assert_eq!(bytes, [record; LEN], "a torn or mixed record was accepted");
                        accepted += 1;
                    }
                    Ok(None) => loom::thread::yield_now(),
                    Err(err) => panic!("a legitimate interleaving failed: {err}"),
                }
            }
            writer.join().unwrap();
            // Once the writer is done, the last record is there, whole.
            let mut bytes = [0u8; LEN];
            let meta = slot
                .read(|source| source.read_exact(&mut bytes))
                .unwrap()
                .unwrap();
            assert_eq!((bytes, meta.sequence), ([records; LEN], u64::from(records)));
        });
    }

    /// A reader following writes: every record it accepts is whole, whether it followed the
    /// write or fell back to the newest complete record.
    fn check_streaming(records: u8, preemptions: usize) {
        // One word per record keeps the state space small; the writer still stores its progress
        // (a chunk is a word under loom) before completing.
        const WORD: usize = 8;
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(preemptions);
        model.check(move || {
            let region = Arc::new(SharedRegion::with_data_words(2 * STREAMED / 8));
            let writer = spawn_writer(&region, STREAMED, records, WORD);
            let slot = slot(&region, STREAMED);
            let mut after = 0;
            while after < u64::from(records) {
                let mut bytes = [0u8; WORD];
                let meta = match slot.stream(after, 0, crate::stream::STALL_AFTER, |source| {
                    source.read_exact(&mut bytes)
                }) {
                    Ok(crate::stream::Streamed::Read(meta)) => Some(meta),
                    Ok(_) => slot
                        .read(|source| source.read_exact(&mut bytes))
                        .unwrap()
                        .filter(|meta| meta.sequence > after),
                    Err(err) => panic!("a legitimate interleaving failed: {err}"),
                };
                match meta {
                    Some(meta) => {
                        let record = u8::try_from(meta.sequence).unwrap();
                        assert_eq!(bytes, [record; WORD], "a torn or mixed record was accepted");
                        after = meta.sequence;
                    }
                    None => loom::thread::yield_now(),
                }
            }
            writer.join().unwrap();
        });
    }

    #[test]
    fn loom_a_reader_following_two_writes() {
        check_streaming(2, 3);
    }

    #[test]
    fn loom_a_reader_following_three_writes_is_lapped_safely() {
        check_streaming(3, 2);
    }

    #[test]
    fn loom_two_one_line_records_against_one_reader() {
        check(2, ONE_LINE);
    }

    #[test]
    fn loom_three_one_line_records_lap_the_reader() {
        check(3, ONE_LINE);
    }

    #[test]
    fn loom_two_streamed_records_against_one_reader() {
        check(2, STREAMED);
    }

    #[test]
    fn loom_three_streamed_records_lap_the_reader() {
        check(3, STREAMED);
    }
}
