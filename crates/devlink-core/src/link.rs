//! Device links: `device_link_add` (spec §2.3–§2.5), explicit removal
//! (§5.1), and the [`Link`] handle.

use crate::core::{DriverCore, Shared};
use crate::device::Device;
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::flags::{initial_link_state, DevState, LinkFlags, LinkState};
use crate::graph::{After, Graph, LinkData};
use std::sync::Arc;

/// A handle naming a link. It does not own the link (the driver core does,
/// or, for stateless links, the reference counted in [`Link::kref`]); once
/// the link is deleted every accessor fails with [`Error::StaleLink`]
/// instead of touching freed memory (spec A5).
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
    idx: u32,
    gen: u32,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Ok(n) => write!(f, "Link({n})"),
            Err(_) => write!(f, "Link(#{} deleted)", self.idx),
        }
    }
}

impl PartialEq for Link {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared) && self.idx == other.idx && self.gen == other.gen
    }
}
impl Eq for Link {}

/// A consistent copy of a link's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The sysfs name.
    pub name: String,
    /// The supplier.
    pub supplier: Device,
    /// The consumer.
    pub consumer: Device,
    /// The stored flags.
    pub flags: LinkFlags,
    /// The state.
    pub state: LinkState,
    /// The ownership count.
    pub kref: u32,
    /// The runtime-PM counter (1 + usage references held on the supplier).
    pub rpm_active: u32,
}

impl Link {
    pub(crate) fn new(shared: &Arc<Shared>, idx: u32, gen: u32) -> Link {
        Link {
            shared: Arc::clone(shared),
            idx,
            gen,
        }
    }

    fn stale(&self) -> Error {
        Error::StaleLink {
            name: format!("#{}", self.idx),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Graph, &LinkData) -> T) -> Result<T> {
        let g = self.shared.graph();
        let l = g
            .link_checked(self.idx, self.gen)
            .ok_or_else(|| self.stale())?;
        Ok(f(&g, l))
    }

    /// Whether the link still exists.
    pub fn exists(&self) -> bool {
        self.with(|_, _| ()).is_ok()
    }

    /// The sysfs name `<S bus>:<S name>--<C bus>:<C name>`.
    pub fn name(&self) -> Result<String> {
        self.with(|g, _| g.link_name(self.idx))
    }

    /// The state.
    pub fn state(&self) -> Result<LinkState> {
        self.with(|_, l| l.state)
    }

    /// The stored flags.
    pub fn flags(&self) -> Result<LinkFlags> {
        self.with(|_, l| l.flags)
    }

    /// The ownership count (spec §2.6).
    pub fn kref(&self) -> Result<u32> {
        self.with(|_, l| l.kref)
    }

    /// The supplier (a new reference).
    pub fn supplier(&self) -> Result<Device> {
        self.with(|_, l| l.supplier.clone())
    }

    /// The consumer (a new reference).
    pub fn consumer(&self) -> Result<Device> {
        self.with(|_, l| l.consumer.clone())
    }

    /// Every field at once.
    pub fn info(&self) -> Result<LinkInfo> {
        self.with(|g, l| LinkInfo {
            name: g.link_name(self.idx),
            supplier: l.supplier.clone(),
            consumer: l.consumer.clone(),
            flags: l.flags,
            state: l.state,
            kref: l.kref,
            rpm_active: l.rpm_active,
        })
    }
}

impl Graph {
    /// `device_link_add` steps P1..E..create, under the lock. Returns the
    /// link index; `p1` says whether the caller took the P1 reference.
    pub(crate) fn link_add_internal(
        &mut self,
        c: &Device,
        s: &Device,
        mut flags: LinkFlags,
        after: &mut After,
    ) -> Result<u32> {
        let si = s.idx();
        let names = || (c.to_string(), s.to_string());
        // P1: resume the supplier and take a usage reference.
        let p1 = flags.contains(LinkFlags::PM_RUNTIME | LinkFlags::RPM_ACTIVE);
        if p1 {
            let rpm = &mut self.node_mut(si).rpm;
            rpm.usage += 1;
            rpm.resumes += 1;
            if rpm.resume_fails {
                rpm.usage -= 1;
                let (consumer, supplier) = names();
                return Err(Error::RuntimeResumeFailed { consumer, supplier });
            }
        }
        let result = self.link_add_checked(c, s, &mut flags, p1, after);
        if result.is_err() && p1 {
            let rpm = &mut self.node_mut(si).rpm;
            rpm.usage = rpm.usage.saturating_sub(1);
        }
        result.map_err(|e| {
            let (consumer, supplier) = names();
            match e {
                Reject::NotRegistered => Error::SupplierNotRegistered { consumer, supplier },
                Reject::Cycle => {
                    self.warn(Diagnostic::DependencyCycle {
                        consumer: consumer.clone(),
                        supplier: supplier.clone(),
                    });
                    Error::DependencyCycle { consumer, supplier }
                }
                Reject::ConsumerBound(state) => Error::ConsumerAlreadyBound {
                    consumer,
                    supplier,
                    state,
                },
                Reject::NameCollision(name) => Error::LinkNameCollision { name },
            }
        })
    }

    fn link_add_checked(
        &mut self,
        c: &Device,
        s: &Device,
        flags: &mut LinkFlags,
        p1: bool,
        after: &mut After,
    ) -> std::result::Result<u32, Reject> {
        let (ci, si) = (c.idx(), s.idx());
        // N1
        if !flags.contains(LinkFlags::STATELESS) {
            flags.insert(LinkFlags::MANAGED);
        }
        let sso = flags.contains(LinkFlags::SYNC_STATE_ONLY);
        // R8
        if !self.node(si).registered {
            return Err(Reject::NotRegistered);
        }
        // R9
        if !sso && self.is_dependent(ci, si) {
            return Err(Reject::Cycle);
        }
        // R10
        let cstate = self.node(ci).state;
        if sso && !matches!(cstate, DevState::NoDriver | DevState::Probing) {
            return Err(Reject::ConsumerBound(cstate));
        }
        // N2
        if flags.contains(LinkFlags::AUTOREMOVE_SUPPLIER) {
            flags.remove(LinkFlags::AUTOREMOVE_CONSUMER);
        }
        // E
        if let Some(li) = self.find_link(si, ci) {
            self.merge_existing(li, *flags);
            return Ok(li);
        }
        // The link's references: the caller holds one on each, so these
        // are plain increments (`get_device`).
        let supplier = s.clone();
        let consumer = c.clone();
        // R12: another link already has this sysfs name (only possible when
        // an unregistered consumer shares a name with another consumer of
        // S; either of the two may be the unregistered one).
        let c_registered = self.node(ci).registered;
        let name_taken = (!c_registered || self.node(si).unregistered_consumers > 0)
            && self.node(si).consumers.iter().any(|&li| {
                let other = &self.link(li).consumer;
                other.name() == consumer.name() && other.bus_name() == consumer.bus_name()
            });
        if name_taken {
            let name = crate::graph::link_name(&supplier, &consumer);
            // The half-built link goes through the normal deferred release.
            self.submit(
                Box::new(move || {
                    drop(consumer);
                    drop(supplier);
                }),
                after,
            );
            return Err(Reject::NameCollision(name));
        }
        let pm = flags.contains(LinkFlags::PM_RUNTIME);
        let mut rpm_active = 1;
        if pm {
            if p1 {
                rpm_active += 1;
            }
            self.node_mut(ci).rpm.links_count += 1;
        }
        let state = if flags.contains(LinkFlags::STATELESS) {
            LinkState::None
        } else {
            initial_link_state(self.node(si).state, cstate)
        };
        if state == LinkState::ConsumerProbe && pm {
            self.node_mut(si).rpm.resumes += 1;
        }
        let (li, _) = self.alloc_link(LinkData {
            supplier,
            consumer,
            s: si,
            c: ci,
            flags: *flags,
            state,
            kref: 1,
            rpm_active,
            symlinks: self.node(ci).registered,
        });
        self.node_mut(si).consumers.push(li);
        self.node_mut(ci).suppliers.push(li);
        if !c_registered {
            self.node_mut(si).unregistered_consumers += 1;
        }
        self.order_link(li);
        Ok(li)
    }

    /// Spec §2.5: a request for a pair that already has a link.
    fn merge_existing(&mut self, li: u32, req: LinkFlags) {
        let ci = self.link(li).consumer.idx();
        let l = self.link_mut(li);
        if l.flags.contains(LinkFlags::INFERRED) && !req.contains(LinkFlags::INFERRED) {
            l.flags.remove(LinkFlags::INFERRED);
        }
        let mut new_pm_link = false;
        if req.contains(LinkFlags::PM_RUNTIME) {
            if !l.flags.contains(LinkFlags::PM_RUNTIME) {
                l.flags.insert(LinkFlags::PM_RUNTIME);
                new_pm_link = true;
            }
            if req.contains(LinkFlags::RPM_ACTIVE) {
                l.rpm_active += 1;
            }
        }
        if new_pm_link {
            self.node_mut(ci).rpm.links_count += 1;
        }
        let l = self.link_mut(li);
        if req.contains(LinkFlags::STATELESS) {
            l.kref += 1;
            l.flags.insert(LinkFlags::STATELESS);
            // A sync-state-only link that becomes stateless now orders devices.
            self.order_link(li);
            return;
        }
        if req.contains(LinkFlags::AUTOREMOVE_SUPPLIER) {
            if l.flags.contains(LinkFlags::AUTOREMOVE_CONSUMER) {
                l.flags.remove(LinkFlags::AUTOREMOVE_CONSUMER);
                l.flags.insert(LinkFlags::AUTOREMOVE_SUPPLIER);
            }
        } else if !req.contains(LinkFlags::AUTOREMOVE_CONSUMER) {
            l.flags
                .remove(LinkFlags::AUTOREMOVE_CONSUMER | LinkFlags::AUTOREMOVE_SUPPLIER);
        }
        if !l.flags.contains(LinkFlags::MANAGED) {
            l.kref += 1;
            l.flags.insert(LinkFlags::MANAGED);
            let (s, c) = (l.supplier.idx(), l.consumer.idx());
            let st = initial_link_state(self.node(s).state, self.node(c).state);
            self.link_mut(li).state = st;
        }
        let l = self.link_mut(li);
        if l.flags.contains(LinkFlags::SYNC_STATE_ONLY) && !req.contains(LinkFlags::SYNC_STATE_ONLY)
        {
            l.flags.remove(LinkFlags::SYNC_STATE_ONLY);
            self.order_link(li);
        }
    }

    /// `device_link_put_kref` for an explicit caller put (spec §2.6, §5.1).
    fn put_kref(&mut self, li: u32, after: &mut After) -> Result<()> {
        let l = self.link(li);
        if l.flags.contains(LinkFlags::STATELESS) {
            self.link_mut(li).kref -= 1;
            if self.link(li).kref == 0 {
                self.delete_link(li, after);
            }
            return Ok(());
        }
        if !self.node(l.consumer.idx()).registered {
            // A11: error-path cleanup relies on this.
            self.delete_link(li, after);
            return Ok(());
        }
        let name = self.link_name(li);
        self.warn(Diagnostic::ManagedLinkDel { link: name.clone() });
        Err(Error::ManagedLinkReference { name })
    }
}

enum Reject {
    NotRegistered,
    Cycle,
    ConsumerBound(DevState),
    NameCollision(String),
}

fn validate(consumer: &Device, supplier: &Device, flags: LinkFlags) -> Result<()> {
    let names = || (consumer.to_string(), supplier.to_string());
    // R1: both must belong to the same core.
    if !Arc::ptr_eq(consumer.shared(), supplier.shared()) {
        let (c, s) = names();
        return Err(Error::ForeignDevice {
            foreign: s.clone(),
            consumer: c,
            supplier: s,
        });
    }
    // R2
    if consumer == supplier {
        return Err(Error::SelfLink {
            device: consumer.to_string(),
        });
    }
    // R3
    let invalid = flags.bits() & !LinkFlags::ADD_VALID.bits();
    if invalid != 0 {
        let (c, s) = names();
        return Err(Error::InvalidFlags {
            consumer: c,
            supplier: s,
            flags: flags.bits(),
            invalid,
        });
    }
    let conflict = |why| {
        let (c, s) = names();
        Err(Error::FlagConflict {
            consumer: c,
            supplier: s,
            flags,
            why,
        })
    };
    // R4
    if flags.contains(LinkFlags::STATELESS) && flags.intersects(LinkFlags::MANAGED_ONLY) {
        return conflict("STATELESS excludes every managed-only flag");
    }
    // R5
    if flags.contains(LinkFlags::AUTOPROBE_CONSUMER)
        && flags.intersects(LinkFlags::AUTOREMOVE_CONSUMER | LinkFlags::AUTOREMOVE_SUPPLIER)
    {
        return conflict("AUTOPROBE_CONSUMER excludes the AUTOREMOVE flags");
    }
    // R7, checked before P1 so no reference can leak (spec A2).
    if flags.contains(LinkFlags::SYNC_STATE_ONLY)
        && (flags - LinkFlags::MARKERS) != LinkFlags::SYNC_STATE_ONLY
    {
        return conflict("SYNC_STATE_ONLY can only be combined with INFERRED and CYCLE");
    }
    Ok(())
}

impl DriverCore {
    /// `device_link_add(consumer, supplier, flags)`: makes `consumer` depend
    /// on `supplier`.
    ///
    /// Checks run in the kernel's order (spec §2.3) and a rejection changes
    /// nothing: no link, no reference, no reordering. A second add for the
    /// same pair returns the existing link, updated by the rules of §2.5.
    /// One deliberate deviation: the `SYNC_STATE_ONLY` combination check
    /// (R7) runs before the supplier is resumed, so no runtime-PM reference
    /// can leak (spec A2).
    ///
    /// Ordering: on success the consumer, its children and its consumers
    /// come after the supplier in the shutdown/PM order.
    pub fn link_add(&self, consumer: &Device, supplier: &Device, flags: LinkFlags) -> Result<Link> {
        validate(consumer, supplier, flags)?;
        if !Arc::ptr_eq(consumer.shared(), self.shared()) {
            return Err(Error::ForeignDevice {
                consumer: consumer.to_string(),
                supplier: supplier.to_string(),
                foreign: consumer.to_string(),
            });
        }
        let mut after = After::default();
        let result = {
            let mut g = self.shared().graph();
            g.link_add_internal(consumer, supplier, flags, &mut after)
                .map(|li| Link::new(self.shared(), li, g.links[li as usize].gen))
        };
        after.run();
        result
    }

    /// `device_link_del(link)`: drops the caller's reference on a stateless
    /// link (deleting it with the last one). On a managed link whose
    /// consumer is registered it refuses (and logs the kernel's warning); if
    /// the consumer is not registered it deletes the link outright (spec
    /// §2.6, A11). A handle from another driver core is refused with
    /// [`Error::ForeignDevice`].
    pub fn link_del(&self, link: &Link) -> Result<()> {
        if !Arc::ptr_eq(&link.shared, self.shared()) {
            // Its index would name an unrelated link of this core.
            let (consumer, supplier) = (link.consumer()?, link.supplier()?);
            return Err(Error::ForeignDevice {
                foreign: consumer.to_string(),
                consumer: consumer.to_string(),
                supplier: supplier.to_string(),
            });
        }
        let mut after = After::default();
        let result = {
            let mut g = self.shared().graph();
            if g.link_checked(link.idx, link.gen).is_none() {
                Err(link.stale())
            } else {
                g.put_kref(link.idx, &mut after)
            }
        };
        after.run();
        result
    }

    /// `device_link_remove(consumer, supplier)`: like [`link_del`](Self::link_del)
    /// on the link between them. Returns `Ok(false)` when there is none, and
    /// [`Error::ForeignDevice`] for a device of another driver core.
    pub fn link_remove(&self, consumer: &Device, supplier: &Device) -> Result<bool> {
        if consumer == supplier {
            self.diagnostics().emit(Diagnostic::RemoveSelfLink {
                device: consumer.to_string(),
            });
            return Err(Error::RemoveSelfLink {
                device: consumer.to_string(),
            });
        }
        // Indices of another core's devices would name unrelated devices here.
        if let Some(foreign) = [consumer, supplier]
            .into_iter()
            .find(|d| !Arc::ptr_eq(d.shared(), self.shared()))
        {
            return Err(Error::ForeignDevice {
                consumer: consumer.to_string(),
                supplier: supplier.to_string(),
                foreign: foreign.to_string(),
            });
        }
        let mut after = After::default();
        let result = {
            let mut g = self.shared().graph();
            match g.find_link(supplier.idx(), consumer.idx()) {
                None => Ok(false),
                Some(li) => g.put_kref(li, &mut after).map(|()| true),
            }
        };
        after.run();
        result
    }

    /// Every live link, in no particular order.
    pub fn links(&self) -> Vec<Link> {
        let g = self.shared().graph();
        g.links
            .iter()
            .enumerate()
            .filter(|(_, s)| s.data.is_some())
            .map(|(i, s)| Link::new(self.shared(), i as u32, s.gen))
            .collect()
    }

    /// The link from `supplier` to `consumer`, if any.
    pub fn find_link(&self, consumer: &Device, supplier: &Device) -> Option<Link> {
        if ![consumer, supplier]
            .iter()
            .all(|d| Arc::ptr_eq(d.shared(), self.shared()))
        {
            return None;
        }
        let g = self.shared().graph();
        g.find_link(supplier.idx(), consumer.idx())
            .map(|li| Link::new(self.shared(), li, g.links[li as usize].gen))
    }
}
