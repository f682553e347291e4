//! The commands on a real kernel (or a fixture tree) through
//! `backend-linux-sysfs`: every line printed comes from sysfs as read at
//! that moment.

use crate::cli::Format;
use crate::outln;
use crate::output::{print_json, Failure};
use backend_linux_sysfs::{
    reprogram_region, Kernel, Load, ManagerLock, RegionPlan, Settle, Snapshot, SysDevice,
    SysfsError, SysfsRoot, XlnxManager,
};
use devlink_core::ErrorKind;
use fpga_core::ImageFlags;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// How long each kernel-side step may take before it is reported as
/// stuck.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

impl From<SysfsError> for Failure {
    fn from(e: SysfsError) -> Failure {
        let hint = match e.kind() {
            ErrorKind::InvalidInput if e.to_string().contains("Permission denied") => {
                Some("run as root, or check the file's mode")
            }
            ErrorKind::Unsupported => Some("see docs/user-guide.md, \"A real board\""),
            ErrorKind::Busy => Some(
                "wait for the holder to finish; a lock held by another process cannot be broken",
            ),
            ErrorKind::Deferred => {
                Some("bind its suppliers first (`fpgactl why DEVICE` shows them)")
            }
            _ => None,
        };
        let f = Failure::new(e.kind(), e.to_string());
        match hint {
            Some(h) => f.hint(h),
            None => f,
        }
    }
}

/// The kernel behind `--root` (default `/`: the running kernel).
pub fn kernel(root: Option<&Path>) -> Kernel {
    let root = match root {
        Some(dir) => SysfsRoot::at(dir),
        None => SysfsRoot::default(),
    };
    Kernel::new(root)
}

fn snapshot(k: &Kernel) -> Result<Snapshot, Failure> {
    let s = k.snapshot()?;
    Ok(s)
}

fn device_json(d: &SysDevice) -> Value {
    json!({
        "name": d.key(),
        "path": d.path,
        "bus": d.bus,
        "class": d.class,
        "driver": d.driver,
        "parent": d.parent,
        "of_node": d.of_node,
        "waiting_for_supplier": d.waiting_for_supplier,
    })
}

fn status_lines(s: Option<fpga_core::MgrStatus>) -> Vec<String> {
    s.map(|s| s.sysfs().lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `list`.
pub fn list(k: &Kernel, as_json: bool) -> Result<(), Failure> {
    let s = snapshot(k)?;
    let devices: Vec<&SysDevice> = s.devices.values().filter(|d| d.bus.is_some()).collect();
    if as_json {
        print_json(&json!({
            "managers": s.managers.iter().map(|m| json!({
                "name": m.dev, "driver_name": m.name, "state": m.state.sysfs(),
                "status": status_lines(m.status),
            })).collect::<Vec<_>>(),
            "bridges": s.bridges.iter().map(|b| json!({
                "name": b.dev, "driver_name": b.name,
                "state": if b.enabled { "enabled" } else { "disabled" },
            })).collect::<Vec<_>>(),
            "regions": s.regions.iter().map(|r| json!({
                "name": r.dev, "compat_id": r.compat_id.map(|c| c.sysfs()),
            })).collect::<Vec<_>>(),
            "uio": s.uio.iter().map(|u| json!({
                "name": u.dev, "driver_name": u.name, "version": u.version,
                "device": u.parent, "maps": u.maps.iter().map(|(i, a, n)| json!({"index": i, "addr": a, "size": n})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "devices": devices.iter().map(|d| device_json(d)).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    if !s.has_fpga_classes {
        outln!("(no FPGA classes: this kernel has no FPGA support)");
    }
    if !s.managers.is_empty() || !s.bridges.is_empty() || !s.regions.is_empty() || !s.uio.is_empty()
    {
        outln!("{:<8}  {:<8}  {:<22}  DETAILS", "FPGA", "CLASS", "STATE");
        for m in &s.managers {
            let st = status_lines(m.status);
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?}{}",
                m.dev,
                "manager",
                m.state.sysfs(),
                m.name,
                if st.is_empty() {
                    String::new()
                } else {
                    format!(", status: {}", st.join(", "))
                }
            );
        }
        for b in &s.bridges {
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?}",
                b.dev,
                "bridge",
                if b.enabled { "enabled" } else { "disabled" },
                b.name
            );
        }
        for r in &s.regions {
            outln!(
                "{:<8}  {:<8}  {:<22}  compat_id {}",
                r.dev,
                "region",
                "-",
                r.compat_id
                    .map(|c| c.sysfs().trim_end().to_string())
                    .unwrap_or_else(|| "-".into())
            );
        }
        for u in &s.uio {
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?} {}, {} map(s)",
                u.dev,
                "uio",
                "-",
                u.name,
                u.version,
                u.maps.len()
            );
        }
        outln!();
    }
    if !s.has_devlink_class {
        outln!("(no class/devlink: this kernel predates device-link sysfs, 5.9)");
    }
    let w = devices
        .iter()
        .map(|d| d.key().len())
        .max()
        .unwrap_or(6)
        .max(6);
    outln!("{:<w$}  {:<10}  DRIVER", "DEVICE", "STATE");
    for d in devices {
        let state = if d.is_bound() {
            "bound"
        } else if !s.waiting_for(d).is_empty() {
            "waiting"
        } else {
            "unbound"
        };
        outln!(
            "{:<w$}  {:<10}  {}",
            d.key(),
            state,
            d.driver.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

fn link_json(l: &backend_linux_sysfs::SysLink, s: &Snapshot) -> Value {
    let end = |p: &Option<String>| {
        p.as_ref().map(|p| {
            s.devices
                .get(p)
                .map(|d| d.key())
                .unwrap_or_else(|| p.clone())
        })
    };
    json!({
        "name": l.name,
        "supplier": end(&l.supplier),
        "consumer": end(&l.consumer),
        "status": l.status.sysfs_status(),
        "auto_remove_on": l.auto_remove_on.sysfs(),
        "runtime_pm": l.runtime_pm,
        "sync_state_only": l.sync_state_only,
    })
}

/// `show NAME`.
pub fn show(k: &Kernel, name: &str, as_json: bool) -> Result<(), Failure> {
    let s = snapshot(k)?;
    let bare = name.rsplit(':').next().unwrap_or(name);
    if let Some(m) = s.managers.iter().find(|m| m.dev == bare) {
        let st = status_lines(m.status);
        if as_json {
            print_json(
                &json!({"name": m.dev, "class": "fpga_manager", "driver_name": m.name,
                "state": m.state.sysfs(), "status": st}),
            );
        } else {
            outln!("{} (fpga_manager)", m.dev);
            outln!("  name      {}", m.name);
            outln!("  state     {}", m.state.sysfs());
            outln!(
                "  status    {}",
                if st.is_empty() {
                    "(no error bits)".to_string()
                } else {
                    st.join(", ")
                }
            );
            let lock = match ManagerLock::holder(k.root(), &m.dev) {
                Ok(None) => "free".to_string(),
                Ok(Some(holder)) => format!("held by {holder}"),
                Err(e) => format!("unknown ({e})"),
            };
            outln!("  lock      {lock}");
        }
        return Ok(());
    }
    if let Some(b) = s.bridges.iter().find(|b| b.dev == bare) {
        let state = if b.enabled { "enabled" } else { "disabled" };
        if as_json {
            print_json(
                &json!({"name": b.dev, "class": "fpga_bridge", "driver_name": b.name, "state": state}),
            );
        } else {
            outln!("{} (fpga_bridge)", b.dev);
            outln!("  name      {}", b.name);
            outln!("  state     {state}");
        }
        return Ok(());
    }
    if let Some(r) = s.regions.iter().find(|r| r.dev == bare) {
        let id = r.compat_id.map(|c| c.sysfs().trim_end().to_string());
        let dev = s
            .device(&format!("fpga_region:{}", r.dev))
            .or_else(|| s.device(&r.dev));
        let parent = dev.and_then(|d| d.parent.clone());
        if as_json {
            print_json(
                &json!({"name": r.dev, "class": "fpga_region", "compat_id": id, "parent": parent}),
            );
        } else {
            outln!("{} (fpga_region)", r.dev);
            outln!("  compat_id {}", id.unwrap_or_else(|| "-".into()));
            outln!("  parent    {}", parent.unwrap_or_else(|| "-".into()));
        }
        return Ok(());
    }
    let d = s.expect_device(name, k.root().sys())?;
    let sup = s.supplier_links(d);
    let con = s.consumer_links(d);
    if as_json {
        let mut v = device_json(d);
        v["suppliers"] = sup.iter().map(|l| link_json(l, &s)).collect();
        v["consumers"] = con.iter().map(|l| link_json(l, &s)).collect();
        v["waiting_for"] = s.waiting_for(d).iter().map(|m| m.to_string()).collect();
        print_json(&v);
        return Ok(());
    }
    outln!("{}", d.key());
    outln!("  path      {}", d.path);
    outln!(
        "  driver    {}",
        d.driver.as_deref().unwrap_or("- (not bound)")
    );
    outln!("  parent    {}", d.parent.as_deref().unwrap_or("-"));
    outln!("  of_node   {}", d.of_node.as_deref().unwrap_or("-"));
    if let Some(w) = d.waiting_for_supplier {
        outln!("  waiting_for_supplier {}", u8::from(w));
    }
    for (title, links) in [("suppliers", &sup), ("consumers", &con)] {
        outln!("  {title}:");
        if links.is_empty() {
            outln!("    -");
        }
        for l in links.iter() {
            outln!(
                "    {}  {}  auto_remove_on {}{}{}",
                l.name,
                l.status.sysfs_status(),
                l.auto_remove_on.sysfs(),
                if l.runtime_pm { ", runtime_pm" } else { "" },
                if l.sync_state_only {
                    ", sync_state_only"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

fn dot(s: &Snapshot) -> String {
    let mut out = String::from("digraph devlinks {\n  rankdir=LR;\n");
    for l in s.links.values() {
        let (Some(sp), Some(cp)) = (&l.supplier, &l.consumer) else {
            continue;
        };
        let name = |p: &String| {
            s.devices
                .get(p)
                .map(|d| d.key())
                .unwrap_or_else(|| p.clone())
        };
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
            name(sp),
            name(cp),
            l.status.sysfs_status()
        ));
    }
    out.push_str("}\n");
    out
}

/// `links`.
pub fn links(k: &Kernel, format: Format, svg: Option<&Path>) -> Result<(), Failure> {
    let s = snapshot(k)?;
    if let Some(path) = svg {
        let picture = crate::svg::render(&dot(&s))?;
        std::fs::write(path, picture)
            .map_err(|e| Failure::new(ErrorKind::Io, format!("writing {}: {e}", path.display())))?;
    }
    match format {
        Format::Json => print_json(&Value::Array(
            s.links.values().map(|l| link_json(l, &s)).collect(),
        )),
        Format::Dot => outln!("{}", dot(&s).trim_end()),
        Format::Table => {
            let w = s.links.keys().map(String::len).max().unwrap_or(4).max(4);
            outln!(
                "{:<w$}  {:<18}  {:<16}  FLAGS",
                "LINK",
                "STATUS",
                "AUTO-REMOVE"
            );
            for l in s.links.values() {
                let mut flags = Vec::new();
                if l.runtime_pm {
                    flags.push("runtime_pm");
                }
                if l.sync_state_only {
                    flags.push("sync_state_only");
                }
                outln!(
                    "{:<w$}  {:<18}  {:<16}  {}",
                    l.name,
                    l.status.sysfs_status(),
                    l.auto_remove_on.sysfs(),
                    if flags.is_empty() {
                        "-".to_string()
                    } else {
                        flags.join(",")
                    }
                );
            }
        }
    }
    Ok(())
}

fn why_tree(s: &Snapshot, d: &SysDevice, seen: &mut Vec<String>) -> Vec<Value> {
    let mut out = Vec::new();
    for m in s.waiting_for(d) {
        let mut node = json!({ "missing": m.to_string() });
        if let backend_linux_sysfs::Missing::Supplier { supplier, .. } = &m {
            if !seen.contains(supplier) {
                seen.push(supplier.clone());
                if let Some(sd) = s.device(supplier) {
                    node["because"] = Value::Array(why_tree(s, sd, seen));
                }
            }
        }
        out.push(node);
    }
    out
}

/// `why DEVICE`.
pub fn why(k: &Kernel, name: &str, as_json: bool) -> Result<(), Failure> {
    let s = snapshot(k)?;
    let d = s.expect_device(name, k.root().sys())?;
    let tree = why_tree(&s, d, &mut vec![d.key()]);
    if as_json {
        print_json(&json!({"device": d.key(), "bound": d.is_bound(), "waiting_for": tree}));
        return Ok(());
    }
    if d.is_bound() {
        outln!(
            "{} is bound to {}",
            d.key(),
            d.driver.as_deref().unwrap_or("?")
        );
        return Ok(());
    }
    if tree.is_empty() {
        outln!("{} is not bound, and sysfs shows no missing supplier (no driver matches it, or its probe failed: see the kernel log)", d.key());
        return Ok(());
    }
    outln!("{} is not bound; it waits for:", d.key());
    fn print(nodes: &[Value], indent: usize) {
        for n in nodes {
            outln!(
                "{:indent$}- {}",
                "",
                n["missing"].as_str().unwrap_or(""),
                indent = indent
            );
            if let Some(b) = n["because"].as_array() {
                print(b, indent + 2);
            }
        }
    }
    print(&tree, 2);
    Ok(())
}

/// `order DEVICE`.
pub fn order(k: &Kernel, name: &str, teardown: bool, as_json: bool) -> Result<(), Failure> {
    let s = snapshot(k)?;
    let d = s.expect_device(name, k.root().sys())?;
    let mut list: Vec<String> = s.dependents(d).iter().map(|d| d.key()).collect();
    if teardown {
        list.reverse();
    }
    if as_json {
        print_json(
            &json!({"device": d.key(), "order": if teardown { "teardown" } else { "bringup" }, "devices": list}),
        );
    } else {
        for (i, n) in list.iter().enumerate() {
            outln!("{:>3}. {n}", i + 1);
        }
        if list.is_empty() {
            outln!("(nothing depends on {})", d.key());
        }
    }
    Ok(())
}

/// `unbind DEVICE`.
pub fn unbind(k: &Kernel, name: &str, as_json: bool) -> Result<(), Failure> {
    let done = k.unbind(name, STEP_TIMEOUT)?;
    let settle = Settle {
        gone: vec![],
        unbound: done.iter().map(|u| u.path.clone()).collect(),
    };
    k.wait_settled(&settle, STEP_TIMEOUT)?;
    if as_json {
        print_json(
            &json!({"unbound": done.iter().map(|u| json!({"device": u.key, "driver": u.driver})).collect::<Vec<_>>()}),
        );
    } else if done.is_empty() {
        outln!("{name} was not bound; nothing changed");
    } else {
        for u in &done {
            outln!("unbound {} (was {})", u.key, u.driver);
        }
    }
    Ok(())
}

/// `bind DEVICE`.
pub fn bind(k: &Kernel, name: &str, as_json: bool) -> Result<(), Failure> {
    k.bind(name, None, STEP_TIMEOUT)?;
    let s = snapshot(k)?;
    let d = s.expect_device(name, k.root().sys())?;
    if as_json {
        print_json(&json!({"device": d.key(), "driver": d.driver}));
    } else {
        outln!(
            "{} bound to {}",
            d.key(),
            d.driver.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

/// `wait-removal`: until no link is in a transition and no link outlives
/// its device.
pub fn wait_removal(k: &Kernel, timeout: f64, as_json: bool) -> Result<(), Failure> {
    let timeout = Duration::try_from_secs_f64(timeout).map_err(|_| {
        Failure::new(
            ErrorKind::InvalidInput,
            format!("--timeout {timeout}: not a duration"),
        )
    })?;
    let start = std::time::Instant::now();
    k.wait_quiet(timeout)?;
    if as_json {
        print_json(&json!({"settled": true, "waited_ms": start.elapsed().as_millis() as u64}));
    } else {
        outln!(
            "settled: no link in transition ({} ms)",
            start.elapsed().as_millis()
        );
    }
    Ok(())
}

fn flags(partial: bool) -> ImageFlags {
    if partial {
        ImageFlags::PARTIAL_RECONFIG
    } else {
        ImageFlags::empty()
    }
}

/// `program fpgaN IMAGE`.
pub fn program(
    k: &Kernel,
    target: &str,
    image: &Path,
    partial: bool,
    dry_run: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let bare = target.rsplit(':').next().unwrap_or(target);
    let s = snapshot(k)?;
    if s.regions.iter().any(|r| r.dev == bare) {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("{target} is a region; on a kernel, program its manager or use `reprogram {target} IMAGE`"),
        ));
    }
    let mgr = XlnxManager::open(k.root(), bare)?;
    let data = crate::board::read_image(image)?;
    if data.is_empty() {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("image {}: empty file", image.display()),
        ));
    }
    // A holder is reported before anything is staged; the load itself
    // takes the lock.
    if let Some(holder) = ManagerLock::holder(k.root(), bare)? {
        return Err(SysfsError::Busy {
            what: format!("manager {bare}"),
            holder,
        }
        .into());
    }
    if dry_run {
        if as_json {
            print_json(
                &json!({"dry_run": true, "manager": bare, "bytes": data.len(), "state": mgr.state()?.sysfs()}),
            );
        } else {
            outln!("dry run: would load {} ({} bytes) through {bare}'s firmware attribute; the manager is free", image.display(), data.len());
        }
        return Ok(());
    }
    if !as_json {
        outln!(
            "loading {} ({} bytes) through {bare} ...",
            image.display(),
            data.len()
        );
    }
    let r = mgr.load(&data, flags(partial), None)?;
    let st = r.status.sysfs();
    if as_json {
        print_json(
            &json!({"manager": bare, "state": r.state.sysfs(), "status": st.lines().collect::<Vec<_>>(), "load_ms": r.load_time.as_millis() as u64}),
        );
    } else {
        outln!(
            "{bare}: state {}, status {} ({} ms)",
            r.state.sysfs(),
            if st.is_empty() {
                "(no error bits)"
            } else {
                st.trim_end()
            },
            r.load_time.as_millis()
        );
    }
    Ok(())
}

/// `reprogram regionN IMAGE` on a kernel: spec `uio.md` §3.6.
pub fn reprogram(
    k: &Kernel,
    region: &str,
    image: &Path,
    partial: bool,
    manager: Option<&str>,
    as_json: bool,
) -> Result<(), Failure> {
    let s = snapshot(k)?;
    let bare = region.rsplit(':').next().unwrap_or(region);
    if !s.regions.iter().any(|r| r.dev == bare) {
        return Err(Failure::new(
            ErrorKind::NoDevice,
            format!("no FPGA region named {region:?}"),
        )
        .hint(format!(
            "regions: {}",
            s.regions
                .iter()
                .map(|r| r.dev.clone())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // The device the region's logic hangs off: the region's parent.
    let region_dev = s
        .device(&format!("fpga_region:{bare}"))
        .and_then(|d| d.parent.clone())
        .ok_or_else(|| {
            Failure::new(
                ErrorKind::NoDevice,
                format!("{bare} has no parent device in sysfs"),
            )
        })?;
    let manager = match manager {
        Some(m) => m.to_string(),
        None => match s.managers.as_slice() {
            [m] => m.dev.clone(),
            [] => {
                return Err(Failure::new(
                    ErrorKind::NoDevice,
                    "no FPGA manager in sysfs",
                ))
            }
            _ => {
                return Err(Failure::new(
                    ErrorKind::InvalidInput,
                    format!("{} managers: say which programs {bare}", s.managers.len()),
                )
                .hint("pass --manager fpgaN"))
            }
        },
    };
    let data = crate::board::read_image(image)?;
    if data.is_empty() {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("image {}: empty file", image.display()),
        ));
    }
    let plan = RegionPlan {
        region_device: region_dev,
        manager: manager.clone(),
        load: Load::Firmware { image: data },
        flags: flags(partial),
        key: None,
        remove_overlays: vec![],
        timeout: STEP_TIMEOUT,
    };
    let mut steps = Vec::new();
    let r = reprogram_region(k, &plan, |step| {
        if !as_json {
            outln!("  {step}");
        }
        steps.push(step.to_string());
    });
    let r = r.map_err(|e| {
        let f: Failure = e.into();
        let down: Vec<&str> = steps.iter().filter_map(|s| s.strip_prefix("unbind ")).collect();
        if down.is_empty() || steps.iter().any(|s| s.starts_with("bind ")) {
            f
        } else {
            f.hint(format!(
                "the region's dependents are left unbound ({}); bind them with `fpgactl bind` once the region is loaded",
                down.join(", ")
            ))
        }
    })?;
    let st = r.load.status.sysfs();
    if as_json {
        print_json(&json!({
            "region": bare, "manager": manager, "steps": steps,
            "state": r.load.state.sysfs(), "status": st.lines().collect::<Vec<_>>(),
            "not_rebound": r.not_rebound.iter().map(|u| u.key.clone()).collect::<Vec<_>>(),
        }));
    } else {
        outln!(
            "{bare}: {manager} state {}, status {}",
            r.load.state.sysfs(),
            if st.is_empty() {
                "(no error bits)"
            } else {
                st.trim_end()
            }
        );
        for u in &r.not_rebound {
            outln!(
                "  {} is gone after the load (the new logic has no such device)",
                u.key
            );
        }
    }
    Ok(())
}
