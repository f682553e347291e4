//! `fpgactl`: inspect device links and FPGA regions, and reprogram a
//! region while the devices that use it are safely down. See
//! `docs/user-guide.md`.

mod board;
mod cli;
mod demo;
mod drive;
mod inspect;
mod output;
mod program;
mod svg;
mod sysfs;
mod uio;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, Format};
use output::{exit_code, Failure};
use std::process::ExitCode;

/// Commands that need no board.
fn run_offline(cli: &Cli) -> Option<Result<(), Failure>> {
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "fpgactl",
                &mut std::io::stdout(),
            );
            Some(Ok(()))
        }
        Command::Man { dir } => Some(write_man(dir)),
        Command::SimImage { out, size, partial } => {
            Some(program::sim_image(out, *size, *partial, cli.json))
        }
        _ => None,
    }
}

fn write_man(dir: &std::path::Path) -> Result<(), Failure> {
    let io = |e: std::io::Error| {
        Failure::new(
            devlink_core::ErrorKind::Io,
            format!("writing man pages into {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd, dir).map_err(io)?;
    outln!("man pages written into {}", dir.display());
    Ok(())
}

fn run(cli: &Cli) -> Result<(), Failure> {
    if let Some(r) = run_offline(cli) {
        return r;
    }
    match cli.backend {
        cli::Backend::Sysfs => return run_sysfs(cli),
        cli::Backend::Uio => return run_uio(cli),
        cli::Backend::Sim => {}
    }
    if cli.root.is_some() {
        return Err(Failure::new(
            devlink_core::ErrorKind::InvalidInput,
            "--root is for --backend sysfs and --backend uio",
        ));
    }
    let mut board = board::load(cli)?;
    let json = cli.json;
    match &cli.command {
        Command::Demo => demo::demo(&board, json),
        Command::List => {
            inspect::list(&board, json);
            Ok(())
        }
        Command::Show { name } => inspect::show(&board, name, json),
        Command::Links { format, svg } => inspect::links(
            &board,
            if json { Format::Json } else { *format },
            svg.as_deref(),
        ),
        Command::Why { device } => inspect::why(&board, device, json),
        Command::Order {
            device,
            teardown,
            bringup: _,
        } => inspect::order(&board, device, *teardown, json),
        Command::Program {
            target,
            image,
            partial,
            dry_run,
            force,
        } => program::program(&mut board, target, image, *partial, *dry_run, *force, json),
        Command::Reprogram {
            region,
            image,
            partial,
            force,
            manager: _,
        } => program::reprogram(&mut board, region, image, *partial, *force, json),
        Command::Unbind { device } => drive::unbind(&board, device, json),
        Command::Bind { device } => drive::bind(&board, device, json),
        Command::WaitRemoval { timeout } => drive::wait_removal(&board, *timeout, json),
        Command::Completions { .. } | Command::Man { .. } | Command::SimImage { .. } => {
            unreachable!("handled by run_offline")
        }
    }
}

/// `--scenario` belongs to the simulator.
fn no_scenario(cli: &Cli) -> Result<(), Failure> {
    match cli.scenario {
        Some(_) => Err(Failure::new(
            devlink_core::ErrorKind::InvalidInput,
            "--scenario is for --backend sim",
        )),
        None => Ok(()),
    }
}

/// `--force` cannot take over what another process holds on a real
/// system (a kernel manager's lock, an open UIO device).
fn no_force(force: bool, held: &str) -> Result<(), Failure> {
    if force {
        return Err(Failure::new(
            devlink_core::ErrorKind::Unsupported,
            format!("--force: {held}, held by another process, cannot be taken over"),
        ));
    }
    Ok(())
}

fn run_sysfs(cli: &Cli) -> Result<(), Failure> {
    use devlink_core::ErrorKind;
    no_scenario(cli)?;
    let k = sysfs::kernel(cli.root.as_deref());
    let json = cli.json;
    match &cli.command {
        Command::Demo => Err(Failure::new(
            ErrorKind::Unsupported,
            "the demo runs on the simulator only",
        )
        .hint("run `fpgactl demo` without --backend")),
        Command::List => sysfs::list(&k, json),
        Command::Show { name } => sysfs::show(&k, name, json),
        Command::Links { format, svg } => sysfs::links(
            &k,
            if json { Format::Json } else { *format },
            svg.as_deref(),
        ),
        Command::Why { device } => sysfs::why(&k, device, json),
        Command::Order {
            device, teardown, ..
        } => sysfs::order(&k, device, *teardown, json),
        Command::Program {
            target,
            image,
            partial,
            dry_run,
            force,
        } => {
            no_force(*force, "a kernel manager's lock")?;
            sysfs::program(&k, target, image, *partial, *dry_run, json)
        }
        Command::Reprogram {
            region,
            image,
            partial,
            force,
            manager,
        } => {
            no_force(*force, "a kernel manager's lock")?;
            sysfs::reprogram(&k, region, image, *partial, manager.as_deref(), json)
        }
        Command::Unbind { device } => sysfs::unbind(&k, device, json),
        Command::Bind { device } => sysfs::bind(&k, device, json),
        Command::WaitRemoval { timeout } => sysfs::wait_removal(&k, *timeout, json),
        Command::Completions { .. } | Command::Man { .. } | Command::SimImage { .. } => {
            unreachable!("handled by run_offline")
        }
    }
}

fn run_uio(cli: &Cli) -> Result<(), Failure> {
    use devlink_core::ErrorKind;
    no_scenario(cli)?;
    let root = uio::root(cli.root.as_deref());
    let json = cli.json;
    match &cli.command {
        Command::List => uio::list(&root, json),
        Command::Show { name } => uio::show(&root, name, json),
        Command::Program {
            target,
            image,
            partial,
            dry_run,
            force,
        } => {
            no_force(*force, "a UIO device")?;
            uio::program(&root, target, image, *partial, *dry_run, json)
        }
        Command::Completions { .. } | Command::Man { .. } | Command::SimImage { .. } => {
            unreachable!("handled by run_offline")
        }
        other => Err(Failure::new(
            ErrorKind::Unsupported,
            format!(
                "`{}` is not a UIO command: UIO has no device links or drivers of its own",
                command_name(other)
            ),
        )
        .hint("use --backend sysfs for the kernel's driver model; with uio: list, show, program")),
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Demo => "demo",
        Command::List => "list",
        Command::Show { .. } => "show",
        Command::Links { .. } => "links",
        Command::Why { .. } => "why",
        Command::Order { .. } => "order",
        Command::Program { .. } => "program",
        Command::Reprogram { .. } => "reprogram",
        Command::Unbind { .. } => "unbind",
        Command::Bind { .. } => "bind",
        Command::WaitRemoval { .. } => "wait-removal",
        Command::SimImage { .. } => "sim-image",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
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
