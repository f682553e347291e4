//! Reprogram an FPGA region with the same code on any backend.
//!
//! ```sh
//! cargo run -p integration-tests --example reprogram -- --backend sim IMAGE
//! sudo target/debug/examples/reprogram --backend sysfs IMAGE          # the running kernel
//! target/debug/examples/reprogram --backend sysfs --root DIR IMAGE    # a copied tree
//! ```
//!
//! `reprogram_first_region` is written once, against the contract: a
//! driver model (`devlink_core::drive::DriverModel`), the FPGA view
//! (`fpga_core::ReadFpga`) and a way for the image to get in
//! (`fpga_core::ImageLoader`). Only `main` knows which backend it has.
//! Without an IMAGE on the simulator, a generated SIMBIT image is used.

use devlink_core::drive::DriverModel;
use fpga_core::{ImageLoader, LoadTarget, ReadFpga, ReprogramOptions, Step};
use std::process::ExitCode;

/// Takes the first region's users down consumers first, waits for every
/// link release, checks for leaks, loads, brings the users back suppliers
/// first, and prints each step. The same on every backend.
async fn reprogram_first_region<M, F, L>(
    model: &M,
    fpga: &F,
    loader_for: impl FnOnce(LoadTarget) -> L,
) -> Result<(), String>
where
    M: DriverModel,
    F: ReadFpga,
    L: ImageLoader,
{
    let view = fpga.fpga_view().await.map_err(|e| e.to_string())?;
    let region = view.regions.first().ok_or("no FPGA region here")?;
    let target = view
        .region_target(region)
        .ok_or("the region's manager is not known")?;
    let print = |s: &Step| {
        if !matches!(s, Step::Loading { .. }) {
            println!("  {s:?}");
        }
    };
    let report = fpga_core::reprogram(
        model,
        &loader_for(target),
        &ReprogramOptions::default(),
        &print,
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "{} user(s) down and back; the manager is {}",
        report.rebound.bound.len(),
        report.loaded.state
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let backend = opt("--backend").unwrap_or_else(|| "sim".into());
    let root = opt("--root");
    let image = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--")))
        .map(|(_, a)| a.clone())
        .next_back();
    let result = futures::executor::block_on(async {
        match backend.as_str() {
            "sim" => {
                let board = backend_sim::Scenario::parse(include_str!(
                    "../tests/scenarios/demo-board.toml"
                ))
                .map_err(|e| e.to_string())?
                .build()
                .await
                .map_err(|e| e.to_string())?;
                let bytes = match &image {
                    Some(p) => std::fs::read(p).map_err(|e| format!("{p}: {e}"))?,
                    None => backend_sim::sim_image(&[0x5a; 4096], false),
                };
                let region = board.regions[0].clone();
                reprogram_first_region(&board.core, &board.fpga, |_| {
                    fpga_core::RegionLoader::new(&region, fpga_core::ImageInfo::from_buffer(bytes))
                })
                .await
            }
            "sysfs" => {
                let sys = match &root {
                    Some(d) => backend_linux_sysfs::SysfsRoot::at(d),
                    None => backend_linux_sysfs::SysfsRoot::default(),
                };
                let kernel = backend_linux_sysfs::Kernel::new(sys);
                let p = image.ok_or("give the image file")?;
                let bytes = std::fs::read(&p).map_err(|e| format!("{p}: {e}"))?;
                reprogram_first_region(&kernel, &kernel, |target| {
                    backend_linux_sysfs::FirmwareLoader::new(
                        &kernel,
                        target,
                        bytes,
                        fpga_core::ImageFlags::empty(),
                        None,
                    )
                })
                .await
            }
            other => Err(format!("--backend {other}: sim or sysfs")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reprogram: {e}");
            ExitCode::FAILURE
        }
    }
}
