//! The removal queue: the user-space counterpart of the kernel's
//! `device_link_wq` and of `device_link_wait_removal()` (spec §5.4–§5.7).
//!
//! A deleted link's release (dropping its references to both devices, which
//! may run device and firmware-node release callbacks) is a [`Job`] run on a
//! dedicated worker thread. [`RemovalQueue::flush`] is the barrier.
//!
//! **Snapshot semantics (spec §5.6, A12).** `flush` waits for every job that
//! was submitted *before the call began*, and for nothing else: a job
//! submitted while it waits may or may not have run when it returns. The
//! worker runs jobs one at a time in submission order, so "the first `n`
//! submitted jobs are done" is a single counter; `flush` reads the number
//! submitted, then waits until that many are completed. With nothing pending
//! it reads two atomics and returns: no lock, no system call.

use crate::error::{Error, Result};
use crate::sync::{lock, Arc, AtomicU64, Condvar, Mutex, Ordering};
use std::collections::VecDeque;
use std::time::Duration;

/// A unit of deferred release work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

static NEXT_QUEUE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[cfg(not(loom))]
std::thread_local! {
    static CURRENT_QUEUE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}
#[cfg(loom)]
loom::thread_local! {
    static CURRENT_QUEUE: std::cell::Cell<u64> = std::cell::Cell::new(0);
}

struct QueueState {
    jobs: VecDeque<Job>,
    /// No new jobs; the worker drains what is queued and exits.
    closing: bool,
    /// While non-zero the worker runs nothing (tests hold releases back).
    held: usize,
    /// Sleep before each job (simulates a slow SRCU grace period).
    delay: Duration,
    /// Jobs that panicked (they still count as completed).
    panicked: u64,
}

/// The queue and its counters. Create one with [`RemovalQueue::new`] and
/// run [`RemovalQueue::run_worker`] on a thread of its own (the
/// [`crate::DriverCore`] does both).
pub struct RemovalQueue {
    id: u64,
    state: Mutex<QueueState>,
    work_cv: Condvar,
    done_cv: Condvar,
    submitted: AtomicU64,
    completed: AtomicU64,
    #[cfg(not(loom))]
    done_event: event_listener::Event,
}

impl std::fmt::Debug for RemovalQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemovalQueue")
            .field("submitted", &self.submitted.load(Ordering::Relaxed))
            .field("completed", &self.completed.load(Ordering::Relaxed))
            .finish()
    }
}

impl RemovalQueue {
    /// An empty, open queue with no worker yet.
    pub fn new() -> Arc<Self> {
        Arc::new(RemovalQueue {
            id: NEXT_QUEUE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            state: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                closing: false,
                held: 0,
                delay: Duration::ZERO,
                panicked: 0,
            }),
            work_cv: Condvar::new(),
            done_cv: Condvar::new(),
            submitted: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            #[cfg(not(loom))]
            done_event: event_listener::Event::new(),
        })
    }

    /// Queues a job. If the queue is closed (its core was dropped), the job
    /// is handed back so the caller can run it itself once it holds no lock.
    pub fn submit(&self, job: Job) -> std::result::Result<(), Job> {
        let mut st = lock(&self.state);
        if st.closing {
            return Err(job);
        }
        st.jobs.push_back(job);
        self.submitted.fetch_add(1, Ordering::AcqRel);
        drop(st);
        self.work_cv.notify_one();
        Ok(())
    }

    /// Number of jobs submitted and not yet completed.
    pub fn pending(&self) -> u64 {
        let submitted = self.submitted.load(Ordering::Acquire);
        submitted.saturating_sub(self.completed.load(Ordering::Acquire))
    }

    /// `(submitted, completed)` counters since creation.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.submitted.load(Ordering::Acquire),
            self.completed.load(Ordering::Acquire),
        )
    }

    /// Jobs that panicked (each is logged as completed so waiters never hang).
    pub fn panicked(&self) -> u64 {
        lock(&self.state).panicked
    }

    /// Whether the calling thread is this queue's worker running a job.
    pub fn on_worker(&self) -> bool {
        CURRENT_QUEUE.with(|c| c.get()) == self.id
    }

    /// Returns the snapshot target, or `None` if it is already reached.
    fn snapshot(&self) -> Result<Option<u64>> {
        if self.on_worker() {
            return Err(Error::WaitFromReleaseJob);
        }
        let target = self.submitted.load(Ordering::Acquire);
        if self.completed.load(Ordering::Acquire) >= target {
            return Ok(None);
        }
        Ok(Some(target))
    }

    /// Blocks until every job submitted before this call has completed
    /// (`flush_workqueue(device_link_wq)`). Fails with
    /// [`Error::WaitFromReleaseJob`] when called from a job on this queue.
    pub fn flush(&self) -> Result<()> {
        let Some(target) = self.snapshot()? else {
            return Ok(());
        };
        let mut st = lock(&self.state);
        while self.completed.load(Ordering::Acquire) < target {
            st = match self.done_cv.wait(st) {
                Ok(g) => g,
                Err(e) => e.into_inner(),
            };
        }
        Ok(())
    }

    /// Like [`flush`](Self::flush), giving up after `timeout`; returns
    /// whether the snapshot was reached.
    #[cfg(not(loom))]
    pub fn flush_timeout(&self, timeout: Duration) -> Result<bool> {
        let Some(target) = self.snapshot()? else {
            return Ok(true);
        };
        // A timeout too large for the clock waits without a deadline.
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut st = lock(&self.state);
        while self.completed.load(Ordering::Acquire) < target {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(false),
                },
                None => Duration::from_secs(3600),
            };
            st = match self.done_cv.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        Ok(true)
    }

    /// The `async` flush: same guarantee, without blocking the executor's
    /// thread. Works on any executor.
    #[cfg(not(loom))]
    pub async fn flush_async(&self) -> Result<()> {
        let Some(target) = self.snapshot()? else {
            return Ok(());
        };
        loop {
            let listener = self.done_event.listen();
            if self.completed.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            listener.await;
        }
    }

    /// Holds the worker back: while any returned guard lives, no job runs
    /// (jobs still queue). Used by tests and by the simulator's delay knob.
    #[cfg(not(loom))]
    pub fn hold(self: &Arc<Self>) -> RemovalHold {
        lock(&self.state).held += 1;
        RemovalHold {
            queue: Arc::clone(self),
        }
    }

    /// Sleeps `delay` before each job from now on.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// Stops accepting jobs; the worker finishes what is queued, then
    /// returns from [`run_worker`](Self::run_worker). Holds are ignored from
    /// now on so closing always terminates.
    pub fn close(&self) {
        lock(&self.state).closing = true;
        self.work_cv.notify_all();
    }

    /// The worker loop. Returns once the queue is closed and drained.
    ///
    /// Jobs are taken in batches (one lock round trip for up to
    /// `BATCH` jobs); the completed counter advances after each job, and
    /// waiters are woken once per batch. A hold taken while a batch runs
    /// lets that batch finish and stops the next one.
    pub fn run_worker(&self) {
        CURRENT_QUEUE.with(|c| c.set(self.id));
        let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
        let mut st = lock(&self.state);
        loop {
            let runnable = !st.jobs.is_empty() && (st.held == 0 || st.closing);
            if !runnable {
                if st.closing && st.jobs.is_empty() {
                    break;
                }
                st = match self.work_cv.wait(st) {
                    Ok(g) => g,
                    Err(e) => e.into_inner(),
                };
                continue;
            }
            let take = st.jobs.len().min(BATCH);
            batch.extend(st.jobs.drain(..take));
            let delay = st.delay;
            drop(st);
            let mut panicked = 0;
            for job in batch.drain(..) {
                if !delay.is_zero() {
                    #[cfg(not(loom))]
                    std::thread::sleep(delay);
                }
                if !run_job(job) {
                    panicked += 1;
                }
                self.completed.fetch_add(1, Ordering::AcqRel);
            }
            st = lock(&self.state);
            st.panicked += panicked;
            self.done_cv.notify_all();
            #[cfg(not(loom))]
            self.done_event.notify(usize::MAX);
        }
        drop(st);
        CURRENT_QUEUE.with(|c| c.set(0));
    }
}

/// Most jobs the worker takes per lock round trip.
pub const BATCH: usize = 256;

#[cfg(not(loom))]
fn run_job(job: Job) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_ok()
}

#[cfg(loom)]
fn run_job(job: Job) -> bool {
    job();
    true
}

/// Keeps the removal worker from running jobs while it lives
/// (see [`RemovalQueue::hold`]).
#[must_use = "the hold ends when this guard is dropped"]
pub struct RemovalHold {
    queue: Arc<RemovalQueue>,
}

impl Drop for RemovalHold {
    fn drop(&mut self) {
        lock(&self.queue.state).held -= 1;
        self.queue.work_cv.notify_all();
    }
}
