//! `fpga_core::reprogram`: dependents of the region's class device go
//! down consumers first, the removal barrier and the leak check run, the
//! region is programmed (§6.4), and the dependents come back suppliers
//! first; every failure leaves the documented state and releases every
//! lock, hold and owner pin.

mod fpga_rig;

use devlink_core::{DevState, Device, DriverCore, ErrorKind, LinkFlags, Module};
use fpga_core::{
    Errno, Fpga, FpgaBridge, FpgaBridgeOps, FpgaManager, FpgaManagerOps, FpgaRegion, ImageInfo,
    ManagerInfo, MgrCaps, MgrState, RegionInfo, ReprogramError, Stage, Step,
};
use fpga_rig::{
    block_on, entries, new_log, platform, setup, take, GetBridges, Log, RecBridge, RecDriver,
    RecMgr,
};
use std::sync::{Arc, Mutex};

const IMAGE_LEN: usize = 64;

/// region0 (manager fpga0, bridge br0 through `get_bridges`, all owned by
/// the module `lowlevel`; parent `soc:region`, bound to the driver
/// `fpga-region-host`) with dependents: `dma0` consumes the region (its
/// class device or its parent, see [`Target`]), `eth0` consumes dma0, and
/// `idle0` consumes the region but has no driver.
struct Rig {
    core: DriverCore,
    fpga: Fpga,
    lowlevel: Module,
    log: Log,
    mgr_parent: Device,
    mgr_ops: Arc<RecMgr>,
    mgr: FpgaManager,
    br_parent: Device,
    br_ops: Arc<RecBridge>,
    bridge: FpgaBridge,
    gb: Arc<GetBridges>,
    region: FpgaRegion,
    eth_drv: Arc<RecDriver>,
    dma: Device,
    eth: Device,
    idle: Device,
}

/// What the dependents link to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `region.device()`, the class device, which a test driver is
    /// force-bound to (a class device never gets a driver by itself, so
    /// a managed link to it would stay dormant and its consumers could not
    /// probe again).
    ClassDevice,
    /// `region.device()` left without a driver.
    UnboundClassDevice,
    /// `region.parent()`, the bound platform device.
    Parent,
}

struct Opts {
    link_to: Target,
    /// eth's driver keeps a device reference in `remove`.
    leaky_eth: bool,
}

const NORMAL: Opts = Opts {
    link_to: Target::ClassDevice,
    leaky_eth: false,
};

async fn rig(opts: Opts) -> Rig {
    let (core, fpga) = setup();
    let lowlevel = Module::new("lowlevel");
    let reg = fpga.registrar(&lowlevel);
    let log = new_log();

    let mgr_parent = platform(&core, "soc:mgr").await;
    let mut ops = RecMgr::writer("fpga0", &log);
    ops.caps |= MgrCaps::PARSE_HEADER;
    let mgr_ops = Arc::new(ops);
    let mgr_dyn: Arc<dyn FpgaManagerOps> = mgr_ops.clone();
    let mgr = reg
        .register_manager(&mgr_parent, ManagerInfo::new("mgr", mgr_dyn))
        .await
        .unwrap();

    let br_parent = platform(&core, "soc:br").await;
    let br_ops = Arc::new(RecBridge::full("br0", &log));
    let br_dyn: Arc<dyn FpgaBridgeOps> = br_ops.clone();
    let bridge = reg
        .register_bridge(&br_parent, "bridge", Some(br_dyn))
        .await
        .unwrap();

    let gb = Arc::new(GetBridges::new(&fpga, &[&br_parent], &log));
    let drivers = Module::new("drivers");
    core.driver_register(&drivers, Arc::new(RecDriver::new("fpga-region-host", &log)))
        .await
        .unwrap();
    let region_parent = core
        .device("soc:region")
        .bus("platform")
        .compatible("fpga-region-host")
        .create();
    core.device_add(&region_parent).await.unwrap();
    assert_eq!(region_parent.state(), DevState::DriverBound);
    let region = reg
        .register_region(
            &region_parent,
            Some(RegionInfo {
                mgr: Some(fpga.mgr_get(&mgr_parent).unwrap()),
                get_bridges: Some(gb.clone()),
                compat_id: None,
            }),
        )
        .await
        .unwrap();

    if opts.link_to == Target::ClassDevice {
        core.force_bind(region.device(), "fpga-region-host")
            .await
            .unwrap();
        assert_eq!(region.device().state(), DevState::DriverBound);
    }
    let supplier = match opts.link_to {
        Target::Parent => region.parent().clone(),
        _ => region.device().clone(),
    };
    core.driver_register(&drivers, Arc::new(RecDriver::new("dma", &log)))
        .await
        .unwrap();
    let mut eth_drv = RecDriver::new("eth", &log);
    eth_drv.leak = opts.leaky_eth;
    let eth_drv = Arc::new(eth_drv);
    core.driver_register(&drivers, eth_drv.clone())
        .await
        .unwrap();

    let dma = core
        .device("dma0")
        .bus("platform")
        .compatible("dma")
        .create();
    let eth = core
        .device("eth0")
        .bus("platform")
        .compatible("eth")
        .create();
    let idle = core.device("idle0").bus("platform").create();
    for d in [&dma, &eth, &idle] {
        core.device_add(d).await.unwrap();
    }
    core.link_add(&dma, &supplier, LinkFlags::empty()).unwrap();
    core.link_add(&eth, &dma, LinkFlags::empty()).unwrap();
    core.link_add(&idle, &supplier, LinkFlags::empty()).unwrap();
    assert_eq!(dma.state(), DevState::DriverBound);
    assert_eq!(eth.state(), DevState::DriverBound);
    assert_eq!(idle.state(), DevState::NoDriver);
    take(&log);
    Rig {
        core,
        fpga,
        lowlevel,
        log,
        mgr_parent,
        mgr_ops,
        mgr,
        br_parent,
        br_ops,
        bridge,
        gb,
        region,
        eth_drv,
        dma,
        eth,
        idle,
    }
}

fn image() -> ImageInfo {
    ImageInfo::from_buffer(vec![0xa5; IMAGE_LEN])
}

/// An observer collecting every step.
#[derive(Default)]
struct Steps(Mutex<Vec<Step>>);

impl fpga_core::Observer for Steps {
    fn step(&self, step: &Step) {
        self.0.lock().unwrap().push(step.clone());
    }
}

impl Steps {
    /// The steps seen, with wait times zeroed (they are wall-clock).
    fn get(&self) -> Vec<Step> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|s| match s {
                Step::WaitRemoval { releases, .. } => Step::WaitRemoval {
                    releases: *releases,
                    waited_ms: 0,
                },
                other => other.clone(),
            })
            .collect()
    }
}

fn unbind(name: &str) -> Step {
    Step::Unbind {
        device: format!("platform:{name}"),
    }
}

fn keys(v: &[devlink_core::drive::Unbound]) -> Vec<String> {
    v.iter().map(|u| u.key.clone()).collect()
}

fn not_keys(v: &[(devlink_core::drive::Unbound, String)]) -> Vec<String> {
    v.iter().map(|(u, _)| u.key.clone()).collect()
}

/// The wait step, with whatever time it took.
fn wait(releases: u64) -> Step {
    Step::WaitRemoval {
        releases: Some(releases),
        waited_ms: 0,
    }
}

fn bind(name: &str) -> Step {
    Step::Bind {
        device: format!("platform:{name}"),
        bound: true,
        why: None,
    }
}

impl Rig {
    /// Every lock, hold and pin is back: the manager can be locked, the
    /// region got, the bridge got, and `lowlevel` has only the region's
    /// manager reference pinned.
    fn all_released(&self) {
        let r = self.fpga.mgr_get(&self.mgr_parent).unwrap();
        drop(r.lock().expect("manager lock released"));
        drop(r);
        drop(self.region.get().expect("region released"));
        assert!(self.region.bridges().is_empty(), "bridge list put");
        assert!(!self.bridge.is_held());
        drop(
            self.fpga
                .bridge_get(&self.br_parent, None)
                .expect("bridge free"),
        );
        assert_eq!(self.lowlevel.pins(), 1, "only the region's manager ref");
    }

    fn states(&self) -> [DevState; 3] {
        [self.dma.state(), self.eth.state(), self.idle.state()]
    }
}

const BOUND: [DevState; 3] = [
    DevState::DriverBound,
    DevState::DriverBound,
    DevState::NoDriver,
];
const UNBOUND: [DevState; 3] = [DevState::NoDriver, DevState::NoDriver, DevState::NoDriver];

// (a)
#[test]
fn reprogram_unbinds_consumers_first_programs_and_binds_suppliers_first() {
    block_on(async {
        let r = rig(NORMAL).await;
        assert_eq!(r.lowlevel.pins(), 1);
        let names: Vec<String> = r
            .core
            .dependents(r.region.device())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["platform:dma0", "platform:eth0", "platform:idle0"]);
        let steps = Steps::default();
        let report = r.region.reprogram(image(), &steps).await.unwrap();

        assert_eq!(report.unbound_keys(), ["platform:eth0", "platform:dma0"]);
        assert_eq!(
            keys(&report.rebound.bound),
            ["platform:dma0", "platform:eth0"]
        );
        assert!(report.rebound.not_bound.is_empty());
        assert_eq!(report.releases, Some(0));
        assert_eq!(report.loaded.state, MgrState::Operating);
        assert_eq!(
            steps.get(),
            [
                Step::RegionHeld {
                    region: "region0".into()
                },
                Step::ManagerLocked {
                    manager: "fpga0".into()
                },
                unbind("eth0"),
                unbind("dma0"),
                wait(0),
                Step::LeakCheck {
                    devices: 3,
                    references: true
                },
                Step::BridgesGot { count: 1 },
                Step::BridgesDisabled,
                Step::Loading {
                    written: IMAGE_LEN as u64,
                    total: IMAGE_LEN as u64
                },
                Step::Loaded {
                    state: MgrState::Operating
                },
                Step::BridgesEnabled,
                Step::Released,
                bind("dma0"),
                bind("eth0"),
            ]
        );
        // One log across drivers, bridge and manager: the FPGA is touched
        // only while every dependent is down.
        assert_eq!(
            take(&r.log),
            [
                "remove eth0",
                "remove dma0",
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 parse_header 64",
                "fpga0 write_init 0",
                "fpga0 write 64",
                "fpga0 write_complete",
                "br0 enable_set(true)",
                "probe dma0",
                "probe eth0",
            ]
        );
        assert_eq!(r.states(), BOUND);
        assert_eq!(r.mgr.sysfs_state(), "operating\n");
        assert_eq!(r.bridge.sysfs_state().await.unwrap(), "enabled\n");
        // The region's info is cleared again; as with program(), the
        // bridges got by get_bridges stay held until put_bridges.
        assert!(r.region.info().is_none());
        assert!(r.bridge.is_held());
        assert_eq!(r.lowlevel.pins(), 2);
        r.region.put_bridges();
        r.all_released();

        // A second reprogram works the same way.
        let report = r.region.reprogram(image(), &|_: &Step| {}).await.unwrap();
        assert_eq!(
            keys(&report.rebound.bound),
            ["platform:dma0", "platform:eth0"]
        );
        assert_eq!(r.mgr_ops.writes(), 1, "one write since the log was taken");
        r.region.put_bridges();
        r.all_released();
    });
}

#[test]
fn reprogram_reports_dependents_that_cannot_bind_again() {
    // Without a driver on the region's class device, the managed link
    // dma0 -> region0 is dormant: dma0 (and so eth0) defer on rebind.
    block_on(async {
        let r = rig(Opts {
            link_to: Target::UnboundClassDevice,
            leaky_eth: false,
        })
        .await;
        assert_eq!(r.region.device().state(), DevState::NoDriver);
        let steps = Steps::default();
        let report = r.region.reprogram(image(), &steps).await.unwrap();
        assert_eq!(report.unbound_keys(), ["platform:eth0", "platform:dma0"]);
        assert!(report.rebound.bound.is_empty());
        assert_eq!(
            not_keys(&report.rebound.not_bound),
            ["platform:dma0", "platform:eth0"]
        );
        assert_eq!(report.loaded.state, MgrState::Operating);
        let tail: Vec<(String, bool, String)> = steps
            .get()
            .into_iter()
            .rev()
            .take(2)
            .map(|s| match s {
                Step::Bind { device, bound, why } => (device, bound, why.unwrap_or_default()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            tail,
            [
                (
                    "platform:eth0".to_string(),
                    false,
                    "deferred, waiting for platform:dma0 (link dormant)".to_string()
                ),
                (
                    "platform:dma0".to_string(),
                    false,
                    "deferred, waiting for fpga_region:region0 (link dormant)".to_string()
                ),
            ]
        );
        assert_eq!(r.states(), UNBOUND);
    });
}

#[test]
fn reprogram_puts_bridges_still_held_from_the_previous_program() {
    // program() leaves the bridges got by get_bridges held (§6.4); a
    // second program() would fail with EBUSY (behaviour 68). reprogram
    // puts them first: the new image replaces the old one.
    block_on(async {
        let r = rig(NORMAL).await;
        r.region.reprogram(image(), &|_: &Step| {}).await.unwrap();
        assert!(r.bridge.is_held());
        assert_eq!(r.lowlevel.pins(), 2);
        take(&r.log);
        let steps = Steps::default();
        let report = r.region.reprogram(image(), &steps).await.unwrap();
        assert_eq!(
            keys(&report.rebound.bound),
            ["platform:dma0", "platform:eth0"]
        );
        assert_eq!(report.loaded.state, MgrState::Operating);
        assert_eq!(
            take(&r.log),
            [
                "remove eth0",
                "remove dma0",
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 parse_header 64",
                "fpga0 write_init 0",
                "fpga0 write 64",
                "fpga0 write_complete",
                "br0 enable_set(true)",
                "probe dma0",
                "probe eth0",
            ]
        );
        assert!(steps.get().contains(&Step::BridgesGot { count: 1 }));
        assert_eq!(r.region.bridges().len(), 1);
        assert_eq!(r.lowlevel.pins(), 2, "one bridge hold, not two");
        r.region.put_bridges();
        r.all_released();
        // While reprogram runs, a failure still puts what it got.
        r.region.reprogram(image(), &|_: &Step| {}).await.unwrap();
        r.mgr_ops.fail_op("write", Errno::EIO);
        let e = r
            .region
            .reprogram(image(), &|_: &Step| {})
            .await
            .unwrap_err();
        assert_eq!(e.stage, Stage::Load);
        r.all_released();
    });
}

#[test]
fn reprogram_keeps_a_static_bridge_list() {
    block_on(async {
        let (core, fpga) = setup();
        let log = new_log();
        let reg = fpga.registrar_builtin();
        let parent = platform(&core, "soc:fpga").await;
        let mgr_dyn: Arc<dyn FpgaManagerOps> = Arc::new(RecMgr::writer("fpga0", &log));
        let mgr = reg
            .register_manager(&parent, ManagerInfo::new("m", mgr_dyn))
            .await
            .unwrap();
        let br_dyn: Arc<dyn FpgaBridgeOps> = Arc::new(RecBridge::full("br0", &log));
        reg.register_bridge(&parent, "b", Some(br_dyn))
            .await
            .unwrap();
        let region = reg
            .register_region(
                &parent,
                Some(RegionInfo::new(fpga.mgr_get(&parent).unwrap())),
            )
            .await
            .unwrap();
        let mut list = fpga_core::BridgeList::new();
        fpga.bridge_get_to_list(&parent, None, &mut list).unwrap();
        region.set_bridge_list(list);
        for _ in 0..2 {
            let report = region.reprogram(image(), &|_: &Step| {}).await.unwrap();
            assert!(report.unbound.is_empty());
            assert_eq!(region.bridges().len(), 1, "static list kept");
        }
        assert_eq!(
            take(&log),
            [
                "br0 enable_set(false)",
                "fpga0 write_init 0",
                "fpga0 write 64",
                "fpga0 write_complete",
                "br0 enable_set(true)",
            ]
            .repeat(2)
        );
        assert_eq!(mgr.state(), MgrState::Operating);
    });
}

#[test]
fn dependents_of_the_region_parent_are_torn_down_and_brought_back() {
    // Consumers that link to the region's (bound) parent platform device
    // are dependents too; the FPGA class devices under it are not.
    block_on(async {
        let r = rig(Opts {
            link_to: Target::Parent,
            leaky_eth: false,
        })
        .await;
        assert_eq!(r.region.device().state(), DevState::NoDriver);
        let steps = Steps::default();
        let report = r.region.reprogram(image(), &steps).await.unwrap();
        assert_eq!(report.unbound_keys(), ["platform:eth0", "platform:dma0"]);
        assert_eq!(
            keys(&report.rebound.bound),
            ["platform:dma0", "platform:eth0"]
        );
        assert!(report.rebound.not_bound.is_empty());
        assert!(steps.get().contains(&Step::LeakCheck {
            devices: 3,
            references: true
        }));
        assert_eq!(
            take(&r.log),
            [
                "remove eth0",
                "remove dma0",
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 parse_header 64",
                "fpga0 write_init 0",
                "fpga0 write 64",
                "fpga0 write_complete",
                "br0 enable_set(true)",
                "probe dma0",
                "probe eth0",
            ]
        );
        assert_eq!(r.states(), BOUND);
        assert_eq!(
            r.region.parent().state(),
            DevState::DriverBound,
            "the parent itself is not unbound"
        );
        r.region.put_bridges();
        r.all_released();
    });
}

// (b)
#[test]
fn busy_manager_fails_at_acquire_before_any_dependent_is_touched() {
    block_on(async {
        let r = rig(NORMAL).await;
        let other = r.fpga.mgr_get(&r.mgr_parent).unwrap();
        let locked = other.lock().unwrap();
        let steps = Steps::default();
        let e: ReprogramError = r.region.reprogram(image(), &steps).await.unwrap_err();
        assert_eq!(e.stage, Stage::Acquire);
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(e.errno().unwrap(), Errno::EBUSY);
        assert_eq!(e.target, "region0");
        assert!(e.left_unbound.is_empty());
        assert_eq!(e.state, Some(MgrState::Unknown));
        assert_eq!(
            e.to_string(),
            "reprogram region0: acquire failed: fpga0: manager is in use (locked) (EBUSY); \
             every dependent is bound as before; the FPGA manager is unknown"
        );
        assert_eq!(
            steps.get(),
            [Step::RegionHeld {
                region: "region0".into()
            }]
        );
        assert!(take(&r.log).is_empty(), "no unbind, no op");
        assert_eq!(r.states(), BOUND);
        assert_eq!(r.gb.calls(), 0);
        assert!(!r.region.is_held());
        assert!(r.mgr.is_locked(), "the other user still holds the lock");
        drop(locked);
        drop(other);
        r.all_released();
    });
}

#[test]
fn held_region_fails_at_acquire() {
    block_on(async {
        let r = rig(NORMAL).await;
        let hold = r.region.get().unwrap();
        let steps = Steps::default();
        let e = r.region.reprogram(image(), &steps).await.unwrap_err();
        assert_eq!(e.stage, Stage::Acquire);
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert!(steps.get().is_empty());
        assert!(e.left_unbound.is_empty());
        assert!(take(&r.log).is_empty());
        assert_eq!(r.states(), BOUND);
        assert!(!r.mgr.is_locked());
        drop(hold);
        r.all_released();
    });
}

// (c)
#[test]
fn load_failure_leaves_dependents_unbound_and_bridges_put_and_disabled() {
    block_on(async {
        let r = rig(NORMAL).await;
        r.mgr_ops.fail_op("write", Errno::EIO);
        let steps = Steps::default();
        let e = r.region.reprogram(image(), &steps).await.unwrap_err();
        assert_eq!(e.stage, Stage::Load);
        assert_eq!(e.errno().unwrap(), Errno::EIO);
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.left_unbound_keys(), ["platform:eth0", "platform:dma0"]);
        assert_eq!(e.state, Some(MgrState::WriteErr));
        assert_eq!(r.mgr.sysfs_state(), "write error\n");
        assert_eq!(
            e.to_string(),
            "reprogram region0: program failed: fpga0: write failed: EIO; \
             left unbound: platform:eth0, platform:dma0; the FPGA manager is write error"
        );
        assert_eq!(
            steps.get(),
            [
                Step::RegionHeld {
                    region: "region0".into()
                },
                Step::ManagerLocked {
                    manager: "fpga0".into()
                },
                unbind("eth0"),
                unbind("dma0"),
                wait(0),
                Step::LeakCheck {
                    devices: 3,
                    references: true
                },
                Step::BridgesGot { count: 1 },
                Step::BridgesDisabled,
                Step::Released,
            ]
        );
        assert_eq!(
            take(&r.log),
            [
                "remove eth0",
                "remove dma0",
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 parse_header 64",
                "fpga0 write_init 0",
                "fpga0 write 64",
            ]
        );
        assert_eq!(r.states(), UNBOUND);
        assert!(!r.bridge.is_held());
        assert!(r.region.bridges().is_empty());
        assert_eq!(r.bridge.sysfs_state().await.unwrap(), "disabled\n");
        assert!(r.region.info().is_none());
        r.all_released();
    });
}

// (d)
#[test]
fn leaked_device_reference_stops_before_the_fpga_is_touched() {
    block_on(async {
        let r = rig(Opts {
            link_to: Target::ClassDevice,
            leaky_eth: true,
        })
        .await;
        let eth_refs = r.eth.refcount();
        let steps = Steps::default();
        let e = r.region.reprogram(image(), &steps).await.unwrap_err();
        assert_eq!(e.stage, Stage::LeakCheck);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.errno().unwrap(), Errno::EINVAL);
        assert!(e.left_unbound.is_empty());
        assert_eq!(e.state, Some(MgrState::Unknown));
        assert!(
            e.source.to_string().starts_with("platform:eth0: holds "),
            "{}",
            e.source
        );
        assert_eq!(
            steps.get(),
            [
                Step::RegionHeld {
                    region: "region0".into()
                },
                Step::ManagerLocked {
                    manager: "fpga0".into()
                },
                unbind("eth0"),
                unbind("dma0"),
                wait(0),
                Step::Released,
                bind("dma0"),
                bind("eth0"),
            ]
        );
        // No bridge or manager op ran; every dependent is bound again.
        assert_eq!(
            take(&r.log),
            ["remove eth0", "remove dma0", "probe dma0", "probe eth0"]
        );
        assert_eq!(r.gb.calls(), 0);
        assert_eq!(r.mgr_ops.writes(), 0);
        assert_eq!(r.mgr.state(), MgrState::Unknown);
        assert_eq!(r.states(), BOUND);
        assert_eq!(r.eth_drv.leaked.lock().unwrap().len(), 1);
        assert_eq!(r.eth.refcount(), eth_refs + 1);
        assert!(r.br_ops.is_enabled());
        r.all_released();
    });
}

// (e)
#[derive(Debug, Clone, Copy)]
enum Fault {
    GetBridges,
    Disable,
    ParseHeader,
    WriteInit,
    Write,
    WriteComplete,
    Enable,
}

#[test]
fn every_failing_op_releases_everything_and_reports_the_spec_state() {
    use Fault::*;
    // (fault, errno, manager state after, bridge enabled after, last op)
    let cases = [
        (
            GetBridges,
            Errno::ENOMEM,
            MgrState::Unknown,
            true,
            "get_bridges",
        ),
        (
            Disable,
            Errno::EIO,
            MgrState::Unknown,
            true,
            "br0 enable_set(false)",
        ),
        (
            ParseHeader,
            Errno::EINVAL,
            MgrState::ParseHeaderErr,
            false,
            "fpga0 parse_header 64",
        ),
        (
            WriteInit,
            Errno::EIO,
            MgrState::WriteInitErr,
            false,
            "fpga0 write_init 0",
        ),
        (
            Write,
            Errno::EIO,
            MgrState::WriteErr,
            false,
            "fpga0 write 64",
        ),
        (
            WriteComplete,
            Errno::ETIMEDOUT,
            MgrState::WriteCompleteErr,
            false,
            "fpga0 write_complete",
        ),
        (
            Enable,
            Errno::ETIMEDOUT,
            MgrState::Operating,
            false,
            "br0 enable_set(true)",
        ),
    ];
    for (fault, errno, state, enabled, last) in cases {
        block_on(async {
            let r = rig(NORMAL).await;
            match fault {
                GetBridges => *r.gb.fail.lock().unwrap() = Some(errno),
                Disable => r.br_ops.fail_set(false, errno),
                ParseHeader => r.mgr_ops.fail_op("parse_header", errno),
                WriteInit => r.mgr_ops.fail_op("write_init", errno),
                Write => r.mgr_ops.fail_op("write", errno),
                WriteComplete => r.mgr_ops.fail_op("write_complete", errno),
                Enable => r.br_ops.fail_set(true, errno),
            }
            let pins = r.lowlevel.pins();
            let mgr_refs = r.mgr.device().refcount();
            let br_refs = r.bridge.device().refcount();
            let region_refs = r.region.device().refcount();
            let e = r
                .region
                .reprogram(image(), &|_: &Step| {})
                .await
                .unwrap_err();
            assert_eq!(e.stage, Stage::Load, "{fault:?}");
            assert_eq!(e.errno().unwrap(), errno, "{fault:?}");
            assert_eq!(e.state, Some(state), "{fault:?}");
            assert_eq!(r.mgr.state(), state, "{fault:?}");
            assert_eq!(r.mgr.sysfs_state(), format!("{state}\n"), "{fault:?}");
            let log = entries(&r.log);
            if matches!(fault, GetBridges) {
                // Nothing was touched before the bridges were got: the
                // dependents are bound again (suppliers first).
                assert!(e.left_unbound.is_empty(), "{fault:?}: {:?}", e.left_unbound);
                assert_eq!(r.states(), BOUND, "{fault:?}");
                let gb = log.iter().position(|l| l == last).expect("get_bridges ran");
                assert!(
                    log[gb..].iter().any(|l| l.starts_with("probe")),
                    "{fault:?}: {log:?}"
                );
            } else {
                // Once a bridge was switched off, the dependents stay down.
                assert_eq!(
                    e.left_unbound_keys(),
                    ["platform:eth0", "platform:dma0"],
                    "{fault:?}"
                );
                assert_eq!(r.states(), UNBOUND, "{fault:?}");
                assert_eq!(log.last().map(String::as_str), Some(last), "{fault:?}");
                assert!(!log.iter().any(|l| l.starts_with("probe")), "{fault:?}");
            }
            assert_eq!(r.br_ops.is_enabled(), enabled, "{fault:?}");
            assert!(r.region.info().is_none(), "{fault:?}");
            assert_eq!(r.lowlevel.pins(), pins, "{fault:?}");
            assert_eq!(r.mgr.device().refcount(), mgr_refs, "{fault:?}");
            assert_eq!(r.bridge.device().refcount(), br_refs, "{fault:?}");
            assert_eq!(r.region.device().refcount(), region_refs, "{fault:?}");
            r.all_released();

            // Fix the cause and reprogram: it succeeds. It brings back only
            // the dependents bound when it started, so after a failure that
            // left them down, binding them is ours.
            *r.gb.fail.lock().unwrap() = None;
            r.br_ops.clear_fail();
            r.mgr_ops.clear_fail();
            let report = r.region.reprogram(image(), &|_: &Step| {}).await.unwrap();
            assert_eq!(report.loaded.state, MgrState::Operating, "{fault:?}");
            if matches!(fault, GetBridges) {
                assert_eq!(report.rebound.bound.len(), 2, "{fault:?}");
            } else {
                assert!(report.unbound.is_empty() && report.rebound.bound.is_empty());
            }
            r.region.put_bridges();
            r.core.bind(&r.dma).await.unwrap();
            r.core.bind(&r.eth).await.unwrap();
            assert_eq!(r.states(), BOUND, "{fault:?}");
            r.all_released();
        });
    }
}
