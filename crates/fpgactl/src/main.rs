//! `fpgactl`: inspect device links and take dependents down and back up
//! safely. See `docs/user-guide.md`.

use backend_sim::{Board, Scenario};
use clap::{Parser, Subcommand, ValueEnum};
use devlink_core::{Device, ErrorKind, LinkState};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

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

fn core_err(e: devlink_core::Error) -> Failure {
    (e.kind(), e).into()
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
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return;
    }
    let w = devices
        .iter()
        .map(|d| d.to_string().len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!("{:<w$}  {:<10}  DRIVER", "DEVICE", "STATE");
    for d in devices {
        println!(
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
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Dot => {
            println!("digraph devlinks {{\n  rankdir=LR;");
            for l in &view.links {
                let (s, c) = l.name.split_once("--").expect("link names have --");
                let style = if l.flags.contains(devlink_core::LinkFlags::STATELESS) {
                    ", style=dashed"
                } else {
                    ""
                };
                println!(
                    "  \"{s}\" -> \"{c}\" [label=\"{}\"{style}];",
                    l.state.sysfs_status()
                );
            }
            println!("}}");
        }
        Format::Table => {
            let w = view
                .links
                .iter()
                .map(|l| l.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!(
                "{:<w$}  {:<18}  {:<15}  FLAGS",
                "LINK", "STATUS", "AUTO_REMOVE_ON"
            );
            for l in &view.links {
                println!(
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
        println!(
            "{}",
            json!({"device": d.to_string(), "state": d.state().to_string(), "waiting_for": v})
        );
        return Ok(());
    }
    match (d.driver_name(), waiting.is_empty()) {
        (Some(drv), _) => println!("{d} is bound to {drv}."),
        (None, true) => println!(
            "{d} is not bound and waits for no supplier (is a matching driver registered?)."
        ),
        (None, false) => {
            println!("{d} is not bound; it is waiting for:");
            for w in waiting {
                println!("  - {w}");
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
        println!(
            "{}",
            json!({"device": d.to_string(), "teardown": teardown, "order": names})
        );
    } else {
        for (i, n) in names.iter().enumerate() {
            println!("{:>3}. {n}", i + 1);
        }
    }
    Ok(())
}

/// The demo: every line printed comes from the library's state.
fn demo(board: &Board, as_json: bool) -> Result<(), Failure> {
    let core = &board.core;
    let region = find(board, "platform:soc:fpga-region0")?;
    let mut events = Vec::new();
    let mut say = |line: String, ev: serde_json::Value| {
        if !as_json {
            println!("{line}");
        }
        events.push(ev);
    };
    let (nd, nl) = (core.devices().len(), core.link_count());
    say(
        format!(
            "== Board: {nd} devices, {nl} links (simulator, virtual time {:?})",
            board.clock.now()
        ),
        json!({"step": "board", "devices": nd, "links": nl}),
    );
    if !as_json {
        list(board, false);
        println!();
        links(board, Format::Table);
    }
    let dependents = core.dependents(&region);
    let (queued_before, _) = core.removal_queue().counters();
    let teardown: Vec<Device> = dependents.iter().rev().cloned().collect();
    say(
        format!(
            "\n== Tear down the {} dependents of {region}, consumers first",
            teardown.len()
        ),
        json!({"step": "teardown", "order": teardown.iter().map(ToString::to_string).collect::<Vec<_>>()}),
    );
    for d in &teardown {
        futures::executor::block_on(core.unbind(d)).map_err(core_err)?;
        say(
            format!("   unbind {d:<26} -> {}", d.state()),
            json!({"step": "unbind", "device": d.to_string(), "state": d.state().to_string()}),
        );
    }
    let (queued_after, _) = core.removal_queue().counters();
    let queued = queued_after - queued_before;
    let started = Instant::now();
    core.wait_removal().map_err(core_err)?;
    let took = started.elapsed();
    say(
        format!("\n== wait_removal: the teardown queued {queued} link release(s); all have run ({took:?})"),
        json!({"step": "wait_removal", "queued": queued}),
    );
    say(
        format!(
            "   {region} stays bound ({}); programming the FPGA arrives with fpga-core",
            region.state()
        ),
        json!({"step": "program", "available": false}),
    );
    say(
        "\n== Bring the dependents back, suppliers first".to_string(),
        json!({"step": "bringup"}),
    );
    for d in &dependents {
        let r = futures::executor::block_on(core.bind(d));
        let outcome = match &r {
            Ok(()) => d.state().to_string(),
            Err(e) => format!("{} ({e})", d.state()),
        };
        say(
            format!("   bind   {d:<26} -> {outcome}"),
            json!({"step": "bind", "device": d.to_string(), "state": d.state().to_string(), "error": r.err().map(|e| e.to_string())}),
        );
    }
    let active = core
        .links()
        .iter()
        .filter(|l| l.state().ok() == Some(LinkState::Active))
        .count();
    let warns = core.diagnostics().len();
    say(
        format!(
            "\n== Done: {} links ({active} active), {warns} kernel warning(s), virtual time {:?}",
            core.link_count(),
            board.clock.now()
        ),
        json!({"step": "done", "links": core.link_count(), "active": active, "warnings": warns}),
    );
    if as_json {
        println!("{}", serde_json::to_string_pretty(&events).expect("json"));
    } else {
        println!();
        links(board, Format::Table);
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
