//! Drivers and the probe/unbind flows (`drivers/base/dd.c`): device add and
//! delete, probing with deferral, forced unbinding of consumers, and driver
//! registration under an owner [`Module`].
//!
//! Locking: the graph lock is never held across an `await` or a driver
//! callback. A per-device "device lock" (held across probe and remove, as
//! `device_lock` is) serialises binds and unbinds of one device; waiting for
//! it, or for probes to finish, uses an executor-agnostic event.

use crate::core::{DriverCore, Shared};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::flags::{LinkFlags, LinkState};
use crate::graph::After;
use crate::module::Module;
use crate::query::Waiting;
use crate::transitions::UnbindStep;
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a probe did not bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// `-EPROBE_DEFER`: retry later (after some other device binds).
    Defer(String),
    /// Any other error.
    Failed(String),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Defer(why) => write!(f, "deferred: {why}"),
            ProbeError::Failed(why) => f.write_str(why),
        }
    }
}

/// A device driver (`struct device_driver`). Callbacks run without any
/// driver-core lock held except the device's own device lock, so they may
/// add links, create devices, or wait for removal.
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The driver's name (unique within a core).
    fn name(&self) -> &str;

    /// Whether the driver handles `dev` (the bus `match` callback). The
    /// default compares the device's `compatible` with the driver's name.
    fn matches(&self, dev: &Device) -> bool {
        dev.compatible() == Some(self.name())
    }

    /// Binds the driver to `dev`.
    async fn probe(&self, dev: &Device) -> std::result::Result<(), ProbeError>;

    /// Unbinds the driver from `dev`.
    async fn remove(&self, _dev: &Device) {}

    /// Called at system shutdown, consumers before suppliers.
    async fn shutdown(&self, _dev: &Device) {}

    /// Whether the driver has a `sync_state` callback.
    fn has_sync_state(&self) -> bool {
        false
    }

    /// Called once all of a bound supplier's managed consumers are bound.
    fn sync_state(&self, _dev: &Device) {}
}

pub(crate) struct DriverEntry {
    pub name: String,
    pub driver: Arc<dyn Driver>,
    pub module: Module,
    exit_hook: u64,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Shared {
    async fn lock_device(&self, d: &Device) {
        loop {
            let listener = {
                let mut g = self.graph();
                let n = g.node_mut(d.idx());
                if !n.locked {
                    n.locked = true;
                    return;
                }
                self.dd_event.listen()
            };
            listener.await;
        }
    }

    fn unlock_device(&self, d: &Device) {
        self.graph().node_mut(d.idx()).locked = false;
        self.notify();
    }

    /// `wait_for_device_probe`: until no probe is in flight.
    async fn wait_for_device_probe(&self) {
        loop {
            let listener = {
                let g = self.graph();
                if g.probing == 0 {
                    return;
                }
                self.dd_event.listen()
            };
            listener.await;
        }
    }

    /// `really_probe`, with `d`'s device lock held.
    async fn really_probe(&self, d: &Device, drv: &Arc<DriverEntry>) -> Result<()> {
        let try_anyway = {
            let mut g = self.graph();
            let n = g.node(d.idx());
            if !n.registered {
                return Err(Error::NotRegistered {
                    device: d.to_string(),
                });
            }
            if let Some(cur) = &n.driver {
                return Err(Error::AlreadyBound {
                    device: d.to_string(),
                    driver: cur.name.clone(),
                });
            }
            g.node_mut(d.idx()).can_match = true;
            match g.check_suppliers(d.idx()) {
                Err(missing) => {
                    g.deferred_add(d.idx());
                    return Err(deferred(d, &missing));
                }
                Ok(t) => {
                    g.node_mut(d.idx()).driver = Some(Arc::clone(drv));
                    g.probing += 1;
                    t
                }
            }
        };
        let outcome = drv.driver.probe(d).await;
        let mut after = After::default();
        let result = {
            let mut g = self.graph();
            g.probing -= 1;
            match outcome {
                Ok(()) => {
                    g.driver_bound(d.idx(), &mut after);
                    g.deferred_del(d.idx());
                    g.bind_gen += 1;
                    Ok(())
                }
                Err(e) => {
                    g.no_driver(d.idx(), &mut after);
                    let n = g.node_mut(d.idx());
                    n.driver = None;
                    after.devres = std::mem::take(&mut n.devres);
                    if matches!(e, ProbeError::Defer(_)) || try_anyway {
                        g.deferred_add(d.idx());
                        let mut missing: Vec<String> = g
                            .waiting_for(d.idx())
                            .iter()
                            .map(ToString::to_string)
                            .collect();
                        if missing.is_empty() {
                            if let ProbeError::Defer(why) = &e {
                                missing.push(why.clone());
                            }
                        }
                        Err(Error::ProbeDeferred {
                            device: d.to_string(),
                            missing,
                        })
                    } else {
                        Err(Error::ProbeFailed {
                            device: d.to_string(),
                            driver: drv.name.clone(),
                            reason: e.to_string(),
                        })
                    }
                }
            }
        };
        after.run_async().await;
        self.notify();
        result
    }

    /// `__device_attach`: tries each matching driver until one binds or
    /// the probe defers.
    async fn attach(&self, d: &Device, only: Option<&Arc<DriverEntry>>) -> Result<()> {
        let candidates: Vec<Arc<DriverEntry>> = match only {
            Some(e) => vec![Arc::clone(e)],
            None => self.graph().drivers.clone(),
        };
        let candidates: Vec<_> = candidates
            .into_iter()
            .filter(|e| e.driver.matches(d))
            .collect();
        if candidates.is_empty() {
            return Err(Error::NoMatchingDriver {
                device: d.to_string(),
            });
        }
        self.lock_device(d).await;
        let mut last = None;
        for drv in &candidates {
            match self.really_probe(d, drv).await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(
                    e @ (Error::ProbeDeferred { .. }
                    | Error::AlreadyBound { .. }
                    | Error::NotRegistered { .. }),
                ) => {
                    last = Some(e);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        self.unlock_device(d);
        match last {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Retries deferred probes while binds keep happening
    /// (`driver_deferred_probe_trigger` and the deferred-probe work).
    async fn process_deferred(&self, since_gen: u64) {
        let mut seen = since_gen;
        loop {
            let (now, list) = {
                let mut g = self.graph();
                if g.bind_gen == seen || g.deferred.is_empty() {
                    return;
                }
                let list: Vec<u32> = std::mem::take(&mut g.deferred);
                let handles: Vec<Device> = list
                    .into_iter()
                    .filter_map(|i| {
                        g.node_mut(i).on_deferred_list = false;
                        g.handle(i)
                    })
                    .collect();
                (g.bind_gen, handles)
            };
            seen = now;
            for d in list {
                let _ = self.attach(&d, None).await;
            }
        }
    }

    /// `__device_release_driver`, including the forced unbinding of
    /// consumers (spec §4.3).
    fn release_driver(&self, d: Device) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.lock_device(&d).await;
            let drv = loop {
                let (drv, busy) = {
                    let mut g = self.graph();
                    let Some(drv) = g.node(d.idx()).driver.clone() else {
                        drop(g);
                        self.unlock_device(&d);
                        return;
                    };
                    let busy = g.busy(d.idx());
                    (drv, busy)
                };
                if !busy {
                    break drv;
                }
                self.unlock_device(&d);
                self.unbind_consumers(&d).await;
                self.lock_device(&d).await;
                let same = self
                    .graph()
                    .node(d.idx())
                    .driver
                    .as_ref()
                    .is_some_and(|cur| Arc::ptr_eq(cur, &drv));
                if !same {
                    self.unlock_device(&d);
                    return;
                }
            };
            drv.driver.remove(&d).await;
            let mut after = After::default();
            {
                let mut g = self.graph();
                g.driver_cleanup(d.idx(), &mut after);
                let n = g.node_mut(d.idx());
                n.driver = None;
                after.devres = std::mem::take(&mut n.devres);
            }
            after.run_async().await;
            self.unlock_device(&d);
        })
    }

    async fn unbind_consumers(&self, s: &Device) {
        loop {
            let step = self.graph().unbind_consumers_step(s.idx());
            match step {
                UnbindStep::WaitProbe => self.wait_for_device_probe().await,
                UnbindStep::Unbind(c) => self.release_driver(c).await,
                UnbindStep::Done => return,
            }
        }
    }

    /// fw_devlink at `device_add`: turn firmware hints into links.
    fn fw_link_device(&self, g: &mut crate::core::GraphGuard<'_>, d: &Device, after: &mut After) {
        let mode = g.config.fw_devlink;
        if mode == crate::FwDevlinkMode::Off {
            return;
        }
        let Some(node) = d.fwnode() else { return };
        let flags = mode.link_flags();
        let try_link =
            |g: &mut crate::core::GraphGuard<'_>, c: &Device, s: &Device, after: &mut After| {
                if g.fw_link_add(c, s, flags, after) {
                    return true;
                }
                // A cycle: keep the dependency for sync_state only.
                g.fw_link_add(
                    c,
                    s,
                    LinkFlags::INFERRED | LinkFlags::SYNC_STATE_ONLY | LinkFlags::CYCLE,
                    after,
                )
            };
        // `__fw_devlink_relax_cycles`: a link whose supplier already
        // depends on its consumer (through fwnode links still waiting, or
        // device links that gate or were made for a cycle) is made for
        // sync_state only, before any ordinary link can close the loop.
        let cycle_flags = LinkFlags::INFERRED | LinkFlags::SYNC_STATE_ONLY | LinkFlags::CYCLE;
        for sup in node.supplier_hints() {
            let Some(&si) = g.fw_devices.get(&sup.key()) else {
                continue;
            };
            let Some(sdev) = g.handle(si) else { continue };
            let linked = if fw_cycle(g, node.key(), sup.clone()) {
                g.fw_link_add(d, &sdev, cycle_flags, after)
            } else {
                try_link(g, d, &sdev, after)
            };
            if linked {
                node.remove_supplier_hint(&sup);
            }
            after.puts.push(sdev);
        }
        for con in node.consumer_hints() {
            let Some(&ci) = g.fw_devices.get(&con.key()) else {
                continue;
            };
            let Some(cdev) = g.handle(ci) else { continue };
            let cyc = fw_cycle(g, con.key(), node.downgrade());
            let linked = if cyc {
                g.fw_link_add(&cdev, d, cycle_flags, after)
            } else {
                try_link(g, &cdev, d, after)
            };
            if linked {
                if let Some(cn) = con.upgrade() {
                    cn.remove_supplier_hint(&node.downgrade());
                }
            }
            after.puts.push(cdev);
        }
    }
}

/// Whether the node `from` (a link's supplier) already depends on the node
/// keyed `con` (its consumer): through fwnode links still waiting, and
/// through the device links of the devices made from the nodes on the way
/// that gate (or were made for a cycle). Observers only: no node or
/// device reference is taken under the lock. The parent walk of the
/// kernel's check is not made.
fn fw_cycle(g: &crate::graph::Graph, con: usize, from: crate::FwNodeWeak) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        let k = n.key();
        if k == con {
            return true;
        }
        if !seen.insert(k) {
            continue;
        }
        stack.extend(n.supplier_hints());
        if let Some(&di) = g.fw_devices.get(&k) {
            if let Some(node) = g.nodes.get(di as usize).and_then(Option::as_ref) {
                for &li in &node.suppliers {
                    let l = g.link(li);
                    if l.flags.contains(LinkFlags::SYNC_STATE_ONLY)
                        && !l.flags.contains(LinkFlags::CYCLE)
                    {
                        continue;
                    }
                    stack.extend(l.supplier.fwnode_weak());
                }
            }
        }
    }
    false
}

fn deferred(d: &Device, missing: &[Waiting]) -> Error {
    Error::ProbeDeferred {
        device: d.to_string(),
        missing: missing.iter().map(ToString::to_string).collect(),
    }
}

impl DriverCore {
    /// `device_add`: registers an initialised device (after its parent),
    /// creates fw_devlink links from its firmware hints, and probes it if a
    /// registered driver matches. A probe failure or deferral does not fail
    /// the add (as in the kernel); read [`Device::state`] or call
    /// [`bind`](Self::bind) to see it.
    pub async fn device_add(&self, d: &Device) -> Result<()> {
        let shared = self.shared();
        if !Arc::ptr_eq(d.shared(), shared) {
            return Err(Error::NotRegistered {
                device: format!("{d} (belongs to another driver core)"),
            });
        }
        let mut after = After::default();
        let gen = {
            let mut g = shared.graph();
            let n = g.node(d.idx());
            if n.registered {
                return Err(Error::AlreadyRegistered {
                    device: d.to_string(),
                });
            }
            if n.deleted {
                return Err(Error::DeviceDeleted {
                    device: d.to_string(),
                });
            }
            if let Some(p) = n.dev.parent_idx() {
                if !g.node(p).registered {
                    let parent = d.parent().map(|p| p.to_string()).unwrap_or_default();
                    drop(g);
                    return Err(Error::ParentNotRegistered {
                        device: d.to_string(),
                        parent,
                    });
                }
            }
            let key = (d.bus_name().to_string(), d.name().to_string());
            if g.names.contains_key(&key) {
                return Err(Error::NameTaken {
                    bus: key.0,
                    device: key.1,
                });
            }
            g.names.insert(key, d.idx());
            let strict = g.config.fw_devlink.is_strict();
            let fw_key = d.fwnode_key();
            for li in g.node(d.idx()).suppliers.clone() {
                let s = g.link(li).supplier.idx();
                g.node_mut(s).unregistered_consumers -= 1;
            }
            let n = g.node_mut(d.idx());
            n.registered = true;
            n.reg = Some(d.clone());
            n.wfs_attr = strict && fw_key.is_some();
            g.order_append(d.idx());
            if let Some(p) = d.inner.parent_idx() {
                g.node_mut(p).children.push(d.idx());
            }
            if let Some(k) = fw_key {
                g.fw_devices.insert(k, d.idx());
            }
            shared.fw_link_device(&mut g, d, &mut after);
            g.bind_gen
        };
        after.run();
        match shared.attach(d, None).await {
            Ok(()) | Err(_) => {}
        }
        shared.process_deferred(gen).await;
        Ok(())
    }

    /// `device_del`: unbinds the driver (consumers first), deletes every
    /// link of the device (their releases go to the removal queue), and
    /// unregisters it. The caller's handle stays valid; the device is
    /// released when the last reference goes.
    pub async fn device_del(&self, d: &Device) -> Result<()> {
        let shared = self.shared();
        if !d.is_registered() {
            return Err(Error::NotRegistered {
                device: d.to_string(),
            });
        }
        shared.release_driver(d.clone()).await;
        let mut after = After::default();
        {
            let mut g = shared.graph();
            if !g.node(d.idx()).registered {
                return Ok(());
            }
            g.purge(d.idx(), &mut after);
            g.order_remove(d.idx());
            g.deferred_del(d.idx());
            g.names
                .remove(&(d.bus_name().to_string(), d.name().to_string()));
            if let Some(k) = d.fwnode_key() {
                if g.fw_devices.get(&k) == Some(&d.idx()) {
                    g.fw_devices.remove(&k);
                }
            }
            if let Some(p) = d.inner.parent_idx() {
                g.node_mut(p).children.retain(|&c| c != d.idx());
            }
            let n = g.node_mut(d.idx());
            n.registered = false;
            n.deleted = true;
            n.wfs_attr = false;
            if let Some(reg) = n.reg.take() {
                after.puts.push(reg);
            }
            // A device with no driver releases its managed resources when
            // it is deleted (what an unbind released is already gone).
            after.devres = std::mem::take(&mut n.devres);
        }
        after.run_async().await;
        shared.notify();
        Ok(())
    }

    /// `device_attach`: probes `d` with the first matching driver, then
    /// retries deferred probes if it bound. Already bound is success.
    pub async fn bind(&self, d: &Device) -> Result<()> {
        let shared = self.shared();
        if d.driver_name().is_some() {
            return Ok(());
        }
        let gen = shared.graph().bind_gen;
        let r = shared.attach(d, None).await;
        shared.process_deferred(gen).await;
        match r {
            Err(Error::AlreadyBound { .. }) => Ok(()),
            other => other,
        }
    }

    /// `drivers/<driver>/bind` (`device_driver_attach`): probes `d` with
    /// the driver named `driver` only, then retries deferred probes if it
    /// bound. Already bound is success.
    pub async fn bind_with(&self, d: &Device, driver: &str) -> Result<()> {
        let shared = self.shared();
        if d.driver_name().is_some() {
            return Ok(());
        }
        let entry = shared
            .graph()
            .drivers
            .iter()
            .find(|e| e.name == driver)
            .cloned()
            .ok_or_else(|| Error::NoMatchingDriver {
                device: format!("{d} (no driver named {driver})"),
            })?;
        let gen = shared.graph().bind_gen;
        let r = shared.attach(d, Some(&entry)).await;
        shared.process_deferred(gen).await;
        match r {
            Err(Error::AlreadyBound { .. }) => Ok(()),
            other => other,
        }
    }

    /// `driver_deferred_probe_trigger` plus the deferred-probe work, as the
    /// kernel runs it at the end of boot (`deferred_probe_initcall`):
    /// retries every device on the deferred-probe list, and again after
    /// each round in which something bound.
    pub async fn retry_deferred(&self) {
        let shared = self.shared();
        // A generation that differs from the current one forces a first round.
        let gen = shared.graph().bind_gen.wrapping_sub(1);
        shared.process_deferred(gen).await;
    }

    /// `device_release_driver`: unbinds `d`, unbinding its consumers first
    /// (spec §4.3). Does nothing if no driver is bound.
    pub async fn unbind(&self, d: &Device) -> Result<()> {
        if !d.is_registered() {
            return Err(Error::NotRegistered {
                device: d.to_string(),
            });
        }
        self.shared().release_driver(d.clone()).await;
        Ok(())
    }

    /// `device_bind_driver`: attaches `driver` to `d` without probing (T8).
    pub async fn force_bind(&self, d: &Device, driver: &str) -> Result<()> {
        let shared = self.shared();
        let entry = shared
            .graph()
            .drivers
            .iter()
            .find(|e| e.name == driver)
            .cloned()
            .ok_or_else(|| Error::NoMatchingDriver {
                device: format!("{d} (no driver named {driver})"),
            })?;
        shared.lock_device(d).await;
        let mut after = After::default();
        let gen = {
            let mut g = shared.graph();
            let n = g.node(d.idx());
            let err = if !n.registered {
                Some(Error::NotRegistered {
                    device: d.to_string(),
                })
            } else {
                n.driver.as_ref().map(|cur| Error::AlreadyBound {
                    device: d.to_string(),
                    driver: cur.name.clone(),
                })
            };
            if let Some(e) = err {
                drop(g);
                shared.unlock_device(d);
                return Err(e);
            }
            let gen = g.bind_gen;
            g.force_bind(d.idx(), &mut after);
            g.node_mut(d.idx()).driver = Some(entry);
            g.driver_bound(d.idx(), &mut after);
            g.deferred_del(d.idx());
            g.bind_gen += 1;
            gen
        };
        after.run();
        shared.unlock_device(d);
        shared.process_deferred(gen).await;
        Ok(())
    }

    /// Registers `driver` under its owner `module` and probes every
    /// registered, unbound device it matches. The module's unload
    /// unregisters it.
    pub async fn driver_register(&self, module: &Module, driver: Arc<dyn Driver>) -> Result<()> {
        let shared = self.shared();
        let _pin = module.try_get()?;
        let name = driver.name().to_string();
        let weak = Arc::downgrade(&self.owner);
        let hook_name = name.clone();
        let entry = {
            let mut g = shared.graph();
            if g.drivers.iter().any(|e| e.name == name) {
                return Err(Error::DriverExists { driver: name });
            }
            let exit_hook = module.add_exit_hook(Box::new(move || {
                Box::pin(async move {
                    if let Some(owner) = weak.upgrade() {
                        let core = DriverCore { owner };
                        let _ = core.driver_unregister(&hook_name).await;
                    }
                })
            }));
            let entry = Arc::new(DriverEntry {
                name,
                driver,
                module: module.clone(),
                exit_hook,
            });
            g.drivers.push(Arc::clone(&entry));
            entry
        };
        let (gen, devices) = {
            let g = shared.graph();
            let devices: Vec<Device> = g
                .ordered()
                .into_iter()
                .filter(|&i| g.node(i).driver.is_none())
                .filter_map(|i| g.handle(i))
                .collect();
            (g.bind_gen, devices)
        };
        for d in devices {
            if entry.driver.matches(&d) && d.driver_name().is_none() {
                let _ = shared.attach(&d, Some(&entry)).await;
            }
        }
        shared.process_deferred(gen).await;
        Ok(())
    }

    /// Unregisters a driver, unbinding every device bound to it.
    pub async fn driver_unregister(&self, name: &str) -> Result<()> {
        let shared = self.shared();
        let (entry, bound) = {
            let mut g = shared.graph();
            let Some(pos) = g.drivers.iter().position(|e| e.name == name) else {
                return Err(Error::NoMatchingDriver {
                    device: format!("(no driver named {name})"),
                });
            };
            let entry = g.drivers.remove(pos);
            let bound: Vec<Device> = g
                .ordered()
                .into_iter()
                .rev()
                .filter(|&i| {
                    g.node(i)
                        .driver
                        .as_ref()
                        .is_some_and(|d| Arc::ptr_eq(d, &entry))
                })
                .filter_map(|i| g.handle(i))
                .collect();
            (entry, bound)
        };
        entry.module.remove_exit_hook(entry.exit_hook);
        for d in bound {
            shared.release_driver(d).await;
        }
        Ok(())
    }

    /// Names of registered drivers.
    pub fn drivers(&self) -> Vec<String> {
        self.shared()
            .graph()
            .drivers
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }

    /// Registered devices in the order the kernel keeps in its devices kset
    /// and PM lists: suppliers and parents first.
    pub fn devices(&self) -> Vec<Device> {
        let g = self.shared().graph();
        g.ordered()
            .into_iter()
            .filter_map(|i| g.handle(i))
            .collect()
    }

    /// The registered device `bus:name` (or just `name` if unique).
    pub fn find_device(&self, name: &str) -> Option<Device> {
        let g = self.shared().graph();
        // Device names may contain ':' themselves; try every split point.
        for (i, _) in name.match_indices(':') {
            let key = (name[..i].to_string(), name[i + 1..].to_string());
            if let Some(&idx) = g.names.get(&key) {
                return g.handle(idx);
            }
        }
        let mut hits = g.names.iter().filter(|((_, n), _)| n == name);
        match (hits.next(), hits.next()) {
            (Some((_, &i)), None) => g.handle(i),
            _ => None,
        }
    }

    /// Devices waiting on the deferred-probe list.
    pub fn deferred_devices(&self) -> Vec<Device> {
        let g = self.shared().graph();
        g.deferred.iter().filter_map(|&i| g.handle(i)).collect()
    }

    /// `device_shutdown`: calls each bound driver's `shutdown`, taking
    /// devices from the tail of the order (consumers and children first).
    /// Returns the devices in the order they were shut down.
    pub async fn shutdown(&self) -> Vec<Device> {
        let devices = self.devices();
        let mut done = Vec::new();
        for d in devices.into_iter().rev() {
            let drv = self.shared().graph().node(d.idx()).driver.clone();
            if let Some(drv) = drv {
                drv.driver.shutdown(&d).await;
                done.push(d);
            }
        }
        done
    }

    /// With asynchronous system suspend, the devices whose suspend `d`'s
    /// suspend waits for: consumers through links not `DORMANT` (stateless
    /// links included; sync-state-only links skipped, as since 6.18).
    pub fn suspend_waits_for(&self, d: &Device) -> Vec<Device> {
        let g = self.shared().graph();
        g.node(d.idx())
            .consumers
            .iter()
            .map(|&li| g.link(li))
            .filter(|l| l.state != LinkState::Dormant && !l.flags.is_sync_state_only())
            .map(|l| l.consumer.clone())
            .collect()
    }

    /// With asynchronous resume, the devices whose resume `d` waits for:
    /// suppliers through links not `DORMANT`.
    pub fn resume_waits_for(&self, d: &Device) -> Vec<Device> {
        let g = self.shared().graph();
        g.node(d.idx())
            .suppliers
            .iter()
            .map(|&li| g.link(li))
            .filter(|l| l.state != LinkState::Dormant && !l.flags.is_sync_state_only())
            .map(|l| l.supplier.clone())
            .collect()
    }
}

impl crate::graph::Graph {
    /// `device_link_add` from fw_devlink, under the lock; whether it linked.
    pub(crate) fn fw_link_add(
        &mut self,
        c: &Device,
        s: &Device,
        flags: LinkFlags,
        after: &mut After,
    ) -> bool {
        self.link_add_internal(c, s, flags, after).is_ok()
    }
}
