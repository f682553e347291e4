//! Discovery: `/sys/class/uio/uioN` and its attributes, maps and port
//! regions (spec `uio.md` §1.1–§1.4), read with the strict parsers of
//! [`crate::attr`]. Links are followed; nothing assumes a real directory.

use crate::attr;
use crate::error::{Result, UioError};
use crate::root::UioRoot;
use devlink_core::ErrorKind;
use std::path::{Path, PathBuf};

/// `MAX_UIO_MAPS` (and the port-region limit).
pub const MAX_MAPS: usize = 5;

/// One memory map (`maps/mapN/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// `N`.
    pub index: usize,
    /// `name` (may be empty).
    pub name: String,
    /// `addr`: the region start (page-aligned on current kernels).
    pub addr: u64,
    /// `size` in bytes.
    pub size: u64,
    /// `offset`: the registers' offset in the first mapped page.
    pub offset: u64,
}

impl MapInfo {
    /// The registers' offset from the `mmap` base: `offset`, or for an old
    /// driver reporting an unaligned `addr` with `offset == 0`,
    /// `addr & (PAGE - 1)` (spec §1.3).
    pub fn in_page_offset(&self, page: usize) -> usize {
        if self.offset != 0 {
            self.offset as usize
        } else {
            (self.addr as usize) & (page - 1)
        }
    }

    /// Pages the region spans from its mapped start: `offset + size`
    /// rounded up (the kernel's limit for an `mmap` of this map).
    pub fn pages_spanned(&self, page: usize) -> u64 {
        let bytes = self.offset.saturating_add(self.size);
        bytes.div_ceil(page as u64)
    }

    /// The default mapping length: `size` rounded up to whole pages.
    /// A size no mapping can have saturates to the largest page multiple
    /// (the kernel's checks then refuse it); it never overflows.
    pub fn default_len(&self, page: usize) -> usize {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        size.div_ceil(page)
            .max(1)
            .checked_mul(page)
            .unwrap_or(usize::MAX - usize::MAX % page)
    }
}

/// One port region (`portio/portN/`). Reported, never accessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// `N`.
    pub index: usize,
    /// `name`.
    pub name: String,
    /// `start`: first port.
    pub start: u64,
    /// `size`: number of ports.
    pub size: u64,
    /// `porttype`.
    pub porttype: String,
}

/// What sysfs says about one UIO device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UioInfo {
    /// `N` of `uioN`.
    pub number: u32,
    /// `/sys/class/uio/uioN`.
    pub sysfs: PathBuf,
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `dev` (`MAJ:MIN`), if present.
    pub dev: Option<(u32, u32)>,
    /// The parent device (`device` link, resolved), if present.
    pub parent: Option<PathBuf>,
    /// The memory maps, `map0` first.
    pub maps: Vec<MapInfo>,
    /// The port regions.
    pub ports: Vec<PortInfo>,
}

/// What identifies the same hardware across re-registrations, when the
/// `uioN` number may change (spec §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `name`.
    pub name: String,
    /// The resolved parent device path.
    pub parent: Option<PathBuf>,
    /// `addr` of every map.
    pub map_addrs: Vec<u64>,
}

impl UioInfo {
    /// The device's stable identity.
    pub fn identity(&self) -> Identity {
        Identity {
            name: self.name.clone(),
            parent: self.parent.clone(),
            map_addrs: self.maps.iter().map(|m| m.addr).collect(),
        }
    }

    /// The device node under `root`.
    pub fn node(&self, root: &UioRoot) -> PathBuf {
        root.dev_dir().join(format!("uio{}", self.number))
    }
}

/// How to pick a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `uioN`, whatever it is now.
    Number(u32),
    /// `uioN`, but only if it is still the device with this identity (no
    /// silent binding to whatever took the number over).
    Same(u32, Identity),
    /// The unique device whose `name` is this.
    Name(String),
    /// The device whose parent is this path (links resolved).
    Parent(PathBuf),
    /// The device with this identity, under whatever number it has now.
    Identity(Identity),
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(UioError::io(path))
}

fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UioError::io(path)(e)),
    }
}

/// The indices of `<prefix>N` entries of `dir`, which must be `0..k`
/// without gaps and at most [`MAX_MAPS`]. A missing `dir` is no entries.
fn contiguous(dir: &Path, prefix: &str) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(UioError::io(dir)(e)),
    };
    let mut idx = Vec::new();
    for e in entries {
        let e = e.map_err(UioError::io(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        match attr::indexed(&name, prefix) {
            Some(i) => idx.push(i as usize),
            None => {
                return Err(UioError::parse(
                    dir,
                    &name,
                    &format!("only {prefix}0..{prefix}{} entries", MAX_MAPS - 1),
                ))
            }
        }
    }
    idx.sort_unstable();
    for (want, &have) in idx.iter().enumerate() {
        if have != want {
            return Err(UioError::parse(
                dir,
                &format!("{prefix}{have}"),
                &format!("{prefix}N numbered without gaps: {prefix}{want} is missing"),
            ));
        }
    }
    if idx.len() > MAX_MAPS {
        return Err(UioError::parse(
            dir,
            &format!("{} entries", idx.len()),
            &format!("at most {MAX_MAPS} {prefix}N entries"),
        ));
    }
    Ok(idx.len())
}

/// Reads `maps/` of a device directory.
pub fn read_maps(dev_dir: &Path) -> Result<Vec<MapInfo>> {
    let dir = dev_dir.join("maps");
    let n = contiguous(&dir, "map")?;
    (0..n)
        .map(|index| {
            let d = dir.join(format!("map{index}"));
            let f = |n: &str| d.join(n);
            Ok(MapInfo {
                index,
                name: attr::text(
                    &f("name"),
                    &read_opt(&f("name"))?.unwrap_or_else(|| "\n".into()),
                )?,
                addr: attr::hex(&f("addr"), &read(&f("addr"))?)?,
                size: attr::hex(&f("size"), &read(&f("size"))?)?,
                offset: attr::hex(&f("offset"), &read(&f("offset"))?)?,
            })
        })
        .collect()
}

fn read_ports(dev_dir: &Path) -> Result<Vec<PortInfo>> {
    let dir = dev_dir.join("portio");
    let n = contiguous(&dir, "port")?;
    (0..n)
        .map(|index| {
            let d = dir.join(format!("port{index}"));
            let f = |n: &str| d.join(n);
            Ok(PortInfo {
                index,
                name: attr::text(&f("name"), &read(&f("name"))?)?,
                start: attr::hex(&f("start"), &read(&f("start"))?)?,
                size: attr::hex(&f("size"), &read(&f("size"))?)?,
                porttype: attr::porttype(&f("porttype"), &read(&f("porttype"))?)?,
            })
        })
        .collect()
}

/// Reads one device, `uio<number>`.
pub fn read_info(root: &UioRoot, number: u32) -> Result<UioInfo> {
    let sysfs = root.class_dir().join(format!("uio{number}"));
    let name_path = sysfs.join("name");
    let name = attr::name(&name_path, &read(&name_path)?)?;
    let version_path = sysfs.join("version");
    let version = attr::text(&version_path, &read(&version_path)?)?;
    let dev_path = sysfs.join("dev");
    let dev = match read_opt(&dev_path)? {
        Some(t) => Some(attr::dev_numbers(&dev_path, &t)?),
        None => None,
    };
    let parent = std::fs::canonicalize(sysfs.join("device")).ok();
    Ok(UioInfo {
        number,
        maps: read_maps(&sysfs)?,
        ports: read_ports(&sysfs)?,
        sysfs,
        name,
        version,
        dev,
        parent,
    })
}

/// Reads `event` of `uio<number>`.
pub fn read_event(root: &UioRoot, number: u32) -> Result<u32> {
    let p = root.class_dir().join(format!("uio{number}/event"));
    attr::event(&p, &read(&p)?)
}

/// Every UIO device under `root`, by number. A missing class directory is
/// no devices.
pub fn scan(root: &UioRoot) -> Result<Vec<UioInfo>> {
    let dir = root.class_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(UioError::io(&dir)(e)),
    };
    let mut numbers = Vec::new();
    for e in entries {
        let e = e.map_err(UioError::io(&dir))?;
        if let Some(n) = attr::indexed(&e.file_name().to_string_lossy(), "uio") {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    numbers.into_iter().map(|n| read_info(root, n)).collect()
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Resolves a selector to one device (spec §1.12).
pub fn resolve(root: &UioRoot, sel: &Selector) -> Result<UioInfo> {
    let not_found = |what: String| {
        UioError::dev(
            &root.class_dir().display().to_string(),
            None,
            "open",
            ErrorKind::NoDevice,
            what,
        )
    };
    let unique = |mut found: Vec<UioInfo>, what: String| match found.len() {
        0 => Err(not_found(format!("no UIO device with {what}"))),
        1 => Ok(found.remove(0)),
        _ => Err(UioError::dev(
            &root.class_dir().display().to_string(),
            None,
            "open",
            ErrorKind::InvalidInput,
            format!(
                "{} UIO devices have {what}: {}",
                found.len(),
                found
                    .iter()
                    .map(|i| i.sysfs.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    };
    match sel {
        Selector::Number(n) => {
            if !root.class_dir().join(format!("uio{n}")).exists() {
                return Err(not_found(format!("uio{n} does not exist")));
            }
            read_info(root, *n)
        }
        Selector::Same(n, id) => {
            let info = resolve(root, &Selector::Number(*n))?;
            if &info.identity() != id {
                return Err(not_found(format!(
                    "uio{n} is now {:?} (parent {:?}), not {:?} (parent {:?})",
                    info.name, info.parent, id.name, id.parent
                )));
            }
            Ok(info)
        }
        Selector::Name(name) => {
            let found = scan(root)?
                .into_iter()
                .filter(|i| &i.name == name)
                .collect();
            unique(found, format!("name {name:?}"))
        }
        Selector::Parent(p) => {
            let want = canonical(p);
            let found = scan(root)?
                .into_iter()
                .filter(|i| i.parent.as_deref() == Some(want.as_path()))
                .collect();
            unique(found, format!("parent {}", p.display()))
        }
        Selector::Identity(id) => {
            let found = scan(root)?
                .into_iter()
                .filter(|i| &i.identity() == id)
                .collect();
            unique(found, format!("identity {id:?}"))
        }
    }
}
