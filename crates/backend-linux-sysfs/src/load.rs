//! How an image gets into a live kernel's FPGA, as the reprogram engine's
//! [`ImageLoader`]s: the Xilinx `firmware` attribute ([`FirmwareLoader`])
//! and a region overlay in a configfs slot ([`OverlayLoader`]). Both take
//! the manager's cross-process lock and stage what the kernel reads before
//! any dependent is touched, and undo all of it when the session drops.

use crate::drive::Kernel;
use crate::error::{Result, SysfsError};
use crate::io::Dir;
use crate::lock::{safe_name, ManagerLockFile};
use crate::overlay::Overlays;
use crate::xlnx::{check_unambiguous, StagedFile, XlnxManager};
use async_trait::async_trait;
use fpga_core::engine::{ImageLoader, LoadFailed, LoadTarget, Loaded};
use fpga_core::{ImageFlags, MgrState, MgrStatus, Observer, Step};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lock directory and the firmware directory are usable: refused
/// before anything is touched (a missing `/run/lock` or firmware
/// directory would otherwise fail only after the teardown).
fn check_dirs(k: &Kernel) -> Result<()> {
    for (what, dir) in [
        ("lock directory", k.root().lock_dir()),
        ("firmware directory", k.root().firmware()),
    ] {
        let d = Dir::open(dir).map_err(|e| SysfsError::Unsupported {
            what: format!("{what} {}", dir.display()),
            hint: format!("it cannot be opened ({e}); create it, or run as root"),
        })?;
        if let Err(e) = rustix::fs::accessat(
            d.fd(),
            ".",
            rustix::fs::Access::WRITE_OK,
            rustix::fs::AtFlags::empty(),
        ) {
            return Err(SysfsError::Io {
                path: dir.to_path_buf(),
                source: e.into(),
            });
        }
    }
    Ok(())
}

fn busy_if_held(k: &Kernel, manager: &str) -> Result<()> {
    match ManagerLockFile::holder(k.root(), manager)? {
        None => Ok(()),
        Some(holder) => Err(SysfsError::Busy {
            what: format!("manager {manager}"),
            holder,
        }),
    }
}

async fn state_of(k: &Kernel, manager: &str) -> Option<(MgrState, MgrStatus)> {
    let m = XlnxManager::reader(k.root(), manager);
    let state = m.state().ok()?;
    Some((state, m.status().unwrap_or_else(|_| MgrStatus::empty())))
}

/// Loads through the Xilinx manager attributes: lock, stage the image in
/// the firmware directory under a fresh name, then (in `load`) write
/// `flags`, `key`, `firmware` and judge by `state`.
pub struct FirmwareLoader {
    kernel: Kernel,
    mgr: String,
    image: Arc<[u8]>,
    flags: ImageFlags,
    key: Option<String>,
    target: LoadTarget,
    identity: Option<fpga_core::ImageIdentity>,
}

/// What a [`FirmwareLoader`] holds while it works.
pub struct FirmwareSession {
    lock: ManagerLockFile,
    staged: StagedFile,
}

impl FirmwareLoader {
    /// Loads `image` through `target.manager`'s `firmware` attribute.
    pub fn new(
        kernel: &Kernel,
        target: LoadTarget,
        image: impl Into<Arc<[u8]>>,
        flags: ImageFlags,
        key: Option<String>,
    ) -> FirmwareLoader {
        FirmwareLoader {
            kernel: kernel.clone(),
            mgr: target.manager.clone(),
            image: image.into(),
            flags,
            key,
            target,
            identity: None,
        }
    }

    /// Says what the image is: the load is then recorded as the manager's
    /// loaded image ([`identity`](crate::identity)) once the kernel reports
    /// success. Any load forgets the previous record when it starts.
    pub fn with_identity(mut self, identity: fpga_core::ImageIdentity) -> FirmwareLoader {
        self.identity = Some(identity);
        self
    }
}

#[async_trait]
impl ImageLoader for FirmwareLoader {
    type Error = SysfsError;
    type Session = FirmwareSession;

    fn target(&self) -> &LoadTarget {
        &self.target
    }

    async fn check(&self) -> Result<()> {
        let m = XlnxManager::open(self.kernel.root(), &self.mgr)?;
        m.check_request(self.flags, self.key.as_deref())?;
        if self.image.is_empty() {
            return Err(SysfsError::invalid(
                format!("image for {}", self.mgr),
                "empty: nothing to load",
            ));
        }
        check_dirs(&self.kernel)?;
        busy_if_held(&self.kernel, &self.mgr)
    }

    async fn acquire(&self, obs: &dyn Observer) -> Result<FirmwareSession> {
        self.check().await?;
        let lock = ManagerLockFile::acquire(self.kernel.root(), &self.mgr)?;
        obs.step(&Step::ManagerLocked {
            manager: self.mgr.clone(),
        });
        let mut staged = StagedFile::create(self.kernel.root(), "bin")?;
        staged.write_all(&self.image)?;
        staged.finish()?;
        check_unambiguous(self.kernel.root(), staged.name())?;
        obs.step(&Step::Staged {
            file: staged.name().to_string(),
            bytes: self.image.len() as u64,
        });
        Ok(FirmwareSession { lock, staged })
    }

    async fn load(
        &self,
        s: &mut FirmwareSession,
        obs: &dyn Observer,
    ) -> std::result::Result<Loaded, LoadFailed<SysfsError>> {
        let m = XlnxManager::reader(self.kernel.root(), &self.mgr);
        let started = Instant::now();
        let total = self.image.len() as u64;
        obs.step(&Step::Loading { written: 0, total });
        // What was loaded before is no longer known to be, from here on.
        if let Err(error) = crate::identity::forget(self.kernel.root(), &self.mgr) {
            return Err(LoadFailed {
                error,
                touched: false,
            });
        }
        match m.load_locked(&s.lock, &s.staged, self.flags, self.key.as_deref()) {
            Ok(r) => {
                if let Some(id) = &self.identity {
                    let rec = fpga_core::LoadedImage::now(id.clone(), self.flags.bits());
                    // The load itself succeeded: a record that cannot be
                    // written leaves the image unknown, not the load failed.
                    let _ = crate::identity::record(
                        self.kernel.root(),
                        &self.mgr,
                        &rec,
                        r.state.sysfs().trim_end(),
                    );
                }
                obs.step(&Step::Loading {
                    written: total,
                    total,
                });
                obs.step(&Step::Loaded { state: r.state });
                Ok(Loaded {
                    state: r.state,
                    status: r.status,
                    bytes: total,
                    elapsed: started.elapsed(),
                })
            }
            Err((error, touched)) => Err(LoadFailed { error, touched }),
        }
    }

    async fn state(&self) -> Option<(MgrState, MgrStatus)> {
        state_of(&self.kernel, &self.mgr).await
    }
}

/// Reprograms a region by configfs overlays: the region's old overlay
/// slots are removed last-first after the teardown (`retire`), then the
/// new region overlay is applied in a new slot; the kernel's
/// `of-fpga-region` programs the FPGA from the overlay's `firmware-name`.
pub struct OverlayLoader {
    kernel: Kernel,
    mgr: String,
    slot: String,
    dtbo: Arc<[u8]>,
    bitstream: Option<(String, Arc<[u8]>)>,
    remove: Vec<String>,
    settle: Duration,
    target: LoadTarget,
    identity: Option<fpga_core::ImageIdentity>,
}

/// What an [`OverlayLoader`] holds while it works.
pub struct OverlaySession {
    _lock: ManagerLockFile,
    _bitstream: Option<StagedFile>,
    overlays: Overlays,
}

impl OverlayLoader {
    /// How long an apply or a removal may take to show (default 10 s).
    pub fn with_settle(mut self, settle: Duration) -> OverlayLoader {
        self.settle = settle;
        self
    }

    /// Applies `dtbo` in a new configfs slot `slot`, after removing the
    /// slots `remove` (given in the order they were applied). `bitstream`
    /// is the file the overlay's `firmware-name` names, placed in the
    /// firmware directory for the apply (`None`: it is there already).
    pub fn new(
        kernel: &Kernel,
        target: LoadTarget,
        slot: &str,
        dtbo: impl Into<Arc<[u8]>>,
        bitstream: Option<(String, Arc<[u8]>)>,
        remove: Vec<String>,
    ) -> OverlayLoader {
        OverlayLoader {
            kernel: kernel.clone(),
            mgr: target.manager.clone(),
            slot: slot.to_string(),
            dtbo: dtbo.into(),
            bitstream,
            remove,
            settle: Duration::from_secs(10),
            target,
            identity: None,
        }
    }

    /// Says what the bitstream is: recorded as the manager's loaded image
    /// once the overlay is applied and the manager reports success (as
    /// [`FirmwareLoader::with_identity`]).
    pub fn with_identity(mut self, identity: fpga_core::ImageIdentity) -> OverlayLoader {
        self.identity = Some(identity);
        self
    }
}

#[async_trait]
impl ImageLoader for OverlayLoader {
    type Error = SysfsError;
    type Session = OverlaySession;

    fn target(&self) -> &LoadTarget {
        &self.target
    }

    async fn check(&self) -> Result<()> {
        safe_name("overlay slot", &self.slot)?;
        let ov = Overlays::open(&self.kernel)?;
        // One read of configfs (and the order file) for every check below.
        let applied = ov.applied()?;
        if applied.iter().any(|a| a.slot == self.slot) && !self.remove.contains(&self.slot) {
            return Err(SysfsError::Busy {
                what: format!("overlay slot {:?}", self.slot),
                holder: "an existing slot of that name; remove it, or choose another".into(),
            });
        }
        for r in &self.remove {
            if !applied.iter().any(|a| &a.slot == r) {
                return Err(SysfsError::NotFound {
                    what: format!("overlay slot {r:?}"),
                    root: self.kernel.root().configfs().join("device-tree/overlays"),
                });
            }
        }
        // Refused now, before any dependent is touched, rather than after
        // the teardown.
        let order: Vec<String> = applied.iter().map(|a| a.slot.clone()).collect();
        crate::overlay::topmost(&order, &self.remove)?;
        // of-fpga-region refuses any overlay on a region an overlay has
        // programmed: one whose node holds a `firmware-name` must be
        // among the slots removed first (or one whose targets are not
        // known, which may be it).
        let removed: Vec<&crate::overlay::AppliedOverlay> = applied
            .iter()
            .filter(|a| self.remove.contains(&a.slot))
            .collect();
        for t in crate::overlay::resolved_targets(self.kernel.root(), &self.dtbo) {
            let live = self
                .kernel
                .root()
                .devicetree()
                .join(t.trim_start_matches('/'))
                .join("firmware-name");
            let covered = removed
                .iter()
                .any(|a| a.targets.is_empty() || a.targets.contains(&t));
            if live.exists() && !covered {
                let by: Vec<&str> = applied
                    .iter()
                    .filter(|a| a.targets.is_empty() || a.targets.contains(&t))
                    .map(|a| a.slot.as_str())
                    .collect();
                return Err(SysfsError::Busy {
                    what: format!("device-tree node {t}"),
                    holder: format!(
                        "an applied overlay that programmed it (slots that may be it: {}); the kernel takes no second one: remove it first, or name it to replace",
                        if by.is_empty() { "none recorded".to_string() } else { by.join(", ") }
                    ),
                });
            }
        }
        check_dirs(&self.kernel)?;
        busy_if_held(&self.kernel, &self.mgr)
    }

    async fn acquire(&self, obs: &dyn Observer) -> Result<OverlaySession> {
        self.check().await?;
        let lock = ManagerLockFile::acquire(self.kernel.root(), &self.mgr)?;
        obs.step(&Step::ManagerLocked {
            manager: self.mgr.clone(),
        });
        let bitstream = match &self.bitstream {
            Some((name, data)) => {
                let f = StagedFile::place_named(self.kernel.root(), name, data)?;
                obs.step(&Step::Staged {
                    file: name.clone(),
                    bytes: data.len() as u64,
                });
                Some(f)
            }
            None => None,
        };
        Ok(OverlaySession {
            _lock: lock,
            _bitstream: bitstream,
            overlays: Overlays::open(&self.kernel)?,
        })
    }

    async fn retire(&self, s: &mut OverlaySession, obs: &dyn Observer) -> Result<Vec<String>> {
        if self.remove.is_empty() {
            return Ok(Vec::new());
        }
        let before = self.kernel.read_topology()?;
        for slot in self.remove.iter().rev() {
            obs.step(&Step::OverlayRemoved { slot: slot.clone() });
            s.overlays.remove(slot, self.settle)?;
        }
        let after = self.kernel.read_topology()?;
        Ok(before
            .devices()
            .iter()
            .map(|d| d.key())
            .filter(|k| !after.has_key(k))
            .collect())
    }

    async fn load(
        &self,
        s: &mut OverlaySession,
        obs: &dyn Observer,
    ) -> std::result::Result<Loaded, LoadFailed<SysfsError>> {
        let started = Instant::now();
        // The manager is reprogrammed by the kernel inside the apply,
        // without a `firmware` write: what was recorded as loaded is no
        // longer known to be, from here on.
        if let Err(error) = crate::identity::forget(self.kernel.root(), &self.mgr) {
            return Err(LoadFailed {
                error,
                touched: false,
            });
        }
        let applied = s
            .overlays
            .apply(&self.slot, &self.dtbo, Some(&self.mgr), self.settle)
            .map_err(|error| LoadFailed {
                error,
                touched: true,
            })?;
        obs.step(&Step::OverlayApplied {
            slot: applied.name.clone(),
        });
        let m = XlnxManager::reader(self.kernel.root(), &self.mgr);
        let fail = |error| LoadFailed {
            error,
            touched: true,
        };
        let state = m.state().map_err(fail)?;
        if state.is_error() {
            return Err(fail(m.failure(
                format!("manager {}", self.mgr),
                format!("overlay {} applied but the load failed", self.slot),
                fpga_core::ErrorKind::Io,
            )));
        }
        if let Some(id) = &self.identity {
            let rec = fpga_core::LoadedImage::now(id.clone(), 0);
            // As for a `firmware` load: a record that cannot be written
            // leaves the image unknown, not the load failed.
            let _ = crate::identity::record(
                self.kernel.root(),
                &self.mgr,
                &rec,
                state.sysfs().trim_end(),
            );
        }
        obs.step(&Step::Loaded { state });
        Ok(Loaded {
            state,
            status: m.status().map_err(fail)?,
            bytes: self.bitstream.as_ref().map_or(0, |(_, b)| b.len() as u64),
            elapsed: started.elapsed(),
        })
    }

    async fn state(&self) -> Option<(MgrState, MgrStatus)> {
        state_of(&self.kernel, &self.mgr).await
    }
}
