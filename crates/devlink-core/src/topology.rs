//! [`Topology`]: the one read model of a driver model, owned and
//! detached from whatever produced it. The in-process [`DriverCore`]
//! produces it ([`DriverCore::topology`]), the live-kernel backend reads
//! it out of sysfs, and every question about the graph — dependents,
//! teardown and bring-up order, why a device waits — is answered over it,
//! once (`query.rs`), with the kernel's semantics for every flag.
//!
//! [`DriverCore`]: crate::DriverCore
//! [`DriverCore::topology`]: crate::DriverCore::topology

use crate::error::ErrorKind;
use crate::flags::{DevState, LinkFlags, LinkState};
use std::collections::HashMap;

/// A device's index in [`Topology::devices`].
pub type DevId = usize;
/// A link's index in [`Topology::links`].
pub type LinkId = usize;

/// An attribute a reader could not make sense of: a file missing where
/// every kernel has it, or text no kernel writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Problem {
    /// The attribute (`status`, `of_node`, `waiting_for_supplier`...).
    pub attribute: String,
    /// What is wrong, naming the file, its text and what was expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One device, as the driver model shows it (`/sys/devices/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TopoDevice {
    /// The device name (the directory name in sysfs).
    pub name: String,
    /// The bus, if any (`/sys/bus/<bus>/devices/<name>`).
    pub bus: Option<String>,
    /// The class, if any (`/sys/class/<class>/<name>`).
    pub class: Option<String>,
    /// The device's directory relative to the sysfs root
    /// (`devices/platform/soc:pmic`).
    pub path: String,
    /// The bound driver.
    pub driver: Option<String>,
    /// Driver presence (`enum dl_dev_state`). A live kernel shows only
    /// bound or not directly; probing and unbinding are read off the
    /// device's links (`consumer probing`, `supplier unbinding`).
    pub state: DevState,
    /// The parent device.
    pub parent: Option<DevId>,
    /// The firmware node's path (`of_node`), e.g. `/soc/pmic`.
    pub fwnode: Option<String>,
    /// The `waiting_for_supplier` attribute: `None` when the file does
    /// not exist.
    pub waiting_for_supplier: Option<bool>,
    /// Firmware nodes this device waits for, where the backend can name
    /// them (the in-process core can; sysfs only says
    /// `waiting_for_supplier`).
    pub fw_suppliers: Vec<String>,
    /// The device's reference count, where the backend can see it (the
    /// in-process core; a kernel does not show it).
    pub refcount: Option<usize>,
    /// Attributes the reader could not make sense of, each naming the
    /// file, its text and what was expected. The fields they fill are
    /// left at "unknown" (`None`); everything else about the device is
    /// read as usual.
    pub problems: Vec<Problem>,
}

impl TopoDevice {
    /// A device named `name` at `path`, with nothing else known yet.
    pub fn new(name: impl Into<String>, path: impl Into<String>) -> TopoDevice {
        TopoDevice {
            name: name.into(),
            bus: None,
            class: None,
            path: path.into(),
            driver: None,
            state: DevState::NoDriver,
            parent: None,
            fwnode: None,
            waiting_for_supplier: None,
            fw_suppliers: Vec::new(),
            refcount: None,
            problems: Vec::new(),
        }
    }

    /// `dev_bus_name`: the bus, else the class, else the empty string.
    pub fn bus_name(&self) -> &str {
        self.bus.as_deref().or(self.class.as_deref()).unwrap_or("")
    }

    /// `bus:name`, as the kernel names link ends (`:ata3` for a device
    /// with neither bus nor class).
    pub fn key(&self) -> String {
        format!("{}:{}", self.bus_name(), self.name)
    }

    /// Whether a driver is bound.
    pub fn is_bound(&self) -> bool {
        self.driver.is_some()
    }

    /// Whether the device can have a driver at all: only devices on a bus
    /// bind (class devices never do).
    pub fn bindable(&self) -> bool {
        self.bus.is_some()
    }
}

/// One device link (`/sys/class/devlink/<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TopoLink {
    /// `<S bus>:<S name>--<C bus>:<C name>`.
    pub name: String,
    /// The supplier, when it is a device of the topology.
    pub supplier: Option<DevId>,
    /// The consumer, when it is a device of the topology (a consumer that
    /// is not registered yet is not).
    pub consumer: Option<DevId>,
    /// The supplier's `bus:name`, from its device or, failing that, from
    /// the link's name.
    pub supplier_key: String,
    /// The consumer's `bus:name`, likewise.
    pub consumer_key: String,
    /// Whether the link's sysfs directory has its `supplier`/`consumer`
    /// symlinks (the kernel makes all four or none: none when the
    /// consumer was not registered when the link was made). When it has
    /// none, the ends come from the name.
    pub sysfs_ends: bool,
    /// The link state (`status`).
    pub status: LinkState,
    /// The flags, as far as the backend can see them: the in-process core
    /// knows every bit, sysfs shows [`LinkFlags::SYSFS_VISIBLE`].
    pub flags: LinkFlags,
    /// Attributes the reader could not make sense of (file, text, what
    /// was expected). A link with problems is still followed by every
    /// query, as a link that orders probing (the safe reading: its
    /// consumer goes down with its supplier), and [`status`](Self::status)
    /// and the flags of the unreadable attributes are not to be trusted;
    /// [`readable`](Self::readable) says whether they are.
    pub problems: Vec<Problem>,
}

impl TopoLink {
    /// Whether every attribute of the link was read.
    pub fn readable(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether `attribute` (`status`, `runtime_pm`...) was read.
    pub fn read(&self, attribute: &str) -> bool {
        !self.problems.iter().any(|p| p.attribute == attribute)
    }

    /// Whether the driver core manages the link (`status` is not `not
    /// tracked`).
    pub fn managed(&self) -> bool {
        self.flags.contains(LinkFlags::MANAGED)
    }

    /// `sync_state_only`: the link only delays the supplier's
    /// `sync_state()`; it never orders or gates anything.
    pub fn sync_state_only(&self) -> bool {
        self.flags.contains(LinkFlags::SYNC_STATE_ONLY)
    }

    /// `runtime_pm`.
    pub fn runtime_pm(&self) -> bool {
        self.flags.contains(LinkFlags::PM_RUNTIME)
    }

    /// `auto_remove_on`, without the newline.
    pub fn auto_remove_on(&self) -> &'static str {
        self.flags.auto_remove_on()
    }

    /// The four attribute files and their exact contents (spec §7.2).
    pub fn sysfs_attributes(&self) -> [(&'static str, String); 4] {
        [
            ("auto_remove_on", format!("{}\n", self.auto_remove_on())),
            ("runtime_pm", format!("{}\n", u8::from(self.runtime_pm()))),
            ("status", format!("{}\n", self.status.sysfs_status())),
            (
                "sync_state_only",
                format!("{}\n", u8::from(self.sync_state_only())),
            ),
        ]
    }

    /// The value of one attribute file, newline included.
    pub fn sysfs_attribute(&self, file: &str) -> Option<String> {
        self.sysfs_attributes()
            .into_iter()
            .find(|(f, _)| *f == file)
            .map(|(_, v)| v)
    }

    /// Splits a link name into `(supplier key, consumer key)`. A device
    /// name may itself contain `--`, so every split point is tried and
    /// `known` (is this `bus:name` a device?) picks the one whose ends
    /// exist; without a match, the first split whose halves both look like
    /// `bus:name` wins. `None` if no split has a `:` on both sides.
    pub fn split_name(name: &str, known: impl Fn(&str) -> bool) -> Option<(String, String)> {
        let splits: Vec<(&str, &str)> = name
            .match_indices("--")
            .map(|(i, _)| (&name[..i], &name[i + 2..]))
            .filter(|(s, c)| s.contains(':') && c.contains(':'))
            .collect();
        let score = |(s, c): &(&str, &str)| u8::from(known(s)) + u8::from(known(c));
        let best = splits.iter().max_by_key(|sc| score(sc))?;
        // Among equal scores the first split wins (max_by_key keeps the
        // last maximum, so search again for the first with that score).
        let top = score(best);
        let (s, c) = splits.iter().find(|sc| score(sc) == top)?;
        Some((s.to_string(), c.to_string()))
    }
}

impl LinkFlags {
    /// The bits sysfs lets a reader tell apart: `status` says whether the
    /// link is managed (`not tracked` means stateless), `auto_remove_on`
    /// shows the two auto-remove bits, and `runtime_pm` and
    /// `sync_state_only` their bits.
    pub const SYSFS_VISIBLE: LinkFlags = LinkFlags::STATELESS
        .union(LinkFlags::MANAGED)
        .union(LinkFlags::AUTOREMOVE_CONSUMER)
        .union(LinkFlags::AUTOREMOVE_SUPPLIER)
        .union(LinkFlags::PM_RUNTIME)
        .union(LinkFlags::SYNC_STATE_ONLY);

    /// The flags a sysfs link directory shows, from its four attributes.
    pub fn from_sysfs(
        status: LinkState,
        auto_remove_on: &str,
        runtime_pm: bool,
        sync_state_only: bool,
    ) -> LinkFlags {
        let mut f = if status == LinkState::None {
            LinkFlags::STATELESS
        } else {
            LinkFlags::MANAGED
        };
        match auto_remove_on {
            "supplier unbind" => f |= LinkFlags::AUTOREMOVE_SUPPLIER,
            "consumer unbind" => f |= LinkFlags::AUTOREMOVE_CONSUMER,
            _ => {}
        }
        if runtime_pm {
            f |= LinkFlags::PM_RUNTIME;
        }
        if sync_state_only {
            f |= LinkFlags::SYNC_STATE_ONLY;
        }
        f
    }

    /// The kernel's names of the set bits (`STATELESS`, `MANAGED`, ...).
    pub fn names(self) -> Vec<&'static str> {
        self.iter_names().map(|(n, _)| n).collect()
    }
}

/// Why a name did not resolve to one device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No device has that name.
    #[error("no device named {name:?}{}", hint(suggestions, "similar"))]
    NotFound {
        /// The name as given.
        name: String,
        /// A few devices with similar names (at most
        /// [`Topology::MAX_SUGGESTIONS`]).
        suggestions: Vec<String>,
    },
    /// Several devices have that bare name; `bus:name` picks one.
    #[error("{name:?} names {} devices: say which, as {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// The name as given.
        name: String,
        /// Every device of that name, as `bus:name` (or `class:name`).
        candidates: Vec<String>,
    },
}

fn hint(v: &[String], what: &str) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!(" ({what}: {})", v.join(", "))
    }
}

impl LookupError {
    /// `NoDevice` for an unknown name, `InvalidInput` for an ambiguous one.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LookupError::NotFound { .. } => ErrorKind::NoDevice,
            LookupError::Ambiguous { .. } => ErrorKind::InvalidInput,
        }
    }
}

impl crate::errno::KindError for LookupError {
    fn kind(&self) -> ErrorKind {
        LookupError::kind(self)
    }
}

/// Devices and links with their indexes. Build one with
/// [`Topology::new`]; it never changes afterwards (take a new one after
/// driving anything).
///
/// ```
/// use devlink_core::{DevState, LinkFlags, LinkState, TopoDevice, TopoLink, Topology};
/// let mut region = TopoDevice::new("region", "devices/platform/region");
/// region.bus = Some("platform".into());
/// region.driver = Some("fpga-region".into());
/// region.state = DevState::DriverBound;
/// let mut dma = TopoDevice::new("dma0", "devices/platform/dma0");
/// dma.bus = Some("platform".into());
/// let link = TopoLink {
///     name: "platform:region--platform:dma0".into(),
///     supplier: Some(0),
///     consumer: Some(1),
///     supplier_key: "platform:region".into(),
///     consumer_key: "platform:dma0".into(),
///     sysfs_ends: true,
///     status: LinkState::Available,
///     flags: LinkFlags::MANAGED,
///     problems: Vec::new(),
/// };
/// let topo = Topology::new(vec![region, dma], vec![link]);
/// let r = topo.find("region").unwrap();
/// assert_eq!(topo.dependents(r), [1]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    devices: Vec<TopoDevice>,
    links: Vec<TopoLink>,
    /// What the reader had to work around (ends recovered from a link's
    /// name, a subsystem left out); shown to users, never silently lost.
    notes: Vec<String>,
    index: Index,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Index {
    /// `bus:name` (and `class:name`) -> device.
    keys: HashMap<String, DevId>,
    /// Bare name -> every device of that name.
    bare: HashMap<String, Vec<DevId>>,
    /// sysfs path -> device.
    paths: HashMap<String, DevId>,
    children: Vec<Vec<DevId>>,
    /// Links where the device is the consumer.
    suppliers: Vec<Vec<LinkId>>,
    /// Links where the device is the supplier.
    consumers: Vec<Vec<LinkId>>,
}

impl Topology {
    /// How many similar names a [`LookupError::NotFound`] suggests.
    pub const MAX_SUGGESTIONS: usize = 5;

    /// A topology of `devices` and `links`. Ids out of range (a parent or
    /// a link end that is not in `devices`) are dropped, with a note.
    pub fn new(mut devices: Vec<TopoDevice>, mut links: Vec<TopoLink>) -> Topology {
        let n = devices.len();
        let mut notes = Vec::new();
        for d in &mut devices {
            if d.parent.is_some_and(|p| p >= n) {
                notes.push(format!("{}: parent index out of range", d.key()));
                d.parent = None;
            }
        }
        for l in &mut links {
            for end in [&mut l.supplier, &mut l.consumer] {
                if end.is_some_and(|e| e >= n) {
                    notes.push(format!("link {}: end index out of range", l.name));
                    *end = None;
                }
            }
        }
        let mut ix = Index {
            children: vec![Vec::new(); n],
            suppliers: vec![Vec::new(); n],
            consumers: vec![Vec::new(); n],
            ..Index::default()
        };
        for (i, d) in devices.iter().enumerate() {
            ix.keys.entry(d.key()).or_insert(i);
            if let (Some(_), Some(class)) = (&d.bus, &d.class) {
                ix.keys.entry(format!("{class}:{}", d.name)).or_insert(i);
            }
            ix.bare.entry(d.name.clone()).or_default().push(i);
            ix.paths.insert(d.path.clone(), i);
            if let Some(p) = d.parent {
                ix.children[p].push(i);
            }
        }
        for (li, l) in links.iter().enumerate() {
            if let Some(c) = l.consumer {
                ix.suppliers[c].push(li);
            }
            if let Some(s) = l.supplier {
                ix.consumers[s].push(li);
            }
        }
        Topology {
            devices,
            links,
            notes,
            index: ix,
        }
    }

    /// Adds a note (what a reader worked around).
    pub fn add_note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// What the reader worked around, one sentence each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Every device. The order is the producer's: the in-process core
    /// gives its devices-list order (suppliers and parents first), a
    /// sysfs reader sorts by path.
    pub fn devices(&self) -> &[TopoDevice] {
        &self.devices
    }

    /// Every link, by name.
    pub fn links(&self) -> &[TopoLink] {
        &self.links
    }

    /// One device.
    pub fn device(&self, id: DevId) -> &TopoDevice {
        &self.devices[id]
    }

    /// One link.
    pub fn link(&self, id: LinkId) -> &TopoLink {
        &self.links[id]
    }

    /// The device with this sysfs path or this `bus:name` key, exactly.
    pub fn get(&self, key_or_path: &str) -> Option<DevId> {
        self.index
            .keys
            .get(key_or_path)
            .or_else(|| self.index.paths.get(key_or_path))
            .copied()
    }

    /// Whether `key` (`bus:name`) names a device.
    pub fn has_key(&self, key: &str) -> bool {
        self.index.keys.contains_key(key)
    }

    /// The device a user means by `name`: a sysfs path (`devices/...`),
    /// `bus:name` or `class:name`, or a bare name that only one device
    /// has. An ambiguous bare name is an error listing every candidate.
    pub fn find(&self, name: &str) -> Result<DevId, LookupError> {
        if let Some(id) = self.get(name) {
            return Ok(id);
        }
        let trimmed = name.strip_prefix("/sys/").unwrap_or(name);
        if let Some(&id) = self.index.paths.get(trimmed) {
            return Ok(id);
        }
        match self.index.bare.get(name).map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            Some(many) if !many.is_empty() => {
                let mut candidates: Vec<String> = many
                    .iter()
                    .map(|&i| {
                        let d = &self.devices[i];
                        let key = d.key();
                        match (&d.bus, &d.class) {
                            // A class device with no bus has only one name.
                            (None, _) | (_, None) => key,
                            (Some(_), Some(c)) => format!("{key} (also {c}:{})", d.name),
                        }
                    })
                    .collect();
                candidates.sort();
                Err(LookupError::Ambiguous {
                    name: name.to_string(),
                    candidates,
                })
            }
            _ => Err(LookupError::NotFound {
                name: name.to_string(),
                suggestions: self.suggest(name),
            }),
        }
    }

    /// The device [`find`](Self::find) resolves `name` to, if exactly one.
    pub fn named(&self, name: &str) -> Option<&TopoDevice> {
        self.find(name).ok().map(|id| self.device(id))
    }

    /// A few keys that contain `name`'s bare part (or share its start),
    /// sorted, at most [`MAX_SUGGESTIONS`](Self::MAX_SUGGESTIONS).
    fn suggest(&self, name: &str) -> Vec<String> {
        let bare = name.rsplit(':').next().unwrap_or(name);
        if bare.is_empty() {
            return Vec::new();
        }
        let prefix: String = bare.chars().take(3).collect();
        let mut hits: Vec<String> = self
            .devices
            .iter()
            .filter(|d| d.name.contains(bare) || d.name.starts_with(&prefix))
            .map(TopoDevice::key)
            .take(Self::MAX_SUGGESTIONS * 4)
            .collect();
        hits.sort();
        hits.dedup();
        hits.truncate(Self::MAX_SUGGESTIONS);
        hits
    }

    /// The device's children.
    pub fn children(&self, id: DevId) -> &[DevId] {
        &self.index.children[id]
    }

    /// Links where `id` is the consumer (its suppliers).
    pub fn supplier_links(&self, id: DevId) -> impl Iterator<Item = &TopoLink> + '_ {
        self.index.suppliers[id].iter().map(|&l| &self.links[l])
    }

    /// Links where `id` is the supplier (its consumers).
    pub fn consumer_links(&self, id: DevId) -> impl Iterator<Item = &TopoLink> + '_ {
        self.index.consumers[id].iter().map(|&l| &self.links[l])
    }

    /// The `consumer:<bus>:<name>` entries of a device's sysfs directory
    /// and the link each points to (links with their sysfs ends only).
    pub fn consumer_entries(&self, id: DevId) -> Vec<(String, String)> {
        self.consumer_links(id)
            .filter(|l| l.sysfs_ends)
            .map(|l| (format!("consumer:{}", l.consumer_key), l.name.clone()))
            .collect()
    }

    /// The `supplier:<bus>:<name>` entries of a device's sysfs directory.
    pub fn supplier_entries(&self, id: DevId) -> Vec<(String, String)> {
        self.supplier_links(id)
            .filter(|l| l.sysfs_ends)
            .map(|l| (format!("supplier:{}", l.supplier_key), l.name.clone()))
            .collect()
    }

    /// The link named `name`.
    pub fn link_named(&self, name: &str) -> Option<&TopoLink> {
        self.links
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.links[i])
            .or_else(|| self.links.iter().find(|l| l.name == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_name_prefers_the_split_whose_ends_exist() {
        let known = |k: &str| ["platform:a--b", "i2c:c"].contains(&k);
        assert_eq!(
            TopoLink::split_name("platform:a--b--i2c:c", known),
            Some(("platform:a--b".into(), "i2c:c".into()))
        );
        // Nothing known: the first split with a `:` on both sides.
        assert_eq!(
            TopoLink::split_name(":ata3--scsi:2:0:0:0", |_| false),
            Some((":ata3".into(), "scsi:2:0:0:0".into()))
        );
        assert_eq!(TopoLink::split_name("no-ends", |_| false), None);
    }

    #[test]
    fn ambiguous_and_unknown_names_are_errors_that_say_what_to_type() {
        let mut a = TopoDevice::new("host0", "devices/pci0000:00/host0");
        a.bus = Some("scsi".into());
        let mut b = TopoDevice::new("host0", "devices/pci0000:00/host0/scsi_host/host0");
        b.class = Some("scsi_host".into());
        let t = Topology::new(vec![a, b], vec![]);
        match t.find("host0") {
            Err(LookupError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates, ["scsi:host0", "scsi_host:host0"])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.find("scsi_host:host0"), Ok(1));
        assert_eq!(t.find("/sys/devices/pci0000:00/host0"), Ok(0));
        let e = t.find("hostx").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoDevice);
        assert!(e.to_string().contains("scsi:host0"), "{e}");
    }
}
