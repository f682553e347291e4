//! What each command reports: one `Serialize` type per command, the same
//! on every backend (a field a backend cannot know is `null`). The JSON
//! schemas in `docs/schemas/` are generated from these types
//! (`cargo xtask schemas`) and checked against real output by the tests.

use devlink_core::Topology;
use fpga_core::{BridgeView, ManagerView, RegionView, Step};
use schemars::JsonSchema;
use serde::Serialize;

fn status_lines(s: Option<fpga_core::MgrStatus>) -> Option<Vec<String>> {
    s.map(|s| s.sysfs().lines().map(str::to_string).collect())
}

/// A device, as every command shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRow {
    /// `bus:name` (`class:name` for a class device, `:name` with neither).
    pub name: String,
    /// The bus.
    pub bus: Option<String>,
    /// The class.
    pub class: Option<String>,
    /// The sysfs directory, relative to the sysfs root.
    pub path: String,
    /// `bound`, `no driver`, `probing` or `unbinding`.
    pub state: String,
    /// The bound driver.
    pub driver: Option<String>,
    /// The parent, `bus:name`.
    pub parent: Option<String>,
    /// Whether the device waits for a supplier (`why` says which).
    pub waiting: bool,
    /// Attributes that could not be read, each naming the file, its text
    /// and what was expected (the fields they fill are unknown).
    pub problems: Vec<String>,
}

impl DeviceRow {
    /// The row of device `id`.
    pub fn of(t: &Topology, id: usize) -> DeviceRow {
        let d = t.device(id);
        DeviceRow {
            name: d.key(),
            bus: d.bus.clone(),
            class: d.class.clone(),
            path: d.path.clone(),
            state: d.state.to_string(),
            driver: d.driver.clone(),
            parent: d.parent.map(|p| t.device(p).key()),
            waiting: !t.waiting_for(id).is_empty(),
            problems: d.problems.iter().map(|p| p.message.clone()).collect(),
        }
    }
}

/// A device link.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRow {
    /// `<supplier>--<consumer>`, as in `/sys/class/devlink`.
    pub name: String,
    /// The supplier, `bus:name`.
    pub supplier: String,
    /// The consumer, `bus:name`.
    pub consumer: String,
    /// `status`.
    pub status: String,
    /// `auto_remove_on`.
    pub auto_remove_on: String,
    /// Whether the driver core manages the link.
    pub managed: bool,
    /// `runtime_pm`.
    pub runtime_pm: bool,
    /// `sync_state_only`.
    pub sync_state_only: bool,
    /// The `DL_FLAG_*` names known (a kernel shows only the ones its
    /// attributes carry).
    pub flags: Vec<String>,
    /// The link's sysfs directory had no `supplier`/`consumer` symlinks;
    /// the ends come from its name.
    pub ends_from_name: bool,
    /// Attributes that could not be read (file, text, what was expected).
    /// An unreadable `status` shows as `unreadable`; the link is still
    /// treated as one that orders probing.
    pub problems: Vec<String>,
}

impl LinkRow {
    /// The row of one link.
    pub fn of(l: &devlink_core::TopoLink) -> LinkRow {
        LinkRow {
            name: l.name.clone(),
            supplier: l.supplier_key.clone(),
            consumer: l.consumer_key.clone(),
            status: if l.read("status") {
                l.status.sysfs_status().to_string()
            } else {
                "unreadable".to_string()
            },
            auto_remove_on: if l.read("auto_remove_on") {
                l.auto_remove_on().to_string()
            } else {
                "unreadable".to_string()
            },
            managed: l.managed(),
            runtime_pm: l.runtime_pm(),
            sync_state_only: l.sync_state_only(),
            flags: l.flags.names().into_iter().map(str::to_string).collect(),
            ends_from_name: !l.sysfs_ends,
            problems: l.problems.iter().map(|p| p.message.clone()).collect(),
        }
    }
}

/// A UIO device (`/sys/class/uio/uioN`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UioRow {
    /// `uio<N>`.
    pub name: String,
    /// The name its kernel driver gave it.
    pub driver_name: String,
    /// `version`.
    pub version: String,
    /// The parent device's directory.
    pub parent: Option<String>,
    /// Its memory maps.
    pub maps: Vec<UioMap>,
    /// Interrupts counted so far (`event`), where readable.
    pub events: Option<u32>,
}

/// One UIO memory map.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UioMap {
    /// `map<N>`.
    pub index: usize,
    /// `name`.
    pub name: String,
    /// `addr`.
    pub addr: u64,
    /// `size`.
    pub size: u64,
    /// `offset`.
    pub offset: u64,
}

/// A manager (`/sys/class/fpga_manager/fpgaN`), with the regions it
/// programs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerRow {
    /// `fpga<N>`.
    pub name: String,
    /// What the low-level driver calls itself (sysfs `name`).
    pub driver_name: String,
    /// The parent device, `bus:name`.
    pub parent: Option<String>,
    /// `state`.
    pub state: String,
    /// `status` lines (`null` where the manager has no `status`).
    pub status: Option<Vec<String>>,
    /// `compat_id`.
    pub compat_id: Option<String>,
    /// Who holds its lock (`null`: free).
    pub locked_by: Option<String>,
    /// Why a load could not take the lock although nobody holds it.
    pub lock_problem: Option<String>,
    /// Whether user space can load through it.
    pub loadable: bool,
    /// The regions it programs.
    pub regions: Vec<String>,
    /// The image loaded through this tool, while the manager still says
    /// what it said after that load.
    pub loaded_image: Option<Box<LoadedImageRow>>,
    /// Why the loaded image is not known (`loaded outside this tool: ...`).
    pub loaded_unknown: Option<String>,
}

/// The image a load through this tool recorded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadedImageRow {
    /// The file as the user named it.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// The load's image flags, hexadecimal.
    pub flags: String,
    /// When the load finished, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The loading process: `name[pid]`.
    pub by: String,
}

impl LoadedImageRow {
    /// The row of a record.
    pub fn of(l: &fpga_core::LoadedImage) -> LoadedImageRow {
        LoadedImageRow {
            file: l.image.name.clone(),
            sha256: l.image.sha256.clone(),
            bytes: l.image.bytes,
            flags: format!("{:x}", l.flags),
            time_ms: l.time_ms,
            by: format!("{}[{}]", l.process, l.pid),
        }
    }
}

impl ManagerRow {
    /// The row of `m`, with `regions`.
    pub fn of(m: &ManagerView, regions: Vec<String>) -> ManagerRow {
        ManagerRow {
            name: m.dev.clone(),
            driver_name: m.name.clone(),
            parent: m.parent.clone(),
            state: m.state.sysfs().to_string(),
            status: status_lines(m.status),
            compat_id: m.compat_id.map(|c| c.sysfs().trim_end().to_string()),
            locked_by: m.locked_by.clone(),
            lock_problem: m.lock_problem.clone(),
            loadable: m.loadable,
            regions,
            loaded_image: m.loaded.as_ref().map(|l| Box::new(LoadedImageRow::of(l))),
            loaded_unknown: m.loaded_unknown.clone(),
        }
    }
}

/// A bridge (`/sys/class/fpga_bridge/brN`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeRow {
    /// `br<N>`.
    pub name: String,
    /// sysfs `name`.
    pub driver_name: String,
    /// The parent device, `bus:name`.
    pub parent: Option<String>,
    /// `enabled` or `disabled` (`null`: unreadable).
    pub state: Option<String>,
    /// Whether a region holds it (`null` where the backend cannot tell).
    pub held: Option<bool>,
}

impl BridgeRow {
    /// The row of `b`.
    pub fn of(b: &BridgeView) -> BridgeRow {
        BridgeRow {
            name: b.dev.clone(),
            driver_name: b.name.clone(),
            parent: b.parent.clone(),
            state: b
                .enabled
                .map(|on| if on { "enabled" } else { "disabled" }.to_string()),
            held: b.held,
        }
    }
}

/// A region (`/sys/class/fpga_region/regionN`), with its users.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionRow {
    /// `region<N>`.
    pub name: String,
    /// The parent device, `bus:name`.
    pub parent: Option<String>,
    /// The manager that programs it (`null`: not known).
    pub manager: Option<String>,
    /// The bridges it holds now.
    pub bridges: Vec<String>,
    /// `compat_id`.
    pub compat_id: Option<String>,
    /// Whether someone holds it (`null` where the backend cannot tell).
    pub held: Option<bool>,
    /// The devices that use its logic, suppliers first.
    pub users: Vec<String>,
}

impl RegionRow {
    /// The row of `r`, with `users`.
    pub fn of(r: &RegionView, users: Vec<String>) -> RegionRow {
        RegionRow {
            name: r.dev.clone(),
            parent: r.parent.clone(),
            manager: r.manager.clone(),
            bridges: r.bridges.clone(),
            compat_id: r.compat_id.map(|c| c.sysfs().trim_end().to_string()),
            held: r.held,
            users,
        }
    }
}

/// The FPGA section of `list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FpgaSection {
    /// Whether the system has FPGA support.
    pub supported: bool,
    /// Managers.
    pub managers: Vec<ManagerRow>,
    /// Bridges.
    pub bridges: Vec<BridgeRow>,
    /// Regions.
    pub regions: Vec<RegionRow>,
    /// Why the FPGA classes could not be read, if they could not (the
    /// rest of the report stands).
    pub error: Option<String>,
}

/// `list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListReport {
    /// `sim`, `sysfs` or `uio`.
    pub backend: String,
    /// The FPGA classes.
    pub fpga: FpgaSection,
    /// UIO devices, where the backend shows them (`null` elsewhere).
    pub uio: Option<UioSection>,
    /// Every device.
    pub devices: Vec<DeviceRow>,
    /// What the reader worked around.
    pub notes: Vec<String>,
}

/// The UIO section of `list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UioSection {
    /// The devices.
    pub devices: Vec<UioRow>,
    /// Why they could not be read, if they could not.
    pub error: Option<String>,
}

/// `links`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinksReport {
    /// Every link, by name.
    pub links: Vec<LinkRow>,
    /// Where the SVG drawing went, with `--svg`.
    pub svg: Option<String>,
    /// What the reader worked around.
    pub notes: Vec<String>,
}

/// `show`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShowReport {
    /// A device.
    Device {
        /// The device.
        device: DeviceRow,
        /// Its firmware node.
        fwnode: Option<String>,
        /// `waiting_for_supplier`.
        waiting_for_supplier: Option<bool>,
        /// Links where it is the consumer.
        suppliers: Vec<LinkRow>,
        /// Links where it is the supplier.
        consumers: Vec<LinkRow>,
        /// What it waits for, in words.
        waiting_for: Vec<String>,
    },
    /// An FPGA manager.
    FpgaManager {
        /// The manager.
        manager: ManagerRow,
        /// Its class device.
        device: Option<DeviceRow>,
    },
    /// An FPGA bridge.
    FpgaBridge {
        /// The bridge.
        bridge: BridgeRow,
        /// Its class device.
        device: Option<DeviceRow>,
    },
    /// A UIO device.
    Uio {
        /// The device.
        uio: UioRow,
        /// Its class device.
        device: Option<DeviceRow>,
    },
    /// An FPGA region.
    FpgaRegion {
        /// The region.
        region: RegionRow,
        /// Its class device.
        device: Option<DeviceRow>,
    },
}

/// One line of `why`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhyRow {
    /// 0: what the device itself waits for; 1: what that waits for; ...
    pub depth: usize,
    /// What is missing, in words.
    pub missing: String,
    /// The missing supplier, `bus:name` (none for a firmware node).
    pub supplier: Option<String>,
    /// The link's state.
    pub link: Option<String>,
    /// The supplier's state.
    pub supplier_state: Option<String>,
    /// The supplier's driver.
    pub supplier_driver: Option<String>,
    /// The walk stopped here (deep chain or cycle).
    pub truncated: bool,
}

/// `why`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhyReport {
    /// The device.
    pub device: String,
    /// Its state.
    pub state: String,
    /// Its driver.
    pub driver: Option<String>,
    /// Whether it can bind at all (class devices never do).
    pub bindable: bool,
    /// The chain of what it waits for.
    pub waiting_for: Vec<WhyRow>,
}

/// `order`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderReport {
    /// The device.
    pub device: String,
    /// `teardown` (consumers first) or `bringup` (suppliers first).
    pub direction: String,
    /// Its dependents, in that order.
    pub order: Vec<String>,
}

/// One device a command unbound or bound.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Changed {
    /// `bus:name`.
    pub device: String,
    /// The driver.
    pub driver: String,
}

/// `unbind`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnbindReport {
    /// The device asked for.
    pub device: String,
    /// What went down, consumers first (empty: it was not bound).
    pub unbound: Vec<Changed>,
    /// Link releases the unbind queued, where the backend counts them.
    pub releases: Option<u64>,
}

/// `bind`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindReport {
    /// The device.
    pub device: String,
    /// The driver it is bound to.
    pub driver: String,
    /// It was bound already: nothing changed.
    pub was_bound: bool,
}

/// `wait-removal`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitReport {
    /// Releases that were pending and ran, where the backend counts them.
    pub releases: Option<u64>,
    /// How long the wait took.
    pub waited_ms: u64,
}

/// The image a load used.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRow {
    /// The file.
    pub file: String,
    /// Its size.
    pub bytes: u64,
    /// What it is (`simbit`, `bit`, `bin`, `byte-swapped bin`, `raw`).
    pub format: String,
    /// A partial image.
    pub partial: bool,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// What was done to it before it was loaded (a `.bit` header removed,
    /// the byte order fixed), if anything.
    pub converted: Option<String>,
}

/// `image FILE`: what the file is, and what `program` would do with it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageReport {
    /// The file.
    pub file: String,
    /// `bit`, `bin`, `byte-swapped bin`, `simbit`.
    pub format: String,
    /// File size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Where the configuration data starts.
    pub payload_offset: u64,
    /// Configuration data bytes.
    pub payload_bytes: u64,
    /// `.bit` design name.
    pub design: Option<String>,
    /// `.bit` part name.
    pub part: Option<String>,
    /// `.bit` build date.
    pub date: Option<String>,
    /// `.bit` build time.
    pub time: Option<String>,
    /// Partial (true) or full (false) where the format says; null where it
    /// does not.
    pub partial: Option<bool>,
    /// The IDCODE the stream checks, as `0x........`.
    pub idcode: Option<String>,
    /// The backend asked.
    pub backend: String,
    /// Whether `program` on this backend would take it.
    pub loadable: bool,
    /// What `program` would do with it (or why it would refuse it).
    pub plan: String,
}

/// `program`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramReport {
    /// The target (`fpga0`, `region0`, `uio0`).
    pub target: String,
    /// The manager that loaded it.
    pub manager: String,
    /// The image.
    pub image: ImageRow,
    /// Only checked; nothing was changed.
    pub dry_run: bool,
    /// `--if-changed` and the image was already the loaded one: nothing
    /// was done.
    pub unchanged: bool,
    /// The manager's state afterwards.
    pub state: String,
    /// Its status lines afterwards.
    pub status: Vec<String>,
    /// How long the load took.
    pub elapsed_ms: u64,
    /// Every step, as objects (`{"step": "manager_locked", ...}`).
    /// An interrupted earlier run this command finished first (and, after
    /// a good load, the users such a run had left down).
    pub recovered: Vec<RecoveredRow>,
    #[schemars(with = "Vec<StepObject>")]
    pub steps: Vec<Step>,
}

/// An interrupted reprogram, finished (or not) by `recover`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveredRow {
    /// The manager it was loading through.
    pub manager: String,
    /// The region (or manager) it was programming.
    pub target: String,
    /// The process that was running it.
    pub pid: u32,
    /// How far it got: `teardown`, `loading` or `bringup`.
    pub stage: String,
    /// Users bound again, suppliers first.
    pub rebound: Vec<String>,
    /// Users that would not bind, with why.
    pub not_rebound: Vec<NotRebound>,
    /// Why the users were left down instead (an interrupted load whose
    /// manager is not operating); the journal stays until a good load.
    pub left_down: Option<String>,
}

/// `recover`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverReport {
    /// Each interrupted reprogram found, and what was done.
    pub recovered: Vec<RecoveredRow>,
    /// Images staged by processes that are gone, removed.
    pub removed_staged: Vec<String>,
    /// Why there can be nothing to recover on this backend, if so.
    pub note: Option<String>,
}

/// A user that did not come back after a reprogram.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotRebound {
    /// `bus:name`.
    pub device: String,
    /// Why.
    pub why: String,
}

/// `reprogram`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReprogramReport {
    /// The region.
    pub region: String,
    /// The manager.
    pub manager: String,
    /// The image.
    pub image: ImageRow,
    /// Users taken down, consumers first.
    pub unbound: Vec<Changed>,
    /// Users bound again, suppliers first.
    pub rebound: Vec<String>,
    /// Users that did not come back.
    pub not_rebound: Vec<NotRebound>,
    /// Link releases the teardown queued, where the backend counts them.
    pub releases: Option<u64>,
    /// The manager's state afterwards.
    pub state: String,
    /// Its status lines afterwards.
    pub status: Vec<String>,
    /// How long the whole sequence took.
    pub elapsed_ms: u64,
    /// Every step, as objects.
    /// An interrupted earlier run this command finished first (and, after
    /// a good load, the users such a run had left down).
    pub recovered: Vec<RecoveredRow>,
    #[schemars(with = "Vec<StepObject>")]
    pub steps: Vec<Step>,
}

/// What a command prints on standard output with `--json` when it fails
/// (the text is on standard error as well). The exit code is `exit_code`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorReport {
    /// The failure.
    pub error: ErrorBody,
}

/// One failure.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// `no_device`, `busy`, `invalid_input`, `deferred`, `timeout`,
    /// `unsupported`, `io` or `out_of_memory`.
    pub kind: String,
    /// The process's exit code for that kind.
    pub exit_code: u8,
    /// The errno behind it (`EBUSY`), where there is one.
    pub errno: Option<String>,
    /// What failed, on which object, and why.
    pub message: String,
    /// What to try.
    pub hint: Option<String>,
    /// For `program` and `reprogram`: the step that failed and what it
    /// left behind.
    pub program: Option<ProgramFailure>,
}

/// What a failed `program` or `reprogram` left behind.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramFailure {
    /// `check`, `acquire`, `teardown`, `retire`, `wait_removal`,
    /// `leak_check` or `load`.
    pub stage: String,
    /// Users the failure left unbound, consumers first (empty when the
    /// failure came before anything was touched).
    pub left_unbound: Vec<Changed>,
    /// The manager's state afterwards, where it can be read.
    pub state: Option<String>,
    /// Its status lines afterwards.
    pub status: Vec<String>,
}

impl ProgramFailure {
    /// The data of an engine error.
    pub fn of(e: &fpga_core::ReprogramError) -> ProgramFailure {
        use fpga_core::Stage;
        ProgramFailure {
            stage: match e.stage {
                Stage::Check => "check",
                Stage::Acquire => "acquire",
                Stage::Teardown => "teardown",
                Stage::Retire => "retire",
                Stage::WaitRemoval => "wait_removal",
                Stage::LeakCheck => "leak_check",
                Stage::Load => "load",
            }
            .to_string(),
            left_unbound: e
                .left_unbound
                .iter()
                .map(|u| Changed {
                    device: u.key.clone(),
                    driver: u.driver.clone(),
                })
                .collect(),
            state: e.state.map(|s| s.to_string()),
            status: e.status.sysfs().lines().map(str::to_string).collect(),
        }
    }
}

/// The JSON name of an error kind.
pub fn kind_name(k: devlink_core::ErrorKind) -> &'static str {
    use devlink_core::ErrorKind as K;
    match k {
        K::NoDevice => "no_device",
        K::Busy => "busy",
        K::InvalidInput => "invalid_input",
        K::Deferred => "deferred",
        K::Timeout => "timeout",
        K::Unsupported => "unsupported",
        K::Io => "io",
        K::OutOfMemory => "out_of_memory",
    }
}

/// The schema of one step: an object tagged by `step` (its other fields
/// are the step's own; see `fpga_core::Step`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepObject {
    /// The step's name: `region_held`, `manager_locked`, `staged`,
    /// `unbind`, `overlay_removed`, `wait_removal`, `leak_check`,
    /// `bridges_got`, `bridges_disabled`, `loading`, `overlay_applied`,
    /// `loaded`, `bridges_enabled`, `released`, `bind`.
    pub step: String,
}

/// The commands and the schemas of their `--json` reports.
pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    use schemars::schema_for;
    vec![
        ("list", schema_for!(ListReport)),
        ("show", schema_for!(ShowReport)),
        ("links", schema_for!(LinksReport)),
        ("why", schema_for!(WhyReport)),
        ("order", schema_for!(OrderReport)),
        ("unbind", schema_for!(UnbindReport)),
        ("bind", schema_for!(BindReport)),
        ("wait-removal", schema_for!(WaitReport)),
        ("program", schema_for!(ProgramReport)),
        ("reprogram", schema_for!(ReprogramReport)),
        ("sim-image", schema_for!(ImageRow)),
        ("image", schema_for!(ImageReport)),
        ("recover", schema_for!(RecoverReport)),
        ("error", schema_for!(ErrorReport)),
    ]
}

/// `fpgactl schemas DIR`: one `<command>.json` per command.
pub fn write_schemas(dir: &std::path::Path) -> Result<(), crate::output::Failure> {
    let io = |e: std::io::Error| {
        crate::output::Failure::new(
            devlink_core::ErrorKind::of_io(&e),
            format!("writing schemas into {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    for (name, schema) in schemas() {
        let text = serde_json::to_string_pretty(&schema)
            .map_err(|e| crate::output::Failure::new(devlink_core::ErrorKind::Io, e.to_string()))?;
        std::fs::write(dir.join(format!("{name}.json")), text + "\n").map_err(io)?;
    }
    crate::outln!(
        "schemas written into {}",
        crate::output::esc(&dir.display().to_string())
    );
    Ok(())
}
