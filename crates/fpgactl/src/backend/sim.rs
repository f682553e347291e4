//! `--backend sim`: the board a scenario describes, built in memory (each
//! run starts from the description).

use super::{Backend, CheckedImage, LoadRequest};
use crate::output::Failure;
use backend_sim::{Board, Scenario};
use devlink_core::{DriverCore, ErrorKind};
use fpga_core::engine::Either;
use fpga_core::{FpgaView, ImageInfo, LoadTarget, ManagerLoader, ReadFpga, RegionLoader};
use futures::executor::block_on;
use std::path::Path;

const DEMO_BOARD: &str = include_str!("../../../../tests/scenarios/demo-board.toml");

/// The simulator backend.
pub struct SimBackend {
    /// The board.
    pub board: Board,
}

impl SimBackend {
    /// The board of `scenario` (default: the built-in demo board).
    pub fn open(scenario: Option<&Path>) -> Result<SimBackend, Failure> {
        let parsed = match scenario {
            Some(path) => Scenario::load(path),
            None => Scenario::parse(DEMO_BOARD),
        }
        .map_err(|e| {
            Failure::new(e.kind(), e.to_string())
                .hint("see docs/user-guide.md, \"Scenario files\", for the format")
        })?;
        let board = block_on(parsed.build()).map_err(|e| Failure::new(e.kind(), e.to_string()))?;
        Ok(SimBackend { board })
    }
}

impl Backend for SimBackend {
    type Model = DriverCore;
    type Loader = Either<RegionLoader, ManagerLoader>;

    fn name(&self) -> &'static str {
        "sim"
    }

    fn model(&self) -> &DriverCore {
        &self.board.core
    }

    fn fpga(&self) -> Result<FpgaView, Failure> {
        let mut v = block_on(self.board.fpga.fpga_view())?;
        // Locks the scenario says someone else holds.
        for h in &self.board.held {
            let dev = h.lock.manager().device().name().to_string();
            if let Some(m) = v.managers.iter_mut().find(|m| m.dev == dev) {
                m.locked_by = Some(h.holder.clone());
            }
        }
        Ok(v)
    }

    fn check_image(
        &self,
        req: &LoadRequest<'_>,
        _manager: Option<&fpga_core::ManagerView>,
    ) -> Result<CheckedImage, Failure> {
        let partial = req.flags.contains(fpga_core::ImageFlags::PARTIAL_RECONFIG);
        if req.raw {
            // The simulated manager still checks it, as a device would.
            return Ok(CheckedImage::as_is(req, "raw", partial));
        }
        let id = crate::image::identify(req.image, &req.bytes)?;
        if id.format != fpga_image::Format::Simbit {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!(
                    "image {} is a Xilinx {} image; the simulator loads SIMBIT images",
                    req.image.display(),
                    id.format
                ),
            )
            .hint("make one with `fpgactl sim-image FILE`"));
        }
        let partial = crate::image::partial_matches(req.image, &id, req.flags)?;
        Ok(CheckedImage::as_is(req, "simbit", partial))
    }

    fn image_plan(&self, image: &fpga_image::Image) -> Result<String, String> {
        if image.format == fpga_image::Format::Simbit {
            Ok("loads it as it is into the simulated manager".into())
        } else {
            Err(format!(
                "the simulator loads SIMBIT images only, not {} (make one with `fpgactl sim-image FILE`)",
                image.format
            ))
        }
    }

    fn loader(&self, target: &LoadTarget, req: &LoadRequest<'_>) -> Result<Self::Loader, Failure> {
        let mut info = ImageInfo::from_buffer(req.bytes.clone()).with_flags(req.flags);
        info.identity = req.identity.clone();
        if let Some(r) = self
            .board
            .regions
            .iter()
            .find(|r| r.device().name() == target.name)
        {
            return Ok(Either::Left(RegionLoader::new(r, info)));
        }
        let (m, _) = self
            .board
            .managers
            .iter()
            .find(|(m, _)| m.device().name() == target.manager)
            .ok_or_else(|| {
                Failure::new(
                    ErrorKind::NoDevice,
                    format!("no FPGA manager {}", target.manager),
                )
            })?;
        Ok(Either::Right(ManagerLoader::new(
            m,
            info,
            target.guarded.clone(),
        )))
    }

    fn break_lock(&mut self, manager: &str) -> Result<Option<String>, Failure> {
        let pos = self
            .board
            .held
            .iter()
            .position(|h| h.lock.manager().device().name() == manager);
        Ok(pos.map(|i| self.board.held.remove(i).holder))
    }
}
