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
///
/// After any error (of the engine or of `inner`) every later call fails: the message already
/// written is incomplete and must be discarded.
pub struct EncryptingWriter<W: Write> {
    inner: W,
    enc: Option<Encryptor>,
    buf: Vec<u8>,
    failed: bool,
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
            failed: false,
        })
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write failed; the message is incomplete",
            ));
        }
        Ok(())
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
        self.check()?;
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
        self.check()?;
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| io::Error::other("message already finished"))?;
        let data = &data[..data.len().min(CHUNK)];
        self.buf.clear();
        let r = enc
            .update(data, &mut self.buf)
            .map_err(io::Error::from)
            .and_then(|()| self.inner.write_all(&self.buf));
        self.failed = r.is_err();
        r.map(|()| data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that yields the authenticated plaintext of the message read from `inner`.
///
/// Reaching end of file (a read returning 0) means the whole message, signature included,
/// verified; any failure is an `InvalidData` (or `UnexpectedEof` for truncation) error whose
/// source is an [`Error`]. Plaintext returned before a failure must be discarded. After a
/// failure every later read fails again (it never reports end of file).
pub struct DecryptingReader<R: Read, K: Keyring> {
    inner: R,
    dec: Decryptor<K>,
    input: Vec<u8>,
    out: zeroize::Zeroizing<Vec<u8>>,
    pos: usize,
    eof: bool,
    /// The first failure, repeated by every later read.
    failed: Option<(io::ErrorKind, std::string::String)>,
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
            out: zeroize::Zeroizing::new(Vec::new()),
            pos: 0,
            eof: false,
            failed: None,
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
        if let Some((kind, what)) = &self.failed {
            return Err(io::Error::new(*kind, what.clone()));
        }
        if let Err(e) = self.fill() {
            self.failed = Some((e.kind(), std::format!("{e}")));
            self.out.clear();
            self.pos = 0;
            return Err(e);
        }
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
    reader: R,
    writer: W,
) -> io::Result<(Header, u64)> {
    let enc = Encryptor::new(keyring, config)?;
    pipeline(reader, writer, EncryptEngine { enc, total: 0 })
}

/// Decrypts the message from `reader` into `writer`; returns the header and the plaintext
/// length. On error, what was written to `writer` must be discarded.
pub fn decrypt_stream<K: Keyring, R: Read, W: Write>(
    keyring: K,
    config: DecryptConfig,
    reader: R,
    writer: W,
) -> io::Result<(Header, u64)> {
    pipeline(reader, writer, Decryptor::new(keyring, config))
}

/// One side of a stream: bytes in, bytes out, and a last step.
trait Engine {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error>;
    fn end(self, out: &mut Vec<u8>) -> Result<(Header, u64), Error>;
}

struct EncryptEngine {
    enc: Encryptor,
    total: u64,
}

impl Engine for EncryptEngine {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.total += input.len() as u64;
        self.enc.update(input, out)
    }
    fn end(self, out: &mut Vec<u8>) -> Result<(Header, u64), Error> {
        let header = self.enc.header().clone();
        self.enc.finish(out)?;
        Ok((header, self.total))
    }
}

impl<K: Keyring> Engine for Decryptor<K> {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.update(input, out)
    }
    fn end(mut self, _: &mut Vec<u8>) -> Result<(Header, u64), Error> {
        self.finish()?;
        let header = self.header().cloned().ok_or(Error::Truncated)?;
        Ok((header, self.released()))
    }
}

fn read_chunk<R: Read>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.resize(CHUNK, 0);
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(n) => {
                buf.truncate(n);
                return Ok(n);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Feeds `reader` through `engine` into `writer`, one chunk at a time.
#[cfg(not(all(feature = "parallel", not(target_arch = "wasm32"))))]
fn pipeline<E: Engine, R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    mut engine: E,
) -> io::Result<(Header, u64)> {
    let mut input = Vec::new();
    let mut out = Vec::new();
    while read_chunk(&mut reader, &mut input)? > 0 {
        out.clear();
        engine.step(&input, &mut out)?;
        writer.write_all(&out)?;
    }
    out.clear();
    let r = engine.end(&mut out)?;
    writer.write_all(&out)?;
    writer.flush()?;
    Ok(r)
}

/// Feeds `reader` through `engine` into `writer`. The engine runs on a helper thread while
/// this thread reads and writes, so I/O overlaps the cryptography; at most a few chunks are
/// in flight, and their buffers are reused.
#[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
fn pipeline<E: Engine + Send, R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    mut engine: E,
) -> io::Result<(Header, u64)> {
    use std::sync::mpsc::{channel, sync_channel};

    let (to_engine, inbox) = sync_channel::<Vec<u8>>(2);
    let (to_io, outbox) = channel::<(Vec<u8>, Vec<u8>)>();
    let (spare_out_tx, spare_out) = channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || -> Result<(Header, u64), Error> {
            for input in inbox {
                let mut out = spare_out.try_recv().unwrap_or_default();
                out.clear();
                engine.step(&input, &mut out)?;
                if to_io.send((input, out)).is_err() {
                    return Err(Error::Misuse("output closed"));
                }
            }
            let mut out = Vec::new();
            let r = engine.end(&mut out)?;
            let _ = to_io.send((Vec::new(), out));
            Ok(r)
        });
        let mut spare_in: Vec<Vec<u8>> = Vec::new();
        let mut write =
            |(input, out): (Vec<u8>, Vec<u8>), spare_in: &mut Vec<Vec<u8>>| -> io::Result<()> {
                writer.write_all(&out)?;
                spare_in.push(input);
                let _ = spare_out_tx.send(out);
                Ok(())
            };
        let mut io_result: io::Result<()> = Ok(());
        'read: loop {
            while let Ok(done) = outbox.try_recv() {
                if let Err(e) = write(done, &mut spare_in) {
                    io_result = Err(e);
                    break 'read;
                }
            }
            let mut buf = spare_in.pop().unwrap_or_default();
            match read_chunk(&mut reader, &mut buf) {
                Ok(0) => break,
                // A closed engine has failed; its error is reported below.
                Ok(_) => {
                    if to_engine.send(buf).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    io_result = Err(e);
                    break;
                }
            }
        }
        drop(to_engine);
        if io_result.is_ok() {
            for done in outbox.iter() {
                if let Err(e) = write(done, &mut spare_in) {
                    io_result = Err(e);
                    break;
                }
            }
        }
        drop(outbox);
        let r = worker
            .join()
            .map_err(|_| io::Error::other("stream thread panicked"))?;
        io_result?;
        let r = r?;
        writer.flush()?;
        Ok(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawAesKeyring;

    fn keyring() -> RawAesKeyring {
        RawAesKeyring::new("MyAppKeys", "stream", &[3u8; 32]).unwrap()
    }

    fn message(len: usize) -> (Vec<u8>, Vec<u8>) {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut ct = Vec::new();
        encrypt_stream(
            &keyring(),
            &EncryptConfig::default(),
            &plaintext[..],
            &mut ct,
        )
        .unwrap();
        (plaintext, ct)
    }

    #[test]
    fn streams_round_trip_across_chunks() {
        for len in [0, 1, 4096, CHUNK - 1, 3 * CHUNK + 12345] {
            let (plaintext, ct) = message(len);
            let mut out = Vec::new();
            let (header, n) =
                decrypt_stream(keyring(), DecryptConfig::default(), &ct[..], &mut out).unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(out, plaintext);
            assert_eq!(header.suite.id(), 0x0578);
            let mut r =
                DecryptingReader::with_chunk(keyring(), DecryptConfig::default(), &ct[..], 777);
            let mut via_reader = Vec::new();
            r.read_to_end(&mut via_reader).unwrap();
            assert_eq!(via_reader, plaintext);
        }
    }

    #[test]
    fn stream_errors_are_reported() {
        let (plaintext, ct) = message(2 * CHUNK + 5);
        // A flipped bit in the second chunk: the error is the frame's, and what was written
        // is a prefix of whole authenticated frames.
        let mut bad = ct.clone();
        let at = CHUNK + 1000;
        bad[at] ^= 1;
        let mut out = Vec::new();
        let e =
            decrypt_stream(keyring(), DecryptConfig::default(), &bad[..], &mut out).unwrap_err();
        let inner = e.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(
            matches!(inner, Some(Error::FrameAuthentication { .. })),
            "{e}"
        );
        assert!(plaintext.starts_with(&out) && out.len() < plaintext.len());
        // Truncated input.
        let mut out = Vec::new();
        let e = decrypt_stream(
            keyring(),
            DecryptConfig::default(),
            &ct[..ct.len() - 1],
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        // A failing writer stops the stream with its own error.
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = decrypt_stream(keyring(), DecryptConfig::default(), &ct[..], Full).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }
}
