//! Helpers shared by `spec_add.rs` and `spec_remove_order_sysfs.rs`: bringing
//! devices into a driver-presence state (PROBING / UNBINDING are held open
//! with a [`Gate`]) and "nothing changed" snapshots for rejected adds.
#![allow(dead_code)]

use crate::common::*;
use devlink_core::{DevState, Device, Driver, DriverCore, LinkState, ProbeError, RuntimePm};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type Action<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// A driver whose `remove` waits for a gate, so its device stays
/// `UNBINDING` while the gate is closed. Probes succeed.
pub struct HoldRemove {
    pub name: String,
    pub gate: Gate,
    pub log: Log,
}

#[devlink_core::async_trait]
impl Driver for HoldRemove {
    fn name(&self) -> &str {
        &self.name
    }
    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        self.log.push(format!("probe:{dev}"));
        Ok(())
    }
    async fn remove(&self, dev: &Device) {
        self.log.push(format!("remove:{dev}"));
        self.gate.wait().await;
        self.log.push(format!("remove-done:{dev}"));
    }
    async fn shutdown(&self, dev: &Device) {
        self.log.push(format!("shutdown:{dev}"));
    }
}

/// Registers a [`HoldRemove`] driver for the registered, unbound device `d`
/// (binding it) and returns the gate its `remove` will wait on.
pub fn bind_hold_remove(b: &Bench, d: &Device) -> Gate {
    let gate = Gate::new();
    let drv = Arc::new(HoldRemove {
        name: d.name().to_string(),
        gate: gate.clone(),
        log: b.log.clone(),
    });
    block_on(b.core.driver_register(&b.module, drv)).unwrap();
    assert_eq!(d.state(), DevState::DriverBound, "{d} should bind");
    gate
}

/// A future that returns `Pending` once (waking itself), so the other
/// futures of a `join` get polled.
pub async fn yield_now() {
    struct Y(bool);
    impl Future for Y {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            if self.0 {
                std::task::Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
    Y(false).await
}

/// Runs `actions` (binds or unbinds held open by `gates`) together with an
/// inspector that waits until `ready()`, runs `f`, then opens every gate and
/// lets the actions finish. Returns what `f` returned.
pub fn run_during<R>(
    actions: Vec<Action<'_>>,
    gates: &[Gate],
    ready: impl Fn() -> bool,
    f: impl FnOnce() -> R,
) -> R {
    let inspector = async {
        for _ in 0..100_000 {
            if ready() {
                break;
            }
            yield_now().await;
        }
        assert!(ready(), "the devices never reached the requested states");
        let r = f();
        for g in gates {
            g.open();
        }
        r
    };
    let (_, r) = block_on(futures::future::join(
        futures::future::join_all(actions),
        inspector,
    ));
    r
}

/// A future that probes the registered, unbound device `d` with a logging
/// driver whose probe waits for the returned gate (so `d` stays `PROBING`).
pub fn probe_held<'a>(b: &'a Bench, d: &Device) -> (Action<'a>, Gate) {
    let gate = Gate::new();
    let drv = TestDriver::new(d.name(), &b.log);
    drv.gate_next(&gate);
    let fut = Box::pin(async move {
        let _ = b.core.driver_register(&b.module, drv).await;
    });
    (fut, gate)
}

/// Brings each registered, unbound, driverless device of `want` into its
/// state (PROBING and UNBINDING are held open), runs `f` while they are all
/// in those states, then lets everything finish.
pub fn in_states<R>(b: &Bench, want: &[(&Device, DevState)], f: impl FnOnce() -> R) -> R {
    let mut actions: Vec<Action<'_>> = Vec::new();
    let mut gates = Vec::new();
    for &(d, st) in want {
        match st {
            DevState::NoDriver => {}
            DevState::DriverBound => {
                b.driver(d.name());
                assert_eq!(d.state(), DevState::DriverBound, "{d} should bind");
            }
            DevState::Probing => {
                let (fut, gate) = probe_held(b, d);
                actions.push(fut);
                gates.push(gate);
            }
            DevState::Unbinding => {
                let gate = bind_hold_remove(b, d);
                let d = d.clone();
                actions.push(Box::pin(async move {
                    b.core.unbind(&d).await.unwrap();
                }));
                gates.push(gate);
            }
        }
    }
    let ready = || want.iter().all(|&(d, st)| d.state() == st);
    run_during(actions, &gates, ready, f)
}

/// Everything a rejected `link_add` must leave untouched (spec §2.3 "no
/// side effects"): link count, device refcounts, runtime-PM counters
/// (usage and link counter), every link's fields, the ordering list, and
/// the sysfs view. Taken after the removal queue is idle.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub link_count: usize,
    pub refcounts: Vec<usize>,
    pub rpm: Vec<(u32, u32)>,
    pub links: Vec<(String, u32, LinkState, u32, u32)>,
    pub order: Vec<String>,
    pub sysfs: devlink_core::Topology,
}

pub fn snapshot(core: &DriverCore, devs: &[&Device]) -> Snapshot {
    core.wait_removal().unwrap();
    let mut links: Vec<_> = core
        .links()
        .iter()
        .map(|l| {
            let i = l.info().unwrap();
            (i.name, i.flags.bits(), i.state, i.kref, i.rpm_active)
        })
        .collect();
    links.sort_by(|a, b| a.0.cmp(&b.0));
    let order = core.devices().iter().map(|d| d.to_string()).collect();
    Snapshot {
        link_count: core.link_count(),
        refcounts: devs.iter().map(|d| d.refcount()).collect(),
        rpm: devs
            .iter()
            .map(|d| {
                let RuntimePm {
                    usage, links_count, ..
                } = d.runtime_pm();
                (usage, links_count)
            })
            .collect(),
        links,
        order,
        sysfs: core.topology(),
    }
}
