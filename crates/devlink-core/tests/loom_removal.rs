//! `loom` models of the removal barrier (spec §5.6, A12): every
//! interleaving of submitters, the worker and a waiter, up to the
//! preemption bound set by `cargo xtask test`.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test --release -p devlink-core --test loom_removal`
#![cfg(loom)]

use devlink_core::{Error, RemovalQueue};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

fn start_worker(q: &Arc<RemovalQueue>) -> thread::JoinHandle<()> {
    let q = Arc::clone(q);
    thread::spawn(move || q.run_worker())
}

/// A release queued before the wait began has run when the wait returns.
#[test]
fn queued_before_wait_is_done_when_wait_returns() {
    loom::model(|| {
        let q = RemovalQueue::new();
        let worker = start_worker(&q);
        let done = Arc::new(AtomicBool::new(false));
        let d = Arc::clone(&done);
        assert!(q.submit(Box::new(move || d.store(true, SeqCst))).is_ok());
        q.flush().unwrap();
        assert!(
            done.load(SeqCst),
            "flush returned before an earlier release ran"
        );
        q.close();
        worker.join().unwrap();
    });
}

/// A release queued by another thread while the wait runs never blocks
/// the wait forever (loom reports a deadlock if it could), and anything
/// that thread queued before signalling us is covered.
#[test]
fn queued_during_wait_does_not_block_it_forever() {
    loom::model(|| {
        let q = RemovalQueue::new();
        let worker = start_worker(&q);
        let first = Arc::new(AtomicBool::new(false));
        let signalled = Arc::new(AtomicBool::new(false));
        let submitter = {
            let (q, first, signalled) =
                (Arc::clone(&q), Arc::clone(&first), Arc::clone(&signalled));
            thread::spawn(move || {
                let f = Arc::clone(&first);
                let _ = q.submit(Box::new(move || f.store(true, SeqCst)));
                signalled.store(true, SeqCst);
                let _ = q.submit(Box::new(|| {}));
            })
        };
        let saw_signal = signalled.load(SeqCst);
        q.flush().unwrap();
        if saw_signal {
            assert!(
                first.load(SeqCst),
                "release queued before the wait was missed"
            );
        }
        submitter.join().unwrap();
        q.close();
        worker.join().unwrap();
    });
}

/// Two waiters and two releases: each waiter sees the releases that were
/// queued before it started.
#[test]
fn concurrent_waiters_each_get_their_snapshot() {
    loom::model(|| {
        let q = RemovalQueue::new();
        let worker = start_worker(&q);
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let _ = q.submit(Box::new(move || {
            c.fetch_add(1, SeqCst);
        }));
        let other = {
            let (q, count) = (Arc::clone(&q), Arc::clone(&count));
            thread::spawn(move || {
                q.flush().unwrap();
                assert!(count.load(SeqCst) >= 1);
            })
        };
        q.flush().unwrap();
        assert!(count.load(SeqCst) >= 1);
        other.join().unwrap();
        q.close();
        worker.join().unwrap();
    });
}

/// Waiting from a job on the queue fails instead of deadlocking.
#[test]
fn wait_from_a_release_job_is_an_error() {
    loom::model(|| {
        let q = RemovalQueue::new();
        let worker = start_worker(&q);
        let result = Arc::new(AtomicUsize::new(0));
        let (q2, r) = (Arc::clone(&q), Arc::clone(&result));
        let _ = q.submit(Box::new(move || {
            let v = match q2.flush() {
                Err(Error::WaitFromReleaseJob) => 1,
                _ => 2,
            };
            r.store(v, SeqCst);
        }));
        q.flush().unwrap();
        assert_eq!(result.load(SeqCst), 1);
        q.close();
        worker.join().unwrap();
    });
}

/// Closing drains what is queued; submissions after close are refused
/// (handed back) so the caller can run them itself.
#[test]
fn close_drains_and_refuses_later_jobs() {
    loom::model(|| {
        let q = RemovalQueue::new();
        let worker = start_worker(&q);
        let done = Arc::new(AtomicBool::new(false));
        let d = Arc::clone(&done);
        let _ = q.submit(Box::new(move || d.store(true, SeqCst)));
        q.close();
        worker.join().unwrap();
        assert!(done.load(SeqCst));
        assert!(q.submit(Box::new(|| {})).is_err());
        q.flush().unwrap();
    });
}
