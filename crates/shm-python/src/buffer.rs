//! Reading a Python object's bytes where they lie, through the buffer protocol (`bytes`,
//! `bytearray`, `memoryview`, a numpy `uint8` array): the one `unsafe` operation of the module.
//! An `abi3` build for Pythons before 3.11, whose stable ABI has no buffer protocol, copies
//! them into a `bytes` first.
#![cfg_attr(any(not(Py_LIMITED_API), Py_3_11), allow(unsafe_code))]

use pyo3::prelude::*;

/// Calls `use_bytes` with the bytes of `object`, any object `bytes()` accepts, copied into a
/// `bytes` first: the stable ABI of this build has no buffer protocol.
#[cfg(all(Py_LIMITED_API, not(Py_3_11)))]
pub(crate) fn with_bytes<R>(
    object: &Bound<'_, PyAny>,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> PyResult<R> {
    use pyo3::types::PyBytes;
    if let Ok(bytes) = object.cast::<PyBytes>() {
        return Ok(use_bytes(bytes.as_bytes()));
    }
    let copied = object.py().get_type::<PyBytes>().call1((object,))?;
    Ok(use_bytes(copied.cast::<PyBytes>()?.as_bytes()))
}

/// Calls `use_bytes` with the bytes of `object`, a C-contiguous buffer of bytes, without
/// copying them. The GIL stays held throughout, so no Python code can change them meanwhile.
#[cfg(any(not(Py_LIMITED_API), Py_3_11))]
pub(crate) fn with_bytes<R>(
    object: &Bound<'_, PyAny>,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> PyResult<R> {
    let buffer = pyo3::buffer::PyBuffer::<u8>::get(object)?;
    if !buffer.is_c_contiguous() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "the data must be one contiguous block of bytes (numpy.ascontiguousarray makes one)",
        ));
    }
    let len = buffer.len_bytes();
    let bytes = if len == 0 {
        &[][..]
    } else {
        // SAFETY: the exporter keeps `len` bytes at `buf_ptr` valid, and contiguous (checked),
        // while `buffer` lives, which is longer than the slice; bytes need no alignment. The
        // GIL is held for the whole call (`object` proves it), so no Python code can write or
        // resize the object meanwhile; only native code that released the GIL could, as for
        // every C extension reading a buffer.
        unsafe { std::slice::from_raw_parts(buffer.buf_ptr().cast::<u8>(), len) }
    };
    Ok(use_bytes(bytes))
}
