//! The kernel side of a scenario: the lab module's debugfs commands and
//! the platform bus's sysfs `bind`/`unbind` files.

use crate::scenario::{BindResult, Op};
use std::io::Write;
use std::path::Path;

const CTL: &str = "/sys/kernel/debug/lab/ctl";
const RELEASED: &str = "/sys/kernel/debug/lab/released";

/// Writes `text` to an existing sysfs or debugfs file in one `write`.
pub fn write_file(path: impl AsRef<Path>, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// The `lab_fpga` module's control file.
pub const FPGA_CTL: &str = "/sys/kernel/debug/lab-fpga/ctl";

/// Writes a command to a lab module's control file (`lab_fpga`'s,
/// `lab_overlay`'s), naming the file and the command on failure.
pub fn ctl_at(path: &str, cmd: &str) -> Result<(), String> {
    write_file(path, cmd).map_err(|e| format!("{path}: {cmd:?}: {e}"))
}

/// A `lab_fpga` command.
pub fn fpga_ctl(cmd: &str) -> Result<(), String> {
    ctl_at(FPGA_CTL, cmd)
}

/// Runs one lab-module command and returns its result line.
pub fn ctl(cmd: &str) -> Result<String, String> {
    write_file(CTL, cmd).map_err(|e| format!("{CTL}: writing {cmd:?}: {e}"))?;
    let r = std::fs::read_to_string(CTL).map_err(|e| format!("{CTL}: {e}"))?;
    Ok(r.trim().to_string())
}

/// Runs a command that must succeed.
pub fn ctl_ok(cmd: &str) -> Result<(), String> {
    match ctl(cmd)? {
        r if r == "ok" => Ok(()),
        r => Err(format!("lab module: {cmd:?} gave {r:?}")),
    }
}

/// Whether the lab module is loaded.
pub fn available() -> bool {
    Path::new(CTL).exists()
}

/// Unregisters every lab device and waits for their removal.
pub fn reset() -> Result<(), String> {
    ctl_ok("reset")
}

/// Names of the lab devices released since the last reset, sorted.
pub fn released() -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(RELEASED).map_err(|e| format!("{RELEASED}: {e}"))?;
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    Ok(v)
}

/// Executes `op`; returns the result word compared with the simulator's
/// (`ok`/`null` for links, `ok`/`defer`/`fail` for binds, else `ok`).
pub fn run(op: &Op) -> Result<String, String> {
    let n = |s: &str| format!("{}{s}", crate::view::PREFIX);
    match op {
        Op::Dev {
            name,
            parent,
            norpm,
            fwnode,
        } => {
            let mut cmd = format!("dev {}", n(name));
            if let Some(p) = parent {
                cmd += &format!(" parent={}", n(p));
            }
            if *norpm {
                cmd += " norpm";
            }
            if *fwnode {
                cmd += " fwnode";
            }
            ctl_ok(&cmd)?;
        }
        Op::Probe { name, how } => ctl_ok(&format!("probe {} {}", n(name), how.word()))?,
        Op::OnProbe {
            name,
            consumer,
            supplier,
            flags,
        } => ctl_ok(&format!(
            "onprobe {} {} {} {:#x}",
            n(name),
            n(consumer),
            n(supplier),
            flags
        ))?,
        Op::Link {
            consumer,
            supplier,
            flags,
        } => {
            let r = ctl(&format!(
                "link {} {} {:#x}",
                n(consumer),
                n(supplier),
                flags
            ))?;
            if r != "ok" && r != "null" {
                return Err(format!("lab module: link gave {r:?}"));
            }
            return Ok(r);
        }
        Op::Unlink { consumer, supplier } => {
            ctl_ok(&format!("unlink {} {}", n(consumer), n(supplier)))?
        }
        Op::Bind(name) => {
            // device_attach(), as devlink-core's `bind` (a sysfs `bind`
            // write is device_driver_attach(): a deferral there is EAGAIN
            // and is not queued for a retry; see `sysfs_bind`).
            let r = ctl(&format!("bind {}", n(name)))?;
            return Ok(match r.as_str() {
                "ok" => BindResult::Ok,
                "err -517" => BindResult::Defer,
                _ => BindResult::Fail,
            }
            .word()
            .into());
        }
        Op::Unbind(name) => {
            let _ = write_file("/sys/bus/platform/drivers/lab/unbind", &n(name));
            ctl_ok("settle")?;
        }
        Op::Del(name) => ctl_ok(&format!("del {}", n(name)))?,
        Op::WaitRemoval => ctl_ok("wait-removal")?,
        Op::Expect { .. } | Op::ExpectReleased(_) => {}
    }
    Ok("ok".into())
}
