//! `std::io` adapters over the sans-IO engine.

use std::io::{self, Read, Write};
use std::vec::Vec;

use crate::decrypt::{DecryptConfig, Decryptor};
use crate::encrypt::{EncryptConfig, Encryptor};
use crate::error::Error;
use crate::header::Header;
use crate::keyring::Keyring;

/// Size of the pieces the adapters read and hand to the engine.
pub const CHUNK: usize = 1 << 20;

/// A writer that encrypts what is written to it into `inner`.
///
/// **Call [`EncryptingWriter::finish`]**: dropping the writer without it leaves a truncated
/// message that every reader rejects.
pub struct EncryptingWriter<W: Write> {
    inner: W,
    enc: Option<Encryptor>,
    buf: Vec<u8>,
}

impl<W: Write> core::fmt::Debug for EncryptingWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptingWriter")
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

impl<W: Write> EncryptingWriter<W> {
    /// Starts a message (the keyring is called now) that will be written to `inner`.
    pub fn new<K: Keyring + ?Sized>(
        keyring: &K,
        config: &EncryptConfig,
        inner: W,
    ) -> Result<Self, Error> {
        Ok(Self {
            inner,
            enc: Some(Encryptor::new(keyring, config)?),
            buf: Vec::new(),
        })
    }

    /// The header of the message being written.
    pub fn header(&self) -> Option<&Header> {
        self.enc.as_ref().map(Encryptor::header)
    }

    /// Exact message length for `plaintext_len` bytes of plaintext.
    pub fn message_len(&self, plaintext_len: u64) -> Option<u64> {
        self.enc.as_ref().map(|e| e.message_len(plaintext_len))
    }

    /// Writes the final frame and footer, flushes, and gives back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let enc = self
            .enc
            .take()
            .ok_or_else(|| io::Error::other("message already finished"))?;
        self.buf.clear();
        enc.finish(&mut self.buf)?;
        self.inner.write_all(&self.buf)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| io::Error::other("message already finished"))?;
        let data = &data[..data.len().min(CHUNK)];
        self.buf.clear();
        enc.update(data, &mut self.buf)?;
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that yields the authenticated plaintext of the message read from `inner`.
///
/// Reaching end of file (a read returning 0) means the whole message, signature included,
/// verified; any failure is an `InvalidData` (or `UnexpectedEof` for truncation) error whose
/// source is an [`Error`]. Plaintext returned before a failure must be discarded.
pub struct DecryptingReader<R: Read, K: Keyring> {
    inner: R,
    dec: Decryptor<K>,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read, K: Keyring> core::fmt::Debug for DecryptingReader<R, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptingReader")
            .field("dec", &self.dec)
            .finish_non_exhaustive()
    }
}

impl<R: Read, K: Keyring> DecryptingReader<R, K> {
    /// Decrypts the message read from `inner` with `keyring`.
    pub fn new(keyring: K, config: DecryptConfig, inner: R) -> Self {
        Self::with_chunk(keyring, config, inner, CHUNK)
    }

    /// Same, reading `chunk` bytes at a time from `inner` (at least 1).
    pub fn with_chunk(keyring: K, config: DecryptConfig, inner: R, chunk: usize) -> Self {
        Self {
            inner,
            dec: Decryptor::new(keyring, config),
            input: std::vec![0u8; chunk.max(1)],
            out: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    /// The message header, once authenticated.
    pub fn header(&self) -> Option<&Header> {
        self.dec.header()
    }

    fn fill(&mut self) -> io::Result<()> {
        while self.pos == self.out.len() && !self.eof {
            self.out.clear();
            self.pos = 0;
            let n = match self.inner.read(&mut self.input) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                self.dec.finish()?;
            } else {
                self.dec.update(&self.input[..n], &mut self.out)?;
            }
        }
        Ok(())
    }
}

impl<R: Read, K: Keyring> Read for DecryptingReader<R, K> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.fill()?;
        let n = dst.len().min(self.out.len() - self.pos);
        dst[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Encrypts everything from `reader` into `writer`; returns the header and the plaintext length.
pub fn encrypt_stream<K: Keyring + ?Sized, R: Read, W: Write>(
    keyring: &K,
    config: &EncryptConfig,
    mut reader: R,
    writer: W,
) -> io::Result<(Header, u64)> {
    let mut w = EncryptingWriter::new(keyring, config, writer)?;
    let header = w
        .header()
        .cloned()
        .ok_or_else(|| io::Error::other("no header"))?;
    let mut buf = std::vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
    w.finish()?;
    Ok((header, total))
}

/// Decrypts the message from `reader` into `writer`; returns the header and the plaintext
/// length. On error, what was written to `writer` must be discarded.
pub fn decrypt_stream<K: Keyring, R: Read, W: Write>(
    keyring: K,
    config: DecryptConfig,
    mut reader: R,
    mut writer: W,
) -> io::Result<(Header, u64)> {
    let mut dec = Decryptor::new(keyring, config);
    let mut input = std::vec![0u8; CHUNK];
    let mut out = Vec::new();
    loop {
        let n = match reader.read(&mut input) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        dec.update(&input[..n], &mut out)?;
        writer.write_all(&out)?;
    }
    dec.finish()?;
    writer.flush()?;
    let header = dec
        .header()
        .cloned()
        .ok_or_else(|| io::Error::other("no header"))?;
    Ok((header, dec.released()))
}
