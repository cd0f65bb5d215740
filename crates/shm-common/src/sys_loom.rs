//! Under `--cfg loom`: a heap-backed stand-in for the mapping, so loom can explore every
//! interleaving (and every weak-memory outcome) of the slot protocol's real code.

use crate::checksum::Lanes;
use crate::layout::{CONTROL_SIZE, ControlBlock};
use crate::sync::atomic::AtomicU64;

/// The control block and data words, as loom atomics.
pub(crate) struct SharedRegion {
    control: ControlBlock,
    words: Vec<AtomicU64>,
}

impl SharedRegion {
    /// A region with `words` 8-byte data words after the control page.
    pub(crate) fn with_data_words(words: usize) -> SharedRegion {
        SharedRegion {
            control: ControlBlock::default(),
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn control(&self) -> &ControlBlock {
        &self.control
    }

    /// Word-aligned data only: the model's records are whole words.
    pub(crate) fn words(&self, offset: usize, count: usize) -> Option<&[AtomicU64]> {
        if count == 0 {
            return Some(&[]);
        }
        let start = offset.checked_sub(CONTROL_SIZE)?;
        if !start.is_multiple_of(8) {
            return None;
        }
        self.words.get(start / 8..start / 8 + count)
    }
}

impl SharedRegion {
    /// The model has no wide moves: the copies go word by word, through loom's atomics.
    pub(crate) fn store_blocks(
        &self,
        _offset: usize,
        _src: &[u8],
        _lanes: &mut Lanes,
    ) -> Option<bool> {
        Some(false)
    }

    /// As [`SharedRegion::store_blocks`].
    pub(crate) fn load_blocks(
        &self,
        _offset: usize,
        _dst: &mut [u8],
        _lanes: &mut Lanes,
    ) -> Option<bool> {
        Some(false)
    }
}

/// The model sums block by block.
pub(crate) fn sum_blocks(_bytes: &[u8], _lanes: &mut Lanes) -> bool {
    false
}

/// The model needs no clock.
pub(crate) fn monotonic_ns() -> u64 {
    0
}
