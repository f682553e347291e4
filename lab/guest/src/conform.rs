//! The conformance suite (`crates/conformance`) on the real kernel: the
//! same cases as `cargo xtask test` runs on the simulator, the fake kernel
//! and the UIO simulator, here against Linux through the live-kernel
//! backend. The board is made with the lab modules: `lab_devlink` creates
//! the platform devices and their links and binds them, `lab_fpga`
//! (`board ...`) moves its manager, bridge and region onto the hosts.
//! Each case gets the board fresh. The kernel has no I2C, so the sensor is
//! the platform device `sensor0`.

use crate::kernel::{ctl, ctl_ok, reset};
use crate::Report;
use backend_linux_sysfs::{FirmwareLoader, Kernel, ManagerLockFile, SysfsRoot};
use conformance::{Cell, Matrix, Names, NotApplicable, Rig};
use fpga_core::{FpgaView, ImageFlags};
use std::any::Any;
use std::time::Duration;

use crate::kernel::{fpga_ctl, FPGA_CTL};

/// The real kernel with the conformance board on it.
pub struct LabRig {
    kernel: Kernel,
    view: FpgaView,
    names: Names,
    /// The column's name.
    label: &'static str,
    /// The kernel has FPGA classes and the lab_fpga module (the lab
    /// kernel); a stock kernel has neither.
    fpga: bool,
}

const DL_STATELESS: u32 = 0x1;
const DL_PM_RUNTIME: u32 = 0x4;
const DL_AUTOREMOVE_SUPPLIER: u32 = 0x10;
const DL_SYNC_STATE_ONLY: u32 = 0x80;

fn names() -> Names {
    Names {
        sensor: "platform:sensor0".into(),
        ..Names::standard()
    }
}

/// Builds the board; `Err` if the lab modules are missing or refuse.
fn build(label: &'static str, fpga: bool) -> Result<LabRig, String> {
    // The stack back on lab-fpga before the hosts go (they are its
    // parents while `board` is on).
    if fpga {
        let _ = fpga_ctl("board-off");
        fpga_ctl("ok")?;
    }
    reset()?;
    for d in ["soc:fpga-mgr", "soc:fpga-bridge0", "soc:fpga-region0"] {
        ctl_ok(&format!("dev {d}"))?;
    }
    for d in ["dma0", "uart0", "eth0", "accel0"] {
        ctl_ok(&format!("dev {d} parent=soc:fpga-region0"))?;
    }
    for d in ["sensor0", "mon0", "ghost0", "late0"] {
        ctl_ok(&format!("dev {d}"))?;
    }
    let host = "soc:fpga-region0";
    for (c, s, f) in [
        ("dma0", host, DL_PM_RUNTIME),
        ("uart0", host, 0),
        ("eth0", host, 0),
        ("eth0", "dma0", DL_AUTOREMOVE_SUPPLIER),
        ("accel0", host, 0),
        ("sensor0", "uart0", DL_STATELESS),
        ("mon0", host, DL_SYNC_STATE_ONLY),
        ("late0", "ghost0", 0),
    ] {
        ctl_ok(&format!("link {c} {s} {f:#x}"))?;
    }
    for d in [
        "soc:fpga-mgr",
        "soc:fpga-bridge0",
        "soc:fpga-region0",
        "dma0",
        "uart0",
        "eth0",
        "accel0",
        "sensor0",
    ] {
        ctl_ok(&format!("bind {d}"))?;
    }
    // late0 is gated by ghost0, which has no driver: the bind defers.
    let r = ctl("bind late0")?;
    if r == "ok" {
        return Err("late0 bound although ghost0 has no driver".into());
    }
    if fpga {
        fpga_ctl("board soc:fpga-mgr soc:fpga-bridge0 soc:fpga-region0")?;
    }
    let kernel = Kernel::new(SysfsRoot::default()).with_timeout(Duration::from_secs(5));
    let view = kernel.read_fpga().map_err(|e| e.to_string())?;
    Ok(LabRig {
        kernel,
        view,
        names: names(),
        label,
        fpga,
    })
}

impl Drop for LabRig {
    fn drop(&mut self) {
        if self.fpga {
            let _ = fpga_ctl("board-off");
            let _ = fpga_ctl("ok");
        }
    }
}

struct Released(Option<std::thread::JoinHandle<()>>);

impl Drop for Released {
    fn drop(&mut self) {
        let _ = ctl_ok("release");
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

#[async_trait::async_trait(?Send)]
impl Rig for LabRig {
    type Model = Kernel;
    type Loader = FirmwareLoader;

    fn name(&self) -> &'static str {
        self.label
    }

    fn fpga_support(&self) -> Result<(), NotApplicable> {
        if self.fpga {
            Ok(())
        } else {
            Err("kernel built without CONFIG_FPGA".into())
        }
    }

    fn names(&self) -> &Names {
        &self.names
    }

    fn model(&self) -> &Kernel {
        &self.kernel
    }

    async fn fpga(&self) -> Result<FpgaView, String> {
        self.kernel.read_fpga().map_err(|e| e.to_string())
    }

    fn region_loader(&self, good: bool) -> FirmwareLoader {
        let _ = fpga_ctl(if good { "ok" } else { "fail write_complete -5" });
        let target = self
            .view
            .region_target(&self.view.regions[0])
            .expect("one manager: the region's is known");
        FirmwareLoader::new(
            &self.kernel,
            target,
            b"lab conformance image".to_vec(),
            ImageFlags::empty(),
            None,
        )
    }

    fn manager_loader(&self, good: bool) -> FirmwareLoader {
        let _ = fpga_ctl(if good { "ok" } else { "fail write_complete -5" });
        FirmwareLoader::new(
            &self.kernel,
            self.view.manager_target(&self.view.managers[0]),
            b"lab conformance image".to_vec(),
            ImageFlags::empty(),
            None,
        )
    }

    fn hold_manager(&self) -> Result<Box<dyn Any>, NotApplicable> {
        let m = &self.view.managers[0].dev;
        let lock = ManagerLockFile::acquire(self.kernel.root(), m).map_err(|e| e.to_string())?;
        Ok(Box::new(lock))
    }

    fn leak_on_remove(&self, _device: &str) -> Result<(), NotApplicable> {
        Err("a kernel does not show device reference counts to user space".into())
    }

    fn stall_removal(&self) -> Result<(Box<dyn Any>, String), NotApplicable> {
        // dma0's remove callback waits: its unbind (eth0 first, then dma0)
        // stops with the link to eth0 in `supplier unbinding`.
        ctl_ok("hold dma0")?;
        let k = self.kernel.clone();
        let t = std::thread::spawn(move || {
            let _ = futures::executor::block_on(devlink_core::drive::Unbind::unbind_one(
                &k,
                "platform:dma0",
            ));
        });
        let guard = Released(Some(t));
        let link = "platform:dma0--platform:eth0";
        let started = std::time::Instant::now();
        loop {
            let t = self.kernel.read_topology().map_err(|e| e.to_string())?;
            if t.link_named(link)
                .is_some_and(|l| l.status == devlink_core::LinkState::SupplierUnbind)
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(5) {
                return Err(format!("{link} never read `supplier unbinding`"));
            }
            std::thread::yield_now();
        }
        Ok((Box::new(guard), link.to_string()))
    }

    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir("/lib/firmware")
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("fpgactl-") || n.starts_with("fpga-devlink-"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Every case on the real kernel, one LAB-RESULT line each, and the
/// matrix column as details: on the lab kernel (`conformance/<case>`).
pub fn run(report: &mut Report) {
    if !std::path::Path::new(FPGA_CTL).exists() {
        report.check("conformance", Err("the lab modules are not loaded".into()));
        return;
    }
    run_as(report, "conformance", "linux (lab)", true);
}

/// The same on a kernel named `label`, checks named `<prefix>/<case>`;
/// without `fpga`, the FPGA cases are not applicable (a stock kernel).
pub fn run_as(report: &mut Report, prefix: &str, label: &'static str, fpga: bool) {
    if !crate::kernel::available() {
        report.check(prefix, Err("the lab_devlink module is not loaded".into()));
        return;
    }
    for d in ["/lib/firmware", "/run/lock"] {
        let _ = std::fs::create_dir_all(d);
    }
    if let Err(e) = build(label, fpga) {
        report.check(&format!("{prefix}/board"), Err(e));
        return;
    }
    let mut m = Matrix::default();
    conformance::run(&mut m, || {
        build(label, fpga).expect("the board was built once already")
    });
    if fpga {
        let _ = fpga_ctl("board-off");
    }
    let _ = reset();
    for (case, cell) in m.column(label) {
        let name = format!("{prefix}/{case}");
        match cell {
            Cell::Ok => report.check(&name, Ok(())),
            Cell::Fail(why) => report.check(&name, Err(why)),
            Cell::NotApplicable(why) => {
                report.result(&name, Ok(()), &[format!("n/a: {why}")]);
            }
        }
    }
}
