//! Reading the kernel's driver model out of sysfs into a [`Topology`]:
//! the one read model every backend fills.
//!
//! What counts as a device: every entry of `bus/*/devices/` and of
//! `class/*/` that is a symlink (class directories also hold attribute
//! files, such as `firmware/timeout` or `gpio/export`, which are never
//! read: some have side effects, `zram-control/hot_add` creates a
//! device), every ancestor directory of those that has a `uevent` file
//! (`pci0000:00`, `ata3`), and the ends of every device link. Only the
//! attributes this crate needs are read, by name. Objects that vanish
//! while the tree is read are left out.

use crate::attr;
use crate::error::{Result, SysfsError};
use crate::io::{join_link, Dir};
use crate::root::SysfsRoot;
use devlink_core::{
    DevState, ErrorKind, LinkFlags, LinkState, Problem, TopoDevice, TopoLink, Topology,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A device directory found while reading.
struct Found {
    name: String,
    bus: Option<String>,
    class: Option<String>,
}

/// A link as read, with its ends as sysfs paths.
struct RawLink {
    name: String,
    status: LinkState,
    flags: LinkFlags,
    supplier: Option<String>,
    consumer: Option<String>,
    problems: Vec<Problem>,
}

pub(crate) struct Reader {
    pub(crate) sys: Dir,
    buf: Vec<u8>,
}

impl Reader {
    pub(crate) fn open(root: &SysfsRoot) -> Result<Reader> {
        Ok(Reader {
            sys: Dir::open(root.sys())?,
            buf: Vec::with_capacity(4096),
        })
    }

    /// The symlink `name` in `dir` (relative to the root), resolved to a
    /// path relative to the root; `None` if there is no such entry.
    pub(crate) fn link_in(&self, dir: &Dir, dir_rel: &str, name: &str) -> Result<Option<String>> {
        let Some(target) = dir.read_link(name)? else {
            return Ok(None);
        };
        resolve(dir, dir_rel, name, &target).map(Some)
    }

    /// [`link_in`](Self::link_in), where an entry that is not a symlink
    /// (a class attribute file) is `None` too, and never read.
    fn member_in(&self, dir: &Dir, dir_rel: &str, name: &str) -> Result<Option<String>> {
        match dir.symlink(name)? {
            Some(target) => resolve(dir, dir_rel, name, &target).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn attr(
        &mut self,
        dir: &Dir,
        name: &str,
    ) -> Result<Option<(std::path::PathBuf, String)>> {
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

    pub(crate) fn attr_req(
        &mut self,
        dir: &Dir,
        name: &str,
    ) -> Result<(std::path::PathBuf, String)> {
        self.attr(dir, name)?.ok_or_else(|| SysfsError::Io {
            path: dir.path().join(name),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    fn members(
        &self,
        found: &mut BTreeMap<String, Found>,
        dir_rel: &str,
        bus: Option<&str>,
        class: Option<&str>,
    ) -> Result<()> {
        let Some(dir) = self.sys.sub_opt(dir_rel)? else {
            return Ok(());
        };
        for name in dir.entries()? {
            let Some(path) = self.member_in(&dir, dir_rel, &name)? else {
                continue;
            };
            let f = found.entry(path).or_insert_with(|| Found {
                name,
                bus: None,
                class: None,
            });
            if bus.is_some() && f.bus.is_none() {
                f.bus = bus.map(str::to_string);
            }
            if class.is_some() && f.class.is_none() {
                f.class = class.map(str::to_string);
            }
        }
        Ok(())
    }

    /// One `class/devlink` entry; `None` if it vanished meanwhile.
    fn link(&mut self, class: &Dir, name: &str) -> Result<Option<RawLink>> {
        let Some(rel) = self.member_in(class, "class/devlink", name)? else {
            return Ok(None);
        };
        let Some(dir) = self.sys.sub_opt(&rel)? else {
            return Ok(None);
        };
        // A malformed attribute is a problem of this link alone: the link
        // is kept, with what could be read, and the safe reading of the
        // rest (an unreadable `sync_state_only` leaves the flag unset, so
        // the link orders probing and its consumer counts as a dependent).
        let read = |r: &mut Reader| -> Result<RawLink> {
            let mut problems = Vec::new();
            // One attribute through its parser; a missing file or a
            // malformed text is a problem of the link, any other error
            // (the link vanished, no permission) is the reader's.
            fn get<T>(
                r: &mut Reader,
                dir: &Dir,
                rel: &str,
                name: &str,
                parse: impl FnOnce(&Path, &str) -> Result<T>,
                problems: &mut Vec<Problem>,
            ) -> Result<Option<T>> {
                let read = match r.attr(dir, name) {
                    Err(e @ SysfsError::Parse { .. }) => {
                        problems.push(problem(name, e.to_string()));
                        return Ok(None);
                    }
                    other => other?,
                };
                let Some((p, t)) = read else {
                    if !r.sys.exists(rel)? {
                        return Err(SysfsError::Io {
                            path: dir.path().to_path_buf(),
                            source: std::io::ErrorKind::NotFound.into(),
                        });
                    }
                    problems.push(problem(
                        name,
                        format!("{}: missing", dir.path().join(name).display()),
                    ));
                    return Ok(None);
                };
                match parse(&p, &t) {
                    Ok(v) => Ok(Some(v)),
                    Err(e @ SysfsError::Parse { .. }) => {
                        problems.push(problem(name, e.to_string()));
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
            // An end symlink that leads nowhere in the tree: the end comes
            // from the link's name.
            fn end(
                r: &Reader,
                dir: &Dir,
                rel: &str,
                name: &str,
                problems: &mut Vec<Problem>,
            ) -> Result<Option<String>> {
                match r.link_in(dir, rel, name) {
                    Err(e @ SysfsError::Parse { .. }) => {
                        problems.push(problem(name, e.to_string()));
                        Ok(None)
                    }
                    other => other,
                }
            }
            let status = get(r, &dir, &rel, "status", attr::link_status, &mut problems)?;
            let auto = get(
                r,
                &dir,
                &rel,
                "auto_remove_on",
                attr::auto_remove_on,
                &mut problems,
            )?;
            let runtime_pm = get(r, &dir, &rel, "runtime_pm", attr::bool01, &mut problems)?;
            let sync_state_only = get(
                r,
                &dir,
                &rel,
                "sync_state_only",
                attr::bool01,
                &mut problems,
            )?;
            // Unreadable: a status that orders (not `not tracked`), no
            // auto-removal, no runtime PM, not sync-state-only.
            let status = status.unwrap_or(LinkState::Dormant);
            let auto = auto.unwrap_or(attr::AutoRemove::Never);
            Ok(RawLink {
                name: name.to_string(),
                status,
                flags: LinkFlags::from_sysfs(
                    status,
                    auto.sysfs(),
                    runtime_pm.unwrap_or(false),
                    sync_state_only.unwrap_or(false),
                ),
                supplier: end(r, &dir, &rel, "supplier", &mut problems)?,
                consumer: end(r, &dir, &rel, "consumer", &mut problems)?,
                problems,
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

    /// Reads a device's own attributes into `d`; `false` if its directory
    /// vanished (the device went away while the tree was read).
    fn device_attrs(&mut self, d: &mut TopoDevice) -> Result<bool> {
        let Some(dir) = self.sys.sub_opt(&d.path)? else {
            return Ok(false);
        };
        d.driver = dir
            .symlink("driver")?
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()));
        // A malformed attribute is a problem of this device alone; the
        // field stays unknown.
        let node = match self.link_in(&dir, &d.path, "of_node") {
            Err(e @ SysfsError::Parse { .. }) => {
                d.problems.push(problem("of_node", e.to_string()));
                None
            }
            other => other?,
        };
        if let Some(node) = node {
            let base = "firmware/devicetree/base";
            match node.strip_prefix(base) {
                Some("") => d.fwnode = Some("/".to_string()),
                Some(rest) => d.fwnode = Some(rest.to_string()),
                None => d.problems.push(problem(
                    "of_node",
                    SysfsError::parse(
                        dir.path().join("of_node"),
                        &node,
                        "a link into firmware/devicetree/base",
                    )
                    .to_string(),
                )),
            }
        }
        d.waiting_for_supplier = match self.attr(&dir, "waiting_for_supplier") {
            Ok(Some((p, t))) => match attr::bool01(&p, &t) {
                Ok(v) => Some(v),
                Err(e) => {
                    d.problems
                        .push(problem("waiting_for_supplier", e.to_string()));
                    None
                }
            },
            Ok(None) => None,
            Err(e @ SysfsError::Parse { .. }) => {
                d.problems
                    .push(problem("waiting_for_supplier", e.to_string()));
                None
            }
            Err(e) => return Err(e),
        };
        Ok(true)
    }
}

fn resolve(dir: &Dir, dir_rel: &str, name: &str, target: &Path) -> Result<String> {
    join_link(Path::new(dir_rel), target).ok_or_else(|| {
        SysfsError::parse(
            dir.path().join(name),
            &target.display().to_string(),
            "a symlink into the sysfs root",
        )
    })
}

fn problem(attribute: &str, message: String) -> Problem {
    Problem {
        attribute: attribute.to_string(),
        message,
    }
}

/// The last path component.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Reads devices and every device link under `root` into a topology.
/// Devices are sorted by path. A link whose `supplier`/`consumer`
/// symlinks are missing (the kernel made it before its consumer was in
/// sysfs) gets its ends from its name, with a note.
pub fn read_topology(root: &SysfsRoot) -> Result<Topology> {
    let mut r = Reader::open(root)?;
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    for bus in r
        .sys
        .sub_opt("bus")?
        .map(|d| d.entries())
        .transpose()?
        .unwrap_or_default()
    {
        r.members(&mut found, &format!("bus/{bus}/devices"), Some(&bus), None)?;
    }
    let classes = r
        .sys
        .sub_opt("class")?
        .map(|d| d.entries())
        .transpose()?
        .unwrap_or_default();
    for class in &classes {
        if class != "devlink" {
            r.members(&mut found, &format!("class/{class}"), None, Some(class))?;
        }
    }
    let mut raw_links = Vec::new();
    let has_devlink = classes.iter().any(|c| c == "devlink");
    if let Some(class) = r.sys.sub_opt("class/devlink")? {
        for name in class.entries()? {
            if let Some(l) = r.link(&class, &name)? {
                raw_links.push(l);
            }
        }
    }
    // Link ends are devices even when no bus or class lists them.
    for l in &raw_links {
        for p in [&l.supplier, &l.consumer].into_iter().flatten() {
            found.entry(p.clone()).or_insert_with(|| Found {
                name: base_name(p).to_string(),
                bus: None,
                class: None,
            });
        }
    }
    // Ancestors with a `uevent` file are devices too (a PCI host bridge,
    // an ATA port), so every device has its parent.
    let mut checked: HashMap<String, bool> = HashMap::new();
    let known: Vec<String> = found.keys().cloned().collect();
    for p in &known {
        let mut up = Path::new(p).parent();
        while let Some(dir) = up {
            let s = dir.to_string_lossy().into_owned();
            if s == "devices" || s.is_empty() || !s.starts_with("devices/") {
                break;
            }
            if found.contains_key(&s) {
                break;
            }
            let is_dev = match checked.get(&s) {
                Some(&v) => v,
                None => {
                    let v = r.sys.exists(format!("{s}/uevent"))?;
                    checked.insert(s.clone(), v);
                    v
                }
            };
            if is_dev {
                found.insert(
                    s.clone(),
                    Found {
                        name: base_name(&s).to_string(),
                        bus: None,
                        class: None,
                    },
                );
            }
            up = dir.parent();
        }
    }

    let mut devices = Vec::with_capacity(found.len());
    for (path, f) in found {
        let mut d = TopoDevice::new(f.name, path);
        d.bus = f.bus;
        d.class = f.class;
        if r.device_attrs(&mut d)? {
            if d.driver.is_some() {
                d.state = DevState::DriverBound;
            }
            devices.push(d);
        }
    }
    // Paths are sorted: parents by binary search on the prefixes.
    let paths: Vec<String> = devices.iter().map(|d| d.path.clone()).collect();
    for d in devices.iter_mut() {
        let mut up = Path::new(&d.path).parent();
        while let Some(dir) = up {
            let s = dir.to_string_lossy();
            if let Ok(i) = paths.binary_search_by(|x| x.as_str().cmp(&s)) {
                d.parent = Some(i);
                break;
            }
            up = dir.parent();
        }
    }
    let id_of_path: HashMap<&str, usize> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let key_of = |i: usize| devices[i].key();
    let keys: HashMap<String, usize> = (0..devices.len()).map(|i| (key_of(i), i)).collect();
    let mut notes = Vec::new();
    let mut links = Vec::with_capacity(raw_links.len());
    for l in raw_links {
        let s = l
            .supplier
            .as_deref()
            .and_then(|p| id_of_path.get(p).copied());
        let c = l
            .consumer
            .as_deref()
            .and_then(|p| id_of_path.get(p).copied());
        let sysfs_ends = s.is_some() && c.is_some();
        let (supplier_key, consumer_key, s, c) = if sysfs_ends {
            (key_of(s.unwrap_or(0)), key_of(c.unwrap_or(0)), s, c)
        } else {
            let Some((sk, ck)) = TopoLink::split_name(&l.name, |k| keys.contains_key(k)) else {
                notes.push(format!(
                    "link {}: no supplier/consumer symlinks and no `bus:name--bus:name` name; left out",
                    l.name
                ));
                continue;
            };
            notes.push(format!(
                "link {}: no supplier/consumer symlinks (made before its consumer was in sysfs); ends taken from its name",
                l.name
            ));
            let s = s.or_else(|| keys.get(&sk).copied());
            let c = c.or_else(|| keys.get(&ck).copied());
            (sk, ck, s, c)
        };
        links.push(TopoLink {
            name: l.name,
            supplier: s,
            consumer: c,
            supplier_key,
            consumer_key,
            sysfs_ends,
            status: l.status,
            flags: l.flags,
            problems: l.problems,
        });
    }
    // Transitions show on the links: a supplier whose driver is going
    // away, a consumer probing.
    for l in &links {
        if l.status == LinkState::SupplierUnbind {
            if let Some(s) = l.supplier {
                devices[s].state = DevState::Unbinding;
            }
        }
        if l.status == LinkState::ConsumerProbe {
            if let Some(c) = l.consumer {
                if devices[c].driver.is_none() {
                    devices[c].state = DevState::Probing;
                }
            }
        }
    }
    // Every problem is also a note, so every command says it.
    for d in &devices {
        for p in &d.problems {
            notes.push(format!("device {}: {p}", d.key()));
        }
    }
    for l in &links {
        for p in &l.problems {
            notes.push(format!("link {}: {p}", l.name));
        }
    }
    let mut topo = Topology::new(devices, links);
    for n in notes {
        topo.add_note(n);
    }
    if !has_devlink {
        topo.add_note("no class/devlink: this kernel predates device-link sysfs (5.9)");
    }
    Ok(topo)
}
