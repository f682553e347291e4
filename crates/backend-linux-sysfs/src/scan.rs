//! Reading the driver model out of sysfs: devices, device links and the
//! FPGA classes, as one [`Snapshot`].

use crate::attr::{self, AutoRemove};
use crate::error::{Result, SysfsError};
use crate::io::{join_link, Dir};
use crate::root::SysfsRoot;
use devlink_core::{ErrorKind, LinkState};
use fpga_core::{CompatId, MgrState, MgrStatus};
use std::collections::BTreeMap;
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
    /// UIO devices by device name.
    pub uio: Vec<SysUio>,
    /// Whether `class/devlink` exists (kernels before 5.9 have none).
    pub has_devlink_class: bool,
    /// Whether any `fpga_*` class exists (a kernel built without FPGA
    /// support has none).
    pub has_fpga_classes: bool,
}

/// A UIO device, `/sys/class/uio/uio<N>` (spec `uio.md` §1.1–1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysUio {
    /// `uio<N>`.
    pub dev: String,
    /// `name`: the name the kernel driver gave the device.
    pub name: String,
    /// `version`.
    pub version: String,
    /// The device directory of the parent (`device` symlink), if any.
    pub parent: Option<String>,
    /// `maps/map<N>`: index, `addr`, `size` (`offset` and `name` are left
    /// to backend-uio, which maps them).
    pub maps: Vec<(u32, u64, u64)>,
}

struct Reader {
    sys: Dir,
    buf: Vec<u8>,
}

impl Reader {
    /// The symlink `name` in `dir` (relative to the root), resolved to a
    /// path relative to the root; `None` if there is no such entry.
    fn link_in(&self, dir: &Dir, dir_rel: &str, name: &str) -> Result<Option<String>> {
        let Some(target) = dir.read_link(name)? else {
            return Ok(None);
        };
        join_link(Path::new(dir_rel), &target)
            .map(Some)
            .ok_or_else(|| {
                SysfsError::parse(
                    dir.path().join(name),
                    &target.display().to_string(),
                    "a symlink into the sysfs root",
                )
            })
    }

    fn attr(&mut self, dir: &Dir, name: &str) -> Result<Option<(PathBuf, String)>> {
        if !dir.read_into(name, &mut self.buf)? {
            return Ok(None);
        }
        let path = dir.path().join(name);
        match std::str::from_utf8(&self.buf) {
            Ok(t) => Ok(Some((path, t.to_string()))),
            Err(_) => Err(SysfsError::parse(
                &path,
                &String::from_utf8_lossy(&self.buf),
                "UTF-8 text",
            )),
        }
    }

    fn attr_req(&mut self, dir: &Dir, name: &str) -> Result<(PathBuf, String)> {
        self.attr(dir, name)?.ok_or_else(|| SysfsError::Io {
            path: dir.path().join(name),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    fn add_members(
        &self,
        devices: &mut BTreeMap<String, SysDevice>,
        dir_rel: &str,
        bus: Option<&str>,
        class: Option<&str>,
    ) -> Result<()> {
        let Some(dir) = self.sys.sub_opt(dir_rel)? else {
            return Ok(());
        };
        for name in dir.entries()? {
            let Some(path) = self.link_in(&dir, dir_rel, &name)? else {
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

    /// Reads a device's own attributes; `false` if its directory vanished
    /// (the device went away while the tree was read).
    fn device_attrs(&mut self, d: &mut SysDevice) -> Result<bool> {
        let Some(dir) = self.sys.sub_opt(&d.path)? else {
            return Ok(false);
        };
        d.driver = dir
            .read_link("driver")?
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()));
        if let Some(node) = self.link_in(&dir, &d.path, "of_node")? {
            let base = "firmware/devicetree/base";
            let rest = node.strip_prefix(base).ok_or_else(|| {
                SysfsError::parse(
                    dir.path().join("of_node"),
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
        d.waiting_for_supplier = match self.attr(&dir, "waiting_for_supplier")? {
            Some((p, t)) => Some(attr::bool01(&p, &t)?),
            None => None,
        };
        Ok(true)
    }

    /// Reads one `class/devlink` entry; `None` if it vanished meanwhile.
    fn link(&mut self, class: &Dir, name: String) -> Result<Option<SysLink>> {
        let Some(rel) = self.link_in(class, "class/devlink", &name)? else {
            return Ok(None);
        };
        let Some(dir) = self.sys.sub_opt(&rel)? else {
            return Ok(None);
        };
        let read = |r: &mut Reader| -> Result<SysLink> {
            let (p, t) = r.attr_req(&dir, "status")?;
            let status = attr::link_status(&p, &t)?;
            let (p, t) = r.attr_req(&dir, "auto_remove_on")?;
            let auto_remove_on = attr::auto_remove_on(&p, &t)?;
            let (p, t) = r.attr_req(&dir, "runtime_pm")?;
            let runtime_pm = attr::bool01(&p, &t)?;
            let (p, t) = r.attr_req(&dir, "sync_state_only")?;
            let sync_state_only = attr::bool01(&p, &t)?;
            Ok(SysLink {
                name: name.clone(),
                status,
                auto_remove_on,
                runtime_pm,
                sync_state_only,
                supplier: r.link_in(&dir, &rel, "supplier")?,
                consumer: r.link_in(&dir, &rel, "consumer")?,
            })
        };
        match read(self) {
            Ok(l) => Ok(Some(l)),
            // A link deleted while it was read: its directory is gone.
            Err(e) if e.kind() == ErrorKind::NoDevice && self.sys.sub_opt(&rel)?.is_none() => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Snapshot {
    /// Reads devices, links, the FPGA classes and UIO devices under
    /// `root`. Objects that vanish while the tree is read (a live kernel
    /// removing them) are left out; a malformed attribute is an error.
    pub fn read(root: &SysfsRoot) -> Result<Snapshot> {
        let sys = Dir::open(root.sys())?;
        let mut r = Reader {
            sys,
            buf: Vec::with_capacity(4096),
        };
        let mut devices = BTreeMap::new();
        for bus in r
            .sys
            .sub_opt("bus")?
            .map(|d| d.entries())
            .transpose()?
            .unwrap_or_default()
        {
            r.add_members(
                &mut devices,
                &format!("bus/{bus}/devices"),
                Some(&bus),
                None,
            )?;
        }
        let classes = r
            .sys
            .sub_opt("class")?
            .map(|d| d.entries())
            .transpose()?
            .unwrap_or_default();
        for class in &classes {
            if class != "devlink" {
                r.add_members(&mut devices, &format!("class/{class}"), None, Some(class))?;
            }
        }
        let mut gone = Vec::new();
        for d in devices.values_mut() {
            if !r.device_attrs(d)? {
                gone.push(d.path.clone());
            }
        }
        for p in gone {
            devices.remove(&p);
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
        if let Some(class) = r.sys.sub_opt("class/devlink")? {
            for name in class.entries()? {
                if let Some(l) = r.link(&class, name.clone())? {
                    links.insert(name, l);
                }
            }
        }
        let mut snap = Snapshot {
            devices,
            links,
            has_devlink_class: classes.iter().any(|c| c == "devlink"),
            has_fpga_classes: classes.iter().any(|c| c.starts_with("fpga_")),
            ..Snapshot::default()
        };
        snap.read_fpga(&mut r)?;
        snap.read_uio(&mut r)?;
        Ok(snap)
    }

    fn read_fpga(&mut self, r: &mut Reader) -> Result<()> {
        if let Some(class) = r.sys.sub_opt("class/fpga_manager")? {
            for dev in class.entries()? {
                let Some(dir) = class.sub_opt(&dev)? else {
                    continue;
                };
                let (p, t) = r.attr_req(&dir, "name")?;
                let name = attr::name(&p, &t)?;
                let (p, t) = r.attr_req(&dir, "state")?;
                let state = attr::mgr_state(&p, &t)?;
                let status = match r.attr(&dir, "status")? {
                    Some((p, t)) => Some(attr::mgr_status(&p, &t)?),
                    None => None,
                };
                self.managers.push(SysManager {
                    dev,
                    name,
                    state,
                    status,
                });
            }
        }
        if let Some(class) = r.sys.sub_opt("class/fpga_bridge")? {
            for dev in class.entries()? {
                let Some(dir) = class.sub_opt(&dev)? else {
                    continue;
                };
                let (p, t) = r.attr_req(&dir, "name")?;
                let name = attr::name(&p, &t)?;
                let (p, t) = r.attr_req(&dir, "state")?;
                let enabled = attr::bridge_state(&p, &t)?;
                self.bridges.push(SysBridge { dev, name, enabled });
            }
        }
        if let Some(class) = r.sys.sub_opt("class/fpga_region")? {
            for dev in class.entries()? {
                let Some(dir) = class.sub_opt(&dev)? else {
                    continue;
                };
                let compat_id = match r.attr(&dir, "compat_id")? {
                    Some((p, t)) => Some(attr::compat_id(&p, &t)?),
                    None => None,
                };
                self.regions.push(SysRegion { dev, compat_id });
            }
        }
        Ok(())
    }

    fn read_uio(&mut self, r: &mut Reader) -> Result<()> {
        let Some(class) = r.sys.sub_opt("class/uio")? else {
            return Ok(());
        };
        for dev in class.entries()? {
            let Some(rel) = r.link_in(&class, "class/uio", &dev)? else {
                continue;
            };
            let Some(dir) = r.sys.sub_opt(&rel)? else {
                continue;
            };
            let (p, t) = r.attr_req(&dir, "name")?;
            let name = attr::name(&p, &t)?;
            let (p, t) = r.attr_req(&dir, "version")?;
            let version = attr::one_line(&p, &t, "a version string")?.to_string();
            let parent = r.link_in(&dir, &rel, "device")?;
            let mut maps = Vec::new();
            if let Some(mdir) = dir.sub_opt("maps")? {
                for m in mdir.entries()? {
                    let Some(idx) = m.strip_prefix("map").and_then(|n| n.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    let Some(md) = mdir.sub_opt(&m)? else {
                        continue;
                    };
                    let (p, t) = r.attr_req(&md, "addr")?;
                    let addr = attr::hex_u64(&p, &t)?;
                    let (p, t) = r.attr_req(&md, "size")?;
                    let size = attr::hex_u64(&p, &t)?;
                    maps.push((idx, addr, size));
                }
            }
            maps.sort_unstable();
            self.uio.push(SysUio {
                dev,
                name,
                version,
                parent,
                maps,
            });
        }
        Ok(())
    }
}
