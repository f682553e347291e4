//! Differential device-link scenarios: each step runs in the kernel
//! (through the lab module and sysfs) and in two devlink-core simulators —
//! one with the kernel's quirks ([`devlink_core::KernelCompat::KERNEL`]),
//! which must match the kernel exactly, and one with the library's
//! defaults, which must match except for the deliberate deviations the
//! scenario declares (spec `device-links.md` §9). After every step both
//! sides' sysfs views are read with the same `backend-linux-sysfs` reader
//! and compared.
//!
//! File format (`*.scn`, one command per line, `#` starts a comment; the
//! first comment line is the scenario's description). Devices are named
//! without the `lab-` prefix the kernel side adds.
//!
//! ```text
//! dev NAME [parent=P] [norpm] [fwnode]   register a platform device
//! probe NAME ok|fail|defer               what NAME's probe returns
//! onprobe NAME CONSUMER SUPPLIER FLAGS   NAME's probe adds this link
//! link CONSUMER SUPPLIER FLAGS [-> ok|null]   device_link_add
//! unlink CONSUMER SUPPLIER               device_link_remove
//! bind NAME [-> ok|defer|fail]           sysfs driver_override + bind
//! unbind NAME                            sysfs unbind
//! del NAME                               unregister the device
//! wait-removal                           device_link_wait_removal
//! expect link S--C FIELD=VALUE...        assert the kernel's view
//! expect device NAME FIELD=VALUE...
//! expect no link S--C | expect no device NAME
//! expect released [NAME...]             devices released so far
//! deviate ID link S--C FIELD=VALUE...    a documented deviation of the
//! deviate ID device NAME FIELD=VALUE...  default-mode core, in effect from
//! deviate ID end                         the previous step on, until ended
//! ```
//!
//! A `deviate` line applies from the step just above it: that step's view
//! comparison (and every later one, until `deviate ID end`) expects the
//! default-mode core to show the given fields instead of the kernel's. A
//! declared field that the kernel already shows is an error, so a
//! deviation is always asserted, never merely tolerated. `end` lines are
//! processed before the new deviations of the same step.
//!
//! FLAGS are `0`, a number, or `DL_FLAG` names without the prefix joined
//! by `|` (`STATELESS|PM_RUNTIME`). Values with spaces are quoted:
//! `status="consumer probing"`. Link fields: `status`, `auto_remove_on`,
//! `runtime_pm`, `sync_state_only`, `supplier`, `consumer`; device fields:
//! `path`, `driver`, `waiting_for_supplier`, `consumer:platform:lab-X`,
//! `supplier:platform:lab-X` (absent fields read `-` in `expect`).

use crate::sim::Sim;
use crate::view::{self, View};
use crate::{kernel, Report};
use std::path::Path;

/// What a probe returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeHow {
    /// 0
    Ok,
    /// -ENXIO
    Fail,
    /// -EPROBE_DEFER
    Defer,
}

impl ProbeHow {
    /// The scenario/module word.
    pub fn word(self) -> &'static str {
        match self {
            ProbeHow::Ok => "ok",
            ProbeHow::Fail => "fail",
            ProbeHow::Defer => "defer",
        }
    }
}

/// How a bind ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindResult {
    /// Bound.
    Ok,
    /// Probe deferred (`EPROBE_DEFER`).
    Defer,
    /// Any other failure.
    Fail,
}

impl BindResult {
    /// The result word.
    pub fn word(self) -> &'static str {
        match self {
            BindResult::Ok => "ok",
            BindResult::Defer => "defer",
            BindResult::Fail => "fail",
        }
    }
}

/// One operation of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `dev`
    Dev {
        /// Short name.
        name: String,
        /// Parent's short name.
        parent: Option<String>,
        /// Runtime PM left disabled (resumes fail).
        norpm: bool,
        /// With a firmware node.
        fwnode: bool,
    },
    /// `probe`
    Probe {
        /// Device.
        name: String,
        /// Result.
        how: ProbeHow,
    },
    /// `onprobe`
    OnProbe {
        /// Device whose probe acts.
        name: String,
        /// Link consumer.
        consumer: String,
        /// Link supplier.
        supplier: String,
        /// Link flags.
        flags: u32,
    },
    /// `link`
    Link {
        /// Consumer.
        consumer: String,
        /// Supplier.
        supplier: String,
        /// Flags as passed.
        flags: u32,
    },
    /// `unlink`
    Unlink {
        /// Consumer.
        consumer: String,
        /// Supplier.
        supplier: String,
    },
    /// `bind`
    Bind(String),
    /// `unbind`
    Unbind(String),
    /// `del`
    Del(String),
    /// `wait-removal`
    WaitRemoval,
    /// `expect link|device` (`fields` empty and `absent` for `expect no`).
    Expect {
        /// View key.
        key: String,
        /// Expected fields.
        fields: Vec<(String, String)>,
        /// The object must not exist.
        absent: bool,
    },
    /// `expect released`
    ExpectReleased(Vec<String>),
}

/// A declared deviation of the default-mode core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// The spec §9 identifier (`A4`).
    pub id: String,
    /// View key.
    pub key: String,
    /// Fields the default-mode core shows instead of the kernel's.
    pub fields: Vec<(String, String)>,
    /// `deviate ID end`: ends every active deviation `id`.
    pub end: bool,
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Line number in the file.
    pub line: usize,
    /// The line's text.
    pub text: String,
    /// What to do.
    pub op: Op,
    /// Expected result word (`-> ...`).
    pub expect_result: Option<String>,
    /// Deviations after this step.
    pub deviations: Vec<Deviation>,
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// File stem.
    pub name: String,
    /// First comment line.
    pub description: String,
    /// The steps.
    pub steps: Vec<Step>,
}

fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                in_quote = !in_quote;
                any = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if in_quote {
        return Err("unterminated quote".into());
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

/// Parses `0`, `0x..`, or `NAME|NAME`.
pub fn parse_flags(s: &str) -> Result<u32, String> {
    if let Some(hex) = s.strip_prefix("0x") {
        return u32::from_str_radix(hex, 16).map_err(|e| format!("flags {s:?}: {e}"));
    }
    if let Ok(v) = s.parse::<u32>() {
        return Ok(v);
    }
    let mut v = 0;
    for part in s.split('|') {
        let f = devlink_core::LinkFlags::from_name(part.trim_start_matches("DL_FLAG_"))
            .ok_or_else(|| format!("unknown flag {part:?}"))?;
        v |= f.bits();
    }
    Ok(v)
}

fn key_of(kind: &str, name: &str) -> Result<String, String> {
    let p = view::PREFIX;
    match kind {
        "device" => Ok(format!("device {p}{name}")),
        "link" => {
            let (s, c) = name
                .split_once("--")
                .ok_or_else(|| format!("link {name:?} is not SUPPLIER--CONSUMER"))?;
            Ok(format!("link platform:{p}{s}--platform:{p}{c}"))
        }
        _ => Err(format!("{kind:?} is neither link nor device")),
    }
}

fn fields(toks: &[String]) -> Result<Vec<(String, String)>, String> {
    toks.iter()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{t:?} is not FIELD=VALUE"))
        })
        .collect()
}

/// Parses a scenario file's text.
pub fn parse(name: &str, text: &str) -> Result<Scenario, String> {
    let mut sc = Scenario {
        name: name.to_string(),
        description: String::new(),
        steps: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |m: String| format!("{name}.scn:{line}: {m}");
        let trimmed = raw.trim();
        if let Some(c) = trimmed.strip_prefix('#') {
            if sc.description.is_empty() && sc.steps.is_empty() {
                sc.description = c.trim().to_string();
            }
            continue;
        }
        let code = trimmed.split(" #").next().unwrap_or("").trim();
        if code.is_empty() {
            continue;
        }
        let (code, expect_result) = match code.split_once("->") {
            Some((a, b)) => (a.trim(), Some(b.trim().to_string())),
            None => (code, None),
        };
        let t = tokens(code).map_err(err)?;
        let arg = |k: usize| {
            t.get(k)
                .cloned()
                .ok_or_else(|| err(format!("missing argument {k}")))
        };
        let op = match t[0].as_str() {
            "dev" => {
                let mut op = Op::Dev {
                    name: arg(1)?,
                    parent: None,
                    norpm: false,
                    fwnode: false,
                };
                if let Op::Dev {
                    parent,
                    norpm,
                    fwnode,
                    ..
                } = &mut op
                {
                    for o in &t[2..] {
                        match o.as_str() {
                            "norpm" => *norpm = true,
                            "fwnode" => *fwnode = true,
                            o if o.starts_with("parent=") => *parent = Some(o[7..].to_string()),
                            o => return Err(err(format!("unknown dev option {o:?}"))),
                        }
                    }
                }
                op
            }
            "probe" => Op::Probe {
                name: arg(1)?,
                how: match arg(2)?.as_str() {
                    "ok" => ProbeHow::Ok,
                    "fail" => ProbeHow::Fail,
                    "defer" => ProbeHow::Defer,
                    o => return Err(err(format!("probe result {o:?}"))),
                },
            },
            "onprobe" => Op::OnProbe {
                name: arg(1)?,
                consumer: arg(2)?,
                supplier: arg(3)?,
                flags: parse_flags(&arg(4)?).map_err(err)?,
            },
            "link" => Op::Link {
                consumer: arg(1)?,
                supplier: arg(2)?,
                flags: parse_flags(&arg(3)?).map_err(err)?,
            },
            "unlink" => Op::Unlink {
                consumer: arg(1)?,
                supplier: arg(2)?,
            },
            "bind" => Op::Bind(arg(1)?),
            "unbind" => Op::Unbind(arg(1)?),
            "del" => Op::Del(arg(1)?),
            "wait-removal" => Op::WaitRemoval,
            "expect" if t.get(1).map(String::as_str) == Some("released") => {
                let mut v: Vec<String> = t[2..]
                    .iter()
                    .map(|n| format!("{}{n}", view::PREFIX))
                    .collect();
                v.sort();
                Op::ExpectReleased(v)
            }
            "expect" if t.get(1).map(String::as_str) == Some("no") => Op::Expect {
                key: key_of(&arg(2)?, &arg(3)?).map_err(err)?,
                fields: Vec::new(),
                absent: true,
            },
            "expect" => Op::Expect {
                key: key_of(&arg(1)?, &arg(2)?).map_err(err)?,
                fields: fields(&t[3..]).map_err(err)?,
                absent: false,
            },
            "deviate" => {
                let id = arg(1)?;
                if !id.starts_with('A') || id[1..].parse::<u32>().is_err() {
                    return Err(err(format!("{id:?} is not a spec section 9 id (A1..)")));
                }
                let d = if t.get(2).map(String::as_str) == Some("end") {
                    Deviation {
                        id,
                        key: String::new(),
                        fields: Vec::new(),
                        end: true,
                    }
                } else {
                    Deviation {
                        id,
                        key: key_of(&arg(2)?, &arg(3)?).map_err(err)?,
                        fields: fields(&t[4..]).map_err(err)?,
                        end: false,
                    }
                };
                let prev = sc
                    .steps
                    .last_mut()
                    .ok_or_else(|| err("deviate before any step".into()))?;
                prev.deviations.push(d);
                continue;
            }
            o => return Err(err(format!("unknown command {o:?}"))),
        };
        sc.steps.push(Step {
            line,
            text: code.to_string(),
            op,
            expect_result,
            deviations: Vec::new(),
        });
    }
    Ok(sc)
}

/// Runs every `*.scn` file of `dir`.
pub fn run_dir(dir: &Path, report: &mut Report) {
    if !kernel::available() {
        report.check(
            "scenarios",
            Err("the lab_devlink module is not loaded".into()),
        );
        return;
    }
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "scn"))
            .collect(),
        Err(e) => {
            report.check("scenarios", Err(format!("{}: {e}", dir.display())));
            return;
        }
    };
    files.sort();
    sysfs_bind(report);
    for path in files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|t| parse(&stem, &t));
        match parsed {
            Err(e) => report.check(&format!("scenario/{stem}"), Err(e)),
            Ok(sc) => run(&sc, report),
        }
    }
}

/// Binding and unbinding through the platform bus's sysfs files, read back
/// with `backend-linux-sysfs`: the path a user (and the sysfs backend's
/// driving half) takes. Pins the kernel's answers: a link-gated `bind`
/// write fails with `EAGAIN` and the device is *not* queued for a deferred
/// retry (sysfs `bind` is `device_driver_attach()`); an `unbind` write
/// of a supplier forces its consumer off.
pub fn sysfs_bind(report: &mut Report) {
    use crate::kernel::{ctl_ok, write_file};
    let bind = |d: &str| {
        write_file(
            format!("/sys/bus/platform/devices/{d}/driver_override"),
            "lab",
        )
        .map_err(|e| format!("driver_override of {d}: {e}"))?;
        Ok::<_, String>(
            write_file("/sys/bus/platform/drivers/lab/bind", d).map_err(|e| e.raw_os_error()),
        )
    };
    let unbind = |d: &str| {
        write_file("/sys/bus/platform/drivers/lab/unbind", d)
            .map_err(|e| format!("unbind {d}: {e}"))
    };
    let read = || view::read(Path::new("/sys"));
    let field = |v: &View, k: &str, f: &str| {
        v.get(k)
            .and_then(|o| o.get(f))
            .cloned()
            .unwrap_or_else(|| "-".into())
    };
    let r = (|| {
        kernel::reset()?;
        ctl_ok("dev lab-s")?;
        ctl_ok("dev lab-c")?;
        ctl_ok("link lab-c lab-s 0")?;
        let (dc, ds, l) = (
            "device lab-c",
            "device lab-s",
            "link platform:lab-s--platform:lab-c",
        );
        let e = bind("lab-c")?;
        crate::ensure(e == Err(Some(libc::EAGAIN)), || {
            format!("gated sysfs bind gave {e:?}, expected EAGAIN")
        })?;
        crate::ensure(bind("lab-s")? == Ok(()), || {
            "bind of the supplier failed".into()
        })?;
        ctl_ok("settle")?;
        let v = read()?;
        crate::ensure(
            field(&v, ds, "driver") == "lab" && field(&v, dc, "driver") == "-",
            || {
                format!("after binding the supplier: {:?} {:?} (a sysfs-bind deferral must not be retried)", v.get(ds), v.get(dc))
            },
        )?;
        crate::ensure(field(&v, l, "status") == "available", || {
            format!("{:?}", v.get(l))
        })?;
        crate::ensure(bind("lab-c")? == Ok(()), || {
            "bind of the consumer failed".into()
        })?;
        let v = read()?;
        crate::ensure(
            field(&v, l, "status") == "active" && field(&v, dc, "driver") == "lab",
            || format!("after binding the consumer: {:?}", v.get(l)),
        )?;
        unbind("lab-s")?;
        ctl_ok("settle")?;
        let v = read()?;
        crate::ensure(
            field(&v, l, "status") == "dormant" && field(&v, dc, "driver") == "-",
            || {
                format!(
                    "after unbinding the supplier: {:?} {:?}",
                    v.get(l),
                    v.get(dc)
                )
            },
        )?;
        kernel::reset()
    })();
    report.check("live/sysfs-bind-unbind", r);

    // "supplier unbinding" exists only while the supplier's remove callback
    // runs: hold it there, read sysfs, let it go.
    let r = (|| {
        ctl_ok("dev lab-s")?;
        ctl_ok("dev lab-c")?;
        ctl_ok("link lab-c lab-s 0")?;
        ctl_ok("bind lab-s")?;
        ctl_ok("bind lab-c")?;
        ctl_ok("hold lab-s")?;
        let unbinder = std::thread::spawn(|| {
            write_file("/sys/bus/platform/drivers/lab/unbind", "lab-s").map_err(|e| e.to_string())
        });
        let status = "/sys/class/devlink/platform:lab-s--platform:lab-c/status";
        let started = std::time::Instant::now();
        let mut seen = String::new();
        while started.elapsed() < std::time::Duration::from_secs(5) {
            seen = std::fs::read_to_string(status).unwrap_or_default();
            if seen == "supplier unbinding\n" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let during = read();
        ctl_ok("release")?;
        unbinder
            .join()
            .map_err(|_| "unbind thread panicked".to_string())??;
        let during = during?;
        let l = "link platform:lab-s--platform:lab-c";
        crate::ensure(
            field(&during, l, "status") == "supplier unbinding"
                && field(&during, "device lab-c", "driver") == "-",
            || {
                format!(
                    "during the supplier's remove: {:?} {:?} (polled {seen:?})",
                    during.get(l),
                    during.get("device lab-c")
                )
            },
        )?;
        let after = read()?;
        crate::ensure(field(&after, l, "status") == "dormant", || {
            format!("after the supplier's remove: {:?}", after.get(l))
        })?;
        kernel::reset()
    })();
    report.check("live/status-supplier-unbinding", r);
}

/// A failure of one mode: reason and details.
type Failure = (String, Vec<String>);

struct Mode {
    label: &'static str,
    sim: Sim,
    failure: Option<Failure>,
}

fn apply(kernel: &View, devs: &[Deviation]) -> Result<View, String> {
    let mut v = kernel.clone();
    for d in devs {
        let obj = v
            .get_mut(&d.key)
            .ok_or_else(|| format!("deviation {} names {:?}, absent in the kernel", d.id, d.key))?;
        for (f, val) in &d.fields {
            let old = obj.insert(f.clone(), val.clone());
            if old.as_deref() == Some(val.as_str()) {
                return Err(format!(
                    "deviation {} not observable: the kernel already shows {f}={val:?} on {}",
                    d.id, d.key
                ));
            }
        }
    }
    Ok(v)
}

fn view_of(sim: &Sim, counter: &mut u32) -> Result<View, String> {
    *counter += 1;
    let dir = std::path::PathBuf::from(format!("/tmp/lab-view/{counter}"));
    let _ = std::fs::remove_dir_all(&dir);
    sim.write_view(&dir)?;
    let v = view::read(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    v
}

fn check_expect(
    kv: &View,
    key: &str,
    fields: &[(String, String)],
    absent: bool,
) -> Result<(), String> {
    match (kv.get(key), absent) {
        (Some(_), true) => Err(format!("{key} exists")),
        (None, true) => Ok(()),
        (None, false) => Err(format!("{key} does not exist")),
        (Some(obj), false) => {
            for (f, want) in fields {
                let got = obj.get(f).map(String::as_str).unwrap_or("-");
                if got != want {
                    return Err(format!("{key}: {f} is {got:?}, expected {want:?}"));
                }
            }
            Ok(())
        }
    }
}

/// Runs one scenario; reports `scenario/<name>/kernel-compat` and
/// `scenario/<name>/default`.
pub fn run(sc: &Scenario, report: &mut Report) {
    let base = format!("scenario/{}", sc.name);
    let fatal = |report: &mut Report, why: String| {
        report.check(&format!("{base}/kernel-compat"), Err(why.clone()));
        report.check(&format!("{base}/default"), Err(why));
    };
    if let Err(e) = kernel::reset() {
        return fatal(report, e);
    }
    let mut modes = Vec::new();
    for (label, compat) in [("kernel-compat", true), ("default", false)] {
        match Sim::new(compat) {
            Ok(sim) => modes.push(Mode {
                label,
                sim,
                failure: None,
            }),
            Err(e) => return fatal(report, e),
        }
    }
    let mut counter = 0;
    let mut deviations_seen = Vec::new();
    let mut active: Vec<Deviation> = Vec::new();
    let mut kv = View::new();
    for step in &sc.steps {
        for d in step.deviations.iter().filter(|d| d.end) {
            active.retain(|a| a.id != d.id);
        }
        for d in step.deviations.iter().filter(|d| !d.end) {
            active.push(d.clone());
            let seen = format!("{} at line {}", d.id, step.line);
            if !deviations_seen.contains(&seen) {
                deviations_seen.push(seen);
            }
        }
        let at = format!("line {} `{}`", step.line, step.text);
        let kr = match kernel::run(&step.op) {
            Ok(r) => r,
            Err(e) => return fatal(report, format!("{at}: kernel: {e}")),
        };
        if let Some(want) = &step.expect_result {
            if &kr != want {
                return fatal(
                    report,
                    format!("{at}: the kernel gave {kr:?}, the scenario expects {want:?}"),
                );
            }
        }
        let observe = !matches!(step.op, Op::Expect { .. } | Op::ExpectReleased(_));
        if observe {
            kv = match view::read(Path::new("/sys")) {
                Ok(v) => v,
                Err(e) => return fatal(report, format!("{at}: reading /sys: {e}")),
            };
        }
        match &step.op {
            Op::Expect {
                key,
                fields,
                absent,
            } => {
                if let Err(e) = check_expect(&kv, key, fields, *absent) {
                    return fatal(report, format!("{at}: kernel: {e}"));
                }
            }
            Op::ExpectReleased(want) => match kernel::released() {
                Ok(got) if &got == want => {}
                Ok(got) => {
                    return fatal(report, format!("{at}: kernel released {got:?}"));
                }
                Err(e) => return fatal(report, e),
            },
            _ => {}
        }
        for m in modes.iter_mut().filter(|m| m.failure.is_none()) {
            let fail = |why: String, details: Vec<String>| Some((format!("{at}: {why}"), details));
            let r = match m.sim.run(&step.op) {
                Ok(r) => r,
                Err(e) => {
                    m.failure = fail(format!("simulator: {e}"), Vec::new());
                    continue;
                }
            };
            if r != kr {
                m.failure = fail(format!("kernel gave {kr:?}, simulator {r:?}"), Vec::new());
                continue;
            }
            if let Op::ExpectReleased(want) = &step.op {
                let got = m.sim.released();
                if &got != want {
                    m.failure = fail(format!("simulator released {got:?}"), Vec::new());
                }
                continue;
            }
            if !observe {
                continue;
            }
            let sv = match view_of(&m.sim, &mut counter) {
                Ok(v) => v,
                Err(e) => {
                    m.failure = fail(format!("simulator view: {e}"), Vec::new());
                    continue;
                }
            };
            let expected = if m.label == "default" {
                match apply(&kv, &active) {
                    Ok(v) => v,
                    Err(e) => {
                        m.failure = fail(e, Vec::new());
                        continue;
                    }
                }
            } else {
                kv.clone()
            };
            if sv != expected {
                let mut details = view::side_by_side("kernel", &kv, m.label, &sv);
                for d in &active {
                    details.push(format!(
                        "declared deviation {}: {} {:?}",
                        d.id, d.key, d.fields
                    ));
                }
                m.failure = fail("sysfs views differ".into(), details);
            }
        }
    }
    for m in modes {
        let name = format!("{base}/{}", m.label);
        match m.failure {
            None => {
                let mut details = Vec::new();
                if m.label == "default" && !deviations_seen.is_empty() {
                    details.push(format!(
                        "documented deviations asserted: {}",
                        deviations_seen.join(", ")
                    ));
                }
                report.result(&name, Ok(()), &details);
            }
            Some((why, details)) => report.result(&name, Err(why), &details),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario file of the project parses (the guest runs them).
    #[test]
    fn project_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kernel/scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "scn") {
                let text = std::fs::read_to_string(&p).unwrap();
                let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                let sc = parse(&stem, &text).unwrap_or_else(|e| panic!("{e}"));
                assert!(!sc.description.is_empty(), "{stem}: no description");
                n += 1;
            }
        }
        assert!(n >= 20, "only {n} scenarios");
    }

    #[test]
    fn flags_and_quotes() {
        assert_eq!(parse_flags("STATELESS|PM_RUNTIME").unwrap(), 0x5);
        assert_eq!(parse_flags("0x400").unwrap(), 0x400);
        assert_eq!(parse_flags("0").unwrap(), 0);
        assert!(parse_flags("BOGUS").is_err());
        let t = tokens(r#"expect link a--b status="consumer probing""#).unwrap();
        assert_eq!(t.last().unwrap(), "status=consumer probing");
    }
}
