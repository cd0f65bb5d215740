//! The payload checksum: Fletcher-style pairs of 64-bit sums over little-endian words, in four
//! interleaved lanes (word `i` goes to lane `i % 4`), finished with a strong mix.
//!
//! It exists to catch a writer that bypasses the publish protocol (or memory scribbled on by
//! another program), not an adversary. It is computed while copying, in the same pass over the
//! bytes, so it costs almost nothing on top of the copy: two additions per 8-byte word, in four
//! independent dependency chains the CPU runs in parallel.
//! The result depends only on the byte sequence, never on how it was split into calls.

/// Streaming checksum state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checksum {
    sums: [u64; 4],
    sums_of_sums: [u64; 4],
    words: u64,
    pending: u64,
    pending_len: u32,
    total: u64,
}

impl Checksum {
    /// A fresh checksum over nothing.
    pub fn new() -> Checksum {
        Checksum::default()
    }

    /// The checksum of `bytes` in one call.
    pub fn of(bytes: &[u8]) -> u64 {
        let mut checksum = Checksum::new();
        checksum.update(bytes);
        checksum.finish()
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while self.pending_len != 0 && !rest.is_empty() {
            self.byte(rest[0]);
            rest = &rest[1..];
        }
        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            self.word(u64::from_le_bytes(le));
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
        for (lane, word) in words.into_iter().enumerate() {
            self.sums[lane] = self.sums[lane].wrapping_add(word);
            self.sums_of_sums[lane] = self.sums_of_sums[lane].wrapping_add(self.sums[lane]);
        }
        self.words += 4;
        self.total += 32;
    }

    #[inline]
    fn mix_word(&mut self, word: u64) {
        let lane = (self.words % 4) as usize;
        self.sums[lane] = self.sums[lane].wrapping_add(word);
        self.sums_of_sums[lane] = self.sums_of_sums[lane].wrapping_add(self.sums[lane]);
        self.words += 1;
    }

    /// The checksum of every byte added so far.
    pub fn finish(mut self) -> u64 {
        if self.pending_len != 0 {
            self.mix_word(self.pending);
        }
        let mut hash = self.total;
        for lane in 0..4 {
            hash = fmix(hash ^ self.sums[lane]);
            hash = fmix(hash ^ self.sums_of_sums[lane].rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15);
        }
        hash
    }
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
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
