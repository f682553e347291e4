//! Device-managed actions (`devm_add_action`): when they run and in what
//! order, for a bound device (unbind, failed probe), a device with no
//! driver (`device_del`, else the last reference, as `device_release`'s
//! `devres_release_all` does), and async actions (awaited where the release
//! is async, driven to their end where it is not).

mod common;
use common::*;
use devlink_core::*;
use futures::future::join;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn flag() -> (Arc<AtomicBool>, impl FnOnce() + Send + 'static) {
    let f = Arc::new(AtomicBool::new(false));
    let g = f.clone();
    (f, move || g.store(true, Ordering::SeqCst))
}

#[test]
fn a_driverless_device_releases_its_actions_when_deleted() {
    let b = Bench::new();
    let d = b.dev("lonely");
    let (ran, action) = flag();
    d.devres_add(action);
    assert!(!ran.load(Ordering::SeqCst), "nothing released yet");
    block_on(b.core.device_del(&d)).unwrap();
    assert!(ran.load(Ordering::SeqCst), "device_del released it");
    drop(d);
}

#[test]
fn a_device_never_deleted_releases_its_actions_at_its_last_reference() {
    let b = Bench::new();
    let d = b.init("never-added");
    let (ran, action) = flag();
    d.devres_add(action);
    let other = d.clone();
    drop(d);
    assert!(!ran.load(Ordering::SeqCst), "a reference is still held");
    drop(other);
    assert!(ran.load(Ordering::SeqCst), "the last reference released it");
}

#[test]
fn actions_run_once_newest_first_sync_and_async_alike() {
    let b = Bench::new();
    let d = b.dev("order");
    for i in 0..4 {
        let log = b.log.clone();
        if i % 2 == 0 {
            d.devres_add(move || log.push(format!("sync {i}")));
        } else {
            d.devres_add_async(move || Box::pin(async move { log.push(format!("async {i}")) }));
        }
    }
    block_on(b.core.device_del(&d)).unwrap();
    drop(d);
    assert_eq!(b.log.entries(), ["async 3", "sync 2", "async 1", "sync 0"]);
}

#[test]
fn an_unbind_awaits_the_async_actions_of_the_driver() {
    let b = Bench::new();
    let (d, _drv) = b.bound("busy");
    let gate = Gate::new();
    {
        let (gate, log) = (gate.clone(), b.log.clone());
        d.devres_add_async(move || {
            Box::pin(async move {
                log.push("action started".into());
                gate.wait().await;
                log.push("action done".into());
            })
        });
    }
    b.log.take();
    let (unbound, ()) = block_on(join(
        async {
            b.core.unbind(&d).await.unwrap();
            b.log.push("unbind returned".into());
        },
        async {
            until("the action to start", || {
                b.log.entries().contains(&"action started".to_string())
            })
            .await;
            assert!(
                !b.log.entries().contains(&"unbind returned".to_string()),
                "unbind must wait for the action"
            );
            gate.open();
        },
    ));
    let () = unbound;
    let log = b.log.with_prefix("action");
    assert_eq!(log, ["action started", "action done"]);
    assert_eq!(b.log.entries().last().unwrap(), "unbind returned");
}

/// Adds a device-managed action that sets `ran`, then fails its probe.
struct FailingProbe {
    ran: Arc<AtomicBool>,
}

#[devlink_core::async_trait]
impl Driver for FailingProbe {
    fn name(&self) -> &str {
        "fails"
    }
    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        let ran = self.ran.clone();
        dev.devres_add_async(move || Box::pin(async move { ran.store(true, Ordering::SeqCst) }));
        Err(ProbeError::Failed("no".into()))
    }
    async fn remove(&self, _dev: &Device) {}
}

#[test]
fn a_failed_probe_releases_what_the_probe_added() {
    let b = Bench::new();
    let d = b.dev("fails");
    let ran = Arc::new(AtomicBool::new(false));
    b.register(Arc::new(FailingProbe { ran: ran.clone() }));
    assert_eq!(d.state(), DevState::NoDriver);
    assert!(ran.load(Ordering::SeqCst), "the failed probe released it");
}

#[test]
fn an_async_action_at_the_last_reference_runs_to_its_end() {
    // No executor is around when the last reference drops: the action is
    // driven on the releasing thread, and woken from another one.
    let b = Bench::new();
    let d = b.init("parked");
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let (ran, set) = flag();
    d.devres_add_async(move || {
        Box::pin(async move {
            rx.await.unwrap();
            set();
        })
    });
    let sender = std::thread::spawn(move || tx.send(()).unwrap());
    drop(d);
    sender.join().unwrap();
    assert!(ran.load(Ordering::SeqCst));
}
