//! The sysfs face of the driver model (spec §7): `/sys/class/devlink`
//! directories with their attributes and symlinks, the `consumer:` and
//! `supplier:` links in device directories, and `waiting_for_supplier`.
//! Rendered in memory ([`SysfsView`]) and into a directory on disk
//! ([`SysfsView::write_to`]) in the kernel's exact formats, so the sysfs
//! backend can read a simulated board back.

use crate::core::DriverCore;
use crate::error::{Error, Result};
use crate::flags::{LinkFlags, LinkState};
use crate::graph::Graph;
use std::path::{Path, PathBuf};

/// One device directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceView {
    /// Path below the sysfs root, e.g. `devices/platform/soc:pmic`.
    pub path: String,
    /// Device name.
    pub name: String,
    /// Bus, if any.
    pub bus: Option<String>,
    /// Class, if any.
    pub class: Option<String>,
    /// Bound driver.
    pub driver: Option<String>,
    /// `consumer:<bus>:<name>` entries and the link each points to.
    pub consumer_links: Vec<(String, String)>,
    /// `supplier:<bus>:<name>` entries and the link each points to.
    pub supplier_links: Vec<(String, String)>,
    /// The `waiting_for_supplier` file's value, if the file exists.
    pub waiting_for_supplier: Option<bool>,
    /// The firmware node's path, if any.
    pub of_node: Option<String>,
}

/// One `/sys/class/devlink/<name>` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// `<S bus>:<S name>--<C bus>:<C name>`.
    pub name: String,
    /// The link state.
    pub state: LinkState,
    /// The stored flags.
    pub flags: LinkFlags,
    /// The supplier directory, if the `supplier` symlink exists.
    pub supplier: Option<String>,
    /// The consumer directory, if the `consumer` symlink exists.
    pub consumer: Option<String>,
}

impl LinkView {
    /// The attribute files and their exact contents (spec §7.2).
    pub fn attributes(&self) -> [(&'static str, String); 4] {
        [
            (
                "auto_remove_on",
                format!("{}\n", self.flags.auto_remove_on()),
            ),
            (
                "runtime_pm",
                format!("{}\n", u8::from(self.flags.contains(LinkFlags::PM_RUNTIME))),
            ),
            ("status", format!("{}\n", self.state.sysfs_status())),
            (
                "sync_state_only",
                format!(
                    "{}\n",
                    u8::from(self.flags.contains(LinkFlags::SYNC_STATE_ONLY))
                ),
            ),
        ]
    }

    /// The value of one attribute file, newline included.
    pub fn attribute(&self, file: &str) -> Option<String> {
        self.attributes()
            .into_iter()
            .find(|(f, _)| *f == file)
            .map(|(_, v)| v)
    }
}

/// A snapshot of the driver model's sysfs view.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SysfsView {
    /// Registered devices, in order.
    pub devices: Vec<DeviceView>,
    /// Links, sorted by name.
    pub links: Vec<LinkView>,
}

fn device_path(g: &Graph, idx: u32) -> String {
    let d = &g.node(idx).dev;
    let name = d.name();
    if let Some(p) = d.parent_idx().filter(|&p| g.node(p).registered) {
        return format!("{}/{name}", device_path(g, p));
    }
    match (d.bus(), d.class()) {
        (Some(b), _) => format!("devices/{b}/{name}"),
        (None, Some(c)) => format!("devices/virtual/{c}/{name}"),
        (None, None) => format!("devices/{name}"),
    }
}

impl SysfsView {
    /// The link named `name`.
    pub fn link(&self, name: &str) -> Option<&LinkView> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The device whose name (or `bus:name`) is `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceView> {
        self.devices.iter().find(|d| {
            d.name == name
                || format!(
                    "{}:{}",
                    d.bus.as_deref().or(d.class.as_deref()).unwrap_or(""),
                    d.name
                ) == name
        })
    }

    /// Writes the view under `root` as the kernel lays it out:
    /// `devices/...` directories, `devices/virtual/devlink/<link>/`,
    /// `class/devlink/<link>` symlinks, `bus/<bus>/devices/<dev>` symlinks
    /// and `driver` symlinks. `root` must not exist or be empty.
    pub fn write_to(&self, root: &Path) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::SysfsWrite { path, source }
        };
        let mkdir = |p: &Path| std::fs::create_dir_all(p).map_err(io(p));
        let write = |p: &Path, s: &str| std::fs::write(p, s).map_err(io(p));
        let symlink = |target: &Path, at: &Path| {
            let rel = relative(at.parent().expect("has parent"), target);
            std::os::unix::fs::symlink(rel, at).map_err(io(at))
        };
        for d in &self.devices {
            let dir = root.join(&d.path);
            mkdir(&dir)?;
            if let Some(bus) = &d.bus {
                let bdir = root.join("bus").join(bus).join("devices");
                mkdir(&bdir)?;
                symlink(&dir, &bdir.join(&d.name))?;
                symlink(&root.join("bus").join(bus), &dir.join("subsystem"))?;
                if let Some(drv) = &d.driver {
                    let ddir = root.join("bus").join(bus).join("drivers").join(drv);
                    mkdir(&ddir)?;
                    symlink(&ddir, &dir.join("driver"))?;
                    symlink(&dir, &ddir.join(&d.name))?;
                }
            }
            if let Some(class) = &d.class {
                let cdir = root.join("class").join(class);
                mkdir(&cdir)?;
                symlink(&dir, &cdir.join(&d.name))?;
            }
            if let Some(w) = d.waiting_for_supplier {
                write(
                    &dir.join("waiting_for_supplier"),
                    if w { "1\n" } else { "0\n" },
                )?;
            }
            if let Some(of) = &d.of_node {
                let ndir = root
                    .join("firmware/devicetree/base")
                    .join(of.trim_start_matches('/'));
                mkdir(&ndir)?;
                symlink(&ndir, &dir.join("of_node"))?;
            }
        }
        let lclass = root.join("class/devlink");
        mkdir(&lclass)?;
        for l in &self.links {
            let dir = root.join("devices/virtual/devlink").join(&l.name);
            mkdir(&dir)?;
            for (file, value) in l.attributes() {
                write(&dir.join(file), &value)?;
            }
            write(&dir.join("uevent"), "")?;
            symlink(&lclass, &dir.join("subsystem"))?;
            symlink(&dir, &lclass.join(&l.name))?;
            if let Some(s) = &l.supplier {
                symlink(&root.join(s), &dir.join("supplier"))?;
            }
            if let Some(c) = &l.consumer {
                symlink(&root.join(c), &dir.join("consumer"))?;
            }
        }
        for d in &self.devices {
            let dir = root.join(&d.path);
            for (entry, link) in d.consumer_links.iter().chain(&d.supplier_links) {
                symlink(
                    &root.join("devices/virtual/devlink").join(link),
                    &dir.join(entry),
                )?;
            }
        }
        Ok(())
    }
}

/// `to` expressed relative to the directory `from` (both under one root).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to_c[common..] {
        out.push(c);
    }
    out
}

impl DriverCore {
    /// A snapshot of the sysfs view (spec §7).
    pub fn sysfs_view(&self) -> SysfsView {
        let g = self.shared().graph();
        let mut view = SysfsView::default();
        let link_entry = |li: u32, other_is_consumer: bool| {
            let l = g.link(li);
            let other = if other_is_consumer {
                &l.consumer
            } else {
                &l.supplier
            };
            let prefix = if other_is_consumer {
                "consumer"
            } else {
                "supplier"
            };
            (
                format!("{prefix}:{}:{}", other.bus_name(), other.name()),
                g.link_name(li),
            )
        };
        for idx in g.ordered() {
            let n = g.node(idx);
            let dev = &n.dev;
            let with_symlinks = |li: &&u32| g.link(**li).symlinks;
            let consumer_links = n
                .consumers
                .iter()
                .filter(with_symlinks)
                .map(|&li| link_entry(li, true))
                .collect();
            let supplier_links = n
                .suppliers
                .iter()
                .filter(with_symlinks)
                .map(|&li| link_entry(li, false))
                .collect();
            view.devices.push(DeviceView {
                path: device_path(&g, idx),
                name: dev.name().to_string(),
                bus: dev.bus().map(str::to_string),
                class: dev.class().map(str::to_string),
                driver: n.driver.as_ref().map(|d| d.name.clone()),
                consumer_links,
                supplier_links,
                waiting_for_supplier: n.wfs_attr.then(|| {
                    n.dev_fwnode()
                        .is_some_and(|f| !f.supplier_hints().is_empty())
                }),
                of_node: n.dev_fwnode().map(|f| f.path().to_string()),
            });
        }
        for (li, slot) in g.links.iter().enumerate() {
            let Some(l) = &slot.data else { continue };
            let li = li as u32;
            let endpoint = |d: &crate::Device| {
                (l.symlinks && g.node(d.idx()).registered).then(|| device_path(&g, d.idx()))
            };
            view.links.push(LinkView {
                name: g.link_name(li),
                state: l.state,
                flags: l.flags,
                supplier: endpoint(&l.supplier),
                consumer: endpoint(&l.consumer),
            });
        }
        drop(g);
        view.links.sort_by(|a, b| a.name.cmp(&b.name));
        view
    }
}
