//! `fpgactl`: inspect device links and take dependents down and back up
//! safely. See `docs/user-guide.md`.

use backend_sim::{Board, Scenario};
use clap::{Parser, Subcommand, ValueEnum};
use devlink_core::{Device, ErrorKind};
use fpga_core::{reprogram, ImageInfo, ScatterTable, Step};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

/// `println!` that ends the process quietly when stdout is closed (for
/// example `fpgactl links | head`), instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

const DEMO_BOARD: &str = include_str!("../../../tests/scenarios/demo-board.toml");

/// Inspect device links and FPGA regions, and take the devices that depend
/// on a region down and back up in a safe order.
#[derive(Parser, Debug)]
#[command(name = "fpgactl", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    /// Where the devices come from. Only the simulator exists so far.
    #[arg(long, value_enum, default_value_t = Backend::Sim, global = true)]
    backend: Backend,
    /// A scenario file describing the simulated board (default: the demo board).
    #[arg(long, value_name = "FILE", global = true)]
    scenario: Option<std::path::PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The deterministic simulator.
    Sim,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the demo board, show its graph, take the region's dependents
    /// down consumers-first, wait for link releases, and bring them back.
    Demo,
    /// List registered devices with their state and driver.
    List,
    /// Show every link.
    Links {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Explain why DEVICE is not bound: what it is waiting for.
    Why {
        /// A device, as bus:name or a unique name.
        device: String,
    },
    /// Print the order in which DEVICE's dependents are taken down or brought up.
    Order {
        /// A device, as bus:name or a unique name.
        device: String,
        /// Consumers first (the order to unbind in).
        #[arg(long, conflicts_with = "bringup", required_unless_present = "bringup")]
        teardown: bool,
        /// Suppliers first (the order to bind in).
        #[arg(long)]
        bringup: bool,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// An aligned text table.
    Table,
    /// Graphviz dot.
    Dot,
    /// JSON.
    Json,
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  bad command line
  3  invalid input (a malformed scenario, a rejected request)
  4  no such device or file
  5  busy
  6  deferred (waiting for suppliers)
  7  timed out
  8  not supported
  9  I/O error
  10 out of memory (a worker thread could not start)";

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => 3,
        ErrorKind::NoDevice => 4,
        ErrorKind::Busy => 5,
        ErrorKind::Deferred => 6,
        ErrorKind::Timeout => 7,
        ErrorKind::Unsupported => 8,
        ErrorKind::Io => 9,
        ErrorKind::OutOfMemory => 10,
    }
}

/// An error for the user: what failed, and what to try.
struct Failure {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
}

impl<E: std::fmt::Display> From<(ErrorKind, E)> for Failure {
    fn from((kind, e): (ErrorKind, E)) -> Failure {
        Failure {
            kind,
            message: e.to_string(),
            hint: None,
        }
    }
}

fn load_board(cli: &Cli) -> Result<Board, Failure> {
    let scenario = match &cli.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(DEMO_BOARD),
    }
    .map_err(|e| Failure {
        kind: e.kind(),
        message: e.to_string(),
        hint: Some("see docs/user-guide.md for the scenario format".into()),
    })?;
    futures::executor::block_on(scenario.build()).map_err(|e| Failure {
        kind: e.kind(),
        message: e.to_string(),
        hint: None,
    })
}

fn find(board: &Board, name: &str) -> Result<Device, Failure> {
    board.core.find_device(name).ok_or_else(|| {
        let known: Vec<String> = board.core.devices().iter().map(|d| d.to_string()).collect();
        Failure {
            kind: ErrorKind::NoDevice,
            message: format!("no device named {name:?}"),
            hint: Some(format!("known devices: {}", known.join(", "))),
        }
    })
}

fn device_json(d: &Device) -> serde_json::Value {
    json!({
        "name": d.to_string(),
        "state": d.state().to_string(),
        "driver": d.driver_name(),
    })
}

fn list(board: &Board, as_json: bool) {
    let devices = board.core.devices();
    if as_json {
        let v: Vec<_> = devices.iter().map(device_json).collect();
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return;
    }
    let w = devices
        .iter()
        .map(|d| d.to_string().len())
        .max()
        .unwrap_or(6)
        .max(6);
    outln!("{:<w$}  {:<10}  DRIVER", "DEVICE", "STATE");
    for d in devices {
        outln!(
            "{:<w$}  {:<10}  {}",
            d.to_string(),
            d.state().to_string(),
            d.driver_name().unwrap_or_else(|| "-".into())
        );
    }
}

fn links(board: &Board, format: Format) {
    let view = board.core.sysfs_view();
    match format {
        Format::Json => {
            let v: Vec<_> = view
                .links
                .iter()
                .map(|l| {
                    json!({
                        "name": l.name,
                        "status": l.state.sysfs_status(),
                        "flags": format!("{:#05x}", l.flags.bits()),
                        "auto_remove_on": l.flags.auto_remove_on(),
                    })
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Dot => {
            outln!("digraph devlinks {{\n  rankdir=LR;");
            for l in &view.links {
                let (s, c) = l.name.split_once("--").expect("link names have --");
                let style = if l.flags.contains(devlink_core::LinkFlags::STATELESS) {
                    ", style=dashed"
                } else {
                    ""
                };
                outln!(
                    "  \"{s}\" -> \"{c}\" [label=\"{}\"{style}];",
                    l.state.sysfs_status()
                );
            }
            outln!("}}");
        }
        Format::Table => {
            let w = view
                .links
                .iter()
                .map(|l| l.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            outln!(
                "{:<w$}  {:<18}  {:<15}  FLAGS",
                "LINK",
                "STATUS",
                "AUTO_REMOVE_ON"
            );
            for l in &view.links {
                outln!(
                    "{:<w$}  {:<18}  {:<15}  {:#05x}",
                    l.name,
                    l.state.sysfs_status(),
                    l.flags.auto_remove_on(),
                    l.flags.bits()
                );
            }
        }
    }
}

fn why(board: &Board, name: &str, as_json: bool) -> Result<(), Failure> {
    let d = find(board, name)?;
    let waiting = board.core.waiting_for(&d);
    if as_json {
        let v: Vec<String> = waiting.iter().map(ToString::to_string).collect();
        outln!(
            "{}",
            json!({"device": d.to_string(), "state": d.state().to_string(), "waiting_for": v})
        );
        return Ok(());
    }
    match (d.driver_name(), waiting.is_empty()) {
        (Some(drv), _) => outln!("{d} is bound to {drv}."),
        (None, true) => {
            outln!("{d} is not bound and waits for no supplier (is a matching driver registered?).")
        }
        (None, false) => {
            outln!("{d} is not bound; it is waiting for:");
            for w in waiting {
                outln!("  - {w}");
            }
        }
    }
    Ok(())
}

fn order(board: &Board, name: &str, teardown: bool, as_json: bool) -> Result<(), Failure> {
    let d = find(board, name)?;
    let mut deps = board.core.dependents(&d);
    if teardown {
        deps.reverse();
    }
    let names: Vec<String> = deps.iter().map(ToString::to_string).collect();
    if as_json {
        outln!(
            "{}",
            json!({"device": d.to_string(), "teardown": teardown, "order": names})
        );
    } else {
        for (i, n) in names.iter().enumerate() {
            outln!("{:>3}. {n}", i + 1);
        }
    }
    Ok(())
}

/// The demo: every line printed comes from the library's state.
fn demo(board: &Board, as_json: bool) -> Result<(), Failure> {
    let core = &board.core;
    let region = board.regions.first().cloned().ok_or_else(|| Failure {
        kind: ErrorKind::NoDevice,
        message: "the board has no FPGA region".into(),
        hint: Some("add an [[fpga_region]] to the scenario".into()),
    })?;
    let (mgr, sim) = board
        .managers
        .first()
        .cloned()
        .expect("a region has a manager");
    let events = std::sync::Mutex::new(Vec::new());
    let say = |line: String, ev: serde_json::Value| {
        if !as_json {
            outln!("{line}");
        }
        events.lock().unwrap().push(ev);
    };
    let (nd, nl) = (core.devices().len(), core.link_count());
    say(
        format!(
            "== Board: {nd} devices, {nl} links; {} is {}",
            mgr.device(),
            mgr.state()
        ),
        json!({"step": "board", "devices": nd, "links": nl, "manager_state": mgr.state().sysfs()}),
    );
    if !as_json {
        list(board, false);
        outln!();
        links(board, Format::Table);
    }
    const PAYLOAD: usize = 8 << 20;
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 31 % 251) as u8).collect();
    let image = backend_sim::sim_image(&payload, false);
    say(
        format!(
            "\n== Reprogram {} (on {}) with a full {} MiB image through {} ({:?})",
            region.device(),
            region.parent(),
            PAYLOAD >> 20,
            mgr.device(),
            mgr.name()
        ),
        json!({"step": "reprogram", "region": region.device().to_string(), "bytes": image.len()}),
    );
    let owner = board.fpga_module.clone();
    let observer = |step: &Step| {
        let line = match step {
            Step::RegionHeld => format!("   hold   {}", region.device()),
            Step::ManagerLocked => format!(
                "   lock   {} (owner module {} pinned {} time(s))",
                mgr.device(),
                owner.name(),
                owner.pins()
            ),
            Step::Unbind { device } => format!("   unbind {device}"),
            Step::WaitRemoval { queued } => {
                format!(
                    "   wait_removal: the teardown queued {queued} link release(s); all have run"
                )
            }
            Step::LeakCheck { devices } => {
                format!("   leak check: no dependent kept a reference ({devices} checked)")
            }
            Step::BridgesGot { count } => format!("   bridges: {count} held"),
            Step::BridgesDisabled => format!(
                "   bridges disabled: {}",
                board
                    .bridges
                    .iter()
                    .map(|(b, s)| format!(
                        "{} {}",
                        b.device(),
                        if s.is_enabled() {
                            "enabled"
                        } else {
                            "disabled"
                        }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::Loading { written, total } => format!(
                "   load   {:>3}% {:>5.1}/{:.1} MiB  ({} is {})",
                written * 100 / total.max(&1),
                *written as f64 / (1 << 20) as f64,
                *total as f64 / (1 << 20) as f64,
                mgr.device(),
                mgr.state()
            ),
            Step::Loaded => format!("   loaded: {} is {}", mgr.device(), mgr.state()),
            Step::BridgesEnabled => "   bridges enabled".to_string(),
            Step::Released => format!("   unlock {}, release {}", mgr.device(), region.device()),
            Step::Bind { device, bound } => format!(
                "   bind   {device:<26} -> {}",
                if *bound { "bound" } else { "NOT bound" }
            ),
            other => format!("   {other:?}"),
        };
        say(line, json!({"step": format!("{step:?}")}));
    };
    let started = Instant::now();
    // 1 MiB segments sharing one buffer (no copy), so progress shows.
    let table = ScatterTable::from_buffer(&bytes::Bytes::from(image), 1 << 20);
    let report =
        futures::executor::block_on(reprogram(&region, ImageInfo::from_table(table), &observer))
            .map_err(|e| Failure {
                kind: e.kind(),
                message: e.to_string(),
                hint: None,
            })?;
    let took = started.elapsed();
    let status = futures::executor::block_on(mgr.sysfs_status()).unwrap_or_default();
    say(
        format!(
            "\n== Done in {took:.1?}: {} dependents rebound, {} link release(s) waited for, {} is {} ({}), {} payload bytes loaded and CRC-checked, {} kernel warning(s)",
            report.rebound.len(),
            report.releases,
            mgr.device(),
            report.state,
            if status.is_empty() { "no status bits".to_string() } else { status.trim_end().replace('\n', ", ") },
            sim.bytes_written(),
            core.diagnostics().len()
        ),
        json!({"step": "done", "rebound": report.rebound, "not_rebound": report.not_rebound, "state": report.state.sysfs(), "warnings": core.diagnostics().len()}),
    );
    if as_json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&*events.lock().unwrap()).expect("json")
        );
    } else {
        outln!();
        list(board, false);
    }
    Ok(())
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let board = load_board(cli)?;
    match &cli.command {
        Command::Demo => demo(&board, cli.json),
        Command::List => {
            list(&board, cli.json);
            Ok(())
        }
        Command::Links { format } => {
            links(&board, if cli.json { Format::Json } else { *format });
            Ok(())
        }
        Command::Why { device } => why(&board, device, cli.json),
        Command::Order {
            device,
            teardown,
            bringup: _,
        } => order(&board, device, *teardown, cli.json),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("fpgactl: error: {}", f.message);
            if let Some(h) = f.hint {
                eprintln!("fpgactl: hint: {h}");
            }
            ExitCode::from(exit_code(f.kind))
        }
    }
}
