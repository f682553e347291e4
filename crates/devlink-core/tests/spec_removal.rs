//! Spec `device-links.md` §8, behaviours 65–69: the removal queue
//! (`device_link_wq`) and its barrier `wait_removal`
//! (`device_link_wait_removal`, §5.4–§5.7).

mod common;
use common::*;
use devlink_core::*;
use futures::future::join;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Long enough that a test hangs visibly instead of forever; never a
/// timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// A registered platform device whose release hook sends its name.
fn watched(b: &Bench, name: &str, tx: &mpsc::Sender<String>) -> Device {
    let tx = tx.clone();
    let d = b
        .core
        .device(name)
        .bus("platform")
        .on_release(move |n| tx.send(n.to_string()).unwrap())
        .create();
    block_on(b.core.device_add(&d)).unwrap();
    d
}

#[test]
fn b65_wait_removal_completes_releases_queued_before_it() {
    let b = Bench::new();
    let (tx, released) = mpsc::channel();
    let s = b.dev("s");
    let c1 = watched(&b, "c1", &tx);
    let c2 = watched(&b, "c2", &tx);
    let l1 = b.core.link_add(&c1, &s, LinkFlags::empty()).unwrap();
    let l2 = b.core.link_add(&c2, &s, LinkFlags::STATELESS).unwrap();
    assert_eq!(s.refcount(), 4, "handle + registration + two links");

    let hold = b.core.hold_removals();
    block_on(b.core.device_del(&c1)).unwrap();
    block_on(b.core.device_del(&c2)).unwrap();
    assert!(!l1.exists() && !l2.exists(), "deleted synchronously");
    assert_eq!(c1.refcount(), 2, "our handle + the pending release");
    drop(c1);
    drop(c2);
    assert_eq!(b.core.removal_queue().pending(), 2);
    assert!(released.try_recv().is_err(), "the links still hold them");
    assert_eq!(s.refcount(), 4);

    // Release the worker from elsewhere while we are inside the barrier.
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(hold);
    });
    b.core.wait_removal().unwrap();

    assert_eq!(b.core.removal_queue().pending(), 0);
    assert_eq!(s.refcount(), 2, "both links' supplier references dropped");
    let mut names: Vec<String> = released.try_iter().collect();
    names.sort();
    assert_eq!(names, ["c1", "c2"], "devices with no other holder released");
    t.join().unwrap();
}

#[test]
fn b66_release_queued_after_wait_began_is_not_waited_for() {
    // The late release is queued by the first release itself, so it is
    // after the barrier's snapshot by construction. The async form takes
    // its snapshot at its first poll, which makes the order deterministic
    // on one thread.
    let b = Bench::new();
    let (started_tx, started) = mpsc::channel::<()>();
    let (unblock, unblock_rx) = mpsc::channel::<()>();
    let late_done = Arc::new(AtomicBool::new(false));

    // D is held only by the stateless link D→E; its release blocks.
    let e = b.dev("e");
    let d = {
        let late_done = Arc::clone(&late_done);
        b.core
            .device("d")
            .bus("platform")
            .on_release(move |_| {
                started_tx.send(()).unwrap();
                unblock_rx.recv().unwrap();
                late_done.store(true, Ordering::SeqCst);
            })
            .create()
    };
    let late = b.core.link_add(&d, &e, LinkFlags::STATELESS).unwrap();
    drop(d);

    // A's release (queued before the barrier) deletes D→E.
    let s = b.dev("s");
    let a = {
        let core = b.core.clone();
        b.core
            .device("a")
            .bus("platform")
            .on_release(move |_| core.link_del(&late).unwrap())
            .create()
    };
    block_on(b.core.device_add(&a)).unwrap();
    b.core.link_add(&a, &s, LinkFlags::empty()).unwrap();
    let hold = b.core.hold_removals();
    block_on(b.core.device_del(&a)).unwrap();
    drop(a);
    assert_eq!(b.core.removal_queue().pending(), 1);

    let returned = Cell::new(false);
    let mut hold = Some(hold);
    let (r, ()) = block_on(join(
        async {
            let r = b.core.wait_removal_async().await;
            returned.set(true);
            r
        },
        async {
            drop(hold.take()); // the barrier has its snapshot by now
            until("barrier returned", || returned.get()).await;
        },
    ));
    r.unwrap();
    started
        .recv_timeout(HANG_GUARD)
        .expect("the late release started");
    assert!(
        !late_done.load(Ordering::SeqCst),
        "the barrier returned while the late release was still running"
    );
    assert_eq!(b.core.removal_queue().pending(), 1);
    assert_eq!(s.refcount(), 2, "the early release did complete");

    unblock.send(()).unwrap();
    b.core.wait_removal().unwrap();
    assert!(late_done.load(Ordering::SeqCst));
    assert_eq!(e.refcount(), 2);
}

#[test]
fn b67_empty_queue_wait_returns_without_blocking() {
    // Nothing ever queued.
    let b = Bench::new();
    assert_eq!(b.core.removal_queue().counters(), (0, 0));
    b.core.wait_removal().unwrap();

    // Everything queued has run; the worker is now held, so a barrier that
    // waited for any release (or for the worker) would never return.
    let s = b.dev("s");
    let c = b.dev("c");
    b.core.link_add(&c, &s, LinkFlags::empty()).unwrap();
    block_on(b.core.device_del(&c)).unwrap();
    b.core.wait_removal().unwrap();
    let counters = b.core.removal_queue().counters();
    assert_eq!(counters, (1, 1));
    let hold = b.core.hold_removals();

    let (tx, rx) = mpsc::channel();
    let core = b.core.clone();
    std::thread::spawn(move || tx.send(core.wait_removal()).unwrap());
    rx.recv_timeout(HANG_GUARD)
        .expect("wait_removal blocked on an empty queue")
        .unwrap();
    b.core.wait_removal().unwrap();
    block_on(b.core.wait_removal_async()).unwrap();
    assert_eq!(b.core.removal_queue().counters(), counters);
    drop(hold);
}

#[test]
fn b68_wait_removal_from_a_release_job_fails_instead_of_deadlocking() {
    let b = Bench::new();
    let (tx, rx) = mpsc::channel();
    let s = b.dev("s");
    let x = {
        let core = b.core.clone();
        b.core
            .device("x")
            .bus("platform")
            .on_release(move |name| {
                let on_worker = core.removal_queue().on_worker();
                tx.send((name.to_string(), on_worker, core.wait_removal()))
                    .unwrap();
            })
            .create()
    };
    block_on(b.core.device_add(&x)).unwrap();
    b.core.link_add(&x, &s, LinkFlags::empty()).unwrap();
    // Hold the worker so the link release, not our drop, is the last put.
    let hold = b.core.hold_removals();
    block_on(b.core.device_del(&x)).unwrap();
    drop(x);
    drop(hold);

    let (name, on_worker, result) = rx
        .recv_timeout(HANG_GUARD)
        .expect("the release callback ran (and did not deadlock)");
    assert_eq!(name, "x");
    assert!(on_worker, "the release ran on the removal worker");
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::WaitFromReleaseJob),
        "expected WaitFromReleaseJob, got {err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Busy);

    // The worker survived: the barrier and later releases still work.
    b.core.wait_removal().unwrap();
    assert_eq!(b.core.removal_queue().pending(), 0);
    assert_eq!(b.core.removal_queue().panicked(), 0);
    let c = b.dev("c");
    b.core.link_add(&c, &s, LinkFlags::empty()).unwrap();
    block_on(b.core.device_del(&c)).unwrap();
    b.core.wait_removal().unwrap();
    assert_eq!(s.refcount(), 2);
}

#[test]
fn b69_worker_spawn_failure_fails_core_creation_and_leaves_nothing() {
    let diag = Arc::new(Diagnostics::new());
    let ran = Arc::new(AtomicBool::new(false));
    let err = {
        let ran = Arc::clone(&ran);
        DriverCore::builder()
            .diagnostics(Arc::clone(&diag))
            .spawn_worker_with(move |work| {
                drop(work); // never run
                ran.store(true, Ordering::SeqCst);
                Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "thread limit reached",
                ))
            })
            .build()
            .unwrap_err()
    };
    assert!(ran.load(Ordering::SeqCst), "the spawner was asked");
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(matches!(err, Error::WorkerSpawn { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("keeps the cause");
    assert!(source.to_string().contains("thread limit reached"));
    assert_eq!(
        Arc::strong_count(&diag),
        1,
        "nothing created before the failure remains"
    );
    assert!(diag.is_empty());

    // The same diagnostics log works for a core that does start, and is
    // handed back when that core goes.
    let core = DriverCore::builder()
        .diagnostics(Arc::clone(&diag))
        .build()
        .unwrap();
    assert!(Arc::strong_count(&diag) > 1);
    drop(core);
    assert_eq!(Arc::strong_count(&diag), 1);
}
