//! `stock NAME`: the read commands on a stock distribution kernel (Debian's
//! prebuilt `linux-image-*-amd64`, booted with its own modules after a
//! udev-style coldplug by `tests/kernel/init-stock.sh`). Everything is
//! compared against what `ls`, `cat` and `readlink` of the same `/sys`
//! say, walked here independently of the backend. At the end the tree is
//! captured (`backend_linux_sysfs::capture`) and printed, gzipped and in
//! base64, between `LAB-CAPTURE-BEGIN` and `LAB-CAPTURE-END` lines, for
//! the xtask to unpack.

use crate::{ensure, Report};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const FPGACTL: &str = "/bin/fpgactl";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn fpgactl(args: &[&str]) -> Out {
    match Command::new(FPGACTL).args(args).output() {
        Ok(o) => Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Err(e) => Out {
            code: -1,
            stdout: String::new(),
            stderr: format!("cannot run {FPGACTL}: {e}"),
        },
    }
}

fn sysfs_json(args: &[&str]) -> Result<Value, String> {
    let mut all = vec!["--backend", "sysfs", "--json"];
    all.extend_from_slice(args);
    let o = fpgactl(&all);
    ensure(o.code == 0, || {
        format!("fpgactl {all:?}: exit {}: {}", o.code, o.stderr.trim())
    })?;
    serde_json::from_str(&o.stdout).map_err(|e| format!("fpgactl {all:?}: JSON: {e}"))
}

/// Every directory under `/sys/devices` with a `uevent` file, and whether
/// it has a `subsystem` link: the kernel's own list of devices, by `ls`.
fn uevent_dirs() -> BTreeMap<String, bool> {
    fn walk(dir: &Path, rel: &str, depth: usize, out: &mut BTreeMap<String, bool>) {
        if depth > 64 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut has_uevent = false;
        let mut subsystem = false;
        let mut subdirs = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                subdirs.push(name);
            } else if name == "uevent" && t.is_file() {
                has_uevent = true;
            } else if name == "subsystem" && t.is_symlink() {
                subsystem = true;
            }
        }
        // Device links are class devices of `devlink` in sysfs; they are
        // links here (checked against `ls /sys/class/devlink` below).
        if has_uevent && rel != "devices" && !rel.starts_with("devices/virtual/devlink/") {
            out.insert(rel.to_string(), subsystem);
        }
        for s in subdirs {
            walk(&dir.join(&s), &format!("{rel}/{s}"), depth + 1, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(Path::new("/sys/devices"), "devices", 0, &mut out);
    out
}

fn loaded_modules() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/modules")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The modules the xtask expects to be loaded (those the package has).
fn expected_modules() -> Vec<String> {
    std::fs::read_to_string("/lab/expect-modules")
        .unwrap_or_default()
        .split_whitespace()
        .map(|m| m.replace('-', "_"))
        .collect()
}

fn bind_edu_to_uio() -> Result<String, String> {
    for e in std::fs::read_dir("/sys/bus/pci/devices")
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let p = e.path();
        let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
        if read("vendor").trim() == "0x1234" && read("device").trim() == "0x11e8" {
            let name = e.file_name().to_string_lossy().into_owned();
            crate::kernel::write_file(p.join("driver_override"), "uio_pci_generic")
                .map_err(|e| format!("driver_override: {e}"))?;
            let _ = crate::kernel::write_file("/sys/bus/pci/drivers_probe", &name);
            return Ok(name);
        }
    }
    Err("no edu device (1234:11e8) on the PCI bus".into())
}

/// Every check of the section, on the kernel named `name` (`debian-6.1`).
pub fn run(report: &mut Report, name: &str) {
    let sec = format!("stock-{name}");
    let check = |report: &mut Report, what: &str, r: Result<(), String>, details: &[String]| {
        report.result(&format!("{sec}/{what}"), r, details);
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    check(
        report,
        "boot",
        ensure(!release.is_empty(), || {
            "no /proc/sys/kernel/osrelease".into()
        }),
        &[format!("kernel {}", release.trim())],
    );

    // The coldplug loaded a driver for every device QEMU gives.
    let loaded = loaded_modules();
    let missing: Vec<String> = expected_modules()
        .into_iter()
        .filter(|m| !loaded.contains(m))
        .collect();
    check(
        report,
        "coldplug",
        ensure(missing.is_empty(), || format!("not loaded: {missing:?}")),
        &[format!("{} modules loaded", loaded.len())],
    );

    // The files that made every command fail on stock kernels are there:
    // class attribute files beside the device symlinks.
    let attr_files: Vec<&str> = [
        "firmware/timeout",
        "net/bonding_masters",
        "zram-control/hot_add",
        "zram-control/hot_remove",
        "drm/version",
        "devcoredump/disabled",
        "gpio/export",
    ]
    .into_iter()
    .filter(|f| {
        std::fs::symlink_metadata(Path::new("/sys/class").join(f))
            .is_ok_and(|m| m.file_type().is_file())
    })
    .collect();
    check(
        report,
        "class-attribute-files-present",
        ensure(
            [
                "firmware/timeout",
                "net/bonding_masters",
                "zram-control/hot_add",
            ]
            .iter()
            .all(|f| attr_files.contains(f)),
            || format!("only {attr_files:?}"),
        ),
        &[format!("present: {attr_files:?}")],
    );

    // Every read command, text and JSON, exits 0.
    // The kernel's own list, walked before and after `list`: a device
    // counts as left out only if it was there both times.
    let dirs_before = uevent_dirs();
    let list = sysfs_json(&["list"]);
    let devices: Vec<Value> = list
        .as_ref()
        .ok()
        .and_then(|v| v["devices"].as_array().cloned())
        .unwrap_or_default();
    let key_of_path: BTreeMap<String, String> = devices
        .iter()
        .filter_map(|d| {
            Some((
                d["path"].as_str()?.to_string(),
                d["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let bound_pci = devices
        .iter()
        .find(|d| d["bus"] == "pci" && d["driver"].is_string())
        .and_then(|d| d["name"].as_str())
        .unwrap_or("pci:0000:00:00.0")
        .to_string();
    let unbound = devices
        .iter()
        .find(|d| d["bus"].is_string() && d["driver"].is_null())
        .and_then(|d| d["name"].as_str())
        .unwrap_or(&bound_pci)
        .to_string();
    let mut failures = Vec::new();
    let mut ran = 0;
    for cmd in [
        vec!["list"],
        vec!["links"],
        vec!["show", bound_pci.as_str()],
        vec!["show", unbound.as_str()],
        vec!["why", unbound.as_str()],
        vec!["why", bound_pci.as_str()],
        vec!["order", bound_pci.as_str(), "--teardown"],
        vec!["order", bound_pci.as_str(), "--bringup"],
    ] {
        for json in [false, true] {
            let mut args = vec!["--backend", "sysfs"];
            if json {
                args.push("--json");
            }
            args.extend_from_slice(&cmd);
            let o = fpgactl(&args);
            ran += 1;
            if o.code != 0 || o.stdout.is_empty() {
                failures.push(format!("{args:?}: exit {} {}", o.code, o.stderr.trim()));
            }
        }
    }
    check(
        report,
        "read-commands-exit-0",
        ensure(list.is_ok() && failures.is_empty(), || {
            format!("{:?} {failures:?}", list.as_ref().err())
        }),
        &[format!(
            "{ran} runs; show/why/order on {bound_pci} and {unbound}"
        )],
    );

    // `list` is every device the kernel shows: every directory with a
    // `uevent` and a `subsystem` link (bus and class devices), and no
    // directory without a `uevent`.
    let dirs = uevent_dirs();
    let listed: BTreeSet<&String> = key_of_path.keys().collect();
    let left_out: Vec<&String> = dirs
        .iter()
        .filter(|(p, sub)| **sub && dirs_before.contains_key(*p) && !listed.contains(p))
        .map(|(p, _)| p)
        .collect();
    let not_devices: Vec<&&String> = listed
        .iter()
        .filter(|p| !dirs.contains_key(**p) && !dirs_before.contains_key(**p))
        .collect();
    check(
        report,
        "list-is-every-device",
        ensure(
            !listed.is_empty() && left_out.is_empty() && not_devices.is_empty(),
            || {
                format!(
                    "{} left out (first: {:?}), {} listed without uevent (first: {:?})",
                    left_out.len(),
                    left_out.iter().take(5).collect::<Vec<_>>(),
                    not_devices.len(),
                    not_devices.iter().take(5).collect::<Vec<_>>()
                )
            },
        ),
        &[format!(
            "{} devices listed, {} uevent directories ({} with a subsystem)",
            listed.len(),
            dirs.len(),
            dirs.values().filter(|s| **s).count()
        )],
    );

    // Every device's parent is the nearest directory above it that is a
    // device.
    let wrong: Vec<String> = devices
        .iter()
        .filter_map(|d| {
            let path = d["path"].as_str()?;
            let mut up = Path::new(path).parent();
            let mut want = None;
            while let Some(a) = up {
                if let Some(k) = key_of_path.get(a.to_string_lossy().as_ref()) {
                    want = Some(k.clone());
                    break;
                }
                up = a.parent();
            }
            let got = d["parent"].as_str().map(str::to_string);
            (got != want).then(|| format!("{path}: {got:?}, expected {want:?}"))
        })
        .collect();
    check(
        report,
        "parents",
        ensure(wrong.is_empty(), || {
            format!("{} wrong: {:?}", wrong.len(), &wrong[..wrong.len().min(5)])
        }),
        &[],
    );

    // The links are `ls /sys/class/devlink`, with `cat status`.
    let links = sysfs_json(&["links"]);
    let r = (|| {
        let v = links.as_ref().map_err(Clone::clone)?;
        let rows = v["links"].as_array().ok_or("no links array")?;
        let mut names: Vec<String> = std::fs::read_dir("/sys/class/devlink")
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut got: Vec<String> = rows
            .iter()
            .filter_map(|l| l["name"].as_str().map(str::to_string))
            .collect();
        got.sort();
        ensure(got == names, || format!("links {got:?}, ls says {names:?}"))?;
        for l in rows {
            let name = l["name"].as_str().unwrap_or_default();
            let status = std::fs::read_to_string(format!("/sys/class/devlink/{name}/status"))
                .unwrap_or_default();
            ensure(l["status"] == status.trim(), || {
                format!("{name}: {} vs cat {status:?}", l["status"])
            })?;
            ensure(
                l["supplier"].is_string() && l["consumer"].is_string(),
                || format!("{name} has no ends: {l}"),
            )?;
        }
        Ok(rows.len())
    })();
    let n = r.as_ref().map(|n| *n).unwrap_or(0);
    check(
        report,
        "links-match-sysfs",
        r.map(|_| ()),
        &[format!("{n} links")],
    );

    // libata's link from the ATA port to the SCSI device: made before the
    // SCSI device is in sysfs, so its directory may have no ends.
    let r = (|| {
        let v = links.as_ref().map_err(Clone::clone)?;
        let rows = v["links"].as_array().ok_or("no links array")?;
        let ata = rows
            .iter()
            .find(|l| {
                l["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(":ata") && n.contains("--scsi:"))
            })
            .ok_or("no :ataN--scsi:... link (the SATA disk)")?;
        let name = ata["name"].as_str().unwrap_or_default();
        let has_ends = Path::new(&format!("/sys/class/devlink/{name}/supplier")).exists();
        ensure(ata["ends_from_name"] == !has_ends, || format!("{ata}"))?;
        ensure(
            ata["supplier"]
                .as_str()
                .is_some_and(|s| s.starts_with(":ata")),
            || format!("{ata}"),
        )?;
        Ok(format!(
            "{name}: supplier/consumer symlinks {}",
            if has_ends {
                "present"
            } else {
                "absent: ends from the name"
            }
        ))
    })();
    let detail = r.clone().unwrap_or_default();
    check(report, "ata-link", r.map(|_| ()), &[detail]);

    // A bare name several devices share names its candidates.
    let mut count: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &devices {
        if let Some(key) = d["name"].as_str() {
            let bare = key.split_once(':').map(|(_, n)| n).unwrap_or(key);
            count
                .entry(bare.to_string())
                .or_default()
                .push(key.to_string());
        }
    }
    let r = (|| {
        let (bare, keys) = count
            .iter()
            .find(|(_, k)| k.len() > 1)
            .ok_or("no bare name shared by two devices")?;
        let o = fpgactl(&["--backend", "sysfs", "show", bare]);
        ensure(o.code == 3, || {
            format!("show {bare}: exit {}: {}", o.code, o.stderr)
        })?;
        for k in keys {
            ensure(o.stderr.contains(k.as_str()), || {
                format!("show {bare}: {k} not named: {}", o.stderr)
            })?;
        }
        Ok(format!("{bare}: {keys:?}"))
    })();
    let detail = r.clone().unwrap_or_default();
    check(report, "ambiguous-name", r.map(|_| ()), &[detail]);

    // No FPGA support: said plainly, exit 0.
    let o = fpgactl(&["--backend", "sysfs", "list"]);
    check(
        report,
        "no-fpga-said-plainly",
        ensure(
            o.code == 0
                && o.stdout
                    .contains("no FPGA classes: this kernel has no FPGA support"),
            || format!("exit {}: {}", o.code, o.stdout.lines().next().unwrap_or("")),
        ),
        &[],
    );

    // UIO: the edu device through uio_pci_generic, seen by both backends.
    let r = (|| {
        let pci = bind_edu_to_uio()?;
        let o = fpgactl(&["--backend", "uio", "--json", "list"]);
        ensure(o.code == 0, || format!("uio list: {}", o.stderr))?;
        let v: Value = serde_json::from_str(&o.stdout).map_err(|e| e.to_string())?;
        let uio = v["uio"]["devices"].as_array().cloned().unwrap_or_default();
        ensure(
            uio.iter().any(|u| u["driver_name"] == "uio_pci_generic"),
            || format!("no uio_pci_generic device in {v}"),
        )?;
        let s = sysfs_json(&["list"])?;
        ensure(
            s["uio"]["devices"]
                .as_array()
                .is_some_and(|d| !d.is_empty()),
            || format!("sysfs list has no UIO section: {}", s["uio"]),
        )?;
        Ok(pci)
    })();
    let detail = r.clone().unwrap_or_default();
    check(report, "uio-edu", r.map(|_| ()), &[detail]);

    // The conformance suite, on the board lab_devlink (built for this
    // kernel from its own headers) makes; no FPGA here.
    let label: &'static str = match name {
        "debian-6.1" => "debian-6.1 (stock)",
        "debian-6.12" => "debian-6.12 (stock)",
        _ => "stock",
    };
    crate::conform::run_as(report, &format!("{sec}/conformance"), label, false);

    capture(
        report,
        &sec,
        &format!("lab-guest stock {name}"),
        release.trim(),
    );
}

/// `SEC/capture-reads-back`: captures `/sys` into `/tmp/capture`, checks
/// that it reads back as the live tree does, and prints it for the xtask.
pub fn capture(report: &mut Report, sec: &str, by: &str, release: &str) {
    let dest = PathBuf::from("/tmp/capture");
    let _ = std::fs::remove_dir_all(&dest);
    let r = (|| {
        let got =
            backend_linux_sysfs::capture(Path::new("/sys"), &dest).map_err(|e| e.to_string())?;
        let live = backend_linux_sysfs::read_topology(&backend_linux_sysfs::SysfsRoot::default())
            .map_err(|e| e.to_string())?;
        let back = backend_linux_sysfs::read_topology(&backend_linux_sysfs::SysfsRoot::at(&dest))
            .map_err(|e| e.to_string())?;
        let paths = |t: &devlink_core::Topology| -> Vec<String> {
            t.devices().iter().map(|d| d.path.clone()).collect()
        };
        let names = |t: &devlink_core::Topology| -> Vec<String> {
            t.links().iter().map(|l| l.name.clone()).collect()
        };
        ensure(paths(&live) == paths(&back), || {
            "devices differ between /sys and its capture".into()
        })?;
        ensure(names(&live) == names(&back), || {
            "links differ between /sys and its capture".into()
        })?;
        let about = format!(
            "sysfs capture ({by})\nkernel: {release}\nmachine: x86_64 (QEMU q35)\n\
             directories: {}\nattributes: {}\nsymlinks: {}\nplaceholders (never read): {}\n",
            got.dirs, got.files, got.symlinks, got.placeholders
        );
        std::fs::write(dest.join("CAPTURE.txt"), about).map_err(|e| e.to_string())?;
        Ok(format!(
            "{} devices, {} links, {} files",
            live.devices().len(),
            live.links().len(),
            got.files
        ))
    })();
    let detail = r.clone().unwrap_or_default();
    let ok = r.is_ok();
    report.result(
        &format!("{sec}/capture-reads-back"),
        r.map(|_| ()),
        &[detail],
    );
    if ok {
        emit_capture(&dest);
    }
}

/// Prints the capture as base64 of a gzipped tar, between markers.
fn emit_capture(dir: &Path) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -cf - . | gzip -9 | base64",
            dir.display()
        ))
        .output();
    if let Ok(o) = out {
        println!("LAB-CAPTURE-BEGIN");
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            println!("LAB-CAPTURE {l}");
        }
        println!("LAB-CAPTURE-END");
    }
}
