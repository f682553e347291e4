//! The driver model's state under the one writer lock: device nodes, the link
//! slab, the incremental topological order, registered drivers and the
//! deferred-probe list. Everything here is synchronous and runs with the lock
//! held; nothing here calls user code (driver callbacks run after unlocking,
//! see [`After`]).

use crate::dd::DriverEntry;
use crate::device::{Device, DeviceIdent, DeviceInner};
use crate::diag::{Diagnostic, Diagnostics};
use crate::flags::{DevState, FwDevlinkMode, LinkFlags, LinkState};
use crate::removal::{Job, RemovalQueue};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Behaviour switches for kernel quirks the library fixes by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelCompat {
    /// Quirk Q3: leave a consumer `PROBING` after the link gate defers its
    /// probe (the kernel does); `false` resets it to `NO_DRIVER`.
    pub probing_after_link_deferral: bool,
    /// Quirk Q4: a dual link that loses its managed part on supplier
    /// cleanup reads `dormant` (the kernel does); `false` shows `not tracked`.
    pub dormant_after_managed_drop: bool,
}

impl KernelCompat {
    /// Every quirk as the kernel has it (for differential tests).
    pub const KERNEL: KernelCompat = KernelCompat {
        probing_after_link_deferral: true,
        dormant_after_managed_drop: true,
    };
}

/// Driver-core configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreConfig {
    /// How firmware supplier hints become device links.
    pub fw_devlink: FwDevlinkMode,
    /// Which kernel quirks to reproduce.
    pub compat: KernelCompat,
}

/// Runtime-PM counters of a device (only what links use, spec §2.7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimePm {
    /// Usage count (`power.usage_count`).
    pub usage: u32,
    /// The consumer's runtime-PM link counter (`power.links_count`).
    pub links_count: u32,
    /// Synchronous resumes requested so far.
    pub resumes: u64,
    /// Fault injection: runtime resume fails.
    pub resume_fails: bool,
}

/// A device-managed action (`devm_add_action`).
pub(crate) enum DevresAction {
    /// Runs where it is released.
    Sync(Box<dyn FnOnce() + Send + 'static>),
    /// Work that must be awaited (an async unregister): awaited where the
    /// release is async (driver unbind, `device_del`), driven to its end
    /// on the releasing thread at the last reference.
    Async(Box<dyn FnOnce() -> crate::device::DevresFuture + Send + 'static>),
}

impl DevresAction {
    /// Runs it on this thread, to its end.
    pub(crate) fn run_blocking(self) {
        match self {
            DevresAction::Sync(f) => f(),
            DevresAction::Async(f) => crate::device::block_on(f()),
        }
    }

    /// Runs it, awaiting async work.
    pub(crate) async fn run(self) {
        match self {
            DevresAction::Sync(f) => f(),
            DevresAction::Async(f) => f().await,
        }
    }
}

/// A device's list of link slots: inline up to four (no allocation for
/// most devices), the size of a `Vec` either way.
pub(crate) type LinkList = smallvec::SmallVec<[u32; 4]>;

/// One device's state under the lock. `repr(C)` and line-aligned so that
/// what `link_add` reads and writes (both link lists, the order, the
/// presence state) is the node's first cache line: on a graph too big for
/// the caches that is one miss per device touched, not three.
#[repr(C, align(64))]
pub(crate) struct DevNode {
    /// Links where this device is the supplier, in insertion order.
    pub consumers: LinkList,
    /// Links where this device is the consumer, in insertion order.
    pub suppliers: LinkList,
    /// Position in the order; meaningful while registered.
    pub ord: u64,
    /// How many of this supplier's consumers are not registered (the only
    /// case in which two links can collide on a sysfs name, R12).
    pub unregistered_consumers: u32,
    pub state: DevState,
    pub registered: bool,
    pub deleted: bool,
    /// The device lock (`device_lock`), held across probe and remove.
    pub locked: bool,
    // ---- end of the first cache line ----
    pub dev: Arc<DeviceIdent>,
    /// The counted device, as an observer: upgrading it is `get_device`
    /// unless the count already reached zero.
    pub handle: std::sync::Weak<DeviceInner>,
    /// The registration's own reference, dropped by `device_del`.
    pub reg: Option<Device>,
    pub children: Vec<u32>,
    pub driver: Option<Arc<DriverEntry>>,
    pub can_match: bool,
    pub on_deferred_list: bool,
    pub state_synced: bool,
    /// Whether the `waiting_for_supplier` attribute exists.
    pub wfs_attr: bool,
    mark: u32,
    pub rpm: RuntimePm,
    pub devres: Vec<DevresAction>,
}

// The hot fields fit the first line, and an inline link list is no bigger
// than a `Vec`.
const _: () = assert!(std::mem::offset_of!(DevNode, dev) <= 64);
const _: () = assert!(std::mem::size_of::<LinkList>() == 24);

pub(crate) struct LinkData {
    pub supplier: Device,
    pub consumer: Device,
    /// The endpoints' slots, kept here so walks over link lists do not
    /// dereference the devices (a cache miss each on large graphs).
    pub s: u32,
    pub c: u32,
    pub flags: LinkFlags,
    pub state: LinkState,
    pub kref: u32,
    pub rpm_active: u32,
    /// Whether the class-interface hook made the four symlinks (it fails,
    /// silently, when the consumer is not registered; spec §7.4).
    pub symlinks: bool,
}

pub(crate) struct LinkSlot {
    pub gen: u32,
    pub data: Option<LinkData>,
}

/// Work to do once the lock is released: user callbacks, device puts, and
/// release jobs that could not be queued because the worker is gone.
#[derive(Default)]
pub(crate) struct After {
    pub puts: Vec<Device>,
    pub inline_jobs: Vec<Job>,
    pub sync_state: Vec<(Device, Arc<DriverEntry>)>,
    pub devres: Vec<DevresAction>,
}

impl After {
    pub fn run(mut self) {
        for job in self.inline_jobs.drain(..) {
            job();
        }
        for (dev, drv) in self.sync_state.drain(..) {
            drv.driver.sync_state(&dev);
        }
        while let Some(action) = self.devres.pop() {
            action.run_blocking();
        }
        self.puts.clear();
    }

    /// [`run`](Self::run), awaiting async device-managed actions instead
    /// of blocking on them (the driver-release paths are async).
    /// The order is the same: callbacks, then the actions newest first,
    /// then the puts.
    pub async fn run_async(mut self) {
        for job in self.inline_jobs.drain(..) {
            job();
        }
        for (dev, drv) in self.sync_state.drain(..) {
            drv.driver.sync_state(&dev);
        }
        while let Some(action) = self.devres.pop() {
            action.run().await;
        }
        self.puts.clear();
    }
}

pub(crate) struct Graph {
    pub nodes: Vec<Option<DevNode>>,
    free_nodes: Vec<u32>,
    pub links: Vec<LinkSlot>,
    free_links: Vec<u32>,
    pub live_links: usize,
    /// ord -> device: the devices-kset list and the PM list (they have the
    /// same members here), front = first to resume, back = first to shut down.
    pub order: BTreeMap<u64, u32>,
    next_ord: u64,
    pub names: HashMap<(String, String), u32>,
    /// fwnode identity -> registered device made from it.
    pub fw_devices: HashMap<usize, u32>,
    pub drivers: Vec<Arc<DriverEntry>>,
    pub deferred: Vec<u32>,
    pub probing: usize,
    pub bind_gen: u64,
    pub best_effort: bool,
    pub config: CoreConfig,
    pub queue: Arc<RemovalQueue>,
    pub diag: Arc<Diagnostics>,
    epoch: u32,
    stack: Vec<u32>,
}

impl Graph {
    pub fn new(config: CoreConfig, queue: Arc<RemovalQueue>, diag: Arc<Diagnostics>) -> Graph {
        Graph {
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            links: Vec::new(),
            free_links: Vec::new(),
            live_links: 0,
            order: BTreeMap::new(),
            next_ord: 0,
            names: HashMap::new(),
            fw_devices: HashMap::new(),
            drivers: Vec::new(),
            deferred: Vec::new(),
            probing: 0,
            bind_gen: 0,
            best_effort: false,
            config,
            queue,
            diag,
            epoch: 0,
            stack: Vec::new(),
        }
    }

    // ----- device slots -------------------------------------------------

    pub fn reserve_node(&mut self) -> u32 {
        if let Some(i) = self.free_nodes.pop() {
            i
        } else {
            self.nodes.push(None);
            (self.nodes.len() - 1) as u32
        }
    }

    pub fn install_node(
        &mut self,
        idx: u32,
        dev: Arc<DeviceIdent>,
        handle: std::sync::Weak<DeviceInner>,
    ) {
        self.nodes[idx as usize] = Some(DevNode {
            dev,
            handle,
            state: DevState::NoDriver,
            registered: false,
            reg: None,
            deleted: false,
            suppliers: LinkList::new(),
            consumers: LinkList::new(),
            children: Vec::new(),
            unregistered_consumers: 0,
            driver: None,
            can_match: false,
            ord: 0,
            locked: false,
            on_deferred_list: false,
            state_synced: false,
            wfs_attr: false,
            rpm: RuntimePm::default(),
            devres: Vec::new(),
            mark: 0,
        });
    }

    /// Frees a released device's slot; returns the node so the caller can
    /// drop it after unlocking.
    pub fn remove_node(&mut self, idx: u32) -> Option<DevNode> {
        let node = self.nodes[idx as usize].take();
        if node.is_some() {
            self.free_nodes.push(idx);
        }
        node
    }

    pub fn node(&self, idx: u32) -> &DevNode {
        self.nodes[idx as usize]
            .as_ref()
            .expect("device slot is live while a handle exists")
    }

    pub fn node_mut(&mut self, idx: u32) -> &mut DevNode {
        self.nodes[idx as usize]
            .as_mut()
            .expect("device slot is live while a handle exists")
    }

    /// A new handle (reference) to a live device, or `None` if it is being
    /// released.
    pub fn handle(&self, idx: u32) -> Option<Device> {
        self.nodes[idx as usize]
            .as_ref()
            .and_then(|n| Device::try_from_weak(&n.handle))
    }

    // ----- link slots ---------------------------------------------------

    pub fn alloc_link(&mut self, data: LinkData) -> (u32, u32) {
        self.live_links += 1;
        if let Some(i) = self.free_links.pop() {
            let slot = &mut self.links[i as usize];
            slot.data = Some(data);
            (i, slot.gen)
        } else {
            self.links.push(LinkSlot {
                gen: 0,
                data: Some(data),
            });
            ((self.links.len() - 1) as u32, 0)
        }
    }

    pub fn link(&self, li: u32) -> &LinkData {
        self.links[li as usize]
            .data
            .as_ref()
            .expect("link index from a live list")
    }

    pub fn link_mut(&mut self, li: u32) -> &mut LinkData {
        self.links[li as usize]
            .data
            .as_mut()
            .expect("link index from a live list")
    }

    pub fn link_live(&self, li: u32) -> bool {
        self.links[li as usize].data.is_some()
    }

    /// Looks up a link by handle coordinates.
    pub fn link_checked(&self, li: u32, gen: u32) -> Option<&LinkData> {
        let slot = self.links.get(li as usize)?;
        if slot.gen != gen {
            return None;
        }
        slot.data.as_ref()
    }

    /// The sysfs name `<S bus>:<S name>--<C bus>:<C name>` (spec §7.1).
    pub fn link_name(&self, li: u32) -> String {
        let l = self.link(li);
        link_name(&l.supplier, &l.consumer)
    }

    /// Finds the link S→C, scanning the shorter of the two lists.
    pub fn find_link(&self, s: u32, c: u32) -> Option<u32> {
        let (sn, cn) = (self.node(s), self.node(c));
        if sn.consumers.len() <= cn.suppliers.len() {
            sn.consumers
                .iter()
                .copied()
                .find(|&li| self.link(li).c == c)
        } else {
            cn.suppliers
                .iter()
                .copied()
                .find(|&li| self.link(li).s == s)
        }
    }

    /// Frees the slot and hands the link's data back.
    fn take_link(&mut self, li: u32) -> LinkData {
        let slot = &mut self.links[li as usize];
        let data = slot.data.take().expect("deleting a live link");
        slot.gen = slot.gen.wrapping_add(1);
        self.free_links.push(li);
        self.live_links -= 1;
        data
    }

    /// Queues a release job, or keeps it for the caller to run after
    /// unlocking if the worker is gone.
    pub fn submit(&mut self, job: Job, after: &mut After) {
        if let Err(job) = self.queue.submit(job) {
            after.inline_jobs.push(job);
        }
    }

    /// `__device_link_del` (spec §5.3): the synchronous part of a deletion.
    /// The link's device references move to a release job on the removal
    /// queue (§5.4); until it runs, both devices stay alive.
    pub fn delete_link(&mut self, li: u32, after: &mut After) {
        let mut data = self.take_link(li);
        let (s, c) = (data.s, data.c);
        if data.flags.contains(LinkFlags::PM_RUNTIME) {
            let cn = self.node_mut(c);
            cn.rpm.links_count = cn.rpm.links_count.saturating_sub(1);
            let sn = self.node_mut(s);
            while data.rpm_active > 1 && sn.rpm.usage > 0 {
                sn.rpm.usage -= 1;
                data.rpm_active -= 1;
            }
        }
        if !self.node(c).registered {
            self.node_mut(s).unregistered_consumers -= 1;
        }
        self.node_mut(s).consumers.retain(|x| *x != li);
        self.node_mut(c).suppliers.retain(|x| *x != li);
        let LinkData {
            supplier, consumer, ..
        } = data;
        // device_link_release_fn: put the consumer, then the supplier.
        self.submit(
            Box::new(move || {
                drop(consumer);
                drop(supplier);
            }),
            after,
        );
    }

    /// T10, `device_link_drop_managed`.
    pub fn drop_managed(&mut self, li: u32, after: &mut After) {
        let l = self.link_mut(li);
        l.flags.remove(LinkFlags::MANAGED);
        l.state = LinkState::None;
        l.kref -= 1;
        if l.kref == 0 {
            self.delete_link(li, after);
        }
    }

    pub fn warn(&self, d: Diagnostic) {
        self.diag.emit(d);
    }

    // ----- ordering (Pearce–Kelly) --------------------------------------

    /// Puts a newly registered device at the tail of the order.
    pub fn order_append(&mut self, idx: u32) {
        let ord = self.next_ord;
        self.next_ord += 1;
        self.node_mut(idx).ord = ord;
        self.order.insert(ord, idx);
    }

    pub fn order_remove(&mut self, idx: u32) {
        let ord = self.node(idx).ord;
        self.order.remove(&ord);
    }

    /// Whether a link with these flags is an ordering (and dependency) edge:
    /// everything but the sync-state-only predicate (spec §2.8).
    fn is_edge(flags: LinkFlags) -> bool {
        !flags.is_sync_state_only()
    }

    fn push_succs(&mut self, n: u32) {
        let node = self.nodes[n as usize].as_ref().expect("live");
        for &ch in &node.children {
            self.stack.push(ch);
        }
        for &li in &node.consumers {
            let l = self.links[li as usize].data.as_ref().expect("live");
            if Self::is_edge(l.flags) {
                self.stack.push(l.c);
            }
        }
    }

    fn push_preds(&mut self, n: u32) {
        let node = self.nodes[n as usize].as_ref().expect("live");
        if let Some(p) = node.dev.parent_idx() {
            self.stack.push(p);
        }
        for &li in &node.suppliers {
            let l = self.links[li as usize].data.as_ref().expect("live");
            if Self::is_edge(l.flags) {
                self.stack.push(l.s);
            }
        }
    }

    /// Depth-first search from `start` over registered devices whose order
    /// lies in `range` (inclusive). Returns the visited devices, or `None`
    /// when `stop` is reached.
    fn search(
        &mut self,
        start: u32,
        forward: bool,
        lo: u64,
        hi: u64,
        stop: Option<u32>,
    ) -> Option<Vec<u32>> {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            for n in self.nodes.iter_mut().flatten() {
                n.mark = 0;
            }
            self.epoch = 1;
        }
        let epoch = self.epoch;
        let mut visited = Vec::new();
        self.stack.clear();
        self.stack.push(start);
        while let Some(n) = self.stack.pop() {
            let node = self.nodes[n as usize].as_mut().expect("live");
            if node.mark == epoch || !node.registered || node.ord < lo || node.ord > hi {
                continue;
            }
            if Some(n) == stop {
                self.stack.clear();
                return None;
            }
            node.mark = epoch;
            visited.push(n);
            if forward {
                self.push_succs(n);
            } else {
                self.push_preds(n);
            }
        }
        Some(visited)
    }

    /// `device_is_dependent(c, s)`: whether `s` already depends on `c`
    /// (directly or through children and non-sync-state-only links), so a
    /// link making `c` depend on `s` would close a loop (spec §4.4, R9).
    ///
    /// O(1) when the current order already has `s` before `c`; otherwise a
    /// search bounded to the devices ordered between them.
    pub fn is_dependent(&mut self, c: u32, s: u32) -> bool {
        if c == s {
            return true;
        }
        let cn = self.node(c);
        if !cn.registered {
            // Only a deleted device can have registered children; no
            // registered device can otherwise depend on an unregistered one.
            let mut p = self.node(s).dev.parent_idx();
            while let Some(pi) = p {
                if pi == c {
                    return true;
                }
                p = self.nodes[pi as usize]
                    .as_ref()
                    .and_then(|n| n.dev.parent_idx());
            }
            let children = cn.children.clone();
            return children.into_iter().any(|ch| self.is_dependent(ch, s));
        }
        let (oc, os) = (cn.ord, self.node(s).ord);
        if os < oc {
            return false;
        }
        self.search(c, true, oc, os, Some(s)).is_none()
    }

    /// Records the ordering edge `x` before `y` (both registered, no cycle),
    /// reordering the minimal affected region (Pearce–Kelly). O(1) when the
    /// order already agrees.
    pub fn order_edge(&mut self, x: u32, y: u32) {
        let (ox, oy) = (self.node(x).ord, self.node(y).ord);
        if ox < oy {
            return;
        }
        let fwd = self
            .search(y, true, oy, ox, Some(x))
            .expect("order_edge called on an edge that closes a cycle");
        let back = self
            .search(x, false, oy, ox, None)
            .expect("backward search has no stop");
        let mut fwd: Vec<(u64, u32)> = fwd.into_iter().map(|n| (self.node(n).ord, n)).collect();
        let mut back: Vec<(u64, u32)> = back.into_iter().map(|n| (self.node(n).ord, n)).collect();
        fwd.sort_unstable();
        back.sort_unstable();
        let mut pool: Vec<u64> = back.iter().chain(fwd.iter()).map(|&(o, _)| o).collect();
        pool.sort_unstable();
        for &(o, _) in back.iter().chain(fwd.iter()) {
            self.order.remove(&o);
        }
        for (&(_, n), &o) in back.iter().chain(fwd.iter()).zip(pool.iter()) {
            self.node_mut(n).ord = o;
            self.order.insert(o, n);
        }
    }

    /// Adds the ordering edge for link `li` if it is one and both ends are
    /// registered (spec §2.4 step 7, §2.5 "reorder").
    pub fn order_link(&mut self, li: u32) {
        let l = self.link(li);
        if !Self::is_edge(l.flags) {
            return;
        }
        let (s, c) = (l.s, l.c);
        if self.node(s).registered && self.node(c).registered {
            self.order_edge(s, c);
        }
    }

    /// Registered devices, first to last (resume order; shutdown walks it
    /// backwards).
    pub fn ordered(&self) -> Vec<u32> {
        self.order.values().copied().collect()
    }
}

/// `<S bus>:<S name>--<C bus>:<C name>`.
pub(crate) fn link_name(s: &Device, c: &Device) -> String {
    format!(
        "{}:{}--{}:{}",
        s.bus_name(),
        s.name(),
        c.bus_name(),
        c.name()
    )
}

impl DevNode {
    /// The device's firmware node (a new reference; dropping it under the
    /// graph lock is safe because node release never takes that lock).
    pub fn dev_fwnode(&self) -> Option<crate::FwNode> {
        self.dev.fwnode()
    }
}
