//! Reading a little-endian encoding out of bytes that cannot be trusted (a type description, a
//! channel directory): every read checks what is left first, and running out is the caller's
//! own error.

/// Bytes being decoded, and the error that running out of them is.
pub(crate) struct Input<'a, E> {
    bytes: &'a [u8],
    at: usize,
    /// The error for a read at `at` past the end of `len` bytes.
    truncated: fn(at: usize, len: usize) -> E,
}

impl<'a, E> Input<'a, E> {
    pub(crate) fn new(bytes: &'a [u8], truncated: fn(usize, usize) -> E) -> Input<'a, E> {
        Input {
            bytes,
            at: 0,
            truncated,
        }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], E> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or((self.truncated)(self.at, self.bytes.len()))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], E> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, E> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, E> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, E> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, E> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}
