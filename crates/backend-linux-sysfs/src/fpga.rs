//! The FPGA classes (`class/fpga_manager`, `fpga_bridge`, `fpga_region`)
//! read into the [`FpgaView`] every backend shows. Read on its own, so a
//! malformed FPGA attribute fails FPGA commands only, never `links`.

use crate::attr;
use crate::error::Result;
use crate::io::Dir;
use crate::lock::ManagerLockFile;
use crate::root::SysfsRoot;
use crate::scan::Reader;
use fpga_core::{BridgeView, FpgaView, ManagerView, RegionView};

/// `bus:name` of the device a class device hangs off (its `device`
/// symlink), the bus from that device's `subsystem` link. A parent with
/// neither bus nor class is `:name`, as the kernel names link ends.
fn parent_key(r: &Reader, dir: &Dir, rel: &str) -> Result<Option<String>> {
    let Some(parent) = r.link_in(dir, rel, "device")? else {
        return Ok(None);
    };
    let name = parent.rsplit('/').next().unwrap_or(&parent).to_string();
    let bus = match r.sys.sub_opt(&parent)? {
        Some(pdir) => pdir
            .symlink("subsystem")?
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned())),
        None => None,
    };
    Ok(Some(format!("{}:{name}", bus.unwrap_or_default())))
}

/// The class directory's members: `(name, device dir relative to the
/// root, the open device dir)`; non-symlinks (class attributes) skipped.
fn members(r: &Reader, class: &str) -> Result<Vec<(String, String, Dir)>> {
    let rel = format!("class/{class}");
    let Some(dir) = r.sys.sub_opt(&rel)? else {
        // Something there that is not a directory is not "no support".
        if r.sys.exists(&rel)? {
            return Err(crate::error::SysfsError::parse(
                r.sys.path().join(&rel),
                "(not a directory)",
                "a class directory",
            ));
        }
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in dir.entries()? {
        let Some(target) = dir.symlink(&name)? else {
            continue;
        };
        let Some(path) = crate::io::join_link(std::path::Path::new(&rel), &target) else {
            continue;
        };
        if let Some(d) = r.sys.sub_opt(&path)? {
            out.push((name, path, d));
        }
    }
    Ok(out)
}

/// Reads the FPGA classes under `root`. A class that does not exist is
/// empty; no class at all means the kernel has no FPGA support
/// ([`FpgaView::supported`] is false).
pub fn read_fpga(root: &SysfsRoot) -> Result<FpgaView> {
    let mut r = Reader::open(root)?;
    let supported = ["fpga_manager", "fpga_bridge", "fpga_region"]
        .iter()
        .map(|c| r.sys.sub_opt(format!("class/{c}")))
        .collect::<Result<Vec<_>>>()?
        .iter()
        .any(Option::is_some);
    let mut v = FpgaView {
        supported,
        ..FpgaView::default()
    };
    // Device tree: each manager's node phandle, to match a region's
    // `fpga-mgr` against.
    let mut phandles: Vec<(String, u32)> = Vec::new();
    for (dev, rel, dir) in members(&r, "fpga_manager")? {
        if let Some(ph) = dt_node(&r, &dir, &rel).and_then(|n| dt_u32(&n.join("phandle"))) {
            phandles.push((dev.clone(), ph));
        }
        let (p, t) = r.attr_req(&dir, "name")?;
        let name = attr::name(&p, &t)?;
        let (p, t) = r.attr_req(&dir, "state")?;
        let state = attr::mgr_state(&p, &t)?;
        let status = match r.attr(&dir, "status")? {
            Some((p, t)) => Some(attr::mgr_status(&p, &t)?),
            None => None,
        };
        let (locked_by, lock_problem) = match ManagerLockFile::holder(root, &dev) {
            Ok(h) if root.lock_dir().is_dir() => (h, None),
            Ok(h) => (
                h,
                Some(format!(
                    "{} is missing: a load cannot take the lock",
                    root.lock_dir().display()
                )),
            ),
            Err(e) => (None, Some(format!("the lock cannot be read: {e}"))),
        };
        let (loaded, loaded_unknown) =
            crate::identity::loaded_now(root, &dev, state.sysfs().trim_end());
        v.managers.push(ManagerView {
            parent: parent_key(&r, &dir, &rel)?,
            loadable: dir.exists("firmware")? && dir.exists("flags")?,
            dev,
            name,
            state,
            status,
            compat_id: None,
            locked_by,
            lock_problem,
            loaded,
            loaded_unknown,
        });
    }
    for (dev, rel, dir) in members(&r, "fpga_bridge")? {
        let (p, t) = r.attr_req(&dir, "name")?;
        let name = attr::name(&p, &t)?;
        let (p, t) = r.attr_req(&dir, "state")?;
        let enabled = attr::bridge_state(&p, &t)?;
        v.bridges.push(BridgeView {
            parent: parent_key(&r, &dir, &rel)?,
            dev,
            name,
            enabled: Some(enabled),
            held: None,
        });
    }
    // sysfs does not say which manager programs a region; with one
    // manager there is no doubt, and on device tree the region's node
    // says (`fpga-mgr`, as of-fpga-region reads it).
    let only_manager = match v.managers.as_slice() {
        [m] => Some(m.dev.clone()),
        _ => None,
    };
    let dt_base = root.devicetree();
    for (dev, rel, dir) in members(&r, "fpga_region")? {
        let by_dt = dt_node(&r, &dir, &rel)
            .and_then(|n| region_manager_phandle(&dt_base, &n))
            .and_then(|ph| phandles.iter().find(|(_, p)| *p == ph))
            .map(|(m, _)| m.clone());
        let compat_id = match r.attr(&dir, "compat_id")? {
            Some((p, t)) => Some(attr::compat_id(&p, &t)?),
            None => None,
        };
        v.regions.push(RegionView {
            parent: parent_key(&r, &dir, &rel)?,
            manager: by_dt.or_else(|| only_manager.clone()),
            dev,
            bridges: Vec::new(),
            compat_id,
            held: None,
        });
    }
    Ok(v)
}

/// The device-tree node of a class device (its `of_node` link), as a path.
fn dt_node(r: &Reader, dir: &Dir, rel: &str) -> Option<std::path::PathBuf> {
    let target = r.link_in(dir, rel, "of_node").ok().flatten()?;
    Some(r.sys.path().join(target))
}

/// A one-cell device-tree property file (big-endian).
fn dt_u32(path: &std::path::Path) -> Option<u32> {
    let b = std::fs::read(path).ok()?;
    let c: [u8; 4] = b.as_slice().try_into().ok()?;
    Some(u32::from_be_bytes(c))
}

/// The `fpga-mgr` phandle that programs the region at `node`: of the
/// nearest node at or above it compatible with `fpga-region` that has one
/// (what of-fpga-region's probe looks for).
fn region_manager_phandle(base: &std::path::Path, node: &std::path::Path) -> Option<u32> {
    let mut n = node.to_path_buf();
    while n.starts_with(base) {
        let compatible = std::fs::read(n.join("compatible")).unwrap_or_default();
        if compatible.split(|&b| b == 0).any(|c| c == b"fpga-region") {
            if let Some(ph) = dt_u32(&n.join("fpga-mgr")) {
                return Some(ph);
            }
        }
        if !n.pop() {
            break;
        }
    }
    None
}
