//! The link state machine (spec §3.4, T1–T10), as synchronous steps run
//! under the graph lock by the probe and unbind flows in `dd.rs`.

use crate::device::Device;
use crate::diag::Diagnostic;
use crate::flags::{DevState, LinkFlags, LinkState};
use crate::graph::{After, Graph};
use crate::query::Waiting;

/// What the forced-unbind walk asks its caller to do next (spec §4.3).
pub(crate) enum UnbindStep {
    /// A consumer is probing: wait for all probes, then walk again.
    WaitProbe,
    /// Unbind this consumer, then walk again.
    Unbind(Device),
    /// Every consumer is off.
    Done,
}

impl Graph {
    fn managed(&self, li: u32) -> bool {
        self.link(li).flags.contains(LinkFlags::MANAGED)
    }

    fn has(&self, li: u32, f: LinkFlags) -> bool {
        self.link(li).flags.contains(f)
    }

    /// Revert(L): `AVAILABLE` if the supplier is bound, else `DORMANT`.
    fn revert(&mut self, li: u32) {
        let s = self.link(li).supplier.idx();
        if self.node(s).state == DevState::DriverBound {
            self.link_mut(li).state = LinkState::Available;
        } else {
            if !self.has(li, LinkFlags::SYNC_STATE_ONLY) {
                self.warn(Diagnostic::RevertToDormant {
                    link: self.link_name(li),
                });
            }
            self.link_mut(li).state = LinkState::Dormant;
        }
    }

    fn best_effort_skip(&self, li: u32) -> bool {
        self.best_effort
            && self.has(li, LinkFlags::INFERRED)
            && !self.node(self.link(li).supplier.idx()).can_match
    }

    /// `driver_deferred_probe_add`: only for devices that matched before.
    pub fn deferred_add(&mut self, d: u32) {
        let n = self.node_mut(d);
        if n.can_match && !n.on_deferred_list && n.registered {
            n.on_deferred_list = true;
            self.deferred.push(d);
        }
    }

    pub fn deferred_del(&mut self, d: u32) {
        let n = self.node_mut(d);
        if n.on_deferred_list {
            n.on_deferred_list = false;
            self.deferred.retain(|&x| x != d);
        }
    }

    /// What `d` waits for: missing firmware suppliers and managed,
    /// non-sync-state-only supplier links that are not usable.
    pub fn waiting_for(&self, d: u32) -> Vec<Waiting> {
        let mut out = Vec::new();
        let n = self.node(d);
        if self.config.fw_devlink.is_strict() {
            if let Some(node) = n.dev_fwnode() {
                for h in node.supplier_hints() {
                    out.push(Waiting::FwNode {
                        path: Some(h.path().to_string()),
                    });
                }
            }
        }
        for &li in &n.suppliers {
            let l = self.link(li);
            if !l.flags.contains(LinkFlags::MANAGED) || l.flags.contains(LinkFlags::SYNC_STATE_ONLY)
            {
                continue;
            }
            if !matches!(
                l.state,
                LinkState::Available | LinkState::Active | LinkState::ConsumerProbe
            ) {
                out.push(Waiting::Supplier {
                    supplier: l.supplier.to_string(),
                    state: l.state,
                });
            }
        }
        out
    }

    /// §4.1 steps 1–3 and T2 (`device_links_check_suppliers`). `Ok(true)`
    /// means "try anyway" (best effort); `Err` lists what is missing.
    pub fn check_suppliers(&mut self, d: u32) -> Result<bool, Vec<Waiting>> {
        let mut try_anyway = false;
        if self.config.fw_devlink.is_strict() {
            let waiting = self
                .node(d)
                .dev_fwnode()
                .is_some_and(|n| !n.supplier_hints().is_empty());
            if waiting {
                if self.best_effort {
                    try_anyway = true;
                } else {
                    return Err(self.waiting_for(d));
                }
            }
        }
        let mut deferred = None;
        for li in self.node(d).suppliers.clone() {
            if !self.managed(li) {
                continue;
            }
            if self.link(li).state != LinkState::Available
                && !self.has(li, LinkFlags::SYNC_STATE_ONLY)
            {
                if self.best_effort_skip(li) {
                    try_anyway = true;
                    continue;
                }
                deferred = Some(self.waiting_for(d));
                // device_links_missing_supplier
                for li in self.node(d).suppliers.clone() {
                    if self.link(li).state == LinkState::ConsumerProbe {
                        self.revert(li);
                    }
                }
                break;
            }
            self.link_mut(li).state = LinkState::ConsumerProbe;
        }
        let fixed_q3 = !self.config.compat.probing_after_link_deferral;
        self.node_mut(d).state = if deferred.is_some() && fixed_q3 {
            DevState::NoDriver
        } else {
            DevState::Probing
        };
        match deferred {
            Some(missing) => Err(missing),
            None => Ok(try_anyway),
        }
    }

    /// `__device_links_queue_sync_state`: a bound supplier whose managed
    /// consumer links are all `ACTIVE` gets `sync_state()` once.
    fn queue_sync_state(&mut self, s: u32, after: &mut After) {
        let n = self.node(s);
        if n.state_synced {
            return;
        }
        let Some(drv) = n.driver.clone() else { return };
        if !drv.driver.has_sync_state() {
            return;
        }
        for &li in &n.consumers {
            let l = self.link(li);
            if l.flags.contains(LinkFlags::MANAGED) && l.state != LinkState::Active {
                return;
            }
        }
        self.node_mut(s).state_synced = true;
        if let Some(dev) = self.handle(s) {
            after.sync_state.push((dev, drv));
        }
    }

    /// T1 then T4 (`device_links_driver_bound`): `d`'s driver is bound.
    pub fn driver_bound(&mut self, d: u32, after: &mut After) {
        // A bound device has made the links it needs: drop its firmware
        // supplier hints and its waiting_for_supplier file.
        self.node_mut(d).wfs_attr = false;
        if let Some(node) = self.node(d).dev_fwnode() {
            for h in node.supplier_hints() {
                node.remove_supplier_hint(&h);
            }
        }
        // T1: as supplier.
        for li in self.node(d).consumers.clone() {
            if !self.managed(li) {
                continue;
            }
            let state = self.link(li).state;
            match state {
                LinkState::ConsumerProbe | LinkState::Active => continue,
                LinkState::Dormant => {}
                other => self.warn(Diagnostic::UnexpectedStateOnSupplierBind {
                    link: self.link_name(li),
                    state: other,
                }),
            }
            self.link_mut(li).state = LinkState::Available;
            if self.has(li, LinkFlags::AUTOPROBE_CONSUMER) {
                let c = self.link(li).consumer.idx();
                self.deferred_add(c);
            }
        }
        self.queue_sync_state(d, after);
        // T4: as consumer.
        for li in self.node(d).suppliers.clone() {
            if !self.link_live(li) || !self.managed(li) {
                continue;
            }
            let s = self.link(li).supplier.idx();
            let state = self.link(li).state;
            // Sync-state-only links, and best-effort inferred links whose
            // supplier never matched a driver, lose their managed part.
            if self.has(li, LinkFlags::SYNC_STATE_ONLY)
                || (self.best_effort_skip(li) && state != LinkState::ConsumerProbe)
            {
                self.drop_managed(li, after);
            } else {
                if state != LinkState::ConsumerProbe {
                    self.warn(Diagnostic::UnexpectedStateOnConsumerBind {
                        link: self.link_name(li),
                        state,
                    });
                }
                self.link_mut(li).state = LinkState::Active;
            }
            self.queue_sync_state(s, after);
        }
        self.node_mut(d).state = DevState::DriverBound;
    }

    /// `__device_links_no_driver`: `d`'s supplier links after its driver
    /// went away (or never came), newest first.
    fn no_driver_suppliers(&mut self, d: u32, after: &mut After) {
        for li in self.node(d).suppliers.clone().into_iter().rev() {
            if !self.link_live(li) || !self.managed(li) {
                continue;
            }
            if self.has(li, LinkFlags::AUTOREMOVE_CONSUMER) {
                self.drop_managed(li, after);
                continue;
            }
            if matches!(
                self.link(li).state,
                LinkState::ConsumerProbe | LinkState::Active
            ) {
                self.revert(li);
            }
        }
    }

    /// T3 (`device_links_no_driver`): `d`'s probe failed.
    pub fn no_driver(&mut self, d: u32, after: &mut After) {
        for li in self.node(d).consumers.clone() {
            if self.managed(li)
                && matches!(
                    self.link(li).state,
                    LinkState::ConsumerProbe | LinkState::Active
                )
            {
                self.link_mut(li).state = LinkState::Dormant;
            }
        }
        self.no_driver_suppliers(d, after);
        self.node_mut(d).state = DevState::NoDriver;
    }

    /// The busy check of T5 (`device_links_busy`).
    pub fn busy(&mut self, s: u32) -> bool {
        let mut busy = false;
        for li in self.node(s).consumers.clone() {
            if !self.managed(li) {
                continue;
            }
            if matches!(
                self.link(li).state,
                LinkState::ConsumerProbe | LinkState::Active
            ) {
                busy = true;
                break;
            }
            self.link_mut(li).state = LinkState::SupplierUnbind;
        }
        self.node_mut(s).state = DevState::Unbinding;
        busy
    }

    /// One step of `device_links_unbind_consumers`. Deviation (spec A6): a
    /// sync-state-only link in `CONSUMER_PROBE` waits for the probe here
    /// instead of making the caller spin.
    pub fn unbind_consumers_step(&mut self, s: u32) -> UnbindStep {
        for li in self.node(s).consumers.clone() {
            if !self.managed(li) {
                continue;
            }
            let state = self.link(li).state;
            if state == LinkState::ConsumerProbe {
                return UnbindStep::WaitProbe;
            }
            if self.has(li, LinkFlags::SYNC_STATE_ONLY) {
                continue;
            }
            self.link_mut(li).state = LinkState::SupplierUnbind;
            if state == LinkState::Active {
                let c = self.link(li).consumer.idx();
                if let Some(dev) = self.handle(c) {
                    return UnbindStep::Unbind(dev);
                }
            }
        }
        UnbindStep::Done
    }

    /// T6 and T7 (`device_links_driver_cleanup`): `d`'s driver was removed.
    pub fn driver_cleanup(&mut self, d: u32, after: &mut After) {
        let dormant_q4 = self.config.compat.dormant_after_managed_drop;
        for li in self.node(d).consumers.clone() {
            if !self.link_live(li) || !self.managed(li) {
                continue;
            }
            if self.has(li, LinkFlags::AUTOREMOVE_CONSUMER) {
                self.warn(Diagnostic::AutoremoveConsumerOnSupplierCleanup {
                    link: self.link_name(li),
                });
            }
            let state = self.link(li).state;
            if state != LinkState::SupplierUnbind {
                self.warn(Diagnostic::NotSupplierUnbindOnCleanup {
                    link: self.link_name(li),
                    state,
                });
            }
            if state == LinkState::SupplierUnbind && self.has(li, LinkFlags::AUTOREMOVE_SUPPLIER) {
                self.drop_managed(li, after);
                if !self.link_live(li) {
                    continue;
                }
                // A dual link survives (its stateless owner remains): quirk Q4.
                if !dormant_q4 {
                    continue;
                }
            }
            self.link_mut(li).state = LinkState::Dormant;
        }
        self.no_driver_suppliers(d, after);
        let n = self.node_mut(d);
        n.state = DevState::NoDriver;
        n.state_synced = false;
    }

    /// T8 (`device_links_force_bind`).
    pub fn force_bind(&mut self, d: u32, after: &mut After) {
        for li in self.node(d).suppliers.clone() {
            if !self.link_live(li) || !self.managed(li) {
                continue;
            }
            if self.link(li).state != LinkState::Available {
                self.drop_managed(li, after);
            } else {
                self.link_mut(li).state = LinkState::ConsumerProbe;
            }
        }
        self.node_mut(d).state = DevState::Probing;
    }

    /// T9 (`device_links_purge`): `d` is being deleted.
    pub fn purge(&mut self, d: u32, after: &mut After) {
        for li in self.node(d).suppliers.clone().into_iter().rev() {
            if self.link(li).state == LinkState::Active {
                self.warn(Diagnostic::ConsumerDeletedWithActiveLink {
                    link: self.link_name(li),
                });
            }
            self.delete_link(li, after);
        }
        for li in self.node(d).consumers.clone().into_iter().rev() {
            let state = self.link(li).state;
            if !matches!(state, LinkState::Dormant | LinkState::None) {
                self.warn(Diagnostic::SupplierDeletedWithLiveLink {
                    link: self.link_name(li),
                    state,
                });
            }
            self.delete_link(li, after);
        }
    }
}
