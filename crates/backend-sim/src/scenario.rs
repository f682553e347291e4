//! Scenario files: a whole simulated board in TOML — firmware nodes,
//! drivers, devices and links — checked before anything is built, with
//! errors that name the entry and what to fix.
//!
//! ```toml
//! [core]
//! fw_devlink = "rpm"          # off | permissive | on | rpm (default)
//! kernel_compat = false       # reproduce the kernel's quirks Q3/Q4
//!
//! [[fwnode]]
//! path = "/soc/pmic"          # parents are created as needed
//! compatible = "pmic"
//! suppliers = ["/soc/clk"]    # fw_devlink supplier hints
//!
//! [[driver]]
//! name = "pmic"
//! probe = ["defer", "ok"]     # outcomes of successive probes (then ok)
//! latency_us = 50             # virtual time per probe
//! sync_state = true
//!
//! [[device]]
//! name = "soc:pmic"
//! bus = "platform"            # default "platform" unless class is given
//! class = "regulator"
//! parent = "platform:soc"     # an earlier device
//! fwnode = "/soc/pmic"
//! compatible = "pmic"         # default: the fwnode's compatible
//!
//! [[fpga_manager]]
//! parent = "soc:fpga-mgr"     # the device the manager is registered on
//! name = "Simulated FPGA Manager"
//! bytes_per_sec = 200_000_000 # virtual write speed (0: instant)
//! write_sg = false            # offer write_sg instead of write
//! held_by = "other-tool"      # someone else holds the lock (optional)
//!
//! [[fpga_bridge]]
//! parent = "soc:fpga-bridge0"
//! name = "sim-bridge0"
//!
//! [[fpga_region]]
//! parent = "soc:fpga-region0"
//! manager = "soc:fpga-mgr"    # the manager's parent device
//! bridges = ["soc:fpga-bridge0"]
//!
//! [[link]]
//! consumer = "i2c:1-0050"     # bus:name, or a unique name
//! supplier = "platform:soc:pmic"
//! flags = ["AUTOREMOVE_CONSUMER", "PM_RUNTIME"]
//! ```

use crate::driver::{ProbeOutcome, SimClock, SimDriver};
use crate::fpga::{SimBridge, SimFpgaManager};
use devlink_core::{
    Device, DriverCore, FwDevlinkMode, FwNode, KernelCompat, Link, LinkFlags, Module,
};
use fpga_core::{
    BridgeList, Fpga, FpgaBridge, FpgaManager, FpgaRegion, ManagerInfo, RegionInfo, RegionOps,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The largest scenario file [`Scenario::load`] reads: 16 MiB (a board of
/// a hundred thousand devices is a few MiB).
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// `O_NONBLOCK`, so that opening a FIFO does not wait for a writer.
const O_NONBLOCK: i32 = 0o4000;

/// Why a scenario could not be loaded or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("scenario {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or a field of the wrong type or name.
    #[error("scenario{}: {message}", location.as_ref().map(|l| format!(" {l}")).unwrap_or_default())]
    Syntax {
        /// `file:line:column`, when known.
        location: Option<String>,
        /// What the parser said.
        message: String,
    },
    /// A well-formed file that describes an impossible board.
    #[error("scenario: {entry}: {problem}")]
    Invalid {
        /// The entry, e.g. `device "soc:pmic"` or `link 3`.
        entry: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The driver core refused an operation while building.
    #[error("scenario: {entry}: {source}")]
    Core {
        /// The entry being built.
        entry: String,
        /// The core's error.
        #[source]
        source: devlink_core::Error,
    },
}

impl ScenarioError {
    /// The errno-like kind, for exit codes.
    pub fn kind(&self) -> devlink_core::ErrorKind {
        match self {
            ScenarioError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                devlink_core::ErrorKind::NoDevice
            }
            ScenarioError::Io { .. } => devlink_core::ErrorKind::Io,
            ScenarioError::Syntax { .. } | ScenarioError::Invalid { .. } => {
                devlink_core::ErrorKind::InvalidInput
            }
            ScenarioError::Core { source, .. } => source.kind(),
        }
    }
}

fn invalid(entry: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        entry: entry.into(),
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoreSpec {
    fw_devlink: Option<String>,
    #[serde(default)]
    kernel_compat: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FwNodeSpec {
    path: String,
    compatible: Option<String>,
    #[serde(default)]
    suppliers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverSpec {
    name: String,
    #[serde(default)]
    probe: Vec<String>,
    #[serde(default)]
    latency_us: u64,
    #[serde(default)]
    sync_state: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceSpec {
    name: String,
    bus: Option<String>,
    class: Option<String>,
    parent: Option<String>,
    fwnode: Option<String>,
    compatible: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    consumer: String,
    supplier: String,
    #[serde(default)]
    flags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FpgaManagerSpec {
    parent: String,
    #[serde(default = "default_mgr_name")]
    name: String,
    #[serde(default)]
    bytes_per_sec: u64,
    #[serde(default)]
    write_sg: bool,
    /// Someone else holds the manager's lock (to rehearse `Busy`).
    #[serde(default)]
    held_by: Option<String>,
}

fn default_mgr_name() -> String {
    "Simulated FPGA Manager".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FpgaBridgeSpec {
    parent: String,
    #[serde(default = "default_bridge_name")]
    name: String,
}

fn default_bridge_name() -> String {
    "sim-bridge".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FpgaRegionSpec {
    parent: String,
    manager: String,
    #[serde(default)]
    bridges: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    core: CoreSpec,
    #[serde(default)]
    fwnode: Vec<FwNodeSpec>,
    #[serde(default)]
    driver: Vec<DriverSpec>,
    #[serde(default)]
    device: Vec<DeviceSpec>,
    #[serde(default)]
    link: Vec<LinkSpec>,
    #[serde(default)]
    fpga_manager: Vec<FpgaManagerSpec>,
    #[serde(default)]
    fpga_bridge: Vec<FpgaBridgeSpec>,
    #[serde(default)]
    fpga_region: Vec<FpgaRegionSpec>,
}

/// A parsed and checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    file: File,
    fw_devlink: FwDevlinkMode,
    outcomes: Vec<Vec<ProbeOutcome>>,
    link_flags: Vec<LinkFlags>,
}

/// A board built from a scenario: the core and every named object.
pub struct Board {
    /// The driver core.
    pub core: DriverCore,
    /// The module that owns the scenario's drivers.
    pub module: Module,
    /// The virtual clock the drivers advance.
    pub clock: SimClock,
    /// Devices by `bus:name`, in scenario order of insertion.
    pub devices: BTreeMap<String, Device>,
    /// Drivers by name.
    pub drivers: BTreeMap<String, Arc<SimDriver>>,
    /// Firmware nodes by path (the scenario's own references).
    pub fwnodes: BTreeMap<String, FwNode>,
    /// Links in scenario order.
    pub links: Vec<Link>,
    /// The FPGA subsystem.
    pub fpga: Fpga,
    /// The module that owns the simulated FPGA drivers (`sim_fpga`).
    pub fpga_module: Module,
    /// Managers in scenario order, with their simulated backends.
    pub managers: Vec<(FpgaManager, Arc<SimFpgaManager>)>,
    /// Bridges in scenario order, with their simulated backends.
    pub bridges: Vec<(FpgaBridge, Arc<SimBridge>)>,
    /// Regions in scenario order.
    pub regions: Vec<FpgaRegion>,
    /// Manager locks the scenario says someone else holds (`held_by`).
    pub held: Vec<HeldLock>,
}

/// A manager lock held on behalf of a simulated other user (the
/// scenario's `held_by`). Dropping it unlocks, like a stale lock broken.
pub struct HeldLock {
    /// Who holds it, as the scenario says.
    pub holder: String,
    /// The lock (declared first: it is released before the reference).
    pub lock: fpga_core::ManagerLock,
    /// The holder's reference.
    pub mgr_ref: fpga_core::ManagerRef,
}

impl std::fmt::Debug for HeldLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeldLock({:?} by {:?})", self.mgr_ref, self.holder)
    }
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("devices", &self.devices.keys().collect::<Vec<_>>())
            .field("links", &self.links)
            .finish()
    }
}

impl Board {
    /// The device named `name` (`bus:name`, or a unique bare name).
    pub fn device(&self, name: &str) -> Option<&Device> {
        if let Some(d) = self.devices.get(name) {
            return Some(d);
        }
        let mut hits = self.devices.values().filter(|d| d.name() == name);
        match (hits.next(), hits.next()) {
            (Some(d), None) => Some(d),
            _ => None,
        }
    }
}

/// Parses a flag list such as `["AUTOREMOVE_CONSUMER", "PM_RUNTIME"]`
/// (with or without the `DL_FLAG_` prefix, any case).
pub(crate) fn parse_flags(names: &[String]) -> Result<LinkFlags, String> {
    let mut flags = LinkFlags::empty();
    for n in names {
        let key = n.trim().to_ascii_uppercase();
        let key = key.strip_prefix("DL_FLAG_").unwrap_or(&key);
        match LinkFlags::from_name(key) {
            Some(f) => flags |= f,
            None => {
                let known: Vec<_> = LinkFlags::all().iter_names().map(|(n, _)| n).collect();
                return Err(format!(
                    "unknown link flag {n:?} (known: {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(flags)
}

fn device_key(d: &DeviceSpec) -> String {
    let bus = d
        .bus
        .as_deref()
        .or(d.class.as_deref())
        .unwrap_or(if d.class.is_none() { "platform" } else { "" });
    format!("{bus}:{}", d.name)
}

impl Scenario {
    /// Parses and checks scenario text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_named(text, None)
    }

    /// The same scenario without its FPGA sections, for a board whose
    /// FPGA objects come from elsewhere (hardware ops, another backend).
    pub fn without_fpga(&self) -> Scenario {
        let mut s = self.clone();
        s.file.fpga_manager.clear();
        s.file.fpga_bridge.clear();
        s.file.fpga_region.clear();
        s
    }

    /// Reads, parses and checks a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let io = |source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        };
        // A regular file of bounded size: never a FIFO (opened without
        // waiting for a writer, then refused), a device or a directory.
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(ScenarioError::Invalid {
                entry: path.display().to_string(),
                problem: "not a regular file".into(),
            });
        }
        if meta.len() > MAX_SCENARIO_BYTES {
            return Err(ScenarioError::Invalid {
                entry: path.display().to_string(),
                problem: format!(
                    "{} bytes; a scenario is at most {MAX_SCENARIO_BYTES}",
                    meta.len()
                ),
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_SCENARIO_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|e| ScenarioError::Invalid {
            entry: path.display().to_string(),
            problem: format!(
                "not UTF-8 text (byte {} is not)",
                e.utf8_error().valid_up_to()
            ),
        })?;
        Scenario::parse_named(&text, Some(path))
    }

    fn parse_named(text: &str, path: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let location = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = span.start - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                match path {
                    Some(p) => format!("{}:{line}:{col}", p.display()),
                    None => format!("line {line}, column {col}"),
                }
            });
            ScenarioError::Syntax {
                location,
                message: e.message().to_string(),
            }
        })?;
        Scenario::check(file)
    }

    fn check(file: File) -> Result<Scenario, ScenarioError> {
        let fw_devlink = match file.core.fw_devlink.as_deref() {
            None | Some("rpm") => FwDevlinkMode::Rpm,
            Some("on") => FwDevlinkMode::On,
            Some("permissive") => FwDevlinkMode::Permissive,
            Some("off") => FwDevlinkMode::Off,
            Some(other) => {
                return Err(invalid(
                    "[core] fw_devlink",
                    format!("unknown mode {other:?} (expected off, permissive, on or rpm)"),
                ))
            }
        };
        let mut paths = HashMap::new();
        for (i, n) in file.fwnode.iter().enumerate() {
            let entry = format!("fwnode {:?}", n.path);
            if !n.path.starts_with('/')
                || n.path.len() < 2
                || n.path.ends_with('/')
                || n.path.contains("//")
            {
                return Err(invalid(entry, "a path is absolute, like \"/soc/pmic\""));
            }
            if paths.insert(n.path.clone(), i).is_some() {
                return Err(invalid(entry, "declared twice"));
            }
        }
        for n in &file.fwnode {
            for s in &n.suppliers {
                if !paths.contains_key(s) {
                    return Err(invalid(
                        format!("fwnode {:?}", n.path),
                        format!("supplier {s:?} is not a declared fwnode"),
                    ));
                }
            }
        }
        let mut outcomes = Vec::new();
        let mut driver_names = HashMap::new();
        for d in &file.driver {
            let entry = format!("driver {:?}", d.name);
            if driver_names.insert(d.name.clone(), ()).is_some() {
                return Err(invalid(entry, "declared twice"));
            }
            let o: Result<Vec<ProbeOutcome>, String> = d.probe.iter().map(|s| s.parse()).collect();
            outcomes.push(o.map_err(|e| invalid(entry, e))?);
        }
        let mut keys = Keys::default();
        for (i, d) in file.device.iter().enumerate() {
            let key = device_key(d);
            let entry = format!("device {key:?}");
            if d.name.is_empty() || d.name.contains('/') {
                return Err(invalid(entry, "a device name is non-empty and has no '/'"));
            }
            if keys.contains_key(&key) {
                return Err(invalid(entry, "declared twice (names are unique per bus)"));
            }
            if let Some(p) = &d.parent {
                if keys.resolve(p).is_none() {
                    return Err(invalid(
                        entry,
                        format!("parent {p:?} is not a device declared before it"),
                    ));
                }
            }
            if let Some(f) = &d.fwnode {
                if !paths.contains_key(f) {
                    return Err(invalid(entry, format!("fwnode {f:?} is not declared")));
                }
            }
            keys.insert(key, i, &d.name);
        }
        // The device's key, or the entry's error.
        let must_be_device = |entry: String, what: &str, name: &str| match keys.resolve(name) {
            Some(k) => Ok(k),
            None => Err(invalid(
                entry,
                format!("{what} {name:?} is not a declared device"),
            )),
        };
        let mut mgr_parents = Vec::new();
        for m in &file.fpga_manager {
            let k = must_be_device(
                format!("fpga_manager on {:?}", m.parent),
                "parent",
                &m.parent,
            )?;
            if mgr_parents.contains(&k) {
                return Err(invalid(
                    format!("fpga_manager on {:?}", m.parent),
                    "a second manager on the same device: regions name their manager by the device it is on, so one device hosts at most one",
                ));
            }
            mgr_parents.push(k);
        }
        let mut bridge_parents = Vec::new();
        for b in &file.fpga_bridge {
            let k = must_be_device(
                format!("fpga_bridge on {:?}", b.parent),
                "parent",
                &b.parent,
            )?;
            if bridge_parents.contains(&k) {
                return Err(invalid(
                    format!("fpga_bridge on {:?}", b.parent),
                    "a second bridge on the same device: regions name their bridges by the device they are on, so one device hosts at most one",
                ));
            }
            bridge_parents.push(k);
        }
        for r in &file.fpga_region {
            let entry = format!("fpga_region on {:?}", r.parent);
            must_be_device(entry.clone(), "parent", &r.parent)?;
            let m = keys.resolve(&r.manager);
            if !m.as_ref().is_some_and(|m| mgr_parents.contains(m)) {
                return Err(invalid(
                    entry,
                    format!(
                        "manager {:?} is not the parent of a declared fpga_manager",
                        r.manager
                    ),
                ));
            }
            for b in &r.bridges {
                let k = keys.resolve(b);
                if !k.as_ref().is_some_and(|k| bridge_parents.contains(k)) {
                    return Err(invalid(
                        entry,
                        format!("bridge {b:?} is not the parent of a declared fpga_bridge"),
                    ));
                }
            }
        }
        let class_keys = class_device_keys(&file);
        let mut link_flags = Vec::new();
        for (i, l) in file.link.iter().enumerate() {
            let entry = format!("link {} ({} -> {})", i + 1, l.supplier, l.consumer);
            for end in [&l.consumer, &l.supplier] {
                if !class_keys.contains(end) && keys.resolve(end).is_none() {
                    return Err(invalid(
                        entry,
                        format!("{end:?} is not a declared device (use bus:name, e.g. \"platform:soc:pmic\")"),
                    ));
                }
            }
            link_flags.push(parse_flags(&l.flags).map_err(|e| invalid(entry, e))?);
        }
        Ok(Scenario {
            file,
            fw_devlink,
            outcomes,
            link_flags,
        })
    }

    /// Number of devices, drivers and links described.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.file.device.len(),
            self.file.driver.len(),
            self.file.link.len(),
        )
    }

    /// Builds the board: firmware nodes, then devices (registered, not yet
    /// bound), then links, then drivers — each driver binds the devices it
    /// matches as it registers, so every declared link gates probing, and
    /// deferred probes are retried as binds happen and once at the end.
    pub async fn build(&self) -> Result<Board, ScenarioError> {
        let compat = if self.file.core.kernel_compat {
            KernelCompat::KERNEL
        } else {
            KernelCompat::default()
        };
        let core = DriverCore::builder()
            .fw_devlink(self.fw_devlink)
            .kernel_compat(compat)
            .build()
            .map_err(|source| ScenarioError::Core {
                entry: "driver core".into(),
                source,
            })?;
        self.build_on(core).await
    }

    /// Builds the board on an existing core.
    pub async fn build_on(&self, core: DriverCore) -> Result<Board, ScenarioError> {
        let clock = SimClock::new();
        let module = Module::new("scenario");
        let mut fwnodes: BTreeMap<String, FwNode> = BTreeMap::new();
        let root = core.of_root();
        for n in &self.file.fwnode {
            let node = ensure_node(&root, &mut fwnodes, &n.path);
            if let Some(c) = &n.compatible {
                node.set_compatible(c);
            }
        }
        for n in &self.file.fwnode {
            for s in &n.suppliers {
                fwnodes[&n.path].add_supplier_hint(&fwnodes[s]);
            }
        }
        let mut devices: BTreeMap<String, Device> = BTreeMap::new();
        let mut keys = Keys::default();
        for (i, d) in self.file.device.iter().enumerate() {
            let key = device_key(d);
            let mut b = core.device(&d.name);
            match (&d.bus, &d.class) {
                (Some(bus), _) => b = b.bus(bus),
                (None, None) => b = b.bus("platform"),
                (None, Some(_)) => {}
            }
            if let Some(c) = &d.class {
                b = b.class(c);
            }
            if let Some(p) = &d.parent {
                let pk = keys.resolve(p).expect("checked");
                b = b.parent(&devices[&pk]);
            }
            if let Some(f) = &d.fwnode {
                b = b.fwnode(&fwnodes[f]);
            }
            if let Some(c) = &d.compatible {
                b = b.compatible(c);
            }
            let dev = b.create();
            core.device_add(&dev)
                .await
                .map_err(|source| ScenarioError::Core {
                    entry: format!("device {key:?}"),
                    source,
                })?;
            keys.insert(key.clone(), i, &d.name);
            devices.insert(key, dev);
        }
        let sim = self.build_fpga(&core, &clock, &devices, &keys).await?;
        for (key, dev) in &sim.class_devices {
            devices.insert(key.clone(), dev.clone());
        }
        let class_keys = class_device_keys(&self.file);
        let lookup = |name: &String| -> String {
            if class_keys.contains(name) {
                name.clone()
            } else {
                keys.resolve(name).expect("checked")
            }
        };
        let mut links = Vec::new();
        for (i, (l, flags)) in self.file.link.iter().zip(&self.link_flags).enumerate() {
            let c = lookup(&l.consumer);
            let s = lookup(&l.supplier);
            let link = core
                .link_add(&devices[&c], &devices[&s], *flags)
                .map_err(|source| ScenarioError::Core {
                    entry: format!("link {} ({} -> {})", i + 1, l.supplier, l.consumer),
                    source,
                })?;
            links.push(link);
        }
        // Drivers last, so every declared link gates the probes it should.
        let mut drivers = BTreeMap::new();
        for (d, outcomes) in self.file.driver.iter().zip(&self.outcomes) {
            let mut drv = SimDriver::new(&d.name, &clock)
                .with_outcomes(outcomes.iter().copied())
                .with_latency(Duration::from_micros(d.latency_us));
            if d.sync_state {
                drv = drv.with_sync_state();
            }
            let drv = Arc::new(drv);
            core.driver_register(&module, drv.clone())
                .await
                .map_err(|source| ScenarioError::Core {
                    entry: format!("driver {:?}", d.name),
                    source,
                })?;
            drivers.insert(d.name.clone(), drv);
        }
        // The end of "boot": retry what deferred itself with nothing left
        // to trigger it (the kernel's late-init deferred-probe trigger).
        core.retry_deferred().await;
        Ok(Board {
            core,
            module,
            clock,
            devices,
            drivers,
            fwnodes,
            links,
            fpga: sim.fpga,
            fpga_module: sim.module,
            managers: sim.managers,
            bridges: sim.bridges,
            regions: sim.regions,
            held: sim.held,
        })
    }
}

/// Resolves `bus:name` or a unique bare name to a device key.
/// Device keys (`bus:name`) in declaration order, and an index of bare
/// names, so that resolving a name is one hash lookup (a board of a
/// hundred thousand devices naming parents by bare name stays linear).
#[derive(Default)]
struct Keys {
    keys: HashMap<String, usize>,
    bare: HashMap<String, Vec<String>>,
}

impl Keys {
    fn insert(&mut self, key: String, i: usize, name: &str) {
        self.bare
            .entry(name.to_string())
            .or_default()
            .push(key.clone());
        self.keys.insert(key, i);
    }

    fn contains_key(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// `name` as a key, or the one key whose bare name it is.
    fn resolve(&self, name: &str) -> Option<String> {
        if self.keys.contains_key(name) {
            return Some(name.to_string());
        }
        match self.bare.get(name).map(Vec::as_slice) {
            Some([one]) => Some(one.clone()),
            _ => None,
        }
    }
}

/// The node at `path`, made with its missing ancestors: iterative, so a
/// path of any depth is fine (each level is one entry of `nodes`).
fn ensure_node(root: &FwNode, nodes: &mut BTreeMap<String, FwNode>, path: &str) -> FwNode {
    // The deepest ancestor that exists, then down from there.
    let mut missing = Vec::new();
    let mut at = path;
    let mut base = loop {
        if let Some(n) = nodes.get(at) {
            break n.clone();
        }
        missing.push(at);
        match at.rsplit_once('/') {
            Some(("", _)) | None => break root.clone(),
            Some((up, _)) => at = up,
        }
    };
    for p in missing.into_iter().rev() {
        let name = p.rsplit_once('/').map_or(p, |(_, n)| n);
        base = base.add_child(name);
        nodes.insert(p.to_string(), base.clone());
    }
    base
}

/// The FPGA objects of a board.
struct SimFpga {
    fpga: Fpga,
    module: Module,
    managers: Vec<(FpgaManager, Arc<SimFpgaManager>)>,
    bridges: Vec<(FpgaBridge, Arc<SimBridge>)>,
    regions: Vec<FpgaRegion>,
    held: Vec<HeldLock>,
    class_devices: Vec<(String, Device)>,
}

/// The `bus:name` keys the FPGA class devices will have on a fresh board
/// (ids are handed out in declaration order from 0).
fn class_device_keys(file: &File) -> std::collections::HashSet<String> {
    let m = (0..file.fpga_manager.len()).map(|i| format!("fpga_manager:fpga{i}"));
    let b = (0..file.fpga_bridge.len()).map(|i| format!("fpga_bridge:br{i}"));
    let r = (0..file.fpga_region.len()).map(|i| format!("fpga_region:region{i}"));
    m.chain(b).chain(r).collect()
}

/// `get_bridges` for a simulated region: gets the bridges registered on
/// the given parent devices, in order.
struct ParentBridges {
    fpga: Fpga,
    parents: Vec<Device>,
}

#[async_trait::async_trait]
impl RegionOps for ParentBridges {
    async fn get_bridges(
        &self,
        region: &FpgaRegion,
        list: &mut BridgeList,
    ) -> fpga_core::Result<()> {
        for p in &self.parents {
            if let Err(e) = self
                .fpga
                .bridge_get_to_list(p, region.info().as_ref(), list)
            {
                list.put_all();
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Scenario {
    async fn build_fpga(
        &self,
        core: &DriverCore,
        clock: &SimClock,
        devices: &BTreeMap<String, Device>,
        keys: &Keys,
    ) -> Result<SimFpga, ScenarioError> {
        let fpga = Fpga::new(core);
        let module = Module::new("sim_fpga");
        let reg = fpga.registrar(&module);
        let dev = |name: &str| devices[&keys.resolve(name).expect("checked")].clone();
        let fail = |entry: String| {
            move |source: fpga_core::FpgaError| ScenarioError::Invalid {
                entry,
                problem: source.to_string(),
            }
        };
        let mut out = SimFpga {
            fpga: fpga.clone(),
            module: module.clone(),
            managers: Vec::new(),
            bridges: Vec::new(),
            regions: Vec::new(),
            held: Vec::new(),
            class_devices: Vec::new(),
        };
        for m in &self.file.fpga_manager {
            let mut sim = SimFpgaManager::new(clock, m.bytes_per_sec);
            if m.write_sg {
                sim = sim.with_write_sg();
            }
            let sim = Arc::new(sim);
            let mgr = reg
                .register_manager(&dev(&m.parent), ManagerInfo::new(&m.name, sim.clone()))
                .await
                .map_err(fail(format!("fpga_manager on {:?}", m.parent)))?;
            out.class_devices
                .push((mgr.device().to_string(), mgr.device().clone()));
            if let Some(holder) = &m.held_by {
                let entry = format!("fpga_manager on {:?}", m.parent);
                let mgr_ref = fpga.mgr_get(&dev(&m.parent)).map_err(fail(entry.clone()))?;
                let lock = mgr_ref.lock().map_err(fail(entry))?;
                out.held.push(HeldLock {
                    holder: holder.clone(),
                    lock,
                    mgr_ref,
                });
            }
            out.managers.push((mgr, sim));
        }
        for b in &self.file.fpga_bridge {
            let sim = Arc::new(SimBridge::new());
            let br = reg
                .register_bridge(&dev(&b.parent), &b.name, Some(sim.clone()))
                .await
                .map_err(fail(format!("fpga_bridge on {:?}", b.parent)))?;
            out.class_devices
                .push((br.device().to_string(), br.device().clone()));
            out.bridges.push((br, sim));
        }
        for r in &self.file.fpga_region {
            let entry = format!("fpga_region on {:?}", r.parent);
            let mgr = fpga
                .mgr_get(&dev(&r.manager))
                .map_err(fail(entry.clone()))?;
            let get_bridges: Option<Arc<dyn RegionOps>> = (!r.bridges.is_empty()).then(|| {
                Arc::new(ParentBridges {
                    fpga: fpga.clone(),
                    parents: r.bridges.iter().map(|b| dev(b)).collect(),
                }) as Arc<dyn RegionOps>
            });
            let region = reg
                .register_region(
                    &dev(&r.parent),
                    Some(RegionInfo {
                        mgr: Some(mgr),
                        get_bridges,
                        compat_id: None,
                    }),
                )
                .await
                .map_err(fail(entry))?;
            out.class_devices
                .push((region.device().to_string(), region.device().clone()));
            out.regions.push(region);
        }
        Ok(out)
    }
}
