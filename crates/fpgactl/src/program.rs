//! Commands that load images: `program`, `reprogram`, `sim-image`, and the
//! step printer `demo` shares.

use crate::board::{check_sim_image, read_image, resolve, Object};
use crate::outln;
use crate::output::{print_json, Failure, LoadProgress};
use backend_sim::Board;
use devlink_core::ErrorKind;
use fpga_core::{FpgaManager, FpgaRegion, ImageFlags, ImageInfo, Step};
use futures::executor::block_on;
use serde_json::json;
use std::path::Path;
use std::sync::Mutex;

/// Prints each reprogram step as it happens (and records it for JSON).
pub struct StepPrinter<'a> {
    board: &'a Board,
    region: &'a FpgaRegion,
    mgr: FpgaManager,
    progress: LoadProgress,
    quiet: bool,
    /// The steps seen, for `--json`.
    pub events: Mutex<Vec<serde_json::Value>>,
}

impl<'a> StepPrinter<'a> {
    /// A printer for `region` on `board`; `quiet` records only.
    pub fn new(board: &'a Board, region: &'a FpgaRegion, quiet: bool) -> StepPrinter<'a> {
        StepPrinter {
            board,
            region,
            mgr: region.manager().manager(),
            progress: LoadProgress::new(quiet),
            quiet,
            events: Mutex::new(Vec::new()),
        }
    }

    fn line(&self, step: &Step) -> Option<String> {
        let (board, mgr, region) = (self.board, &self.mgr, self.region);
        Some(match step {
            Step::RegionHeld => format!("   hold   {}", region.device()),
            Step::ManagerLocked => format!(
                "   lock   {} (owner module {} pinned {} time(s))",
                mgr.device(),
                board.fpga_module.name(),
                board.fpga_module.pins()
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
            Step::Loading { written, total } => {
                self.progress.update(*written, *total);
                return None;
            }
            Step::Loaded => {
                self.progress.finish();
                format!("   loaded: {} is {}", mgr.device(), mgr.state())
            }
            Step::BridgesEnabled => "   bridges enabled".to_string(),
            Step::Released => format!("   unlock {}, release {}", mgr.device(), region.device()),
            Step::Bind { device, bound } => format!(
                "   bind   {device:<26} -> {}",
                if *bound { "bound" } else { "NOT bound" }
            ),
            other => format!("   {other:?}"),
        })
    }
}

impl fpga_core::Observer for StepPrinter<'_> {
    fn step(&self, step: &Step) {
        if !matches!(step, Step::Loading { .. }) {
            self.events
                .lock()
                .expect("not poisoned")
                .push(json!({"step": format!("{step:?}")}));
        }
        if let Some(line) = self.line(step) {
            if !self.quiet {
                outln!("{line}");
            }
        }
    }
}

/// Reads and checks an image, and builds its info.
fn image_info(path: &Path, partial: bool) -> Result<(ImageInfo, usize), Failure> {
    let bytes = read_image(path)?;
    check_sim_image(path, &bytes)?;
    let header = backend_sim::parse_sim_header(&bytes).expect("checked");
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
    let len = bytes.len();
    let mut info = ImageInfo::from_buffer(bytes);
    if partial {
        info.flags |= ImageFlags::PARTIAL_RECONFIG;
    }
    Ok((info, len))
}

fn state_report(mgr: &FpgaManager) -> (String, Vec<String>) {
    let status = block_on(mgr.sysfs_status())
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_else(|e| vec![format!("(unreadable: {e})")]);
    (mgr.sysfs_state().trim_end().to_string(), status)
}

fn status_text(status: &[String]) -> String {
    if status.is_empty() {
        "no error bits".into()
    } else {
        status.join(", ")
    }
}

/// Where in `board.held` the lock on `mgr` is (the scenario's `held_by`).
fn lock_holder(board: &Board, mgr: &FpgaManager) -> Option<usize> {
    board
        .held
        .iter()
        .position(|h| h.lock.manager().id() == mgr.id())
}

fn locked(mgr: &FpgaManager, holder: &str) -> Failure {
    Failure::new(
        ErrorKind::Busy,
        format!("{}: locked by {holder}", mgr.device().name()),
    )
    .hint("wait for it to finish, or pass --force to break a stale lock")
}

/// Refuses a manager someone holds, unless `force` (which breaks the lock).
fn check_lock(
    board: &mut Board,
    mgr: &FpgaManager,
    force: bool,
    quiet: bool,
) -> Result<(), Failure> {
    let Some(pos) = lock_holder(board, mgr) else {
        return Ok(());
    };
    let holder = board.held[pos].holder.clone();
    if !force {
        return Err(locked(mgr, &holder));
    }
    drop(board.held.remove(pos));
    if !quiet {
        outln!(
            "warning: broke the lock {holder} held on {}",
            mgr.device().name()
        );
    }
    Ok(())
}

fn bound_dependents(board: &Board, region: &FpgaRegion) -> Vec<String> {
    board
        .core
        .dependents(region.parent())
        .iter()
        .filter(|d| d.driver_name().is_some())
        .map(ToString::to_string)
        .collect()
}

/// `program TARGET IMAGE`.
pub fn program(
    board: &mut Board,
    target: &str,
    image: &Path,
    partial: bool,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let (mgr, region) = match resolve(board, target)? {
        Object::Manager(i) => (board.managers[i].0.clone(), None),
        Object::Region(i) => {
            let r = board.regions[i].clone();
            (r.manager().manager(), Some(r))
        }
        Object::Bridge(_) | Object::Device(_) => {
            let managers: Vec<String> = board
                .managers
                .iter()
                .map(|(m, _)| m.device().name().to_string())
                .chain(board.regions.iter().map(|r| r.device().name().to_string()))
                .collect();
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!("{target} is not an FPGA manager or region"),
            )
            .hint(format!("program one of: {}", managers.join(", "))));
        }
    };
    let (info, len) = image_info(image, partial)?;
    // Devices using the logic about to be replaced must be down first.
    let users: Vec<&FpgaRegion> = match &region {
        Some(r) => vec![r],
        None => board
            .regions
            .iter()
            .filter(|r| r.manager().device() == mgr.device())
            .collect(),
    };
    for r in users {
        let bound = bound_dependents(board, r);
        if !bound.is_empty() && !force {
            return Err(Failure::new(
                ErrorKind::Busy,
                format!(
                    "{} has {} bound dependent(s): {}",
                    r.device().name(),
                    bound.len(),
                    bound.join(", ")
                ),
            )
            .hint(format!(
                "use `fpgactl reprogram {} {}` to take them down and back up safely, or --force",
                r.device().name(),
                image.display()
            )));
        }
    }
    let what = region
        .as_ref()
        .map_or(mgr.device().name(), |r| r.device().name())
        .to_string();
    if dry_run {
        // Report a lock without breaking it.
        if let (Some(pos), false) = (lock_holder(board, &mgr), force) {
            return Err(locked(&mgr, &board.held[pos].holder));
        }
        if as_json {
            print_json(
                &json!({"target": what, "dry_run": true, "bytes": len, "partial": partial, "manager": mgr.device().name(), "state": mgr.sysfs_state().trim_end()}),
            );
        } else {
            outln!(
                "dry run: would load {len} bytes ({}) into {what} through {} ({}); nothing was changed",
                if partial { "partial" } else { "full" },
                mgr.device().name(),
                mgr.state()
            );
        }
        return Ok(());
    }
    check_lock(board, &mgr, force, as_json)?;
    if !as_json {
        outln!("programming {what} with {} ({len} bytes)", image.display());
    }
    let result = match &region {
        Some(r) => {
            let printer = StepPrinter::new(board, r, as_json);
            r.set_info(Some(info));
            let res = block_on(r.program_observed(&printer));
            r.set_info(None);
            // Bridges got for the load stay held only while programmed.
            r.put_bridges();
            res
        }
        None => {
            let progress = LoadProgress::new(as_json);
            let res = board.fpga.mgr_get(mgr.parent()).and_then(|m| {
                let lock = m.lock()?;
                let mut info = info;
                block_on(lock.load_with_progress(&mut info, &|w, t| progress.update(w, t)))
            });
            progress.finish();
            res
        }
    };
    let (state, status) = state_report(&mgr);
    match result {
        Ok(()) => {
            if as_json {
                print_json(
                    &json!({"target": what, "bytes": len, "state": state, "status": status}),
                );
            } else {
                outln!(
                    "done: {} is {state} ({})",
                    mgr.device().name(),
                    status_text(&status)
                );
            }
            Ok(())
        }
        Err(e) => Err(Failure::new(
            e.kind(),
            format!(
                "programming {what} failed: {e}; {} is now {state} ({})",
                mgr.device().name(),
                status_text(&status)
            ),
        )
        .hint("check the image with `fpgactl program --dry-run`, then retry")),
    }
}

/// `reprogram REGION IMAGE`.
pub fn reprogram(
    board: &mut Board,
    region: &str,
    image: &Path,
    partial: bool,
    force: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let Object::Region(i) = resolve(board, region)? else {
        let regions: Vec<String> = board
            .regions
            .iter()
            .map(|r| r.device().name().to_string())
            .collect();
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("{region} is not an FPGA region"),
        )
        .hint(format!("regions: {}", regions.join(", "))));
    };
    let r = board.regions[i].clone();
    let (info, len) = image_info(image, partial)?;
    check_lock(board, &r.manager().manager(), force, as_json)?;
    if !as_json {
        outln!(
            "reprogramming {} with {} ({len} bytes)",
            r.device().name(),
            image.display()
        );
    }
    let printer = StepPrinter::new(board, &r, as_json);
    let report = block_on(fpga_core::reprogram(&r, info, &printer));
    let mgr = r.manager().manager();
    let (state, status) = state_report(&mgr);
    match report {
        Ok(rep) => {
            if as_json {
                let mut events = printer.events.lock().expect("not poisoned").clone();
                events.push(json!({"step": "done", "rebound": rep.rebound, "not_rebound": rep.not_rebound, "releases": rep.releases, "state": state, "status": status}));
                print_json(&serde_json::Value::Array(events));
            } else {
                outln!(
                    "done: {} dependent(s) rebound{}; {} is {state} ({})",
                    rep.rebound.len(),
                    if rep.not_rebound.is_empty() {
                        String::new()
                    } else {
                        format!(", NOT rebound: {}", rep.not_rebound.join(", "))
                    },
                    mgr.device().name(),
                    status_text(&status)
                );
            }
            Ok(())
        }
        Err(e) => Err(
            Failure::new(e.kind(), e.to_string()).hint(if e.left_unbound.is_empty() {
                "nothing was left down; fix the cause and retry".to_string()
            } else {
                format!(
                    "bring them back with `fpgactl bind DEVICE` once the region is programmed: {}",
                    e.left_unbound.join(", ")
                )
            }),
        ),
    }
}

/// `sim-image OUT`.
pub fn sim_image(out: &Path, size: usize, partial: bool, as_json: bool) -> Result<(), Failure> {
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let image = backend_sim::sim_image(&payload, partial);
    std::fs::write(out, &image).map_err(|e| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NoDevice,
            _ => ErrorKind::Io,
        };
        Failure::new(kind, format!("writing {}: {e}", out.display()))
    })?;
    if as_json {
        print_json(
            &json!({"file": out.display().to_string(), "bytes": image.len(), "payload": size, "partial": partial}),
        );
    } else {
        outln!(
            "wrote {} ({} bytes: a {} SIMBIT image with {size} payload bytes)",
            out.display(),
            image.len(),
            if partial { "partial" } else { "full" }
        );
    }
    Ok(())
}
