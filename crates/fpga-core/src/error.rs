//! Errors: one enum, each variant naming its object, with the kernel's
//! errno and an errno-like [`ErrorKind`].

pub use devlink_core::{Errno, ErrorKind};
use std::fmt;

/// What a backend op returns on failure: an errno and, optionally, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// The errno the kernel would see.
    pub errno: Errno,
    /// A human explanation (the backend's status lines, for instance).
    pub message: String,
}

impl OpError {
    /// An error with no further explanation.
    pub fn new(errno: Errno) -> OpError {
        OpError {
            errno,
            message: String::new(),
        }
    }

    /// An error with an explanation.
    pub fn with(errno: Errno, message: impl Into<String>) -> OpError {
        OpError {
            errno,
            message: message.into(),
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.errno)
        } else {
            write!(f, "{} ({})", self.message, self.errno)
        }
    }
}

impl std::error::Error for OpError {}

/// Errors of the FPGA subsystem. Every variant names the object (`fpga0`,
/// `br1`, `region0`, a firmware file) and has an [`Errno`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FpgaError {
    /// A request the subsystem refuses (`EINVAL`, `EAGAIN`, `EFAULT`).
    #[error("{object}: {what} ({errno})")]
    Invalid {
        /// The object.
        object: String,
        /// What is wrong.
        what: String,
        /// The kernel's errno for it.
        errno: Errno,
    },
    /// Locked or held by someone else (`EBUSY`).
    #[error("{object}: {what} (EBUSY)")]
    Busy {
        /// The object.
        object: String,
        /// What is held.
        what: String,
    },
    /// Gone, unregistered, or its owner cannot be pinned (`ENODEV`).
    #[error("{object}: {what} (ENODEV)")]
    NoDevice {
        /// The object.
        object: String,
        /// Why.
        what: String,
    },
    /// A backend op failed; its errno is passed through unchanged.
    #[error("{object}: {op} failed: {source}")]
    Op {
        /// The object.
        object: String,
        /// The op (`write_init`, `enable_set`, ...).
        op: &'static str,
        /// The backend's error.
        #[source]
        source: OpError,
    },
    /// A firmware file could not be read.
    #[error("{object}: firmware {name:?}: {source}")]
    Firmware {
        /// The manager.
        object: String,
        /// The firmware name as given.
        name: String,
        /// The loader's error.
        #[source]
        source: std::io::Error,
    },
    /// The driver model refused something.
    #[error("{object}: {source}")]
    Core {
        /// The object.
        object: String,
        /// The driver core's error.
        #[source]
        source: devlink_core::Error,
    },
}

impl FpgaError {
    /// The errno the kernel would return.
    pub fn errno(&self) -> Errno {
        match self {
            FpgaError::Invalid { errno, .. } => *errno,
            FpgaError::Busy { .. } => Errno::EBUSY,
            FpgaError::NoDevice { .. } => Errno::ENODEV,
            FpgaError::Op { source, .. } => source.errno,
            FpgaError::Firmware { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => Errno::ENOENT,
                std::io::ErrorKind::PermissionDenied => Errno::EPERM,
                _ => Errno(source.raw_os_error().unwrap_or(Errno::EIO.0)),
            },
            FpgaError::Core { source, .. } => source.kind().errno(),
        }
    }

    /// The errno-like kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FpgaError::Core { source, .. } => source.kind(),
            FpgaError::Firmware { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NoDevice
            }
            FpgaError::Firmware { .. } => ErrorKind::Io,
            other => other.errno().kind(),
        }
    }

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn invalid(object: &str, what: impl Into<String>) -> FpgaError {
        FpgaError::Invalid {
            object: object.to_string(),
            what: what.into(),
            errno: Errno::EINVAL,
        }
    }

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn invalid_errno(object: &str, what: impl Into<String>, errno: Errno) -> FpgaError {
        FpgaError::Invalid {
            object: object.to_string(),
            what: what.into(),
            errno,
        }
    }

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn busy(object: &str, what: impl Into<String>) -> FpgaError {
        FpgaError::Busy {
            object: object.to_string(),
            what: what.into(),
        }
    }

    pub(crate) fn nodev(object: &str, what: impl Into<String>) -> FpgaError {
        FpgaError::NoDevice {
            object: object.to_string(),
            what: what.into(),
        }
    }

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn op(object: &str, op: &'static str, source: OpError) -> FpgaError {
        FpgaError::Op {
            object: object.to_string(),
            op,
            source,
        }
    }
}

impl devlink_core::KindError for FpgaError {
    fn kind(&self) -> ErrorKind {
        FpgaError::kind(self)
    }
    fn errno(&self) -> Option<Errno> {
        Some(FpgaError::errno(self))
    }
}

/// The crate's result type.
pub type Result<T, E = FpgaError> = std::result::Result<T, E>;
