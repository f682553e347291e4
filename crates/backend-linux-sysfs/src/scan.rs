//! Reading the driver model out of sysfs: devices, device links and the
//! FPGA classes, as one [`Snapshot`].

use crate::attr::{self, AutoRemove};
use crate::error::{Result, SysfsError};
use crate::root::SysfsRoot;
use devlink_core::LinkState;
use fpga_core::{CompatId, MgrState, MgrStatus};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A device directory under `devices/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysDevice {
    /// The directory, relative to the sysfs root (`devices/platform/soc:pmic`).
    pub path: String,
    /// The directory name.
    pub name: String,
    /// The bus (`bus/<bus>/devices/<name>`), if any.
    pub bus: Option<String>,
    /// The class (`class/<class>/<name>`), if any.
    pub class: Option<String>,
    /// The bound driver (`driver` symlink), if any.
    pub driver: Option<String>,
    /// The nearest ancestor directory that is itself a device.
    pub parent: Option<String>,
    /// The device-tree node (`of_node` symlink), as a path (`/soc/pmic`).
    pub of_node: Option<String>,
    /// `waiting_for_supplier`, when the file exists.
    pub waiting_for_supplier: Option<bool>,
}

impl SysDevice {
    /// `bus:name` as the kernel names link ends (bus, else class, else
    /// empty).
    pub fn key(&self) -> String {
        format!(
            "{}:{}",
            self.bus.as_deref().or(self.class.as_deref()).unwrap_or(""),
            self.name
        )
    }

    /// Whether a driver is bound.
    pub fn is_bound(&self) -> bool {
        self.driver.is_some()
    }
}

/// A `/sys/class/devlink/<name>` entry with every attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysLink {
    /// `<S bus>:<S name>--<C bus>:<C name>`.
    pub name: String,
    /// `status`.
    pub status: LinkState,
    /// `auto_remove_on`.
    pub auto_remove_on: AutoRemove,
    /// `runtime_pm`.
    pub runtime_pm: bool,
    /// `sync_state_only`.
    pub sync_state_only: bool,
    /// The `supplier` symlink's device directory, if present.
    pub supplier: Option<String>,
    /// The `consumer` symlink's device directory, if present.
    pub consumer: Option<String>,
}

/// `/sys/class/fpga_manager/<dev>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysManager {
    /// `fpga<N>`.
    pub dev: String,
    /// `name`.
    pub name: String,
    /// `state`.
    pub state: MgrState,
    /// `status` (absent on kernels without the attribute).
    pub status: Option<MgrStatus>,
}

/// `/sys/class/fpga_bridge/<dev>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysBridge {
    /// `br<N>`.
    pub dev: String,
    /// `name`.
    pub name: String,
    /// `state`: traffic passes.
    pub enabled: bool,
}

/// `/sys/class/fpga_region/<dev>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRegion {
    /// `region<N>`.
    pub dev: String,
    /// `compat_id`, if the region has one (the read fails with `ENOENT`
    /// otherwise, which is how the kernel says "none").
    pub compat_id: Option<CompatId>,
}

/// Everything read in one pass. Sysfs changes under a reader: a snapshot
/// is a consistent *read*, not a consistent kernel state; read again
/// after driving anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Devices by path.
    pub devices: BTreeMap<String, SysDevice>,
    /// Links by name.
    pub links: BTreeMap<String, SysLink>,
    /// FPGA managers by device name.
    pub managers: Vec<SysManager>,
    /// FPGA bridges by device name.
    pub bridges: Vec<SysBridge>,
    /// FPGA regions by device name.
    pub regions: Vec<SysRegion>,
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(SysfsError::io(path))
}

fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SysfsError::io(path)(e)),
    }
}

/// Directory entries, sorted by name; a missing directory is empty.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SysfsError::io(dir)(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(SysfsError::io(dir))?;
        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    out.sort();
    Ok(out)
}

struct Reader {
    sys: PathBuf,
}

impl Reader {
    /// A symlink's target as a path relative to the sysfs root, or `None`
    /// if the link is absent.
    fn resolve(&self, link: &Path) -> Result<Option<String>> {
        match fs::symlink_metadata(link) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SysfsError::io(link)(e)),
            Ok(_) => {}
        }
        let target = fs::canonicalize(link).map_err(SysfsError::io(link))?;
        let rel = target.strip_prefix(&self.sys).map_err(|_| {
            SysfsError::parse(
                link,
                &target.display().to_string(),
                "a symlink into the sysfs root",
            )
        })?;
        Ok(Some(rel.to_string_lossy().into_owned()))
    }

    fn add_members(
        &self,
        devices: &mut BTreeMap<String, SysDevice>,
        dir: &Path,
        bus: Option<&str>,
        class: Option<&str>,
    ) -> Result<()> {
        for (name, entry) in entries(dir)? {
            let Some(path) = self.resolve(&entry)? else {
                continue;
            };
            let d = devices.entry(path.clone()).or_insert_with(|| SysDevice {
                path,
                name,
                bus: None,
                class: None,
                driver: None,
                parent: None,
                of_node: None,
                waiting_for_supplier: None,
            });
            if bus.is_some() {
                d.bus = bus.map(str::to_string);
            }
            if class.is_some() && d.class.is_none() {
                d.class = class.map(str::to_string);
            }
        }
        Ok(())
    }

    fn device_attrs(&self, d: &mut SysDevice) -> Result<()> {
        let dir = self.sys.join(&d.path);
        d.driver = fs::read_link(dir.join("driver"))
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()));
        if let Some(node) = self.resolve(&dir.join("of_node"))? {
            let base = "firmware/devicetree/base";
            let rest = node.strip_prefix(base).ok_or_else(|| {
                SysfsError::parse(
                    dir.join("of_node"),
                    &node,
                    "a link into firmware/devicetree/base",
                )
            })?;
            d.of_node = Some(if rest.is_empty() {
                "/".to_string()
            } else {
                rest.to_string()
            });
        }
        let wfs = dir.join("waiting_for_supplier");
        d.waiting_for_supplier = match read_opt(&wfs)? {
            Some(t) => Some(attr::bool01(&wfs, &t)?),
            None => None,
        };
        Ok(())
    }

    fn link(&self, name: String, entry: &Path) -> Result<SysLink> {
        let dir = fs::canonicalize(entry).map_err(SysfsError::io(entry))?;
        let file = |f: &str| {
            let p = dir.join(f);
            read_text(&p).map(|t| (p, t))
        };
        let (p, t) = file("status")?;
        let status = attr::link_status(&p, &t)?;
        let (p, t) = file("auto_remove_on")?;
        let auto_remove_on = attr::auto_remove_on(&p, &t)?;
        let (p, t) = file("runtime_pm")?;
        let runtime_pm = attr::bool01(&p, &t)?;
        let (p, t) = file("sync_state_only")?;
        let sync_state_only = attr::bool01(&p, &t)?;
        Ok(SysLink {
            name,
            status,
            auto_remove_on,
            runtime_pm,
            sync_state_only,
            supplier: self.resolve(&dir.join("supplier"))?,
            consumer: self.resolve(&dir.join("consumer"))?,
        })
    }
}

impl Snapshot {
    /// Reads devices, links and FPGA classes under `root`.
    pub fn read(root: &SysfsRoot) -> Result<Snapshot> {
        let sys = fs::canonicalize(root.sys()).map_err(SysfsError::io(root.sys()))?;
        let r = Reader { sys };
        let mut devices = BTreeMap::new();
        for (bus, dir) in entries(&r.sys.join("bus"))? {
            r.add_members(&mut devices, &dir.join("devices"), Some(&bus), None)?;
        }
        for (class, dir) in entries(&r.sys.join("class"))? {
            if class != "devlink" {
                r.add_members(&mut devices, &dir, None, Some(&class))?;
            }
        }
        for d in devices.values_mut() {
            r.device_attrs(d)?;
        }
        let paths: Vec<String> = devices.keys().cloned().collect();
        for d in devices.values_mut() {
            let mut p = Path::new(&d.path).parent();
            while let Some(dir) = p {
                let s = dir.to_string_lossy();
                if paths.binary_search_by(|x| x.as_str().cmp(&s)).is_ok() {
                    d.parent = Some(s.into_owned());
                    break;
                }
                p = dir.parent();
            }
        }
        let mut links = BTreeMap::new();
        for (name, entry) in entries(&r.sys.join("class/devlink"))? {
            let l = r.link(name.clone(), &entry)?;
            links.insert(name, l);
        }
        let mut snap = Snapshot {
            devices,
            links,
            ..Snapshot::default()
        };
        snap.read_fpga(&r.sys)?;
        Ok(snap)
    }

    fn read_fpga(&mut self, sys: &Path) -> Result<()> {
        let attr_of = |dir: &Path, f: &str| {
            let p = dir.join(f);
            read_text(&p).map(|t| (p, t))
        };
        for (dev, dir) in entries(&sys.join("class/fpga_manager"))? {
            let (p, t) = attr_of(&dir, "name")?;
            let name = attr::name(&p, &t)?;
            let (p, t) = attr_of(&dir, "state")?;
            let state = attr::mgr_state(&p, &t)?;
            let p = dir.join("status");
            let status = match read_opt(&p)? {
                Some(t) => Some(attr::mgr_status(&p, &t)?),
                None => None,
            };
            self.managers.push(SysManager {
                dev,
                name,
                state,
                status,
            });
        }
        for (dev, dir) in entries(&sys.join("class/fpga_bridge"))? {
            let (p, t) = attr_of(&dir, "name")?;
            let name = attr::name(&p, &t)?;
            let (p, t) = attr_of(&dir, "state")?;
            let enabled = attr::bridge_state(&p, &t)?;
            self.bridges.push(SysBridge { dev, name, enabled });
        }
        for (dev, dir) in entries(&sys.join("class/fpga_region"))? {
            let p = dir.join("compat_id");
            let compat_id = match read_opt(&p)? {
                Some(t) => Some(attr::compat_id(&p, &t)?),
                None => None,
            };
            self.regions.push(SysRegion { dev, compat_id });
        }
        Ok(())
    }
}
