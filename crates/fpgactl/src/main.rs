//! `fpgactl`: inspect device links and FPGA regions, and reprogram a
//! region while the devices that use it are safely down. See
//! `docs/user-guide.md`.
//!
//! Every command is written once, against [`backend::Backend`]; `main`
//! opens the backend `--backend` names and dispatches once.

mod backend;
mod cli;
mod demo;
mod drive;
mod image;
mod inspect;
mod load;
mod output;
mod recover;
mod render;
mod report;
mod signals;
mod svg;

use backend::{Backend, SimBackend, SysfsBackend, UioBackend};
use clap::{CommandFactory, Parser};
use cli::{BackendKind, Cli, Command, Format};
use output::{exit_code, print_json, Failure};
use serde::Serialize;
use std::process::ExitCode;

/// Prints `report` as JSON, or through `text`.
fn emit<T: Serialize>(json: bool, report: &T, text: impl FnOnce(&T)) -> Result<(), Failure> {
    if json {
        print_json(report)
    } else {
        text(report);
        Ok(())
    }
}

/// Commands that need no backend.
fn run_offline(cli: &Cli) -> Option<Result<(), Failure>> {
    match &cli.command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "fpgactl", &mut out);
            Some(write_stdout(&out))
        }
        Command::Man { dir } => Some(write_man(dir)),
        Command::Schemas { dir } => Some(report::write_schemas(dir)),
        Command::SimImage { out, size, partial } => {
            Some(load::sim_image(out, *size, *partial).and_then(|r| {
                emit(cli.json, &r, |r| {
                    outln!(
                        "wrote {} ({} bytes: a {} SIMBIT image with {size} payload bytes)",
                        output::esc(&r.file),
                        r.bytes,
                        if r.partial { "partial" } else { "full" }
                    )
                })
            }))
        }
        _ => None,
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_all(bytes).and_then(|()| o.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(
            devlink_core::ErrorKind::Io,
            format!("writing the output: {e}"),
        )),
    }
}

fn write_man(dir: &std::path::Path) -> Result<(), Failure> {
    let io = |e: std::io::Error| {
        Failure::new(
            devlink_core::ErrorKind::of_io(&e),
            format!("writing man pages into {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(io)?;
    outln!(
        "man pages written into {}",
        output::esc(&dir.display().to_string())
    );
    Ok(())
}

/// Every command but the offline ones, on any backend.
fn run_on<B: Backend>(b: &mut B, cli: &Cli, cancel: Option<&Cancel>) -> Result<(), Failure> {
    let json = cli.json;
    let timeout = drive::timeout_arg(cli.step_timeout)?;
    match &cli.command {
        Command::List => emit(json, &inspect::list(b)?, render::list),
        Command::Show { name } => emit(json, &inspect::show(b, name)?, render::show),
        Command::Links { format, svg } => {
            let r = inspect::links(b, svg.as_deref())?;
            match (json, format) {
                (true, _) | (false, Format::Json) => print_json(&r),
                (false, Format::Dot) => {
                    outln!("{}", render::dot(&r.links).trim_end());
                    Ok(())
                }
                (false, Format::Table) => {
                    render::links_table(&r);
                    Ok(())
                }
            }
        }
        Command::Why { device } => emit(json, &inspect::why(b, device)?, render::why),
        Command::Order {
            device, teardown, ..
        } => emit(json, &inspect::order(b, device, *teardown)?, render::order),
        Command::Unbind { device } => {
            emit(json, &drive::unbind(b, device, timeout)?, render::unbind)
        }
        Command::Bind { device } => emit(json, &drive::bind(b, device)?, render::bind),
        Command::WaitRemoval { timeout } => emit(
            json,
            &drive::wait_removal(b, drive::timeout_arg(*timeout)?)?,
            render::wait,
        ),
        Command::Program {
            target,
            image,
            partial,
            dry_run,
            force,
            manager,
            raw,
            if_changed,
        } => {
            let args = load::LoadArgs {
                overlay: None,
                target,
                image,
                partial: *partial,
                force: *force,
                dry_run: *dry_run,
                raw: *raw,
                if_changed: *if_changed,
                manager: manager.as_deref(),
                timeout,
                quiet: json,
                cancel: cancel.cloned(),
            };
            emit(json, &load::program(b, &args)?, render::program)
        }
        Command::Reprogram {
            region,
            image,
            partial,
            force,
            manager,
            raw,
            overlay,
            slot,
            replace,
        } => {
            let args = load::LoadArgs {
                overlay: overlay.as_deref().map(|file| load::OverlayArgs {
                    file,
                    slot: slot.as_deref(),
                    replace,
                }),
                target: region,
                image,
                partial: *partial,
                force: *force,
                dry_run: false,
                raw: *raw,
                if_changed: false,
                manager: manager.as_deref(),
                timeout,
                quiet: json,
                cancel: cancel.cloned(),
            };
            emit(json, &load::reprogram(b, &args)?, render::reprogram)
        }
        Command::Image { file } => emit(json, &image::image(b, file)?, render::image),
        Command::Recover { manager, force } => emit(
            json,
            &recover::recover(b, manager.as_deref(), *force)?,
            render::recover,
        ),
        Command::Demo => Err(backend::unsupported(
            b.name(),
            "demo",
            "the demo runs on the simulator",
            "run `fpgactl demo` without --backend",
        )),
        Command::Completions { .. }
        | Command::Man { .. }
        | Command::Schemas { .. }
        | Command::SimImage { .. } => Ok(()),
    }
}

/// The stop flag the signal handlers set.
type Cancel = std::sync::Arc<std::sync::atomic::AtomicBool>;

fn run(cli: &Cli, cancel: Option<&Cancel>) -> Result<(), Failure> {
    if let Some(r) = run_offline(cli) {
        return r;
    }
    backend::check_flags(cli)?;
    let timeout = drive::timeout_arg(cli.step_timeout)?;
    match cli.backend {
        BackendKind::Sim => {
            let mut b = SimBackend::open(cli.scenario.as_deref())?;
            if matches!(cli.command, Command::Demo) {
                return demo::demo(&b, cli.json);
            }
            run_on(&mut b, cli, cancel)
        }
        BackendKind::Sysfs => run_on(
            &mut SysfsBackend::open(cli.root.as_deref(), timeout),
            cli,
            cancel,
        ),
        BackendKind::Uio => run_on(&mut UioBackend::open(cli.root.as_deref())?, cli, cancel),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only the sequences that change the system take signals as "stop at
    // a safe point"; everything else dies on them as usual.
    let signals = matches!(
        cli.command,
        Command::Program { .. } | Command::Reprogram { .. }
    )
    .then(signals::install);
    let result = run(&cli, signals.as_ref().map(|s| &s.stop));
    if let Some(sig) = signals.as_ref().and_then(signals::Signals::received) {
        if let Err(f) = &result {
            output::err_line(format_args!("fpgactl: error: {}", output::esc(&f.message)));
        }
        output::err_line(format_args!(
            "fpgactl: stopped by {}: everything taken down before the load was brought back; a load that had begun was finished",
            signals::name(sig)
        ));
        output::flush();
        return ExitCode::from(u8::try_from(128 + sig).unwrap_or(1));
    }
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if cli.json {
                // Scripts read the failure from standard output too; a
                // closed output cannot change the exit code.
                let _ = print_json(&f.report());
            }
            output::err_line(format_args!("fpgactl: error: {}", output::esc(&f.message)));
            if let Some(h) = &f.hint {
                output::err_line(format_args!("fpgactl: hint: {}", output::esc(h)));
            }
            ExitCode::from(exit_code(f.kind))
        }
    };
    output::flush();
    code
}
