//! The simulator's queries, answered from a [`Snapshot`]: the link graph,
//! supplier-first and consumer-first orders for a subtree, and why a
//! device is waiting.

use crate::error::{Result, SysfsError};
use crate::scan::{Snapshot, SysDevice, SysLink};
use devlink_core::LinkState;
use std::collections::{BTreeMap, BTreeSet};

/// Why a device is not bound, as far as sysfs can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// A link whose supplier is not ready (`dormant`, or the supplier is
    /// unbinding).
    Supplier {
        /// The supplier, `bus:name`.
        supplier: String,
        /// The link's status.
        status: LinkState,
    },
    /// `waiting_for_supplier` is `1`: a supplier named in the firmware
    /// description has no device yet.
    FirmwareSupplier,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Supplier { supplier, status } => write!(f, "{supplier} (link {status})"),
            Missing::FirmwareSupplier => f.write_str(
                "a firmware-described supplier with no device yet (waiting_for_supplier = 1)",
            ),
        }
    }
}

impl Snapshot {
    /// The device named `name`: `bus:name`, a unique bare name, or a path
    /// relative to the sysfs root.
    pub fn device(&self, name: &str) -> Option<&SysDevice> {
        if let Some(d) = self.devices.get(name) {
            return Some(d);
        }
        if let Some(d) = self.devices.values().find(|d| d.key() == name) {
            return Some(d);
        }
        let mut bare = self.devices.values().filter(|d| d.name == name);
        match (bare.next(), bare.next()) {
            (Some(d), None) => Some(d),
            _ => None,
        }
    }

    /// [`device`](Self::device), or an error naming `name`.
    pub fn expect_device(&self, name: &str, root: &std::path::Path) -> Result<&SysDevice> {
        self.device(name).ok_or_else(|| SysfsError::NotFound {
            what: format!("device {name:?}"),
            root: root.to_path_buf(),
        })
    }

    /// Links whose consumer is `dev`.
    pub fn supplier_links(&self, dev: &SysDevice) -> Vec<&SysLink> {
        self.links
            .values()
            .filter(|l| l.consumer.as_deref() == Some(&dev.path))
            .collect()
    }

    /// Links whose supplier is `dev`.
    pub fn consumer_links(&self, dev: &SysDevice) -> Vec<&SysLink> {
        self.links
            .values()
            .filter(|l| l.supplier.as_deref() == Some(&dev.path))
            .collect()
    }

    /// What `dev` waits for before it can probe (empty if bound).
    pub fn waiting_for(&self, dev: &SysDevice) -> Vec<Missing> {
        if dev.is_bound() {
            return Vec::new();
        }
        let mut out: Vec<Missing> = self
            .supplier_links(dev)
            .into_iter()
            .filter(|l| matches!(l.status, LinkState::Dormant | LinkState::SupplierUnbind))
            .filter_map(|l| {
                let s = self.devices.get(l.supplier.as_deref()?)?;
                Some(Missing::Supplier {
                    supplier: s.key(),
                    status: l.status,
                })
            })
            .collect();
        if dev.waiting_for_supplier == Some(true) {
            out.push(Missing::FirmwareSupplier);
        }
        out
    }

    /// The devices that depend on `dev` — its children and consumers,
    /// transitively — suppliers first (the order to bind in). Reverse it
    /// to unbind. Ties are broken by sysfs path, so the order is stable.
    pub fn dependents(&self, dev: &SysDevice) -> Vec<&SysDevice> {
        // Edges: parent -> child, supplier -> consumer (paths).
        let mut out_edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for d in self.devices.values() {
            if let Some(p) = &d.parent {
                out_edges.entry(p).or_default().insert(&d.path);
            }
        }
        for l in self.links.values() {
            if let (Some(s), Some(c)) = (&l.supplier, &l.consumer) {
                out_edges.entry(s).or_default().insert(c);
            }
        }
        // The closure below `dev`.
        let mut set = BTreeSet::new();
        let mut stack = vec![dev.path.as_str()];
        while let Some(p) = stack.pop() {
            for &n in out_edges.get(p).into_iter().flatten() {
                if n != dev.path && set.insert(n) {
                    stack.push(n);
                }
            }
        }
        // Kahn's algorithm inside the set, smallest path first.
        let mut indeg: BTreeMap<&str, usize> = set.iter().map(|&p| (p, 0)).collect();
        for &p in &set {
            for &n in out_edges.get(p).into_iter().flatten() {
                if let Some(k) = indeg.get_mut(n) {
                    *k += 1;
                }
            }
        }
        let mut ready: BTreeSet<&str> = indeg
            .iter()
            .filter(|(_, &k)| k == 0)
            .map(|(&p, _)| p)
            .collect();
        let mut order = Vec::with_capacity(set.len());
        while let Some(p) = ready.pop_first() {
            order.push(p);
            for &n in out_edges.get(p).into_iter().flatten() {
                if let Some(k) = indeg.get_mut(n) {
                    *k -= 1;
                    if *k == 0 {
                        ready.insert(n);
                    }
                }
            }
        }
        // A cycle (impossible for the kernel's links) leaves devices out:
        // append them so none is forgotten.
        for &p in &set {
            if !order.contains(&p) {
                order.push(p);
            }
        }
        order
            .into_iter()
            .filter_map(|p| self.devices.get(p))
            .collect()
    }
}
