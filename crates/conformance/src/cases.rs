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

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(Miss::Fail(why()))
    }
}

fn fail<T>(why: impl Into<String>) -> Result<T, Miss> {
    Err(Miss::Fail(why.into()))
}

fn ok_or<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, Miss> {
    r.map_err(|e| Miss::Fail(format!("{what}: {e}")))
}

async fn topo<R: Rig>(r: &R) -> Result<Topology, Miss> {
    ok_or(r.model().topology().await, "topology")
}

fn bound(t: &Topology, key: &str) -> Result<bool, Miss> {
    match t.named(key) {
        Some(d) => Ok(d.is_bound()),
        None => fail(format!("{key} is not in the topology")),
    }
}

fn keys(t: &Topology, ids: &[usize]) -> Vec<String> {
    ids.iter().map(|&i| t.device(i).key()).collect()
}

fn before(order: &[String], a: &str, b: &str) -> Outcome {
    let pos = |k: &str| order.iter().position(|x| x == k);
    match (pos(a), pos(b)) {
        (Some(x), Some(y)) if x < y => Ok(()),
        _ => fail(format!("{a} not before {b} in {order:?}")),
    }
}

/// Every user and the region host bound; the monitor, `ghost0` and
/// `late0` not: the board at rest.
fn at_rest(t: &Topology, n: &Names) -> Outcome {
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

struct Steps(Mutex<Vec<Step>>);

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

fn opts() -> ReprogramOptions {
    ReprogramOptions {
        timeout: Duration::from_secs(5),
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

async fn topology_devices<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    for k in n.users().iter().chain([
        &n.monitor,
        &n.ghost,
        &n.late,
        &n.region_host,
        &n.manager_host,
    ]) {
        ensure(t.named(k).is_some(), || format!("{k} missing"))?;
    }
    at_rest(&t, &n)
}

async fn topology_links<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let link = |s: &str, c: &str| {
        t.link_named(&format!("{s}--{c}"))
            .ok_or_else(|| Miss::Fail(format!("no link {s}--{c}")))
    };
    let l = link(&n.region_host, &n.dma)?;
    ensure(
        l.runtime_pm() && l.managed() && l.status == LinkState::Active,
        || format!("{}: {:?} {}", l.name, l.flags, l.status),
    )?;
    let l = link(&n.dma, &n.eth)?;
    ensure(l.auto_remove_on() == "supplier unbind", || {
        format!("{}: {}", l.name, l.auto_remove_on())
    })?;
    let l = link(&n.uart, &n.sensor)?;
    ensure(!l.managed() && l.status == LinkState::None, || {
        format!("{}: {}", l.name, l.status)
    })?;
    let l = link(&n.region_host, &n.monitor)?;
    ensure(l.sync_state_only(), || {
        format!("{} not sync-state-only", l.name)
    })?;
    let l = link(&n.ghost, &n.late)?;
    ensure(l.status == LinkState::Dormant, || {
        format!("{}: {}", l.name, l.status)
    })?;
    ensure(
        l.sysfs_ends && l.supplier.is_some() && l.consumer.is_some(),
        || format!("{} has no ends", l.name),
    )
}

async fn topology_parents<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    for k in [&n.dma, &n.uart, &n.eth, &n.accel] {
        let d = t
            .named(k)
            .ok_or_else(|| Miss::Fail(format!("{k} missing")))?;
        let p = d.parent.map(|p| t.device(p).key());
        ensure(p.as_deref() == Some(&n.region_host), || {
            format!("{k}'s parent is {p:?}")
        })?;
    }
    Ok(())
}

async fn topology_names<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let a = ok_or(t.find("dma0"), "find dma0")?;
    let b = ok_or(t.find(&n.dma), "find platform:dma0")?;
    ensure(a == b, || "a bare name and bus:name differ".into())?;
    let path = t.device(a).path.clone();
    ensure(ok_or(t.find(&path), "find by path")? == a, || {
        "path lookup differs".into()
    })
}

async fn topology_unknown_name<R: Rig>(r: R) -> Outcome {
    let t = topo(&r).await?;
    match t.find("platform:no-such-device") {
        Err(e) => ensure(e.kind() == ErrorKind::NoDevice, || {
            format!("kind {:?}", e.kind())
        }),
        Ok(_) => fail("an unknown name resolved"),
    }
}

fn dependents_of(t: &Topology, key: &str) -> Result<Vec<String>, Miss> {
    let id = ok_or(t.find(key), key)?;
    Ok(keys(t, &t.dependents(id)))
}

fn sorted(v: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().map(Into::into).collect();
    v.sort();
    v
}

async fn queries_dependents<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    // The raw query counts the region's class device (a child of the
    // host); the engine's users leave the FPGA stack out.
    let got = sorted(dependents_of(&t, &n.region_host)?);
    let want = sorted(
        n.users()
            .iter()
            .map(String::as_str)
            .chain(["fpga_region:region0"]),
    );
    ensure(got == want, || format!("dependents {got:?}, want {want:?}"))?;
    let v = r.fpga().await.map_err(Miss::Fail)?;
    let target = v
        .region_target(&v.regions[0])
        .ok_or_else(|| Miss::Fail("the region's manager is unknown".into()))?;
    let users = ok_or(fpga_core::engine::users(&t, &target), "users")?;
    let got = sorted(keys(&t, &users));
    let want = sorted(n.users());
    ensure(got == want, || format!("users {got:?}, want {want:?}"))
}

async fn queries_sync_state_only<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let got = dependents_of(&t, &n.region_host)?;
    ensure(!got.iter().any(|k| k == &n.monitor), || {
        format!(
            "{} counted through a sync-state-only link: {got:?}",
            &n.monitor
        )
    })?;
    // And it is not waited for: the monitor waits for nothing.
    let mon = ok_or(t.find(&n.monitor), "mon0")?;
    ensure(t.waiting_for(mon).is_empty(), || {
        format!("mon0 waits for {:?}", t.waiting_for(mon))
    })
}

async fn queries_stateless<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let got = dependents_of(&t, &n.uart)?;
    ensure(got == [n.sensor.clone()], || {
        format!("uart0's dependents {got:?}")
    })
}

async fn queries_teardown_order<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let id = ok_or(t.find(&n.region_host), "region host")?;
    let order = keys(&t, &t.teardown_order(id));
    before(&order, &n.eth, &n.dma)?;
    before(&order, &n.sensor, &n.uart)
}

async fn queries_bringup_order<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let order = dependents_of(&t, &n.region_host)?;
    before(&order, &n.dma, &n.eth)?;
    before(&order, &n.uart, &n.sensor)?;
    let again = dependents_of(&topo(&r).await?, &n.region_host)?;
    ensure(order == again, || {
        "the order changed between two reads".into()
    })
}

async fn queries_waiting<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let late = ok_or(t.find(&n.late), "late0")?;
    let w = t.waiting_for(late);
    let want = Waiting::Supplier {
        supplier: n.ghost.clone(),
        state: LinkState::Dormant,
    };
    ensure(w == [want], || format!("late0 waits for {w:?}"))?;
    let dma = ok_or(t.find(&n.dma), "dma0")?;
    ensure(t.waiting_for(dma).is_empty(), || {
        "a bound device waits".into()
    })
}

async fn queries_why<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let late = ok_or(t.find(&n.late), "late0")?;
    let why = t.why(late);
    let first = why
        .first()
        .ok_or_else(|| Miss::Fail("why is empty".into()))?;
    ensure(
        first.depth == 0 && first.supplier.map(|s| t.device(s).key()).as_deref() == Some(&n.ghost),
        || format!("why: {why:?}"),
    )
}

async fn drive_unbind_tree<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let down = unbind_tree(r.model(), &n.dma)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    let got: Vec<String> = down.iter().map(|u| u.key.clone()).collect();
    ensure(got == [n.eth.clone(), n.dma.clone()], || {
        format!("unbound {got:?}")
    })?;
    let t = topo(&r).await?;
    for k in [&n.eth, &n.dma] {
        ensure(!bound(&t, k)?, || format!("{k} still bound"))?;
    }
    ensure(bound(&t, &n.uart)?, || "uart0 went down too".into())
}

async fn drive_unbind_unbound<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    match r.model().unbind_one(&n.ghost).await {
        Ok(None) => Ok(()),
        other => fail(format!("unbind of an unbound device: {other:?}")),
    }
}

async fn drive_unbind_unknown<R: Rig>(r: R) -> Outcome {
    match r.model().unbind_one("platform:no-such-device").await {
        Err(e) => ensure(e.kind() == ErrorKind::NoDevice, || {
            format!("kind {:?}: {e}", e.kind())
        }),
        Ok(u) => fail(format!("unbind of an unknown device: {u:?}")),
    }
}

async fn drive_rebind<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let down = unbind_tree(r.model(), &n.dma)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    let back = rebind(r.model(), &down).await;
    let got: Vec<String> = back.bound.iter().map(|u| u.key.clone()).collect();
    ensure(back.not_bound.is_empty(), || {
        format!("not bound: {:?}", back.not_bound)
    })?;
    ensure(got == [n.dma.clone(), n.eth.clone()], || {
        format!("bound back {got:?}")
    })?;
    at_rest(&topo(&r).await?, &n)
}

async fn drive_bind_deferred<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    unbind_tree(r.model(), &n.region_host)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    match ok_or(r.model().bind(&n.dma, None).await, "bind dma0")? {
        BindOutcome::Deferred { waiting } => ensure(
            waiting.iter().any(
                |w| matches!(w, Waiting::Supplier { supplier, .. } if supplier == &n.region_host),
            ),
            || format!("deferred, waiting for {waiting:?}"),
        )?,
        other => return fail(format!("dma0 bound without its supplier: {other:?}")),
    }
    ensure(!bound(&topo(&r).await?, &n.dma)?, || "dma0 is bound".into())
}

async fn drive_bind_bound<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    match ok_or(r.model().bind(&n.dma, None).await, "bind dma0")? {
        BindOutcome::Bound {
            was_bound: true, ..
        } => Ok(()),
        other => fail(format!("{other:?}")),
    }
}

async fn drive_wait_nothing<R: Rig>(r: R) -> Outcome {
    ok_or(
        r.model()
            .wait_removal(&Settle::default(), Duration::from_secs(2))
            .await,
        "wait",
    )
    .map(|_| ())
}

async fn drive_wait_after_unbind<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let mark = r.model().removal_mark();
    let down = unbind_tree(r.model(), &n.dma)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    let settle = Settle {
        unbound: down.iter().map(|u| u.key.clone()).collect(),
        gone: Vec::new(),
        since: mark,
    };
    let w = ok_or(
        r.model()
            .wait_removal(&settle, Duration::from_secs(5))
            .await,
        "wait",
    )?;
    // The AUTOREMOVE_SUPPLIER link dma0 -> eth0 is gone.
    let t = topo(&r).await?;
    ensure(
        t.link_named(&format!("{}--{}", &n.dma, &n.eth)).is_none(),
        || "dma0--eth0 still there".into(),
    )?;
    ensure(w.releases.map_or(true, |n| n >= 1), || {
        format!("releases {:?}", w.releases)
    })
}

async fn drive_wait_timeout<R: Rig>(r: R) -> Outcome {
    let (guard, mention) = r.stall_removal().map_err(Miss::NotApplicable)?;
    let e = match r
        .model()
        .wait_removal(&Settle::default(), Duration::from_millis(100))
        .await
    {
        Err(e) => e,
        Ok(w) => return fail(format!("the wait returned with something pending: {w:?}")),
    };
    drop(guard);
    ensure(e.kind() == ErrorKind::Timeout, || {
        format!("kind {:?}: {e}", e.kind())
    })?;
    ensure(e.to_string().contains(&mention), || {
        format!("{e:?} does not name {mention}")
    })
}

async fn fpga_view<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let v = r.fpga().await.map_err(Miss::Fail)?;
    ensure(v.supported, || "no FPGA support".into())?;
    ensure(
        v.managers.len() == 1 && v.bridges.len() == 1 && v.regions.len() == 1,
        || {
            format!(
                "{} managers, {} bridges, {} regions",
                v.managers.len(),
                v.bridges.len(),
                v.regions.len()
            )
        },
    )?;
    let reg = &v.regions[0];
    ensure(reg.parent.as_deref() == Some(&n.region_host), || {
        format!("region parent {:?}", reg.parent)
    })?;
    ensure(
        reg.manager.as_deref() == Some(v.managers[0].dev.as_str()),
        || format!("region manager {:?}", reg.manager),
    )?;
    ensure(
        v.managers[0].parent.as_deref() == Some(&n.manager_host),
        || format!("manager parent {:?}", v.managers[0].parent),
    )
}

async fn reprogram_success<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let steps = Steps::new();
    let rep = ok_or(
        reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await,
        "reprogram",
    )?;
    let got = sorted(rep.unbound_keys());
    ensure(got == sorted(n.users()), || format!("unbound {got:?}"))?;
    ensure(rep.rebound.not_bound.is_empty(), || {
        format!("not rebound {:?}", rep.rebound.not_bound)
    })?;
    ensure(rep.loaded.state == MgrState::Operating, || {
        format!("state {}", rep.loaded.state)
    })?;
    at_rest(&topo(&r).await?, &n)
}

async fn reprogram_step_order<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let steps = Steps::new();
    ok_or(
        reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await,
        "reprogram",
    )?;
    let s = steps.take();
    let pos = |f: &dyn Fn(&Step) -> bool| s.iter().position(f);
    let last = |f: &dyn Fn(&Step) -> bool| s.iter().rposition(f);
    let locked = pos(&|x| matches!(x, Step::ManagerLocked { .. }));
    let first_unbind = pos(&|x| matches!(x, Step::Unbind { .. }));
    let last_unbind = last(&|x| matches!(x, Step::Unbind { .. }));
    let wait = pos(&|x| matches!(x, Step::WaitRemoval { .. }));
    let leak = pos(&|x| matches!(x, Step::LeakCheck { .. }));
    let loaded = pos(&|x| matches!(x, Step::Loaded { .. }));
    let released = pos(&|x| matches!(x, Step::Released));
    let first_bind = pos(&|x| matches!(x, Step::Bind { .. }));
    let order = [
        locked,
        first_unbind,
        last_unbind,
        wait,
        leak,
        loaded,
        released,
        first_bind,
    ];
    ensure(order.iter().all(Option::is_some), || {
        format!("missing steps: {s:?}")
    })?;
    ensure(order.windows(2).all(|w| w[0] <= w[1]), || {
        format!("out of order: {s:?}")
    })?;
    // Consumers first down, suppliers first up.
    let unbinds: Vec<String> = s
        .iter()
        .filter_map(|x| match x {
            Step::Unbind { device } => Some(device.clone()),
            _ => None,
        })
        .collect();
    before(&unbinds, &n.eth, &n.dma)?;
    before(&unbinds, &n.sensor, &n.uart)
}

async fn reprogram_monitor_stays<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let steps = Steps::new();
    ok_or(
        reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await,
        "reprogram",
    )?;
    let touched = steps.take().iter().any(
        |x| matches!(x, Step::Unbind { device } | Step::Bind { device, .. } if device == &n.monitor),
    );
    ensure(!touched, || {
        format!(
            "{} was unbound: it only consumes through a sync-state-only link",
            &n.monitor
        )
    })
}

async fn reprogram_busy<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let guard = r.hold_manager().map_err(Miss::NotApplicable)?;
    let steps = Steps::new();
    let e = match reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await {
        Err(e) => e,
        Ok(_) => return fail("reprogrammed a manager held elsewhere"),
    };
    drop(guard);
    ensure(
        e.stage == Stage::Acquire && e.kind() == ErrorKind::Busy,
        || format!("{:?} {:?}: {e}", e.stage, e.kind()),
    )?;
    ensure(e.left_unbound.is_empty(), || {
        format!("left unbound {:?}", e.left_unbound)
    })?;
    let s = steps.take();
    ensure(!s.iter().any(|x| matches!(x, Step::Unbind { .. })), || {
        format!("unbound something: {s:?}")
    })?;
    at_rest(&topo(&r).await?, &n)?;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}

async fn reprogram_check<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let loader = r.region_loader(true);
    ok_or(loader.check().await, "check of a free target")?;
    let guard = r.hold_manager().map_err(Miss::NotApplicable)?;
    let e = match loader.check().await {
        Err(e) => e,
        Ok(()) => return fail("check passed with the manager held"),
    };
    drop(guard);
    ensure(e.kind() == ErrorKind::Busy, || {
        format!("kind {:?}: {e}", e.kind())
    })?;
    at_rest(&topo(&r).await?, &n)?;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}

async fn reprogram_failing<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let steps = Steps::new();
    let e = match reprogram(r.model(), &r.region_loader(false), &opts(), &steps).await {
        Err(e) => e,
        Ok(_) => return fail("a failing load succeeded"),
    };
    ensure(e.stage == Stage::Load, || {
        format!("stage {:?}: {e}", e.stage)
    })?;
    ensure(e.state.is_some_and(MgrState::is_error), || {
        format!("state {:?}", e.state)
    })?;
    let left = sorted(e.left_unbound_keys());
    ensure(left == sorted(n.users()), || {
        format!("left unbound {left:?}")
    })?;
    let t = topo(&r).await?;
    for k in &left {
        ensure(!bound(&t, k)?, || {
            format!("{k} came back over failed logic")
        })?;
    }
    ensure(bound(&t, &n.region_host)?, || {
        "the region host went down".into()
    })?;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}

async fn reprogram_recovers<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let e = match reprogram(
        r.model(),
        &r.region_loader(false),
        &opts(),
        &fpga_core::ignore,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => return fail("a failing load succeeded"),
    };
    let back = rebind(r.model(), &e.left_unbound).await;
    ensure(back.not_bound.is_empty(), || {
        format!("not bound {:?}", back.not_bound)
    })?;
    let rep = ok_or(
        reprogram(
            r.model(),
            &r.region_loader(true),
            &opts(),
            &fpga_core::ignore,
        )
        .await,
        "reprogram after the failure",
    )?;
    ensure(rep.loaded.state == MgrState::Operating, || {
        format!("state {}", rep.loaded.state)
    })?;
    at_rest(&topo(&r).await?, &n)
}

async fn reprogram_leak<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    r.leak_on_remove(&n.eth).map_err(Miss::NotApplicable)?;
    let e = match reprogram(
        r.model(),
        &r.region_loader(true),
        &opts(),
        &fpga_core::ignore,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => return fail("programmed despite a leaked reference"),
    };
    ensure(e.stage == Stage::LeakCheck, || {
        format!("stage {:?}: {e}", e.stage)
    })?;
    ensure(e.to_string().contains(&n.eth), || {
        format!("{e} does not name {}", &n.eth)
    })?;
    ensure(e.left_unbound.is_empty(), || {
        format!("left unbound {:?}", e.left_unbound)
    })?;
    at_rest(&topo(&r).await?, &n)
}

async fn program_region_refuses<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let steps = Steps::new();
    let e = match program(r.model(), &r.region_loader(true), false, &steps).await {
        Err(e) => e,
        Ok(_) => return fail("loaded under bound users"),
    };
    ensure(
        e.kind() == ErrorKind::Busy && e.stage == Stage::Check,
        || format!("{:?} {:?}: {e}", e.stage, e.kind()),
    )?;
    ensure(e.to_string().contains(&n.dma), || {
        format!("{e} does not name the users")
    })?;
    ensure(steps.take().is_empty(), || "something was done".into())?;
    at_rest(&topo(&r).await?, &n)
}

async fn program_manager_refuses<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let e = match program(
        r.model(),
        &r.manager_loader(true),
        false,
        &fpga_core::ignore,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => return fail("loaded the manager under bound users of its region"),
    };
    ensure(e.kind() == ErrorKind::Busy, || {
        format!("{:?}: {e}", e.kind())
    })?;
    at_rest(&topo(&r).await?, &n)
}

async fn program_force<R: Rig>(r: R) -> Outcome {
    let l = ok_or(
        program(r.model(), &r.region_loader(true), true, &fpga_core::ignore).await,
        "program --force",
    )?;
    ensure(l.state == MgrState::Operating, || {
        format!("state {}", l.state)
    })
}

async fn program_after_teardown<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let down = unbind_tree(r.model(), &n.region_host)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    // The host itself went down too; bring it back alone.
    let host: Vec<_> = down
        .iter()
        .filter(|u| u.key == n.region_host)
        .cloned()
        .collect();
    let back = rebind(r.model(), &host).await;
    ensure(back.not_bound.is_empty(), || {
        format!("{:?}", back.not_bound)
    })?;
    let l = ok_or(
        program(r.model(), &r.region_loader(true), false, &fpga_core::ignore).await,
        "program",
    )?;
    ensure(l.state == MgrState::Operating, || {
        format!("state {}", l.state)
    })
}

async fn loads_nothing_staged<R: Rig>(r: R) -> Outcome {
    ok_or(
        reprogram(
            r.model(),
            &r.region_loader(true),
            &opts(),
            &fpga_core::ignore,
        )
        .await,
        "reprogram",
    )?;
    let _ = program(
        r.model(),
        &r.manager_loader(false),
        true,
        &fpga_core::ignore,
    )
    .await;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}
