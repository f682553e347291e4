//! The UIO simulator: the conformance board in the in-process driver
//! model, with the FPGA ops over UIO (an AXI HWICAP as the manager, a PR
//! decoupler as the bridge, both on simulated `/dev/uioN` devices with a
//! register model) and the accelerator `accel0` a UIO device bound by
//! `backend-uio`'s driver, torn down and re-resolved by a reprogram.

use crate::{NotApplicable, Rig, BOARD};
use async_trait::async_trait;
use backend_sim::{Board, Scenario};
use backend_uio::bitstream::synthetic_partial;
use backend_uio::hwicap::HwicapTimeouts;
use backend_uio::sim::{Fault, HwicapConfig, HwicapModel, RamModel, SimDeviceSpec, SimMap, SimUio};
use backend_uio::{HwicapManager, PrDecoupler, Selector, UioDriver};
use devlink_core::{Device, DriverCore, Module};
use fpga_core::{
    BridgeList, Fpga, FpgaRegion, FpgaView, ImageFlags, ImageInfo, ManagerInfo, ManagerLoader,
    ReadFpga, RegionInfo, RegionLoader, RegionOps,
};
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

const FRAMES: usize = 256;

/// The UIO-simulator rig.
pub struct UioRig {
    /// The board (its FPGA objects are the UIO ones).
    pub board: Board,
    /// The simulated UIO devices.
    pub sim: SimUio,
    /// The HWICAP's register model.
    pub model: Arc<HwicapModel>,
    /// The driver of `accel0`.
    pub uio_driver: Arc<UioDriver>,
    region: FpgaRegion,
    mgr: fpga_core::FpgaManager,
    idcode: u32,
    names: crate::Names,
}

struct ParentBridge {
    fpga: Fpga,
    parent: Device,
}

#[async_trait]
impl RegionOps for ParentBridge {
    async fn get_bridges(
        &self,
        region: &FpgaRegion,
        list: &mut BridgeList,
    ) -> fpga_core::Result<()> {
        self.fpga
            .bridge_get_to_list(&self.parent, region.info().as_ref(), list)
    }
}

fn dev(core: &DriverCore, key: &str) -> Device {
    core.find_device(key)
        .unwrap_or_else(|| panic!("the board has {key}"))
}

impl UioRig {
    /// The conformance board with UIO-backed FPGA ops and accelerator.
    pub fn new() -> UioRig {
        futures::executor::block_on(UioRig::build())
    }

    async fn build() -> UioRig {
        let text = BOARD.replace(r#"compatible = "sim,accel""#, r#"compatible = "uio,accel""#);
        let scenario = Scenario::parse(&text)
            .expect("the conformance board parses")
            .without_fpga();
        let board = scenario.build().await.expect("and builds");
        let core = board.core.clone();
        let sim = SimUio::new().expect("a UIO simulator");
        let cfg = HwicapConfig::default();
        let idcode = cfg.idcode;
        let model = Arc::new(HwicapModel::new(cfg));
        let map = SimMap::new(0x4020_0000, 0x10000, 0, model.clone());
        map.log.set_enabled(false);
        sim.register(SimDeviceSpec::new("hwicap", "40200000.hwicap").with_map(map));
        let icap = sim
            .open_as(Selector::Name("hwicap".into()), "hwicap_uio")
            .expect("the HWICAP opens");
        let ops = HwicapManager::new(Arc::new(icap), 0)
            .expect("a HWICAP manager")
            .with_timeouts(HwicapTimeouts::all(Duration::from_millis(200)));
        let module = Module::new("uio_fpga");
        let reg = board.fpga.registrar(&module);
        let names = crate::Names::standard();
        let mgr_host = dev(&core, &names.manager_host);
        let mgr = reg
            .register_manager(
                &mgr_host,
                ManagerInfo::new("AXI HWICAP over UIO", Arc::new(ops)),
            )
            .await
            .expect("the manager registers");
        let dmap = SimMap::new(0xa001_0000, 0x1000, 0, Arc::new(RamModel::new(0x1000)));
        sim.register(SimDeviceSpec::new("decoupler", "a0010000.pr_decoupler").with_map(dmap));
        let ddev = sim
            .open_as(Selector::Name("decoupler".into()), "decoupler")
            .expect("the decoupler opens");
        let br_host = dev(&core, "platform:soc:fpga-bridge0");
        reg.register_bridge(
            &br_host,
            "pr-decoupler",
            Some(Arc::new(
                PrDecoupler::new(Arc::new(ddev), 0).expect("a decoupler"),
            )),
        )
        .await
        .expect("the bridge registers");
        let region_host = dev(&core, &names.region_host);
        let region = reg
            .register_region(
                &region_host,
                Some(RegionInfo {
                    mgr: Some(board.fpga.mgr_get(&mgr_host).expect("the manager")),
                    get_bridges: Some(Arc::new(ParentBridge {
                        fpga: board.fpga.clone(),
                        parent: br_host,
                    })),
                    compat_id: None,
                }),
            )
            .await
            .expect("the region registers");
        // The accelerator: a UIO device in the region's logic.
        sim.register(
            SimDeviceSpec::new("accel", "a0000000.accel").with_ram_map(0xa000_0000, 0x1000),
        );
        let uio_driver = Arc::new(UioDriver::new("uio,accel", Arc::new(sim.clone())));
        uio_driver.add_target(
            "accel0",
            Selector::Parent(sim.parent_path("a0000000.accel")),
        );
        core.driver_register(&board.module, uio_driver.clone())
            .await
            .expect("the UIO driver registers");
        // The HWICAP needs a full image first? No: it takes partials on a
        // configured device; the model starts configured.
        UioRig {
            board,
            sim,
            model,
            uio_driver,
            region,
            mgr,
            idcode,
            names: crate::Names::standard(),
        }
    }

    fn image(&self, good: bool) -> ImageInfo {
        if good {
            self.model.clear_faults();
        } else {
            // The load fails in the middle of the frame data (the model's
            // DONE never rises): the FPGA was touched.
            self.model.inject(Fault::StuckDone {
                after_words: self.model.words_consumed() + 100,
            });
        }
        ImageInfo::from_buffer(synthetic_partial(FRAMES, self.idcode).bit)
            .with_flags(ImageFlags::PARTIAL_RECONFIG)
    }
}

impl Default for UioRig {
    fn default() -> Self {
        UioRig::new()
    }
}

#[async_trait(?Send)]
impl Rig for UioRig {
    type Model = DriverCore;
    type Loader = fpga_core::engine::Either<RegionLoader, ManagerLoader>;

    fn name(&self) -> &'static str {
        "uio (simulated)"
    }

    fn names(&self) -> &crate::Names {
        &self.names
    }

    fn model(&self) -> &DriverCore {
        &self.board.core
    }

    async fn fpga(&self) -> Result<FpgaView, String> {
        self.board.fpga.fpga_view().await.map_err(|e| e.to_string())
    }

    fn region_loader(&self, good: bool) -> Self::Loader {
        fpga_core::engine::Either::Left(RegionLoader::new(&self.region, self.image(good)))
    }

    fn manager_loader(&self, good: bool) -> Self::Loader {
        fpga_core::engine::Either::Right(ManagerLoader::new(
            &self.mgr,
            self.image(good),
            vec![
                self.region.device().to_string(),
                self.region.parent().to_string(),
            ],
        ))
    }

    fn hold_manager(&self) -> Result<Box<dyn Any>, NotApplicable> {
        let r = self.mgr.get().map_err(|e| e.to_string())?;
        let lock = r.lock().map_err(|e| e.to_string())?;
        Ok(Box::new((lock, r)))
    }

    fn leak_on_remove(&self, device: &str) -> Result<(), NotApplicable> {
        let d = self
            .board
            .core
            .find_device(device)
            .ok_or(format!("no {device}"))?;
        let drv = d
            .compatible()
            .and_then(|c| self.board.drivers.get(c))
            .ok_or(format!("{device} has no simulated driver"))?;
        drv.leak_on_remove(d.name());
        Ok(())
    }

    fn stall_removal(&self) -> Result<(Box<dyn Any>, String), NotApplicable> {
        crate::rig_sim::stall_in_process(
            &self.board.core,
            crate::rig_sim::stateless_link(&self.board.core),
        )
    }

    fn leftovers(&self) -> Vec<String> {
        Vec::new()
    }
}
