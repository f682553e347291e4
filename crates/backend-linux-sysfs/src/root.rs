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
}

impl Default for SysfsRoot {
    /// `/sys`, `/sys/kernel/config`, `/lib/firmware`.
    fn default() -> SysfsRoot {
        SysfsRoot {
            sys: PathBuf::from("/sys"),
            configfs: PathBuf::from("/sys/kernel/config"),
            firmware: PathBuf::from("/lib/firmware"),
        }
    }
}

impl SysfsRoot {
    /// A fixture tree: sysfs at `dir`, configfs at `dir/kernel/config`,
    /// firmware at `dir/lib/firmware`.
    pub fn at(dir: impl Into<PathBuf>) -> SysfsRoot {
        let sys = dir.into();
        SysfsRoot {
            configfs: sys.join("kernel/config"),
            firmware: sys.join("lib/firmware"),
            sys,
        }
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
