//! Safe names, and the per-manager lock file that serialises loads across
//! processes (spec `uio.md` §3.2: the Xilinx `firmware` handler takes no
//! lock of its own).

use crate::error::{Result, SysfsError};
use crate::io::Dir;
use crate::root::SysfsRoot;
use rustix::fs::{FlockOperation, OFlags};
use std::io::Write;

/// The longest name the kernel's firmware and configfs paths take safely:
/// the Xilinx `firmware` handler copies into a 255-byte buffer unchecked.
pub const NAME_MAX: usize = 254;

/// Checks that `name` can be used as one path component under a directory
/// the caller does not own: non-empty, at most [`NAME_MAX`] bytes, no `/`,
/// no NUL or newline, not `.` or `..`.
///
/// ```
/// use backend_linux_sysfs::safe_name;
/// assert!(safe_name("overlay", "region0-dfx").is_ok());
/// assert!(safe_name("overlay", "../etc").is_err());
/// ```
pub fn safe_name<'a>(what: &str, name: &'a str) -> Result<&'a str> {
    let why = if name.is_empty() {
        Some("an empty name")
    } else if name.len() > NAME_MAX {
        Some("longer than 254 bytes")
    } else if name == "." || name == ".." {
        Some("a dot directory")
    } else if name.contains('/') {
        Some("contains a path separator")
    } else if name.contains(['\0', '\n']) {
        Some("contains a NUL or newline")
    } else {
        None
    };
    match why {
        Some(why) => Err(SysfsError::invalid(
            format!("{what} {name:?}"),
            format!("refused: {why} (one plain file name is needed)"),
        )),
        None => Ok(name),
    }
}

/// An exclusive advisory lock on one manager, held until dropped. The
/// file (`<lock dir>/fpga-devlink-<manager>.lock`, see [`SysfsRoot::prefix`]) is left in place (removing
/// it would race with the next locker); it names the last holder.
#[derive(Debug)]
pub struct ManagerLockFile {
    _file: std::fs::File,
    manager: String,
}

impl Drop for ManagerLockFile {
    /// Unlocks explicitly before the file closes: a child forked by another
    /// thread of this process holds a copy of the descriptor until it execs
    /// (close-on-exec closes it only then), and with it the lock; the
    /// explicit unlock releases the lock whoever still holds a copy.
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self._file, FlockOperation::Unlock);
    }
}

impl ManagerLockFile {
    /// Takes the lock without waiting; `Busy` names the current holder.
    pub fn acquire(root: &SysfsRoot, manager: &str) -> Result<ManagerLockFile> {
        safe_name("manager", manager)?;
        let dir = Dir::open(root.lock_dir())?;
        let name = format!("{}{manager}.lock", root.prefix());
        let path = root.lock_dir().join(&name);
        let fd = rustix::fs::openat(
            dir.fd(),
            name.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o644),
        )
        .map_err(|e| SysfsError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "another process".to_string());
                return Err(SysfsError::Busy {
                    what: format!("manager {manager} (lock {})", path.display()),
                    holder,
                });
            }
            Err(e) => return Err(flock_err(path, e)),
        }
        let mut file = std::fs::File::from(fd);
        let me = format!(
            "pid {} ({})\n",
            std::process::id(),
            std::env::args().next().unwrap_or_default()
        );
        file.set_len(0)
            .and_then(|()| file.write_all(me.as_bytes()))
            .map_err(SysfsError::io(&path))?;
        Ok(ManagerLockFile {
            _file: file,
            manager: manager.to_string(),
        })
    }

    /// Who holds `manager`'s lock, without taking it or creating anything:
    /// `None` when it is free (or no lock file exists).
    pub fn holder(root: &SysfsRoot, manager: &str) -> Result<Option<String>> {
        safe_name("manager", manager)?;
        let path = root
            .lock_dir()
            .join(format!("{}{manager}.lock", root.prefix()));
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SysfsError::io(&path)(e)),
        };
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => Ok(None),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(Some(
                std::fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "another process".to_string()),
            )),
            Err(e) => Err(flock_err(path, e)),
        }
    }

    /// The manager locked.
    pub fn manager(&self) -> &str {
        &self.manager
    }
}

/// A failed `flock`. `ENOSYS` means a kernel built without
/// `CONFIG_FILE_LOCKING` (`tinyconfig` leaves it out; the lab kernel
/// answered `flock` with `ENOSYS` until its fragment enabled it): loads
/// cannot be serialised there, which is `Unsupported`, not an I/O error.
fn flock_err(path: std::path::PathBuf, e: rustix::io::Errno) -> SysfsError {
    if e == rustix::io::Errno::NOSYS {
        return SysfsError::Unsupported {
            what: format!("flock(2) on {}", path.display()),
            hint: "this kernel has no file locking (CONFIG_FILE_LOCKING is off), so FPGA loads \
                   cannot be serialised across processes"
                .to_string(),
        };
    }
    SysfsError::Io {
        path,
        source: e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_without_file_locking_is_unsupported_not_an_io_error() {
        let e = flock_err(
            "/run/lock/fpga-devlink-fpga0.lock".into(),
            rustix::io::Errno::NOSYS,
        );
        assert_eq!(e.kind(), devlink_core::ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("CONFIG_FILE_LOCKING"), "{e}");
        let e = flock_err("/x".into(), rustix::io::Errno::IO);
        assert_eq!(e.kind(), devlink_core::ErrorKind::Io, "{e}");
    }

    #[test]
    fn names_with_separators_dots_or_excess_length_are_refused() {
        for bad in ["", ".", "..", "a/b", "/abs", "a\nb", "a\0b"] {
            assert!(safe_name("x", bad).is_err(), "{bad:?}");
        }
        assert!(safe_name("x", &"n".repeat(NAME_MAX)).is_ok());
        assert!(safe_name("x", &"n".repeat(NAME_MAX + 1)).is_err());
        assert!(safe_name("x", "..hidden").is_ok());
    }

    #[test]
    fn a_second_locker_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysfsRoot::at(dir.path());
        std::fs::create_dir_all(root.lock_dir()).unwrap();
        let held = ManagerLockFile::acquire(&root, "fpga0").unwrap();
        let e = ManagerLockFile::acquire(&root, "fpga0").unwrap_err();
        assert!(
            matches!(&e, SysfsError::Busy { holder, .. } if holder.contains(&format!("pid {}", std::process::id()))),
            "{e}"
        );
        assert!(ManagerLockFile::acquire(&root, "fpga1").is_ok());
        assert!(ManagerLockFile::holder(&root, "fpga0")
            .unwrap()
            .is_some_and(|h| h.starts_with("pid ")));
        drop(held);
        assert_eq!(ManagerLockFile::holder(&root, "fpga0").unwrap(), None);
        assert_eq!(ManagerLockFile::holder(&root, "fpga7").unwrap(), None);
        assert!(ManagerLockFile::acquire(&root, "fpga0").is_ok());
        assert!(ManagerLockFile::acquire(&root, "../fpga0").is_err());
    }
}
