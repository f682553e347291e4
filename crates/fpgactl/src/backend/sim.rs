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

    fn check_image(&self, req: &LoadRequest<'_>) -> Result<CheckedImage, Failure> {
        let path = req.image;
        let invalid = |why: String| {
            Failure::new(
                ErrorKind::InvalidInput,
                format!("image {}: {why}", path.display()),
            )
            .hint("make one with `fpgactl sim-image FILE`")
        };
        let bytes = &req.bytes;
        let header = backend_sim::parse_sim_header(bytes).map_err(invalid)?;
        let have = bytes.len().saturating_sub(backend_sim::SIM_HEADER);
        let want = usize::try_from(header.len).unwrap_or(usize::MAX);
        if have < want {
            return Err(invalid(format!(
                "truncated: the header announces {} payload bytes, the file has {have}",
                header.len
            )));
        }
        if have > want {
            return Err(invalid(format!(
                "{} bytes after the {} payload bytes the header announces",
                have - want,
                header.len
            )));
        }
        let payload = &bytes[backend_sim::SIM_HEADER..];
        if backend_sim::crc32(payload) != header.crc {
            return Err(invalid("payload CRC does not match the header".into()));
        }
        let partial = req.flags.contains(fpga_core::ImageFlags::PARTIAL_RECONFIG);
        if header.partial != partial {
            let (is, flag) = if header.partial {
                ("a partial", "add --partial")
            } else {
                ("a full", "drop --partial")
            };
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!("image {} is {is} image", path.display()),
            )
            .hint(flag));
        }
        Ok(CheckedImage {
            format: "simbit".into(),
            partial: header.partial,
        })
    }

    fn loader(&self, target: &LoadTarget, req: &LoadRequest<'_>) -> Result<Self::Loader, Failure> {
        let info = ImageInfo::from_buffer(req.bytes.clone()).with_flags(req.flags);
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
