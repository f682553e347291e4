//! The crate's one error type and its errno-like kind.

use crate::flags::LinkFlags;
use std::fmt;

/// What kind of failure an [`Error`] is, so generic code (and the CLI's exit
/// codes) can react without matching every variant. Mirrors the errno values
/// the kernel would use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `ENODEV`/`ENOENT`: the object is gone, unregistered or unknown.
    NoDevice,
    /// `EBUSY`: the object is held or in use.
    Busy,
    /// `EINVAL`: the request itself is wrong.
    InvalidInput,
    /// `EPROBE_DEFER`, `EAGAIN`: not now; try again later (once the
    /// missing suppliers are there, once an event has come).
    Deferred,
    /// `ETIMEDOUT`.
    Timeout,
    /// `EOPNOTSUPP`.
    Unsupported,
    /// `EIO` and everything the outside world did wrong.
    Io,
    /// `ENOMEM`: a resource (memory, a thread) could not be created.
    OutOfMemory,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NoDevice => "no such device",
            ErrorKind::Busy => "busy",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Deferred => "deferred",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::Io => "I/O error",
            ErrorKind::OutOfMemory => "out of memory",
        })
    }
}

/// Errors of the driver model. Each names the object it concerns.
///
/// Fields hold what their names say (device and link names are
/// `bus:name` strings); variants are documented.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// R1: an endpoint belongs to another driver core.
    #[error("link {consumer} -> {supplier}: device {foreign} belongs to another driver core")]
    ForeignDevice {
        consumer: String,
        supplier: String,
        foreign: String,
    },
    /// R2: a link from a device to itself.
    #[error("link rejected: device {device} cannot be its own supplier")]
    SelfLink { device: String },
    /// R3: flags outside `DL_ADD_VALID_FLAGS` (including `MANAGED`).
    #[error("link {consumer} -> {supplier}: flags {flags:#x} are not accepted (invalid bits {invalid:#x}; MANAGED is set by the core, never by callers)")]
    InvalidFlags {
        consumer: String,
        supplier: String,
        flags: u32,
        invalid: u32,
    },
    /// R4, R5, R7: a combination the kernel refuses.
    #[error("link {consumer} -> {supplier}: flags {flags:?} cannot be combined: {why}")]
    FlagConflict {
        consumer: String,
        supplier: String,
        flags: LinkFlags,
        why: &'static str,
    },
    /// R6: resuming the supplier for `RPM_ACTIVE` failed.
    #[error("link {consumer} -> {supplier}: runtime resume of the supplier failed")]
    RuntimeResumeFailed { consumer: String, supplier: String },
    /// R8: the supplier is not registered.
    #[error("link {consumer} -> {supplier}: supplier {supplier} is not registered (add it first)")]
    SupplierNotRegistered { consumer: String, supplier: String },
    /// R9: the link would close a dependency loop.
    #[error("link {consumer} -> {supplier}: {supplier} already depends on {consumer}; the link would close a loop")]
    DependencyCycle { consumer: String, supplier: String },
    /// R10: a sync-state-only link to a consumer that is already bound.
    #[error("link {consumer} -> {supplier}: SYNC_STATE_ONLY needs an unbound consumer, and {consumer} is {state}")]
    ConsumerAlreadyBound {
        consumer: String,
        supplier: String,
        state: crate::DevState,
    },
    /// R12: the link's sysfs name is taken.
    #[error("link {name}: a link with this sysfs name already exists")]
    LinkNameCollision { name: String },
    /// A link handle whose link was deleted (spec A5).
    #[error("link {name}: the link was deleted; this handle is stale")]
    StaleLink { name: String },
    /// `device_link_del` on a managed link whose consumer is registered.
    #[error("link {name}: a managed link reference cannot be dropped by the caller (it is owned by the driver core)")]
    ManagedLinkReference { name: String },
    /// `device_link_remove(C, C)`.
    #[error("device {device}: a device has no link to itself")]
    RemoveSelfLink { device: String },
    /// A device operation on an unregistered device.
    #[error("device {device} is not registered")]
    NotRegistered { device: String },
    /// `device_add` of a device that is already registered.
    #[error("device {device} is already registered")]
    AlreadyRegistered { device: String },
    /// `device_add` of a device that was deleted; devices are not re-added.
    #[error("device {device} was deleted and cannot be added again; create a new device")]
    DeviceDeleted { device: String },
    /// `device_add` whose parent is not registered.
    #[error("device {device}: parent {parent} is not registered (add the parent first)")]
    ParentNotRegistered { device: String, parent: String },
    /// Two registered devices with the same bus (or class) and name.
    #[error("device {bus}:{device}: a registered device already has this name")]
    NameTaken { bus: String, device: String },
    /// No registered driver matches the device.
    #[error("device {device}: no registered driver matches it")]
    NoMatchingDriver { device: String },
    /// The driver's probe failed.
    #[error("device {device}: driver {driver} failed to probe: {reason}")]
    ProbeFailed {
        device: String,
        driver: String,
        reason: String,
    },
    /// The probe was deferred; `missing` lists what it waits for.
    #[error("device {device}: probe deferred, waiting for {}", if missing.is_empty() { "the driver to retry".to_string() } else { missing.join(", ") })]
    ProbeDeferred {
        device: String,
        missing: Vec<String>,
    },
    /// A driver name is registered twice.
    #[error("driver {driver} is already registered")]
    DriverExists { driver: String },
    /// The device is already bound to a driver.
    #[error("device {device} is already bound to {driver}")]
    AlreadyBound { device: String, driver: String },
    /// An owner module cannot be pinned (it is going or gone).
    #[error("module {module} is {state}; it cannot be pinned")]
    ModuleNotLive { module: String, state: &'static str },
    /// An owner module cannot be unloaded while pinned.
    #[error("module {module} is in use ({pins} pins held); release them first")]
    ModuleBusy { module: String, pins: usize },
    /// `wait_removal` from a release job would wait for itself.
    #[error("wait_removal called from a job on the removal queue: it would wait for itself (call it from outside release callbacks)")]
    WaitFromReleaseJob,
    /// The removal worker thread could not be started (spec 5.7).
    #[error("driver core: cannot start the removal worker: {source}")]
    WorkerSpawn {
        #[source]
        source: std::io::Error,
    },
    /// A changeset still has referenced overlay nodes (spec §6).
    #[error("changeset: overlay node {path}: expected refcount {expected} instead of {actual}; something still holds the node (of_node_get()/of_node_put() unbalanced)")]
    NodeStillReferenced {
        path: String,
        expected: usize,
        actual: usize,
    },
    /// A changeset operation in the wrong state.
    #[error("changeset: {what}")]
    ChangesetState { what: String },
    /// A firmware-node operation failed.
    #[error("firmware node {path}: {what}")]
    FwNode { path: String, what: String },
    /// The driver core was shut down.
    #[error("the driver core has been shut down")]
    CoreShutDown,
    /// A device name did not resolve to one device.
    #[cfg(not(loom))]
    #[error(transparent)]
    Lookup(#[from] crate::topology::LookupError),
    /// `wait_removal` ran out of time.
    #[error("link releases still pending after {waited_ms} ms ({pending} queued): a release callback may be stuck")]
    RemovalTimeout { waited_ms: u64, pending: u64 },
    /// Writing a sysfs view to disk failed.
    #[error("sysfs view: {path}: {source}")]
    SysfsWrite {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The errno-like kind (spec A1 for link rejections).
    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        match self {
            ForeignDevice { .. }
            | SelfLink { .. }
            | InvalidFlags { .. }
            | FlagConflict { .. }
            | DependencyCycle { .. }
            | ManagedLinkReference { .. }
            | RemoveSelfLink { .. }
            | AlreadyRegistered { .. }
            | DeviceDeleted { .. }
            | NameTaken { .. }
            | DriverExists { .. }
            | ChangesetState { .. } => ErrorKind::InvalidInput,
            RuntimeResumeFailed { .. } | LinkNameCollision { .. } | SysfsWrite { .. } => {
                ErrorKind::Io
            }
            SupplierNotRegistered { .. }
            | StaleLink { .. }
            | NotRegistered { .. }
            | ParentNotRegistered { .. }
            | NoMatchingDriver { .. }
            | ModuleNotLive { .. }
            | FwNode { .. }
            | CoreShutDown => ErrorKind::NoDevice,
            ConsumerAlreadyBound { .. }
            | AlreadyBound { .. }
            | ModuleBusy { .. }
            | NodeStillReferenced { .. }
            | WaitFromReleaseJob => ErrorKind::Busy,
            ProbeFailed { .. } => ErrorKind::Io,
            ProbeDeferred { .. } => ErrorKind::Deferred,
            WorkerSpawn { .. } => ErrorKind::OutOfMemory,
            #[cfg(not(loom))]
            Lookup(e) => e.kind(),
            RemovalTimeout { .. } => ErrorKind::Timeout,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
