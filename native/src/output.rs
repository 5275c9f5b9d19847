//! Outputs that appear only when complete: a temporary file beside the destination, renamed
//! over it once the message verified, and removed on failure or Ctrl-C.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Failure;

/// Temporary files not yet renamed; removed by [`remove_all`] when the process is interrupted.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every temporary file still pending (on Ctrl-C).
pub fn remove_all() {
    if let Ok(mut pending) = PENDING.lock() {
        for p in pending.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn forget(path: &Path) {
    if let Ok(mut pending) = PENDING.lock() {
        pending.retain(|p| p != path);
    }
}

/// A file being written under a temporary name.
#[derive(Debug)]
pub struct TempOutput {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<File>>,
}

impl TempOutput {
    /// Creates `.NAME.cse-PID.partial` beside `dest`.
    pub fn create(dest: &Path) -> Result<Self, Failure> {
        let name = dest
            .file_name()
            .ok_or_else(|| Failure::other(format!("{}: not a file name", dest.display())))?;
        let tmp = dest.with_file_name(format!(
            ".{}.cse-{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&tmp)
            .map_err(|e| Failure::other(format!("cannot create {}: {e}", tmp.display())))?;
        if let Ok(mut pending) = PENDING.lock() {
            pending.push(tmp.clone());
        }
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flushes, syncs and renames the file to its destination.
    pub fn commit(mut self) -> Result<(), Failure> {
        let io = |e: io::Error| Failure::other(format!("{}: {e}", self.dest.display()));
        if let Some(w) = self.file.take() {
            let f = w.into_inner().map_err(|e| io(e.into_error()))?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&self.tmp, &self.dest).map_err(io)?;
        forget(&self.tmp);
        Ok(())
    }
}

impl Write for TempOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
            forget(&self.tmp);
        }
    }
}

/// Where output goes: a file that appears when complete, or stdout.
#[derive(Debug)]
pub enum Sink {
    File(TempOutput),
    Stdout(io::Stdout),
}

impl Sink {
    /// `-` is stdout; anything else a file created on commit.
    pub fn open(dest: &str) -> Result<Self, Failure> {
        if dest == "-" {
            Ok(Self::Stdout(io::stdout()))
        } else {
            TempOutput::create(Path::new(dest)).map(Self::File)
        }
    }

    /// Makes the output final.
    pub fn commit(self) -> Result<(), Failure> {
        match self {
            Self::File(t) => t.commit(),
            Self::Stdout(mut s) => s
                .flush()
                .map_err(|e| Failure::other(format!("stdout: {e}"))),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::File(f) => f.write(buf),
            Self::Stdout(s) => s.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::File(f) => f.write_all(buf),
            Self::Stdout(s) => s.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::File(f) => f.flush(),
            Self::Stdout(s) => s.flush(),
        }
    }
}

/// A writer that counts what passes through it.
#[derive(Debug)]
pub struct Counting<W> {
    pub inner: W,
    pub count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_appears_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("cse-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let dest = dir.join("a.txt");
        let mut t = TempOutput::create(&dest).expect("create");
        t.write_all(b"hello").expect("write");
        assert!(!dest.exists());
        t.commit().expect("commit");
        assert_eq!(std::fs::read(&dest).expect("read"), b"hello");

        let dest2 = dir.join("b.txt");
        let mut t = TempOutput::create(&dest2).expect("create");
        t.write_all(b"partial").expect("write");
        drop(t);
        assert!(!dest2.exists());
        let left: Vec<_> = std::fs::read_dir(&dir).expect("list").collect();
        assert_eq!(left.len(), 1, "only the committed file remains");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
