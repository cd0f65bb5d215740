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

use crate::sync::atomic::{AtomicU32, Ordering, fence};
use std::time::Duration;

use super::backoff::Backoff;
use super::copy::{LineSink, LineSource, SharedSink, SharedSource};
use super::record::{RecordMeta, monotonic_ns};
use super::sequence::{Newest, RecordNumber, SequenceWord};
use crate::checksum::Checksum;
use crate::error::{FrameError, ReadError};
use crate::layout::{BufferMeta, LINE_WORDS, SlotControl, SlotLayout};
use crate::message::{RecordKind, Sink, Source};
use crate::sys::SharedRegion;

/// How long a reader keeps retrying a record whose sequence words never settle.
const UNSTABLE_AFTER: Duration = Duration::from_secs(1);
/// Retries of a read that spin before they yield.
const READ_SPINS: u32 = 16;

/// One slot of a mapped segment.
pub(crate) struct Slot<'a> {
    pub(crate) region: &'a SharedRegion,
    pub(crate) control: &'a SlotControl,
    pub(crate) layout: SlotLayout,
    pub(crate) kind: RecordKind,
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

    /// The number the writer gives its next record: after `2n`, record `n + 1`; after `2m - 1`
    /// (a writer died writing `m`, or gave the write up), `m` again. It loads the descriptor
    /// lines readers poll, which costs a cross-core transfer when a reader has just read one:
    /// a one-line channel's writer asks once and then counts (`Writer::next_record`).
    pub(crate) fn next_record(&self) -> RecordNumber {
        SequenceWord(self.highest_word()).next_record()
    }

    /// The sequence word of a write in progress (the higher word, if odd), or 0: a hint for
    /// how long to spin; correctness never depends on it.
    pub(crate) fn write_in_progress(&self) -> u64 {
        let newest = self.highest_word();
        if newest % 2 == 1 { newest } else { 0 }
    }

    /// Writes record `number`, of `len` bytes, through `encode` and publishes it. Only the lock
    /// holder calls this, with the number [`Slot::next_record`] gives (or the one after the
    /// record it published last, which is the same); `len` must not exceed the slot's capacity
    /// (the caller checked).
    ///
    /// A record of a one-line slot is encoded, checksummed and timestamped on the stack first,
    /// then stored in one burst: a reader spinning on the descriptor line would otherwise take
    /// the line back between the writer's stores, and each theft costs a cache-line transfer.
    /// `started` is called once a streamed record's length is stored, before its bytes: readers
    /// can follow it from then on.
    ///
    /// `started_ns`, if given, is the record's start time (a record that began elsewhere)
    /// rather than now.
    pub(crate) fn publish(
        &self,
        number: RecordNumber,
        len: usize,
        encode: impl FnOnce(&mut dyn Sink),
        started: impl FnOnce(),
        started_ns: Option<u64>,
    ) -> RecordMeta {
        if !self.layout.is_one_line() {
            let mut write = self.begin_record(number, len);
            started();
            encode(&mut write.sink);
            if let Some(started_ns) = started_ns {
                write.started_ns = started_ns;
            }
            return write.commit();
        }
        let index = number.buffer();
        let meta = &self.control.buffers[index];
        let mut line = LineSink::new();
        encode(&mut line);
        let values = line.words();
        let checksum = Checksum::of_line(&values, len);
        // One reading serves as both times: the burst of stores below takes nanoseconds, and a
        // second clock read would cost more than it measures.
        let now = monotonic_ns();
        begin_write(meta, number);
        // The record's buffer is the descriptor's own inline line (see
        // `Layout::for_channels`), reached without offsets or bounds checks; the words the
        // capacity spans, zeros past the record.
        for (word, value) in meta.inline.words[..self.layout.line_words()]
            .iter()
            .zip(values)
        {
            // Relaxed: ordered by the seqlock fences (`begin_write`, and the Release store of
            // the even word below).
            word.store(value, Ordering::Relaxed);
        }
        // Relaxed: published by the Release store of the even sequence word below.
        meta.len.store(len as u64, Ordering::Relaxed);
        meta.kind.store(self.kind.code(), Ordering::Relaxed);
        complete(
            meta,
            number,
            self.kind,
            len,
            checksum,
            started_ns.unwrap_or(now),
            now,
        )
    }

    /// Marks a write that a writer which died left in progress as given up, for readers
    /// following it (see [`abandon_write`]); called by the writer taking the segment over,
    /// before it writes anything.
    pub(crate) fn abandon_dead_write(&self, generation: &AtomicU32) {
        let word = SequenceWord(self.highest_word());
        if word.is_writing() && !self.layout.is_one_line() {
            abandon_write(&self.control.buffers[word.record().buffer()], generation);
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
        self.newest_stable(|number, before| self.read_stable(number, before, &mut decode))
    }

    /// Tries `attempt` on the newest complete record (its number and its sequence word, loaded
    /// with Acquire) until it succeeds (`Some`); `Ok(None)` if nothing was published. An
    /// attempt gets `None` when the writer moved on meanwhile, and is tried again on the record
    /// newest then: a reader is only disturbed if a whole record is published and the next one
    /// begins during its attempt.
    pub(crate) fn newest_stable<T>(
        &self,
        mut attempt: impl FnMut(RecordNumber, u64) -> Result<Option<T>, ReadError>,
    ) -> Result<Option<T>, ReadError> {
        let mut backoff = Backoff::new(READ_SPINS);
        loop {
            let words = self.sequence_words();
            match Newest::of(words) {
                Newest::Nothing => return Ok(None),
                Newest::Record(number) => {
                    if let Some(done) = attempt(number, words[number.buffer()])? {
                        return Ok(Some(done));
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
            let waited = backoff.waited();
            if waited > UNSTABLE_AFTER {
                return Err(ReadError::Unstable {
                    kind: self.kind,
                    waited_ms: waited.as_millis() as u64,
                });
            }
            backoff.snooze();
        }
    }

    /// Decodes record `number`, whose sequence word was `before` when loaded (with Acquire);
    /// `Ok(None)` if the writer touched the buffer meanwhile.
    fn read_stable(
        &self,
        number: RecordNumber,
        before: u64,
        decode: &mut impl FnMut(&mut dyn Source) -> Result<(), FrameError>,
    ) -> Result<Option<RecordMeta>, ReadError> {
        let index = number.buffer();
        let meta = &self.control.buffers[index];
        // Relaxed: ordered after the Acquire load of `before`, validated by the re-check below.
        let len = meta.len.load(Ordering::Relaxed);
        let stored_checksum = meta.checksum.load(Ordering::Relaxed);
        let started_ns = meta.started_ns.load(Ordering::Relaxed);
        let published_ns = meta.published_ns.load(Ordering::Relaxed);
        let kind_code = meta.kind.load(Ordering::Relaxed);
        let mut line = [0u64; LINE_WORDS];
        let streamed = if self.layout.is_one_line() {
            for (value, word) in line
                .iter_mut()
                .zip(&meta.inline.words[..self.layout.line_words()])
            {
                // Relaxed: the Acquire fence and sequence re-check below decide whether the
                // copy counts.
                *value = word.load(Ordering::Relaxed);
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
            sequence: number.0,
            len: len as usize,
            checksum: computed,
            started_ns,
            published_ns,
        };
        Ok(Some(record))
    }

    /// Where logical buffer `index` of a streamed slot has its record now: loaded Relaxed, so
    /// valid only if the buffer's sequence word is the same before (Acquire) and after.
    pub(crate) fn mapped_offset(&self, index: usize) -> Result<usize, ReadError> {
        let region = self.control.buffers[index].region.load(Ordering::Relaxed);
        self.layout
            .region_offset(region as usize)
            .ok_or(ReadError::BufferMapping {
                kind: self.kind,
                region,
                regions: self.layout.regions,
            })
    }

    /// Checks the untrusted length and kind against the slot.
    pub(crate) fn check_record(&self, len: u64, kind_code: u32) -> Result<usize, ReadError> {
        let capacity = self.layout.capacity;
        // The error is built only when the check fails: built eagerly, it was dropped on every
        // read of a struct (an error value has drop glue), some 30 instructions.
        let Some(checked) = usize::try_from(len).ok().filter(|&len| len <= capacity) else {
            return Err(ReadError::LengthExceedsCapacity {
                kind: self.kind,
                len,
                capacity,
            });
        };
        if kind_code != self.kind.code() {
            return Err(ReadError::WrongKind {
                expected: self.kind,
                found: kind_code,
            });
        }
        Ok(checked)
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
        Ok(Checksum::of_line(line, len))
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
            offset: self.mapped_offset(index)?,
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

impl<'a> Slot<'a> {
    /// Begins writing a `len`-byte record into a streamed slot's next buffer: the record's
    /// bytes then go into [`RecordWrite::sink`], and [`RecordWrite::commit`] publishes it.
    /// Only the lock holder calls this; `len` must not exceed the slot's capacity (the caller
    /// checked). Readers can follow the record from now on.
    pub(crate) fn begin(&self, len: usize) -> RecordWrite<'a> {
        self.begin_record(self.next_record(), len)
    }

    /// [`Slot::begin`] for record `number`, the one [`Slot::next_record`] gives.
    fn begin_record(&self, number: RecordNumber, len: usize) -> RecordWrite<'a> {
        debug_assert!(!self.layout.is_one_line());
        let index = number.buffer();
        let meta = &self.control.buffers[index];
        // Before the odd word: a streaming reader that sees the odd word sees this reset or
        // this record's progress, never the previous record's count.
        meta.written.store(0, Ordering::Relaxed);
        let started_ns = monotonic_ns();
        begin_write(meta, number);
        let offset = self.region_for_write(index);
        // Relaxed: published to streaming readers by the first Release store of `written`
        // (and to the others by the even word).
        meta.len.store(len as u64, Ordering::Relaxed);
        meta.kind.store(self.kind.code(), Ordering::Relaxed);
        RecordWrite {
            sink: SharedSink {
                region: self.region,
                offset,
                remaining: len.min(self.layout.capacity),
                checksum: Checksum::new(),
                written: &meta.written,
                done: 0,
                stage: [0; 8],
                staged: 0,
            },
            meta,
            number,
            kind: self.kind,
            len,
            started_ns,
        }
    }
}

/// Stores a written record's metadata and its even sequence word: the record is published.
fn complete(
    meta: &BufferMeta,
    number: RecordNumber,
    kind: RecordKind,
    len: usize,
    checksum: u64,
    started_ns: u64,
    published_ns: u64,
) -> RecordMeta {
    // Relaxed: published by the Release store of the even sequence word below.
    meta.checksum.store(checksum, Ordering::Relaxed);
    meta.started_ns.store(started_ns, Ordering::Relaxed);
    meta.published_ns.store(published_ns, Ordering::Relaxed);
    // Release: a reader whose Acquire load sees `2n` sees all the data and metadata above.
    meta.seq.store(number.complete().0, Ordering::Release);
    RecordMeta {
        kind,
        sequence: number.0,
        len,
        checksum,
        started_ns,
        published_ns,
    }
}

/// The count a writer stores in `written` when it abandons a write: a reader following the
/// write stops at once instead of waiting for a writer that will not go on.
pub(crate) const ABANDONED: u64 = u64::MAX;

/// A streamed record being written ([`Slot::begin`]): its bytes go into `sink`.
pub(crate) struct RecordWrite<'a> {
    pub(crate) sink: SharedSink<'a>,
    meta: &'a BufferMeta,
    number: RecordNumber,
    kind: RecordKind,
    len: usize,
    started_ns: u64,
}

impl RecordWrite<'_> {
    /// The checksum the record carries if it is published with the bytes stored so far.
    pub(crate) fn checksum_now(&self) -> u64 {
        let mut checksum = self.sink.checksum;
        checksum.update(&self.sink.stage[..self.sink.staged]);
        checksum.finish()
    }

    /// Stores the last bytes, the checksum and the even sequence word: the record is published.
    pub(crate) fn commit(mut self) -> RecordMeta {
        self.sink.finish();
        let checksum = self.sink.checksum.finish();
        complete(
            self.meta,
            self.number,
            self.kind,
            self.len,
            checksum,
            self.started_ns,
            monotonic_ns(),
        )
    }

    /// Gives the write up: the buffer's word stays odd, as a writer that died mid-write leaves
    /// it, so the newest complete record stays the newest and the next write takes the same
    /// number and buffer (see [`abandon_write`]).
    pub(crate) fn abandon(self, generation: &AtomicU32) {
        abandon_write(self.meta, generation);
    }
}

/// Marks the write in progress in `meta`'s buffer as given up, for readers following it: its
/// count becomes [`ABANDONED`], then the writer generation is bumped. The next write into the
/// buffer (the same record again) comes after both.
///
/// A following reader loads the generation (Acquire) before anything else and compares it
/// again after every count and word it loads (Acquire). One that started before the bump sees
/// it once it sees any store of the next write, and starts again. One that started after it
/// loaded the bump, which happens after the `ABANDONED` store, so it can no longer load a count
/// of the given-up write: it loads `ABANDONED` and gives up, or the next write's counts. Either
/// way no copy joins the bytes of two writes. (Bumping first, or the reader loading the
/// generation Relaxed, lets loom find a copy whose first bytes come from the given-up write.)
pub(crate) fn abandon_write(meta: &BufferMeta, generation: &AtomicU32) {
    // Release: a following reader that loads it with Acquire stops.
    meta.written.store(ABANDONED, Ordering::Release);
    // Release: a reader whose Acquire load sees the bump also sees `ABANDONED` (or later).
    generation.fetch_add(1, Ordering::Release);
}

/// Marks record `number` as being written in `meta`'s buffer.
fn begin_write(meta: &BufferMeta, number: RecordNumber) {
    // Release store of the odd value: a reader that sees it also sees the stores before it and
    // the other buffer's word at `2(sequence - 1)` (so it can tell a busy writer from a corrupt
    // segment). Then a Release fence: no store after it can become visible before the odd
    // sequence word (the seqlock writer's fence).
    meta.seq.store(number.writing().0, Ordering::Release);
    fence(Ordering::Release);
}

#[cfg(all(test, loom))]
mod loom_model {
    use std::sync::Arc;

    use super::*;
    use crate::layout::{CONTROL_SIZE, STREAMED_REGIONS};
    use crate::message::{RecordKind, Sink, Source};

    const LEN: usize = 16;
    /// A one-line slot: records staged on the stack and moved in a burst.
    const ONE_LINE: usize = LEN;
    /// A larger slot: records streamed in and out of the segment.
    const STREAMED: usize = 72;

    fn slot(region: &SharedRegion, capacity: usize) -> Slot<'_> {
        let regions = if capacity == ONE_LINE {
            2
        } else {
            STREAMED_REGIONS
        };
        Slot {
            region,
            control: &region.control().slots[0],
            layout: SlotLayout {
                offset: CONTROL_SIZE,
                stride: capacity,
                capacity,
                regions,
            },
            kind: RecordKind::Struct,
        }
    }

    /// A region for one slot of `capacity`, its logical buffers in physical buffers 0 and 1
    /// as a new segment's are.
    fn region_for(capacity: usize) -> Arc<SharedRegion> {
        let region = SharedRegion::with_data_words(STREAMED_REGIONS * capacity / 8);
        region.control().slots[0].buffers[1]
            .region
            .store(1, Ordering::Relaxed);
        Arc::new(region)
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
                let number = slot.next_record();
                slot.publish(
                    number,
                    len,
                    |sink| sink.put(&vec![record; len]),
                    || (),
                    None,
                );
            }
        })
    }

    fn check(records: u8, capacity: usize) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(move || {
            let region = region_for(capacity);
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
            let region = region_for(STREAMED);
            let writer = spawn_writer(&region, STREAMED, records, WORD);
            let slot = slot(&region, STREAMED);
            let mut after = 0;
            while after < u64::from(records) {
                let mut bytes = [0u8; WORD];
                let meta =
                    match slot.stream(after, 0, crate::protocol::follow::STALL_AFTER, |source| {
                        source.read_exact(&mut bytes)
                    }) {
                        Ok(crate::protocol::follow::Streamed::Read(meta)) => Some(meta),
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

    /// A writer that stores one chunk of a record, gives the write up, then writes the record
    /// again with other bytes: a following reader never accepts bytes of both attempts (with
    /// no generation bump on giving up, loom finds it joining them).
    #[test]
    fn loom_a_reader_following_an_abandoned_write() {
        const LEN: usize = 16;
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let region = region_for(STREAMED);
            let writer = {
                let region = Arc::clone(&region);
                loom::thread::spawn(move || {
                    let slot = slot(&region, STREAMED);
                    let mut write = slot.begin(LEN);
                    write.sink.put(&[9; 8]);
                    write.abandon(&region.control().writer.generation);
                    let number = slot.next_record();
                    slot.publish(number, LEN, |sink| sink.put(&[1; LEN]), || (), None);
                })
            };
            let slot = slot(&region, STREAMED);
            let mut stalled = 0;
            loop {
                let mut bytes = [0u8; LEN];
                let streamed =
                    slot.stream(0, stalled, crate::protocol::follow::STALL_AFTER, |source| {
                        source.read_exact(&mut bytes)
                    });
                let meta = match streamed {
                    Ok(crate::protocol::follow::Streamed::Read(meta)) => Some(meta),
                    Ok(crate::protocol::follow::Streamed::Stalled(word)) => {
                        stalled = word;
                        None
                    }
                    Ok(_) => slot.read(|source| source.read_exact(&mut bytes)).unwrap(),
                    Err(err) => panic!("a legitimate interleaving failed: {err}"),
                };
                if let Some(meta) = meta {
                    assert_eq!(
                        (meta.sequence, bytes),
                        (1, [1; LEN]),
                        "bytes of two attempts"
                    );
                    break;
                }
                loom::thread::yield_now();
            }
            writer.join().unwrap();
        });
    }

    /// A reader holding records in place while the writer publishes three: the bytes of a
    /// held record never change while it is held (loom finds the writer overwriting one when
    /// either side's SeqCst fence, or the writer's move to a free buffer, is removed).
    #[test]
    fn loom_a_held_record_is_never_written() {
        const RECORDS: u8 = 3;
        const WORD: usize = 8;
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let region = region_for(STREAMED);
            let writer = spawn_writer(&region, STREAMED, RECORDS, WORD);
            let slot = slot(&region, STREAMED);
            loop {
                let Some(held) = slot.hold_newest().unwrap() else {
                    loom::thread::yield_now();
                    continue;
                };
                let word = || region.words(held.offset, 1).unwrap()[0].load(Ordering::Relaxed);
                let record = u8::try_from(held.meta.sequence).unwrap();
                let expected = u64::from_ne_bytes([record; WORD]);
                assert_eq!(word(), expected, "a held record is not the record");
                loom::thread::yield_now();
                assert_eq!(word(), expected, "the writer wrote into a held record");
                slot.release_hold();
                if record == RECORDS {
                    break;
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
