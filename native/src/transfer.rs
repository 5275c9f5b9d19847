//! The native side of the transfer engine (`cse-transfer`): CPU work on tokio's blocking
//! threads (objects decrypt on every core), files and stdin as sources, temporary files
//! committed after verification as sinks, indicatif bars with totals, Ctrl-C/SIGTERM/SIGHUP
//! as the cancel flag. The pipelines themselves live in `cse-transfer`.

use std::cell::Cell;
use std::future::Future;
use std::io::{Read, Write};

use cse_transfer::{Error, Exec, Progress};
use indicatif::ProgressBar;

use crate::output;

/// Runs CPU work on tokio's blocking threads.
#[derive(Clone, Copy, Debug)]
pub struct Threads;

impl Exec for Threads {
    fn run<R, F>(&self, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let task = tokio::task::spawn_blocking(f);
        async move {
            match task.await {
                Ok(r) => r,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
}

/// Plaintext from a file or stdin, read on a blocking thread.
pub struct ReadSource(Option<Box<dyn Read + Send>>, Option<u64>);

impl std::fmt::Debug for ReadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadSource")
    }
}

impl ReadSource {
    /// `input`, of `len` bytes when known (a small file then gets a small buffer).
    pub fn new(input: Box<dyn Read + Send>, len: Option<u64>) -> Self {
        Self(Some(input), len)
    }
}

impl cse_transfer::Source for ReadSource {
    async fn read(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let mut input = self
            .0
            .take()
            .ok_or(Error::Internal("input already failed"))?;
        let (input, r) = Threads
            .run(move || {
                let mut buf = vec![0u8; max];
                loop {
                    match input.read(&mut buf) {
                        Ok(n) => {
                            buf.truncate(n);
                            break (input, Ok(buf));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break (input, Err(e)),
                    }
                }
            })
            .await;
        self.0 = Some(input);
        if let (Some(left), Ok(buf)) = (self.1.as_mut(), &r) {
            *left = left.saturating_sub(buf.len() as u64);
        }
        r.map_err(|e| Error::Local(format!("reading the input: {e}")))
    }
}

/// Verified plaintext into a temporary file (renamed once the message verified) or stdout.
#[derive(Debug)]
pub struct FileSink(pub output::Sink);

impl cse_transfer::Sink for FileSink {
    async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.0
            .write_all(data)
            .map_err(|e| Error::Local(format!("writing the output: {e}")))
    }
    async fn commit(self) -> Result<(), Error> {
        // Flush, sync and rename on a blocking thread: many small files commit in parallel.
        Threads
            .run(move || self.0.commit().map_err(|f| f.message))
            .await
            .map_err(Error::Local)
    }
}

/// One bar for a command: bytes moved of all objects, and files done of those started.
#[derive(Debug)]
pub struct Bars {
    pub bar: ProgressBar,
    many: bool,
    started: Cell<u64>,
    done: Cell<u64>,
}

/// Whether bars are drawn: stderr is a terminal and the user did not ask for quiet.
pub fn bars_shown(quiet: bool, no_progress: bool) -> bool {
    use std::io::IsTerminal;
    !quiet && !no_progress && std::io::stderr().is_terminal()
}

impl Bars {
    /// A bar (hidden unless `shown`); `many` shows file totals instead of the object's name.
    pub fn new(shown: bool, many: bool) -> Self {
        let bar = if shown {
            let style = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::new(0).with_style(style);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            many,
            started: Cell::new(0),
            done: Cell::new(0),
        }
    }

    fn label(&self) {
        if self.many {
            self.bar
                .set_message(format!("{}/{} files", self.done.get(), self.started.get()));
        }
    }

    /// Prints a line on stdout without tearing the bar.
    pub fn tell(&self, line: &str) -> Result<(), crate::error::Failure> {
        self.bar.suspend(|| crate::error::tell(line))
    }
}

impl Progress for Bars {
    fn bytes(&self, n: u64) {
        self.bar.inc(n);
    }
    fn started(&self, label: &str, size: Option<u64>) {
        self.started.set(self.started.get() + 1);
        if let Some(n) = size {
            self.bar.inc_length(n);
        }
        if !self.many {
            self.bar.set_message(crate::error::shown(&label));
        }
        self.label();
    }
    fn finished(&self, _label: &str, _ok: bool) {
        self.done.set(self.done.get() + 1);
        self.label();
    }
}
