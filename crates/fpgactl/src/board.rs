//! Building the board and resolving names the user types.

use crate::cli::Cli;
use crate::output::Failure;
use backend_sim::{Board, Scenario};
use devlink_core::{Device, ErrorKind};

const DEMO_BOARD: &str = include_str!("../../../tests/scenarios/demo-board.toml");

/// Builds the board the command runs on.
pub fn load(cli: &Cli) -> Result<Board, Failure> {
    let scenario = match &cli.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(DEMO_BOARD),
    }
    .map_err(|e| {
        Failure::new(e.kind(), e.to_string())
            .hint("see docs/user-guide.md, \"Scenario files\", for the format")
    })?;
    futures::executor::block_on(scenario.build()).map_err(|e| Failure::new(e.kind(), e.to_string()))
}

/// A named thing on the board.
pub enum Object {
    /// `fpga<N>`: index into `board.managers`.
    Manager(usize),
    /// `br<N>`: index into `board.bridges`.
    Bridge(usize),
    /// `region<N>`: index into `board.regions`.
    Region(usize),
    /// Any other device.
    Device(Device),
}

fn class_name<'a>(name: &'a str, class: &str) -> &'a str {
    name.strip_prefix(class)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or(name)
}

/// Resolves `fpga0`, `br0`, `region0` (optionally with their class
/// prefix) to FPGA objects, anything else to a device.
pub fn resolve(board: &Board, name: &str) -> Result<Object, Failure> {
    let n = class_name(name, "fpga_manager");
    if let Some(i) = board
        .managers
        .iter()
        .position(|(m, _)| m.device().name() == n)
    {
        return Ok(Object::Manager(i));
    }
    let n = class_name(name, "fpga_bridge");
    if let Some(i) = board
        .bridges
        .iter()
        .position(|(b, _)| b.device().name() == n)
    {
        return Ok(Object::Bridge(i));
    }
    let n = class_name(name, "fpga_region");
    if let Some(i) = board.regions.iter().position(|r| r.device().name() == n) {
        return Ok(Object::Region(i));
    }
    find_device(board, name).map(Object::Device)
}

/// A device by `bus:name` or unique name.
pub fn find_device(board: &Board, name: &str) -> Result<Device, Failure> {
    board.core.find_device(name).ok_or_else(|| {
        let known: Vec<String> = board.core.devices().iter().map(|d| d.to_string()).collect();
        Failure::new(ErrorKind::NoDevice, format!("no device named {name:?}"))
            .hint(format!("known devices: {}", known.join(", ")))
    })
}

/// Reads an image file, naming it in the error.
pub fn read_image(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NoDevice,
            std::io::ErrorKind::PermissionDenied => ErrorKind::InvalidInput,
            _ => ErrorKind::Io,
        };
        Failure::new(kind, format!("image {}: {e}", path.display()))
    })
}

/// Checks a simulator image completely before anything is touched: the
/// header, then that the payload it announces is all there.
pub fn check_sim_image(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    let invalid = |why: String| {
        Failure::new(
            ErrorKind::InvalidInput,
            format!("image {}: {why}", path.display()),
        )
        .hint("make one with `fpgactl sim-image FILE`")
    };
    let header = backend_sim::parse_sim_header(bytes).map_err(invalid)?;
    let have = bytes.len().saturating_sub(backend_sim::SIM_HEADER);
    if (have as u64) < u64::from(header.len) {
        return Err(invalid(format!(
            "truncated: the header announces {} payload bytes, the file has {have}",
            header.len
        )));
    }
    if backend_sim::crc32(&bytes[backend_sim::SIM_HEADER..][..header.len as usize]) != header.crc {
        return Err(invalid("payload CRC does not match the header".into()));
    }
    Ok(())
}
