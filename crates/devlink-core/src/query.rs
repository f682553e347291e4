//! The questions every backend answers the same way, written once over a
//! [`Topology`]: who depends on a device, in which order to take the
//! dependents down and bring them back, and why a device waits.
//!
//! Semantics (the kernel's): a device's dependents are its children and
//! the consumers of its links, transitively, except through
//! `SYNC_STATE_ONLY` links, which only delay the supplier's `sync_state()`
//! and never order devices (`device_reorder_to_tail` skips them). Stateless
//! links do order devices, so their consumers are dependents too.

use crate::core::DriverCore;
use crate::device::Device;
use crate::flags::LinkState;
use crate::topology::{DevId, TopoLink, Topology};
use std::collections::BTreeSet;

/// Why a device cannot probe yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Waiting {
    /// A managed, not sync-state-only link whose supplier is not ready.
    Supplier {
        /// The supplier, `bus:name`.
        supplier: String,
        /// The link's state.
        state: LinkState,
    },
    /// A firmware-described supplier with no device yet (fw_devlink;
    /// sysfs shows it as `waiting_for_supplier` = 1 without naming it).
    FwNode {
        /// The supplier's firmware-node path, where the backend knows it.
        path: Option<String>,
    },
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waiting::Supplier { supplier, state } => write!(f, "{supplier} (link {state})"),
            Waiting::FwNode { path: Some(p) } => write!(f, "{p} (no device yet)"),
            Waiting::FwNode { path: None } => f.write_str(
                "a firmware-described supplier with no device yet (waiting_for_supplier = 1)",
            ),
        }
    }
}

/// One line of [`Topology::why`]: something a device waits for, at a
/// depth below the device asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WhyEntry {
    /// 0 for what the device itself waits for, 1 for what that supplier
    /// waits for, and so on.
    pub depth: usize,
    /// What is missing.
    pub waiting: Waiting,
    /// The supplier, when it is a device of the topology.
    pub supplier: Option<DevId>,
    /// The walk stopped here: [`Topology::WHY_DEPTH`] reached, or the
    /// supplier was already explained above (a cycle).
    pub truncated: bool,
}

/// Whether `l` orders its consumer after its supplier.
fn orders(l: &TopoLink) -> bool {
    !l.sync_state_only()
}

impl Topology {
    /// How deep [`why`](Self::why) follows a chain of waiting suppliers.
    pub const WHY_DEPTH: usize = 64;

    /// Everything that depends on any of `roots` (children and consumers
    /// through ordering links, transitively; not the roots themselves),
    /// suppliers first: the bring-up order. Reverse it to tear down.
    pub fn dependents_of(&self, roots: &[DevId]) -> Vec<DevId> {
        let mut seen = vec![false; self.devices().len()];
        for &r in roots {
            seen[r] = true;
        }
        let mut stack: Vec<DevId> = roots.to_vec();
        let mut set = Vec::new();
        while let Some(n) = stack.pop() {
            let next = self.children(n).iter().copied().chain(
                self.consumer_links(n)
                    .filter(|l| orders(l))
                    .filter_map(|l| l.consumer),
            );
            for m in next {
                if !seen[m] {
                    seen[m] = true;
                    set.push(m);
                    stack.push(m);
                }
            }
        }
        self.bringup_order(&set)
    }

    /// [`dependents_of`](Self::dependents_of) one device.
    pub fn dependents(&self, id: DevId) -> Vec<DevId> {
        self.dependents_of(&[id])
    }

    /// The teardown order of `id`'s dependents: consumers first.
    pub fn teardown_order(&self, id: DevId) -> Vec<DevId> {
        let mut v = self.dependents(id);
        v.reverse();
        v
    }

    /// `set` in an order where every parent comes before its children and
    /// every supplier before its consumers (through ordering links), ties
    /// broken by `bus:name`, so the same graph gives the same order
    /// whichever backend produced it. Devices on a cycle (which the
    /// kernel's ordering links cannot form) come last, by `bus:name`.
    pub fn bringup_order(&self, set: &[DevId]) -> Vec<DevId> {
        let n = self.devices().len();
        let mut member = vec![false; n];
        for &d in set {
            member[d] = true;
        }
        let member = &member;
        let out_edges = |d: DevId| {
            self.children(d)
                .iter()
                .copied()
                .chain(
                    self.consumer_links(d)
                        .filter(|l| orders(l))
                        .filter_map(|l| l.consumer),
                )
                .filter(move |&m| member[m] && m != d)
        };
        let mut indeg = vec![0usize; n];
        for &d in set {
            for m in out_edges(d) {
                indeg[m] += 1;
            }
        }
        let key = |d: DevId| (self.device(d).key(), d);
        let mut ready: BTreeSet<(String, DevId)> = set
            .iter()
            .copied()
            .filter(|&d| indeg[d] == 0)
            .map(key)
            .collect();
        let mut order = Vec::with_capacity(set.len());
        while let Some((_, d)) = ready.pop_first() {
            order.push(d);
            for m in out_edges(d) {
                indeg[m] -= 1;
                if indeg[m] == 0 {
                    ready.insert(key(m));
                }
            }
        }
        if order.len() < set.len() {
            let mut placed = vec![false; n];
            for &d in &order {
                placed[d] = true;
            }
            let mut rest: Vec<(String, DevId)> = set
                .iter()
                .copied()
                .filter(|&d| !placed[d])
                .map(key)
                .collect();
            rest.sort_unstable();
            rest.dedup();
            order.extend(rest.into_iter().map(|(_, d)| d));
        }
        order
    }

    /// What `id` waits for before it can probe: firmware suppliers with no
    /// device yet, and managed, not sync-state-only supplier links whose
    /// supplier is not ready. Empty for a bound device.
    pub fn waiting_for(&self, id: DevId) -> Vec<Waiting> {
        let d = self.device(id);
        if d.is_bound() {
            return Vec::new();
        }
        let mut out: Vec<Waiting> = d
            .fw_suppliers
            .iter()
            .map(|p| Waiting::FwNode {
                path: Some(p.clone()),
            })
            .collect();
        if out.is_empty() && d.waiting_for_supplier == Some(true) {
            out.push(Waiting::FwNode { path: None });
        }
        for l in self.supplier_links(id) {
            if !l.managed() || l.sync_state_only() {
                continue;
            }
            if !matches!(
                l.status,
                LinkState::Available | LinkState::Active | LinkState::ConsumerProbe
            ) {
                out.push(Waiting::Supplier {
                    supplier: l.supplier_key.clone(),
                    state: l.status,
                });
            }
        }
        out
    }

    /// The chain of what `id` waits for, what each missing supplier waits
    /// for in turn, and so on, as a flat pre-order list (no recursion, so
    /// any depth is safe; the walk stops at [`WHY_DEPTH`](Self::WHY_DEPTH)
    /// and at suppliers already explained).
    pub fn why(&self, id: DevId) -> Vec<WhyEntry> {
        let mut out = Vec::new();
        let mut explained = vec![false; self.devices().len()];
        explained[id] = true;
        // (depth, what) in reverse so the first cause is popped first.
        let mut stack: Vec<(usize, Waiting)> = self
            .waiting_for(id)
            .into_iter()
            .rev()
            .map(|w| (0, w))
            .collect();
        while let Some((depth, waiting)) = stack.pop() {
            let supplier = match &waiting {
                Waiting::Supplier { supplier, .. } => self.get(supplier),
                Waiting::FwNode { .. } => None,
            };
            let mut entry = WhyEntry {
                depth,
                waiting,
                supplier,
                truncated: false,
            };
            if let Some(s) = supplier.filter(|&s| !self.device(s).is_bound()) {
                if explained[s] || depth + 1 >= Self::WHY_DEPTH {
                    entry.truncated = !self.waiting_for(s).is_empty();
                } else {
                    explained[s] = true;
                    for w in self.waiting_for(s).into_iter().rev() {
                        stack.push((depth + 1, w));
                    }
                }
            }
            out.push(entry);
        }
        out
    }
}

impl DriverCore {
    /// Every registered device that depends on `dev` (its children and its
    /// consumers through links that are not sync-state-only,
    /// transitively), suppliers first: the bring-up order. Reverse it for
    /// the teardown order (consumers first). Answered over
    /// [`topology`](Self::topology), as on every backend.
    ///
    /// ```
    /// use devlink_core::{DriverCore, LinkFlags};
    /// # futures::executor::block_on(async {
    /// let core = DriverCore::new()?;
    /// let region = core.device("region0").bus("platform").create();
    /// let dma = core.device("dma0").bus("platform").create();
    /// let eth = core.device("eth0").bus("platform").create();
    /// for d in [&region, &dma, &eth] { core.device_add(d).await?; }
    /// core.link_add(&eth, &dma, LinkFlags::empty())?;
    /// core.link_add(&dma, &region, LinkFlags::empty())?;
    /// let names: Vec<_> = core.dependents(&region).iter().map(|d| d.name().to_string()).collect();
    /// assert_eq!(names, ["dma0", "eth0"]);
    /// # Ok::<(), devlink_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn dependents(&self, dev: &Device) -> Vec<Device> {
        let (topo, handles) = self.topology_with_handles();
        let Some(id) = handles.iter().position(|h| h == dev) else {
            return Vec::new();
        };
        topo.dependents(id)
            .into_iter()
            .map(|i| handles[i].clone())
            .collect()
    }

    /// Why `d` cannot probe (what it waits for); empty when nothing blocks
    /// it. Answered over [`topology`](Self::topology).
    pub fn waiting_for(&self, d: &Device) -> Vec<Waiting> {
        let (topo, handles) = self.topology_with_handles();
        match handles.iter().position(|h| h == d) {
            Some(id) => topo.waiting_for(id),
            // An unregistered device: only the state machine knows.
            None => self.shared().graph().waiting_for(d.idx()),
        }
    }
}
