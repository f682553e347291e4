//! Where the kernel's files are. Every path is configurable so tests run
//! on fixture trees and the same code runs on a real machine.

use std::path::{Path, PathBuf};

/// The roots this backend reads and writes under.
///
/// ```
/// use backend_linux_sysfs::SysfsRoot;
/// let real = SysfsRoot::default();
/// assert_eq!(real.sys(), std::path::Path::new("/sys"));
/// let fixture = SysfsRoot::at("/tmp/fixture");
/// assert_eq!(fixture.configfs(), std::path::Path::new("/tmp/fixture/kernel/config"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysfsRoot {
    sys: PathBuf,
    configfs: PathBuf,
    firmware: PathBuf,
    lock_dir: PathBuf,
    prefix: String,
    kmsg: Option<PathBuf>,
}

/// The name prefix of the files this crate makes (staged images, lock
/// files, journals): the project's name.
pub const NAME_PREFIX: &str = "fpga-devlink-";

impl Default for SysfsRoot {
    /// `/sys`, `/sys/kernel/config`, `/lib/firmware`, `/run/lock`, and
    /// the kernel log `/dev/kmsg`.
    fn default() -> SysfsRoot {
        SysfsRoot {
            sys: PathBuf::from("/sys"),
            configfs: PathBuf::from("/sys/kernel/config"),
            firmware: PathBuf::from("/lib/firmware"),
            lock_dir: PathBuf::from("/run/lock"),
            prefix: NAME_PREFIX.to_string(),
            kmsg: Some(PathBuf::from("/dev/kmsg")),
        }
    }
}

impl SysfsRoot {
    /// A fixture tree: sysfs at `dir`, configfs at `dir/kernel/config`,
    /// firmware at `dir/lib/firmware`, lock files in `dir/run/lock`, no
    /// kernel log (see [`with_kmsg`](Self::with_kmsg)).
    pub fn at(dir: impl Into<PathBuf>) -> SysfsRoot {
        let sys = dir.into();
        SysfsRoot {
            configfs: sys.join("kernel/config"),
            firmware: sys.join("lib/firmware"),
            lock_dir: sys.join("run/lock"),
            prefix: NAME_PREFIX.to_string(),
            kmsg: None,
            sys,
        }
    }

    /// Sets where the per-manager lock files live.
    pub fn with_lock_dir(mut self, dir: impl Into<PathBuf>) -> SysfsRoot {
        self.lock_dir = dir.into();
        self
    }

    /// Sets the prefix of the files this crate makes (default
    /// [`NAME_PREFIX`]): a product built on this crate names its own.
    /// It must be a plain file-name start (no `/`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> SysfsRoot {
        self.prefix = prefix.into().replace('/', "_");
        self
    }

    /// The prefix of the files this crate makes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the per-manager lock files live.
    pub fn lock_dir(&self) -> &Path {
        &self.lock_dir
    }

    /// Sets the configfs root.
    pub fn with_configfs(mut self, dir: impl Into<PathBuf>) -> SysfsRoot {
        self.configfs = dir.into();
        self
    }

    /// Sets the firmware directory.
    pub fn with_firmware(mut self, dir: impl Into<PathBuf>) -> SysfsRoot {
        self.firmware = dir.into();
        self
    }

    /// Sets where the kernel log is read (`/dev/kmsg`, or a file a test
    /// appends records to): an overlay removal reads what the kernel
    /// logged while it ran ([`crate::kmsg`]).
    pub fn with_kmsg(mut self, path: impl Into<PathBuf>) -> SysfsRoot {
        self.kmsg = Some(path.into());
        self
    }

    /// The kernel log, if one is read.
    pub fn kmsg(&self) -> Option<&Path> {
        self.kmsg.as_deref()
    }

    /// The live device tree (`<sys>/firmware/devicetree/base`).
    pub fn devicetree(&self) -> PathBuf {
        self.sys.join("firmware/devicetree/base")
    }

    /// The sysfs root.
    pub fn sys(&self) -> &Path {
        &self.sys
    }

    /// The configfs root.
    pub fn configfs(&self) -> &Path {
        &self.configfs
    }

    /// The firmware directory.
    pub fn firmware(&self) -> &Path {
        &self.firmware
    }
}
