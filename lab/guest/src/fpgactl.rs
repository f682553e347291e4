//! The `fpgactl` binary itself (`--backend sysfs`) on the live kernel, run
//! as a subprocess the way a user runs it: `list`, `--json links`, `why`,
//! `bind`/`unbind`, and `program` through the lab's fake manager, with
//! the exit codes of `fpgactl --help`.

use crate::kernel::{ctl_ok, reset};
use crate::{ensure, Report};
use serde_json::Value;
use std::process::Command;

pub(crate) const FPGACTL: &str = "/bin/fpgactl";
use crate::kernel::{fpga_ctl, FPGA_CTL};
const LAST: &str = "/sys/kernel/debug/lab-fpga/last";
const LINK: &str = "platform:lab-s--platform:lab-c";

/// What one run gave: exit code, stdout, stderr.
pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    fn text(&self) -> String {
        format!(
            "exit {}; stdout {:?}; stderr {:?}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub(crate) fn fpgactl(args: &[&str]) -> Result<Out, String> {
    let out = Command::new(FPGACTL)
        .args(["--backend", "sysfs"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {FPGACTL}: {e}"))?;
    Ok(Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `args`, which must exit 0.
pub(crate) fn ok(args: &[&str]) -> Result<Out, String> {
    let o = fpgactl(args)?;
    ensure(o.code == 0, || format!("fpgactl {args:?}: {}", o.text()))?;
    Ok(o)
}

fn links_json() -> Result<Vec<Value>, String> {
    let o = ok(&["--json", "links"])?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("links JSON: {e}"))?;
    v["links"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("links JSON has no array `links`: {}", o.stdout))
}

fn lab_link(links: &[Value]) -> Result<&Value, String> {
    links
        .iter()
        .find(|l| l["name"] == LINK)
        .ok_or_else(|| format!("no {LINK} in {links:?}"))
}

/// The manager's device name (`fpga0`), from `fpgactl --json list`.
fn manager_of(list: &Value) -> Result<String, String> {
    list["fpga"]["managers"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["driver_name"] == "Lab FPGA Manager"))
        .and_then(|m| m["name"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("no Lab FPGA Manager in {list}"))
}

fn staged_left() -> Vec<String> {
    std::fs::read_dir("/lib/firmware")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("fpgactl-") || n.starts_with("fpga-devlink-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Every check of this section.
pub fn run(report: &mut Report) {
    if !std::path::Path::new(FPGACTL).exists() {
        report.check("fpgactl", Err(format!("{FPGACTL} is not in the initramfs")));
        return;
    }
    if !crate::kernel::available() || !std::path::Path::new(FPGA_CTL).exists() {
        report.check("fpgactl", Err("the lab modules are not loaded".into()));
        return;
    }
    // lab-c consumes lab-s through a managed link; neither is bound.
    let setup = (|| {
        reset()?;
        ctl_ok("dev lab-s")?;
        ctl_ok("dev lab-c")?;
        ctl_ok("link lab-c lab-s 0")?;
        // The lab driver matches only through driver_override.
        for d in ["lab-s", "lab-c"] {
            crate::kernel::write_file(
                format!("/sys/bus/platform/devices/{d}/driver_override"),
                "lab",
            )
            .map_err(|e| format!("driver_override of {d}: {e}"))?;
        }
        Ok(())
    })();
    if let Err(e) = setup {
        report.check("fpgactl/setup", Err(e));
        return;
    }

    let mut mgr = String::new();
    let r = (|| {
        let o = ok(&["list"])?;
        let line = |start: &str| {
            o.stdout
                .lines()
                .find(|l| l.starts_with(start))
                .unwrap_or("")
                .to_string()
        };
        let c = line("platform:lab-c ");
        let s = line("platform:lab-s ");
        ensure(c.contains("waiting") && s.contains("no driver"), || {
            format!("lab-c {c:?}, lab-s {s:?} in {:?}", o.stdout)
        })?;
        ensure(o.stdout.contains("\"Lab FPGA Manager\""), || {
            format!("no manager in {:?}", o.stdout)
        })?;
        let j = ok(&["--json", "list"])?;
        let v: Value = serde_json::from_str(&j.stdout).map_err(|e| format!("list JSON: {e}"))?;
        mgr = manager_of(&v)?;
        let m = v["fpga"]["managers"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["name"] == mgr.as_str()))
            .cloned()
            .unwrap_or_default();
        ensure(m["state"] == "operating", || format!("manager {m}"))?;
        let bridge = v["fpga"]["bridges"].as_array().is_some_and(|bs| {
            bs.iter()
                .any(|b| b["driver_name"] == "Lab FPGA Bridge" && b["state"] == "enabled")
        });
        ensure(bridge, || {
            format!("no enabled Lab FPGA Bridge in {}", v["fpga"]["bridges"])
        })
    })();
    report.check("fpgactl/list", r);

    let r = (|| {
        let links = links_json()?;
        let l = lab_link(&links)?;
        ensure(
            l["status"] == "dormant"
                && l["supplier"] == "platform:lab-s"
                && l["consumer"] == "platform:lab-c"
                && l["auto_remove_on"] == "never",
            || format!("{l}"),
        )?;
        ctl_ok("bind lab-s")?;
        let links = links_json()?;
        let l = lab_link(&links)?;
        ensure(l["status"] == "available", || {
            format!("after binding lab-s: {l}")
        })?;
        ctl_ok("unbind lab-s")
    })();
    report.check("fpgactl/links-json", r);

    let r = (|| {
        let o = ok(&["why", "platform:lab-c"])?;
        ensure(
            o.stdout.contains("platform:lab-c is not bound")
                && o.stdout
                    .contains("platform:lab-s (link dormant); no driver"),
            || o.text(),
        )?;
        let j = ok(&["--json", "why", "lab-c"])?;
        let v: Value = serde_json::from_str(&j.stdout).map_err(|e| format!("why JSON: {e}"))?;
        ensure(
            v["driver"].is_null()
                && v["waiting_for"][0]["missing"] == "platform:lab-s (link dormant)"
                && v["waiting_for"][0]["supplier"] == "platform:lab-s",
            || format!("{v}"),
        )
    })();
    report.check("fpgactl/why", r);

    // bind and unbind through the CLI: supplier, then consumer; unbinding
    // the supplier takes the consumer down first.
    let r = (|| {
        ok(&["bind", "platform:lab-s"])?;
        let o = ok(&["bind", "platform:lab-c"])?;
        ensure(o.stdout.contains("platform:lab-c bound to lab"), || {
            o.text()
        })?;
        let l = links_json()?;
        ensure(lab_link(&l)?["status"] == "active", || format!("{l:?}"))?;
        let o = ok(&["--json", "unbind", "platform:lab-s"])?;
        let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("unbind JSON: {e}"))?;
        let order: Vec<&str> = v["unbound"]
            .as_array()
            .map(|a| a.iter().filter_map(|u| u["device"].as_str()).collect())
            .unwrap_or_default();
        ensure(order == ["platform:lab-c", "platform:lab-s"], || {
            format!("unbound {order:?}")
        })?;
        let l = links_json()?;
        ensure(lab_link(&l)?["status"] == "dormant", || format!("{l:?}"))?;
        ok(&["wait-removal"]).map(drop)
    })();
    report.check("fpgactl/bind-unbind", r);

    // SIMBIT images: fpgactl checks every image, and the lab's manager
    // takes whatever it is given, so the format it recognises without
    // converting is the one to send.
    let payload: Vec<u8> = (0..4096u32).map(|i| (i * 31 + 5) as u8).collect();
    let image = fpga_image::simbit::sim_image(&payload, false);
    let partial_image = fpga_image::simbit::sim_image(&payload, true);
    let sum_of = |b: &[u8]| -> u32 { b.iter().map(|&b| u32::from(b)).sum() };
    let file = "/tmp/lab-fpgactl.img";
    let partial_file = "/tmp/lab-fpgactl-partial.img";
    let r = (|| {
        ensure(!mgr.is_empty(), || "no manager found by `list`".into())?;
        std::fs::write(file, &image).map_err(|e| format!("{file}: {e}"))?;
        std::fs::write(partial_file, &partial_image).map_err(|e| format!("{partial_file}: {e}"))?;
        fpga_ctl("ok")?;
        let o = ok(&["program", &mgr, file])?;
        ensure(
            o.stdout.contains(&format!("done: {mgr} is operating")),
            || o.text(),
        )?;
        let last = std::fs::read_to_string(LAST).map_err(|e| e.to_string())?;
        let want = format!("bytes={} sum={} flags=0\n", image.len(), sum_of(&image));
        ensure(last == want, || {
            format!("manager saw {last:?}, expected {want:?}")
        })?;
        let o = ok(&["--json", "program", "--partial", &mgr, partial_file])?;
        let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("program JSON: {e}"))?;
        ensure(
            v["state"] == "operating" && v["manager"] == mgr.as_str(),
            || format!("{v}"),
        )?;
        let last = std::fs::read_to_string(LAST).map_err(|e| e.to_string())?;
        let want = format!(
            "bytes={} sum={} flags=1\n",
            partial_image.len(),
            sum_of(&partial_image)
        );
        ensure(last == want, || {
            format!("--partial: manager saw {last:?}, expected {want:?}")
        })?;
        let left = staged_left();
        ensure(left.is_empty(), || format!("staged files left: {left:?}"))
    })();
    report.check("fpgactl/program", r);

    // Which image is loaded: recorded after the load, shown by `show`,
    // `--if-changed` skips it, and a raw `firmware` write by another tool
    // makes it "loaded outside this tool".
    let r = (|| {
        ensure(!mgr.is_empty(), || "no manager found by `list`".into())?;
        ok(&["program", &mgr, file])?;
        let sha = fpga_image::sha256_hex(&image);
        let o = ok(&["--json", "show", &mgr])?;
        let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("show JSON: {e}"))?;
        ensure(
            v["manager"]["loaded_image"]["sha256"] == sha.as_str(),
            || format!("{v}"),
        )?;
        let o = ok(&["program", &mgr, file, "--if-changed"])?;
        ensure(o.stdout.contains("unchanged:"), || o.text())?;
        let raw_load = || {
            std::fs::write("/lib/firmware/lab-other.bin", &image).map_err(|e| e.to_string())?;
            let w = std::fs::write(
                format!("/sys/class/fpga_manager/{mgr}/firmware"),
                "lab-other.bin",
            );
            let _ = std::fs::remove_file("/lib/firmware/lab-other.bin");
            // A failing load fails the write; that is the point below.
            let _ = w;
            let o = ok(&["--json", "show", &mgr])?;
            serde_json::from_str::<Value>(&o.stdout).map_err(|e| format!("show JSON: {e}"))
        };
        // Another tool's load that leaves the manager operating is seen by
        // the attribute's modification time (kernfs moves it on a write).
        let v = raw_load()?;
        let why = v["manager"]["loaded_unknown"].as_str().unwrap_or_default();
        ensure(
            v["manager"]["loaded_image"].is_null() && why.contains("`firmware` was written"),
            || format!("a raw load leaving the state alone: {v}"),
        )?;
        ok(&["program", &mgr, file])?;
        // One that changes the state is seen.
        fpga_ctl("fail write_complete -5")?;
        let v = raw_load();
        fpga_ctl("ok")?;
        let v = v?;
        let why = v["manager"]["loaded_unknown"].as_str().unwrap_or_default();
        ensure(
            v["manager"]["loaded_image"].is_null() && why.starts_with("loaded outside this tool"),
            || format!("a raw load that failed: {v}"),
        )?;
        ok(&["program", &mgr, file])?;
        // A failed load forgets the record.
        fpga_ctl("fail write_complete -5")?;
        let failed = fpgactl(&["program", &mgr, file]);
        fpga_ctl("ok")?;
        ensure(failed?.code == 9, || "the failing load did not fail".into())?;
        let o = ok(&["--json", "show", &mgr])?;
        let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("show JSON: {e}"))?;
        ensure(v["manager"]["loaded_image"].is_null(), || format!("{v}"))?;
        ok(&["program", &mgr, file]).map(drop)
    })();
    report.check("fpgactl/loaded-image", r);

    // A failing load: exit code 9 (I/O), the kernel's state in the message.
    let r = (|| {
        ensure(!mgr.is_empty(), || "no manager found by `list`".into())?;
        fpga_ctl("fail write_complete -5")?;
        let o = fpgactl(&["program", &mgr, file]);
        fpga_ctl("ok")?;
        let o = o?;
        ensure(
            o.code == 9 && o.stderr.contains("write complete error"),
            || {
                format!(
                    "expected exit 9 naming `write complete error`: {}",
                    o.text()
                )
            },
        )?;
        let left = staged_left();
        ensure(left.is_empty(), || format!("staged files left: {left:?}"))?;
        ok(&["program", &mgr, file]).map(drop)
    })();
    report.check("fpgactl/program-failure-exit-code", r);

    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(partial_file);
    if let Err(e) = reset() {
        report.check("fpgactl/reset", Err(e));
    }
}
