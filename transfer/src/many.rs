//! Many objects at once: a stream of jobs (a directory walk, a listing read page by page),
//! at most `concurrency` objects started, each taking slots of the shared budget for its
//! requests; the first failure stops new work, what is in flight finishes, and a
//! [`Summary`] tells what was and was not copied.

use std::future::{Future, poll_fn};
use std::task::Poll;

use cse_s3::{Client, ObjectInfo, S3Error};
use futures_util::StreamExt;
use futures_util::stream::{FuturesUnordered, Stream};

use crate::{Cancel, Error};

/// Names kept of the objects not copied.
const NAMES_KEPT: usize = 10;

/// An error of one object: the drivers' [`Error`], or the front end's own.
pub trait ObjectError {
    /// Whether it is a cancel (then the rest is not read to be counted).
    fn is_cancelled(&self) -> bool;
}

impl ObjectError for Error {
    fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }
}

/// What a run of many objects did.
#[derive(Debug)]
pub struct Summary<Er = Error> {
    /// Objects copied.
    pub copied: u64,
    /// Objects that failed, with the first error of each (at most [`NAMES_KEPT`] kept).
    pub failed: Vec<(String, Er)>,
    /// Objects that failed in all.
    pub failed_count: u64,
    /// Objects not started because of an earlier failure (counted when the jobs can still
    /// be read: a listing that failed or a cancel leaves it unknown).
    pub not_started: u64,
    /// The first names of those.
    pub not_started_names: Vec<String>,
    /// Whether more objects may exist that were never looked at (listing failed, cancelled).
    pub rest_unknown: bool,
    /// An error reading the jobs (the listing), if any.
    pub listing: Option<Er>,
    /// Whether the run was cancelled.
    pub cancelled: bool,
}

impl<Er> Default for Summary<Er> {
    fn default() -> Self {
        Self {
            copied: 0,
            failed: Vec::new(),
            failed_count: 0,
            not_started: 0,
            not_started_names: Vec::new(),
            rest_unknown: false,
            listing: None,
            cancelled: false,
        }
    }
}

impl<Er> Summary<Er> {
    /// The error that decides the exit status: the listing's, else the first failure's.
    pub fn first_error(&self) -> Option<&Er> {
        self.listing
            .as_ref()
            .or_else(|| self.failed.first().map(|(_, e)| e))
    }

    /// Whether everything was copied.
    pub fn is_complete(&self) -> bool {
        self.failed_count == 0 && self.listing.is_none() && !self.cancelled
    }
}

/// Runs `work` on every job of `jobs`, `concurrency` objects at once (each also takes budget
/// slots for its requests). `label` names a job for the summary; `done` is told of each
/// result as it comes. After the first failure no job starts, those in flight finish, and the
/// rest of `jobs` is only read to count and name it (not after a cancel).
pub async fn run_all<J, T, Er, St, F, Fut>(
    jobs: St,
    concurrency: usize,
    cancel: &Cancel,
    label: impl Fn(&J) -> String,
    work: F,
    mut done: impl FnMut(&str, &Result<T, Er>),
) -> Summary<Er>
where
    Er: ObjectError,
    St: Stream<Item = Result<J, Er>>,
    F: Fn(J) -> Fut,
    Fut: Future<Output = Result<T, Er>>,
{
    let mut jobs = std::pin::pin!(jobs);
    let mut running = FuturesUnordered::new();
    let mut summary = Summary::default();
    let mut jobs_ended = false;
    let mut stopped = false;
    enum Event<J, T, Er> {
        Job(Option<Result<J, Er>>),
        Done(String, Result<T, Er>),
    }
    loop {
        let want_job = !jobs_ended && !stopped && running.len() < concurrency.max(1);
        if !want_job && running.is_empty() {
            break;
        }
        let event = poll_fn(|cx| {
            if let Poll::Ready(Some((l, r))) = running.poll_next_unpin(cx) {
                return Poll::Ready(Event::Done(l, r));
            }
            if want_job && let Poll::Ready(j) = jobs.as_mut().poll_next(cx) {
                return Poll::Ready(Event::Job(j));
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Job(None) => jobs_ended = true,
            Event::Job(Some(Err(e))) => {
                summary.listing = Some(e);
                summary.rest_unknown = true;
                jobs_ended = true;
                stopped = true;
            }
            Event::Job(Some(Ok(job))) => {
                if cancel.is_cancelled() {
                    stopped = true;
                    summary.cancelled = true;
                    summary.rest_unknown = true;
                    continue;
                }
                let l = label(&job);
                let fut = work(job);
                running.push(async move { (l, fut.await) });
            }
            Event::Done(l, r) => {
                done(&l, &r);
                match r {
                    Ok(_) => summary.copied += 1,
                    Err(e) => {
                        if e.is_cancelled() {
                            summary.cancelled = true;
                            summary.rest_unknown = true;
                        }
                        stopped = true;
                        summary.failed_count += 1;
                        if summary.failed.len() < NAMES_KEPT {
                            summary.failed.push((l, e));
                        }
                    }
                }
            }
        }
    }
    // After a failure (not a cancel), count and name what was not started.
    if stopped && !jobs_ended && !summary.cancelled {
        while let Some(j) = jobs.next().await {
            match j {
                Ok(job) => {
                    summary.not_started += 1;
                    if summary.not_started_names.len() < NAMES_KEPT {
                        summary.not_started_names.push(label(&job));
                    }
                }
                Err(_) => {
                    summary.rest_unknown = true;
                    break;
                }
            }
        }
    } else if stopped && !jobs_ended {
        summary.rest_unknown = true;
    }
    summary
}

/// Every object under `prefix`, read page by page from ListObjectsV2 as the stream is
/// consumed (one page of at most 1 000 keys in memory, whatever the number of objects).
pub fn list<'a>(
    client: &'a Client,
    bucket: &'a str,
    prefix: &'a str,
) -> impl Stream<Item = Result<ObjectInfo, Error>> + 'a {
    struct State {
        token: Option<String>,
        done: bool,
    }
    let pages = futures_util::stream::unfold(
        State {
            token: None,
            done: false,
        },
        move |mut st| async move {
            if st.done {
                return None;
            }
            let page = client
                .list_objects(bucket, prefix, None, st.token.as_deref())
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    st.done = true;
                    return Some((Err(Error::from(e)), st));
                }
            };
            match page.next_token.clone() {
                Some(t) if st.token.as_ref() == Some(&t) => {
                    st.done = true;
                    let e = S3Error::Protocol {
                        operation: format!("GET s3://{bucket}/ (list-type)"),
                        detail: "the listing gave the same continuation token twice".into(),
                    };
                    return Some((Err(e.into()), st));
                }
                Some(t) => st.token = Some(t),
                None => st.done = true,
            }
            Some((Ok(page.objects), st))
        },
    );
    pages.flat_map(|page| {
        let items: Vec<Result<ObjectInfo, Error>> = match page {
            Ok(objects) => objects.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures_util::stream::iter(items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::tests::block_on;
    use std::cell::RefCell;

    #[test]
    fn the_first_failure_stops_new_work_and_the_rest_is_named() {
        let jobs = futures_util::stream::iter((0..20).map(Ok::<u32, Error>));
        let started = RefCell::new(Vec::new());
        let cancel = Cancel::new();
        let summary = block_on(run_all(
            jobs,
            4,
            &cancel,
            |j| format!("job{j}"),
            |j| {
                started.borrow_mut().push(j);
                async move {
                    if j == 5 {
                        Err(Error::Local("disk full".into()))
                    } else {
                        Ok(j)
                    }
                }
            },
            |_, _| {},
        ));
        assert_eq!(summary.failed_count, 1);
        assert_eq!(summary.failed[0].0, "job5");
        // Jobs complete as soon as polled here: none starts after job 5 failed.
        assert_eq!(*started.borrow(), (0..=5).collect::<Vec<_>>());
        assert_eq!(summary.copied, 5);
        assert_eq!(summary.not_started, 14);
        assert_eq!(summary.not_started_names[0], "job6");
        assert!(!summary.is_complete() && !summary.rest_unknown);
    }

    #[test]
    fn all_jobs_run_with_bounded_concurrency() {
        let jobs = futures_util::stream::iter((0..100).map(Ok::<u32, Error>));
        let live = RefCell::new(0usize);
        let peak = RefCell::new(0usize);
        let cancel = Cancel::new();
        let summary = block_on(run_all(
            jobs,
            7,
            &cancel,
            |j| j.to_string(),
            |_| {
                let (live, peak) = (&live, &peak);
                *live.borrow_mut() += 1;
                let now = *live.borrow();
                peak.replace_with(|p| (*p).max(now));
                async move {
                    // Yield a few times, so several are alive together.
                    let mut left = 3;
                    poll_fn(|cx| {
                        if left == 0 {
                            Poll::Ready(())
                        } else {
                            left -= 1;
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                    })
                    .await;
                    *live.borrow_mut() -= 1;
                    Ok::<_, Error>(())
                }
            },
            |_, _| {},
        ));
        assert_eq!(summary.copied, 100);
        assert!(summary.is_complete());
        assert!(
            *peak.borrow() <= 7 && *peak.borrow() > 1,
            "{}",
            peak.borrow()
        );
    }

    #[test]
    fn a_listing_error_is_reported_and_stops() {
        let jobs = futures_util::stream::iter(vec![
            Ok(1u32),
            Err(Error::Local("listing broke".into())),
            Ok(2),
        ]);
        let cancel = Cancel::new();
        let s = block_on(run_all(
            jobs,
            2,
            &cancel,
            |j| j.to_string(),
            |_| async { Ok::<_, Error>(()) },
            |_, _| {},
        ));
        assert_eq!(s.copied, 1);
        assert!(s.listing.is_some() && s.rest_unknown && !s.is_complete());
    }
}
