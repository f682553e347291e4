//! Capturing the parts of a live `/sys` this crate and backend-uio read,
//! into a directory that [`read_topology`](crate::read_topology) and
//! [`read_fpga`](crate::read_fpga) can read back: a fixture made from a
//! real kernel, or a tree a user attaches to a bug report (`cargo xtask
//! capture-sysfs DIR`).
//!
//! What is copied, and nothing else:
//! - every directory under `devices/` (symlinks are never followed), with
//!   its `uevent` and `waiting_for_supplier` and the symlinks the readers
//!   follow (`driver`, `subsystem`, `device`, `of_node`, `firmware_node`,
//!   `supplier`, `consumer`, `consumer:*`, `supplier:*`);
//! - the attributes of device links (`status`, `auto_remove_on`,
//!   `runtime_pm`, `sync_state_only`), of FPGA managers, bridges and
//!   regions (`name`, `state`, `status`, `compat_id`, `flags`), and of UIO
//!   devices (`name`, `version`, `event`, `dev`, `maps/mapN/*`), only in
//!   directories of those kinds;
//! - `bus/*/devices/*` and `class/*/*` symlinks as symlinks.
//!
//! Files that are written, not read (`bind`, `unbind`, `drivers_probe`,
//! the Xilinx `firmware` and `key`, and class attribute files such as
//! `gpio/export` or `zram-control/hot_add`, whose read creates a device)
//! become empty placeholders: they exist in the capture, as in the
//! kernel, and are never opened for reading. Attributes other than those
//! named are never read (a DRM connector's `status` read probes the
//! display, for one).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What a capture copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// Directories made.
    pub dirs: usize,
    /// Attribute files copied with their text.
    pub files: usize,
    /// Symlinks copied.
    pub symlinks: usize,
    /// Empty placeholders for files that are never read.
    pub placeholders: usize,
    /// Attributes whose read failed (left out), with the error.
    pub unreadable: Vec<String>,
}

/// Attribute reads are capped: no sysfs attribute is larger than a page,
/// and a file that is (a stand-in tree, a FIFO) is cut there.
const MAX_ATTR: u64 = 64 * 1024;
/// Deeper than any real device tree; bounds the walk.
const MAX_DEPTH: usize = 64;

const DEVICE_ATTRS: &[&str] = &["uevent", "waiting_for_supplier"];
const DEVICE_LINKS: &[&str] = &[
    "driver",
    "subsystem",
    "device",
    "of_node",
    "firmware_node",
    "supplier",
    "consumer",
];
const LINK_ATTRS: &[&str] = &["status", "auto_remove_on", "runtime_pm", "sync_state_only"];
const FPGA_ATTRS: &[&str] = &["name", "state", "status", "compat_id", "flags"];
const FPGA_WRITE_ONLY: &[&str] = &["firmware", "key"];
const UIO_ATTRS: &[&str] = &["name", "version", "event", "dev"];
const UIO_MAP_ATTRS: &[&str] = &["name", "addr", "size", "offset"];

struct Copier {
    from: PathBuf,
    to: PathBuf,
    out: Captured,
}

fn file_type(p: &Path) -> Option<fs::FileType> {
    fs::symlink_metadata(p).ok().map(|m| m.file_type())
}

impl Copier {
    fn mkdir(&mut self, rel: &Path) -> io::Result<()> {
        let d = self.to.join(rel);
        if !d.exists() {
            fs::create_dir_all(&d)?;
            self.out.dirs += 1;
        }
        Ok(())
    }

    fn symlink(&mut self, rel: &Path) -> io::Result<()> {
        let target = fs::read_link(self.from.join(rel))?;
        let dst = self.to.join(rel);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p)?;
        }
        match std::os::unix::fs::symlink(&target, &dst) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            r => {
                self.out.symlinks += 1;
                r
            }
        }
    }

    fn placeholder(&mut self, rel: &Path) -> io::Result<()> {
        let dst = self.to.join(rel);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p)?;
        }
        fs::File::create(dst)?;
        self.out.placeholders += 1;
        Ok(())
    }

    /// Copies the attribute `rel` if it is a regular file: its text if it
    /// can be read, a placeholder if it has no read permission.
    fn attr(&mut self, rel: &Path) -> io::Result<()> {
        let src = self.from.join(rel);
        let Ok(meta) = fs::symlink_metadata(&src) else {
            return Ok(());
        };
        if !meta.file_type().is_file() {
            return Ok(());
        }
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o444 == 0 {
            return self.placeholder(rel);
        }
        let mut text = Vec::new();
        let read = fs::File::open(&src).and_then(|f| f.take(MAX_ATTR).read_to_end(&mut text));
        match read {
            Ok(_) => {
                let dst = self.to.join(rel);
                if let Some(p) = dst.parent() {
                    fs::create_dir_all(p)?;
                }
                fs::write(dst, &text)?;
                self.out.files += 1;
            }
            Err(e) => self.out.unreadable.push(format!("{}: {e}", rel.display())),
        }
        Ok(())
    }

    fn device_dir(&mut self, rel: &Path, depth: usize) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let src = self.from.join(rel);
        let Ok(entries) = fs::read_dir(&src) else {
            // Gone while the tree was read.
            return Ok(());
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let has_uevent = names.iter().any(|n| n == "uevent");
        if has_uevent {
            self.mkdir(rel)?;
        }
        // What kind of directory: a device link, an FPGA class device, a
        // UIO device.
        let subsystem = fs::read_link(src.join("subsystem"))
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_link = rel.parent() == Some(Path::new("devices/virtual/devlink"));
        let class = subsystem
            .rsplit_once("class/")
            .map(|(_, c)| c.to_string())
            .unwrap_or_default();
        for name in &names {
            let r = rel.join(name);
            let Some(t) = file_type(&self.from.join(&r)) else {
                continue;
            };
            if t.is_symlink() {
                if DEVICE_LINKS.contains(&name.as_str())
                    || name.starts_with("consumer:")
                    || name.starts_with("supplier:")
                {
                    self.symlink(&r)?;
                }
            } else if t.is_file() {
                let n = name.as_str();
                let wanted = DEVICE_ATTRS.contains(&n)
                    || (is_link && LINK_ATTRS.contains(&n))
                    || (class.starts_with("fpga_") && FPGA_ATTRS.contains(&n))
                    || (class == "uio" && UIO_ATTRS.contains(&n));
                if class.starts_with("fpga_") && FPGA_WRITE_ONLY.contains(&n) {
                    self.placeholder(&r)?;
                } else if wanted {
                    self.attr(&r)?;
                }
            } else if t.is_dir() {
                if class == "uio" && name == "maps" {
                    self.uio_maps(&r)?;
                } else {
                    self.device_dir(&r, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    fn uio_maps(&mut self, rel: &Path) -> io::Result<()> {
        let Ok(entries) = fs::read_dir(self.from.join(rel)) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let m = rel.join(e.file_name());
            self.mkdir(&m)?;
            for a in UIO_MAP_ATTRS {
                self.attr(&m.join(a))?;
            }
        }
        Ok(())
    }

    fn subsystems(&mut self, top: &str) -> io::Result<()> {
        let Ok(entries) = fs::read_dir(self.from.join(top)) else {
            return Ok(());
        };
        let mut subs: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        subs.sort();
        for sub in subs {
            let base = Path::new(top).join(&sub);
            let members = if top == "bus" {
                base.join("devices")
            } else {
                base.clone()
            };
            self.mkdir(&members)?;
            if let Ok(entries) = fs::read_dir(self.from.join(&members)) {
                for e in entries.flatten() {
                    let r = members.join(e.file_name());
                    match file_type(&self.from.join(&r)) {
                        Some(t) if t.is_symlink() => self.symlink(&r)?,
                        // Class attribute files: present, never read.
                        Some(t) if t.is_file() => self.placeholder(&r)?,
                        _ => {}
                    }
                }
            }
            if top == "bus" {
                for f in ["drivers_probe", "drivers_autoprobe"] {
                    if file_type(&self.from.join(base.join(f))).is_some_and(|t| t.is_file()) {
                        self.placeholder(&base.join(f))?;
                    }
                }
                let drivers = base.join("drivers");
                if let Ok(entries) = fs::read_dir(self.from.join(&drivers)) {
                    for e in entries.flatten() {
                        let d = drivers.join(e.file_name());
                        self.mkdir(&d)?;
                        for f in ["bind", "unbind"] {
                            if file_type(&self.from.join(d.join(f))).is_some_and(|t| t.is_file()) {
                                self.placeholder(&d.join(f))?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Copies what the readers need from the sysfs tree at `from` into `to`
/// (made if missing; it should be empty). Errors are those of writing
/// `to`; what cannot be read in `from` is left out (and listed in
/// [`Captured::unreadable`] for attributes).
pub fn capture(from: &Path, to: &Path) -> io::Result<Captured> {
    fs::create_dir_all(to)?;
    let mut c = Copier {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        out: Captured::default(),
    };
    c.device_dir(Path::new("devices"), 0)?;
    c.subsystems("bus")?;
    c.subsystems("class")?;
    Ok(c.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_of_a_capture_is_the_same_tree() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sysfs/arm64-virt");
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let first = capture(&fixture, a.path()).unwrap();
        assert!(first.files > 10 && first.symlinks > 10, "{first:?}");
        let second = capture(a.path(), b.path()).unwrap();
        assert_eq!(second.files, first.files);
        assert_eq!(second.symlinks, first.symlinks);
    }
}
