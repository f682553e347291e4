//! The simulator: the conformance board built in-process from its
//! scenario, with simulated FPGA ops.

use crate::{NotApplicable, Rig, BOARD};
use async_trait::async_trait;
use backend_sim::{sim_image, Board, Scenario};
use devlink_core::{DriverCore, Link};
use fpga_core::{FpgaView, ImageInfo, ManagerLoader, ReadFpga, RegionLoader};
use std::any::Any;

/// The simulator rig.
pub struct SimRig {
    /// The board.
    pub board: Board,
    names: crate::Names,
}

/// A full image the simulated manager accepts, or one whose payload CRC
/// is wrong (it fails at `write_complete`, after every byte was written).
pub fn sim_images(good: bool) -> Vec<u8> {
    let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut image = sim_image(&payload, false);
    if !good {
        let last = image.len() - 1;
        image[last] ^= 0xff;
    }
    image
}

impl SimRig {
    /// The conformance board on the simulator.
    pub fn new() -> SimRig {
        let scenario = Scenario::parse(BOARD).expect("the conformance board parses");
        SimRig {
            board: futures::executor::block_on(scenario.build()).expect("and builds"),
            names: crate::Names::standard(),
        }
    }
}

impl Default for SimRig {
    fn default() -> Self {
        SimRig::new()
    }
}

/// Holds link releases back and queues one: a removal wait must time out.
pub(crate) fn stall_in_process(
    core: &DriverCore,
    link: Option<Link>,
) -> Result<(Box<dyn Any>, String), NotApplicable> {
    let hold = core.hold_removals();
    let link = link.ok_or("the board has no link to delete")?;
    core.link_del(&link).map_err(|e| e.to_string())?;
    Ok((Box::new(hold), "queued".to_string()))
}

/// The stateless link `uart0 -> 0-0048`: its owner (the board) may
/// delete it.
pub(crate) fn stateless_link(core: &DriverCore) -> Option<Link> {
    let n = crate::Names::standard();
    let sensor = core.find_device(&n.sensor)?;
    let uart = core.find_device(&n.uart)?;
    core.find_link(&sensor, &uart)
}

#[async_trait(?Send)]
impl Rig for SimRig {
    type Model = DriverCore;
    type Loader = fpga_core::engine::Either<RegionLoader, ManagerLoader>;

    fn name(&self) -> &'static str {
        "sim"
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
        fpga_core::engine::Either::Left(RegionLoader::new(
            &self.board.regions[0],
            ImageInfo::from_buffer(sim_images(good)),
        ))
    }

    fn manager_loader(&self, good: bool) -> Self::Loader {
        let (mgr, _) = &self.board.managers[0];
        let r = &self.board.regions[0];
        fpga_core::engine::Either::Right(ManagerLoader::new(
            mgr,
            ImageInfo::from_buffer(sim_images(good)),
            vec![r.device().to_string(), r.parent().to_string()],
        ))
    }

    fn hold_manager(&self) -> Result<Box<dyn Any>, NotApplicable> {
        let (mgr, _) = &self.board.managers[0];
        let r = mgr.get().map_err(|e| e.to_string())?;
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
        stall_in_process(&self.board.core, stateless_link(&self.board.core))
    }

    fn leftovers(&self) -> Vec<String> {
        Vec::new()
    }
}
