//! `lab-guest`: the checks of the real-kernel lab, run inside a QEMU guest
//! booted by `cargo xtask lab` (see `docs/real-kernel.md`).
//!
//! Every check prints one line on the serial console,
//! `LAB-RESULT <name> ok` or `LAB-RESULT <name> FAIL <reason>`, optionally
//! preceded by `LAB-DETAIL <name> <text>` lines (side-by-side views of a
//! mismatch, for instance); the run ends with
//! `LAB-SUMMARY passed=<n> failed=<m>`. The xtask parses these lines.
//!
//! Sections (all by default, or the ones named on the command line):
//! `scenarios [DIR]` (differential device-link scenarios, default
//! `/lab/scenarios`), `fpga` (the fake FPGA stack and the `firmware`
//! attribute), `kunit` (the kernel's FPGA KUnit cases), `uio` (QEMU's `edu`
//! device through `uio_pci_generic`), `live` (the sysfs reader on the whole
//! live `/sys`), `drive` (the sysfs backend's bind/unbind and waits),
//! `fpgactl` (the `fpgactl` binary, `--backend sysfs`, as a subprocess),
//! `conformance` (the conformance suite of `crates/conformance` on the real
//! kernel: the matrix's Linux column), `overlay` (device-tree overlays
//! through configfs, of-fpga-region, the seed sequence, b48/b49, `fpgactl
//! reprogram --overlay`). `stock NAME` alone, on a stock
//! distribution kernel: the read commands against `ls`/`cat`/`readlink`,
//! and a capture of the tree.

mod conform;
mod downtime;
mod drive;
mod fpga;
mod fpgactl;
mod kernel;
mod of_diff;
mod overlay;
mod scenario;
mod sim;
mod stock;
mod uio;
mod view;

use std::io::Write;

/// Collects results and prints them in the parseable form.
#[derive(Default)]
pub struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    /// Prints `details` and the result line of check `name`.
    pub fn result(&mut self, name: &str, outcome: Result<(), String>, details: &[String]) {
        let mut out = std::io::stdout().lock();
        for d in details {
            let _ = writeln!(out, "LAB-DETAIL {name} {d}");
        }
        match outcome {
            Ok(()) => {
                self.passed += 1;
                let _ = writeln!(out, "LAB-RESULT {name} ok");
            }
            Err(why) => {
                self.failed += 1;
                let why = why.replace('\n', " / ");
                let _ = writeln!(out, "LAB-RESULT {name} FAIL {why}");
            }
        }
        let _ = out.flush();
    }

    /// A check without details.
    pub fn check(&mut self, name: &str, outcome: Result<(), String>) {
        self.result(name, outcome, &[]);
    }
}

/// `Err` with a message unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn live(report: &mut Report) {
    use backend_linux_sysfs::{read_topology, SysfsRoot};
    let snap = read_topology(&SysfsRoot::default());
    report.check(
        "live/snapshot",
        snap.as_ref().map(|_| ()).map_err(|e| e.to_string()),
    );
    let Ok(snap) = snap else { return };
    report.check(
        "live/devices",
        ensure(
            snap.devices().len() > 5
                && snap
                    .devices()
                    .iter()
                    .any(|d| d.bus.as_deref() == Some("pci")),
            || format!("only {} devices, no PCI device", snap.devices().len()),
        ),
    );
    // waiting_for_supplier exists only on devices that have not bound.
    let bad: Vec<String> = snap
        .devices()
        .iter()
        .filter(|d| d.waiting_for_supplier.is_some() && d.is_bound())
        .map(|d| d.path.clone())
        .collect();
    report.check(
        "live/waiting_for_supplier-only-unbound",
        ensure(bad.is_empty(), || {
            format!("bound devices with waiting_for_supplier: {bad:?}")
        }),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stock = args.iter().any(|a| a == "stock");
    let want = |s: &str| !stock && (args.is_empty() || args.iter().any(|a| a == s));
    let mut report = Report::default();
    let started = std::time::Instant::now();
    if want("live") {
        live(&mut report);
    }
    if want("scenarios") {
        let dir = args
            .iter()
            .skip_while(|a| *a != "scenarios")
            .nth(1)
            .filter(|a| a.starts_with('/'))
            .cloned()
            .unwrap_or_else(|| "/lab/scenarios".into());
        scenario::run_dir(std::path::Path::new(&dir), &mut report);
    }
    if want("drive") {
        drive::run(&mut report);
    }
    if want("fpga") {
        fpga::run(&mut report);
    }
    if want("fpgactl") {
        fpgactl::run(&mut report);
    }
    if want("conformance") {
        conform::run(&mut report);
    }
    if want("kunit") {
        fpga::kunit(&mut report);
    }
    if want("uio") {
        uio::run(&mut report);
    }
    // Before the overlays (which add a second manager).
    if want("downtime") {
        downtime::run(&mut report);
    }
    // After the others: it leaves the base overlay applied (its last
    // check shows why a non-topmost slot must not be removed).
    if want("overlay") {
        overlay::run(&mut report);
    }
    // Last, so the tree is as the other sections left it.
    if want("capture") {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        stock::capture(
            &mut report,
            "capture",
            "lab-guest, the tinyconfig lab kernel",
            release.trim(),
        );
    }
    // Only when named, with the kernel's name: a stock kernel has none of
    // the lab modules the other sections need.
    if let Some(i) = args.iter().position(|a| a == "stock") {
        let name = args.get(i + 1).map(String::as_str).unwrap_or("unnamed");
        stock::run(&mut report, name);
    }
    println!(
        "LAB-SUMMARY passed={} failed={} seconds={:.1}",
        report.passed,
        report.failed,
        started.elapsed().as_secs_f64()
    );
}
