//! Devices: counted handles (`get_device`/`put_device`), their builder, and
//! the release hook run when the last reference goes.

use crate::core::{DriverCore, Shared};
use crate::flags::DevState;
use crate::fwnode::FwNode;
use crate::graph::RuntimePm;
use crate::link::Link;
use crate::sync::lock;
use std::sync::{Arc, Mutex, Weak};

/// Called once when a device's last reference is dropped, with its name.
pub type ReleaseFn = Box<dyn FnOnce(&str) + Send + 'static>;

/// What the graph keeps of a device: the fields it reads under its lock
/// (never a counted reference, so nothing is released under the lock).
pub(crate) struct DeviceIdent {
    name: String,
    bus: Option<String>,
    class: Option<String>,
    compatible: Option<String>,
    parent_idx: Option<u32>,
    fwnode: Mutex<Option<FwNode>>,
}

impl DeviceIdent {
    pub(crate) fn parent_idx(&self) -> Option<u32> {
        self.parent_idx
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn bus(&self) -> Option<&str> {
        self.bus.as_deref()
    }

    pub(crate) fn class(&self) -> Option<&str> {
        self.class.as_deref()
    }

    /// The firmware node (a new reference; dropping it under the graph
    /// lock is safe because node release never takes that lock).
    pub(crate) fn fwnode(&self) -> Option<FwNode> {
        lock(&self.fwnode).clone()
    }
}

/// The counted part of a device. Its `Arc` strong count *is* the device's
/// reference count (`kref`): a handle clone is one atomic increment, and
/// the last handle's drop runs the release ([`Drop`] below). The graph
/// holds only a `Weak` to it, so a lookup that finds the count at zero
/// gets nothing, as `kobject_get_unless_zero` does.
pub(crate) struct DeviceInner {
    pub(crate) shared: Arc<Shared>,
    idx: u32,
    pub(crate) id: Arc<DeviceIdent>,
    parent: Mutex<Option<Device>>,
    release: Mutex<Option<ReleaseFn>>,
}

impl DeviceInner {
    pub(crate) fn parent_idx(&self) -> Option<u32> {
        self.id.parent_idx
    }
}

/// A counted reference to a device (`struct device *` plus the reference
/// it stands for). Cloning is `get_device`; dropping is `put_device`. When
/// the last reference goes, the device's release hook runs and its firmware
/// node and parent references are put, on whichever thread dropped it (for
/// a link's references, the removal worker).
///
/// ```
/// use devlink_core::DriverCore;
/// let core = DriverCore::new().unwrap();
/// let dev = core.device("soc:pmic").bus("platform").create();
/// assert_eq!(dev.bus_name(), "platform");
/// assert_eq!(dev.refcount(), 1);
/// let again = dev.clone();
/// assert_eq!(dev.refcount(), 2);
/// drop(again);
/// ```
pub struct Device {
    pub(crate) inner: Arc<DeviceInner>,
}

impl Device {
    pub(crate) fn idx(&self) -> u32 {
        self.inner.idx
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// A new reference unless the device is already being released.
    pub(crate) fn try_from_weak(weak: &Weak<DeviceInner>) -> Option<Device> {
        weak.upgrade().map(|inner| Device { inner })
    }

    /// The device name (unique within its bus or class).
    pub fn name(&self) -> &str {
        &self.inner.id.name
    }

    /// The bus, if any.
    pub fn bus(&self) -> Option<&str> {
        self.inner.id.bus.as_deref()
    }

    /// The class, if any.
    pub fn class(&self) -> Option<&str> {
        self.inner.id.class.as_deref()
    }

    /// `dev_bus_name`: the bus, else the class, else the empty string.
    pub fn bus_name(&self) -> &str {
        self.inner
            .id
            .bus
            .as_deref()
            .or(self.inner.id.class.as_deref())
            .unwrap_or("")
    }

    /// The string drivers match on (from the builder or the firmware node).
    pub fn compatible(&self) -> Option<&str> {
        self.inner.id.compatible.as_deref()
    }

    /// The parent device.
    pub fn parent(&self) -> Option<Device> {
        lock(&self.inner.parent).clone()
    }

    /// The firmware node the device was created from (a new reference).
    pub fn fwnode(&self) -> Option<FwNode> {
        lock(&self.inner.id.fwnode).clone()
    }

    /// The firmware node as an observer (no reference taken).
    pub(crate) fn fwnode_weak(&self) -> Option<crate::FwNodeWeak> {
        lock(&self.inner.id.fwnode).as_ref().map(FwNode::downgrade)
    }

    pub(crate) fn fwnode_key(&self) -> Option<usize> {
        lock(&self.inner.id.fwnode).as_ref().map(FwNode::key)
    }

    /// The current reference count.
    pub fn refcount(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// The driver core this device belongs to, while it exists.
    pub fn driver_core(&self) -> Option<DriverCore> {
        self.inner.shared.owner()
    }

    /// The driver-presence state.
    pub fn state(&self) -> DevState {
        self.inner.shared.graph().node(self.idx()).state
    }

    /// Whether `device_add` succeeded and `device_del` has not run.
    pub fn is_registered(&self) -> bool {
        self.inner.shared.graph().node(self.idx()).registered
    }

    /// The bound driver's name.
    pub fn driver_name(&self) -> Option<String> {
        self.inner
            .shared
            .graph()
            .node(self.idx())
            .driver
            .as_ref()
            .map(|d| d.name.clone())
    }

    /// Links where this device is the consumer, in list order.
    pub fn supplier_links(&self) -> Vec<Link> {
        let g = self.inner.shared.graph();
        g.node(self.idx())
            .suppliers
            .iter()
            .map(|&li| Link::new(&self.inner.shared, li, g.links[li as usize].gen))
            .collect()
    }

    /// Links where this device is the supplier, in list order.
    pub fn consumer_links(&self) -> Vec<Link> {
        let g = self.inner.shared.graph();
        g.node(self.idx())
            .consumers
            .iter()
            .map(|&li| Link::new(&self.inner.shared, li, g.links[li as usize].gen))
            .collect()
    }

    /// The `waiting_for_supplier` attribute: `None` when the file does not
    /// exist, else whether the firmware node still has supplier hints.
    pub fn waiting_for_supplier(&self) -> Option<bool> {
        let present = self.inner.shared.graph().node(self.idx()).wfs_attr;
        present.then(|| {
            self.fwnode()
                .is_some_and(|n| !n.supplier_hints().is_empty())
        })
    }

    /// Runtime-PM counters.
    pub fn runtime_pm(&self) -> RuntimePm {
        self.inner.shared.graph().node(self.idx()).rpm
    }

    /// Fault injection: make runtime resume of this device fail (R6).
    pub fn set_runtime_resume_fails(&self, fails: bool) {
        self.inner
            .shared
            .graph()
            .node_mut(self.idx())
            .rpm
            .resume_fails = fails;
    }

    /// `devm_add_action`: runs `action` when the driver unbinds or its
    /// probe fails, after the link cleanup (spec §4.3 step 5), newest
    /// first. On a device with no driver, the actions run when it is
    /// deleted (`device_del`) or, failing that, at its last reference, as
    /// the kernel's `devres_release_all` does.
    pub fn devres_add(&self, action: impl FnOnce() + Send + 'static) {
        self.inner
            .shared
            .graph()
            .node_mut(self.idx())
            .devres
            .push(crate::graph::DevresAction::Sync(Box::new(action)));
    }

    /// [`devres_add`](Self::devres_add) for async work (an unregister that
    /// waits for operations in flight). It is awaited where the release
    /// is async (driver unbind, `device_del`); at the last reference it is
    /// driven to its end on the releasing thread.
    pub fn devres_add_async(&self, action: impl FnOnce() -> DevresFuture + Send + 'static) {
        self.inner
            .shared
            .graph()
            .node_mut(self.idx())
            .devres
            .push(crate::graph::DevresAction::Async(Box::new(action)));
    }
}

impl Clone for Device {
    fn clone(&self) -> Self {
        Device {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for DeviceInner {
    /// The device's release, run once by whichever thread dropped the last
    /// handle (for a link's references, the removal worker).
    fn drop(&mut self) {
        crate::core::assert_graph_unlocked("the last reference of a device");
        let mut node = self.shared.graph().remove_node(self.idx);
        // devres_release_all: what no unbind or delete released, newest
        // first.
        let devres = node.as_mut().map(|n| std::mem::take(&mut n.devres));
        for action in devres.into_iter().flatten().rev() {
            action.run_blocking();
        }
        if let Some(n) = &node {
            if n.registered {
                self.shared
                    .diag
                    .emit(crate::Diagnostic::ReleasedWhileRegistered {
                        device: self.id.name.clone(),
                    });
            }
        }
        drop(node);
        if let Some(hook) = lock(&self.release).take() {
            hook(&self.id.name);
        }
        // platform_device_release: put the firmware node, then the parent.
        drop(lock(&self.id.fwnode).take());
        drop(lock(&self.parent).take());
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
impl Eq for Device {}

impl std::hash::Hash for Device {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.inner) as usize).hash(state);
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({}:{})", self.bus_name(), self.name())
    }
}

impl std::fmt::Display for Device {
    /// `bus:name`; honours width and alignment (`{:<20}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&format!("{}:{}", self.bus_name(), self.name()))
    }
}

/// Builds a device (`device_initialize`). Get one from
/// [`DriverCore::device`].
#[must_use = "call create() to make the device"]
pub struct DeviceBuilder {
    pub(crate) shared: Arc<Shared>,
    name: String,
    bus: Option<String>,
    class: Option<String>,
    compatible: Option<String>,
    parent: Option<Device>,
    fwnode: Option<FwNode>,
    release: Option<ReleaseFn>,
}

impl DeviceBuilder {
    pub(crate) fn new(shared: Arc<Shared>, name: &str) -> Self {
        DeviceBuilder {
            shared,
            name: name.to_string(),
            bus: None,
            class: None,
            compatible: None,
            parent: None,
            fwnode: None,
            release: None,
        }
    }

    /// The bus (e.g. `platform`, `i2c`).
    pub fn bus(mut self, bus: &str) -> Self {
        self.bus = Some(bus.to_string());
        self
    }

    /// The class (e.g. `fpga_manager`).
    pub fn class(mut self, class: &str) -> Self {
        self.class = Some(class.to_string());
        self
    }

    /// The string drivers match on; defaults to the firmware node's
    /// `compatible`.
    pub fn compatible(mut self, compatible: &str) -> Self {
        self.compatible = Some(compatible.to_string());
        self
    }

    /// The parent; the device holds a reference on it until released.
    pub fn parent(mut self, parent: &Device) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// The firmware node; the device holds a reference on it until
    /// released (spec §1.4 row 7).
    pub fn fwnode(mut self, node: &FwNode) -> Self {
        self.fwnode = Some(node.clone());
        self
    }

    /// A hook run once when the last reference goes (the device's
    /// `release` callback).
    pub fn on_release(mut self, hook: impl FnOnce(&str) + Send + 'static) -> Self {
        self.release = Some(Box::new(hook));
        self
    }

    /// Initialises the device: one reference (the returned handle),
    /// state `NO_DRIVER`, empty link lists, not registered.
    pub fn create(self) -> Device {
        let compatible = self
            .compatible
            .or_else(|| self.fwnode.as_ref().and_then(FwNode::compatible));
        let shared = self.shared;
        let mut g = shared.graph();
        let idx = g.reserve_node();
        let id = Arc::new(DeviceIdent {
            name: self.name,
            bus: self.bus,
            class: self.class,
            compatible,
            parent_idx: self.parent.as_ref().map(Device::idx),
            fwnode: Mutex::new(self.fwnode),
        });
        let inner = Arc::new(DeviceInner {
            shared: Arc::clone(&shared),
            idx,
            id: Arc::clone(&id),
            parent: Mutex::new(self.parent),
            release: Mutex::new(self.release),
        });
        g.install_node(idx, id, Arc::downgrade(&inner));
        drop(g);
        Device { inner }
    }
}

/// The future of an async device-managed action.
pub type DevresFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

/// Drives `fut` to its end on this thread (the last reference of a device
/// can be dropped anywhere, with no executor around): parks until woken.
pub(crate) fn block_on(fut: DevresFuture) {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = fut;
    while fut.as_mut().poll(&mut cx) == Poll::Pending {
        std::thread::park();
    }
}
