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
pub(crate) unsafe fn store_blocks(_dst: *mut u8, _src: &[u8], _lanes: &mut Lanes) {}

/// Never called: [`available`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn load_blocks(_src: *const u8, _dst: &mut [u8], _lanes: &mut Lanes) {}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::arch::x86_64::{__m256i, _mm256_add_epi64, _mm256_loadu_si256, _mm256_storeu_si256};

    use crate::checksum::Lanes;

    /// The lanes as two vectors: four sums, four sums of sums.
    #[target_feature(enable = "avx2")]
    fn load_lanes(lanes: &Lanes) -> (__m256i, __m256i) {
        // SAFETY: each array is 32 bytes, read unaligned.
        unsafe {
            (
                _mm256_loadu_si256(lanes.sums.as_ptr().cast()),
                _mm256_loadu_si256(lanes.sums_of_sums.as_ptr().cast()),
            )
        }
    }

    #[target_feature(enable = "avx2")]
    fn store_lanes(lanes: &mut Lanes, sums: __m256i, sums_of_sums: __m256i) {
        // SAFETY: each array is 32 bytes, written unaligned.
        unsafe {
            _mm256_storeu_si256(lanes.sums.as_mut_ptr().cast(), sums);
            _mm256_storeu_si256(lanes.sums_of_sums.as_mut_ptr().cast(), sums_of_sums);
        }
    }

    /// # Safety
    /// As [`super::store_blocks`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn store_blocks(dst: *mut u8, src: &[u8], lanes: &mut super::Lanes) {
        let (mut sums, mut sums_of_sums) = load_lanes(lanes);
        for (index, block) in src.chunks_exact(32).enumerate() {
            // SAFETY: `block` is 32 readable bytes, read unaligned.
            let value = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
            // SAFETY: the caller guarantees `dst + 32 * index..+ 32` is in the shared mapping,
            // 8-byte aligned; the store is a relaxed atomic store of each of its four words (the
            // module doc), touching no other memory, the stack or the flags.
            unsafe {
                asm!(
                    "vmovdqu ymmword ptr [{at}], {value}",
                    at = in(reg) dst.add(32 * index),
                    value = in(ymm_reg) value,
                    options(nostack, preserves_flags),
                );
            }
            // The little-endian words of the block go to lanes 0 to 3, as `Lanes::block` adds.
            sums = _mm256_add_epi64(sums, value);
            sums_of_sums = _mm256_add_epi64(sums_of_sums, sums);
        }
        store_lanes(lanes, sums, sums_of_sums);
    }

    /// # Safety
    /// As [`super::sum_blocks`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_blocks(bytes: &[u8], lanes: &mut super::Lanes) {
        let (mut sums, mut sums_of_sums) = load_lanes(lanes);
        for block in bytes.chunks_exact(32) {
            // SAFETY: `block` is 32 readable bytes, read unaligned.
            let value = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
            sums = _mm256_add_epi64(sums, value);
            sums_of_sums = _mm256_add_epi64(sums_of_sums, sums);
        }
        store_lanes(lanes, sums, sums_of_sums);
    }

    /// # Safety
    /// As [`super::load_blocks`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn load_blocks(src: *const u8, dst: &mut [u8], lanes: &mut super::Lanes) {
        let (mut sums, mut sums_of_sums) = load_lanes(lanes);
        for (index, block) in dst.chunks_exact_mut(32).enumerate() {
            let value: __m256i;
            // SAFETY: the caller guarantees `src + 32 * index..+ 32` is in the shared mapping,
            // 8-byte aligned; the load is a relaxed atomic load of each of its four words (the
            // module doc), writing no memory and touching neither the stack nor the flags.
            unsafe {
                asm!(
                    "vmovdqu {value}, ymmword ptr [{at}]",
                    at = in(reg) src.add(32 * index),
                    value = out(ymm_reg) value,
                    options(nostack, readonly, preserves_flags),
                );
            }
            // SAFETY: `block` is 32 writable bytes, written unaligned.
            unsafe { _mm256_storeu_si256(block.as_mut_ptr().cast(), value) };
            sums = _mm256_add_epi64(sums, value);
            sums_of_sums = _mm256_add_epi64(sums_of_sums, sums);
        }
        store_lanes(lanes, sums, sums_of_sums);
    }
}
