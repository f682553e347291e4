//! Errors: one enum, each variant naming its object, with the kernel's
//! errno and an errno-like [`ErrorKind`].

pub use devlink_core::ErrorKind;
use std::fmt;

/// A kernel errno value, as backends report it and the subsystem passes
/// it through (spec `fpga.md` §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(1);
    /// No such file.
    pub const ENOENT: Errno = Errno(2);
    /// I/O error.
    pub const EIO: Errno = Errno(5);
    /// Try again (`parse_header` wants more bytes).
    pub const EAGAIN: Errno = Errno(11);
    /// Out of memory.
    pub const ENOMEM: Errno = Errno(12);
    /// Bad address (header protocol violation).
    pub const EFAULT: Errno = Errno(14);
    /// Busy.
    pub const EBUSY: Errno = Errno(16);
    /// No such device.
    pub const ENODEV: Errno = Errno(19);
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(22);
    /// Timed out.
    pub const ETIMEDOUT: Errno = Errno(110);
    /// Operation not supported.
    pub const EOPNOTSUPP: Errno = Errno(95);
    /// Probe deferral.
    pub const EPROBE_DEFER: Errno = Errno(517);

    /// The kind generic code reacts to (spec §1's table).
    pub fn kind(self) -> ErrorKind {
        match self {
            Errno::EINVAL | Errno::EAGAIN | Errno::EFAULT => ErrorKind::InvalidInput,
            Errno::EBUSY => ErrorKind::Busy,
            Errno::ENODEV | Errno::ENOENT => ErrorKind::NoDevice,
            Errno::EOPNOTSUPP => ErrorKind::Unsupported,
            Errno::ETIMEDOUT => ErrorKind::Timeout,
            Errno::EPROBE_DEFER => ErrorKind::Deferred,
            _ => ErrorKind::Io,
        }
    }

    /// The symbolic name (`EINVAL`), or the number.
    pub fn name(self) -> String {
        let n = match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::EIO => "EIO",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EFAULT => "EFAULT",
            Errno::EBUSY => "EBUSY",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::EPROBE_DEFER => "EPROBE_DEFER",
            Errno(n) => return format!("errno {n}"),
        };
        n.to_string()
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

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
            FpgaError::Core { source, .. } => match source.kind() {
                ErrorKind::Busy => Errno::EBUSY,
                ErrorKind::NoDevice => Errno::ENODEV,
                ErrorKind::Deferred => Errno::EPROBE_DEFER,
                ErrorKind::InvalidInput => Errno::EINVAL,
                _ => Errno::EIO,
            },
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

/// The crate's result type.
pub type Result<T, E = FpgaError> = std::result::Result<T, E>;
