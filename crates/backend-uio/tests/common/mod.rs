//! Shared test helpers: fixture sysfs trees for the "fs" behaviours and a
//! simulated HWICAP for the "sim" ones.
#![allow(dead_code)]

use backend_uio::hwicap::HwicapTimeouts;
use backend_uio::sim::{
    AccessLog, HwicapConfig, HwicapModel, SimDeviceSpec, SimHandle, SimMap, SimUio,
};
use backend_uio::{HwicapManager, Selector, UioDevice, UioRoot};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// One map of a fixture device: (addr, size, offset) text as the kernel
/// prints it.
pub struct FxMap<'a> {
    pub addr: &'a str,
    pub size: &'a str,
    pub offset: &'a str,
}

/// A fake sysfs tree in a temporary directory, laid out like a kernel's:
/// `class/uio/uioN` is a link into `devices/platform/<parent>/uio/uioN`,
/// whose `device` links to the parent; `dev/uioN` is a regular file.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(f.dir.path().join("class/uio")).unwrap();
        std::fs::create_dir_all(f.dir.path().join("dev")).unwrap();
        f
    }

    pub fn root(&self) -> UioRoot {
        UioRoot::at(self.dir.path())
    }

    pub fn parent(&self, parent: &str) -> PathBuf {
        self.dir.path().join("devices/platform").join(parent)
    }

    pub fn class(&self, n: u32) -> PathBuf {
        self.dir.path().join(format!("class/uio/uio{n}"))
    }

    /// Adds `uio<n>` named `name` under `parent` with these maps; the
    /// device node file is `node_len` bytes.
    pub fn add(&self, n: u32, name: &str, parent: &str, maps: &[FxMap], node_len: u64) -> PathBuf {
        let dev = self.parent(parent).join(format!("uio/uio{n}"));
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("name"), format!("{name}\n")).unwrap();
        std::fs::write(dev.join("version"), "devicetree\n").unwrap();
        std::fs::write(dev.join("event"), "0\n").unwrap();
        std::fs::write(dev.join("dev"), format!("243:{n}\n")).unwrap();
        for (i, m) in maps.iter().enumerate() {
            self.write_map(&dev, i, m);
        }
        std::os::unix::fs::symlink(self.parent(parent), dev.join("device")).unwrap();
        std::os::unix::fs::symlink(&dev, self.class(n)).unwrap();
        let node = self.dir.path().join(format!("dev/uio{n}"));
        let f = std::fs::File::create(&node).unwrap();
        f.set_len(node_len).unwrap();
        dev
    }

    pub fn write_map(&self, dev: &Path, i: usize, m: &FxMap) {
        let d = dev.join(format!("maps/map{i}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), "regs\n").unwrap();
        std::fs::write(d.join("addr"), m.addr).unwrap();
        std::fs::write(d.join("size"), m.size).unwrap();
        std::fs::write(d.join("offset"), m.offset).unwrap();
    }

    /// Removes `uio<n>` (class link, device directory, node).
    pub fn remove(&self, n: u32) {
        let link = self.class(n);
        let target = std::fs::read_link(&link).unwrap();
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(target).unwrap();
        let _ = std::fs::remove_file(self.dir.path().join(format!("dev/uio{n}")));
    }
}

pub const PAGE_MAP: FxMap<'static> = FxMap {
    addr: "0x00000000a0000000\n",
    size: "0x0000000000001000\n",
    offset: "0x0\n",
};

/// A simulated HWICAP: the simulator, the model, its access log, its
/// handle, and the opened device.
pub struct IcapRig {
    pub sim: SimUio,
    pub model: Arc<HwicapModel>,
    pub log: AccessLog,
    pub handle: SimHandle,
}

pub const HWICAP_PARENT: &str = "40200000.hwicap";

pub fn icap_rig(cfg: HwicapConfig) -> IcapRig {
    let sim = SimUio::new().unwrap();
    let model = Arc::new(HwicapModel::new(cfg));
    let map = SimMap::new(0x4020_0000, 0x10000, 0, model.clone());
    let log = map.log.clone();
    let handle = sim.register(SimDeviceSpec::new("hwicap", HWICAP_PARENT).with_map(map));
    IcapRig {
        sim,
        model,
        log,
        handle,
    }
}

impl IcapRig {
    pub fn open(&self) -> UioDevice {
        self.sim.open(Selector::Name("hwicap".into())).unwrap()
    }

    /// The manager over the rig's device, with short deadlines.
    pub fn manager(&self, deadline: Duration) -> HwicapManager {
        HwicapManager::new(Arc::new(self.open()), 0)
            .unwrap()
            .with_timeouts(HwicapTimeouts::all(deadline))
    }
}

/// A HWICAP manager registered with fpga-core, owned by the module
/// `hwicap_uio`.
pub struct MgrRig {
    pub core: devlink_core::DriverCore,
    pub fpga: fpga_core::Fpga,
    pub parent: devlink_core::Device,
    pub module: devlink_core::Module,
    pub mgr: fpga_core::FpgaManager,
    pub ops: Arc<HwicapManager>,
    pub icap: IcapRig,
}

pub fn mgr_rig(cfg: HwicapConfig, deadline: Duration) -> MgrRig {
    block_on(async {
        let icap = icap_rig(cfg);
        let core = devlink_core::DriverCore::new().unwrap();
        let parent = core.device(HWICAP_PARENT).bus("platform").create();
        core.device_add(&parent).await.unwrap();
        let fpga = fpga_core::Fpga::new(&core);
        let module = devlink_core::Module::new("hwicap_uio");
        let ops = Arc::new(icap.manager(deadline));
        let dyn_ops: Arc<dyn fpga_core::FpgaManagerOps> = ops.clone();
        let mgr = fpga
            .registrar(&module)
            .register_manager(
                &parent,
                fpga_core::ManagerInfo::new("AXI HWICAP over UIO", dyn_ops),
            )
            .await
            .unwrap();
        MgrRig {
            core,
            fpga,
            parent,
            module,
            mgr,
            ops,
            icap,
        }
    })
}

impl MgrRig {
    pub fn load(&self, image: Vec<u8>, flags: fpga_core::ImageFlags) -> fpga_core::Result<()> {
        block_on(async {
            let held = self.fpga.mgr_get(&self.parent)?;
            let locked = held.lock()?;
            let mut info = fpga_core::ImageInfo::from_buffer(image).with_flags(flags);
            locked.load(&mut info).await
        })
    }

    pub fn status(&self) -> String {
        block_on(self.mgr.sysfs_status()).unwrap()
    }
}

pub const IDCODE: u32 = 0x0362_D093;

/// A board: an FPGA region programmed by the HWICAP over UIO, gated by a
/// UIO PR decoupler, with a UIO accelerator inside the region (a consumer
/// of the region, bound by a [`backend_uio::UioDriver`]) and an
/// application device consuming the accelerator. Every event goes to one
/// log.
pub struct RegionRig {
    pub core: devlink_core::DriverCore,
    pub fpga: fpga_core::Fpga,
    pub sim: SimUio,
    pub model: Arc<HwicapModel>,
    pub icap_log: AccessLog,
    pub decoupler_log: AccessLog,
    pub region: fpga_core::FpgaRegion,
    pub mgr: fpga_core::FpgaManager,
    pub uio_driver: Arc<backend_uio::UioDriver>,
    pub accel: devlink_core::Device,
    pub app: devlink_core::Device,
    pub accel_uio: std::sync::Mutex<SimHandle>,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

pub const ACCEL_PARENT: &str = "a0000000.accel";

pub fn accel_spec() -> SimDeviceSpec {
    SimDeviceSpec::new("accel", ACCEL_PARENT).with_ram_map(0xa000_0000, 0x1000)
}

struct LogDriver {
    name: &'static str,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl devlink_core::Driver for LogDriver {
    fn name(&self) -> &str {
        self.name
    }
    async fn probe(&self, dev: &devlink_core::Device) -> Result<(), devlink_core::ProbeError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("probe {}", dev.name()));
        Ok(())
    }
    async fn remove(&self, dev: &devlink_core::Device) {
        self.log
            .lock()
            .unwrap()
            .push(format!("remove {}", dev.name()));
    }
}

struct Bridges {
    fpga: fpga_core::Fpga,
    parent: devlink_core::Device,
}

#[async_trait::async_trait]
impl fpga_core::RegionOps for Bridges {
    async fn get_bridges(
        &self,
        region: &fpga_core::FpgaRegion,
        list: &mut fpga_core::BridgeList,
    ) -> fpga_core::Result<()> {
        self.fpga
            .bridge_get_to_list(&self.parent, region.info().as_ref(), list)
    }
}

pub fn region_rig(deadline: Duration) -> RegionRig {
    use devlink_core::{DevState, LinkFlags, Module};
    block_on(async {
        let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let sim = SimUio::new().unwrap();
        let core = devlink_core::DriverCore::new().unwrap();
        let fpga = fpga_core::Fpga::new(&core);
        let lowlevel = Module::new("hwicap_uio");
        let reg = fpga.registrar(&lowlevel);
        let platform = |name: &str| core.device(name).bus("platform").create();

        // The HWICAP and its manager.
        let model = Arc::new(HwicapModel::new(HwicapConfig::default()));
        let map = SimMap::new(0x4020_0000, 0x10000, 0, model.clone());
        let icap_log = map.log.clone();
        icap_log.set_enabled(false);
        sim.register(SimDeviceSpec::new("hwicap", HWICAP_PARENT).with_map(map));
        let icap_dev = sim
            .open_as(
                Selector::Parent(sim.parent_path(HWICAP_PARENT)),
                "hwicap_uio",
            )
            .unwrap();
        let ops = HwicapManager::new(Arc::new(icap_dev), 0)
            .unwrap()
            .with_timeouts(HwicapTimeouts::all(deadline));
        let mgr_parent = platform(HWICAP_PARENT);
        core.device_add(&mgr_parent).await.unwrap();
        let mgr = reg
            .register_manager(
                &mgr_parent,
                fpga_core::ManagerInfo::new("AXI HWICAP over UIO", Arc::new(ops)),
            )
            .await
            .unwrap();

        // The PR decoupler and its bridge.
        let dmap = SimMap::new(
            0xa001_0000,
            0x1000,
            0,
            Arc::new(backend_uio::sim::RamModel::new(0x1000)),
        );
        let decoupler_log = dmap.log.clone();
        sim.register(SimDeviceSpec::new("decoupler", "a0010000.pr_decoupler").with_map(dmap));
        let ddev = sim
            .open_as(Selector::Name("decoupler".into()), "decoupler")
            .unwrap();
        let br_parent = platform("a0010000.pr_decoupler");
        core.device_add(&br_parent).await.unwrap();
        reg.register_bridge(
            &br_parent,
            "pr-decoupler",
            Some(Arc::new(
                backend_uio::PrDecoupler::new(Arc::new(ddev), 0).unwrap(),
            )),
        )
        .await
        .unwrap();

        // The region.
        let drivers = Module::new("drivers");
        core.driver_register(
            &drivers,
            Arc::new(LogDriver {
                name: "fpga-region-host",
                log: log.clone(),
            }),
        )
        .await
        .unwrap();
        let region_parent = core
            .device("soc:region")
            .bus("platform")
            .compatible("fpga-region-host")
            .create();
        core.device_add(&region_parent).await.unwrap();
        let region = reg
            .register_region(
                &region_parent,
                Some(fpga_core::RegionInfo {
                    mgr: Some(fpga.mgr_get(&mgr_parent).unwrap()),
                    get_bridges: Some(Arc::new(Bridges {
                        fpga: fpga.clone(),
                        parent: br_parent.clone(),
                    })),
                    compat_id: None,
                }),
            )
            .await
            .unwrap();

        // The accelerator inside the region, and its user.
        let accel_uio = sim.register(accel_spec());
        let uio_log = log.clone();
        let uio_driver = Arc::new(
            backend_uio::UioDriver::new("generic-uio", Arc::new(sim.clone())).with_observer(
                move |e| {
                    uio_log.lock().unwrap().push(format!("{e:?}"));
                },
            ),
        );
        uio_driver.add_target(
            ACCEL_PARENT,
            Selector::Parent(sim.parent_path(ACCEL_PARENT)),
        );
        core.driver_register(&drivers, uio_driver.clone())
            .await
            .unwrap();
        core.driver_register(
            &drivers,
            Arc::new(LogDriver {
                name: "app",
                log: log.clone(),
            }),
        )
        .await
        .unwrap();
        let accel = core
            .device(ACCEL_PARENT)
            .bus("platform")
            .compatible("generic-uio")
            .create();
        let app = core
            .device("app0")
            .bus("platform")
            .compatible("app")
            .create();
        core.device_add(&accel).await.unwrap();
        core.device_add(&app).await.unwrap();
        core.link_add(&accel, &region_parent, LinkFlags::empty())
            .unwrap();
        core.link_add(&app, &accel, LinkFlags::empty()).unwrap();
        assert_eq!(accel.state(), DevState::DriverBound);
        assert_eq!(app.state(), DevState::DriverBound);
        log.lock().unwrap().clear();
        RegionRig {
            core,
            fpga,
            sim,
            model,
            icap_log,
            decoupler_log,
            region,
            mgr,
            uio_driver,
            accel,
            app,
            accel_uio: std::sync::Mutex::new(accel_uio),
            log,
        }
    })
}

impl RegionRig {
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    pub fn push(&self, s: impl Into<String>) {
        self.log.lock().unwrap().push(s.into());
    }
}
