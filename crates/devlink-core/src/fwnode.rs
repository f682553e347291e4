//! Firmware nodes (device-tree nodes) with reference counts, the
//! user-space counterpart of `struct device_node` / `fwnode_handle` as the
//! overlay scenario uses them (spec `device-links.md` §1.4 rows 7–8, §6).
//!
//! A [`FwNode`] handle *is* a reference: cloning is `of_node_get`, dropping
//! is `of_node_put`. When the count reaches zero the node is released: an
//! overlay node that its changeset did not mark free-able is reported as a
//! leak (`memory leak before free overlay changeset`) and kept, exactly as
//! `of_node_release()` does; any other node is freed. Tree edges (parent,
//! children) and fwnode links (supplier hints) hold no references, as in the
//! kernel.

use crate::diag::{Diagnostic, Diagnostics};
use crate::sync::lock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

const OF_OVERLAY: u32 = 1;
const OF_OVERLAY_FREE_CSET: u32 = 2;
const OF_DETACHED: u32 = 4;

/// A stored property value. Phandles hold no references (as in the
/// kernel, where a phandle is a number resolved on lookup).
#[derive(Clone)]
enum PropVal {
    Flag,
    U32(u32),
    Str(String),
    Refs(Vec<Weak<FwNodeInner>>),
}

#[derive(Default)]
struct Links {
    children: Vec<Weak<FwNodeInner>>,
    /// fwnode links to suppliers (this node is the consumer).
    suppliers: Vec<Weak<FwNodeInner>>,
    /// fwnode links to consumers (this node is the supplier).
    consumers: Vec<Weak<FwNodeInner>>,
}

pub(crate) struct FwNodeInner {
    path: String,
    name: String,
    compatible: Mutex<Option<String>>,
    props: Mutex<Vec<(String, PropVal)>>,
    parent: Option<Weak<FwNodeInner>>,
    refs: AtomicUsize,
    flags: AtomicU32,
    freed: AtomicBool,
    links: Mutex<Links>,
    diag: Option<Arc<Diagnostics>>,
}

/// A counted reference to a firmware node.
///
/// ```
/// use devlink_core::FwNode;
/// let root = FwNode::new_root(None);
/// let soc = root.add_child("soc");
/// let pmic = soc.add_child("pmic");
/// assert_eq!(pmic.path(), "/soc/pmic");
/// let extra = pmic.clone();           // of_node_get
/// assert_eq!(pmic.refcount(), 2);
/// drop(extra);                        // of_node_put
/// assert_eq!(pmic.refcount(), 1);
/// ```
pub struct FwNode {
    inner: Arc<FwNodeInner>,
}

/// A non-counting observer of a firmware node: it can read the count and
/// tell whether the node was freed, without keeping it alive.
#[derive(Clone)]
pub struct FwNodeWeak {
    inner: Arc<FwNodeInner>,
}

impl std::fmt::Debug for FwNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FwNode({}, refs={})", self.inner.path, self.refcount())
    }
}

impl std::fmt::Debug for FwNodeWeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FwNodeWeak({})", self.inner.path)
    }
}

impl PartialEq for FwNode {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
impl Eq for FwNode {}

impl FwNode {
    /// A new root node (`/`). Diagnostics of every node below it go to `diag`.
    pub fn new_root(diag: Option<Arc<Diagnostics>>) -> FwNode {
        FwNode::make("/".into(), String::new(), None, diag)
    }

    fn make(
        path: String,
        name: String,
        parent: Option<Weak<FwNodeInner>>,
        diag: Option<Arc<Diagnostics>>,
    ) -> FwNode {
        FwNode {
            inner: Arc::new(FwNodeInner {
                path,
                name,
                compatible: Mutex::new(None),
                props: Mutex::new(Vec::new()),
                parent,
                refs: AtomicUsize::new(1),
                flags: AtomicU32::new(OF_DETACHED),
                freed: AtomicBool::new(false),
                links: Mutex::new(Links::default()),
                diag,
            }),
        }
    }

    /// A new node named `name` under `self`, not yet attached to the tree
    /// (as an overlay builds its nodes before applying them). The returned
    /// handle is the node's one reference.
    pub fn new_detached(&self, name: &str) -> FwNode {
        let path = if self.inner.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.inner.path)
        };
        FwNode::make(
            path,
            name.to_string(),
            Some(Arc::downgrade(&self.inner)),
            self.inner.diag.clone(),
        )
    }

    /// `of_attach_node`-like: creates a node under `self` and attaches it.
    pub fn add_child(&self, name: &str) -> FwNode {
        let child = self.new_detached(name);
        child.attach();
        child
    }

    /// Attaches a detached node to its parent's child list.
    pub(crate) fn attach(&self) {
        if let Some(parent) = self.inner.parent.as_ref().and_then(Weak::upgrade) {
            let mut l = lock(&parent.links);
            l.children.retain(|w| w.strong_count() > 0);
            l.children.push(Arc::downgrade(&self.inner));
        }
        self.inner.flags.fetch_and(!OF_DETACHED, Ordering::AcqRel);
    }

    /// Removes the node from its parent's child list.
    pub(crate) fn detach(&self) {
        if let Some(parent) = self.inner.parent.as_ref().and_then(Weak::upgrade) {
            let me = Arc::as_ptr(&self.inner);
            lock(&parent.links).children.retain(|w| w.as_ptr() != me);
        }
        self.inner.flags.fetch_or(OF_DETACHED, Ordering::AcqRel);
    }

    /// Sets the `compatible` property (what a driver matches on).
    pub fn set_compatible(&self, compatible: &str) -> &Self {
        *lock(&self.inner.compatible) = Some(compatible.to_string());
        self
    }

    /// The `compatible` property.
    pub fn compatible(&self) -> Option<String> {
        lock(&self.inner.compatible).clone()
    }

    fn set_prop(&self, name: &str, val: PropVal) -> &Self {
        let mut props = lock(&self.inner.props);
        match props.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = val,
            None => props.push((name.to_string(), val)),
        }
        self
    }

    fn prop(&self, name: &str) -> Option<PropVal> {
        lock(&self.inner.props)
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Sets a boolean property (present = true), e.g. `partial-fpga-config`.
    pub fn set_flag(&self, name: &str) -> &Self {
        self.set_prop(name, PropVal::Flag)
    }

    /// Sets a `u32` property, e.g. `region-freeze-timeout-us`.
    pub fn set_u32(&self, name: &str, value: u32) -> &Self {
        self.set_prop(name, PropVal::U32(value))
    }

    /// Sets a string property, e.g. `firmware-name`.
    pub fn set_string(&self, name: &str, value: &str) -> &Self {
        self.set_prop(name, PropVal::Str(value.to_string()))
    }

    /// Sets a phandle-list property, e.g. `fpga-bridges`. The list holds
    /// no references on its targets.
    pub fn set_phandles(&self, name: &str, targets: &[&FwNode]) -> &Self {
        let refs = targets.iter().map(|t| Arc::downgrade(&t.inner)).collect();
        self.set_prop(name, PropVal::Refs(refs))
    }

    /// Removes a property; `false` if there was none.
    pub fn remove_property(&self, name: &str) -> bool {
        let mut props = lock(&self.inner.props);
        let before = props.len();
        props.retain(|(n, _)| n != name);
        props.len() != before
    }

    /// The names of the node's properties, in the order they were set.
    pub fn property_names(&self) -> Vec<String> {
        lock(&self.inner.props)
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// `of_property_read_bool`: whether the property exists (whatever its
    /// value, as in the kernel).
    pub fn read_bool(&self, name: &str) -> bool {
        self.prop(name).is_some()
    }

    /// `of_property_read_u32`: `None` if absent or not a `u32`.
    pub fn read_u32(&self, name: &str) -> Option<u32> {
        match self.prop(name)? {
            PropVal::U32(v) => Some(v),
            _ => None,
        }
    }

    /// `of_property_read_string`: `None` if absent or not a string.
    pub fn read_string(&self, name: &str) -> Option<String> {
        match self.prop(name)? {
            PropVal::Str(v) => Some(v),
            _ => None,
        }
    }

    /// `of_parse_phandle(np, name, index)`: the `index`-th target of a
    /// phandle list, as a new reference, or `None` past the end, if the
    /// property is absent, or if the target was freed.
    ///
    /// ```
    /// use devlink_core::FwNode;
    /// let root = FwNode::new_root(None);
    /// let (mgr, region) = (root.add_child("mgr"), root.add_child("region"));
    /// region.set_phandles("fpga-mgr", &[&mgr]).set_u32("timeout-us", 5);
    /// assert_eq!(mgr.refcount(), 1);           // the list holds no reference
    /// let got = region.parse_phandle("fpga-mgr", 0).unwrap();
    /// assert_eq!((got == mgr, mgr.refcount()), (true, 2));
    /// assert!(region.parse_phandle("fpga-mgr", 1).is_none());
    /// assert_eq!(region.read_u32("timeout-us"), Some(5));
    /// assert_eq!(region.read_string("timeout-us"), None); // wrong type
    /// ```
    pub fn parse_phandle(&self, name: &str, index: usize) -> Option<FwNode> {
        match self.prop(name)? {
            PropVal::Refs(refs) => refs
                .get(index)?
                .upgrade()
                .and_then(|inner| FwNodeWeak { inner }.upgrade()),
            _ => None,
        }
    }

    /// `of_get_parent`: the parent node as a new reference (`None` for the
    /// root).
    pub fn parent(&self) -> Option<FwNode> {
        let inner = self.inner.parent.as_ref()?.upgrade()?;
        FwNodeWeak { inner }.upgrade()
    }

    /// Every node below `self` (not `self`), depth first in attach order,
    /// each as a new reference.
    pub fn descendants(&self) -> Vec<FwNode> {
        let mut out = Vec::new();
        let mut stack: Vec<FwNode> = self.children().into_iter().rev().collect();
        while let Some(n) = stack.pop() {
            stack.extend(n.children().into_iter().rev());
            out.push(n);
        }
        out
    }

    /// The full path, e.g. `/soc/pmic`.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The last path component.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The name a platform device created from this node gets: the path
    /// without its leading `/`, components joined with `:` (`soc:pmic`).
    pub fn device_name(&self) -> String {
        self.inner.path.trim_start_matches('/').replace('/', ":")
    }

    /// The current reference count.
    pub fn refcount(&self) -> usize {
        self.inner.refs.load(Ordering::Acquire)
    }

    /// Whether the node is attached to the tree.
    pub fn is_attached(&self) -> bool {
        self.inner.flags.load(Ordering::Acquire) & OF_DETACHED == 0
    }

    /// Whether the node was created by an overlay (`OF_OVERLAY`).
    pub fn is_overlay(&self) -> bool {
        self.inner.flags.load(Ordering::Acquire) & OF_OVERLAY != 0
    }

    pub(crate) fn set_overlay(&self) {
        self.inner.flags.fetch_or(OF_OVERLAY, Ordering::AcqRel);
    }

    pub(crate) fn set_free_cset(&self) {
        self.inner
            .flags
            .fetch_or(OF_OVERLAY_FREE_CSET, Ordering::AcqRel);
    }

    /// Attached children, in attach order (each returned handle is a new
    /// reference).
    pub fn children(&self) -> Vec<FwNode> {
        let l = lock(&self.inner.links);
        l.children
            .iter()
            .filter_map(|w| w.upgrade())
            .filter_map(|inner| FwNodeWeak { inner }.upgrade())
            .collect()
    }

    /// `fwnode_link_add(self, supplier)`: records that the device made from
    /// `self` will depend on the device made from `supplier`. Adding the same
    /// hint twice has no further effect. Hints hold no references.
    pub fn add_supplier_hint(&self, supplier: &FwNode) {
        if self == supplier {
            return;
        }
        let (a, b) = (&self.inner, &supplier.inner);
        {
            let mut l = lock(&a.links);
            if l.suppliers.iter().any(|w| w.as_ptr() == Arc::as_ptr(b)) {
                return;
            }
            l.suppliers.push(Arc::downgrade(b));
        }
        lock(&b.links).consumers.push(Arc::downgrade(a));
    }

    /// Removes the hint `self` → `supplier` (both directions).
    pub(crate) fn remove_supplier_hint(&self, supplier: &FwNodeWeak) {
        let (a, b) = (&self.inner, &supplier.inner);
        lock(&a.links)
            .suppliers
            .retain(|w| w.as_ptr() != Arc::as_ptr(b));
        lock(&b.links)
            .consumers
            .retain(|w| w.as_ptr() != Arc::as_ptr(a));
    }

    /// Supplier nodes this node still waits for (fwnode links).
    pub fn supplier_hints(&self) -> Vec<FwNodeWeak> {
        lock(&self.inner.links)
            .suppliers
            .iter()
            .filter_map(|w| w.upgrade().map(|inner| FwNodeWeak { inner }))
            .collect()
    }

    /// Consumer nodes waiting for this node (fwnode links).
    pub fn consumer_hints(&self) -> Vec<FwNodeWeak> {
        lock(&self.inner.links)
            .consumers
            .iter()
            .filter_map(|w| w.upgrade().map(|inner| FwNodeWeak { inner }))
            .collect()
    }

    /// A non-counting observer.
    pub fn downgrade(&self) -> FwNodeWeak {
        FwNodeWeak {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Identity for maps (stable while any handle or observer exists).
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

impl FwNodeWeak {
    /// The node's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The node's current reference count (0 once released).
    pub fn refcount(&self) -> usize {
        self.inner.refs.load(Ordering::Acquire)
    }

    /// Whether the node was released and freed.
    pub fn is_freed(&self) -> bool {
        self.inner.freed.load(Ordering::Acquire)
    }

    /// Whether the node was released but kept because its overlay changeset
    /// never marked it free-able (the kernel's real leak).
    pub fn is_leaked(&self) -> bool {
        self.refcount() == 0 && !self.is_freed()
    }

    /// Takes a reference if the node is still alive (`kref_get_unless_zero`).
    pub fn upgrade(&self) -> Option<FwNode> {
        let mut n = self.inner.refs.load(Ordering::Acquire);
        loop {
            if n == 0 {
                return None;
            }
            match self.inner.refs.compare_exchange_weak(
                n,
                n + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(FwNode {
                        inner: Arc::clone(&self.inner),
                    })
                }
                Err(actual) => n = actual,
            }
        }
    }

    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The nodes this node still waits for (its fwnode links), without
    /// taking references.
    pub(crate) fn supplier_hints(&self) -> Vec<FwNodeWeak> {
        lock(&self.inner.links)
            .suppliers
            .iter()
            .filter_map(|w| w.upgrade().map(|inner| FwNodeWeak { inner }))
            .collect()
    }
}

impl Clone for FwNode {
    fn clone(&self) -> Self {
        self.inner.refs.fetch_add(1, Ordering::AcqRel);
        FwNode {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for FwNode {
    fn drop(&mut self) {
        if self.inner.refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // of_node_release()
        let flags = self.inner.flags.load(Ordering::Acquire);
        if flags & OF_OVERLAY != 0 && flags & OF_OVERLAY_FREE_CSET == 0 {
            if let Some(d) = &self.inner.diag {
                d.emit(Diagnostic::OverlayLeakAtRelease {
                    path: self.inner.path.clone(),
                });
            }
            return;
        }
        // fwnode_links_purge(): drop every hint that names this node.
        let links = std::mem::take(&mut *lock(&self.inner.links));
        let me = Arc::as_ptr(&self.inner);
        for w in links.suppliers.iter().filter_map(Weak::upgrade) {
            lock(&w.links).consumers.retain(|x| x.as_ptr() != me);
        }
        for w in links.consumers.iter().filter_map(Weak::upgrade) {
            lock(&w.links).suppliers.retain(|x| x.as_ptr() != me);
        }
        self.inner.freed.store(true, Ordering::Release);
    }
}
