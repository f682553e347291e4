//! `--backend sysfs`: the running kernel through /sys (or the tree under
//! `--root`).

use super::{Backend, CheckedImage, LoadRequest};
use crate::output::Failure;
use crate::report::{UioMap, UioRow, UioSection};
use backend_linux_sysfs::{FirmwareLoader, Kernel, SysfsRoot};
use devlink_core::ErrorKind;
use fpga_core::{FpgaView, LoadTarget};
use std::path::Path;
use std::time::Duration;

/// The live-kernel backend.
pub struct SysfsBackend {
    kernel: Kernel,
    uio_root: backend_uio::UioRoot,
}

impl SysfsBackend {
    /// The kernel behind `root` (default: the running one).
    pub fn open(root: Option<&Path>, timeout: Duration) -> SysfsBackend {
        let (sys, uio_root) = match root {
            Some(dir) => (SysfsRoot::at(dir), backend_uio::UioRoot::at(dir)),
            None => (SysfsRoot::default(), backend_uio::UioRoot::default()),
        };
        SysfsBackend {
            kernel: Kernel::new(sys).with_timeout(timeout),
            uio_root,
        }
    }
}

/// The UIO devices under a root, read by backend-uio's discovery (one
/// grammar for UIO attributes); an error stays in this section.
pub fn uio_section(root: &backend_uio::UioRoot) -> UioSection {
    match backend_uio::scan(root) {
        Ok(all) => UioSection {
            devices: all
                .iter()
                .map(|u| UioRow {
                    name: format!("uio{}", u.number),
                    driver_name: u.name.clone(),
                    version: u.version.clone(),
                    // Relative to the root, as the kernel's own paths
                    // are (`devices/pci0000:00/0000:00:03.0`).
                    parent: u.parent.as_ref().map(|p| {
                        let root = std::fs::canonicalize(root.sys()).unwrap_or_default();
                        p.strip_prefix(&root).unwrap_or(p).display().to_string()
                    }),
                    maps: u
                        .maps
                        .iter()
                        .map(|m| UioMap {
                            index: m.index,
                            name: m.name.clone(),
                            addr: m.addr,
                            size: m.size,
                            offset: m.offset,
                        })
                        .collect(),
                    events: backend_uio::read_event(root, u.number).ok(),
                })
                .collect(),
            error: None,
        },
        Err(e) => UioSection {
            devices: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

impl Backend for SysfsBackend {
    type Model = Kernel;
    type Loader = FirmwareLoader;

    fn name(&self) -> &'static str {
        "sysfs"
    }

    fn model(&self) -> &Kernel {
        &self.kernel
    }

    fn fpga(&self) -> Result<FpgaView, Failure> {
        Ok(self.kernel.read_fpga()?)
    }

    fn uio(&self) -> Option<UioSection> {
        Some(uio_section(&self.uio_root))
    }

    fn check_image(&self, req: &LoadRequest<'_>) -> Result<CheckedImage, Failure> {
        if req.bytes.is_empty() {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!("image {}: empty file", req.image.display()),
            ));
        }
        Ok(CheckedImage {
            format: "raw".into(),
            partial: req.flags.contains(fpga_core::ImageFlags::PARTIAL_RECONFIG),
        })
    }

    fn loader(
        &self,
        target: &LoadTarget,
        req: &LoadRequest<'_>,
    ) -> Result<FirmwareLoader, Failure> {
        Ok(FirmwareLoader::new(
            &self.kernel,
            target.clone(),
            req.bytes.clone(),
            req.flags,
            None,
        ))
    }

    fn journal(&self, manager: &str) -> Option<std::sync::Arc<dyn fpga_core::Journal>> {
        Some(std::sync::Arc::new(backend_linux_sysfs::FileJournal::new(
            self.kernel.root(),
            manager,
        )))
    }

    fn recover(
        &mut self,
        manager: Option<&str>,
        force: bool,
    ) -> Result<crate::report::RecoverReport, Failure> {
        let root = self.kernel.root().clone();
        let removed_staged = backend_linux_sysfs::remove_stale_staged(&root)?;
        let managers = match manager {
            Some(m) => vec![m.to_string()],
            None => backend_linux_sysfs::journalled_managers(&root)?,
        };
        let mut recovered = Vec::new();
        for m in managers {
            let r =
                futures::executor::block_on(backend_linux_sysfs::recover(&self.kernel, &m, force));
            if let Some(r) = r? {
                recovered.push(crate::recover::row(&r));
            }
        }
        Ok(crate::report::RecoverReport {
            recovered,
            removed_staged,
            note: None,
        })
    }

    fn break_lock(&mut self, manager: &str) -> Result<Option<String>, Failure> {
        match backend_linux_sysfs::ManagerLockFile::holder(self.kernel.root(), manager)? {
            None => Ok(None),
            Some(holder) => Err(Failure::new(
                ErrorKind::Busy,
                format!("manager {manager}: busy, held by {holder}"),
            )
            .hint("--force cannot take over a lock another process holds; wait for it")),
        }
    }
}
