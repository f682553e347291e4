//! `demo`: the README's main job. Every line printed comes from the
//! library's state.

use crate::cli::Format;
use crate::inspect::{device_table, links};
use crate::outln;
use crate::output::{print_json, Failure};
use crate::program::StepPrinter;
use backend_sim::Board;
use devlink_core::ErrorKind;
use fpga_core::{reprogram, ImageInfo, ScatterTable};
use serde_json::json;
use std::time::Instant;

/// Runs the demo on `board`.
pub fn demo(board: &Board, as_json: bool) -> Result<(), Failure> {
    let core = &board.core;
    let region = board.regions.first().cloned().ok_or_else(|| {
        Failure::new(ErrorKind::NoDevice, "the board has no FPGA region")
            .hint("add an [[fpga_region]] to the scenario")
    })?;
    let (mgr, sim) = board
        .managers
        .iter()
        .find(|(m, _)| m.device() == region.manager().device())
        .cloned()
        .expect("a region's manager is on the board");
    let mut events = Vec::new();
    let (nd, nl) = (core.devices().len(), core.link_count());
    events.push(
        json!({"step": "board", "devices": nd, "links": nl, "manager_state": mgr.state().sysfs()}),
    );
    if !as_json {
        outln!(
            "== Board: {nd} devices, {nl} links; {} is {}",
            mgr.device(),
            mgr.state()
        );
        device_table(&core.devices());
        outln!();
        links(board, Format::Table, None)?;
    }
    const PAYLOAD: usize = 8 << 20;
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 31 % 251) as u8).collect();
    let image = backend_sim::sim_image(&payload, false);
    events.push(
        json!({"step": "reprogram", "region": region.device().to_string(), "bytes": image.len()}),
    );
    if !as_json {
        outln!(
            "\n== Reprogram {} (on {}) with a full {} MiB image through {} ({:?})",
            region.device(),
            region.parent(),
            PAYLOAD >> 20,
            mgr.device(),
            mgr.name()
        );
    }
    let printer = StepPrinter::new(board, &region, as_json);
    let started = Instant::now();
    // 1 MiB segments sharing one buffer (no copy), so progress shows.
    let table = ScatterTable::from_buffer(&bytes::Bytes::from(image), 1 << 20);
    let report =
        futures::executor::block_on(reprogram(&region, ImageInfo::from_table(table), &printer))
            .map_err(|e| Failure::new(e.kind(), e.to_string()))?;
    let took = started.elapsed();
    events.extend(printer.events.lock().expect("not poisoned").drain(..));
    let status = futures::executor::block_on(mgr.sysfs_status()).unwrap_or_default();
    let warnings = core.diagnostics().len();
    events.push(json!({"step": "done", "rebound": report.rebound, "not_rebound": report.not_rebound, "state": report.state.sysfs(), "warnings": warnings}));
    if as_json {
        print_json(&serde_json::Value::Array(events));
        return Ok(());
    }
    outln!(
        "\n== Done in {took:.1?}: {} dependents rebound, {} link release(s) waited for, {} is {} ({}), {} payload bytes loaded and CRC-checked, {} kernel warning(s)",
        report.rebound.len(),
        report.releases,
        mgr.device(),
        report.state,
        if status.is_empty() {
            "no status bits".to_string()
        } else {
            status.trim_end().replace('\n', ", ")
        },
        sim.bytes_written(),
        warnings
    );
    outln!();
    device_table(&core.devices());
    Ok(())
}
