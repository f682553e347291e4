//! Device-tree overlays through configfs (spec `uio.md` §3.3): create the
//! slot, write the staged file's name to `path`, verify `path` and
//! `status`, and on any failure remove the slot so nothing is left half
//! applied. Removal is `rmdir`, in reverse order of application: the
//! order is kept beside the lock files across processes, and only the
//! topmost overlays may be removed ([`Overlays::order`],
//! [`Overlays::check_topmost`]).

use crate::attr;
use crate::drive::Kernel;
use crate::error::{Result, SysfsError};
use crate::io::Dir;
use crate::kmsg::KmsgWatch;
use crate::lock::safe_name;
use crate::xlnx::{check_unambiguous, StagedFile, XlnxManager};
use std::time::Duration;

/// One `device-tree/overlays/<slot>` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlaySlot {
    /// The slot's name.
    pub name: String,
    /// `path`: the applied file's name, `None` if nothing was applied.
    pub path: Option<String>,
    /// `status` is `applied`.
    pub applied: bool,
}

/// The configfs overlay directory of one kernel.
#[derive(Debug, Clone)]
pub struct Overlays {
    kernel: Kernel,
}

impl Overlays {
    /// Opens `<configfs>/device-tree/overlays`; a kernel without overlay
    /// support in configfs (mainline) is `Unsupported`.
    pub fn open(kernel: &Kernel) -> Result<Overlays> {
        let dir = kernel.root().configfs().join("device-tree/overlays");
        match Dir::open(&dir) {
            Ok(_) => Ok(Overlays {
                kernel: kernel.clone(),
            }),
            Err(e) if e.kind() == fpga_core::ErrorKind::NoDevice => Err(SysfsError::Unsupported {
                what: dir.display().to_string(),
                hint: "configfs is not mounted there, or this kernel has no configfs overlay \
                       interface (mainline has none; Xilinx and Raspberry Pi kernels do)"
                    .to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    fn dir(&self) -> Result<Dir> {
        Dir::open(&self.kernel.root().configfs().join("device-tree/overlays"))
    }

    fn read_slot(&self, dir: &Dir, name: &str) -> Result<Option<OverlaySlot>> {
        let Some(slot) = dir.sub_opt(name)? else {
            return Ok(None);
        };
        // `status` first: a kernel answers it after the apply finished.
        let status = slot.read("status")?;
        let applied = attr::overlay_status(&slot.path().join("status"), &status)?;
        let path = slot.read("path")?;
        let path = attr::overlay_path(&slot.path().join("path"), &path)?;
        Ok(Some(OverlaySlot {
            name: name.to_string(),
            path,
            applied,
        }))
    }

    /// Every slot, by name.
    pub fn list(&self) -> Result<Vec<OverlaySlot>> {
        let dir = self.dir()?;
        let mut out = Vec::new();
        for name in dir.entries()? {
            if let Some(s) = self.read_slot(&dir, &name)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Applies the overlay blob `dtbo` in a new slot `slot`. The blob is
    /// staged in the firmware directory for the duration of the apply
    /// (the kernel reads it during the `path` write) and removed after.
    /// `manager` names an FPGA manager whose `status` lines go into the
    /// error if the apply fails (an overlay with `firmware-name` programs
    /// through it). `settle` bounds how long the result may take to show.
    pub fn apply(
        &self,
        slot: &str,
        dtbo: &[u8],
        manager: Option<&str>,
        settle: Duration,
    ) -> Result<OverlaySlot> {
        safe_name("overlay slot", slot)?;
        let mut staged = StagedFile::create(self.kernel.root(), "dtbo")?;
        staged.write_all(dtbo)?;
        staged.finish()?;
        check_unambiguous(self.kernel.root(), staged.name())?;
        let dir = self.dir()?;
        if let Some(existing) = self.read_slot(&dir, slot)? {
            // `path` and `dtbo` are one-shot per slot: the kernel answers
            // a second write with EPERM. Refused here without writing.
            if let Some(path) = existing.path {
                return Err(SysfsError::invalid(
                    format!("overlay slot {slot:?}"),
                    format!(
                        "already holds {path:?} ({}); a slot takes one overlay: remove it, or use a new slot",
                        if existing.applied { "applied" } else { "unapplied" }
                    ),
                ));
            }
            return Err(SysfsError::Busy {
                what: format!("overlay slot {slot:?}"),
                holder: "an existing, empty slot (someone else is applying); remove it first"
                    .to_string(),
            });
        }
        match dir.mkdir(slot) {
            Ok(()) => {}
            // Created by someone else since the check above.
            Err(e) if e.errno() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {
                return Err(SysfsError::Busy {
                    what: format!("overlay slot {slot:?}"),
                    holder: "a slot created meanwhile by another process".to_string(),
                })
            }
            Err(e) => return Err(e),
        }
        let outcome = self.fill(&dir, slot, staged.name(), manager, settle);
        match &outcome {
            // Never leave a half-applied overlay behind.
            Err(_) => {
                let _ = dir.rmdir(slot);
            }
            Ok(_) => {
                // The order file helps, configfs is the truth: if it
                // cannot be written, the order is re-derived from configfs.
                if let Ok(mut order) = self.applied() {
                    order.retain(|a| a.slot != slot);
                    order.push(AppliedOverlay {
                        slot: slot.to_string(),
                        targets: resolved_targets(self.kernel.root(), dtbo),
                    });
                    let _ = self.save_order(&order);
                }
            }
        }
        outcome
    }

    fn order_path(&self) -> std::path::PathBuf {
        let root = self.kernel.root();
        root.lock_dir()
            .join(format!("{}overlays.order", root.prefix()))
    }

    /// The slots in the order they were applied, oldest first (spec
    /// `uio.md` b48). configfs does not say, so every apply through this
    /// crate appends to a small file beside the lock files, which other
    /// processes read too. What it names that is gone is dropped; slots it
    /// does not name (applied by another tool, or the file is missing) are
    /// re-derived from configfs, ordered by when their directory was
    /// created, then by name, after the recorded ones.
    pub fn order(&self) -> Result<Vec<String>> {
        Ok(self.applied()?.into_iter().map(|a| a.slot).collect())
    }

    /// [`order`](Self::order) with what each overlay targets, as far as
    /// this crate recorded it when it applied the overlay (the fragments'
    /// `target-path`s; empty for an overlay applied by another tool).
    pub fn applied(&self) -> Result<Vec<AppliedOverlay>> {
        let present = self.list()?;
        let path = self.order_path();
        let recorded: Vec<AppliedOverlay> = match std::fs::read(&path) {
            Ok(b) if b.len() <= 64 * 1024 => String::from_utf8_lossy(&b)
                .lines()
                .map(|l| {
                    let mut parts = l.split('\t').map(crate::journal::unescape);
                    AppliedOverlay {
                        slot: parts.next().unwrap_or_default(),
                        targets: parts.filter(|t| !t.is_empty()).collect(),
                    }
                })
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(SysfsError::Io { path, source }),
        };
        let mut out: Vec<AppliedOverlay> = Vec::new();
        for r in recorded {
            if present.iter().any(|s| s.name == r.slot) && !out.iter().any(|o| o.slot == r.slot) {
                out.push(r);
            }
        }
        let dir = self.kernel.root().configfs().join("device-tree/overlays");
        let created = |name: &str| {
            std::fs::symlink_metadata(dir.join(name))
                .and_then(|m| m.modified())
                .ok()
        };
        let mut rest: Vec<(Option<std::time::SystemTime>, String)> = present
            .iter()
            .filter(|s| !out.iter().any(|o| o.slot == s.name))
            .map(|s| (created(&s.name), s.name.clone()))
            .collect();
        rest.sort();
        out.extend(rest.into_iter().map(|(_, slot)| AppliedOverlay {
            slot,
            targets: Vec::new(),
        }));
        Ok(out)
    }

    fn save_order(&self, order: &[AppliedOverlay]) -> Result<()> {
        let path = self.order_path();
        let text: String = order
            .iter()
            .map(|a| {
                let mut line = crate::journal::escape(&a.slot);
                for t in &a.targets {
                    line.push('\t');
                    line.push_str(&crate::journal::escape(t));
                }
                line.push('\n');
                line
            })
            .collect();
        crate::journal::write_atomically(&path, &text)
            .map_err(|source| SysfsError::Io { path, source })
    }

    /// Refuses to remove `slots` unless they are the topmost overlays: the
    /// overlay core reverts only the last overlay applied over a node, and
    /// this crate does not parse the blobs to tell which overlap, so every
    /// overlay applied after one counts as overlapping it (`Busy`, naming
    /// them).
    pub fn check_topmost(&self, slots: &[String]) -> Result<()> {
        topmost(&self.order()?, slots)
    }

    fn fill(
        &self,
        dir: &Dir,
        slot: &str,
        name: &str,
        manager: Option<&str>,
        settle: Duration,
    ) -> Result<OverlaySlot> {
        let sdir = dir.sub(slot)?;
        // configfs creates a slot's attributes with the directory; wait
        // for them anyway, so a slow fixture kernel is not mistaken for a
        // broken one.
        self.kernel
            .wait_until(&format!("overlay slot {slot} attributes"), settle, || {
                Ok(if sdir.exists("path")? && sdir.exists("status")? {
                    Vec::new()
                } else {
                    vec![format!("{slot}/path and status not created")]
                })
            })?;
        if let Err(e) = sdir.write("path", name.as_bytes()) {
            let kind = e.kind();
            return Err(self.err(slot, format!("applying {name} failed: {e}"), kind, manager));
        }
        let mut last = None;
        let waited = self
            .kernel
            .wait_until(&format!("overlay {slot}"), settle, || {
                // `status` first, and `path` only once applied: until the
                // kernel has taken the write, `path` holds it unprocessed.
                let applied = match sdir.read_opt("status")? {
                    Some(t) => attr::overlay_status(&sdir.path().join("status"), &t)?,
                    None => false,
                };
                let s = if applied {
                    self.read_slot(dir, slot)?
                } else {
                    Some(OverlaySlot {
                        name: slot.to_string(),
                        path: None,
                        applied: false,
                    })
                };
                let ok = s
                    .as_ref()
                    .is_some_and(|s| s.applied && s.path.as_deref() == Some(name));
                last = s;
                Ok(if ok {
                    Vec::new()
                } else {
                    vec![format!("{slot}: not applied with path {name}")]
                })
            });
        match (waited, last) {
            (Ok(_), Some(s)) => Ok(s),
            (Err(e), _) if !matches!(e, SysfsError::Timeout { .. }) => Err(e),
            (_, s) => {
                let why = match s {
                    None => "the slot vanished".to_string(),
                    Some(s) if s.applied && s.path.is_none() => {
                        "status says applied but path is empty (the kernel cleared it: a failed apply)"
                            .to_string()
                    }
                    Some(s) => format!(
                        "status {}, path {:?} (wanted applied, {name})",
                        if s.applied { "applied" } else { "unapplied" },
                        s.path.unwrap_or_default()
                    ),
                };
                Err(self.err(slot, why, fpga_core::ErrorKind::Io, manager))
            }
        }
    }

    fn err(
        &self,
        slot: &str,
        why: String,
        kind: fpga_core::ErrorKind,
        manager: Option<&str>,
    ) -> SysfsError {
        let what = format!("overlay slot {slot}");
        match manager {
            Some(m) => XlnxManager::reader(self.kernel.root(), m).failure(what, why, kind),
            None => SysfsError::Kernel {
                what,
                why,
                kind,
                state: None,
                status: Vec::new(),
            },
        }
    }

    /// Removes one slot (`rmdir`, which reverts the overlay), waits until
    /// it is gone, and checks what the kernel did: the device-tree nodes
    /// that went away with it (read from the live tree before and after),
    /// that every device made from them and every link of those devices
    /// is gone too, and that the kernel logged no leak of those nodes
    /// while the removal ran ([`SysfsError::NodeLeaked`]).
    ///
    /// `rmdir` cannot report failure: a vendor kernel that refuses the
    /// removal (not the topmost overlay) only logs it and keeps the
    /// overlay, which is why [`check_topmost`](Self::check_topmost) runs
    /// first, and why the devices are checked after.
    pub fn remove(&self, slot: &str, settle: Duration) -> Result<OverlayRemoval> {
        safe_name("overlay slot", slot)?;
        self.check_topmost(&[slot.to_string()])?;
        let dir = self.dir()?;
        let root = self.kernel.root();
        let nodes_before = dt_nodes(&root.devicetree())?;
        let topo_before = match nodes_before {
            Some(_) => Some(self.kernel.read_topology()?),
            None => None,
        };
        let mut log = match root.kmsg() {
            Some(p) => KmsgWatch::start(p),
            None => KmsgWatch::none("no kernel log is read for this root"),
        };
        match dir.rmdir(slot) {
            Ok(()) => {}
            Err(e) if e.kind() == fpga_core::ErrorKind::NoDevice => {
                return Err(SysfsError::NotFound {
                    what: format!("overlay slot {slot:?}"),
                    root: root.configfs().join("device-tree/overlays"),
                })
            }
            Err(e) => return Err(e),
        }
        self.kernel
            .wait_until(&format!("removing overlay {slot}"), settle, || {
                Ok(if dir.sub_opt(slot)?.is_some() {
                    vec![format!("slot {slot} still present")]
                } else {
                    Vec::new()
                })
            })?;
        if let Ok(mut order) = self.applied() {
            order.retain(|a| a.slot != slot);
            let _ = self.save_order(&order);
        }
        let mut removal = OverlayRemoval {
            slot: slot.to_string(),
            nodes: Vec::new(),
            devices: Vec::new(),
            log_unread: log.unavailable().map(str::to_string),
        };
        if let (Some(before), Some(topo)) = (nodes_before, topo_before) {
            let after = dt_nodes(&root.devicetree())?.unwrap_or_default();
            removal.nodes = before.difference(&after).cloned().collect();
            removal.devices = topo
                .devices()
                .iter()
                .filter(|d| {
                    d.fwnode
                        .as_ref()
                        .is_some_and(|f| removal.nodes.binary_search(f).is_ok())
                })
                .map(|d| d.key())
                .collect();
            let devices = &removal.devices;
            self.kernel
                .wait_until(&format!("devices of overlay {slot}"), settle, || {
                    let now = self.kernel.read_topology()?;
                    let mut pending: Vec<String> = devices
                        .iter()
                        .filter(|k| now.has_key(k))
                        .map(|k| format!("{k} still present"))
                        .collect();
                    pending.extend(
                        now.links()
                            .iter()
                            .filter(|l| {
                                devices.contains(&l.supplier_key)
                                    || devices.contains(&l.consumer_key)
                            })
                            .map(|l| format!("link {} still present", l.name)),
                    );
                    Ok(pending)
                })?;
        }
        // Only this overlay's nodes count (where they are known): a node of
        // an earlier overlay can be logged when its last holder lets go.
        let leaks: Vec<crate::kmsg::LeakReport> = crate::kmsg::leaks(&log.records())
            .into_iter()
            .filter(|l| removal.nodes.is_empty() || removal.nodes.binary_search(&l.node).is_ok())
            .collect();
        if !leaks.is_empty() {
            let mut nodes: Vec<String> = leaks.iter().map(|l| l.node.clone()).collect();
            nodes.sort();
            nodes.dedup();
            return Err(SysfsError::NodeLeaked {
                slot: slot.to_string(),
                nodes,
                messages: leaks.into_iter().map(|l| l.text).collect(),
            });
        }
        Ok(removal)
    }

    /// Removes `slots`, given in the order they were applied, last first
    /// (the overlay core only reverts the topmost overlay of a node).
    /// Stops at the first failure; the slots not yet removed stay.
    pub fn remove_in_reverse(
        &self,
        slots: &[String],
        settle: Duration,
    ) -> Result<Vec<OverlayRemoval>> {
        slots.iter().rev().map(|s| self.remove(s, settle)).collect()
    }
}

/// [`Overlays::check_topmost`] against an order already read (oldest
/// first).
pub(crate) fn topmost(order: &[String], slots: &[String]) -> Result<()> {
    let later: Vec<&String> = order
        .iter()
        .skip_while(|s| !slots.contains(s))
        .filter(|s| !slots.contains(s))
        .collect();
    if later.is_empty() {
        return Ok(());
    }
    Err(SysfsError::Busy {
        what: format!("overlay slot {}", quoted(slots)),
        holder: format!(
            "overlay {} was applied after it: overlays come off last applied, first removed; remove that first",
            quoted(&later)
        ),
    })
}

/// `"a", "b"`.
fn quoted<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|s| format!("{:?}", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One applied overlay, in [`Overlays::applied`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOverlay {
    /// Its configfs slot.
    pub slot: String,
    /// The `target-path`s of its fragments, as recorded when this crate
    /// applied it; empty if unknown.
    pub targets: Vec<String>,
}

/// The `target-path`s of an overlay blob's fragments (none if the blob
/// does not parse: the kernel will say what is wrong with it). A
/// `target = <&label>` is left out: only the live tree knows its path
/// ([`resolve_target`]).
pub fn targets_of(dtbo: &[u8]) -> Vec<String> {
    match devlink_core::fdt::Fdt::parse(dtbo) {
        Ok(f) => f
            .fragments()
            .iter()
            .filter_map(|fr| match &fr.target {
                devlink_core::fdt::FragmentTarget::Path(p) => Some(p.clone()),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Where a fragment applies on this kernel: a `target-path` as it is, a
/// `target = <&label>` through the live tree's `__symbols__` (what the
/// kernel's resolver uses; a base tree built without `dtc -@` has none,
/// and the label is then unknown: `None`).
pub fn resolve_target(
    root: &crate::SysfsRoot,
    target: &devlink_core::fdt::FragmentTarget,
) -> Option<String> {
    use devlink_core::fdt::FragmentTarget;
    match target {
        FragmentTarget::Path(p) => Some(p.clone()),
        FragmentTarget::Label(l) => {
            if l.is_empty() || l.contains('/') || l.starts_with('.') {
                return None;
            }
            let b = std::fs::read(root.devicetree().join("__symbols__").join(l)).ok()?;
            let path = std::str::from_utf8(b.strip_suffix(&[0]).unwrap_or(&b)).ok()?;
            path.starts_with('/').then(|| path.to_string())
        }
        FragmentTarget::Phandle(_) => None,
    }
}

/// [`targets_of`] with labels resolved on this kernel.
pub fn resolved_targets(root: &crate::SysfsRoot, dtbo: &[u8]) -> Vec<String> {
    match devlink_core::fdt::Fdt::parse(dtbo) {
        Ok(f) => f
            .fragments()
            .iter()
            .filter_map(|fr| resolve_target(root, &fr.target))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// What [`Overlays::remove`] saw go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayRemoval {
    /// The slot removed.
    pub slot: String,
    /// The device-tree nodes that left the live tree, sorted (empty when
    /// the kernel shows no live tree under `firmware/devicetree`).
    pub nodes: Vec<String>,
    /// The devices made from those nodes, all gone now (`bus:name`).
    pub devices: Vec<String>,
    /// Why the kernel log was not checked, if it was not.
    pub log_unread: Option<String>,
}

/// Every node of the live device tree (`/a/b` paths, sorted), or `None`
/// if the kernel shows none. Nodes are directories; properties are files.
fn dt_nodes(base: &std::path::Path) -> Result<Option<std::collections::BTreeSet<String>>> {
    if !base.is_dir() {
        return Ok(None);
    }
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![(base.to_path_buf(), String::new())];
    while let Some((dir, path)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(SysfsError::io(&dir))?;
        for e in entries.flatten() {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if !is_dir {
                continue;
            }
            if out.len() >= devlink_core::fdt::MAX_NODES {
                return Err(SysfsError::parse(
                    base,
                    "",
                    "a device tree of at most 100000 nodes",
                ));
            }
            let p = format!("{path}/{}", e.file_name().to_string_lossy());
            out.insert(p.clone());
            stack.push((e.path(), p));
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_tree_is_its_directories_and_targets_come_from_the_blob() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(dt_nodes(&d.path().join("none")).unwrap(), None);
        for n in ["a/b", "a/c", "d"] {
            std::fs::create_dir_all(d.path().join(n)).unwrap();
        }
        std::fs::write(d.path().join("a/compatible"), "x\0").unwrap();
        let nodes: Vec<String> = dt_nodes(d.path()).unwrap().unwrap().into_iter().collect();
        assert_eq!(nodes, ["/a", "/a/b", "/a/c", "/d"]);

        use devlink_core::fdt::{Fdt, FdtNode};
        let mut frag = FdtNode::new("fragment@0");
        frag.set_str("target-path", "/fpga-region");
        frag.children.push(FdtNode::new("__overlay__"));
        let mut root = FdtNode::new("");
        root.children.push(frag);
        assert_eq!(targets_of(&Fdt { root }.to_bytes()), ["/fpga-region"]);
        assert!(targets_of(b"text").is_empty());
    }
}
