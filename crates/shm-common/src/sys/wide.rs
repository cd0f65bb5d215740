//! Copies between shared memory and a private buffer 32 bytes per instruction, adding each
//! block to the checksum's lanes on the way.
//!
//! Rust has no atomic access wider than 8 bytes, and a plain `memcpy` of memory another process
//! writes is a data race. The moves into and out of shared memory are therefore inline
//! assembly (the idea of the C++ proposal P1478, byte-wise atomic `memcpy`): the compiler cannot
//! see into an `asm!` block and treats its memory accesses as an opaque operation, and each one
//! here is specified as what it is on the hardware: every aligned 8-byte word of the 32 bytes is
//! loaded or stored as by a relaxed `AtomicU64` access, the words in no particular order. (x86-64
//! CPUs carry out a vector move as aligned accesses of at least 8 bytes each: Intel SDM vol. 3A
//! §10.1.1, AMD APM vol. 2 §7.3.2.) The rest of the crate accesses these buffers only as
//! aligned `AtomicU64` words too, so accesses of different sizes never race, and the seqlock
//! orders all of them as it orders the word-wise copies: with fences, the writer's before and
//! after its stores, the reader's after its loads, before it re-checks the sequence.
//!
//! The private side is ordinary memory, read and written with ordinary vector intrinsics; so is
//! the checksum of private bytes (`sum_blocks`).
#![allow(unsafe_code)]

use crate::checksum::Lanes;

/// Whether this CPU has the moves this module uses (AVX2 on x86-64, checked once and cached by
/// the standard library); elsewhere the caller copies word by word.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Copies `src` (whole 32-byte blocks) to `dst` in shared memory, adding each block to `lanes`.
///
/// # Safety
/// [`available`] returned true; `dst..dst + src.len()` lies in a live shared mapping and `dst` is
/// 8-byte aligned.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn store_blocks(dst: *mut u8, src: &[u8], lanes: &mut Lanes) {
    // SAFETY: the caller checked AVX2 and the destination range.
    unsafe { x86::store_blocks(dst, src, lanes) }
}

/// Copies whole 32-byte blocks from `src` in shared memory into `dst`, adding each block to
/// `lanes`.
///
/// # Safety
/// [`available`] returned true; `src..src + dst.len()` lies in a live shared mapping and `src` is
/// 8-byte aligned.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn load_blocks(src: *const u8, dst: &mut [u8], lanes: &mut Lanes) {
    // SAFETY: the caller checked AVX2 and the source range.
    unsafe { x86::load_blocks(src, dst, lanes) }
}

/// Copies `src` (whole 32-byte blocks) to `dst` in shared memory, with no checksum.
///
/// # Safety
/// As [`store_blocks`].
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn store(dst: *mut u8, src: &[u8]) {
    // SAFETY: the caller checked AVX2 and the destination range.
    unsafe { x86::store(dst, src) }
}

/// Copies whole 32-byte blocks from `src` in shared memory into `dst`, with no checksum.
///
/// # Safety
/// As [`load_blocks`].
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn load(src: *const u8, dst: &mut [u8]) {
    // SAFETY: the caller checked AVX2 and the source range.
    unsafe { x86::load(src, dst) }
}

/// Adds whole 32-byte blocks of private memory to `lanes`, a block per instruction.
///
/// # Safety
/// [`available`] returned true.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn sum_blocks(bytes: &[u8], lanes: &mut Lanes) {
    // SAFETY: the caller checked AVX2.
    unsafe { x86::sum_blocks(bytes, lanes) }
}

/// Never called: [`available`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn sum_blocks(_bytes: &[u8], _lanes: &mut Lanes) {}

/// Never called: [`available`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn store(_dst: *mut u8, _src: &[u8]) {}

/// Never called: [`available`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn load(_src: *const u8, _dst: &mut [u8]) {}

/// Never called: [`available`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn store_blocks(_dst: *mut u8, _src: &[u8], _lanes: &mut Lanes) {}

/// Never called: [`available`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn load_blocks(_src: *const u8, _dst: &mut [u8], _lanes: &mut Lanes) {}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi64, _mm256_loadu_si256, _mm256_slli_epi64, _mm256_storeu_si256,
    };

    use crate::checksum::Lanes;

    /// Bytes moved per loop step: four 32-byte blocks.
    const STEP: usize = 128;

    /// The lanes as two vectors: four sums, four sums of sums.
    #[derive(Clone, Copy)]
    struct Sums {
        sums: __m256i,
        sums_of_sums: __m256i,
    }

    impl Sums {
        #[target_feature(enable = "avx2")]
        fn load(lanes: &Lanes) -> Sums {
            // SAFETY: each array is 32 bytes, read unaligned.
            unsafe {
                Sums {
                    sums: _mm256_loadu_si256(lanes.sums.as_ptr().cast()),
                    sums_of_sums: _mm256_loadu_si256(lanes.sums_of_sums.as_ptr().cast()),
                }
            }
        }

        #[target_feature(enable = "avx2")]
        fn store(self, lanes: &mut Lanes) {
            // SAFETY: each array is 32 bytes, written unaligned.
            unsafe {
                _mm256_storeu_si256(lanes.sums.as_mut_ptr().cast(), self.sums);
                _mm256_storeu_si256(lanes.sums_of_sums.as_mut_ptr().cast(), self.sums_of_sums);
            }
        }

        /// Adds one block (its little-endian words go to lanes 0 to 3), as `Lanes::block`.
        #[target_feature(enable = "avx2")]
        fn add(&mut self, block: __m256i) {
            self.sums = _mm256_add_epi64(self.sums, block);
            self.sums_of_sums = _mm256_add_epi64(self.sums_of_sums, self.sums);
        }

        /// Adds four blocks, with the result of four [`Sums::add`]s but one addition on each
        /// running sum's dependency chain instead of four: with `p1..p4` the running sums of
        /// the blocks, the sums grow by `p4` and the sums of sums by `4 * sums + p1 + p2 + p3 +
        /// p4`, whose terms the CPU adds in parallel. One addition per block on the chain
        /// limited every pass to 32 bytes a cycle, half of what a core loads and stores.
        #[target_feature(enable = "avx2")]
        fn add_four(&mut self, blocks: [__m256i; 4]) {
            let p1 = blocks[0];
            let p2 = _mm256_add_epi64(p1, blocks[1]);
            let p3 = _mm256_add_epi64(p2, blocks[2]);
            let p4 = _mm256_add_epi64(p3, blocks[3]);
            let prefixes = _mm256_add_epi64(_mm256_add_epi64(p1, p2), _mm256_add_epi64(p3, p4));
            let grown = _mm256_add_epi64(_mm256_slli_epi64::<2>(self.sums), prefixes);
            self.sums_of_sums = _mm256_add_epi64(self.sums_of_sums, grown);
            self.sums = _mm256_add_epi64(self.sums, p4);
        }
    }

    /// The 32 bytes at `at`, private memory, read unaligned.
    ///
    /// # Safety
    /// `at..at + 32` is readable.
    #[target_feature(enable = "avx2")]
    unsafe fn load_private(at: *const u8) -> __m256i {
        // SAFETY: the caller guarantees 32 readable bytes.
        unsafe { _mm256_loadu_si256(at.cast()) }
    }

    /// Stores `value` at `at` in shared memory.
    ///
    /// # Safety
    /// `at..at + 32` lies in the shared mapping, 8-byte aligned.
    #[target_feature(enable = "avx2")]
    unsafe fn store_shared(at: *mut u8, value: __m256i) {
        // SAFETY: the caller guarantees the range; the store is a relaxed atomic store of each
        // of its four words (the module doc), touching no other memory, the stack or the flags.
        unsafe {
            asm!(
                "vmovdqu ymmword ptr [{at}], {value}",
                at = in(reg) at,
                value = in(ymm_reg) value,
                options(nostack, preserves_flags),
            );
        }
    }

    /// The 32 bytes at `at` in shared memory.
    ///
    /// # Safety
    /// `at..at + 32` lies in the shared mapping, 8-byte aligned.
    #[target_feature(enable = "avx2")]
    unsafe fn load_shared(at: *const u8) -> __m256i {
        let value: __m256i;
        // SAFETY: the caller guarantees the range; the load is a relaxed atomic load of each of
        // its four words (the module doc), writing no memory and touching neither the stack
        // nor the flags.
        unsafe {
            asm!(
                "vmovdqu {value}, ymmword ptr [{at}]",
                at = in(reg) at,
                value = out(ymm_reg) value,
                options(nostack, readonly, preserves_flags),
            );
        }
        value
    }

    /// # Safety
    /// As [`super::store_blocks`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn store_blocks(dst: *mut u8, src: &[u8], lanes: &mut Lanes) {
        let mut sums = Sums::load(lanes);
        let steps = src.chunks_exact(STEP);
        let rest = steps.remainder();
        let mut at = dst;
        for step in steps {
            // SAFETY: `step` is 128 readable bytes.
            let blocks: [__m256i; 4] =
                std::array::from_fn(|i| unsafe { load_private(step.as_ptr().add(32 * i)) });
            for (i, &block) in blocks.iter().enumerate() {
                // SAFETY: the caller guarantees `dst..dst + src.len()` (this step's 128 bytes
                // among them) in the shared mapping, 8-byte aligned.
                unsafe { store_shared(at.add(32 * i), block) };
            }
            sums.add_four(blocks);
            // SAFETY: within (or one past) the caller's range.
            at = unsafe { at.add(STEP) };
        }
        for block in rest.chunks_exact(32) {
            // SAFETY: as above, for one block.
            let value = unsafe { load_private(block.as_ptr()) };
            // SAFETY: as above.
            unsafe { store_shared(at, value) };
            sums.add(value);
            // SAFETY: as above.
            at = unsafe { at.add(32) };
        }
        sums.store(lanes);
    }

    /// # Safety
    /// As [`super::store`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn store(dst: *mut u8, src: &[u8]) {
        for (index, block) in src.chunks_exact(32).enumerate() {
            // SAFETY: `block` is 32 readable bytes; the caller guarantees `dst..dst +
            // src.len()` in the shared mapping, 8-byte aligned.
            unsafe { store_shared(dst.add(32 * index), load_private(block.as_ptr())) };
        }
    }

    /// # Safety
    /// As [`super::load`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn load(src: *const u8, dst: &mut [u8]) {
        for (index, block) in dst.chunks_exact_mut(32).enumerate() {
            // SAFETY: the caller guarantees `src..src + dst.len()` in the shared mapping,
            // 8-byte aligned; `block` is 32 writable bytes, written unaligned.
            unsafe {
                let value = load_shared(src.add(32 * index));
                _mm256_storeu_si256(block.as_mut_ptr().cast(), value);
            }
        }
    }

    /// # Safety
    /// As [`super::sum_blocks`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_blocks(bytes: &[u8], lanes: &mut Lanes) {
        let mut sums = Sums::load(lanes);
        let steps = bytes.chunks_exact(STEP);
        let rest = steps.remainder();
        for step in steps {
            // SAFETY: `step` is 128 readable bytes.
            sums.add_four(std::array::from_fn(|i| unsafe {
                load_private(step.as_ptr().add(32 * i))
            }));
        }
        for block in rest.chunks_exact(32) {
            // SAFETY: `block` is 32 readable bytes.
            sums.add(unsafe { load_private(block.as_ptr()) });
        }
        sums.store(lanes);
    }

    /// # Safety
    /// As [`super::load_blocks`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn load_blocks(src: *const u8, dst: &mut [u8], lanes: &mut Lanes) {
        let mut sums = Sums::load(lanes);
        let mut steps = dst.chunks_exact_mut(STEP);
        let mut at = src;
        for step in &mut steps {
            // SAFETY: the caller guarantees `src..src + dst.len()` (this step's 128 bytes among
            // them) in the shared mapping, 8-byte aligned.
            let blocks: [__m256i; 4] =
                std::array::from_fn(|i| unsafe { load_shared(at.add(32 * i)) });
            for (i, &block) in blocks.iter().enumerate() {
                // SAFETY: `step` is 128 writable bytes, written unaligned.
                unsafe { _mm256_storeu_si256(step.as_mut_ptr().add(32 * i).cast(), block) };
            }
            sums.add_four(blocks);
            // SAFETY: within (or one past) the caller's range.
            at = unsafe { at.add(STEP) };
        }
        for block in steps.into_remainder().chunks_exact_mut(32) {
            // SAFETY: as above, for one block.
            let value = unsafe { load_shared(at) };
            // SAFETY: `block` is 32 writable bytes, written unaligned.
            unsafe { _mm256_storeu_si256(block.as_mut_ptr().cast(), value) };
            sums.add(value);
            // SAFETY: as above.
            at = unsafe { at.add(32) };
        }
        sums.store(lanes);
    }
}
