//! Errors: every one names the device (its sysfs or `/dev` path), the map
//! index where there is one, and the errno where the kernel gave one.

use devlink_core::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

/// Why a UIO or HWICAP operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UioError {
    /// A sysfs file or the device node could not be read or opened.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A sysfs file held text this crate does not understand, or the tree
    /// is malformed (a gap in `mapN`). Never defaulted.
    #[error("{}: unexpected content {text:?} (expected {expected})", path.display())]
    Parse {
        /// The file or directory.
        path: PathBuf,
        /// What it held (at most 200 bytes of it).
        text: String,
        /// What was expected.
        expected: String,
    },
    /// An operation on an opened device failed (`mmap`, `read`, `write`,
    /// `poll`, a register access, a HWICAP step).
    #[error("{device}{}: {op}: {what}{}", map_suffix(*.map), errno_suffix(*.errno))]
    Device {
        /// The device (`/dev/uio3`, or a sysfs path).
        device: String,
        /// The map index, where the operation concerns one.
        map: Option<usize>,
        /// The operation (`mmap`, `read`, `irq_enable`, `write_words`, ...).
        op: &'static str,
        /// What went wrong.
        what: String,
        /// The kernel's errno, if the kernel reported one.
        errno: Option<i32>,
        /// The errno-like kind.
        kind: ErrorKind,
    },
    /// The advisory lock is held by someone else.
    #[error("{device}: busy: locked by {holder}")]
    Busy {
        /// The device node.
        device: String,
        /// Who holds it (an owner name, `pid N`, or `unknown holder`).
        holder: String,
    },
    /// A register poll loop ran past its deadline.
    #[error("{device}: timeout after {waited:?} waiting for {register} (last value {last:#010x}): {what}")]
    Timeout {
        /// The device.
        device: String,
        /// The register polled (`WFV`, `SR`, `CR`, `RFO`).
        register: &'static str,
        /// The last value read.
        last: u32,
        /// How long it waited.
        waited: Duration,
        /// What it waited for.
        what: &'static str,
    },
    /// A malformed bitstream file.
    #[error("bitstream: {field} at byte {offset}: {what}")]
    Bitstream {
        /// The field (`header magic`, `design name`, `data length`, ...).
        field: &'static str,
        /// Byte offset of the field in the file.
        offset: usize,
        /// What is wrong.
        what: String,
    },
}

fn map_suffix(map: Option<usize>) -> String {
    map.map(|m| format!(" map{m}")).unwrap_or_default()
}

fn errno_suffix(errno: Option<i32>) -> String {
    errno
        .map(|e| format!(" ({})", errno_name(e)))
        .unwrap_or_default()
}

/// The symbolic name of an errno (the workspace's one table).
pub fn errno_name(errno: i32) -> String {
    devlink_core::Errno(errno).name()
}

/// Errno values used by the simulator and the kind mapping.
pub mod errno {
    /// Interrupted system call.
    pub const EINTR: i32 = 4;
    /// I/O error (no interrupt, device gone while reading).
    pub const EIO: i32 = 5;
    /// Nothing yet (non-blocking read).
    pub const EAGAIN: i32 = 11;
    /// Permission (writable mapping of a read-only descriptor).
    pub const EACCES: i32 = 13;
    /// No such device (stale node; unaligned physical map).
    pub const ENODEV: i32 = 19;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// No `irqcontrol` hook.
    pub const ENOSYS: i32 = 38;
}

impl UioError {
    /// The errno-like kind, for generic code and exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            UioError::Io { source, .. } => ErrorKind::of_io(source),
            UioError::Parse { .. } => ErrorKind::InvalidInput,
            UioError::Device { kind, .. } => *kind,
            UioError::Busy { .. } => ErrorKind::Busy,
            UioError::Timeout { .. } => ErrorKind::Timeout,
            UioError::Bitstream { .. } => ErrorKind::InvalidInput,
        }
    }

    /// The errno, where the kernel (or the simulated kernel) gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            UioError::Io { source, .. } => source.raw_os_error(),
            UioError::Device { errno, .. } => *errno,
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> UioError {
        let path = path.into();
        move |source| UioError::Io { path, source }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, text: &str, expected: &str) -> UioError {
        let mut text = text.to_string();
        if text.len() > 200 {
            let mut end = 200;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        UioError::Parse {
            path: path.into(),
            text,
            expected: expected.to_string(),
        }
    }

    /// A [`UioError::Device`] without errno.
    pub(crate) fn dev(
        device: &str,
        map: Option<usize>,
        op: &'static str,
        kind: ErrorKind,
        what: impl Into<String>,
    ) -> UioError {
        UioError::Device {
            device: device.to_string(),
            map,
            op,
            what: what.into(),
            errno: None,
            kind,
        }
    }

    /// A [`UioError::Device`] from an errno, with the kind the caller's
    /// context gives it (the same errno means different things per call,
    /// spec `uio.md` §1.5–§1.7).
    pub(crate) fn os(
        device: &str,
        map: Option<usize>,
        op: &'static str,
        errno: i32,
        kind: ErrorKind,
        what: impl Into<String>,
    ) -> UioError {
        UioError::Device {
            device: device.to_string(),
            map,
            op,
            what: what.into(),
            errno: Some(errno),
            kind,
        }
    }

    pub(crate) fn bitstream(
        field: &'static str,
        offset: usize,
        what: impl Into<String>,
    ) -> UioError {
        UioError::Bitstream {
            field,
            offset,
            what: what.into(),
        }
    }
}

impl From<fpga_image::ImageError> for UioError {
    fn from(e: fpga_image::ImageError) -> UioError {
        UioError::Bitstream {
            field: e.field,
            offset: e.offset,
            what: e.what,
        }
    }
}

impl devlink_core::KindError for UioError {
    fn kind(&self) -> ErrorKind {
        UioError::kind(self)
    }
    fn errno(&self) -> Option<devlink_core::Errno> {
        UioError::errno(self).map(devlink_core::Errno)
    }
}

/// The crate's result type.
pub type Result<T, E = UioError> = std::result::Result<T, E>;
