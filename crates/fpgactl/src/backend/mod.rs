//! The one seam between fpgactl and a backend. Every command is written
//! once, against [`Backend`]: the driver model (devlink-core's contract),
//! the FPGA view, and the loader of the reprogram engine; a backend only
//! says how to build those, and which commands it cannot do (exit 8 and
//! why).

mod sim;
mod sysfs;
mod uio;

pub use sim::SimBackend;
pub use sysfs::SysfsBackend;
pub use uio::UioBackend;

use crate::cli::Cli;
use crate::output::Failure;
use crate::report::{RecoverReport, UioSection};
use devlink_core::drive::DriverModel;
use devlink_core::ErrorKind;
use fpga_core::{FpgaView, ImageFlags, ImageLoader, LoadTarget};
use std::path::Path;

/// `reprogram --overlay`: the overlay, read once.
pub struct OverlayRequest {
    /// The `.dtbo` file, for messages.
    pub file: std::path::PathBuf,
    /// Its bytes.
    pub dtbo: Vec<u8>,
    /// `--slot`.
    pub slot: Option<String>,
    /// `--replace` (empty: the slots applied to the region's node).
    pub replace: Vec<String>,
}

/// What a load needs from the command line.
pub struct LoadRequest<'a> {
    /// `reprogram --overlay`.
    pub overlay: Option<OverlayRequest>,
    /// The image file.
    pub image: &'a Path,
    /// Its bytes, read (bounded) once.
    pub bytes: Vec<u8>,
    /// Image flags (`--partial`).
    pub flags: ImageFlags,
    /// `--raw`: pass the file on unchecked and unconverted.
    pub raw: bool,
    /// What the file is, once checked: a successful load records it.
    pub identity: Option<fpga_core::ImageIdentity>,
}

/// What an image turned out to be, after the backend's checks.
pub struct CheckedImage {
    /// `simbit`, `bit`, `bin`, `byte-swapped bin`, `raw`.
    pub format: String,
    /// Whether it is a partial image.
    pub partial: bool,
    /// File size.
    pub file_bytes: u64,
    /// SHA-256 of the file.
    pub sha256: String,
    /// What was done to it before the load, if anything.
    pub converted: Option<String>,
    /// The bytes to load instead of the file's (a conversion).
    pub load_bytes: Option<Vec<u8>>,
}

impl CheckedImage {
    /// Passed on as it is.
    pub fn as_is(req: &LoadRequest<'_>, format: &str, partial: bool) -> CheckedImage {
        CheckedImage {
            format: format.to_string(),
            partial,
            file_bytes: req.bytes.len() as u64,
            sha256: fpga_image::sha256_hex(&req.bytes),
            converted: None,
            load_bytes: None,
        }
    }

    /// The report's row for the file at `path`.
    pub fn row(&self, path: &Path) -> crate::report::ImageRow {
        crate::report::ImageRow {
            file: path.display().to_string(),
            bytes: self.file_bytes,
            format: self.format.clone(),
            partial: self.partial,
            sha256: self.sha256.clone(),
            converted: self.converted.clone(),
        }
    }
}

/// A resolved load target.
pub struct Target {
    /// The engine's target.
    pub target: LoadTarget,
    /// It is a region (else a manager).
    pub region: bool,
}

/// A backend, as the commands see it.
pub trait Backend {
    /// The driver model.
    type Model: DriverModel;
    /// How an image gets in.
    type Loader: ImageLoader;

    /// `sim`, `sysfs`, `uio`.
    fn name(&self) -> &'static str;

    /// The driver model.
    fn model(&self) -> &Self::Model;

    /// The FPGA classes now.
    fn fpga(&self) -> Result<FpgaView, Failure>;

    /// The UIO devices, where the backend shows them.
    fn uio(&self) -> Option<UioSection> {
        None
    }

    /// Checks an image for this backend's managers before anything is
    /// touched (a malformed image is refused here, never loaded).
    /// `manager` is the target's manager as the FPGA view shows it.
    fn check_image(
        &self,
        req: &LoadRequest<'_>,
        manager: Option<&fpga_core::ManagerView>,
    ) -> Result<CheckedImage, Failure>;

    /// What `program` would do with `image` here (`Err`: why it would
    /// refuse it), for `fpgactl image`.
    fn image_plan(&self, image: &fpga_image::Image) -> Result<String, String>;

    /// The loader of `target` with the image of `req`.
    fn loader(&self, target: &LoadTarget, req: &LoadRequest<'_>) -> Result<Self::Loader, Failure>;

    /// `--force` on a held manager: whether the backend may break the
    /// lock (only the simulator's stale locks can be). Breaking it is
    /// reported by the caller.
    fn break_lock(&mut self, _manager: &str) -> Result<Option<String>, Failure> {
        Ok(None)
    }

    /// What `name` means as a load target: a region, or a manager. The
    /// default looks it up in the FPGA view.
    fn resolve_target(&self, view: &FpgaView, name: &str) -> Result<Target, Failure> {
        if let Some(r) = view.region(name) {
            let t = view.region_target(r).ok_or_else(|| {
                Failure::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{}: the manager that programs it is not known ({} managers)",
                        r.dev,
                        view.managers.len()
                    ),
                )
                .hint("say which with --manager fpgaN")
            })?;
            return Ok(Target {
                target: t,
                region: true,
            });
        }
        if let Some(m) = view.manager(name) {
            return Ok(Target {
                target: view.manager_target(m),
                region: false,
            });
        }
        let mut names: Vec<String> = view.managers.iter().map(|m| m.dev.clone()).collect();
        names.extend(view.regions.iter().map(|r| r.dev.clone()));
        Err(Failure::new(
            ErrorKind::NoDevice,
            format!("{name:?} is not an FPGA manager or region"),
        )
        .hint(if names.is_empty() {
            "this system has no FPGA manager or region".to_string()
        } else {
            format!("program one of: {}", names.join(", "))
        }))
    }

    /// Where a reprogram through `manager` records what it changes, so
    /// that a run that dies half-way can be finished by the next one.
    /// `None`: nothing this backend changes outlives the process.
    fn journal(&self, _manager: &str) -> Option<std::sync::Arc<dyn fpga_core::Journal>> {
        None
    }

    /// Finishes interrupted reprograms (of `manager`, or all) and removes
    /// the images staged by processes that are gone.
    fn recover(&mut self, _manager: Option<&str>, _force: bool) -> Result<RecoverReport, Failure> {
        Ok(RecoverReport {
            recovered: Vec::new(),
            removed_staged: Vec::new(),
            note: Some(format!(
                "--backend {}: nothing a run changes outlives it, so there is nothing to recover",
                self.name()
            )),
        })
    }

    /// Whether the backend can run `command`; exit 8 and why if not.
    /// Device-tree overlays (`reprogram --overlay`) are a kernel's.
    fn supports(&self, command: &str) -> Result<(), Failure> {
        if command == "reprogram --overlay" {
            return Err(unsupported(
                self.name(),
                command,
                "device-tree overlays are applied by a kernel, through configfs",
                "use --backend sysfs on a kernel with the configfs overlay interface",
            ));
        }
        Ok(())
    }
}

/// A command a backend cannot do.
pub fn unsupported(backend: &str, command: &str, why: &str, hint: &str) -> Failure {
    Failure::new(
        ErrorKind::Unsupported,
        format!("`{command}` is not available on --backend {backend}: {why}"),
    )
    .hint(hint)
}

/// `--root` and `--scenario` belong to some backends only.
pub fn check_flags(cli: &Cli) -> Result<(), Failure> {
    use crate::cli::BackendKind;
    if cli.scenario.is_some() && cli.backend != BackendKind::Sim {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            "--scenario is for --backend sim",
        ));
    }
    if cli.root.is_some() && cli.backend == BackendKind::Sim {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            "--root is for --backend sysfs and --backend uio",
        ));
    }
    Ok(())
}
