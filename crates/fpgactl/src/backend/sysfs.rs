//! `--backend sysfs`: the running kernel through /sys (or the tree under
//! `--root`).

use super::{Backend, CheckedImage, LoadRequest};
use crate::output::Failure;
use crate::report::{UioMap, UioRow, UioSection};
use backend_linux_sysfs::{FirmwareLoader, Kernel, OverlayLoader, SysfsRoot};
use devlink_core::ErrorKind;
use fpga_core::engine::Either;
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

impl SysfsBackend {
    /// `reprogram --overlay`: the overlay must target the region's node
    /// and name the image in `firmware-name`, which IMAGE is staged as.
    fn overlay_loader(
        &self,
        target: &LoadTarget,
        req: &LoadRequest<'_>,
        ov: &super::OverlayRequest,
    ) -> Result<OverlayLoader, Failure> {
        use devlink_core::fdt::Fdt;
        let file = ov.file.display();
        let fdt = Fdt::parse(&ov.dtbo).map_err(|e| {
            Failure::new(ErrorKind::InvalidInput, format!("overlay {file}: {e}"))
                .hint("an overlay is a .dtbo compiled by dtc from a /plugin/ source")
        })?;
        let node = self.region_node(target)?;
        let fragments = fdt.fragments();
        let targets: Vec<String> = fragments.iter().map(|f| f.target.to_string()).collect();
        let root = self.kernel.root();
        let Some(fragment) = fragments.iter().find(|f| {
            backend_linux_sysfs::resolve_target(root, &f.target).as_deref() == Some(node.as_str())
        }) else {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!(
                    "overlay {file} does not target {}'s device-tree node {node} (it targets: {})",
                    target.name,
                    if targets.is_empty() {
                        "nothing".to_string()
                    } else {
                        targets.join(", ")
                    }
                ),
            )
            .hint(format!("write its fragment as `&{{{node}}} {{ ... }};`")));
        };
        let Some(fw) = fragment.overlay.prop_str("firmware-name") else {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!("overlay {file} has no firmware-name for {node}: applying it would not program the FPGA"),
            )
            .hint("add `firmware-name = \"NAME\";` to its fragment for the region"));
        };
        backend_linux_sysfs::safe_name("firmware-name", fw)?;
        let overlays = backend_linux_sysfs::Overlays::open(&self.kernel)?;
        let applied = overlays.applied()?;
        let replace: Vec<String> = if ov.replace.is_empty() {
            applied
                .iter()
                .filter(|a| a.targets.iter().any(|t| t == &node))
                .map(|a| a.slot.clone())
                .collect()
        } else {
            // In the order they were applied, whatever the command line's.
            let mut r: Vec<String> = applied
                .iter()
                .filter(|a| ov.replace.contains(&a.slot))
                .map(|a| a.slot.clone())
                .collect();
            for s in &ov.replace {
                if !r.contains(s) {
                    r.push(s.clone());
                }
            }
            r
        };
        let slot = match &ov.slot {
            Some(s) => s.clone(),
            None => (0..)
                .map(|n| format!("fpgactl-{}-{n}", target.name))
                .find(|s| !applied.iter().any(|a| &a.slot == s) || replace.contains(s))
                .unwrap_or_default(),
        };
        let loader = OverlayLoader::new(
            &self.kernel,
            target.clone(),
            &slot,
            ov.dtbo.clone(),
            Some((fw.to_string(), req.bytes.clone().into())),
            replace,
        )
        .with_settle(self.kernel.timeout());
        Ok(match &req.identity {
            Some(id) => loader.with_identity(id.clone()),
            None => loader,
        })
    }

    /// The device-tree node of a region: its parent device's `of_node`.
    fn region_node(&self, target: &LoadTarget) -> Result<String, Failure> {
        let topo = self.kernel.read_topology()?;
        target
            .guarded
            .iter()
            .filter(|k| !k.starts_with("fpga_region:"))
            .filter_map(|k| topo.find(k).ok())
            .find_map(|id| topo.device(id).fwnode.clone())
            .ok_or_else(|| {
                Failure::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{} has no device-tree node: an overlay cannot program it",
                        target.name
                    ),
                )
                .hint("overlays program regions made by of-fpga-region from a device tree")
            })
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

/// The word order a kernel FPGA manager driver takes a raw `.bin` in, by
/// the name it registers: the Zynq-7000 driver (`zynq-fpga.c`) looks for
/// the sync word byte-swapped (`66 55 99 AA`) and refuses anything else;
/// the ZynqMP and Versal drivers hand the buffer to the platform firmware,
/// which takes the big-endian words `write_bitstream -bin_file` writes.
pub fn kernel_word_order(manager_name: &str) -> fpga_image::WordOrder {
    if manager_name == "Xilinx Zynq FPGA Manager" {
        fpga_image::WordOrder::Swapped
    } else {
        fpga_image::WordOrder::BigEndian
    }
}

fn order_name(o: fpga_image::WordOrder) -> &'static str {
    match o {
        fpga_image::WordOrder::BigEndian => "big-endian",
        fpga_image::WordOrder::Swapped => "byte-swapped order",
    }
}

impl Backend for SysfsBackend {
    type Model = Kernel;
    type Loader = Either<FirmwareLoader, OverlayLoader>;

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

    fn check_image(
        &self,
        req: &LoadRequest<'_>,
        manager: Option<&fpga_core::ManagerView>,
    ) -> Result<CheckedImage, Failure> {
        let partial = req.flags.contains(fpga_core::ImageFlags::PARTIAL_RECONFIG);
        if req.bytes.is_empty() {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!("image {}: empty file", req.image.display()),
            ));
        }
        if req.raw {
            return Ok(CheckedImage::as_is(req, "raw", partial));
        }
        let id = crate::image::identify(req.image, &req.bytes)?;
        let partial = crate::image::partial_matches(req.image, &id, req.flags)?;
        if !id.format.is_xilinx() {
            // SIMBIT: the format of the lab's and the fake kernel's
            // managers, passed as it is.
            return Ok(CheckedImage::as_is(req, id.format.name(), partial));
        }
        let driver = manager.map_or("", |m| m.name.as_str());
        let order = kernel_word_order(driver);
        let mut checked = CheckedImage::as_is(req, id.format.name(), partial);
        let Some(bin) = fpga_image::to_bin(&req.bytes, &id, order) else {
            return Ok(checked);
        };
        let mut done = Vec::new();
        if id.format == fpga_image::Format::Bit {
            done.push(format!(
                "the {}-byte .bit header removed",
                id.payload_offset
            ));
        }
        let swapped_in = id.format == fpga_image::Format::SwappedBin;
        if swapped_in != (order == fpga_image::WordOrder::Swapped) {
            done.push(format!(
                "the words turned to {} for {}",
                order_name(order),
                match manager {
                    Some(m) if !m.name.is_empty() => m.name.as_str(),
                    Some(m) => m.dev.as_str(),
                    None => "the manager",
                }
            ));
        }
        if !done.is_empty() {
            checked.converted = Some(format!("staged as a .bin: {}", done.join(", ")));
            checked.load_bytes = Some(bin.into_owned());
        }
        Ok(checked)
    }

    fn image_plan(&self, image: &fpga_image::Image) -> Result<String, String> {
        Ok(if image.format.is_xilinx() {
            "stages its configuration data in the firmware directory as a .bin (the .bit header \
             removed; big-endian words, byte-swapped for a Zynq-7000 manager) and writes the \
             file's name to the manager's `firmware` attribute"
                .into()
        } else {
            "stages it as it is in the firmware directory and writes the file's name to the \
             manager's `firmware` attribute (SIMBIT: for the lab's and test kernels' managers)"
                .into()
        })
    }

    fn supports(&self, _command: &str) -> Result<(), Failure> {
        Ok(())
    }

    fn loader(&self, target: &LoadTarget, req: &LoadRequest<'_>) -> Result<Self::Loader, Failure> {
        if let Some(ov) = &req.overlay {
            return self.overlay_loader(target, req, ov).map(Either::Right);
        }
        let loader = FirmwareLoader::new(
            &self.kernel,
            target.clone(),
            req.bytes.clone(),
            req.flags,
            None,
        );
        Ok(Either::Left(match &req.identity {
            Some(id) => loader.with_identity(id.clone()),
            None => loader,
        }))
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
