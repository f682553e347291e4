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
            SysfsError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NoDevice,
                std::io::ErrorKind::PermissionDenied => ErrorKind::InvalidInput,
                _ => ErrorKind::Io,
            },
            SysfsError::Parse { .. } => ErrorKind::InvalidInput,
            SysfsError::NotFound { .. } => ErrorKind::NoDevice,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SysfsError {
        let path = path.into();
        move |source| SysfsError::Io { path, source }
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

/// The crate's result type.
pub type Result<T, E = SysfsError> = std::result::Result<T, E>;
