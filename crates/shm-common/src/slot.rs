//! The publish/read protocol of one slot: a double-buffered seqlock.
//!
//! Record `n` (counting from 1) is written into buffer `n % 2`, whose sequence word goes
//! `2n - 1` (writing) then `2n` (complete); only then does the slot's `published` count become
//! `n`. A reader loads `published`, copies buffer `n % 2` if its sequence word is exactly `2n`,
//! and keeps the copy only if the word is still `2n` afterwards. Because the writer always
//! fills the *other* buffer, a reader is disturbed only if the writer completes a whole record
//! and starts the next one during the reader's copy; a continuously rewriting writer therefore
//! cannot starve readers, and a writer that dies mid-write leaves the previous record intact.
//!
//! Bytes are moved with relaxed atomic loads and stores (8 bytes at a time where aligned):
//! the memory is written by another process while we read it, and a plain `memcpy` would be a
//! data race in Rust's memory model even though the sequence check discards torn copies. The
//! checksum is computed in the same pass.

use crate::sync::atomic::{AtomicU8, AtomicU64, Ordering, fence};
use crate::sync::{hint, thread};
use std::time::{Duration, Instant};

use crate::checksum::Checksum;
use crate::error::{FrameError, ReadError};
use crate::layout::{SlotControl, SlotLayout};
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
    /// Writer's monotonic clock at publish time, in nanoseconds.
    pub timestamp_ns: u64,
}

impl RecordMeta {
    /// Time from the writer's publish until now (both on the machine's monotonic clock).
    pub fn age(&self) -> Duration {
        Duration::from_nanos(monotonic_ns().saturating_sub(self.timestamp_ns))
    }
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

impl Slot<'_> {
    /// Records published so far.
    pub(crate) fn published(&self) -> u64 {
        // Acquire: a reader that then reads record `n` sees the writer's stores before it.
        self.control.published.load(Ordering::Acquire)
    }

    /// Writes a `len`-byte record through `encode` and publishes it. Only the lock holder calls
    /// this; `len` must not exceed the slot's capacity (the caller checked).
    pub(crate) fn publish(
        &self,
        len: usize,
        encode: impl FnOnce(&mut SharedSink<'_>),
    ) -> RecordMeta {
        // Relaxed: only the lock holder stores `published`, and the lock's Acquire ordered the
        // previous holder's stores before ours.
        let sequence = self
            .control
            .published
            .load(Ordering::Relaxed)
            .wrapping_add(1)
            .max(1);
        let index = (sequence & 1) as usize;
        let meta = &self.control.buffers[index];
        // Release store of the odd value: a reader that sees it also sees `published` at
        // `sequence - 1` or later (so it can tell a busy writer from a corrupt segment). Then a
        // Release fence: no data store below can become visible before the odd sequence word
        // (the seqlock writer's fence).
        meta.seq
            .store(sequence.wrapping_mul(2).wrapping_sub(1), Ordering::Release);
        fence(Ordering::Release);

        let mut sink = SharedSink {
            region: self.region,
            offset: self.layout.buffer_offset(index),
            remaining: len.min(self.layout.capacity),
            checksum: Checksum::new(),
        };
        encode(&mut sink);
        let checksum = sink.checksum.finish();
        let timestamp_ns = monotonic_ns();
        // Relaxed: published by the Release store of the even sequence word below.
        meta.len.store(len as u64, Ordering::Relaxed);
        meta.checksum.store(checksum, Ordering::Relaxed);
        meta.timestamp_ns.store(timestamp_ns, Ordering::Relaxed);
        meta.kind.store(self.kind.code(), Ordering::Relaxed);
        // Release: a reader whose Acquire load sees `2n` sees all the data and metadata above.
        meta.seq.store(sequence.wrapping_mul(2), Ordering::Release);
        // Release: a reader that sees `published == n` also sees buffer `n % 2` complete.
        self.control.published.store(sequence, Ordering::Release);
        RecordMeta {
            kind: self.kind,
            sequence,
            len,
            checksum,
            timestamp_ns,
        }
    }

    /// Reads the latest complete record through `decode`; `Ok(None)` if none was published.
    ///
    /// `decode` may see torn bytes; its result is only kept if the sequence word did not move,
    /// so a framing error it reports is only returned for a stable record.
    pub(crate) fn read<T>(
        &self,
        mut decode: impl FnMut(&mut SharedSource<'_>) -> Result<T, FrameError>,
    ) -> Result<Option<(T, RecordMeta)>, ReadError> {
        let mut started: Option<Instant> = None;
        for attempt in 0u32.. {
            let sequence = self.published();
            if sequence == 0 {
                return Ok(None);
            }
            let index = (sequence & 1) as usize;
            let meta = &self.control.buffers[index];
            // Acquire: the metadata and data loads below cannot move before this load.
            let before = meta.seq.load(Ordering::Acquire);
            if before == sequence.wrapping_mul(2) {
                // Relaxed: validated by the sequence re-check below.
                let len = meta.len.load(Ordering::Relaxed);
                let stored_checksum = meta.checksum.load(Ordering::Relaxed);
                let timestamp_ns = meta.timestamp_ns.load(Ordering::Relaxed);
                let kind_code = meta.kind.load(Ordering::Relaxed);
                let outcome = self.copy_record(index, len, kind_code, &mut decode);
                // Acquire fence: every load above happens before the re-check, so if the writer
                // touched this buffer meanwhile, the re-check sees a newer sequence word.
                fence(Ordering::Acquire);
                // Acquire: if this sees a newer odd word, the reload of `published` below sees
                // the record the writer published before starting it.
                let after = meta.seq.load(Ordering::Acquire);
                if after == before {
                    let (value, computed) = outcome?;
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
                        timestamp_ns,
                    };
                    return Ok(Some((value, record)));
                }
            }
            // A writer only touches buffer `n % 2` after publishing `n + 1`. If `published` is
            // still `n`, the sequence words contradict each other: the segment is corrupt.
            if self.published() == sequence {
                return Err(ReadError::Inconsistent { kind: self.kind });
            }
            backoff(attempt, &mut started, self.kind)?;
        }
        Err(ReadError::Unstable {
            kind: self.kind,
            waited_ms: UNSTABLE_AFTER.as_millis() as u64,
        })
    }

    /// Checks the untrusted length and kind, then decodes the buffer's bytes.
    fn copy_record<T>(
        &self,
        index: usize,
        len: u64,
        kind_code: u32,
        decode: &mut impl FnMut(&mut SharedSource<'_>) -> Result<T, FrameError>,
    ) -> Result<(T, u64), ReadError> {
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
        let mut source = SharedSource {
            region: self.region,
            offset: self.layout.buffer_offset(index),
            remaining: len,
            checksum: Checksum::new(),
        };
        let value = decode(&mut source).map_err(|source| ReadError::Malformed {
            kind: self.kind,
            source,
        })?;
        Ok((value, source.checksum.finish()))
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
pub(crate) struct SharedSink<'a> {
    region: &'a SharedRegion,
    offset: usize,
    remaining: usize,
    checksum: Checksum,
}

impl Sink for SharedSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // The caller checked the record's length against the capacity; anything beyond it is
        // dropped here (and then fails the reader's framing check) rather than overrun.
        let bytes = &bytes[..bytes.len().min(self.remaining)];
        copy_in(self.region, self.offset, bytes, &mut self.checksum);
        self.offset += bytes.len();
        self.remaining -= bytes.len();
    }
}

/// Reads a record's bytes out of a buffer with atomic loads, computing its checksum.
pub(crate) struct SharedSource<'a> {
    region: &'a SharedRegion,
    offset: usize,
    remaining: usize,
    checksum: Checksum,
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
        copy_out(self.region, self.offset, dst, &mut self.checksum).ok_or(truncated)?;
        self.offset += dst.len();
        self.remaining -= dst.len();
        Ok(())
    }
}

/// Splits `len` bytes at `offset` into an unaligned head, whole 8-byte words and a tail.
fn split_aligned(offset: usize, len: usize) -> (usize, usize, usize) {
    let head = ((8 - offset % 8) % 8).min(len);
    let words = (len - head) / 8;
    (head, words, len - head - words * 8)
}

/// Copies `src` into the region at `offset` (relaxed atomic stores), feeding `checksum`.
fn copy_in(
    region: &SharedRegion,
    offset: usize,
    src: &[u8],
    checksum: &mut Checksum,
) -> Option<()> {
    let (head, words, _) = split_aligned(offset, src.len());
    let (src_head, rest) = src.split_at(head);
    let (src_words, src_tail) = rest.split_at(words * 8);
    store_bytes(region.bytes(offset, head)?, src_head, checksum);
    let dst_words = region.words(offset + head, words)?;
    let mut pairs = dst_words.iter().zip(src_words.chunks_exact(8));
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
        .zip(src_words[done * 8..].chunks_exact(32));
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
        .zip(src_words[(done + whole) * 8..].chunks_exact(8))
    {
        let native = native_word(chunk);
        checksum.word(u64::from_le(native));
        // Relaxed: ordered by the seqlock fences in `Slot::publish`.
        dst.store(native, Ordering::Relaxed);
    }
    let tail_offset = offset + head + words * 8;
    store_bytes(
        region.bytes(tail_offset, src_tail.len())?,
        src_tail,
        checksum,
    );
    Some(())
}

fn native_word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_ne_bytes(bytes)
}

fn store_bytes(dst: &[AtomicU8], src: &[u8], checksum: &mut Checksum) {
    for (dst, &byte) in dst.iter().zip(src) {
        checksum.byte(byte);
        // Relaxed: ordered by the seqlock fences in `Slot::publish`.
        dst.store(byte, Ordering::Relaxed);
    }
}

/// Copies from the region at `offset` into `dst` (relaxed atomic loads), feeding `checksum`.
fn copy_out(
    region: &SharedRegion,
    offset: usize,
    dst: &mut [u8],
    checksum: &mut Checksum,
) -> Option<()> {
    let (head, words, _) = split_aligned(offset, dst.len());
    let (dst_head, rest) = dst.split_at_mut(head);
    let (dst_words, dst_tail) = rest.split_at_mut(words * 8);
    load_bytes(region.bytes(offset, head)?, dst_head, checksum);
    let src_words: &[AtomicU64] = region.words(offset + head, words)?;
    let mut done = 0;
    while done < words && !checksum.at_block_boundary() {
        // Relaxed: the reader's Acquire fence and sequence re-check decide whether it counts.
        let native = src_words[done].load(Ordering::Relaxed);
        dst_words[done * 8..done * 8 + 8].copy_from_slice(&native.to_ne_bytes());
        checksum.word(u64::from_le(native));
        done += 1;
    }
    let blocks = src_words[done..]
        .chunks_exact(4)
        .zip(dst_words[done * 8..].chunks_exact_mut(32));
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
        dst_words[index * 8..index * 8 + 8].copy_from_slice(&native.to_ne_bytes());
        checksum.word(u64::from_le(native));
    }
    let tail_offset = offset + head + words * 8;
    load_bytes(
        region.bytes(tail_offset, dst_tail.len())?,
        dst_tail,
        checksum,
    );
    Some(())
}

fn load_bytes(src: &[AtomicU8], dst: &mut [u8], checksum: &mut Checksum) {
    for (src, byte) in src.iter().zip(dst) {
        // Relaxed: the reader's Acquire fence and sequence re-check decide whether it counts.
        *byte = src.load(Ordering::Relaxed);
        checksum.byte(*byte);
    }
}

/// Loom explores every interleaving (up to three preemptions) of the real `Slot::publish` and
/// `Slot::read`, and every value the C11 memory model lets each relaxed or acquire load see,
/// with records that are two words of one repeated byte: a torn record shows at once.
/// Run: `RUSTFLAGS="--cfg loom" cargo test -p shm-common --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use std::sync::Arc;

    use super::*;
    use crate::layout::DATA_OFFSET;
    use crate::message::{RecordKind, Sink, Source};

    const LEN: usize = 16;

    fn slot(region: &SharedRegion) -> Slot<'_> {
        Slot {
            region,
            control: &region.control().slots[RecordKind::Struct.slot()],
            layout: SlotLayout {
                offset: DATA_OFFSET,
                stride: LEN,
                capacity: LEN,
            },
            kind: RecordKind::Struct,
        }
    }

    fn check(records: u8) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(move || {
            let region = Arc::new(SharedRegion::with_data_words(2 * LEN / 8));
            let writer_region = Arc::clone(&region);
            let writer = loom::thread::spawn(move || {
                let slot = slot(&writer_region);
                for record in 1..=records {
                    slot.publish(LEN, |sink| sink.put(&[record; LEN]));
                }
            });
            let slot = slot(&region);
            // Read until a record arrives, then once more: both reads race with the writer.
            let mut accepted = 0;
            while accepted < 2 {
                match slot.read(|source| {
                    let mut bytes = [0u8; LEN];
                    source.read_exact(&mut bytes)?;
                    Ok(bytes)
                }) {
                    Ok(Some((bytes, meta))) => {
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
            let (bytes, meta) = slot
                .read(|source| {
                    let mut bytes = [0u8; LEN];
                    source.read_exact(&mut bytes)?;
                    Ok(bytes)
                })
                .unwrap()
                .unwrap();
            assert_eq!((bytes, meta.sequence), ([records; LEN], u64::from(records)));
        });
    }

    #[test]
    fn loom_two_records_against_one_reader() {
        check(2);
    }

    #[test]
    fn loom_three_records_lap_the_reader() {
        check(3);
    }
}
