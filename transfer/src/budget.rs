//! The budget of requests in flight (a fair async semaphore) and the cancel flag; both are
//! runtime-agnostic (a mutex and wakers).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

#[derive(Debug)]
struct State {
    free: usize,
    /// Waiting acquirers, first come first served: a small object waits behind no more
    /// than the requests that asked before it.
    queue: VecDeque<(u64, Waker)>,
    next_id: u64,
}

/// Requests (parts, ranges, single PUTs and GETs) allowed in flight at once, shared by
/// every object of a command. Each holds at most one part or range in memory.
#[derive(Clone, Debug)]
pub struct Budget(Arc<Mutex<State>>);

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Budget {
    /// A budget of `n` (at least 1).
    pub fn new(n: usize) -> Self {
        Self(Arc::new(Mutex::new(State {
            free: n.max(1),
            queue: VecDeque::new(),
            next_id: 0,
        })))
    }

    /// Waits for a slot.
    pub fn acquire(&self) -> Acquire {
        Acquire {
            budget: self.clone(),
            id: None,
        }
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        lock(&self.0).free
    }
}

/// A slot of the [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Permit(Budget);

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = lock(&(self.0).0);
        s.free += 1;
        if let Some((_, w)) = s.queue.front() {
            w.wake_by_ref();
        }
    }
}

/// The future of [`Budget::acquire`]; dropping it gives up its place in the queue.
#[derive(Debug)]
pub struct Acquire {
    budget: Budget,
    id: Option<u64>,
}

impl Future for Acquire {
    type Output = Permit;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let budget = self.budget.clone();
        let mut s = lock(&budget.0);
        match self.id {
            None => {
                if s.queue.is_empty() && s.free > 0 {
                    s.free -= 1;
                    return Poll::Ready(Permit(budget.clone()));
                }
                let id = s.next_id;
                s.next_id += 1;
                s.queue.push_back((id, cx.waker().clone()));
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                let first = s.queue.front().is_some_and(|(i, _)| *i == id);
                if first && s.free > 0 {
                    s.queue.pop_front();
                    s.free -= 1;
                    if s.free > 0
                        && let Some((_, w)) = s.queue.front()
                    {
                        w.wake_by_ref();
                    }
                    // Marks this future as done, so its drop does not touch the queue.
                    self.id = Some(u64::MAX);
                    return Poll::Ready(Permit(budget.clone()));
                }
                if let Some(entry) = s.queue.iter_mut().find(|(i, _)| *i == id)
                    && !entry.1.will_wake(cx.waker())
                {
                    entry.1 = cx.waker().clone();
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        if id == u64::MAX {
            return;
        }
        let mut s = lock(&self.budget.0);
        let was_first = s.queue.front().is_some_and(|(i, _)| *i == id);
        s.queue.retain(|(i, _)| *i != id);
        if was_first
            && s.free > 0
            && let Some((_, w)) = s.queue.front()
        {
            w.wake_by_ref();
        }
    }
}

#[derive(Debug, Default)]
struct Flag {
    set: bool,
    /// Set by [`Cancel::suspend`]: work that can continue later is kept.
    keep: bool,
    /// The watchers waiting, each removed when its [`Watch`] drops (so finished objects
    /// leave nothing behind, however many run).
    wakers: Vec<(u64, Waker)>,
    next_id: u64,
}

/// Cancellation: set once by the front end (Ctrl-C, SIGTERM, an `AbortSignal`), seen by
/// every transfer, which then aborts its multipart upload or drops its unverified output.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<Mutex<Flag>>);

impl Cancel {
    /// A flag not set.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Flag> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the flag and wakes whoever waits on it.
    pub fn cancel(&self) {
        let mut f = self.lock();
        f.set = true;
        for (_, w) in f.wakers.drain(..) {
            w.wake();
        }
    }

    /// Sets the flag like [`Cancel::cancel`], asking that work which can continue later (a
    /// resumable upload) be kept rather than removed: the session or the machine is going
    /// away (SIGHUP, SIGTERM), the user did not ask to throw the work away.
    pub fn suspend(&self) {
        self.lock().keep = true;
        self.cancel();
    }

    /// Whether it is set.
    pub fn is_cancelled(&self) -> bool {
        self.lock().set
    }

    /// Whether it was set by [`Cancel::suspend`].
    pub fn keeps_work(&self) -> bool {
        let f = self.lock();
        f.set && f.keep
    }

    /// A watcher of the flag, for one task.
    pub fn watch(&self) -> Watch {
        let mut f = self.lock();
        f.next_id += 1;
        Watch {
            cancel: self.clone(),
            id: f.next_id,
        }
    }

    /// Completes once the flag is set.
    pub async fn cancelled(&self) {
        let mut w = self.watch();
        std::future::poll_fn(|cx| w.poll_cancelled(cx)).await;
    }
}

/// Watches a [`Cancel`] flag from one task; its waker is forgotten when it drops.
#[derive(Debug)]
pub struct Watch {
    cancel: Cancel,
    id: u64,
}

impl Watch {
    /// Ready once the flag is set; registers the waker otherwise.
    pub fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut f = self.cancel.lock();
        if f.set {
            return Poll::Ready(());
        }
        match f.wakers.iter_mut().find(|(i, _)| *i == self.id) {
            Some((_, w)) if w.will_wake(cx.waker()) => {}
            Some((_, w)) => *w = cx.waker().clone(),
            None => f.wakers.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let id = self.id;
        self.cancel.lock().wakers.retain(|(i, _)| *i != id);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Polls `f` until ready (no other tasks: every wake is a poll).
    pub fn block_on<F: Future>(f: F) -> F::Output {
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        for _ in 0..1_000_000 {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
        panic!("future never completed");
    }

    fn poll<F: Future + Unpin>(f: &mut F, w: &Waker) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(w))
    }

    #[test]
    fn permits_come_back_and_waiters_are_served_in_order() {
        let b = Budget::new(2);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(count.clone());
        let p1 = block_on(b.acquire());
        let p2 = block_on(b.acquire());
        assert_eq!(b.available(), 0);
        let mut a = b.acquire();
        let mut c = b.acquire();
        assert!(poll(&mut a, &w).is_pending());
        assert!(poll(&mut c, &w).is_pending());
        drop(p1);
        assert!(count.0.load(Ordering::SeqCst) >= 1);
        // The later waiter cannot pass the earlier one.
        assert!(poll(&mut c, &w).is_pending());
        let pa = match poll(&mut a, &w) {
            Poll::Ready(p) => p,
            Poll::Pending => panic!("first waiter not served"),
        };
        drop(p2);
        assert!(poll(&mut c, &w).is_ready());
        drop(pa);
        drop(c);
        assert_eq!(b.available(), 2);
    }

    #[test]
    fn a_dropped_waiter_leaves_the_queue() {
        let b = Budget::new(1);
        let w = Waker::noop().clone();
        let p = block_on(b.acquire());
        let mut a = b.acquire();
        let mut c = b.acquire();
        assert!(poll(&mut a, &w).is_pending());
        assert!(poll(&mut c, &w).is_pending());
        drop(a);
        drop(p);
        assert!(poll(&mut c, &w).is_ready());
    }

    #[test]
    fn cancel_wakes_and_sticks() {
        let c = Cancel::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(count.clone());
        let mut cx = Context::from_waker(&w);
        let mut watch = c.watch();
        assert!(watch.poll_cancelled(&mut cx).is_pending());
        {
            // A watcher that goes away leaves no waker behind.
            let mut other = c.watch();
            assert!(other.poll_cancelled(&mut cx).is_pending());
        }
        assert_eq!(c.lock().wakers.len(), 1);
        c.clone().cancel();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(c.is_cancelled() && watch.poll_cancelled(&mut cx).is_ready());
    }
}
