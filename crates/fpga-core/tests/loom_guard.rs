//! `loom` models of the owner/unregister protocol of spec `fpga.md` §4.3
//! on the ops guard every manager, bridge and region has: a `get` racing
//! an unregister and an owner unload either pins a live owner or fails
//! with `ENODEV`; no backend op runs once unregister has returned (or
//! starts after it began); unregister never waits for a holder; the remove
//! hook runs exactly once however many unregisters race; no pin is lost.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test --release -p fpga-core --test loom_guard`
#![cfg(loom)]

use devlink_core::{ErrorKind, Module, ModuleState};
use fpga_core::OpsGuard;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

/// Runs a future that never waits: under loom the guard's waits yield to
/// loom's scheduler instead of returning `Pending`.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a guard wait returned Pending under loom"),
    }
}

/// A holder's life: get (pin), one backend op, put.
fn holder(
    guard: &OpsGuard,
    owner: &Module,
    op_running: &AtomicBool,
    unregistered: &AtomicBool,
) -> bool {
    let Ok(pin) = guard.pin("fpga0") else {
        return false;
    };
    if pin.is_some() {
        assert_eq!(owner.state(), ModuleState::Live, "pin on a going owner");
    }
    if let Ok(ticket) = guard.enter("fpga0") {
        op_running.store(true, SeqCst);
        assert!(!unregistered.load(SeqCst), "op admitted after unregister");
        op_running.store(false, SeqCst);
        drop(ticket);
    }
    guard.unpin(pin);
    true
}

/// The whole unregister sequence, counting calls of the remove hook.
async fn unregister(guard: &OpsGuard, removes: &AtomicUsize) {
    let remove = async {
        removes.fetch_add(1, SeqCst);
    };
    guard.unregister_once("fpga0", Some(remove), async {}).await;
}

/// The registration's exit hook: the owner's unload unregisters the object.
fn unregister_on_unload(owner: &Module, guard: &Arc<OpsGuard>, removes: &Arc<AtomicUsize>) -> u64 {
    let (g, n) = (guard.clone(), removes.clone());
    owner.add_exit_hook(Box::new(move || {
        Box::pin(async move { unregister(&g, &n).await })
    }))
}

#[test]
fn get_and_op_racing_unregister() {
    loom::model(|| {
        let owner = Module::new("lowlevel");
        let guard = Arc::new(OpsGuard::new(Some(owner.clone())));
        let op_running = Arc::new(AtomicBool::new(false));
        let unregistered = Arc::new(AtomicBool::new(false));
        let t = {
            let (g, r, u) = (guard.clone(), op_running.clone(), unregistered.clone());
            let o = owner.clone();
            thread::spawn(move || holder(&g, &o, &r, &u))
        };
        assert!(block_on(guard.unregister()));
        // Nothing in flight once unregister returns, and nothing after.
        assert!(!op_running.load(SeqCst), "op still running");
        unregistered.store(true, SeqCst);
        assert!(guard.enter("fpga0").is_err());
        let e = guard.pin("fpga0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoDevice);
        t.join().unwrap();
        assert_eq!(owner.pins(), 0, "a pin was lost");
    });
}

#[test]
fn get_racing_owner_unload() {
    loom::model(|| {
        let owner = Module::new("lowlevel");
        let guard = Arc::new(OpsGuard::new(Some(owner.clone())));
        let removes = Arc::new(AtomicUsize::new(0));
        let hook = unregister_on_unload(&owner, &guard, &removes);
        let op_running = Arc::new(AtomicBool::new(false));
        let never = Arc::new(AtomicBool::new(false));
        let t = {
            let (g, r, u) = (guard.clone(), op_running.clone(), never.clone());
            let o = owner.clone();
            thread::spawn(move || holder(&g, &o, &r, &u))
        };
        let unloaded = match block_on(owner.unload()) {
            Ok(()) => true,
            Err(e) => {
                // Refused only because the holder had its pin.
                assert_eq!(e.kind(), ErrorKind::Busy);
                false
            }
        };
        let got = t.join().unwrap();
        assert_eq!(owner.pins(), 0, "a pin was lost");
        if unloaded {
            assert_eq!(owner.state(), ModuleState::Gone);
            assert!(guard.is_unregistered());
            assert_eq!(removes.load(SeqCst), 1);
            assert!(guard.pin("fpga0").is_err());
        } else {
            assert!(got, "unload refused without a holder");
            assert_eq!(removes.load(SeqCst), 0);
            assert!(!guard.is_unregistered());
            // The hook holds the guard, which holds the owner: break the
            // cycle as a later unregister would.
            assert!(owner.remove_exit_hook(hook));
        }
    });
}

#[test]
fn explicit_unregister_racing_unload_removes_once() {
    loom::model(|| {
        let owner = Module::new("lowlevel");
        let guard = Arc::new(OpsGuard::new(Some(owner.clone())));
        let removes = Arc::new(AtomicUsize::new(0));
        let hook = unregister_on_unload(&owner, &guard, &removes);
        guard.set_exit_hook(Some(hook));
        let t = {
            let (g, n) = (guard.clone(), removes.clone());
            thread::spawn(move || {
                block_on(unregister(&g, &n));
                // Returned: the sequence is complete, whoever ran it.
                assert!(g.is_unregistered());
                assert_eq!(n.load(SeqCst), 1);
            })
        };
        block_on(owner.unload()).unwrap();
        // The unload cannot finish before the object is unregistered.
        assert!(guard.is_unregistered());
        assert_eq!(removes.load(SeqCst), 1);
        t.join().unwrap();
        assert_eq!(removes.load(SeqCst), 1, "remove ran twice");
    });
}
