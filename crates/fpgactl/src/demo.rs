//! `demo`: the README's main job, on the simulator. Every line printed
//! comes from the library's state.

use crate::backend::{Backend, SimBackend};
use crate::inspect;
use crate::load::StepPrinter;
use crate::outln;
use crate::output::{print_json, Failure};
use crate::render;
use devlink_core::ErrorKind;
use fpga_core::{ImageInfo, RegionLoader, ReprogramOptions, ScatterTable};
use serde::Serialize;
use std::time::Instant;

/// What `demo --json` prints.
#[derive(Serialize)]
struct DemoReport {
    devices: usize,
    links: usize,
    region: String,
    bytes: usize,
    steps: Vec<fpga_core::Step>,
    rebound: Vec<String>,
    state: String,
    warnings: usize,
    payload_bytes_written: u64,
}

/// Runs the demo on the simulator's board.
pub fn demo(b: &SimBackend, as_json: bool) -> Result<(), Failure> {
    let board = &b.board;
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
        .ok_or_else(|| {
            Failure::new(
                ErrorKind::NoDevice,
                "the region's manager is not on the board",
            )
        })?;
    let (nd, nl) = (core.devices().len(), core.link_count());
    if !as_json {
        outln!(
            "== Board: {nd} devices, {nl} links; {} is {}",
            mgr.device(),
            mgr.state()
        );
        render::device_table(&inspect::list(b)?.devices);
        outln!();
        render::links_table(&inspect::links(b, None)?);
    }
    const PAYLOAD: usize = 8 << 20;
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 31 % 251) as u8).collect();
    let image = backend_sim::sim_image(&payload, false);
    let bytes = image.len();
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
    let printer = StepPrinter::new(as_json);
    let started = Instant::now();
    // 1 MiB segments sharing one buffer (no copy), so progress shows.
    let table = ScatterTable::from_buffer(&bytes::Bytes::from(image), 1 << 20);
    let loader = RegionLoader::new(&region, ImageInfo::from_table(table));
    let report = futures::executor::block_on(fpga_core::reprogram(
        b.model(),
        &loader,
        &ReprogramOptions::default(),
        &printer,
    ))
    .map_err(|e| Failure::from_error(&e))?;
    let took = started.elapsed();
    let status = futures::executor::block_on(mgr.sysfs_status()).unwrap_or_default();
    let warnings = core.diagnostics().len();
    if as_json {
        return print_json(&DemoReport {
            devices: nd,
            links: nl,
            region: region.device().to_string(),
            bytes,
            steps: printer.take(),
            rebound: report.rebound.bound.iter().map(|u| u.key.clone()).collect(),
            state: report.loaded.state.sysfs().to_string(),
            warnings,
            payload_bytes_written: sim.bytes_written(),
        });
    }
    outln!(
        "\n== Done in {took:.1?}: {} dependents rebound, {} link release(s) waited for, {} is {} ({}), {} payload bytes loaded and CRC-checked, {} kernel warning(s)",
        report.rebound.bound.len(),
        report.releases.unwrap_or(0),
        mgr.device(),
        report.loaded.state,
        if status.is_empty() {
            "no status bits".to_string()
        } else {
            status.trim_end().replace('\n', ", ")
        },
        sim.bytes_written(),
        warnings
    );
    outln!();
    render::device_table(&inspect::list(b)?.devices);
    Ok(())
}
