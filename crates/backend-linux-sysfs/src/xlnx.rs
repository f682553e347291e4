//! Loading through the Xilinx manager attributes `flags`, `key` and
//! `firmware` (spec `uio.md` §3.2, `fpga.md` §8.4): the image is staged in
//! the firmware directory under a collision-free name, the manager is
//! locked across processes, the load is verified from `state`, and the
//! staged file is removed on every path.

use crate::attr;
use crate::error::{Result, SysfsError};
use crate::io::Dir;
use crate::lock::{safe_name, ManagerLockFile};
use crate::root::SysfsRoot;
use fpga_core::ManagerCtx;
use fpga_core::{Errno, FpgaManagerOps, ImageFlags, ImageInfo, MgrState, MgrStatus, OpError};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A file this process created in the firmware directory; removed when
/// dropped, whatever happened in between.
#[derive(Debug)]
pub struct StagedFile {
    dir: Dir,
    name: String,
    file: Option<std::fs::File>,
    owned: bool,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl StagedFile {
    /// Creates `<prefix><pid>-<seq>-<nanos>.<ext>` in the firmware
    /// directory with exclusive-create and no-follow, retrying on a
    /// collision.
    pub fn create(root: &SysfsRoot, ext: &str) -> Result<StagedFile> {
        safe_name("extension", ext)?;
        let dir = Dir::open(root.firmware())?;
        for _ in 0..16 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "{}{}-{}-{nanos:08x}.{ext}",
                root.prefix(),
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            match dir.create_new(&name, 0o644) {
                Ok(file) => {
                    return Ok(StagedFile {
                        dir,
                        name,
                        file: Some(file),
                        owned: true,
                    })
                }
                Err(e) if e.errno() == Some(rustix::io::Errno::EXIST.raw_os_error()) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(SysfsError::invalid(
            root.firmware().display().to_string(),
            "could not find a free staging name after 16 attempts",
        ))
    }

    /// Places a file under its own `name` (an overlay names its bitstream
    /// itself). An existing file of that name with the same contents is
    /// used as it is and left in place; a different one is an error.
    pub fn place_named(root: &SysfsRoot, name: &str, data: &[u8]) -> Result<StagedFile> {
        safe_name("firmware file", name)?;
        let dir = Dir::open(root.firmware())?;
        match dir.create_new(name, 0o644) {
            Ok(file) => {
                let mut s = StagedFile {
                    dir,
                    name: name.to_string(),
                    file: Some(file),
                    owned: true,
                };
                s.write_all(data)?;
                s.finish()?;
                Ok(s)
            }
            Err(e) if e.errno() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {
                let mut buf = Vec::new();
                let same = dir.read_into(name, &mut buf)? && buf == data;
                if same {
                    Ok(StagedFile {
                        dir,
                        name: name.to_string(),
                        file: None,
                        owned: false,
                    })
                } else {
                    Err(SysfsError::Busy {
                        what: format!("{}", root.firmware().join(name).display()),
                        holder: "a different file of that name (refusing to overwrite it)"
                            .to_string(),
                    })
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The file name (no directory), as the kernel is told it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends bytes.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let path = self.dir.path().join(&self.name);
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| SysfsError::invalid(path.display().to_string(), "already finished"))?;
        f.write_all(buf).map_err(SysfsError::io(path))
    }

    /// Closes the file so the kernel reads all of it.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_data()
                .map_err(SysfsError::io(self.dir.path().join(&self.name)))?;
        }
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        self.file.take();
        if self.owned {
            // Nothing to report to: a file that cannot be removed was
            // removed by someone else already, or the directory is gone.
            let _ = self.dir.unlink(&self.name);
        }
    }
}

/// Checks that `name` is not shadowed by a file earlier on the kernel's
/// firmware search path: the custom path in
/// `module/firmware_class/parameters/path`, then `updates/<release>`,
/// `updates`, `<release>` under the firmware directory.
pub(crate) fn check_unambiguous(root: &SysfsRoot, name: &str) -> Result<()> {
    let sys = Dir::open(root.sys())?;
    let mut shadows = Vec::new();
    if let Some(custom) = sys.read_opt("module/firmware_class/parameters/path")? {
        let custom = custom.trim_end_matches('\n');
        if !custom.is_empty() {
            if let Ok(d) = Dir::open(std::path::Path::new(custom)) {
                if d.exists(name)? {
                    shadows.push(d.path().join(name));
                }
            }
        }
    }
    let fw = Dir::open(root.firmware())?;
    if let Some(up) = fw.sub_opt("updates")? {
        if up.exists(name)? {
            shadows.push(up.path().join(name));
        }
        for sub in up.entries()? {
            if let Some(d) = up.sub_opt(&sub)? {
                if d.exists(name)? {
                    shadows.push(d.path().join(name));
                }
            }
        }
    }
    for sub in fw.entries()? {
        if sub == "updates" || sub == name {
            continue;
        }
        if let Some(d) = fw.sub_opt(&sub)? {
            if d.exists(name)? {
                shadows.push(d.path().join(name));
            }
        }
    }
    match shadows.first() {
        None => Ok(()),
        Some(p) => Err(SysfsError::Busy {
            what: format!("firmware name {name:?}"),
            holder: format!(
                "{} (earlier on the kernel's search path, it would be loaded instead)",
                p.display()
            ),
        }),
    }
}

/// What a load left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// `state` after the load.
    pub state: MgrState,
    /// `status` after the load (empty where the attribute is absent).
    pub status: MgrStatus,
    /// How long the `firmware` write took (the kernel's load).
    pub load_time: Duration,
}

/// A manager with the Xilinx attributes.
#[derive(Debug, Clone)]
pub struct XlnxManager {
    root: SysfsRoot,
    dev: String,
}

impl XlnxManager {
    /// Opens `class/fpga_manager/<dev>` and checks it has `flags` and
    /// `firmware`; a mainline kernel has neither, which is `Unsupported`.
    pub fn open(root: &SysfsRoot, dev: &str) -> Result<XlnxManager> {
        safe_name("manager", dev)?;
        let sys = Dir::open(root.sys())?;
        let Some(class) = sys.sub_opt("class/fpga_manager")? else {
            return Err(SysfsError::Unsupported {
                what: root.sys().join("class/fpga_manager").display().to_string(),
                hint: "this kernel has no FPGA manager support (CONFIG_FPGA)".to_string(),
            });
        };
        let Some(dir) = class.sub_opt(dev)? else {
            return Err(SysfsError::NotFound {
                what: format!("FPGA manager {dev:?}"),
                root: root.sys().join("class/fpga_manager"),
            });
        };
        for f in ["flags", "firmware"] {
            if !dir.exists(f)? {
                return Err(SysfsError::Unsupported {
                    what: dir.path().join(f).display().to_string(),
                    hint: "only Xilinx kernels load from user space through `firmware`; \
                           on a mainline kernel, load through a device-tree overlay"
                        .to_string(),
                });
            }
        }
        Ok(XlnxManager {
            root: root.clone(),
            dev: dev.to_string(),
        })
    }

    /// The manager's device name (`fpga0`).
    pub fn dev(&self) -> &str {
        &self.dev
    }

    fn dir(&self) -> Result<Dir> {
        Dir::open(&self.root.sys().join("class/fpga_manager").join(&self.dev))
    }

    /// `name`.
    pub fn name(&self) -> Result<String> {
        let d = self.dir()?;
        attr::name(&d.path().join("name"), &d.read("name")?)
    }

    /// `state`.
    pub fn state(&self) -> Result<MgrState> {
        Self::state_in(&self.dir()?)
    }

    fn state_in(d: &Dir) -> Result<MgrState> {
        attr::mgr_state(&d.path().join("state"), &d.read("state")?)
    }

    /// `status`; empty where the attribute is absent.
    pub fn status(&self) -> Result<MgrStatus> {
        Self::status_in(&self.dir()?)
    }

    fn status_in(d: &Dir) -> Result<MgrStatus> {
        match d.read_opt("status")? {
            Some(t) => attr::mgr_status(&d.path().join("status"), &t),
            None => Ok(MgrStatus::empty()),
        }
    }

    /// `flags`, as the kernel reads them back.
    pub fn flags(&self) -> Result<u32> {
        let d = self.dir()?;
        attr::xlnx_flags(&d.path().join("flags"), &d.read("flags")?)
    }

    /// Loads `data` with `flags` (and the user `key` when the flags ask
    /// for one): stages it, then [`load_staged`](Self::load_staged).
    pub fn load(&self, data: &[u8], flags: ImageFlags, key: Option<&str>) -> Result<LoadReport> {
        // Busy and bad requests are refused before anything is staged.
        let key = self.check_request(flags, key)?;
        let lock = ManagerLockFile::acquire(&self.root, &self.dev)?;
        let mut staged = StagedFile::create(&self.root, "bin")?;
        staged.write_all(data)?;
        staged.finish()?;
        check_unambiguous(&self.root, staged.name())?;
        self.load_locked(&lock, &staged, flags, key)
            .map_err(|(e, _)| e)
    }

    /// The locked sequence of spec `uio.md` §3.6 step 3 for a file already
    /// in the firmware directory: lock, then [`load_locked`](Self::load_locked).
    pub fn load_staged(
        &self,
        staged: &StagedFile,
        flags: ImageFlags,
        key: Option<&str>,
    ) -> Result<LoadReport> {
        let key = self.check_request(flags, key)?;
        check_unambiguous(&self.root, staged.name())?;
        let lock = ManagerLockFile::acquire(&self.root, &self.dev)?;
        self.load_locked(&lock, staged, flags, key)
            .map_err(|(e, _)| e)
    }

    /// Checks the flags and the key of a request before anything is
    /// written; returns the key to write (only with the user-key flag).
    pub fn check_request<'k>(
        &self,
        flags: ImageFlags,
        key: Option<&'k str>,
    ) -> Result<Option<&'k str>> {
        if flags.contains(ImageFlags::CONFIG_DMA_BUF) {
            return Err(SysfsError::invalid(
                format!("manager {}", self.dev),
                "a DMA-BUF load cannot go through the firmware attribute",
            ));
        }
        let wants_key = flags.contains(ImageFlags::USERKEY_ENCRYPTED_BITSTREAM);
        match (wants_key, key) {
            (true, None) => Err(SysfsError::invalid(
                format!("manager {}", self.dev),
                "the user-key flag is set but no key was given",
            )),
            (true, Some(k)) if k.len() > 64 || k.contains(['\n', '\0']) => {
                Err(SysfsError::invalid(
                    format!("manager {}", self.dev),
                    "a key is at most 64 characters on one line",
                ))
            }
            (true, k) => Ok(k),
            (false, _) => Ok(None),
        }
    }

    /// Writes `flags`, then `key`, then the staged file's name to
    /// `firmware`, and judges the load by `state`; clears `key` again on
    /// every path. The caller holds `lock` (the manager's). The flag in
    /// the error says whether the `firmware` write was issued (the FPGA
    /// may have changed).
    pub fn load_locked(
        &self,
        lock: &ManagerLockFile,
        staged: &StagedFile,
        flags: ImageFlags,
        key: Option<&str>,
    ) -> std::result::Result<LoadReport, (SysfsError, bool)> {
        if lock.manager() != self.dev {
            return Err((
                SysfsError::invalid(
                    format!("manager {}", self.dev),
                    format!("the lock held is {}'s", lock.manager()),
                ),
                false,
            ));
        }
        let dir = self.dir().map_err(|e| (e, false))?;
        dir.write("flags", format!("{:x}", flags.bits()).as_bytes())
            .map_err(|e| (e, false))?;
        let mut key_written = false;
        if let Some(k) = key {
            dir.write("key", k.as_bytes()).map_err(|e| (e, false))?;
            key_written = true;
        }
        let start = Instant::now();
        let wrote = dir.write("firmware", staged.name().as_bytes());
        let load_time = start.elapsed();
        let verdict = match wrote {
            Err(e) => {
                let kind = e.kind();
                Err(self.kernel_err(format!("load of {} failed: {e}", staged.name()), kind))
            }
            // Read back through the directory already open.
            Ok(()) => match Self::state_in(&dir) {
                Ok(state) if state == MgrState::Operating || state == MgrState::Unknown => {
                    Self::status_in(&dir).map(|status| LoadReport {
                        state,
                        status,
                        load_time,
                    })
                }
                Ok(_) => Err(self.kernel_err(
                    format!("load of {} did not reach `operating`", staged.name()),
                    fpga_core::ErrorKind::Io,
                )),
                Err(e) => Err(e),
            },
        };
        if key_written {
            // Clear the sticky key whatever happened; a failure to clear
            // it is reported unless the load already failed.
            let cleared = dir.write("key", b"\n");
            if verdict.is_ok() {
                cleared.map_err(|e| (e, true))?;
            }
        }
        verdict.map_err(|e| (e, true))
    }

    /// A manager's `name`/`state`/`status` reader without the Xilinx
    /// check of [`open`](Self::open): for reporting on any manager (a
    /// mainline one programmed by an overlay).
    pub fn reader(root: &SysfsRoot, dev: &str) -> XlnxManager {
        XlnxManager {
            root: root.clone(),
            dev: dev.to_string(),
        }
    }

    /// An error about `what` carrying this manager's `state` and `status`
    /// lines as they read now (left out if they cannot be read).
    pub(crate) fn failure(
        &self,
        what: String,
        why: String,
        kind: fpga_core::ErrorKind,
    ) -> SysfsError {
        let state = self.state().ok().map(|s| s.sysfs().to_string());
        let status = self
            .status()
            .map(|s| s.sysfs().lines().map(str::to_string).collect())
            .unwrap_or_default();
        SysfsError::Kernel {
            what,
            why,
            kind,
            state,
            status,
        }
    }

    fn kernel_err(&self, why: String, kind: fpga_core::ErrorKind) -> SysfsError {
        self.failure(format!("manager {}", self.dev), why, kind)
    }
}

struct Pending {
    file: StagedFile,
}

/// An [`FpgaManagerOps`] over a Xilinx manager: `write_init` stages a
/// file, `write` appends to it, `write_complete` runs the locked load of
/// [`XlnxManager::load_staged`]. The kernel does the programming, so the
/// load is one blocking write inside `write_complete`. The staged file is
/// removed when the load ends, when a write fails, and at the latest when
/// the next load starts or the ops are dropped.
pub struct XlnxOps {
    mgr: XlnxManager,
    pending: Mutex<Option<Pending>>,
}

impl XlnxOps {
    /// Ops for `mgr`.
    pub fn new(mgr: XlnxManager) -> XlnxOps {
        XlnxOps {
            mgr,
            pending: Mutex::new(None),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Option<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn op_err(e: SysfsError) -> OpError {
    let errno = e.errno().map(Errno).unwrap_or_else(|| e.kind().errno());
    OpError::with(errno, e.to_string())
}

#[fpga_core::manager_ops]
impl FpgaManagerOps for XlnxOps {
    async fn state(&self, _mgr: &ManagerCtx) -> MgrState {
        self.mgr.state().unwrap_or(MgrState::Unknown)
    }

    async fn status(&self, _mgr: &ManagerCtx) -> MgrStatus {
        self.mgr.status().unwrap_or_else(|_| MgrStatus::empty())
    }

    async fn write_init(
        &self,
        _mgr: &ManagerCtx,
        _info: &ImageInfo,
        _buf: &[u8],
    ) -> Result<(), OpError> {
        let file = StagedFile::create(&self.mgr.root, "bin").map_err(op_err)?;
        *self.pending() = Some(Pending { file });
        Ok(())
    }

    async fn write(&self, _mgr: &ManagerCtx, buf: &[u8]) -> Result<(), OpError> {
        let mut p = self.pending();
        let Some(pending) = p.as_mut() else {
            return Err(OpError::with(Errno::EINVAL, "write before write_init"));
        };
        if let Err(e) = pending.file.write_all(buf) {
            // Drop (and so remove) the half-written file now.
            *p = None;
            return Err(op_err(e));
        }
        Ok(())
    }

    async fn write_complete(&self, _mgr: &ManagerCtx, info: &ImageInfo) -> Result<(), OpError> {
        let Some(mut pending) = self.pending().take() else {
            return Err(OpError::with(
                Errno::EINVAL,
                "write_complete before write_init",
            ));
        };
        pending.file.finish().map_err(op_err)?;
        self.mgr
            .load_staged(&pending.file, info.flags, info.key.as_deref())
            .map(|_| ())
            .map_err(op_err)
        // `pending` drops here: the staged file is removed.
    }
}
