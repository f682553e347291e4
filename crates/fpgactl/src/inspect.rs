//! Read-only commands: `list`, `show`, `links`, `why`, `order`.

use crate::board::{find_device, resolve, Object};
use crate::cli::Format;
use crate::outln;
use crate::output::{print_json, Failure};
use backend_sim::Board;
use devlink_core::{Device, ErrorKind, LinkFlags, Waiting};
use fpga_core::{FpgaBridge, FpgaManager, FpgaRegion};
use futures::executor::block_on;
use serde_json::{json, Value};
use std::collections::HashSet;

fn device_json(d: &Device) -> Value {
    json!({
        "name": d.to_string(),
        "state": d.state().to_string(),
        "driver": d.driver_name(),
    })
}

fn status_lines(m: &FpgaManager) -> Vec<String> {
    block_on(m.sysfs_status())
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_else(|e| vec![format!("(unreadable: {e})")])
}

fn bridge_state(b: &FpgaBridge) -> String {
    block_on(b.sysfs_state())
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|e| format!("(unreadable: {e})"))
}

fn holder(board: &Board, m: &FpgaManager) -> Option<String> {
    board
        .held
        .iter()
        .find(|h| h.lock.manager().id() == m.id())
        .map(|h| h.holder.clone())
}

fn manager_json(board: &Board, m: &FpgaManager) -> Value {
    json!({
        "name": m.device().name(),
        "sysfs_name": m.name(),
        "parent": m.parent().to_string(),
        "state": m.sysfs_state().trim_end(),
        "status": status_lines(m),
        "locked": m.is_locked(),
        "held_by": holder(board, m),
        "compat_id": m.compat_id().map(|c| c.sysfs().trim_end().to_string()),
    })
}

fn bridge_parent(b: &FpgaBridge) -> String {
    b.device()
        .parent()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "-".into())
}

fn bridge_json(b: &FpgaBridge) -> Value {
    json!({
        "name": b.device().name(),
        "sysfs_name": b.name(),
        "parent": bridge_parent(b),
        "state": bridge_state(b),
        "held": b.is_held(),
    })
}

/// Devices that use the logic inside `r` (its parent's dependents, minus
/// the FPGA class devices), suppliers first.
fn region_users(board: &Board, r: &FpgaRegion) -> Vec<Device> {
    board
        .core
        .dependents(r.parent())
        .into_iter()
        .filter(|d| !d.bus_name().starts_with("fpga_"))
        .collect()
}

fn region_json(board: &Board, r: &FpgaRegion) -> Value {
    let deps: Vec<String> = region_users(board, r)
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({
        "name": r.device().name(),
        "parent": r.parent().to_string(),
        "manager": r.manager().device().name(),
        "bridges": r.bridges().iter().map(|b| b.device().name().to_string()).collect::<Vec<_>>(),
        "compat_id": r.sysfs_compat_id().ok().map(|s| s.trim_end().to_string()),
        "held": r.is_held(),
        "dependents": deps,
    })
}

/// `list`.
pub fn list(board: &Board, as_json: bool) {
    let devices = board.core.devices();
    if as_json {
        print_json(&json!({
            "managers": board.managers.iter().map(|(m, _)| manager_json(board, m)).collect::<Vec<_>>(),
            "bridges": board.bridges.iter().map(|(b, _)| bridge_json(b)).collect::<Vec<_>>(),
            "regions": board.regions.iter().map(|r| region_json(board, r)).collect::<Vec<_>>(),
            "devices": devices.iter().map(device_json).collect::<Vec<_>>(),
        }));
        return;
    }
    if !board.managers.is_empty() || !board.bridges.is_empty() || !board.regions.is_empty() {
        outln!("{:<8}  {:<8}  {:<22}  DETAILS", "FPGA", "CLASS", "STATE");
        for (m, _) in &board.managers {
            let held = holder(board, m)
                .map(|h| format!(", locked by {h}"))
                .unwrap_or_default();
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?} on {}{held}",
                m.device().name(),
                "manager",
                m.sysfs_state().trim_end(),
                m.name(),
                m.parent()
            );
        }
        for (b, _) in &board.bridges {
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?} on {}",
                b.device().name(),
                "bridge",
                bridge_state(b),
                b.name(),
                bridge_parent(b)
            );
        }
        for r in &board.regions {
            outln!(
                "{:<8}  {:<8}  {:<22}  on {}, programmed by {}, {} dependent(s)",
                r.device().name(),
                "region",
                if r.is_held() { "held" } else { "-" },
                r.parent(),
                r.manager().device().name(),
                region_users(board, r).len()
            );
        }
        outln!();
    }
    device_table(&devices);
}

/// The device table of `list` (also printed by `demo`, `bind`, `unbind`).
pub fn device_table(devices: &[Device]) {
    let w = devices
        .iter()
        .map(|d| d.to_string().len())
        .max()
        .unwrap_or(6)
        .max(6);
    outln!("{:<w$}  {:<10}  DRIVER", "DEVICE", "STATE");
    for d in devices {
        outln!(
            "{:<w$}  {:<10}  {}",
            d.to_string(),
            d.state().to_string(),
            d.driver_name().unwrap_or_else(|| "-".into())
        );
    }
}

/// `show NAME`.
pub fn show(board: &Board, name: &str, as_json: bool) -> Result<(), Failure> {
    match resolve(board, name)? {
        Object::Manager(i) => {
            let m = &board.managers[i].0;
            let v = manager_json(board, m);
            if as_json {
                print_json(
                    &json!({"kind": "fpga_manager", "manager": v, "device": show_device_json(board, m.device())}),
                );
                return Ok(());
            }
            outln!("{} (fpga_manager)", m.device().name());
            outln!("  name      {}", m.name());
            outln!("  parent    {}", m.parent());
            outln!("  state     {}", m.sysfs_state().trim_end());
            let status = status_lines(m);
            outln!(
                "  status    {}",
                if status.is_empty() {
                    "(no error bits)".to_string()
                } else {
                    status.join(", ")
                }
            );
            outln!(
                "  lock      {}",
                match (m.is_locked(), holder(board, m)) {
                    (_, Some(h)) => format!("held by {h}"),
                    (true, None) => "held".to_string(),
                    (false, None) => "free".to_string(),
                }
            );
            outln!(
                "  compat_id {}",
                m.compat_id()
                    .map(|c| c.sysfs().trim_end().to_string())
                    .unwrap_or_else(|| "-".into())
            );
            outln!("  owner     module {}", board.fpga_module.name());
            let users: Vec<String> = board
                .regions
                .iter()
                .filter(|r| r.manager().device() == m.device())
                .map(|r| r.device().name().to_string())
                .collect();
            outln!("  regions   {}", list_or_dash(&users));
        }
        Object::Bridge(i) => {
            let b = &board.bridges[i].0;
            if as_json {
                print_json(
                    &json!({"kind": "fpga_bridge", "bridge": bridge_json(b), "device": show_device_json(board, b.device())}),
                );
                return Ok(());
            }
            outln!("{} (fpga_bridge)", b.device().name());
            outln!("  name      {}", b.name());
            outln!("  parent    {}", bridge_parent(b));
            outln!("  state     {}", bridge_state(b));
            outln!("  held      {}", if b.is_held() { "yes" } else { "no" });
        }
        Object::Region(i) => {
            let r = &board.regions[i];
            let v = region_json(board, r);
            if as_json {
                print_json(
                    &json!({"kind": "fpga_region", "region": v, "device": show_device_json(board, r.device())}),
                );
                return Ok(());
            }
            outln!("{} (fpga_region)", r.device().name());
            outln!("  parent    {}", r.parent());
            outln!(
                "  manager   {} ({})",
                r.manager().device().name(),
                r.manager().state()
            );
            // Bridges are got for a load and put after it: at rest none
            // is held (the same list the JSON shows).
            let bridges: Vec<String> = r
                .bridges()
                .iter()
                .map(|b| b.device().name().to_string())
                .collect();
            outln!("  bridges held {}", list_or_dash(&bridges));
            outln!(
                "  compat_id {}",
                r.sysfs_compat_id()
                    .map(|s| s.trim_end().to_string())
                    .unwrap_or_else(|_| "-".into())
            );
            outln!("  held      {}", if r.is_held() { "yes" } else { "no" });
            let deps: Vec<String> = region_users(board, r)
                .iter()
                .map(|d| format!("{d} ({})", d.state()))
                .collect();
            outln!("  dependents (suppliers first): {}", list_or_dash(&deps));
        }
        Object::Device(d) => {
            if as_json {
                print_json(&json!({"kind": "device", "device": show_device_json(board, &d)}));
                return Ok(());
            }
            let v = show_device_json(board, &d);
            outln!("{d}");
            for key in [
                "state",
                "driver",
                "parent",
                "of_node",
                "waiting_for_supplier",
            ] {
                let val = match &v[key] {
                    Value::Null => "-".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                outln!("  {key:<21}{val}");
            }
            for (key, title) in [("suppliers", "supplier"), ("consumers", "consumer")] {
                for l in v[key].as_array().into_iter().flatten() {
                    outln!(
                        "  {title:<9}{:<28} link {} ({}, flags {})",
                        l["device"].as_str().unwrap_or("?"),
                        l["link"].as_str().unwrap_or("?"),
                        l["status"].as_str().unwrap_or("?"),
                        l["flags"].as_str().unwrap_or("?")
                    );
                }
            }
            let waiting: Vec<String> = board
                .core
                .waiting_for(&d)
                .iter()
                .map(ToString::to_string)
                .collect();
            if !waiting.is_empty() {
                outln!("  waiting for: {}", waiting.join(", "));
            }
        }
    }
    Ok(())
}

fn list_or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

fn show_device_json(board: &Board, d: &Device) -> Value {
    let view = board.core.sysfs_view();
    let link = |name: &str| view.link(name);
    let links = |l: Vec<devlink_core::Link>, supplier_side: bool| -> Vec<Value> {
        l.iter()
            .filter_map(|l| {
                let name = l.name().ok()?;
                let other = if supplier_side {
                    l.supplier().ok()?
                } else {
                    l.consumer().ok()?
                };
                let lv = link(&name)?;
                Some(json!({
                    "device": other.to_string(),
                    "link": name,
                    "status": lv.state.sysfs_status(),
                    "flags": format!("{:#05x}", lv.flags.bits()),
                }))
            })
            .collect()
    };
    json!({
        "name": d.to_string(),
        "state": d.state().to_string(),
        "driver": d.driver_name(),
        "parent": d.parent().map(|p| p.to_string()),
        "of_node": d.fwnode().map(|n| n.path().to_string()),
        "waiting_for_supplier": d.waiting_for_supplier(),
        "suppliers": links(d.supplier_links(), true),
        "consumers": links(d.consumer_links(), false),
    })
}

/// The links as Graphviz dot.
pub fn dot(board: &Board) -> String {
    let view = board.core.sysfs_view();
    let mut s = String::from("digraph devlinks {\n  rankdir=LR;\n  node [shape=box];\n");
    for l in &view.links {
        let (sup, con) = l.name.split_once("--").expect("link names have --");
        let style = if l.flags.contains(LinkFlags::STATELESS) {
            ", style=dashed"
        } else {
            ""
        };
        s.push_str(&format!(
            "  \"{sup}\" -> \"{con}\" [label=\"{}\"{style}];\n",
            l.state.sysfs_status()
        ));
    }
    s.push_str("}\n");
    s
}

/// `links`.
pub fn links(board: &Board, format: Format, svg: Option<&std::path::Path>) -> Result<(), Failure> {
    if let Some(path) = svg {
        let picture = crate::svg::render(&dot(board))?;
        std::fs::write(path, picture).map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NoDevice,
                _ => ErrorKind::Io,
            };
            Failure::new(kind, format!("writing {}: {e}", path.display()))
        })?;
    }
    let view = board.core.sysfs_view();
    match format {
        Format::Json => {
            let v: Vec<_> = view
                .links
                .iter()
                .map(|l| {
                    json!({
                        "name": l.name,
                        "supplier": l.supplier,
                        "consumer": l.consumer,
                        "status": l.state.sysfs_status(),
                        "flags": format!("{:#05x}", l.flags.bits()),
                        "auto_remove_on": l.flags.auto_remove_on(),
                    })
                })
                .collect();
            print_json(&Value::Array(v));
        }
        Format::Dot => outln!("{}", dot(board).trim_end()),
        Format::Table => {
            let w = view
                .links
                .iter()
                .map(|l| l.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            outln!(
                "{:<w$}  {:<18}  {:<15}  FLAGS",
                "LINK",
                "STATUS",
                "AUTO_REMOVE_ON"
            );
            for l in &view.links {
                outln!(
                    "{:<w$}  {:<18}  {:<15}  {:#05x}",
                    l.name,
                    l.state.sysfs_status(),
                    l.flags.auto_remove_on(),
                    l.flags.bits()
                );
            }
        }
    }
    if let Some(path) = svg {
        if !matches!(format, Format::Json) {
            outln!("(graph drawn into {})", path.display());
        }
    }
    Ok(())
}

/// One node of the `why` tree.
fn why_tree(
    board: &Board,
    waiting: &[Waiting],
    depth: usize,
    seen: &mut HashSet<String>,
) -> Vec<Value> {
    waiting
        .iter()
        .map(|w| match w {
            Waiting::Supplier { supplier, state } => {
                let dev = board.core.find_device(supplier);
                let (dstate, driver, below) = match &dev {
                    Some(d) if d.driver_name().is_none() && depth < 32 && seen.insert(supplier.clone()) => {
                        let sub = board.core.waiting_for(d);
                        (Some(d.state().to_string()), None, why_tree(board, &sub, depth + 1, seen))
                    }
                    Some(d) => (Some(d.state().to_string()), d.driver_name(), Vec::new()),
                    None => (None, None, Vec::new()),
                };
                json!({"supplier": supplier, "link": state.to_string(), "state": dstate, "driver": driver, "waiting_for": below})
            }
            Waiting::FwNode { path } => json!({"fwnode": path, "waiting_for": []}),
        })
        .collect()
}

fn print_tree(nodes: &[Value], indent: usize) {
    for n in nodes {
        let pad = "  ".repeat(indent);
        if let Some(path) = n["fwnode"].as_str() {
            outln!("{pad}- {path}: firmware node with no device yet (is its device created?)");
            continue;
        }
        let supplier = n["supplier"].as_str().unwrap_or("?");
        let link = n["link"].as_str().unwrap_or("?");
        match (n["driver"].as_str(), n["state"].as_str()) {
            (Some(drv), _) => outln!("{pad}- {supplier} (link {link}; bound to {drv})"),
            (None, Some(st)) => {
                let below = n["waiting_for"].as_array().cloned().unwrap_or_default();
                if below.is_empty() {
                    outln!("{pad}- {supplier} (link {link}; {st}, not bound and waiting for nothing: is its driver registered?)");
                } else {
                    outln!("{pad}- {supplier} (link {link}; {st}), which waits for:");
                    print_tree(&below, indent + 1);
                }
            }
            (None, None) => outln!("{pad}- {supplier} (link {link}; not registered)"),
        }
    }
}

/// `why DEVICE`: the chain of missing suppliers, as a tree.
pub fn why(board: &Board, name: &str, as_json: bool) -> Result<(), Failure> {
    let d = find_device(board, name)?;
    let waiting = board.core.waiting_for(&d);
    let mut seen = HashSet::from([d.to_string()]);
    let tree = why_tree(board, &waiting, 0, &mut seen);
    if as_json {
        print_json(
            &json!({"device": d.to_string(), "state": d.state().to_string(), "driver": d.driver_name(), "waiting_for": tree}),
        );
        return Ok(());
    }
    match (d.driver_name(), tree.is_empty()) {
        (Some(drv), _) => outln!("{d} is bound to {drv}."),
        (None, true) => {
            outln!("{d} is not bound and waits for no supplier (is a matching driver registered?).")
        }
        (None, false) => {
            outln!("{d} is not bound; it is waiting for:");
            print_tree(&tree, 1);
        }
    }
    Ok(())
}

/// `order DEVICE --teardown|--bringup`.
pub fn order(board: &Board, name: &str, teardown: bool, as_json: bool) -> Result<(), Failure> {
    let d = find_device(board, name)?;
    let mut deps = board.core.dependents(&d);
    if teardown {
        deps.reverse();
    }
    let names: Vec<String> = deps.iter().map(ToString::to_string).collect();
    if as_json {
        print_json(&json!({"device": d.to_string(), "teardown": teardown, "order": names}));
    } else if names.is_empty() {
        outln!("{d} has no dependents.");
    } else {
        for (i, n) in names.iter().enumerate() {
            outln!("{:>3}. {n}", i + 1);
        }
    }
    Ok(())
}
