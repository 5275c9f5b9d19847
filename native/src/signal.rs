//! Ctrl-C: the first one asks running transfers to stop cleanly (abort the multipart upload,
//! remove the unfinished output); a second one exits at once.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

use crate::output;

static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();

/// Starts listening for Ctrl-C (inside the runtime).
pub fn install() {
    let tx = FLAG.get_or_init(|| watch::channel(false).0);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
            eprintln!("cse: interrupted; cleaning up (Ctrl-C again to quit at once)");
            if tokio::signal::ctrl_c().await.is_ok() {
                output::remove_all();
                std::process::exit(130);
            }
        }
    });
}

/// Completes once Ctrl-C was pressed (never, if [`install`] was not called).
pub async fn interrupted() {
    match FLAG.get() {
        Some(tx) => {
            let mut rx = tx.subscribe();
            let _ = rx.wait_for(|v| *v).await;
        }
        None => std::future::pending().await,
    }
}

/// Completes some time after Ctrl-C, for commands that do not stop by themselves.
pub async fn interrupted_grace() {
    interrupted().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
}
