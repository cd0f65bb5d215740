//! Moving a record's bytes in and out of shared memory: whole aligned words only, with
//! relaxed atomic accesses, computing the checksum on the way.
//!
//! The memory is written by another process while we read it: a plain `memcpy` would be a
//! data race in Rust's memory model even though the sequence check discards torn copies.
//! The bulk of a copy, whole 32-byte blocks, goes through the region's wide moves where the CPU
//! has them (`sys/wide.rs`: relaxed atomic accesses of four words per instruction), the rest
//! through relaxed 8-byte atomics. Mixing byte and word accesses to the same memory from two
//! threads is undefined even when both are atomic, so a partial last word is staged and stored
//! whole, padded with zeros.

use std::io;

use crate::sync::atomic::{AtomicU64, Ordering};

use crate::checksum::Checksum;
use crate::error::FrameError;
use crate::layout::LINE_WORDS;
use crate::message::{Sink, Source};
use crate::sys::SharedRegion;

/// A one-line record being encoded on the stack.
pub(crate) struct LineSink {
    bytes: [u8; LINE_WORDS * 8],
    len: usize,
}

impl LineSink {
    pub(crate) fn new() -> LineSink {
        LineSink {
            bytes: [0; LINE_WORDS * 8],
            len: 0,
        }
    }

    /// The line as the words to store (native byte order: memory holds the bytes as given).
    pub(crate) fn words(&self) -> [u64; LINE_WORDS] {
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
pub(crate) struct LineSource<'a> {
    pub(crate) line: &'a [u64; LINE_WORDS],
    pub(crate) offset: usize,
    pub(crate) end: usize,
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

#[cfg(not(loom))]
impl SharedSink<'_> {
    /// Reads up to `want` bytes (and no more than the record has room for) from `source` with
    /// `read(2)` straight into shared memory, where [`Sink::put`] would have stored them, and
    /// returns how many it got: fewer only at the end of the input. The kernel's copy is the
    /// only one; each chunk is loaded back once, while it is still in the cache, for the
    /// checksum, and published to following readers as it would have been.
    pub(crate) fn fill_from(&mut self, source: &std::fs::File, want: usize) -> io::Result<usize> {
        use std::io::Read;
        use std::os::fd::AsFd;
        let want = want.min(self.remaining);
        let mut got = 0;
        // Bytes waiting for the rest of their word take the next few bytes, read privately.
        while self.staged > 0 && got < want {
            let take = (8 - self.staged).min(want - got);
            let mut bytes = [0u8; 8];
            let read = retrying(|| (&*source).read(&mut bytes[..take]))?;
            if read == 0 {
                return Ok(got);
            }
            self.put(&bytes[..read]);
            got += read;
        }
        // Now the write position is a word boundary (or the record is full).
        let start = self.offset;
        let mut scratch = vec![0u8; STREAM_CHUNK];
        let mut filled = 0;
        while got + filled < want {
            let take = (want - got - filled).min(STREAM_CHUNK);
            let read = retrying(|| self.region.read_into(start + filled, take, source.as_fd()))?;
            if read == 0 {
                break;
            }
            filled += read;
            // The words the kernel has filled are loaded back for the checksum and published.
            let whole = start + filled / 8 * 8 - self.offset;
            copy_out(
                self.region,
                self.offset,
                &mut scratch[..whole],
                &mut self.checksum,
            )
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            self.offset += whole;
            self.done += whole as u64;
            self.publish_progress();
        }
        // A last partial word goes into the stage, as `put` would have left it.
        let tail = filled % 8;
        if tail > 0 {
            let word = self
                .region
                .words(self.offset, 1)
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            // Relaxed: this writer's own bytes, stored by the kernel before `read` returned.
            let bytes = word[0].load(Ordering::Relaxed).to_ne_bytes();
            self.stage[..tail].copy_from_slice(&bytes[..tail]);
            self.staged = tail;
        }
        got += filled;
        self.remaining -= filled;
        Ok(got)
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

/// `read` again as long as it is interrupted by a signal.
#[cfg(not(loom))]
fn retrying(mut read: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match read() {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
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
    let whole = (words - done) / 4 * 4;
    let block_words = &dst_words[done..done + whole];
    let block_bytes = &src[done * 8..(done + whole) * 8];
    checksum.add_blocks(whole / 4, |lanes| {
        // Relaxed (as atomic word stores, the wide ones too): ordered by the seqlock fences in
        // `Slot::publish`.
        if region.store_blocks(offset + done * 8, block_bytes, lanes) == Some(true) {
            return;
        }
        // A local copy of the lanes, indexed only by constants, stays in registers.
        let mut sum = *lanes;
        for (dst, chunk) in block_words
            .chunks_exact(4)
            .zip(block_bytes.chunks_exact(32))
        {
            let native: [u64; 4] = std::array::from_fn(|i| native_word(&chunk[i * 8..i * 8 + 8]));
            sum.block(native.map(u64::from_le));
            for (dst, word) in dst.iter().zip(native) {
                dst.store(word, Ordering::Relaxed);
            }
        }
        *lanes = sum;
    });
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
    let whole = (words - done) / 4 * 4;
    let block_words = &src_words[done..done + whole];
    let block_bytes = &mut dst[done * 8..(done + whole) * 8];
    checksum.add_blocks(whole / 4, |lanes| {
        // Relaxed (as atomic word loads, the wide ones too): the reader's Acquire fence and
        // sequence re-check decide whether it counts.
        if region.load_blocks(offset + done * 8, block_bytes, lanes) == Some(true) {
            return;
        }
        // A local copy of the lanes, indexed only by constants, stays in registers.
        let mut sum = *lanes;
        for (src, chunk) in block_words
            .chunks_exact(4)
            .zip(block_bytes.chunks_exact_mut(32))
        {
            let native: [u64; 4] = std::array::from_fn(|i| src[i].load(Ordering::Relaxed));
            let mut bytes = [0u8; 32];
            for (i, word) in native.iter().enumerate() {
                bytes[i * 8..i * 8 + 8].copy_from_slice(&word.to_ne_bytes());
            }
            chunk.copy_from_slice(&bytes);
            sum.block(native.map(u64::from_le));
        }
        *lanes = sum;
    });
    for index in done + whole..words {
        // Relaxed: the reader's Acquire fence and sequence re-check decide whether it counts.
        let native = src_words[index].load(Ordering::Relaxed);
        dst[index * 8..index * 8 + 8].copy_from_slice(&native.to_ne_bytes());
        checksum.word(u64::from_le(native));
    }
    Some(())
}

#[cfg(all(test, not(loom)))]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::layout::CONTROL_SIZE;

    /// A real mapping of a file: a control page, then `data` bytes.
    fn region(data: usize) -> SharedRegion {
        let file = tempfile::tempfile().unwrap();
        file.set_len((CONTROL_SIZE + data) as u64).unwrap();
        SharedRegion::map(file, true).unwrap()
    }

    proptest! {
        /// Whatever copies the CPU offers (32-byte moves here, words elsewhere), the bytes land
        /// as given, come back as given, and both checksums are the reference one's.
        #[test]
        fn copies_keep_bytes_and_checksum(
            bytes in proptest::collection::vec(any::<u8>(), 0..3000),
            words_in in 0usize..16,
            cuts in proptest::collection::vec(0usize..3000, 0..6),
            reads in proptest::collection::vec(0usize..3000, 0..6),
        ) {
            let region = region(4096 + 3000);
            let offset = CONTROL_SIZE + 8 * words_in;
            let written = AtomicU64::new(0);
            let mut sink = SharedSink {
                region: &region,
                offset,
                remaining: bytes.len(),
                checksum: Checksum::new(),
                written: &written,
                done: 0,
                stage: [0; 8],
                staged: 0,
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                sink.put(&bytes[from..cut]);
                from = cut;
            }
            sink.finish();
            let reference = Checksum::of(&bytes);
            prop_assert_eq!(sink.checksum.finish(), reference);
            prop_assert_eq!(written.load(Ordering::Relaxed), bytes.len() as u64);

            let mut source = SharedSource {
                region: &region,
                offset,
                remaining: bytes.len(),
                checksum: Checksum::new(),
                word: None,
            };
            let mut reads: Vec<usize> = reads.into_iter().map(|cut| cut.min(bytes.len())).collect();
            reads.sort_unstable();
            let mut back = vec![0u8; bytes.len()];
            let mut from = 0;
            for cut in reads.into_iter().chain([bytes.len()]) {
                source.read_exact(&mut back[from..cut]).unwrap();
                from = cut;
            }
            prop_assert_eq!(&back, &bytes);
            prop_assert_eq!(source.checksum.finish(), reference);
        }
    }

    #[test]
    fn copies_out_of_bounds_are_refused_not_made() {
        let region = region(4096);
        let mut lanes = crate::checksum::Lanes::default();
        let end = CONTROL_SIZE + 4096;
        assert_eq!(region.store_blocks(end - 32, &[1; 64], &mut lanes), None);
        assert_eq!(region.load_blocks(end - 32, &mut [0; 64], &mut lanes), None);
        assert_eq!(
            region.store_blocks(CONTROL_SIZE + 4, &[1; 32], &mut lanes),
            None
        );
        assert_eq!(
            region.load_blocks(usize::MAX - 8, &mut [0; 32], &mut lanes),
            None
        );
    }
}
