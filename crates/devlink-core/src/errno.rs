//! Kernel errno values and the one table that maps them to [`ErrorKind`]
//! (spec `fpga.md` §1, `uio.md` §0, `device-links.md` A1). Every crate of
//! the workspace uses this table; none keeps its own.

use crate::error::ErrorKind;
use std::fmt;

/// A kernel errno value, as a backend reports it and the subsystems pass
/// it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Errno(pub i32);

/// `(errno, symbolic name, kind)`: the one table.
///
/// `EAGAIN` is [`ErrorKind::Deferred`] everywhere: "not now, try again
/// later, nothing is wrong with the request". That is what it means on a
/// sysfs `bind` (the driver core turns `-EPROBE_DEFER` into `EAGAIN`), on
/// a non-blocking UIO read, and on a contended try-lock. The one place the
/// FPGA subsystem lets it escape (a contiguous-path `parse_header` that
/// keeps asking for more, spec `fpga.md` behaviour 21) keeps the errno
/// `EAGAIN`; its kind is `Deferred` too, a documented deviation from the
/// spec's suggested `InvalidInput`.
const TABLE: &[(i32, &str, ErrorKind)] = &[
    (1, "EPERM", ErrorKind::InvalidInput),
    (2, "ENOENT", ErrorKind::NoDevice),
    (4, "EINTR", ErrorKind::Io),
    (5, "EIO", ErrorKind::Io),
    (6, "ENXIO", ErrorKind::NoDevice),
    (9, "EBADF", ErrorKind::InvalidInput),
    (11, "EAGAIN", ErrorKind::Deferred),
    (12, "ENOMEM", ErrorKind::OutOfMemory),
    (13, "EACCES", ErrorKind::InvalidInput),
    (14, "EFAULT", ErrorKind::InvalidInput),
    (16, "EBUSY", ErrorKind::Busy),
    (17, "EEXIST", ErrorKind::Busy),
    (19, "ENODEV", ErrorKind::NoDevice),
    (20, "ENOTDIR", ErrorKind::InvalidInput),
    (21, "EISDIR", ErrorKind::InvalidInput),
    (22, "EINVAL", ErrorKind::InvalidInput),
    (27, "EFBIG", ErrorKind::InvalidInput),
    (28, "ENOSPC", ErrorKind::Io),
    (30, "EROFS", ErrorKind::InvalidInput),
    (36, "ENAMETOOLONG", ErrorKind::InvalidInput),
    (38, "ENOSYS", ErrorKind::Unsupported),
    (40, "ELOOP", ErrorKind::InvalidInput),
    (61, "ENODATA", ErrorKind::NoDevice),
    (95, "EOPNOTSUPP", ErrorKind::Unsupported),
    (110, "ETIMEDOUT", ErrorKind::Timeout),
    (517, "EPROBE_DEFER", ErrorKind::Deferred),
];

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(1);
    /// No such file.
    pub const ENOENT: Errno = Errno(2);
    /// Interrupted (a signal asked the operation to stop).
    pub const EINTR: Errno = Errno(4);
    /// I/O error.
    pub const EIO: Errno = Errno(5);
    /// No such device or address.
    pub const ENXIO: Errno = Errno(6);
    /// Try again later (see the table's note).
    pub const EAGAIN: Errno = Errno(11);
    /// Out of memory.
    pub const ENOMEM: Errno = Errno(12);
    /// Permission denied.
    pub const EACCES: Errno = Errno(13);
    /// Bad address (header protocol violation).
    pub const EFAULT: Errno = Errno(14);
    /// Busy.
    pub const EBUSY: Errno = Errno(16);
    /// Already exists.
    pub const EEXIST: Errno = Errno(17);
    /// No such device.
    pub const ENODEV: Errno = Errno(19);
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(22);
    /// Not implemented.
    pub const ENOSYS: Errno = Errno(38);
    /// Operation not supported.
    pub const EOPNOTSUPP: Errno = Errno(95);
    /// Timed out.
    pub const ETIMEDOUT: Errno = Errno(110);
    /// Probe deferral.
    pub const EPROBE_DEFER: Errno = Errno(517);

    fn entry(self) -> Option<&'static (i32, &'static str, ErrorKind)> {
        TABLE.iter().find(|(n, _, _)| *n == self.0)
    }

    /// The kind generic code reacts to; an errno the table does not know
    /// is `Io`.
    pub fn kind(self) -> ErrorKind {
        self.entry().map_or(ErrorKind::Io, |(_, _, k)| *k)
    }

    /// The symbolic name (`EINVAL`), or `errno N`.
    pub fn name(self) -> String {
        match self.entry() {
            Some((_, name, _)) => (*name).to_string(),
            None => format!("errno {}", self.0),
        }
    }

    /// The errno of an I/O error, if it carries one.
    pub fn of_io(e: &std::io::Error) -> Option<Errno> {
        e.raw_os_error().map(Errno)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl ErrorKind {
    /// The errno a kernel interface would return for this kind (the
    /// reverse of the table, one errno per kind).
    pub fn errno(self) -> Errno {
        match self {
            ErrorKind::NoDevice => Errno::ENODEV,
            ErrorKind::Busy => Errno::EBUSY,
            ErrorKind::InvalidInput => Errno::EINVAL,
            ErrorKind::Deferred => Errno::EPROBE_DEFER,
            ErrorKind::Timeout => Errno::ETIMEDOUT,
            ErrorKind::Unsupported => Errno::EOPNOTSUPP,
            ErrorKind::Io => Errno::EIO,
            ErrorKind::OutOfMemory => Errno::ENOMEM,
        }
    }

    /// The kind of an I/O error: by its errno when it has one (the table),
    /// else by its `std::io::ErrorKind`.
    pub fn of_io(e: &std::io::Error) -> ErrorKind {
        if let Some(n) = Errno::of_io(e) {
            return n.kind();
        }
        match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NoDevice,
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::InvalidInput => {
                ErrorKind::InvalidInput
            }
            std::io::ErrorKind::InvalidData => ErrorKind::InvalidInput,
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            std::io::ErrorKind::AlreadyExists => ErrorKind::Busy,
            std::io::ErrorKind::Unsupported => ErrorKind::Unsupported,
            std::io::ErrorKind::OutOfMemory => ErrorKind::OutOfMemory,
            _ => ErrorKind::Io,
        }
    }
}

/// An error generic code can react to without knowing its type: every
/// error of the workspace's contracts answers [`kind`](Self::kind), and
/// where it came from an errno, [`errno`](Self::errno).
pub trait KindError: std::error::Error + Send + Sync + 'static {
    /// The errno-like kind.
    fn kind(&self) -> ErrorKind;
    /// The kernel errno behind the error, if there is one.
    fn errno(&self) -> Option<Errno> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_errno_and_every_kind_maps_back_into_it() {
        for (i, (n, _, _)) in TABLE.iter().enumerate() {
            assert!(
                TABLE[i + 1..].iter().all(|(m, _, _)| m != n),
                "errno {n} twice"
            );
        }
        for k in [
            ErrorKind::NoDevice,
            ErrorKind::Busy,
            ErrorKind::InvalidInput,
            ErrorKind::Deferred,
            ErrorKind::Timeout,
            ErrorKind::Unsupported,
            ErrorKind::Io,
            ErrorKind::OutOfMemory,
        ] {
            assert_eq!(k.errno().kind(), k, "{k:?}");
        }
    }

    #[test]
    fn eagain_means_try_again_later() {
        assert_eq!(Errno::EAGAIN.kind(), ErrorKind::Deferred);
        assert_eq!(Errno::EPROBE_DEFER.kind(), ErrorKind::Deferred);
        assert_eq!(Errno(4242).kind(), ErrorKind::Io);
        assert_eq!(Errno(4242).name(), "errno 4242");
        let io = std::io::Error::from_raw_os_error(11);
        assert_eq!(ErrorKind::of_io(&io), ErrorKind::Deferred);
        let plain = std::io::Error::new(std::io::ErrorKind::NotFound, "x");
        assert_eq!(ErrorKind::of_io(&plain), ErrorKind::NoDevice);
    }
}
