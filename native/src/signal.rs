//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: the first one asks running transfers to stop cleanly
//! (abort the multipart upload, remove the unfinished output); a second one removes the
//! temporary files and exits at once. The exit status is 128 + the first signal's number:
//! 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

use crate::error::{Failure, say};
use crate::output;

static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();

/// The transfers' cancel flag, set by the first stop signal.
static CANCEL: OnceLock<cse_transfer::Cancel> = OnceLock::new();

/// The cancel flag transfers watch (set by the first Ctrl-C, SIGTERM or SIGHUP).
pub fn cancel() -> cse_transfer::Cancel {
    CANCEL.get_or_init(cse_transfer::Cancel::new).clone()
}

/// How a stopped transfer is described: after the first signal's name.
pub fn stop_name() -> &'static str {
    match RECEIVED.load(Ordering::SeqCst) {
        143 => "terminated (SIGTERM)",
        129 => "hangup (SIGHUP)",
        _ => "interrupted",
    }
}

/// The exit status of the first signal received (0: none yet).
static RECEIVED: AtomicU8 = AtomicU8::new(0);

/// The exit status for an interrupted command: that of the first signal, else 130.
pub fn exit_status() -> u8 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => 130,
        n => n,
    }
}

/// The three signals that stop cse, listened to from the moment this is made.
#[derive(Debug)]
pub struct Stops {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Stops {
    /// Installs the handlers (inside a runtime, or with one entered).
    pub fn new() -> Result<Self, Failure> {
        let on = |kind: SignalKind| {
            signal(kind).map_err(|e| Failure::other(format!("signal handler: {e}")))
        };
        Ok(Self {
            int: on(SignalKind::interrupt())?,
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    /// Waits for the next signal; records the first one's exit status and returns its name.
    pub async fn next(&mut self) -> &'static str {
        let (status, name) = tokio::select! {
            _ = self.int.recv() => (130, "interrupted"),
            _ = self.term.recv() => (143, "terminated (SIGTERM)"),
            _ = self.hup.recv() => (129, "hangup (SIGHUP)"),
        };
        let _ = RECEIVED.compare_exchange(0, status, Ordering::SeqCst, Ordering::SeqCst);
        name
    }
}

/// Removes the temporary files and exits with the first signal's status.
pub fn exit_now() -> ! {
    output::remove_all();
    std::process::exit(i32::from(exit_status()));
}

/// Starts listening for stop signals (inside the runtime).
pub fn install() -> Result<(), Failure> {
    let tx = FLAG.get_or_init(|| watch::channel(false).0);
    let mut stops = Stops::new()?;
    tokio::spawn(async move {
        let name = stops.next().await;
        let _ = tx.send(true);
        // Ctrl-C throws the work away; SIGTERM and SIGHUP (the machine or the session going
        // away) keep what can continue later: a resumable upload.
        if exit_status() == 130 {
            cancel().cancel();
        } else {
            cancel().suspend();
        }
        say(&format!(
            "cse: {name}; cleaning up (a second signal or Ctrl-C quits at once)"
        ));
        stops.next().await;
        exit_now();
    });
    Ok(())
}

/// For commands without transfers to stop: the first signal removes the unfinished output
/// and exits. Runs on its own thread with a small runtime.
pub fn exit_on_signal() -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("async runtime: {e}")))?;
    // The handlers are in place before the command starts writing anything.
    let mut stops = {
        let _entered = runtime.enter();
        Stops::new()?
    };
    std::thread::spawn(move || {
        runtime.block_on(async {
            let name = stops.next().await;
            output::remove_all();
            say(&format!("cse: {name}"));
            exit_now();
        });
    });
    Ok(())
}

/// Completes once a stop signal arrived (never, if [`install`] was not called).
pub async fn interrupted() {
    match FLAG.get() {
        Some(tx) => {
            let mut rx = tx.subscribe();
            let _ = rx.wait_for(|v| *v).await;
        }
        None => std::future::pending().await,
    }
}

/// Completes some time after a stop signal, for commands that do not stop by themselves.
pub async fn interrupted_grace() {
    interrupted().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
}
