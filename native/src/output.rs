//! Outputs that appear only when complete: a temporary file beside the destination, renamed
//! over it once the message verified, and removed on failure, Ctrl-C, SIGTERM or SIGHUP.
//!
//! The temporary file is created exclusively under a random name (`.NAME.XXXXXX.cse-partial`,
//! mode 0600), so a symlink planted beside the destination is never followed and no one else
//! can read the plaintext while it is written. On commit it gets the mode a new file would
//! get (0666 minus the umask) and is renamed over the destination.
//!
//! A destination that exists and is not a regular file or a directory (`/dev/null`, a FIFO,
//! a terminal, `/dev/stdout`) is never replaced: it is written directly, as stdout is.

use std::fs::Permissions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use tempfile::NamedTempFile;

use crate::error::{Failure, shown};

/// Temporary files not yet renamed; removed by [`remove_all`] when the process is interrupted.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The process umask, read once by [`init_umask`] while the process has one thread.
static UMASK: OnceLock<u32> = OnceLock::new();

fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the umask (setting it is the only way to read it, so this runs first in `main`,
/// before any thread could create a file meanwhile).
pub fn init_umask() {
    UMASK.get_or_init(|| {
        use rustix::fs::Mode;
        use rustix::process::umask;
        let old = umask(Mode::from_raw_mode(0o077));
        umask(old);
        old.as_raw_mode()
    });
}

/// The mode of a new regular file: 0666 minus the umask (0022 if it was never read).
pub fn new_file_mode() -> u32 {
    0o666 & !UMASK.get().copied().unwrap_or(0o022)
}

/// Removes every temporary file still pending (on a signal).
pub fn remove_all() {
    for p in pending().drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// A file being written under a temporary name.
#[derive(Debug)]
pub struct TempOutput {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<NamedTempFile>>,
}

impl TempOutput {
    /// Creates `.NAME.XXXXXX.cse-partial` (random, exclusive, mode 0600) beside `dest`.
    pub fn create(dest: &Path) -> Result<Self, Failure> {
        let name = dest.file_name().ok_or_else(|| {
            Failure::other(format!("{}: not a file name", shown(&dest.display())))
        })?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        // Registered under the lock: a signal cannot come between creating and recording it.
        let mut pending = pending();
        let file = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".cse-partial")
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| {
                Failure::other(format!(
                    "cannot create a temporary file in {}: {e}",
                    shown(&dir.display())
                ))
            })?;
        let tmp = file.path().to_path_buf();
        pending.push(tmp.clone());
        drop(pending);
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The temporary file's path.
    #[cfg(test)]
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes and syncs the file, gives it the mode of a new file and renames it to its
    /// destination.
    pub fn commit(mut self) -> Result<(), Failure> {
        let dest = shown(&self.dest.display());
        let io = |e: io::Error| Failure::other(format!("{dest}: {e}"));
        let Some(w) = self.file.take() else {
            return Err(Failure::other("internal: output already committed"));
        };
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.as_file()
            .set_permissions(Permissions::from_mode(new_file_mode()))
            .map_err(io)?;
        f.as_file().sync_all().map_err(io)?;
        let mut pending = pending();
        let persisted = f.persist(&self.dest);
        pending.retain(|p| p != &self.tmp);
        drop(pending);
        // On failure the temporary file is removed when `e.file` drops.
        persisted.map_err(|e| io(e.error))?;
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
        if let Some(w) = self.file.take() {
            // Nothing is flushed: the partial output is deleted (NamedTempFile removes it).
            let (file, _) = w.into_parts();
            drop(file);
            pending().retain(|p| p != &self.tmp);
        }
    }
}

/// Where output goes: a file that appears when complete, stdout, or a device or FIFO.
#[derive(Debug)]
pub enum Sink {
    File(TempOutput),
    Stdout(io::Stdout),
    /// An existing destination that is not a regular file, written as it comes like stdout
    /// (renaming a file over it would replace the device or FIFO itself).
    Stream(std::fs::File),
    /// Nothing is kept (`cse verify`).
    Discard,
}

impl Sink {
    /// `-` is stdout; an existing device, FIFO or socket (symlinks followed) is written
    /// directly; anything else is a file created on commit.
    pub fn open(dest: &str) -> Result<Self, Failure> {
        if dest == "-" {
            return Ok(Self::Stdout(io::stdout()));
        }
        let path = Path::new(dest);
        if std::fs::metadata(path).is_ok_and(|m| is_stream(&m)) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Failure::other(format!("{}: {e}", shown(&path.display()))))?;
            // Checked again on what was opened: a regular file put there meanwhile goes
            // through a temporary file like any other.
            if f.metadata().is_ok_and(|m| is_stream(&m)) {
                return Ok(Self::Stream(f));
            }
        }
        TempOutput::create(path).map(Self::File)
    }

    /// Makes the output final.
    pub fn commit(self) -> Result<(), Failure> {
        match self {
            Self::File(t) => t.commit(),
            Self::Stdout(mut s) => s
                .flush()
                .map_err(|e| Failure::other(format!("stdout: {e}"))),
            Self::Stream(mut f) => f
                .flush()
                .map_err(|e| Failure::other(format!("output: {e}"))),
            Self::Discard => Ok(()),
        }
    }
}

/// Not a regular file and not a directory: a device, FIFO or socket.
fn is_stream(m: &std::fs::Metadata) -> bool {
    !m.is_file() && !m.is_dir()
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::File(f) => f.write(buf),
            Self::Stdout(s) => s.write(buf),
            Self::Stream(f) => f.write(buf),
            Self::Discard => Ok(buf.len()),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::File(f) => f.write_all(buf),
            Self::Stdout(s) => s.write_all(buf),
            Self::Stream(f) => f.write_all(buf),
            Self::Discard => Ok(()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::File(f) => f.flush(),
            Self::Stdout(s) => s.flush(),
            Self::Stream(f) => f.flush(),
            Self::Discard => Ok(()),
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
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cse-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn output_appears_only_on_commit() {
        let dir = scratch("commit");
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

    #[test]
    fn temporary_file_is_private_and_final_mode_follows_the_umask() {
        init_umask();
        let dir = scratch("mode");
        let dest = dir.join("m.txt");
        let mut t = TempOutput::create(&dest).expect("create");
        t.write_all(b"secret").expect("write");
        t.flush().expect("flush");
        let tmp = t.temp_path().to_path_buf();
        let name = tmp
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(".m.txt.") && name.ends_with(".cse-partial"),
            "{name}"
        );
        assert_eq!(mode(&tmp), 0o600);
        t.commit().expect("commit");
        assert!(!tmp.exists());
        assert_eq!(mode(&dest), new_file_mode());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn planted_symlinks_are_not_followed() {
        let dir = scratch("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").expect("victim");
        // Every name the old scheme could have used, and the bare suffix.
        for name in [
            format!(".x.cse-{}.partial", std::process::id()),
            ".x..cse-partial".to_string(),
            ".x.cse-partial".to_string(),
        ] {
            symlink(&victim, dir.join(name)).expect("symlink");
        }
        let dest = dir.join("x");
        let mut t = TempOutput::create(&dest).expect("create");
        t.write_all(b"plaintext").expect("write");
        t.commit().expect("commit");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"keep");
        assert_eq!(std::fs::read(&dest).expect("dest"), b"plaintext");
        assert!(!std::fs::symlink_metadata(&dest).expect("dest").is_symlink());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn devices_and_fifos_are_written_in_place_never_replaced() {
        let dir = scratch("fifo");
        let fifo = dir.join("pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).expect("read fifo"))
        };
        let mut sink = Sink::open(fifo.to_str().expect("utf-8")).expect("open");
        assert!(matches!(sink, Sink::Stream(_)), "{sink:?}");
        sink.write_all(b"through the pipe").expect("write");
        sink.commit().expect("commit");
        assert_eq!(reader.join().expect("reader"), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).expect("fifo").file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind), "{kind:?}");
        // Nothing else was left beside it.
        assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 1);

        // A symlink to a character device is followed to the device.
        let link = dir.join("null");
        symlink("/dev/null", &link).expect("symlink");
        let mut sink = Sink::open(link.to_str().expect("utf-8")).expect("open");
        assert!(matches!(sink, Sink::Stream(_)), "{sink:?}");
        sink.write_all(b"gone").expect("write");
        sink.commit().expect("commit");
        assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
        let null = std::fs::metadata("/dev/null")
            .expect("/dev/null")
            .file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(&null));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
