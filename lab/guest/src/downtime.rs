//! What a user waits for: how long a region's dependents are down during a
//! reprogram on the real kernel, through the library, beside a plain shell
//! script that writes the same `unbind`, `firmware` and `bind` files in the
//! same order with no waits and no checks. Also the latency of the
//! removal wait: from the kernel finishing an unbind the wait was waiting
//! for to the wait returning, and the system calls one wait makes.
//!
//! The board: `lab_devlink` devices `dt-host` (the region's host, where
//! `lab_fpga`'s stack is moved) with eight dependents, a chain `k1 <- k2 <-
//! k3 <- k4` hanging off the host and a fan-out `q1..q4` on it. Each figure
//! is the median of [`RUNS`] runs, library and script alternating.
//!
//! Printed as `LAB-FIGURE <id> <value> <unit>` lines, which `cargo xtask
//! lab --record` keeps in `docs/benchmarks/lab-history.jsonl` and `cargo
//! xtask bench` shows beside the benchmark figures. Speed is never a
//! pass/fail check here: the `LAB-RESULT` lines say only that the runs did
//! what they must.

use crate::kernel::{ctl_ok, fpga_ctl, reset};
use crate::{ensure, Report};
use backend_linux_sysfs::{FirmwareLoader, Kernel, SysfsRoot};
use devlink_core::drive::{Settle, Unbind, WaitRemoval};
use fpga_core::{ImageFlags, ReprogramOptions, Step};
use futures::executor::block_on;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs of each kind; the medians are reported.
pub const RUNS: usize = 15;
const HOST: &str = "dt-host";
const DEPS: [&str; 8] = ["k1", "k2", "k3", "k4", "q1", "q2", "q3", "q4"];

fn board() -> Result<(), String> {
    let _ = fpga_ctl("board-off");
    fpga_ctl("ok")?;
    reset()?;
    for d in ["dt-mgr", "dt-br", HOST] {
        ctl_ok(&format!("dev {d}"))?;
    }
    for d in DEPS {
        ctl_ok(&format!("dev {d}"))?;
    }
    for (c, s) in [
        ("k1", HOST),
        ("k2", "k1"),
        ("k3", "k2"),
        ("k4", "k3"),
        ("q1", HOST),
        ("q2", HOST),
        ("q3", HOST),
        ("q4", HOST),
    ] {
        ctl_ok(&format!("link {c} {s} 0"))?;
    }
    for d in ["dt-mgr", "dt-br", HOST].iter().chain(DEPS.iter()) {
        ctl_ok(&format!("bind {d}"))?;
    }
    fpga_ctl(&format!("board dt-mgr dt-br {HOST}"))
}

/// Each step's time and the library's system calls so far on this thread
/// (the engine runs on it, so the counts between two steps are that
/// stretch's).
struct Times(Mutex<Vec<(Instant, Step, u64)>>);

impl fpga_core::Observer for Times {
    fn step(&self, s: &Step) {
        let calls = backend_linux_sysfs::syscalls().total();
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), s.clone(), calls));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One reprogram through the library: the downtime (first unbind to last
/// bind) in milliseconds and the teardown order; with `show_steps`, each
/// step's time from the first unbind as `LAB-DETAIL downtime/steps`.
fn library_run(k: &Kernel, image: &[u8], show_steps: bool) -> Result<(f64, Vec<String>), String> {
    let view = k.read_fpga().map_err(|e| e.to_string())?;
    let region = view
        .regions
        .iter()
        .find(|r| r.parent.as_deref() == Some(&format!("platform:{HOST}")))
        .ok_or_else(|| format!("no region on {HOST}: {:?}", view.regions))?;
    let target = view
        .region_target(region)
        .ok_or("the region's manager is not known")?;
    let loader = FirmwareLoader::new(k, target, image.to_vec(), ImageFlags::empty(), None);
    let times = Times(Mutex::new(Vec::new()));
    let opts = ReprogramOptions {
        timeout: Duration::from_secs(10),
        ..ReprogramOptions::default()
    };
    let r = block_on(fpga_core::reprogram(k, &loader, &opts, &times)).map_err(|e| e.to_string())?;
    ensure(r.rebound.bound.len() == DEPS.len(), || {
        format!("rebound {:?}", r.rebound)
    })?;
    let t = times.0.into_inner().unwrap_or_else(|p| p.into_inner());
    let first = t
        .iter()
        .find(|(_, s, _)| matches!(s, Step::Unbind { .. }))
        .map(|(i, _, _)| *i)
        .ok_or("no unbind step")?;
    let last = t
        .iter()
        .rev()
        .find(|(_, s, _)| matches!(s, Step::Bind { .. }))
        .map(|(i, _, _)| *i)
        .ok_or("no bind step")?;
    if show_steps {
        let mut calls_before = t.first().map_or(0, |(_, _, c)| *c);
        for (i, s, calls) in &t {
            println!(
                "LAB-DETAIL downtime/steps {:8.2} ms {:4} calls {s:?}",
                (i.saturating_duration_since(first)).as_secs_f64() * 1e3,
                calls - calls_before
            );
            calls_before = *calls;
        }
    }
    let order = t
        .iter()
        .filter_map(|(_, s, _)| match s {
            Step::Unbind { device } => Some(device.trim_start_matches("platform:").to_string()),
            _ => None,
        })
        .collect();
    Ok(((last - first).as_secs_f64() * 1e3, order))
}

/// The plain sequence as a shell script: it waits on a FIFO after its
/// start-up, so the time measured is its writes only.
fn script(order: &[String], firmware: &str) -> String {
    let mut s = String::from("#!/bin/sh\nread go < /tmp/downtime.go\n");
    for d in order {
        s.push_str(&format!(
            "echo {d} > /sys/bus/platform/drivers/lab/unbind\n"
        ));
    }
    s.push_str(&format!(
        "echo {firmware} > /sys/class/fpga_manager/fpga0/firmware\n"
    ));
    for d in order.iter().rev() {
        s.push_str(&format!("echo {d} > /sys/bus/platform/drivers/lab/bind\n"));
    }
    s.push_str("echo done > /tmp/downtime.done\n");
    s
}

fn mkfifo(p: &str) -> Result<(), String> {
    let _ = std::fs::remove_file(p);
    let c = std::ffi::CString::new(p).map_err(|e| e.to_string())?;
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(format!("mkfifo {p}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn script_run() -> Result<f64, String> {
    mkfifo("/tmp/downtime.go")?;
    mkfifo("/tmp/downtime.done")?;
    let mut child = std::process::Command::new("/bin/sh")
        .arg("/tmp/downtime.sh")
        .spawn()
        .map_err(|e| e.to_string())?;
    // Opening blocks until the script opens its end: it is up.
    let mut go = std::fs::OpenOptions::new()
        .write(true)
        .open("/tmp/downtime.go")
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    go.write_all(b"go\n").map_err(|e| e.to_string())?;
    drop(go);
    let mut done = String::new();
    std::fs::File::open("/tmp/downtime.done")
        .and_then(|mut f| f.read_to_string(&mut done))
        .map_err(|e| e.to_string())?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let st = child.wait().map_err(|e| e.to_string())?;
    ensure(st.success() && done.trim() == "done", || {
        format!("script: {st}, {done:?}")
    })?;
    Ok(ms)
}

fn all_bound(k: &Kernel) -> Result<(), String> {
    let t = k.read_topology().map_err(|e| e.to_string())?;
    for d in DEPS {
        let key = format!("platform:{d}");
        ensure(t.named(&key).is_some_and(|x| x.is_bound()), || {
            format!("{key} not bound")
        })?;
    }
    Ok(())
}

/// Latency of the removal wait. A thread unbinds `dt-host` while its
/// remove callback is held (the kernel has unbound its consumers first and
/// removed the host's `driver` link just before calling remove); this
/// thread waits for the unbind to settle, with a mark taken before it as
/// the engine takes one; a third releases the hold once the wait has
/// parked (its park hook is the handshake). The kernel has finished when
/// the unbind write returns: milliseconds from then to the wait returning
/// (0 when the kernel's message woke the wait before the write returned),
/// and the wait's system calls. After each run the host must be unbound
/// with every link it supplies at rest, so a wait that returned early
/// fails. The guest has one CPU, so the figure includes the scheduler
/// handing it from the unbinding thread to the waiting one.
fn wait_latency(k: &Kernel) -> Result<(f64, u64), String> {
    let host = format!("platform:{HOST}");
    let mark = k.removal_mark();
    ctl_ok(&format!("hold {HOST}"))?;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let unbinder = {
        let (k, host) = (k.clone(), host.clone());
        std::thread::spawn(move || {
            let r = block_on(k.unbind_one(&host));
            let _ = done_tx.send(Instant::now());
            r.map(|_| ()).map_err(|e| e.to_string())
        })
    };
    // The remove callback is entered (and held) once the kernel removed
    // the `driver` link while the write has not returned.
    let driver_link = format!("/sys/bus/platform/devices/{HOST}/driver");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::symlink_metadata(&driver_link).is_ok() {
        if Instant::now() > deadline {
            let _ = ctl_ok("release");
            return Err("the host's unbind never reached its remove callback".into());
        }
        std::thread::yield_now();
    }
    // The release comes once the wait has parked (the hook is the
    // handshake: no sleep), so what is measured is the wake-up, from the
    // kernel finishing to the wait returning.
    let (parked_tx, parked_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let waiter = k.clone().with_park_hook(move || {
        let _ = parked_tx.try_send(());
    });
    let releaser = std::thread::spawn(move || {
        let parked = parked_rx.recv_timeout(Duration::from_secs(5));
        // Released whatever happened, so the unbind never stays held.
        let released = ctl_ok("release");
        parked.map_err(|_| "the wait never parked".to_string())?;
        released
    });
    // As the engine does: the mark is taken before the teardown began
    // (here: before the unbind returns), so the wait learns of the end
    // from the kernel's `unbind` message.
    let settle = Settle {
        unbound: vec![host.clone()],
        since: mark,
        ..Settle::default()
    };
    let before = backend_linux_sysfs::syscalls();
    let waited = block_on(waiter.wait_removal(&settle, Duration::from_secs(5)));
    let returned = Instant::now();
    let calls = backend_linux_sysfs::syscalls().since(&before).total();
    // Read before anything else runs: what the wait returned on.
    let after = k.read_topology().map_err(|e| e.to_string());
    releaser.join().map_err(|_| "releaser panicked")??;
    let finished = done_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    unbinder.join().map_err(|_| "unbinder panicked")??;
    waited.map_err(|e| e.to_string())?;
    let after = after?;
    let bound = after.named(&host).is_some_and(|d| d.is_bound());
    let busy: Vec<String> = after
        .links()
        .iter()
        .filter(|l| l.supplier_key == host && l.status == devlink_core::LinkState::SupplierUnbind)
        .map(|l| l.name.clone())
        .collect();
    ensure(!bound && busy.is_empty(), || {
        format!("the wait returned early: host bound {bound}, links still unbinding {busy:?}")
    })?;
    let ms = returned.saturating_duration_since(finished).as_secs_f64() * 1e3;
    for d in [HOST].iter().chain(DEPS.iter()) {
        ctl_ok(&format!("bind {d}"))?;
    }
    Ok((ms, calls))
}

/// A settle wait after an unbind, with the mark taken before it, reads
/// nothing from sysfs: the kernel's `unbind` message settles it. The same
/// wait without a mark reads the device's links.
fn settle_from_uevents(k: &Kernel) -> Result<String, String> {
    let key = format!("platform:{}", DEPS[7]);
    let mark = k
        .removal_mark()
        .ok_or("no uevent socket on the lab kernel")?;
    let u = block_on(k.unbind_one(&key))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{key} was not bound"))?;
    let measured = settle_waits(k, &u, mark);
    // Bound back whatever the waits did.
    ctl_ok(&format!("bind {}", DEPS[7]))?;
    measured
}

/// The two waits of [`settle_from_uevents`] for the unbound `u`.
fn settle_waits(k: &Kernel, u: &devlink_core::drive::Unbound, mark: u64) -> Result<String, String> {
    let settle = |since| Settle {
        unbound: vec![u.key.clone()],
        since,
        ..Settle::default()
    };
    let before = backend_linux_sysfs::syscalls();
    block_on(k.wait_removal(&settle(Some(mark)), Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let by_uevents = backend_linux_sysfs::syscalls().since(&before);
    let before = backend_linux_sysfs::syscalls();
    block_on(k.wait_removal(&settle(None), Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let by_reads = backend_linux_sysfs::syscalls().since(&before);
    ensure(
        by_uevents.readlink + by_uevents.getdents + by_uevents.attr_reads == 0,
        || format!("the marked wait read sysfs: {by_uevents:?}"),
    )?;
    ensure(by_reads.readlink + by_reads.attr_reads > 0, || {
        format!("the unmarked wait read nothing: {by_reads:?}")
    })?;
    Ok(format!(
        "{} system calls with the mark (none a sysfs read), {} without",
        by_uevents.total(),
        by_reads.total()
    ))
}

/// The section.
pub fn run(report: &mut Report) {
    if let Err(e) = board() {
        return report.check("downtime/board", Err(e));
    }
    let k = Kernel::new(SysfsRoot::default()).with_timeout(Duration::from_secs(10));
    let image = fpga_image::simbit::sim_image(&[0x5a; 4096], false);
    let fw = "lab-downtime.img";
    let measured = (|| {
        std::fs::write(format!("/lib/firmware/{fw}"), &image).map_err(|e| e.to_string())?;
        let (mut lib, mut sh) = (Vec::new(), Vec::new());
        for run in 0..RUNS {
            // The last run's steps (a warm one), timed, for reading where
            // time goes.
            let (ms, order) = library_run(&k, &image, run == RUNS - 1)?;
            ensure(order.len() == DEPS.len(), || format!("unbound {order:?}"))?;
            lib.push(ms);
            std::fs::write("/tmp/downtime.sh", script(&order, fw)).map_err(|e| e.to_string())?;
            sh.push(script_run()?);
            all_bound(&k)?;
        }
        Ok::<_, String>((median(lib), median(sh)))
    })();
    let _ = std::fs::remove_file(format!("/lib/firmware/{fw}"));
    match measured {
        Ok((lib, sh)) => {
            println!("LAB-FIGURE downtime/library {lib:.3} ms");
            println!("LAB-FIGURE downtime/script {sh:.3} ms");
            println!("LAB-FIGURE downtime/ratio {:.3} x", lib / sh);
            report.result(
                "downtime/reprogram-8-dependents",
                Ok(()),
                &[format!(
                    "median of {RUNS}: library {lib:.2} ms, plain script {sh:.2} ms, ratio {:.2}",
                    lib / sh
                )],
            );
        }
        Err(e) => report.check("downtime/reprogram-8-dependents", Err(e)),
    }
    match settle_from_uevents(&k) {
        Ok(d) => report.result("downtime/settle-from-unbind-uevents", Ok(()), &[d]),
        Err(e) => report.check("downtime/settle-from-unbind-uevents", Err(e)),
    }
    let latency = (|| {
        let mut ms = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..RUNS {
            // Each run checks that its wait parked (the release needs the
            // park) and did not return before the kernel was done.
            let (m, c) = wait_latency(&k)?;
            ms.push(m);
            calls.push(c as f64);
        }
        Ok::<_, String>((median(ms), median(calls)))
    })();
    match latency {
        Ok((ms, calls)) => {
            println!("LAB-FIGURE wait_latency/median {ms:.3} ms");
            println!("LAB-FIGURE wait_latency/syscalls {calls:.0} calls");
            report.result(
                "downtime/removal-wait-latency",
                Ok(()),
                &[format!(
                    "median of {RUNS}: {ms:.3} ms from the kernel finishing to the wait returning, {calls:.0} system calls per wait"
                )],
            );
        }
        Err(e) => {
            let _ = ctl_ok("release");
            report.check("downtime/removal-wait-latency", Err(e))
        }
    }
    let _ = fpga_ctl("board-off");
    let _ = reset();
}
