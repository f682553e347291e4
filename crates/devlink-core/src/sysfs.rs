//! The in-process driver core as a [`Topology`], and any topology written
//! to disk in the kernel's sysfs layout (spec §7): `/sys/class/devlink`
//! directories with their attributes and symlinks, the `consumer:` and
//! `supplier:` links in device directories, and `waiting_for_supplier`. A
//! simulated board written this way is read back by the sysfs backend.

use crate::core::DriverCore;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::topology::{TopoDevice, TopoLink, Topology};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

impl DriverCore {
    /// The driver model as a [`Topology`]: every registered device in the
    /// devices-list order (suppliers and parents first), with its
    /// reference count, and every link by name. A consistent snapshot,
    /// taken under the graph lock.
    ///
    /// ```
    /// use devlink_core::{DriverCore, LinkFlags};
    /// # futures::executor::block_on(async {
    /// let core = DriverCore::new()?;
    /// let pmic = core.device("soc:pmic").bus("platform").create();
    /// let sensor = core.device("1-0050").bus("i2c").create();
    /// core.device_add(&pmic).await?;
    /// core.device_add(&sensor).await?;
    /// core.link_add(&sensor, &pmic, LinkFlags::empty())?;
    /// let topo = core.topology();
    /// let link = &topo.links()[0];
    /// assert_eq!(link.name, "platform:soc:pmic--i2c:1-0050");
    /// assert_eq!(link.sysfs_attribute("status").unwrap(), "dormant\n");
    /// assert_eq!(topo.device(topo.find("1-0050")?).path, "devices/i2c/1-0050");
    /// # Ok::<(), devlink_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn topology(&self) -> Topology {
        self.build_topology(false).0
    }

    /// [`topology`](Self::topology) and a handle per device (index =
    /// `DevId`), for the in-process queries that answer with handles.
    pub(crate) fn topology_with_handles(&self) -> (Topology, Vec<Device>) {
        self.build_topology(true)
    }

    fn build_topology(&self, handles: bool) -> (Topology, Vec<Device>) {
        let g = self.shared().graph();
        let strict = g.config.fw_devlink.is_strict();
        let ordered = g.ordered();
        let mut id_of: HashMap<u32, usize> = HashMap::with_capacity(ordered.len());
        let mut devices = Vec::with_capacity(ordered.len());
        let mut paths: Vec<String> = Vec::with_capacity(ordered.len());
        // Parents come before their children in the order, so each path
        // extends an already computed one: linear, whatever the depth.
        for (id, &idx) in ordered.iter().enumerate() {
            id_of.insert(idx, id);
            let n = g.node(idx);
            let dev = &n.dev;
            let parent = dev.parent_idx().and_then(|p| id_of.get(&p).copied());
            let path = match parent {
                Some(p) => format!("{}/{}", paths[p], dev.name()),
                None => root_path(&g, idx),
            };
            paths.push(path.clone());
            let fw = n.dev_fwnode();
            let hints: Vec<String> = fw
                .as_ref()
                .map(|f| {
                    f.supplier_hints()
                        .iter()
                        .map(|h| h.path().to_string())
                        .collect()
                })
                .unwrap_or_default();
            devices.push(TopoDevice {
                name: dev.name().to_string(),
                bus: dev.bus().map(str::to_string),
                class: dev.class().map(str::to_string),
                path,
                driver: n.driver.as_ref().map(|d| d.name.clone()),
                state: n.state,
                parent,
                fwnode: fw.as_ref().map(|f| f.path().to_string()),
                waiting_for_supplier: n.wfs_attr.then_some(!hints.is_empty()),
                fw_suppliers: if strict { hints } else { Vec::new() },
                refcount: Some(n.handle.strong_count()),
                problems: Vec::new(),
            });
        }
        let mut links = Vec::with_capacity(g.live_links);
        for (li, slot) in g.links.iter().enumerate() {
            let Some(l) = &slot.data else { continue };
            let end = |idx: u32| {
                g.node(idx)
                    .registered
                    .then(|| id_of.get(&idx).copied())
                    .flatten()
            };
            let (s, c) = (end(l.s), end(l.c));
            links.push(TopoLink {
                name: g.link_name(li as u32),
                supplier: s,
                consumer: c,
                supplier_key: format!("{}:{}", l.supplier.bus_name(), l.supplier.name()),
                consumer_key: format!("{}:{}", l.consumer.bus_name(), l.consumer.name()),
                sysfs_ends: l.symlinks && s.is_some() && c.is_some(),
                status: l.state,
                flags: l.flags,
                problems: Vec::new(),
            });
        }
        let handles = if handles {
            ordered.iter().filter_map(|&i| g.handle(i)).collect()
        } else {
            Vec::new()
        };
        drop(g);
        links.sort_by(|a, b| a.name.cmp(&b.name));
        (Topology::new(devices, links), handles)
    }
}

impl DriverCore {
    /// The sysfs directory of one device, as [`topology`](Self::topology)
    /// would give it, without building the whole snapshot: its registered
    /// ancestors' names under the first one's root. `None` for a device
    /// this core has not registered.
    pub(crate) fn path_of(&self, d: &Device) -> Option<String> {
        let g = self.shared().graph();
        let idx = *g
            .names
            .get(&(d.bus_name().to_string(), d.name().to_string()))?;
        let registered = |i: u32| {
            g.nodes
                .get(i as usize)
                .and_then(Option::as_ref)
                .is_some_and(|n| n.registered)
        };
        if !registered(idx) {
            return None;
        }
        let mut chain = vec![idx];
        let mut cur = idx;
        while let Some(p) = g.node(cur).dev.parent_idx().filter(|&p| registered(p)) {
            chain.push(p);
            cur = p;
        }
        let mut path = root_path(&g, cur);
        for &i in chain.iter().rev().skip(1) {
            path.push('/');
            path.push_str(g.node(i).dev.name());
        }
        Some(path)
    }
}

/// Where a device without a registered parent lives.
fn root_path(g: &Graph, idx: u32) -> String {
    let d = &g.node(idx).dev;
    match (d.bus(), d.class()) {
        (Some(b), _) => format!("devices/{b}/{}", d.name()),
        (None, Some(c)) => format!("devices/virtual/{c}/{}", d.name()),
        (None, None) => format!("devices/{}", d.name()),
    }
}

impl Topology {
    /// Writes the topology under `root` as the kernel lays sysfs out:
    /// `devices/...` directories, `devices/virtual/devlink/<link>/` with
    /// the four attributes, `class/devlink/<link>` symlinks,
    /// `bus/<bus>/devices/<dev>` and `class/<class>/<dev>` symlinks,
    /// `driver` and `subsystem` symlinks, `waiting_for_supplier`, and
    /// `of_node` links into `firmware/devicetree/base`. `root` must not
    /// exist or be empty.
    pub fn write_sysfs(&self, root: &Path) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::SysfsWrite { path, source }
        };
        let mkdir = |p: &Path| std::fs::create_dir_all(p).map_err(io(p));
        let write = |p: &Path, s: &str| std::fs::write(p, s).map_err(io(p));
        let symlink = |target: &Path, at: &Path| {
            let from = at.parent().unwrap_or(root);
            std::os::unix::fs::symlink(relative(from, target), at).map_err(io(at))
        };
        for d in self.devices() {
            let dir = root.join(&d.path);
            mkdir(&dir)?;
            write(&dir.join("uevent"), "")?;
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
                if d.bus.is_none() {
                    symlink(&cdir, &dir.join("subsystem"))?;
                }
                // A class device points at the device it hangs off.
                if let Some(p) = d.parent {
                    symlink(&root.join(&self.device(p).path), &dir.join("device"))?;
                }
            }
            if let Some(w) = d.waiting_for_supplier {
                write(
                    &dir.join("waiting_for_supplier"),
                    if w { "1\n" } else { "0\n" },
                )?;
            }
            if let Some(of) = &d.fwnode {
                let ndir = root
                    .join("firmware/devicetree/base")
                    .join(of.trim_start_matches('/'));
                mkdir(&ndir)?;
                symlink(&ndir, &dir.join("of_node"))?;
            }
        }
        let lclass = root.join("class/devlink");
        mkdir(&lclass)?;
        for l in self.links() {
            let dir = root.join("devices/virtual/devlink").join(&l.name);
            mkdir(&dir)?;
            for (file, value) in l.sysfs_attributes() {
                write(&dir.join(file), &value)?;
            }
            write(&dir.join("uevent"), "")?;
            symlink(&lclass, &dir.join("subsystem"))?;
            symlink(&dir, &lclass.join(&l.name))?;
            let (Some(s), Some(c), true) = (l.supplier, l.consumer, l.sysfs_ends) else {
                continue;
            };
            let (sdir, cdir) = (
                root.join(&self.device(s).path),
                root.join(&self.device(c).path),
            );
            symlink(&sdir, &dir.join("supplier"))?;
            symlink(&cdir, &dir.join("consumer"))?;
            symlink(&dir, &sdir.join(format!("consumer:{}", l.consumer_key)))?;
            symlink(&dir, &cdir.join(format!("supplier:{}", l.supplier_key)))?;
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
