//! Where the kernel's files are: the sysfs root, the device-node directory
//! and the page size. Every one is configurable so that tests run the real
//! discovery and `mmap` code on a fixture tree.

use std::path::{Path, PathBuf};

/// The roots this backend reads under, and the page size it maps with.
///
/// ```
/// use backend_uio::UioRoot;
/// let real = UioRoot::default();
/// assert_eq!(real.sys(), std::path::Path::new("/sys"));
/// assert_eq!(real.dev_dir(), std::path::Path::new("/dev"));
/// let fixture = UioRoot::at("/tmp/fixture").with_page_size(16384);
/// assert_eq!(fixture.class_dir(), std::path::Path::new("/tmp/fixture/class/uio"));
/// assert_eq!(fixture.dev_dir(), std::path::Path::new("/tmp/fixture/dev"));
/// assert_eq!(fixture.page_size(), 16384);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UioRoot {
    sys: PathBuf,
    dev: PathBuf,
    page_size: Option<usize>,
}

impl Default for UioRoot {
    /// `/sys` and `/dev`, page size from `sysconf(_SC_PAGESIZE)`.
    fn default() -> UioRoot {
        UioRoot {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
            page_size: None,
        }
    }
}

impl UioRoot {
    /// A fixture tree: sysfs at `dir`, device nodes at `dir/dev`.
    pub fn at(dir: impl Into<PathBuf>) -> UioRoot {
        let sys = dir.into();
        UioRoot {
            dev: sys.join("dev"),
            sys,
            page_size: None,
        }
    }

    /// Sets the device-node directory (default `/dev`).
    pub fn with_dev_dir(mut self, dir: impl Into<PathBuf>) -> UioRoot {
        self.dev = dir.into();
        self
    }

    /// Fakes the page size (tests of the offset arithmetic only: a real
    /// `mmap` needs the real one). Must be a power of two.
    pub fn with_page_size(mut self, bytes: usize) -> UioRoot {
        self.page_size = Some(bytes);
        self
    }

    /// The sysfs root.
    pub fn sys(&self) -> &Path {
        &self.sys
    }

    /// `<sys>/class/uio`.
    pub fn class_dir(&self) -> PathBuf {
        self.sys.join("class/uio")
    }

    /// The device-node directory.
    pub fn dev_dir(&self) -> &Path {
        &self.dev
    }

    /// The page size: the faked one, else `sysconf(_SC_PAGESIZE)` read at
    /// run time (never a constant 4096).
    pub fn page_size(&self) -> usize {
        self.page_size.unwrap_or_else(rustix::param::page_size)
    }
}
