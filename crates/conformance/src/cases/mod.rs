//! The cases: each runs on a fresh [`Rig`] and either passes, fails with
//! why, or does not apply (with why).

use crate::Names;
use crate::Rig;
use devlink_core::drive::{
    rebind, unbind_tree, Bind, BindOutcome, ReadTopology, Settle, Unbind, WaitRemoval,
};
use devlink_core::{ErrorKind, KindError, LinkState, Topology, Waiting};
use fpga_core::{program, reprogram, ImageLoader, MgrState, ReprogramOptions, Stage, Step};
use futures::future::LocalBoxFuture;
use std::sync::Mutex;
use std::time::Duration;

mod drive;
mod fpga;
mod graph;

use drive::*;
use fpga::*;
use graph::*;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// It failed.
    Fail(String),
    /// It does not apply to this backend.
    NotApplicable(String),
}

type Outcome = Result<(), Miss>;

/// One case: a name (`area/what`) and the check.
pub struct Case<R> {
    /// `area/what`.
    pub name: &'static str,
    /// The check, on a fresh rig.
    pub run: fn(R) -> LocalBoxFuture<'static, Outcome>,
}

pub(super) fn ensure(cond: bool, why: impl FnOnce() -> String) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(Miss::Fail(why()))
    }
}

pub(super) fn fail<T>(why: impl Into<String>) -> Result<T, Miss> {
    Err(Miss::Fail(why.into()))
}

pub(super) fn ok_or<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, Miss> {
    r.map_err(|e| Miss::Fail(format!("{what}: {e}")))
}

pub(super) async fn topo<R: Rig>(r: &R) -> Result<Topology, Miss> {
    ok_or(r.model().topology().await, "topology")
}

pub(super) fn bound(t: &Topology, key: &str) -> Result<bool, Miss> {
    match t.named(key) {
        Some(d) => Ok(d.is_bound()),
        None => fail(format!("{key} is not in the topology")),
    }
}

pub(super) fn keys(t: &Topology, ids: &[usize]) -> Vec<String> {
    ids.iter().map(|&i| t.device(i).key()).collect()
}

pub(super) fn before(order: &[String], a: &str, b: &str) -> Outcome {
    let pos = |k: &str| order.iter().position(|x| x == k);
    match (pos(a), pos(b)) {
        (Some(x), Some(y)) if x < y => Ok(()),
        _ => fail(format!("{a} not before {b} in {order:?}")),
    }
}

/// Every user and the region host bound; the monitor, `ghost0` and
/// `late0` not: the board at rest.
pub(super) fn at_rest(t: &Topology, n: &Names) -> Outcome {
    for k in n.users().iter().chain([&n.region_host]) {
        ensure(bound(t, k)?, || format!("{k} is not bound"))?;
    }
    for k in [&n.monitor, &n.ghost, &n.late] {
        ensure(!bound(t, k)?, || format!("{k} is bound"))?;
    }
    let l = t.link_named(&format!("{}--{}", &n.region_host, &n.monitor));
    ensure(l.is_some_and(|l| l.sync_state_only()), || {
        "the sync-state-only link to mon0 is gone".into()
    })
}

pub(super) struct Steps(pub(super) Mutex<Vec<Step>>);

impl Steps {
    fn new() -> Steps {
        Steps(Mutex::new(Vec::new()))
    }
    fn take(&self) -> Vec<Step> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl fpga_core::Observer for Steps {
    fn step(&self, s: &Step) {
        if !matches!(s, Step::Loading { .. }) {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(s.clone());
        }
    }
}

pub(super) fn opts() -> ReprogramOptions {
    ReprogramOptions {
        timeout: Duration::from_secs(5),
        ..ReprogramOptions::default()
    }
}

macro_rules! cases {
    ($($name:literal => $f:ident),* $(,)?) => {
        /// Every case, in order.
        pub fn cases<R: Rig + 'static>() -> Vec<Case<R>> {
            vec![$(Case { name: $name, run: |r| Box::pin($f(r)) }),*]
        }
    };
}

cases! {
    "topology/devices" => topology_devices,
    "topology/links" => topology_links,
    "topology/parents" => topology_parents,
    "topology/names" => topology_names,
    "topology/unknown-name" => topology_unknown_name,
    "queries/dependents" => queries_dependents,
    "queries/sync-state-only" => queries_sync_state_only,
    "queries/stateless" => queries_stateless,
    "queries/teardown-order" => queries_teardown_order,
    "queries/bringup-order" => queries_bringup_order,
    "queries/waiting" => queries_waiting,
    "queries/why" => queries_why,
    "drive/unbind-consumers-first" => drive_unbind_tree,
    "drive/unbind-unbound-is-a-no-op" => drive_unbind_unbound,
    "drive/unbind-unknown" => drive_unbind_unknown,
    "drive/rebind-suppliers-first" => drive_rebind,
    "drive/bind-deferred-names-supplier" => drive_bind_deferred,
    "drive/bind-already-bound" => drive_bind_bound,
    "drive/wait-nothing-pending" => drive_wait_nothing,
    "drive/wait-after-unbind" => drive_wait_after_unbind,
    "drive/wait-timeout-names-pending" => drive_wait_timeout,
    "fpga/view" => fpga_view,
    "reprogram/success" => reprogram_success,
    "reprogram/step-order" => reprogram_step_order,
    "reprogram/sync-state-only-consumer-stays" => reprogram_monitor_stays,
    "reprogram/busy-manager-touches-nothing" => reprogram_busy,
    "reprogram/check-changes-nothing" => reprogram_check,
    "reprogram/failing-load-leaves-users-down" => reprogram_failing,
    "reprogram/recovers-after-a-failure" => reprogram_recovers,
    "reprogram/leak-refuses-to-program" => reprogram_leak,
    "program/region-refuses-bound-users" => program_region_refuses,
    "program/manager-refuses-bound-users" => program_manager_refuses,
    "program/force-loads-anyway" => program_force,
    "program/after-teardown" => program_after_teardown,
    "loads/nothing-left-staged" => loads_nothing_staged,
}
