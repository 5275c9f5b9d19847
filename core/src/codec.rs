//! Big-endian readers and writers for the fixed layouts of the message format.

use alloc::vec::Vec;

/// Why a read stopped.
#[derive(Debug)]
pub(crate) enum Short {
    /// At least this many bytes (counted from the reader's start) are needed to go on.
    Need(usize),
}

/// A bounded cursor over bytes. Reads past the end report how many bytes would be needed.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// A reader over `data` that starts at `pos` (positions still count from `data`'s start).
    pub(crate) fn at(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos: pos.min(data.len()),
        }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let end = self.pos.checked_add(n).ok_or(Short::Need(usize::MAX))?;
        match self.data.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(Short::Need(end)),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Short> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A field preceded by its u16 length.
    pub(crate) fn u16_prefixed(&mut self) -> Result<&'a [u8], Short> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }
}

/// Appends `data` with a u16 length prefix; the caller has checked the length fits.
pub(crate) fn put_u16_prefixed(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_need() {
        let mut r = Reader::new(&[0, 3, b'a', b'b']);
        assert!(matches!(r.u16_prefixed(), Err(Short::Need(5))));
        let mut r = Reader::new(&[0, 2, b'a', b'b', 1]);
        assert_eq!(r.u16_prefixed().ok(), Some(&b"ab"[..]));
        assert_eq!(r.u8().ok(), Some(1));
        assert!(r.is_empty());
        assert!(matches!(r.u32(), Err(Short::Need(9))));
    }
}
