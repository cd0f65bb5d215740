//! Which record a slot's two sequence words name: the newest-record rule.
//!
//! Record `n` (counting from 1) goes to buffer `n % 2`, whose sequence word reads `2n - 1`
//! while it is written and `2n` once it is complete. The higher of the two words therefore
//! names the newest write, and no separate counter has to cross between cores.

/// A record's number in its slot: 1 for the first record published there, then 2, ...
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordNumber(pub u64);

impl RecordNumber {
    /// The buffer the record goes to: `n % 2`.
    pub fn buffer(self) -> usize {
        (self.0 & 1) as usize
    }

    /// The record after this one.
    pub fn next(self) -> RecordNumber {
        RecordNumber(self.0.wrapping_add(1))
    }

    /// Its buffer's sequence word while it is being written: `2n - 1`.
    pub fn writing(self) -> SequenceWord {
        SequenceWord(self.0.wrapping_mul(2).wrapping_sub(1))
    }

    /// Its buffer's sequence word once it is complete: `2n`.
    pub fn complete(self) -> SequenceWord {
        SequenceWord(self.0.wrapping_mul(2))
    }
}

/// The value of a buffer's sequence word: `2n - 1` while record `n` is written into it, `2n`
/// once it is complete, 0 before the first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceWord(pub u64);

impl SequenceWord {
    /// Whether a record is being written (the word is odd).
    pub fn is_writing(self) -> bool {
        self.0 % 2 == 1
    }

    /// The record this word belongs to (written or complete); record 0 for the initial 0.
    pub fn record(self) -> RecordNumber {
        RecordNumber(self.0.div_ceil(2))
    }

    /// The record a writer publishes after finding this as a slot's highest word: after `2m`,
    /// `m + 1`; after `2m - 1` (left by a writer that died writing `m`), `m` again.
    pub fn next_record(self) -> RecordNumber {
        RecordNumber((self.0 / 2).wrapping_add(1).max(1))
    }
}

/// What a slot's two sequence words say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Newest {
    /// Nothing was published yet.
    Nothing,
    /// This record, in buffer `n % 2`, is the newest complete one.
    Record(RecordNumber),
    /// The words contradict each other: they were loaded while the writer moved on, or the
    /// segment is corrupt.
    Contradiction,
}

impl Newest {
    /// Reads a pair of sequence words. The higher one is the newest write: if even (`2n`),
    /// record `n` is complete; if odd (`2m - 1`), record `m` is being written and the other
    /// buffer must hold record `m - 1` (word `2m - 2`), or nothing if `m` is 1. Each record
    /// must be in buffer `n % 2`.
    pub fn of(words: [u64; 2]) -> Newest {
        let high = usize::from(words[1] > words[0]);
        let newest = SequenceWord(words[high]);
        let other = words[1 - high];
        if newest.0 == 0 {
            return Newest::Nothing;
        }
        let writing = newest.record();
        if writing.buffer() != high {
            return Newest::Contradiction;
        }
        if !newest.is_writing() {
            return Newest::Record(writing);
        }
        match (writing.0 - 1, other) {
            (0, 0) => Newest::Nothing,
            (previous, word) if previous > 0 && word == newest.0 - 1 => {
                Newest::Record(RecordNumber(previous))
            }
            _ => Newest::Contradiction,
        }
    }

    /// The newest complete record's number, 0 if none (or if the words contradict).
    pub fn number(self) -> u64 {
        match self {
            Newest::Record(number) => number.0,
            Newest::Nothing | Newest::Contradiction => 0,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_higher_sequence_word_names_the_newest_record() {
        let record = |n| Newest::Record(RecordNumber(n));
        let cases = [
            ([0, 0], Newest::Nothing),
            ([0, 1], Newest::Nothing),
            ([0, 2], record(1)),
            ([3, 2], record(1)),
            ([4, 2], record(2)),
            ([4, 5], record(2)),
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

    #[test]
    fn a_writer_numbers_its_record_from_the_highest_word() {
        assert_eq!(SequenceWord(0).next_record(), RecordNumber(1));
        assert_eq!(SequenceWord(4).next_record(), RecordNumber(3));
        assert_eq!(
            SequenceWord(5).next_record(),
            RecordNumber(3),
            "a dead writer's record again"
        );
        assert_eq!(RecordNumber(3).writing(), SequenceWord(5));
        assert_eq!(RecordNumber(3).complete(), SequenceWord(6));
        assert_eq!(SequenceWord(5).record(), RecordNumber(3));
    }

    proptest::proptest! {
        #[test]
        fn any_pair_of_words_is_judged_without_panicking(words: [u64; 2]) {
            if let Newest::Record(number) = Newest::of(words) {
                proptest::prop_assert!(words.contains(&number.complete().0));
            }
        }
    }
}
