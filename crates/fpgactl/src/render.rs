//! The text form of each report: one renderer per command, the same on
//! every backend. Every name from outside passes through [`esc`] (the
//! terminal) or [`dot_id`] (Graphviz and SVG).

use crate::outln;
use crate::output::esc;
use crate::report::*;

fn dash(v: &Option<String>) -> String {
    v.as_deref()
        .map_or_else(|| "-".to_string(), |s| esc(s).into_owned())
}

fn list_or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter().map(|s| esc(s)).collect::<Vec<_>>().join(", ")
    }
}

/// The width of the widest name, capped so one long name cannot blow up
/// every line.
fn width<'a>(names: impl Iterator<Item = &'a str>, min: usize) -> usize {
    names
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(min)
        .clamp(min, 64)
}

/// The device table (`list`, `demo`).
pub fn device_table(devices: &[DeviceRow]) {
    let w = width(devices.iter().map(|d| d.name.as_str()), 6);
    outln!("{:<w$}  {:<10}  DRIVER", "DEVICE", "STATE");
    for d in devices {
        let state = if d.driver.is_none() && d.waiting {
            "waiting"
        } else {
            d.state.as_str()
        };
        outln!("{:<w$}  {:<10}  {}", esc(&d.name), state, dash(&d.driver));
    }
}

/// `list`.
pub fn list(r: &ListReport) {
    let f = &r.fpga;
    if let Some(e) = &f.error {
        outln!("(the FPGA classes could not be read: {})", esc(e));
    } else if !f.supported {
        outln!("(no FPGA classes: this kernel has no FPGA support, CONFIG_FPGA)");
    }
    let uio = r.uio.as_ref().map(|u| u.devices.as_slice()).unwrap_or(&[]);
    if !f.managers.is_empty() || !f.bridges.is_empty() || !f.regions.is_empty() || !uio.is_empty() {
        outln!("{:<8}  {:<8}  {:<22}  DETAILS", "FPGA", "CLASS", "STATE");
        for m in &f.managers {
            let status = m.status.clone().unwrap_or_default();
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?} on {}{}{}",
                esc(&m.name),
                "manager",
                m.state,
                esc(&m.driver_name),
                dash(&m.parent),
                m.locked_by
                    .as_ref()
                    .map(|h| format!(", locked by {}", esc(h)))
                    .unwrap_or_default(),
                if status.is_empty() {
                    String::new()
                } else {
                    format!(", status: {}", status.join(", "))
                }
            );
            match (&m.loaded_image, &m.loaded_unknown) {
                (Some(l), _) => outln!(
                    "{:<8}  {:<8}  {:<22}  {} (sha256 {})",
                    "",
                    "",
                    "image",
                    esc(&l.file),
                    &l.sha256[..l.sha256.len().min(12)]
                ),
                (None, Some(_)) => outln!(
                    "{:<8}  {:<8}  {:<22}  unknown (see `show {}`)",
                    "",
                    "",
                    "image",
                    esc(&m.name)
                ),
                (None, None) => {}
            }
        }
        for b in &f.bridges {
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?} on {}",
                esc(&b.name),
                "bridge",
                dash(&b.state),
                esc(&b.driver_name),
                dash(&b.parent)
            );
        }
        for g in &f.regions {
            outln!(
                "{:<8}  {:<8}  {:<22}  on {}, programmed by {}, {} user(s)",
                esc(&g.name),
                "region",
                match g.held {
                    Some(true) => "held",
                    _ => "-",
                },
                dash(&g.parent),
                dash(&g.manager),
                g.users.len()
            );
        }
        for u in uio {
            outln!(
                "{:<8}  {:<8}  {:<22}  {:?} {}, {} map(s)",
                esc(&u.name),
                "uio",
                "-",
                esc(&u.driver_name),
                esc(&u.version),
                u.maps.len()
            );
        }
        outln!();
    }
    if let Some(e) = r.uio.as_ref().and_then(|u| u.error.as_ref()) {
        outln!("(the UIO devices could not be read: {})", esc(e));
    }
    for n in &r.notes {
        outln!("(note: {})", esc(n));
    }
    device_table(&r.devices);
}

fn links_lines(title: &str, links: &[LinkRow], me: &str) {
    outln!("  {title}:");
    if links.is_empty() {
        outln!("    -");
    }
    for l in links {
        let other = if l.supplier == me {
            &l.consumer
        } else {
            &l.supplier
        };
        let mut extra = Vec::new();
        if l.runtime_pm {
            extra.push("runtime_pm");
        }
        if l.sync_state_only {
            extra.push("sync_state_only");
        }
        if !l.managed {
            extra.push("stateless");
        }
        outln!(
            "    {:<28} {}  auto_remove_on {}{}",
            esc(other),
            l.status,
            l.auto_remove_on,
            if extra.is_empty() {
                String::new()
            } else {
                format!(", {}", extra.join(", "))
            }
        );
    }
}

/// `show`.
pub fn show(r: &ShowReport) {
    match r {
        ShowReport::Device {
            device,
            fwnode,
            waiting_for_supplier,
            suppliers,
            consumers,
            waiting_for,
        } => {
            outln!("{}", esc(&device.name));
            outln!("  path      {}", esc(&device.path));
            outln!("  state     {}", device.state);
            outln!("  driver    {}", dash(&device.driver));
            outln!("  parent    {}", dash(&device.parent));
            outln!("  of_node   {}", dash(fwnode));
            if let Some(w) = waiting_for_supplier {
                outln!("  waiting_for_supplier {}", u8::from(*w));
            }
            links_lines("suppliers", suppliers, &device.name);
            links_lines("consumers", consumers, &device.name);
            if !waiting_for.is_empty() {
                outln!("  waiting for: {}", list_or_dash(waiting_for));
            }
            let link_problems = suppliers
                .iter()
                .chain(consumers.iter())
                .flat_map(|l| l.problems.iter().map(move |p| (l, p)));
            for p in &device.problems {
                outln!("  problem: {}", esc(p));
            }
            for (l, p) in link_problems {
                outln!("  problem (link {}): {}", esc(&l.name), esc(p));
            }
        }
        ShowReport::FpgaManager { manager: m, .. } => {
            outln!("{} (fpga_manager)", esc(&m.name));
            outln!("  name      {}", esc(&m.driver_name));
            outln!("  parent    {}", dash(&m.parent));
            outln!("  state     {}", m.state);
            let st = m.status.clone().unwrap_or_default();
            outln!(
                "  status    {}",
                if st.is_empty() {
                    "(no error bits)".to_string()
                } else {
                    st.join(", ")
                }
            );
            outln!(
                "  lock      {}",
                match (&m.locked_by, &m.lock_problem) {
                    (Some(h), _) => format!("held by {}", esc(h)),
                    (None, Some(p)) => format!("not held, but unavailable: {}", esc(p)),
                    (None, None) => "free".to_string(),
                }
            );
            outln!("  compat_id {}", dash(&m.compat_id));
            outln!("  regions   {}", list_or_dash(&m.regions));
            match (&m.loaded_image, &m.loaded_unknown) {
                (Some(l), _) => {
                    outln!("  image     {} (sha256 {})", esc(&l.file), l.sha256);
                    outln!(
                        "            {} bytes, flags {}, loaded by {}",
                        l.bytes,
                        l.flags,
                        esc(&l.by)
                    );
                }
                (None, Some(why)) => outln!("  image     unknown: {}", esc(why)),
                (None, None) => outln!("  image     - (no load through this tool recorded)"),
            }
        }
        ShowReport::FpgaBridge { bridge: b, .. } => {
            outln!("{} (fpga_bridge)", esc(&b.name));
            outln!("  name      {}", esc(&b.driver_name));
            outln!("  parent    {}", dash(&b.parent));
            outln!("  state     {}", dash(&b.state));
            outln!(
                "  held      {}",
                match b.held {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            );
        }
        ShowReport::Uio { uio: u, .. } => {
            outln!("{} ({})", esc(&u.name), esc(&u.driver_name));
            outln!("  version   {}", esc(&u.version));
            outln!("  parent    {}", dash(&u.parent));
            outln!(
                "  events    {}",
                u.events.map_or_else(|| "-".to_string(), |e| e.to_string())
            );
            for m in &u.maps {
                outln!(
                    "  map{}      {:#x} size {:#x} offset {:#x}{}",
                    m.index,
                    m.addr,
                    m.size,
                    m.offset,
                    if m.name.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", esc(&m.name))
                    }
                );
            }
        }
        ShowReport::FpgaRegion { region: g, .. } => {
            outln!("{} (fpga_region)", esc(&g.name));
            outln!("  parent    {}", dash(&g.parent));
            outln!("  manager   {}", dash(&g.manager));
            outln!("  bridges held {}", list_or_dash(&g.bridges));
            outln!("  compat_id {}", dash(&g.compat_id));
            outln!(
                "  held      {}",
                match g.held {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            );
            outln!("  users (suppliers first): {}", list_or_dash(&g.users));
        }
    }
}

/// A name quoted for Graphviz: `"` and `\` escaped, control characters
/// dropped (they cannot be drawn).
pub fn dot_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The links as Graphviz dot.
pub fn dot(links: &[LinkRow]) -> String {
    let mut s = String::from("digraph devlinks {\n  rankdir=LR;\n  node [shape=box];\n");
    for l in links {
        let style = if l.managed { "" } else { ", style=dashed" };
        s.push_str(&format!(
            "  {} -> {} [label={}{style}];\n",
            dot_id(&l.supplier),
            dot_id(&l.consumer),
            dot_id(&l.status)
        ));
    }
    s.push_str("}\n");
    s
}

/// `links` as a table.
pub fn links_table(r: &LinksReport) {
    let w = width(r.links.iter().map(|l| l.name.as_str()), 4);
    outln!(
        "{:<w$}  {:<18}  {:<15}  FLAGS",
        "LINK",
        "STATUS",
        "AUTO_REMOVE_ON"
    );
    for l in &r.links {
        outln!(
            "{:<w$}  {:<18}  {:<15}  {}",
            esc(&l.name),
            l.status,
            l.auto_remove_on,
            if l.flags.is_empty() {
                "-".to_string()
            } else {
                l.flags.join(",")
            }
        );
    }
    for n in &r.notes {
        outln!("(note: {})", esc(n));
    }
    if let Some(p) = &r.svg {
        outln!("(graph drawn into {})", esc(p));
    }
}

/// `why`.
pub fn why(r: &WhyReport) {
    let d = esc(&r.device);
    if let Some(drv) = &r.driver {
        outln!("{d} is bound to {}.", esc(drv));
        return;
    }
    if !r.bindable {
        outln!("{d} is a class device: class devices never bind (nothing is wrong).");
        return;
    }
    if r.waiting_for.is_empty() {
        if r.device.starts_with("acpi:") {
            outln!("{d} is not bound and waits for no supplier: ACPI device nodes are usually the firmware companions of other devices and have no driver of their own.");
        } else {
            outln!("{d} is not bound and waits for no supplier: no registered driver matches it, or its probe failed (see the kernel log).");
        }
        return;
    }
    outln!("{d} is not bound; it is waiting for:");
    for w in &r.waiting_for {
        let pad = "  ".repeat(w.depth.min(32) + 1);
        let tail = match (&w.supplier_driver, &w.supplier_state, w.truncated) {
            (_, _, true) => ", which waits for more (not followed further)".to_string(),
            (Some(drv), _, _) => format!("; bound to {}", esc(drv)),
            (None, Some(st), _) => format!("; {st}"),
            (None, None, _) => String::new(),
        };
        outln!("{pad}- {}{tail}", esc(&w.missing));
    }
}

/// `order`.
pub fn order(r: &OrderReport) {
    if r.order.is_empty() {
        outln!("{} has no dependents.", esc(&r.device));
    }
    for (i, n) in r.order.iter().enumerate() {
        outln!("{:>3}. {}", i + 1, esc(n));
    }
}

/// `unbind`.
pub fn unbind(r: &UnbindReport) {
    if r.unbound.is_empty() {
        outln!("{} was not bound; nothing changed", esc(&r.device));
        return;
    }
    outln!(
        "unbind {}: {} device(s) went down",
        esc(&r.device),
        r.unbound.len()
    );
    for c in &r.unbound {
        outln!("  unbound {:<28} (was {})", esc(&c.device), esc(&c.driver));
    }
    if let Some(n) = r.releases {
        outln!("  {n} link release(s) queued; all have run");
    }
}

/// `bind`.
pub fn bind(r: &BindReport) {
    if r.was_bound {
        outln!(
            "{} is already bound to {}; nothing changed",
            esc(&r.device),
            esc(&r.driver)
        );
    } else {
        outln!("{} bound to {}", esc(&r.device), esc(&r.driver));
    }
}

/// `wait-removal`.
pub fn wait(r: &WaitReport) {
    outln!(
        "settled: no link release pending and no link in transition ({} ms)",
        r.waited_ms
    );
}

fn status_text(status: &[String]) -> String {
    if status.is_empty() {
        "no error bits".into()
    } else {
        status.join(", ")
    }
}

/// `program`.
pub fn program(r: &ProgramReport) {
    if r.unchanged {
        outln!(
            "unchanged: {} already has {} loaded (sha256 {}); nothing was done",
            esc(&r.manager),
            esc(&r.image.file),
            r.image.sha256
        );
        return;
    }
    if r.dry_run {
        outln!(
            "dry run: would load {} ({} bytes, {} {}) into {} through {} ({}); nothing was changed",
            esc(&r.image.file),
            r.image.bytes,
            r.image.format,
            if r.image.partial { "partial" } else { "full" },
            esc(&r.target),
            esc(&r.manager),
            r.state
        );
        return;
    }
    if let Some(c) = &r.image.converted {
        outln!("image: {}", esc(c));
    }
    outln!(
        "done: {} is {} ({}) after {} ms",
        esc(&r.manager),
        r.state,
        status_text(&r.status),
        r.elapsed_ms
    );
}

/// `image`.
pub fn image(r: &crate::report::ImageReport) {
    outln!("{}", esc(&r.file));
    outln!("  format        {}", r.format);
    for (k, v) in [
        ("design", &r.design),
        ("part", &r.part),
        ("date", &r.date),
        ("time", &r.time),
    ] {
        if let Some(v) = v {
            outln!("  {k:<13} {}", esc(v));
        }
    }
    outln!("  size          {} bytes", r.bytes);
    outln!(
        "  payload       {} bytes at offset {}",
        r.payload_bytes,
        r.payload_offset
    );
    outln!(
        "  kind          {}",
        match r.partial {
            Some(true) => "partial",
            Some(false) => "full",
            None => "not told by the format (say --partial for a partial image)",
        }
    );
    if let Some(id) = &r.idcode {
        outln!("  idcode        {id}");
    }
    outln!("  sha256        {}", r.sha256);
    outln!(
        "  program ({}): {}{}",
        r.backend,
        if r.loadable { "" } else { "refused: " },
        esc(&r.plan)
    );
}

/// `reprogram`.
pub fn reprogram(r: &ReprogramReport) {
    if let Some(c) = &r.image.converted {
        outln!("image: {}", esc(c));
    }
    outln!(
        "done: {} dependent(s) rebound{}; {} is {} ({})",
        r.rebound.len(),
        if r.not_rebound.is_empty() {
            String::new()
        } else {
            format!(
                ", NOT rebound: {}",
                r.not_rebound
                    .iter()
                    .map(|n| format!("{} ({})", esc(&n.device), esc(&n.why)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        esc(&r.manager),
        r.state,
        status_text(&r.status)
    );
}

/// `recover`.
pub fn recover(r: &RecoverReport) {
    if let Some(note) = &r.note {
        outln!("{}", esc(note));
        return;
    }
    if r.recovered.is_empty() && r.removed_staged.is_empty() {
        outln!("nothing to recover: no interrupted reprogram, no stale staged image");
        return;
    }
    for row in &r.recovered {
        outln!(
            "an interrupted reprogram of {} (manager {}, pid {}) at its {}:",
            esc(&row.target),
            esc(&row.manager),
            row.pid,
            row.stage
        );
        match &row.left_down {
            Some(why) => outln!("  its users stay down: {}", esc(why)),
            None if row.rebound.is_empty() && row.not_rebound.is_empty() => {
                outln!("  nothing of it was down")
            }
            None => {
                for d in &row.rebound {
                    outln!("  bound again  {}", esc(d));
                }
                for n in &row.not_rebound {
                    outln!("  NOT bound    {} ({})", esc(&n.device), esc(&n.why));
                }
            }
        }
    }
    for n in &r.removed_staged {
        outln!("removed {}, staged by a process that is gone", esc(n));
    }
}
