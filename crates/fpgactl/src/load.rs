//! `program` and `reprogram`, written once over [`Backend`] and the one
//! reprogram engine; `sim-image`; reading image files (bounded, regular
//! files only); and the step printer.

use crate::backend::{Backend, LoadRequest};
use crate::outln;
use crate::output::{esc, Failure, LoadProgress};
use crate::report::{Changed, NotRebound, ProgramReport, ReprogramReport};
use devlink_core::ErrorKind;
use fpga_core::{ImageFlags, ImageLoader, ReprogramError, ReprogramOptions, Step};
use futures::executor::block_on;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest image file read: 1 GiB (the largest FPGA bitstreams are a
/// few hundred MiB).
pub const MAX_IMAGE: u64 = 1 << 30;

/// Reads an image file: it must be a regular file of at most
/// [`MAX_IMAGE`] bytes (a FIFO, a device or a directory is refused
/// before it is read, so nothing can hang or fill memory).
pub fn read_image(path: &Path) -> Result<Vec<u8>, Failure> {
    let named = |e: std::io::Error| {
        Failure::new(
            ErrorKind::of_io(&e),
            format!("image {}: {e}", path.display()),
        )
    };
    let meta = std::fs::metadata(path).map_err(named)?;
    if !meta.is_file() {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("image {}: not a regular file", path.display()),
        ));
    }
    if meta.len() > MAX_IMAGE {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!(
                "image {}: {} bytes, more than the {} an image may have",
                path.display(),
                meta.len(),
                MAX_IMAGE
            ),
        ));
    }
    let f = std::fs::File::open(path).map_err(named)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_IMAGE + 1).read_to_end(&mut buf).map_err(named)?;
    if buf.len() as u64 > MAX_IMAGE {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!(
                "image {}: grew past {MAX_IMAGE} bytes while read",
                path.display()
            ),
        ));
    }
    Ok(buf)
}

/// Prints each step as it happens (unless `quiet`), and records it for
/// the JSON report.
pub struct StepPrinter {
    progress: LoadProgress,
    quiet: bool,
    /// The steps seen (loading progress left out).
    pub steps: Mutex<Vec<Step>>,
    /// The test hook's step and count (see [`STOP_AT`]).
    stop_at: Option<(String, usize)>,
}

/// A test hook: with `FPGA_DEVLINK_TEST_STOP_AT=STEP[:N]` (a step's JSON
/// name, `unbind:2` for the second unbind), the process stops itself
/// (`SIGSTOP`) as the N-th such step is reported, so a test can kill it
/// exactly there, without timing guesses, and check what the next run
/// recovers.
pub const STOP_AT: &str = "FPGA_DEVLINK_TEST_STOP_AT";

impl StepPrinter {
    /// A printer; `quiet` records only.
    pub fn new(quiet: bool) -> StepPrinter {
        let stop_at = std::env::var(STOP_AT)
            .ok()
            .map(|v| match v.split_once(':') {
                Some((step, n)) => (step.to_string(), n.parse().unwrap_or(1)),
                None => (v, 1),
            });
        StepPrinter {
            progress: LoadProgress::new(quiet),
            quiet,
            steps: Mutex::new(Vec::new()),
            stop_at,
        }
    }

    /// The steps seen.
    pub fn take(&self) -> Vec<Step> {
        std::mem::take(&mut *self.steps.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// One step as a line, the same on every backend.
    pub fn line(step: &Step) -> Option<String> {
        Some(match step {
            Step::RegionHeld { region } => format!("   hold   {}", esc(region)),
            Step::ManagerLocked { manager } => format!("   lock   {}", esc(manager)),
            Step::Staged { file, bytes } => {
                format!("   staged {} ({bytes} bytes) in the firmware directory", esc(file))
            }
            Step::Unbind { device } => format!("   unbind {}", esc(device)),
            Step::OverlayRemoved { slot } => format!("   remove overlay {}", esc(slot)),
            Step::WaitRemoval { releases, waited_ms } => match releases {
                Some(n) => format!(
                    "   wait_removal: the teardown queued {n} link release(s); all have run ({waited_ms} ms)"
                ),
                None => format!("   wait_removal: every link of the dependents at rest ({waited_ms} ms)"),
            },
            Step::LeakCheck {
                devices,
                references: true,
            } => format!("   leak check: no dependent kept a reference ({devices} checked)"),
            Step::LeakCheck { devices, .. } => {
                format!("   leak check: {devices} dependent(s) down and settled")
            }
            Step::BridgesGot { count } => format!("   bridges: {count} held"),
            Step::BridgesDisabled => "   bridges disabled".to_string(),
            Step::Loading { .. } => return None,
            Step::OverlayApplied { slot } => format!("   overlay {} applied", esc(slot)),
            Step::Loaded { state } => format!("   loaded: the manager is {state}"),
            Step::BridgesEnabled => "   bridges enabled".to_string(),
            Step::Released => "   released the manager and the region".to_string(),
            Step::Bind { device, bound: true, .. } => format!("   bind   {:<26} -> bound", esc(device)),
            Step::Bind { device, why, .. } => format!(
                "   bind   {:<26} -> NOT bound ({})",
                esc(device),
                esc(why.as_deref().unwrap_or("?"))
            ),
            other => format!("   {other:?}"),
        })
    }
}

impl fpga_core::Observer for StepPrinter {
    fn step(&self, step: &Step) {
        if let Step::Loading { written, total } = step {
            self.progress.update(*written, *total);
            return;
        }
        if matches!(step, Step::Loaded { .. }) {
            self.progress.finish();
        }
        let seen = {
            let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
            steps.push(step.clone());
            steps.clone()
        };
        if !self.quiet {
            if let Some(line) = Self::line(step) {
                outln!("{line}");
            }
        }
        if let Some((name, n)) = &self.stop_at {
            let tag = |s: &Step| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v["step"].as_str().map(str::to_string))
            };
            if tag(step).as_deref() == Some(name.as_str())
                && seen
                    .iter()
                    .filter(|s| tag(s).as_deref() == Some(name.as_str()))
                    .count()
                    == *n
            {
                crate::output::flush();
                let _ = signal_hook::low_level::raise(signal_hook::consts::SIGSTOP);
            }
        }
    }
}

/// `reprogram --overlay`: what the command line says of the overlay.
pub struct OverlayArgs<'a> {
    /// The `.dtbo` file.
    pub file: &'a Path,
    /// `--slot`.
    pub slot: Option<&'a str>,
    /// `--replace` (empty: the backend's default).
    pub replace: &'a [String],
}

/// What `program` and `reprogram` are told.
pub struct LoadArgs<'a> {
    /// `--overlay` (reprogram only).
    pub overlay: Option<OverlayArgs<'a>>,
    /// The target.
    pub target: &'a str,
    /// The image file.
    pub image: &'a Path,
    /// `--partial`.
    pub partial: bool,
    /// `--force`.
    pub force: bool,
    /// `--dry-run` (program only).
    pub dry_run: bool,
    /// `--raw`: pass the file on unchecked and unconverted.
    pub raw: bool,
    /// `--if-changed` (program only).
    pub if_changed: bool,
    /// `--manager` (which manager programs a region).
    pub manager: Option<&'a str>,
    /// The bound of each wait.
    pub timeout: Duration,
    /// JSON output (no step lines).
    pub quiet: bool,
    /// Set by a signal: stop at the next safe point.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The largest overlay blob read (the vendor configfs interface takes at
/// most 1 MiB through `dtbo`).
pub const MAX_OVERLAY: u64 = 1 << 20;

fn request<'a>(args: &LoadArgs<'a>) -> Result<LoadRequest<'a>, Failure> {
    let overlay = match &args.overlay {
        None => None,
        Some(o) => {
            let dtbo = read_image(o.file)?;
            if dtbo.len() as u64 > MAX_OVERLAY {
                return Err(Failure::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "overlay {}: {} bytes, more than the {MAX_OVERLAY} an overlay may have",
                        o.file.display(),
                        dtbo.len()
                    ),
                ));
            }
            Some(crate::backend::OverlayRequest {
                file: o.file.to_path_buf(),
                dtbo,
                slot: o.slot.map(str::to_string),
                replace: o.replace.to_vec(),
            })
        }
    };
    Ok(LoadRequest {
        overlay,
        image: args.image,
        bytes: read_image(args.image)?,
        raw: args.raw,
        identity: None,
        flags: if args.partial {
            ImageFlags::PARTIAL_RECONFIG
        } else {
            ImageFlags::empty()
        },
    })
}

/// The backend's check of the image; what it converted replaces the
/// bytes that will be loaded.
fn checked<B: Backend>(
    b: &B,
    req: &mut LoadRequest<'_>,
    manager: Option<&fpga_core::ManagerView>,
) -> Result<crate::backend::CheckedImage, Failure> {
    let mut image = b.check_image(req, manager)?;
    req.identity = Some(fpga_core::ImageIdentity {
        name: req.image.display().to_string(),
        sha256: image.sha256.clone(),
        bytes: image.file_bytes,
    });
    if let Some(bytes) = image.load_bytes.take() {
        req.bytes = bytes;
    }
    Ok(image)
}

fn with_manager(mut t: crate::backend::Target, manager: Option<&str>) -> crate::backend::Target {
    if let Some(m) = manager {
        t.target.manager = m.to_string();
    }
    t
}

fn engine_failure(e: ReprogramError) -> Failure {
    let hint = if e.left_unbound.is_empty() {
        "nothing was left down; fix the cause and retry".to_string()
    } else {
        format!(
            "the dependents were left down on purpose; once the FPGA is loaded, bind them again with `fpgactl bind`: {}",
            e.left_unbound_keys().join(", ")
        )
    };
    let mut f = Failure::from_error(&e).hint(hint);
    f.program = Some(Box::new(crate::report::ProgramFailure::of(&e)));
    f
}

fn status_lines(s: fpga_core::MgrStatus) -> Vec<String> {
    s.sysfs().lines().map(str::to_string).collect()
}

/// `program TARGET IMAGE`.
pub fn program<B: Backend>(b: &mut B, args: &LoadArgs<'_>) -> Result<ProgramReport, Failure> {
    b.supports("program")?;
    let view = b.fpga()?;
    let target = with_manager(b.resolve_target(&view, args.target)?, args.manager);
    let mut req = request(args)?;
    let image = checked(b, &mut req, view.manager(&target.target.manager))?;
    // What an interrupted earlier run left is finished first (never in a
    // dry run, which changes nothing).
    let mut recovered = if args.dry_run {
        Vec::new()
    } else {
        crate::recover::before_load(b, &target.target.manager)?
    };
    let image_row = image.row(args.image);
    if args.if_changed {
        let loaded = view
            .manager(&target.target.manager)
            .and_then(|m| m.loaded.as_ref());
        if loaded.is_some_and(|l| l.image.sha256 == image.sha256 && l.flags == req.flags.bits()) {
            let (state, status) = view
                .manager(&target.target.manager)
                .map_or((fpga_core::MgrState::Unknown, None), |m| {
                    (m.state, m.status)
                });
            return Ok(ProgramReport {
                target: target.target.name.clone(),
                manager: target.target.manager.clone(),
                image: image_row,
                dry_run: args.dry_run,
                unchanged: true,
                state: state.sysfs().to_string(),
                status: status.map(status_lines).unwrap_or_default(),
                elapsed_ms: 0,
                steps: Vec::new(),
                recovered,
            });
        }
    }
    if args.force {
        if let Some(holder) = b.break_lock(&target.target.manager)? {
            crate::output::err_line(format_args!(
                "fpgactl: warning: broke the lock {holder} held on {}",
                target.target.manager
            ));
        }
    }
    let loader = b.loader(&target.target, &req)?;
    let printer = StepPrinter::new(args.quiet);
    let started = Instant::now();
    if args.dry_run {
        // Every precondition, nothing changed: the bound users first (as
        // a load would), then the loader's own checks.
        if !args.force {
            let t = crate::inspect::topology(b)?;
            let bound = fpga_core::engine::bound_users(&t, &target.target)?;
            if !bound.is_empty() {
                return Err(bound_users_failure(args, &target.target.name, &bound));
            }
        }
        block_on(loader.check())?;
        let (state, status) = block_on(loader.state())
            .unwrap_or((fpga_core::MgrState::Unknown, fpga_core::MgrStatus::empty()));
        return Ok(ProgramReport {
            target: target.target.name.clone(),
            manager: target.target.manager.clone(),
            image: image_row,
            dry_run: true,
            unchanged: false,
            state: state.sysfs().to_string(),
            status: status_lines(status),
            elapsed_ms: 0,
            steps: Vec::new(),
            recovered,
        });
    }
    let loaded = block_on(fpga_core::program(b.model(), &loader, args.force, &printer));
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) if e.stage == fpga_core::Stage::Check && e.kind() == ErrorKind::Busy => {
            let mut f = engine_failure(e);
            f.hint = Some(format!(
                "use `fpgactl reprogram {} {}` to take them down and back up safely, or --force",
                target.target.name,
                args.image.display()
            ));
            return Err(f);
        }
        Err(e) => return Err(engine_failure(e)),
    };
    // Users an interrupted load left down come back once a load is good.
    if recovered.iter().any(|r| r.left_down.is_some()) {
        recovered.extend(crate::recover::before_load(b, &target.target.manager)?);
    }
    Ok(ProgramReport {
        target: target.target.name.clone(),
        manager: target.target.manager.clone(),
        image: image_row,
        dry_run: false,
        unchanged: false,
        state: loaded.state.sysfs().to_string(),
        status: status_lines(loaded.status),
        elapsed_ms: devlink_core::drive::duration_ms(started.elapsed()),
        steps: printer.take(),
        recovered,
    })
}

fn bound_users_failure(args: &LoadArgs<'_>, target: &str, bound: &[String]) -> Failure {
    Failure::new(
        ErrorKind::Busy,
        format!(
            "{target} has {} bound user(s) of the logic being replaced: {}",
            bound.len(),
            bound.join(", ")
        ),
    )
    .hint(format!(
        "use `fpgactl reprogram {target} {}` to take them down and back up safely, or --force",
        args.image.display()
    ))
}

/// `reprogram REGION IMAGE`.
pub fn reprogram<B: Backend>(b: &mut B, args: &LoadArgs<'_>) -> Result<ReprogramReport, Failure> {
    b.supports("reprogram")?;
    if args.overlay.is_some() {
        b.supports("reprogram --overlay")?;
    }
    let view = b.fpga()?;
    let target = with_manager(b.resolve_target(&view, args.target)?, args.manager);
    if !target.region {
        let regions: Vec<String> = view.regions.iter().map(|r| r.dev.clone()).collect();
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("{} is not an FPGA region", args.target),
        )
        .hint(if regions.is_empty() {
            "this system has no FPGA region; `program` loads a manager".to_string()
        } else {
            format!("regions: {}", regions.join(", "))
        }));
    }
    let mut req = request(args)?;
    let image = checked(b, &mut req, view.manager(&target.target.manager))?;
    let mut recovered = crate::recover::before_load(b, &target.target.manager)?;
    if args.force {
        if let Some(holder) = b.break_lock(&target.target.manager)? {
            crate::output::err_line(format_args!(
                "fpgactl: warning: broke the lock {holder} held on {}",
                target.target.manager
            ));
        }
    }
    let loader = b.loader(&target.target, &req)?;
    let printer = StepPrinter::new(args.quiet);
    let started = Instant::now();
    let opts = ReprogramOptions {
        timeout: args.timeout,
        journal: b.journal(&target.target.manager),
        cancel: args.cancel.clone(),
    };
    let rep = block_on(fpga_core::reprogram(b.model(), &loader, &opts, &printer))
        .map_err(engine_failure)?;
    if recovered.iter().any(|r| r.left_down.is_some()) {
        recovered.extend(crate::recover::before_load(b, &target.target.manager)?);
    }
    Ok(ReprogramReport {
        region: target.target.name.clone(),
        manager: target.target.manager.clone(),
        image: image.row(args.image),
        unbound: rep
            .unbound
            .iter()
            .map(|u| Changed {
                device: u.key.clone(),
                driver: u.driver.clone(),
            })
            .collect(),
        rebound: rep.rebound.bound.iter().map(|u| u.key.clone()).collect(),
        not_rebound: rep
            .rebound
            .not_bound
            .iter()
            .map(|(u, why)| NotRebound {
                device: u.key.clone(),
                why: why.clone(),
            })
            .collect(),
        releases: rep.releases,
        state: rep.loaded.state.sysfs().to_string(),
        status: status_lines(rep.loaded.status),
        elapsed_ms: devlink_core::drive::duration_ms(started.elapsed()),
        steps: printer.take(),
        recovered,
    })
}

/// The largest payload `sim-image` writes: a SIMBIT header's length field
/// is 32 bits.
pub const MAX_SIM_PAYLOAD: u64 = u32::MAX as u64;

/// `sim-image OUT`.
pub fn sim_image(out: &Path, size: u64, partial: bool) -> Result<crate::report::ImageRow, Failure> {
    if size > MAX_SIM_PAYLOAD || size > MAX_IMAGE {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!(
                "--size {size}: at most {} bytes",
                MAX_SIM_PAYLOAD.min(MAX_IMAGE)
            ),
        ));
    }
    let size = size as usize;
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let image = backend_sim::sim_image(&payload, partial);
    std::fs::write(out, &image).map_err(|e| {
        Failure::new(
            ErrorKind::of_io(&e),
            format!("writing {}: {e}", out.display()),
        )
    })?;
    Ok(crate::report::ImageRow {
        file: out.display().to_string(),
        bytes: image.len() as u64,
        format: "simbit".into(),
        partial,
        sha256: fpga_image::sha256_hex(&image),
        converted: None,
    })
}
