//! The commands on UIO devices through `backend-uio`: listing them, one
//! device's maps and interrupt count, and loading a partial bitstream
//! through an AXI HWICAP mapped by UIO.

use crate::outln;
use crate::output::{print_json, Failure, LoadProgress};
use backend_uio::bitstream::{Bitstream, Format};
use backend_uio::{HwicapManager, Selector, UioDevice, UioError, UioInfo, UioRoot};
use devlink_core::ErrorKind;
use fpga_core::{ImageFlags, ImageInfo};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

impl From<UioError> for Failure {
    fn from(e: UioError) -> Failure {
        let f = Failure::new(e.kind(), e.to_string());
        match e.kind() {
            ErrorKind::Busy => f.hint("another process has the device open; wait for it"),
            ErrorKind::NoDevice => f.hint("`fpgactl --backend uio list` shows the UIO devices"),
            _ => f,
        }
    }
}

/// The UIO devices under `--root` (default: the running kernel).
pub fn root(dir: Option<&Path>) -> UioRoot {
    match dir {
        Some(d) => UioRoot::at(d),
        None => UioRoot::default(),
    }
}

fn selector(name: &str) -> Selector {
    match name.strip_prefix("uio").and_then(|n| n.parse().ok()) {
        Some(n) => Selector::Number(n),
        None => Selector::Name(name.to_string()),
    }
}

fn info_json(u: &UioInfo) -> Value {
    json!({
        "name": format!("uio{}", u.number),
        "driver_name": u.name,
        "version": u.version,
        "parent": u.parent,
        "maps": u.maps.iter().map(|m| json!({
            "index": m.index, "name": m.name, "addr": m.addr, "size": m.size, "offset": m.offset,
        })).collect::<Vec<_>>(),
    })
}

/// `list`.
pub fn list(root: &UioRoot, as_json: bool) -> Result<(), Failure> {
    let all = backend_uio::scan(root)?;
    if as_json {
        print_json(&Value::Array(all.iter().map(info_json).collect()));
        return Ok(());
    }
    if all.is_empty() {
        outln!("(no UIO devices)");
        return Ok(());
    }
    outln!("{:<7}  {:<20}  {:<10}  MAPS", "DEVICE", "NAME", "VERSION");
    for u in &all {
        let maps: Vec<String> = u
            .maps
            .iter()
            .map(|m| format!("map{} {:#x}+{:#x}", m.index, m.addr, m.size))
            .collect();
        outln!(
            "{:<7}  {:<20}  {:<10}  {}",
            format!("uio{}", u.number),
            u.name,
            u.version,
            if maps.is_empty() {
                "-".to_string()
            } else {
                maps.join(", ")
            }
        );
    }
    Ok(())
}

/// `show uioN` (or a device name).
pub fn show(root: &UioRoot, name: &str, as_json: bool) -> Result<(), Failure> {
    let info = backend_uio::resolve(root, &selector(name))?;
    let events = backend_uio::read_event(root, info.number).ok();
    if as_json {
        let mut v = info_json(&info);
        v["events"] = json!(events);
        print_json(&v);
        return Ok(());
    }
    outln!("uio{} ({})", info.number, info.name);
    outln!("  version   {}", info.version);
    outln!(
        "  parent    {}",
        info.parent
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "-".into())
    );
    outln!(
        "  events    {}",
        events.map(|e| e.to_string()).unwrap_or_else(|| "-".into())
    );
    for m in &info.maps {
        outln!(
            "  map{}      {:#x} size {:#x} offset {:#x}{}",
            m.index,
            m.addr,
            m.size,
            m.offset,
            if m.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", m.name)
            }
        );
    }
    Ok(())
}

/// `program uioN IMAGE`: a partial bitstream through the AXI HWICAP that
/// `uioN`'s map 0 exposes. The image is parsed completely before the
/// device is touched.
pub fn program(
    root: &UioRoot,
    target: &str,
    image: &Path,
    partial: bool,
    dry_run: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let data = crate::board::read_image(image)?;
    let parsed = Bitstream::parse(&data).map_err(|e| {
        Failure::new(
            ErrorKind::InvalidInput,
            format!("image {}: {e}", image.display()),
        )
    })?;
    let format = match parsed.format {
        Format::Bit => "bit",
        Format::Bin => "bin",
        Format::SwappedBin => "byte-swapped bin",
    };
    let dev = UioDevice::open(root, selector(target))?;
    let name = format!("uio{}", dev.info().number);
    if dry_run {
        if as_json {
            print_json(
                &json!({"dry_run": true, "device": name, "format": format, "words": parsed.words.len()}),
            );
        } else {
            outln!(
                "dry run: {} is a {format} image of {} words; {name} is free",
                image.display(),
                parsed.words.len()
            );
        }
        return Ok(());
    }
    let dev = Arc::new(dev);
    let ops = HwicapManager::new(dev, 0)?;
    // A private driver core holds the manager for this one load.
    let core = devlink_core::DriverCore::new()?;
    let parent = core.device(&name).bus("platform").create();
    futures::executor::block_on(core.device_add(&parent))?;
    let fpga = fpga_core::Fpga::new(&core);
    let mgr = futures::executor::block_on(fpga.registrar_builtin().register_manager(
        &parent,
        fpga_core::ManagerInfo::new("AXI HWICAP", Arc::new(ops)),
    ))?;
    let flags = if partial {
        ImageFlags::PARTIAL_RECONFIG
    } else {
        ImageFlags::empty()
    };
    let mut info = ImageInfo::from_buffer(data).with_flags(flags);
    let progress = LoadProgress::new(as_json);
    let res = fpga.mgr_get(&parent).and_then(|m| {
        let lock = m.lock()?;
        futures::executor::block_on(
            lock.load_with_progress(&mut info, &|w, t| progress.update(w, t)),
        )
    });
    let took = progress.finish();
    let state = mgr.sysfs_state().trim_end().to_string();
    let status: Vec<String> = futures::executor::block_on(mgr.sysfs_status())
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default();
    match res {
        Ok(()) => {
            if as_json {
                print_json(
                    &json!({"device": name, "state": state, "status": status, "ms": took.as_millis() as u64}),
                );
            } else {
                outln!(
                    "{name}: state {state}, status {} ({} ms)",
                    if status.is_empty() {
                        "(no error bits)".to_string()
                    } else {
                        status.join(", ")
                    },
                    took.as_millis()
                );
            }
            Ok(())
        }
        Err(e) => Err(Failure::new(
            e.kind(),
            format!(
                "loading {} through {name}: {e}; state {state}{}",
                image.display(),
                if status.is_empty() {
                    String::new()
                } else {
                    format!(", status: {}", status.join(", "))
                }
            ),
        )),
    }
}
