//! Kernel warnings ("WARN" in the spec) and log lines, surfaced as values that
//! tests can count and tools can print, instead of text on stderr.

use std::sync::Mutex;

/// One diagnostic event. Each variant corresponds to a kernel `WARN` or log
/// line named in spec `device-links.md`; none of them changes control flow.
/// Fields name the link (sysfs name), device (`bus:name`) or node (path).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnostic {
    /// T1: a supplier bound while a link was `AVAILABLE` or `SUPPLIER_UNBIND`.
    UnexpectedStateOnSupplierBind {
        link: String,
        state: crate::LinkState,
    },
    /// T4: a consumer bound while a link was not `CONSUMER_PROBE` (quirk Q1).
    UnexpectedStateOnConsumerBind {
        link: String,
        state: crate::LinkState,
    },
    /// Revert of a link that is not sync-state-only to `DORMANT`.
    RevertToDormant { link: String },
    /// T6: an `AUTOREMOVE_CONSUMER` link on an unbinding supplier.
    AutoremoveConsumerOnSupplierCleanup { link: String },
    /// T6: a link not in `SUPPLIER_UNBIND` after the supplier's remove.
    NotSupplierUnbindOnCleanup {
        link: String,
        state: crate::LinkState,
    },
    /// T9: a consumer deleted with an `ACTIVE` supplier link.
    ConsumerDeletedWithActiveLink { link: String },
    /// T9: a supplier deleted with a consumer link not `DORMANT`/`NONE`.
    SupplierDeletedWithLiveLink {
        link: String,
        state: crate::LinkState,
    },
    /// `device_link_del` on a managed link (the kernel's "managed link
    /// reference cannot be dropped" warning).
    ManagedLinkDel { link: String },
    /// `device_link_remove(C, C)`.
    RemoveSelfLink { device: String },
    /// R9 refusal (the old documentation promised a warning; spec A8).
    DependencyCycle { consumer: String, supplier: String },
    /// `OF: ERROR: memory leak, expected refcount 1 instead of <n>, ...`.
    OverlayRefcount {
        path: String,
        expected: usize,
        actual: usize,
    },
    /// `OF: ERROR: memory leak before free overlay changeset,  <path>`.
    OverlayLeakAtRelease { path: String },
    /// A device was released while still registered (a put too many).
    ReleasedWhileRegistered { device: String },
    /// A sysfs symlink could not be named or removed.
    Symlink { what: String },
}

impl Diagnostic {
    /// The line the kernel would log, for tools that print diagnostics.
    pub fn message(&self) -> String {
        use Diagnostic::*;
        match self {
            UnexpectedStateOnSupplierBind { link, state } => {
                format!("WARN: {link}: supplier bound while link is {state}")
            }
            UnexpectedStateOnConsumerBind { link, state } => {
                format!("WARN: {link}: consumer bound while link is {state}")
            }
            RevertToDormant { link } => {
                format!("WARN: {link}: reverting a link whose supplier is not bound")
            }
            AutoremoveConsumerOnSupplierCleanup { link } => {
                format!("WARN: {link}: AUTOREMOVE_CONSUMER link on supplier cleanup")
            }
            NotSupplierUnbindOnCleanup { link, state } => {
                format!("WARN: {link}: expected supplier unbinding, found {state}")
            }
            ConsumerDeletedWithActiveLink { link } => {
                format!("WARN: {link}: consumer deleted while the link is active")
            }
            SupplierDeletedWithLiveLink { link, state } => {
                format!("WARN: {link}: supplier deleted while the link is {state}")
            }
            ManagedLinkDel { link } => {
                format!("WARN: {link}: managed link reference cannot be dropped")
            }
            RemoveSelfLink { device } => format!("WARN: {device}: link removal to itself"),
            DependencyCycle { consumer, supplier } => {
                format!("{consumer}: link to {supplier} would create a dependency loop")
            }
            OverlayRefcount { path, expected, actual } => format!(
                "OF: ERROR: memory leak, expected refcount {expected} instead of {actual}, \
                 of_node_get()/of_node_put() unbalanced - destroy cset entry: attach overlay node {path}"
            ),
            OverlayLeakAtRelease { path } => {
                format!("OF: ERROR: memory leak before free overlay changeset,  {path}")
            }
            ReleasedWhileRegistered { device } => {
                format!("WARN: {device}: released while still registered")
            }
            Symlink { what } => format!("WARN: sysfs symlink: {what}"),
        }
    }
}

/// A shared, thread-safe log of [`Diagnostic`]s.
#[derive(Debug, Default)]
pub struct Diagnostics {
    events: Mutex<Vec<Diagnostic>>,
}

impl Diagnostics {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one event.
    pub fn emit(&self, d: Diagnostic) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(d);
    }

    /// A copy of every event so far.
    pub fn snapshot(&self) -> Vec<Diagnostic> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Removes and returns every event so far.
    pub fn take(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many events satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&Diagnostic) -> bool) -> usize {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|d| pred(d))
            .count()
    }

    /// How many events there are.
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
