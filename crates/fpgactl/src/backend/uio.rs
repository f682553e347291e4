//! `--backend uio`: the UIO devices under /sys/class/uio (or `--root`),
//! in an in-process driver model (one device per UIO device, class
//! `uio`), and an AXI HWICAP behind one of them as the FPGA manager for
//! `program uioN`.

use super::{unsupported, Backend, CheckedImage, LoadRequest, Target};
use crate::output::Failure;
use crate::report::UioSection;

use backend_uio::{HwicapManager, Selector, UioDevice, UioRoot};
use devlink_core::{DriverCore, ErrorKind};
use fpga_core::{Fpga, FpgaView, ImageInfo, LoadTarget, ManagerInfo, ManagerLoader, ReadFpga};
use futures::executor::block_on;
use std::path::Path;
use std::sync::Arc;

/// The UIO backend.
pub struct UioBackend {
    root: UioRoot,
    core: DriverCore,
    fpga: Fpga,
}

impl UioBackend {
    /// The UIO devices under `root` (default: the running kernel's).
    pub fn open(root: Option<&Path>) -> Result<UioBackend, Failure> {
        let root = match root {
            Some(d) => {
                if !d.is_dir() {
                    return Err(Failure::new(
                        ErrorKind::NoDevice,
                        format!("--root {}: no such directory", d.display()),
                    ));
                }
                UioRoot::at(d)
            }
            None => UioRoot::default(),
        };
        let core = DriverCore::new()?;
        let all = backend_uio::scan(&root)?;
        for u in &all {
            let d = core
                .device(&format!("uio{}", u.number))
                .class("uio")
                .create();
            block_on(core.device_add(&d))?;
        }
        let fpga = Fpga::new(&core);
        Ok(UioBackend { root, core, fpga })
    }
}

fn selector(name: &str) -> Selector {
    let bare = name.strip_prefix("uio:").unwrap_or(name);
    match bare.strip_prefix("uio").and_then(|n| n.parse().ok()) {
        Some(n) => Selector::Number(n),
        None => Selector::Name(bare.to_string()),
    }
}

impl Backend for UioBackend {
    type Model = DriverCore;
    type Loader = ManagerLoader;

    fn name(&self) -> &'static str {
        "uio"
    }

    fn model(&self) -> &DriverCore {
        &self.core
    }

    fn fpga(&self) -> Result<FpgaView, Failure> {
        let mut v = block_on(self.fpga.fpga_view())?;
        // No FPGA class of its own: a HWICAP is a manager while it loads.
        v.supported = true;
        Ok(v)
    }

    fn uio(&self) -> Option<UioSection> {
        Some(super::sysfs::uio_section(&self.root))
    }

    fn check_image(
        &self,
        req: &LoadRequest<'_>,
        _manager: Option<&fpga_core::ManagerView>,
    ) -> Result<CheckedImage, Failure> {
        let partial = req.flags.contains(fpga_core::ImageFlags::PARTIAL_RECONFIG);
        if req.raw {
            // The HWICAP driver parses it anyway, before any register write.
            return Ok(CheckedImage::as_is(req, "raw", partial));
        }
        let id = crate::image::identify(req.image, &req.bytes)?;
        if !id.format.is_xilinx() {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!(
                    "image {} is a {} image; the AXI HWICAP loads Xilinx .bit and .bin images",
                    req.image.display(),
                    id.format
                ),
            ));
        }
        let partial = crate::image::partial_matches(req.image, &id, req.flags)?;
        Ok(CheckedImage::as_is(req, id.format.name(), partial))
    }

    fn image_plan(&self, image: &fpga_image::Image) -> Result<String, String> {
        if image.format.is_xilinx() {
            Ok(format!(
                "streams its {} configuration bytes into the AXI HWICAP, checking the device's IDCODE{} first (a partial reconfiguration: --partial)",
                image.payload_len,
                image.idcode.map(|i| format!(" against {i:#010x}")).unwrap_or_default()
            ))
        } else {
            Err(format!(
                "the AXI HWICAP loads Xilinx .bit and .bin images, not {}",
                image.format
            ))
        }
    }

    fn loader(&self, target: &LoadTarget, req: &LoadRequest<'_>) -> Result<ManagerLoader, Failure> {
        let dev = UioDevice::open(&self.root, selector(&target.name))?;
        let name = format!("uio{}", dev.info().number);
        let ops = HwicapManager::new(Arc::new(dev), 0)?;
        let parent = self
            .core
            .find_device(&format!("uio:{name}"))
            .ok_or_else(|| Failure::new(ErrorKind::NoDevice, format!("no UIO device {name}")))?;
        let mgr = block_on(
            self.fpga
                .registrar_builtin()
                .register_manager(&parent, ManagerInfo::new("AXI HWICAP", Arc::new(ops))),
        )?;
        let mut info = ImageInfo::from_buffer(req.bytes.clone()).with_flags(req.flags);
        info.identity = req.identity.clone();
        Ok(ManagerLoader::new(&mgr, info, target.guarded.clone()))
    }

    fn resolve_target(&self, _view: &FpgaView, name: &str) -> Result<Target, Failure> {
        let info = backend_uio::resolve(&self.root, &selector(name))?;
        let dev = format!("uio{}", info.number);
        Ok(Target {
            target: LoadTarget {
                name: dev.clone(),
                manager: dev.clone(),
                guarded: vec![format!("uio:{dev}")],
            },
            region: false,
        })
    }

    fn supports(&self, command: &str) -> Result<(), Failure> {
        match command {
            "bind" | "unbind" => Err(unsupported(
                "uio",
                command,
                "UIO devices are bound by the kernel's uio drivers, and this backend's driver model lives only as long as the command",
                "use --backend sysfs to bind or unbind the device",
            )),
            "reprogram" => Err(unsupported(
                "uio",
                command,
                "UIO has no FPGA regions of its own",
                "load through the HWICAP with `fpgactl --backend uio program uioN IMAGE`",
            )),
            "demo" => Err(unsupported(
                "uio",
                command,
                "the demo runs on the simulator",
                "run `fpgactl demo` without --backend",
            )),
            _ => Ok(()),
        }
    }
}
