//! Errors: every one names the file it is about.

use devlink_core::ErrorKind;
use std::path::PathBuf;

/// Why reading or driving sysfs failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysfsError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file held text this crate does not know how to read. Never
    /// defaulted: an unknown value means a kernel or fixture this crate
    /// does not understand, and the caller must hear about it.
    #[error("{}: unexpected content {text:?} (expected {expected})", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held (at most 200 bytes of it).
        text: String,
        /// What was expected.
        expected: String,
    },
    /// A wait ran out of time; `pending` says what had not happened yet.
    #[error("{what}: timed out after {waited_ms} ms; still pending: {}", pending.join("; "))]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long, in milliseconds.
        waited_ms: u64,
        /// Each thing that had not happened, one phrase each.
        pending: Vec<String>,
    },
    /// Someone else holds the object.
    #[error("{what}: busy, held by {holder}")]
    Busy {
        /// The object.
        what: String,
        /// Who holds it, as far as can be told.
        holder: String,
    },
    /// The request itself is wrong (an unsafe name, a flag the kernel
    /// interface cannot express).
    #[error("{what}: {why}")]
    Invalid {
        /// What was rejected.
        what: String,
        /// Why.
        why: String,
    },
    /// The kernel refused or failed a load or an overlay; carries what the
    /// kernel said afterwards.
    #[error("{what}: {why}{}{}", state.as_ref().map(|s| format!("; state {s:?}")).unwrap_or_default(), if status.is_empty() { String::new() } else { format!("; status: {}", status.join(", ")) })]
    Kernel {
        /// The manager, overlay slot or device.
        what: String,
        /// What went wrong.
        why: String,
        /// The kind (from the errno of the write, or `Io`).
        kind: ErrorKind,
        /// The manager's `state` after the failure, if read.
        state: Option<String>,
        /// The manager's `status` lines after the failure.
        status: Vec<String>,
    },
    /// A device did not bind; `missing` is what it waits for.
    #[error("{device}: not bound after the bind request{}", if missing.is_empty() { String::new() } else { format!("; waiting for {}", missing.join(", ")) })]
    Deferred {
        /// The device.
        device: String,
        /// Its missing suppliers, as sysfs tells them.
        missing: Vec<String>,
    },
    /// The kernel lacks an interface this operation needs.
    #[error("{what} is missing: {hint}")]
    Unsupported {
        /// The file or directory looked for.
        what: String,
        /// What that means and what to try.
        hint: String,
    },
    /// A device name did not resolve to one device (unknown, or a bare
    /// name several devices have).
    #[error("{source} (under {})", root.display())]
    Lookup {
        /// The sysfs root searched.
        root: PathBuf,
        /// Why.
        #[source]
        source: devlink_core::LookupError,
    },
    /// The kernel logged, while an overlay was removed, that nodes of it
    /// were still referenced ("memory leak, expected refcount 1 instead
    /// of N"): someone held a node past its devices' removal, and the
    /// kernel leaks it. The overlay itself is gone. The live-kernel
    /// counterpart of devlink-core's `NodeStillReferenced`.
    #[error("overlay slot {slot}: the kernel reports {} still referenced after removal (a leak): {}", nodes.join(", "), messages.join(" / "))]
    NodeLeaked {
        /// The slot removed.
        slot: String,
        /// The device-tree nodes named, e.g. `/fpga-region/dev-a`.
        nodes: Vec<String>,
        /// The kernel's messages, as logged.
        messages: Vec<String>,
    },
    /// A device, link or object named by the caller does not exist.
    #[error("{what}: not found under {}", root.display())]
    NotFound {
        /// What was looked for.
        what: String,
        /// The sysfs root searched.
        root: PathBuf,
    },
}

impl SysfsError {
    /// The errno-like kind, for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SysfsError::Io { source, .. } => ErrorKind::of_io(source),
            SysfsError::Parse { .. } => ErrorKind::InvalidInput,
            SysfsError::NotFound { .. } => ErrorKind::NoDevice,
            SysfsError::Lookup { source, .. } => source.kind(),
            SysfsError::Timeout { .. } => ErrorKind::Timeout,
            SysfsError::Busy { .. } | SysfsError::NodeLeaked { .. } => ErrorKind::Busy,
            SysfsError::Invalid { .. } => ErrorKind::InvalidInput,
            SysfsError::Kernel { kind, .. } => *kind,
            SysfsError::Deferred { .. } => ErrorKind::Deferred,
            SysfsError::Unsupported { .. } => ErrorKind::Unsupported,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SysfsError {
        let path = path.into();
        move |source| SysfsError::Io { path, source }
    }

    pub(crate) fn invalid(what: impl Into<String>, why: impl Into<String>) -> SysfsError {
        SysfsError::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    /// The errno of an I/O error, if it has one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            SysfsError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, text: &str, expected: &str) -> SysfsError {
        let mut text = text.to_string();
        if text.len() > 200 {
            let mut end = 200;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        SysfsError::Parse {
            path: path.into(),
            text,
            expected: expected.to_string(),
        }
    }
}

impl devlink_core::KindError for SysfsError {
    fn kind(&self) -> ErrorKind {
        SysfsError::kind(self)
    }
    fn errno(&self) -> Option<devlink_core::Errno> {
        SysfsError::errno(self).map(devlink_core::Errno)
    }
}

/// The crate's result type.
pub type Result<T, E = SysfsError> = std::result::Result<T, E>;
