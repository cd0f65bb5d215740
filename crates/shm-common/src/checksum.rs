//! The payload checksum: Fletcher-style pairs of 64-bit sums over little-endian words, in four
//! interleaved lanes (word `i` goes to lane `i % 4`), finished with a strong mix.
//!
//! It exists to catch a writer that bypasses the publish protocol (or memory scribbled on by
//! another program), not an adversary. It is computed while copying, in the same pass over the
//! bytes, so it costs almost nothing on top of the copy: two additions per 8-byte word, in four
//! independent dependency chains the CPU runs in parallel (with vector registers, four words
//! per addition, and four blocks of them per step of each chain: `sys/wide.rs`).
//! The result depends only on the byte sequence, never on how it was split into calls.
//! Records of at most one cache line (a struct) use [`Checksum::of_line`] instead, a shorter
//! computation over the line's words.

/// Streaming checksum state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checksum {
    lanes: Lanes,
    words: u64,
    pending: u64,
    pending_len: u32,
    total: u64,
}

/// The four lanes' running sums: word `i` of a block of four goes to lane `i`. Wide copies
/// keep them in vector registers (`sums` in one, `sums_of_sums` in another), adding a block per
/// 32-byte load.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Lanes {
    pub(crate) sums: [u64; 4],
    pub(crate) sums_of_sums: [u64; 4],
}

impl Lanes {
    /// Adds the words of one block, lane by lane.
    #[inline(always)]
    pub(crate) fn block(&mut self, words: [u64; 4]) {
        for (lane, word) in words.into_iter().enumerate() {
            self.sums[lane] = self.sums[lane].wrapping_add(word);
            self.sums_of_sums[lane] = self.sums_of_sums[lane].wrapping_add(self.sums[lane]);
        }
    }
}

impl Checksum {
    /// A fresh checksum over nothing.
    pub fn new() -> Checksum {
        Checksum::default()
    }

    /// The checksum of `bytes` in one call: [`Checksum::update`] then [`Checksum::finish`].
    #[inline]
    pub fn of(bytes: &[u8]) -> u64 {
        let mut sum = Checksum::new();
        sum.update(bytes);
        sum.finish()
    }

    /// Adds bytes.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while self.pending_len != 0 && !rest.is_empty() {
            self.byte(rest[0]);
            rest = &rest[1..];
        }
        while !self.at_block_boundary() && rest.len() >= 8 {
            self.word(le_word(&rest[..8]));
            rest = &rest[8..];
        }
        let whole = rest.len() / 32 * 32;
        let (blocks, remainder) = rest.split_at(whole);
        if crate::sys::sum_blocks(blocks, &mut self.lanes) {
            self.words += whole as u64 / 8;
            self.total += whole as u64;
        } else {
            // A local copy of the state, indexed only by constants, stays in registers.
            let mut sum = *self;
            for block in blocks.chunks_exact(32) {
                sum.block(std::array::from_fn(|i| le_word(&block[i * 8..i * 8 + 8])));
            }
            *self = sum;
        }
        let mut words = remainder.chunks_exact(8);
        for word in &mut words {
            self.word(le_word(word));
        }
        for &byte in words.remainder() {
            self.byte(byte);
        }
    }

    /// Adds one byte.
    #[inline]
    pub fn byte(&mut self, byte: u8) {
        self.pending |= u64::from(byte) << (8 * self.pending_len);
        self.pending_len += 1;
        self.total += 1;
        if self.pending_len == 8 {
            self.mix_word(self.pending);
            self.pending = 0;
            self.pending_len = 0;
        }
    }

    /// Adds eight bytes given as a little-endian word.
    #[inline]
    pub fn word(&mut self, word: u64) {
        if self.pending_len == 0 {
            self.total += 8;
            self.mix_word(word);
        } else {
            for byte in word.to_le_bytes() {
                self.byte(byte);
            }
        }
    }

    /// Whether the next bytes start a new group of four words, so [`Checksum::block`] applies.
    #[inline]
    pub fn at_block_boundary(&self) -> bool {
        self.pending_len == 0 && self.words.is_multiple_of(4)
    }

    /// Adds 32 bytes given as four little-endian words; only at a block boundary.
    #[inline(always)]
    pub fn block(&mut self, words: [u64; 4]) {
        debug_assert!(self.at_block_boundary());
        self.lanes.block(words);
        self.words += 4;
        self.total += 32;
    }

    /// Adds `count` blocks of 32 bytes through `add`, which adds each to the lanes (as
    /// [`Lanes::block`] does); only at a block boundary (unless `count` is 0).
    #[inline]
    pub(crate) fn add_blocks<T>(&mut self, count: usize, add: impl FnOnce(&mut Lanes) -> T) -> T {
        debug_assert!(count == 0 || self.at_block_boundary());
        let added = add(&mut self.lanes);
        self.words += 4 * count as u64;
        self.total += 32 * count as u64;
        added
    }

    #[inline]
    fn mix_word(&mut self, word: u64) {
        let lane = (self.words % 4) as usize;
        self.lanes.sums[lane] = self.lanes.sums[lane].wrapping_add(word);
        self.lanes.sums_of_sums[lane] =
            self.lanes.sums_of_sums[lane].wrapping_add(self.lanes.sums[lane]);
        self.words += 1;
    }

    /// The checksum of every byte added so far.
    ///
    /// Each lane's two sums are folded by one wide multiplication, and the four lanes run in
    /// parallel: a serial chain of mixing took a third of a 48-byte round trip. A change
    /// confined to one lane, such as any single changed byte, changes that lane's product and
    /// so the result, barring a 2^-64 coincidence.
    #[inline]
    pub fn finish(mut self) -> u64 {
        const LANE_KEYS: [[u64; 2]; 4] = [
            [0x9e37_79b9_7f4a_7c15, 0xbf58_476d_1ce4_e5b9],
            [0x94d0_49bb_1331_11eb, 0xd6e8_feb8_6659_fd93],
            [0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db],
            [0x8ebc_6af0_9c88_c6e3, 0x5899_65cc_7537_4cc3],
        ];
        if self.pending_len != 0 {
            self.mix_word(self.pending);
        }
        let mut hash = self.total;
        for (lane, [sum_key, sum_of_sums_key]) in LANE_KEYS.into_iter().enumerate() {
            hash ^= fold_multiply(
                self.lanes.sums[lane] ^ sum_key,
                self.lanes.sums_of_sums[lane] ^ sum_of_sums_key,
            );
        }
        fmix(hash)
    }
}

impl Checksum {
    /// The checksum of a record that fits one cache line: the first `len` (at most 64) bytes
    /// of `words` as they lie in memory, the bytes past `len` ignored.
    ///
    /// Cheaper than the streaming checksum, which a 48-byte round trip spent a third of its
    /// instructions on: the words go into two lanes (even and odd), each a chain of steps
    /// `lane = ((lane ^ word) * K).rotate_left(31)` that is one-to-one in the word and in the
    /// lane, so any change confined to one word always changes the result; the length is
    /// mixed in, so trailing zeros count. Records of a one-line channel carry this checksum,
    /// all others the streaming one: writer and reader always agree on which.
    #[inline]
    pub fn of_line(words: &[u64; LINE_WORDS], len: usize) -> u64 {
        const STEP: u64 = 0xff51_afd7_ed55_8ccd;
        let step = |lane: u64, word: u64| ((lane ^ word).wrapping_mul(STEP)).rotate_left(31);
        let len = len.min(LINE_WORDS * 8);
        let mut lanes = [0x9e37_79b9_7f4a_7c15 ^ len as u64, 0xbf58_476d_1ce4_e5b9];
        let whole = len / 8;
        let mut pairs = words[..whole].chunks_exact(2);
        for pair in &mut pairs {
            lanes[0] = step(lanes[0], u64::from_le(pair[0]));
            lanes[1] = step(lanes[1], u64::from_le(pair[1]));
        }
        if let [word] = pairs.remainder() {
            lanes[0] = step(lanes[0], u64::from_le(*word));
        }
        // The bytes of a last, partial word; those past `len` are not the record's.
        let partial = len % 8;
        if partial != 0
            && let Some(&word) = words.get(whole)
        {
            let lane = whole & 1;
            lanes[lane] = step(
                lanes[lane],
                u64::from_le(word) & ((1u64 << (8 * partial)) - 1),
            );
        }
        fmix(lanes[0].wrapping_add(lanes[1].rotate_left(17)) ^ (len as u64).wrapping_mul(STEP))
    }

    /// The checksum a record of `bytes` carries in a channel of `capacity` bytes
    /// ([`RecordMeta::checksum`](crate::RecordMeta::checksum)): [`Checksum::of_line`] of its
    /// zero-padded line where the channel's records fit in one cache line, [`Checksum::of`]
    /// elsewhere. For programs that check records carried outside a segment (a bridge).
    pub fn of_record(bytes: &[u8], capacity: usize) -> u64 {
        if capacity == 0 || capacity > LINE_WORDS * 8 {
            return Checksum::of(bytes);
        }
        let mut line = [0u8; LINE_WORDS * 8];
        let len = bytes.len().min(line.len());
        line[..len].copy_from_slice(&bytes[..len]);
        let words = std::array::from_fn(|i| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&line[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(word)
        });
        Checksum::of_line(&words, bytes.len())
    }
}

/// Words in a cache line.
const LINE_WORDS: usize = crate::layout::LINE_WORDS;

/// Eight bytes as a little-endian word.
#[inline]
fn le_word(bytes: &[u8]) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(bytes);
    u64::from_le_bytes(le)
}

/// The 128-bit product of `a` and `b`, its halves xored: a change to either factor changes the
/// product (while the other is non-zero).
#[inline]
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn split_points_do_not_change_the_checksum(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut checksum = Checksum::new();
            let mut start = 0;
            for cut in cuts {
                checksum.update(&bytes[start..cut]);
                start = cut;
            }
            checksum.update(&bytes[start..]);
            prop_assert_eq!(checksum.finish(), Checksum::of(&bytes));
            let mut bytewise = Checksum::new();
            for &byte in &bytes {
                bytewise.byte(byte);
            }
            prop_assert_eq!(bytewise.finish(), Checksum::of(&bytes));
        }

        #[test]
        fn any_single_byte_change_is_detected(
            bytes in proptest::collection::vec(any::<u8>(), 1..200),
            index in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut changed = bytes.clone();
            let at = index.index(bytes.len());
            changed[at] ^= flip;
            prop_assert_ne!(Checksum::of(&bytes), Checksum::of(&changed));
        }
    }

    proptest! {
        #[test]
        fn a_line_checksum_sees_every_byte_within_the_length_and_none_past_it(
            bytes in proptest::collection::vec(any::<u8>(), 0..=64),
            index in any::<prop::sample::Index>(),
            flip in 1u8..=255,
            past in any::<u64>(),
        ) {
            let words = |bytes: &[u8], fill: u64| -> [u64; 8] {
                let mut words = [fill; 8];
                bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()]
                    .copy_from_slice(bytes);
                words
            };
            let len = bytes.len();
            let sum = Checksum::of_line(&words(&bytes, 0), len);
            prop_assert_eq!(sum, Checksum::of_line(&words(&bytes, past), len));
            if len > 0 {
                let mut changed = bytes.clone();
                changed[index.index(len)] ^= flip;
                prop_assert_ne!(sum, Checksum::of_line(&words(&changed, 0), len));
            }
            if len < 64 {
                prop_assert_ne!(sum, Checksum::of_line(&words(&bytes, 0), len + 1));
            }
        }
    }

    proptest! {
        /// The vector additions (four blocks at a time where the CPU has them) give the
        /// one-word-at-a-time definition's result, over lengths that cover every path.
        #[test]
        fn block_additions_match_the_word_by_word_definition(
            bytes in proptest::collection::vec(any::<u8>(), 0..1500),
            skip in 0usize..40,
        ) {
            let bytes = &bytes[skip.min(bytes.len())..];
            let mut bytewise = Checksum::new();
            for &byte in bytes {
                bytewise.byte(byte);
            }
            prop_assert_eq!(Checksum::of(bytes), bytewise.finish());
        }
    }

    /// Records checksummed by one version are read by another: the value is pinned.
    #[test]
    fn the_checksum_of_known_bytes_never_changes() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        assert_eq!(Checksum::of(&bytes), 16131347257522524018);
        assert_eq!(Checksum::of(&bytes[3..]), 17562722696510179625);
    }

    #[test]
    fn swapped_words_trailing_zeros_and_length_are_detected() {
        let a: Vec<u8> = (0..16).collect();
        let mut swapped = a[8..].to_vec();
        swapped.extend_from_slice(&a[..8]);
        assert_ne!(Checksum::of(&a), Checksum::of(&swapped));
        assert_ne!(Checksum::of(&[1, 2, 3]), Checksum::of(&[1, 2, 3, 0]));
        assert_ne!(Checksum::of(&[]), Checksum::of(&[0]));
    }
}
