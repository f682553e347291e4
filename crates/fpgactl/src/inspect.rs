//! The read-only commands, written once over [`Backend`]: `list`, `show`,
//! `links`, `why`, `order`. Each builds its report from the backend's
//! topology and FPGA view; `render.rs` prints it.

use crate::backend::Backend;
use crate::output::Failure;
use crate::report::*;
use devlink_core::drive::ReadTopology;
use devlink_core::{DevId, ErrorKind, Topology, Waiting};
use fpga_core::FpgaView;
use futures::executor::block_on;

/// The topology, or the error that stops the command.
pub fn topology<B: Backend>(b: &B) -> Result<Topology, Failure> {
    Ok(block_on(b.model().topology())?)
}

/// The users of `region` (what `reprogram` takes down), suppliers first.
/// Without a known manager they are still the dependents of the region's
/// devices.
fn region_users(t: &Topology, v: &FpgaView, r: &fpga_core::RegionView) -> Vec<DevId> {
    v.region_target(r)
        .and_then(|target| fpga_core::engine::users(t, &target).ok())
        .or_else(|| {
            let mut guarded = vec![format!("fpga_region:{}", r.dev)];
            guarded.extend(r.parent.clone());
            let target = fpga_core::LoadTarget {
                name: r.dev.clone(),
                manager: String::new(),
                guarded,
            };
            fpga_core::engine::users(t, &target).ok()
        })
        .unwrap_or_default()
}

/// The users of every region, by region name.
fn region_rows(t: &Topology, v: &FpgaView) -> Vec<RegionRow> {
    v.regions
        .iter()
        .map(|r| {
            let users = region_users(t, v, r);
            RegionRow::of(r, users.into_iter().map(|i| t.device(i).key()).collect())
        })
        .collect()
}

fn manager_rows(v: &FpgaView) -> Vec<ManagerRow> {
    v.managers
        .iter()
        .map(|m| {
            let regions = v.regions_of(&m.dev).iter().map(|r| r.dev.clone()).collect();
            ManagerRow::of(m, regions)
        })
        .collect()
}

/// The FPGA section; a read error stays in it.
fn fpga_section<B: Backend>(b: &B, t: &Topology) -> FpgaSection {
    match b.fpga() {
        Ok(v) => FpgaSection {
            supported: v.supported,
            managers: manager_rows(&v),
            bridges: v.bridges.iter().map(BridgeRow::of).collect(),
            regions: region_rows(t, &v),
            error: None,
        },
        Err(f) => FpgaSection {
            supported: true,
            managers: Vec::new(),
            bridges: Vec::new(),
            regions: Vec::new(),
            error: Some(f.message),
        },
    }
}

/// `list`.
pub fn list<B: Backend>(b: &B) -> Result<ListReport, Failure> {
    let t = topology(b)?;
    Ok(ListReport {
        backend: b.name().to_string(),
        fpga: fpga_section(b, &t),
        uio: b.uio(),
        devices: (0..t.devices().len())
            .map(|i| DeviceRow::of(&t, i))
            .collect(),
        notes: t.notes().to_vec(),
    })
}

/// `show NAME`: a manager, bridge or region by its class name (`fpga0`,
/// `fpga_manager:fpga0`) first, else a device.
pub fn show<B: Backend>(b: &B, name: &str) -> Result<ShowReport, Failure> {
    let t = topology(b)?;
    let class_dev = |class: &str, dev: &str| {
        t.get(&format!("{class}:{dev}"))
            .map(|id| DeviceRow::of(&t, id))
    };
    if let Ok(v) = b.fpga() {
        if let Some(m) = v.manager(name) {
            let row = manager_rows(&v)
                .into_iter()
                .find(|r| r.name == m.dev)
                .unwrap_or_else(|| ManagerRow::of(m, Vec::new()));
            return Ok(ShowReport::FpgaManager {
                device: class_dev("fpga_manager", &m.dev),
                manager: row,
            });
        }
        if let Some(br) = v.bridge(name) {
            return Ok(ShowReport::FpgaBridge {
                bridge: BridgeRow::of(br),
                device: class_dev("fpga_bridge", &br.dev),
            });
        }
        if let Some(r) = v.region(name) {
            let row = region_rows(&t, &v)
                .into_iter()
                .find(|x| x.name == r.dev)
                .unwrap_or_else(|| RegionRow::of(r, Vec::new()));
            return Ok(ShowReport::FpgaRegion {
                device: class_dev("fpga_region", &r.dev),
                region: row,
            });
        }
    }
    if let Some(section) = b.uio() {
        let bare = name.strip_prefix("uio:").unwrap_or(name);
        let hit = section.devices.iter().find(|u| u.name == bare).or_else(|| {
            let mut by_driver = section.devices.iter().filter(|u| u.driver_name == bare);
            match (by_driver.next(), by_driver.next()) {
                (Some(u), None) => Some(u),
                _ => None,
            }
        });
        if let Some(u) = hit {
            return Ok(ShowReport::Uio {
                device: class_dev("uio", &u.name),
                uio: u.clone(),
            });
        }
    }
    let id = t.find(name).map_err(|e| lookup_failure(&e))?;
    let d = t.device(id);
    Ok(ShowReport::Device {
        device: DeviceRow::of(&t, id),
        fwnode: d.fwnode.clone(),
        waiting_for_supplier: d.waiting_for_supplier,
        suppliers: t.supplier_links(id).map(LinkRow::of).collect(),
        consumers: t.consumer_links(id).map(LinkRow::of).collect(),
        waiting_for: t.waiting_for(id).iter().map(ToString::to_string).collect(),
    })
}

/// A failed name lookup, with what to type instead.
pub fn lookup_failure(e: &devlink_core::LookupError) -> Failure {
    let f = Failure::from_error(e);
    match e {
        devlink_core::LookupError::Ambiguous { .. } => {
            f.hint("name it as bus:name (or class:name)")
        }
        devlink_core::LookupError::NotFound { .. } => f.hint("`fpgactl list` shows every device"),
        _ => f,
    }
}

/// `links`.
pub fn links<B: Backend>(b: &B, svg: Option<&std::path::Path>) -> Result<LinksReport, Failure> {
    let t = topology(b)?;
    let rows: Vec<LinkRow> = t.links().iter().map(LinkRow::of).collect();
    if let Some(path) = svg {
        // The in-process layout's time grows fast with wide ranks (a hub
        // of 150 consumers takes seconds); larger graphs go to Graphviz.
        if rows.len() > crate::svg::MAX_LINKS {
            return Err(Failure::new(
                ErrorKind::InvalidInput,
                format!(
                    "--svg draws at most {} links; this graph has {}",
                    crate::svg::MAX_LINKS,
                    rows.len()
                ),
            )
            .hint("use `fpgactl links --format dot | dot -Tsvg > links.svg` (Graphviz)"));
        }
        let picture = crate::svg::render(&crate::render::dot(&rows))?;
        std::fs::write(path, picture).map_err(|e| {
            Failure::new(
                ErrorKind::of_io(&e),
                format!("writing {}: {e}", path.display()),
            )
        })?;
    }
    Ok(LinksReport {
        links: rows,
        svg: svg.map(|p| p.display().to_string()),
        notes: t.notes().to_vec(),
    })
}

/// `why DEVICE`.
pub fn why<B: Backend>(b: &B, name: &str) -> Result<WhyReport, Failure> {
    let t = topology(b)?;
    let id = t.find(name).map_err(|e| lookup_failure(&e))?;
    let d = t.device(id);
    let rows = t
        .why(id)
        .into_iter()
        .map(|e| {
            let (supplier, link) = match &e.waiting {
                Waiting::Supplier { supplier, state } => {
                    (Some(supplier.clone()), Some(state.to_string()))
                }
                Waiting::FwNode { .. } => (None, None),
            };
            let s = e.supplier.map(|s| t.device(s));
            WhyRow {
                depth: e.depth,
                missing: e.waiting.to_string(),
                supplier,
                link,
                supplier_state: s.map(|s| s.state.to_string()),
                supplier_driver: s.and_then(|s| s.driver.clone()),
                truncated: e.truncated,
            }
        })
        .collect();
    Ok(WhyReport {
        device: d.key(),
        state: d.state.to_string(),
        driver: d.driver.clone(),
        bindable: d.bindable(),
        waiting_for: rows,
    })
}

/// `order DEVICE --teardown|--bringup`.
pub fn order<B: Backend>(b: &B, name: &str, teardown: bool) -> Result<OrderReport, Failure> {
    let t = topology(b)?;
    let id = t.find(name).map_err(|e| lookup_failure(&e))?;
    // A region or a manager stands for what reprogramming it takes down:
    // its users, without the FPGA stack itself (its class device has no
    // dependents of its own; they hang off the device it is registered on).
    let users = match t.device(id).class.as_deref() {
        Some("fpga_region" | "fpga_manager") => b.fpga().ok().and_then(|v| {
            let dev = &t.device(id).name;
            if let Some(r) = v.region(dev) {
                Some(region_users(&t, &v, r))
            } else {
                let m = v.manager(dev)?;
                fpga_core::engine::users(&t, &v.manager_target(m)).ok()
            }
        }),
        _ => None,
    };
    let ids = match (users, teardown) {
        (Some(mut u), true) => {
            u.reverse();
            u
        }
        (Some(u), false) => u,
        (None, true) => t.teardown_order(id),
        (None, false) => t.dependents(id),
    };
    Ok(OrderReport {
        device: t.device(id).key(),
        direction: if teardown { "teardown" } else { "bringup" }.to_string(),
        order: ids.into_iter().map(|i| t.device(i).key()).collect(),
    })
}
