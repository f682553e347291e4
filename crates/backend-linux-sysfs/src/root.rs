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
}

/// The name prefix of the files this crate makes (staged images, lock
/// files, journals): the project's name.
pub const NAME_PREFIX: &str = "fpga-devlink-";

impl Default for SysfsRoot {
    /// `/sys`, `/sys/kernel/config`, `/lib/firmware`, `/run/lock`.
    fn default() -> SysfsRoot {
        SysfsRoot {
            sys: PathBuf::from("/sys"),
            configfs: PathBuf::from("/sys/kernel/config"),
            firmware: PathBuf::from("/lib/firmware"),
            lock_dir: PathBuf::from("/run/lock"),
            prefix: NAME_PREFIX.to_string(),
        }
    }
}

impl SysfsRoot {
    /// A fixture tree: sysfs at `dir`, configfs at `dir/kernel/config`,
    /// firmware at `dir/lib/firmware`, lock files in `dir/run/lock`.
    pub fn at(dir: impl Into<PathBuf>) -> SysfsRoot {
        let sys = dir.into();
        SysfsRoot {
            configfs: sys.join("kernel/config"),
            firmware: sys.join("lib/firmware"),
            lock_dir: sys.join("run/lock"),
            prefix: NAME_PREFIX.to_string(),
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
