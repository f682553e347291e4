//! Spec `fpga.md` §7: the device-tree region layer, behaviours 78–84 of
//! §10, plus its bridge discovery rules and probe/remove.

mod fpga_rig;

use devlink_core::{Device, DriverCore, FwNode, Module};
use fpga_core::{
    Errno, Fpga, FpgaBridge, FpgaBridgeOps, FpgaManager, FpgaManagerOps, ImageFlags, ManagerInfo,
    OfRegionDriver, OverlayAction, Registrar,
};
use fpga_rig::{block_on, entries, new_log, take, Log, RecBridge, RecMgr};
use std::sync::Arc;

/// The tree:
///
/// ```text
/// /soc/fpga-mgr@0            manager parent (fpga0)
/// /soc/bridge@0              bridge parent (br0)
/// /soc/bridge@0/fpga-region0 compatible "fpga-region", fpga-mgr = <fpga-mgr@0>
/// /soc/bridge@1              bridge parent (br1), named by overlays
/// ```
struct Dt {
    core: DriverCore,
    fpga: Fpga,
    log: Log,
    _fw: tempfile::TempDir,
    reg: Registrar,
    mgr_ops: Arc<RecMgr>,
    mgr: Option<FpgaManager>,
    br0_node: FwNode,
    br1_node: FwNode,
    br0: FpgaBridge,
    br1: FpgaBridge,
    br0_ops: Arc<RecBridge>,
    br1_ops: Arc<RecBridge>,
    region_node: FwNode,
    region_dev: Device,
    driver: Arc<OfRegionDriver>,
    _parents: Vec<Device>,
}

async fn node_device(core: &DriverCore, node: &FwNode) -> Device {
    let d = core
        .device(&node.device_name())
        .bus("platform")
        .fwnode(node)
        .create();
    core.device_add(&d).await.unwrap();
    d
}

async fn dt(with_manager: bool) -> Dt {
    let core = DriverCore::new().unwrap();
    let fpga = Fpga::new(&core);
    let fw = tempfile::tempdir().unwrap();
    std::fs::write(fw.path().join("good.bin"), vec![0x5a; 64]).unwrap();
    fpga.set_firmware_path(vec![fw.path().to_path_buf()]);
    let log = new_log();
    let module = Module::new("lowlevel");
    let reg = fpga.registrar(&module);

    let soc = core.of_root().add_child("soc");
    let mgr_node = soc.add_child("fpga-mgr@0");
    let br0_node = soc.add_child("bridge@0");
    let br1_node = soc.add_child("bridge@1");
    let region_node = br0_node.add_child("fpga-region0");
    region_node
        .set_compatible("fpga-region")
        .set_phandles("fpga-mgr", &[&mgr_node]);

    let mgr_parent = node_device(&core, &mgr_node).await;
    let br0_parent = node_device(&core, &br0_node).await;
    let br1_parent = node_device(&core, &br1_node).await;
    let mgr_ops = Arc::new(RecMgr::writer("fpga0", &log));
    let mgr = if with_manager {
        let ops: Arc<dyn FpgaManagerOps> = mgr_ops.clone();
        Some(
            reg.register_manager(&mgr_parent, ManagerInfo::new("mgr", ops))
                .await
                .unwrap(),
        )
    } else {
        None
    };
    let br0_ops = Arc::new(RecBridge::full("br0", &log));
    let br1_ops = Arc::new(RecBridge::full("br1", &log));
    let ops: Arc<dyn FpgaBridgeOps> = br0_ops.clone();
    let br0 = reg
        .register_bridge(&br0_parent, "br0", Some(ops))
        .await
        .unwrap();
    let ops: Arc<dyn FpgaBridgeOps> = br1_ops.clone();
    let br1 = reg
        .register_bridge(&br1_parent, "br1", Some(ops))
        .await
        .unwrap();

    let driver = OfRegionDriver::register(&fpga, &Module::new("of_fpga_region"))
        .await
        .unwrap();
    let region_dev = node_device(&core, &region_node).await;
    Dt {
        core,
        fpga,
        log,
        _fw: fw,
        reg,
        mgr_ops,
        mgr,
        br0_node,
        br1_node,
        br0,
        br1,
        br0_ops,
        br1_ops,
        region_node,
        region_dev,
        driver,
        _parents: vec![mgr_parent, br0_parent, br1_parent],
    }
}

impl Dt {
    /// A detached overlay fragment node (its properties target the region).
    fn overlay(&self, name: &str) -> FwNode {
        self.core.of_root().new_detached(name)
    }

    async fn notify(&self, action: OverlayAction, overlay: &FwNode) -> fpga_core::Result<()> {
        self.driver.notify(action, &self.region_node, overlay).await
    }

    fn loads(&self) -> Vec<String> {
        entries(&self.log)
            .into_iter()
            .filter(|l| l.starts_with("fpga0 "))
            .collect()
    }
}

#[test]
fn probe_binds_and_registers_region() {
    block_on(async {
        let t = dt(true).await;
        assert_eq!(
            t.region_dev.driver_name().as_deref(),
            Some("of-fpga-region")
        );
        let region = t.driver.region_for(&t.region_node).expect("region");
        assert_eq!(region.device().name(), "region0");
        assert_eq!(region.parent(), &t.region_dev);
        assert!(region.has_get_bridges());
        assert_eq!(
            region.manager().manager().name(),
            t.mgr.as_ref().unwrap().name()
        );
        // Only nodes whose device made a region are found.
        assert!(t.driver.region_for(&t.br0_node).is_none());
    });
}

/// 84: a manager phandle that resolves to no registered manager defers the
/// probe; once the manager registers, a retry binds.
#[test]
fn b84_missing_manager_defers_probe() {
    block_on(async {
        let t = dt(false).await;
        assert!(t.region_dev.driver_name().is_none());
        assert!(t.core.deferred_devices().contains(&t.region_dev));
        assert!(t.driver.region_for(&t.region_node).is_none());
        assert!(t.fpga.regions().is_empty());

        let mgr_parent = t.core.find_device("soc:fpga-mgr@0").unwrap();
        let ops: Arc<dyn FpgaManagerOps> = t.mgr_ops.clone();
        let _mgr = t
            .reg
            .register_manager(&mgr_parent, ManagerInfo::new("mgr", ops))
            .await
            .unwrap();
        t.core.retry_deferred().await;
        assert_eq!(
            t.region_dev.driver_name().as_deref(),
            Some("of-fpga-region")
        );
        assert!(t.driver.region_for(&t.region_node).is_some());
    });
}

/// 84 (no phandle at all): a region node with no `fpga-mgr` at or above it
/// defers too.
#[test]
fn b84_no_manager_phandle_defers_probe() {
    block_on(async {
        let t = dt(true).await;
        let orphan = t.core.of_root().add_child("orphan-region");
        orphan.set_compatible("fpga-region");
        let d = node_device(&t.core, &orphan).await;
        assert!(d.driver_name().is_none());
        assert!(t.core.deferred_devices().contains(&d));
    });
}

/// A child region without its own `fpga-mgr` uses its ancestor region's.
#[test]
fn child_region_finds_ancestor_manager() {
    block_on(async {
        let t = dt(true).await;
        // Built before the parent binds, so probe populates it.
        let child = t.region_node.add_child("child-region");
        child.set_compatible("fpga-region");
        t.core.unbind(&t.region_dev).await.unwrap();
        t.core.bind(&t.region_dev).await.unwrap();
        let child_region = t.driver.region_for(&child).expect("child region probed");
        assert_eq!(child_region.manager().manager().id(), 0);
        assert_eq!(t.fpga.regions().len(), 2);
    });
}

/// 79: an overlay without `firmware-name` is accepted and loads nothing.
#[test]
fn b79_overlay_without_firmware_is_accepted() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_flag("partial-fpga-config");
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
        assert!(t.loads().is_empty());
        let region = t.driver.region_for(&t.region_node).unwrap();
        assert!(region.info().is_none());
        assert!(region.bridges().is_empty());
    });
}

/// 78: `firmware-name` with `external-fpga-config` is `EINVAL`, nothing
/// loaded.
#[test]
fn b78_firmware_and_external_config_is_einval() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin")
            .set_flag("external-fpga-config");
        let e = t.notify(OverlayAction::PreApply, &ov).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("external-fpga-config"), "{e}");
        assert!(entries(&t.log).is_empty(), "{:?}", entries(&t.log));
        assert!(t
            .driver
            .region_for(&t.region_node)
            .unwrap()
            .info()
            .is_none());
    });
}

/// A programming overlay: flags and timeouts reach the manager, the parent
/// bridge and the overlay's bridges are gated around the load, and stay
/// held by the region afterwards.
#[test]
fn overlay_programs_with_its_flags_timeouts_and_bridges() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin")
            .set_flag("partial-fpga-config")
            .set_flag("encrypted-fpga-config")
            .set_u32("region-unfreeze-timeout-us", 11)
            .set_u32("region-freeze-timeout-us", 22)
            .set_u32("config-complete-timeout-us", 33)
            // The parent bridge listed again is skipped, not got twice.
            .set_phandles("fpga-bridges", &[&t.br0_node, &t.br1_node]);
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();

        let infos = t.mgr_ops.init_infos.lock().unwrap().clone();
        assert_eq!(infos.len(), 1);
        let info = &infos[0];
        assert_eq!(
            info.flags,
            ImageFlags::PARTIAL_RECONFIG | ImageFlags::ENCRYPTED_BITSTREAM
        );
        assert_eq!(info.enable_timeout_us, 11);
        assert_eq!(info.disable_timeout_us, 22);
        assert_eq!(info.config_complete_timeout_us, 33);
        assert_eq!(info.firmware_name.as_deref(), Some("good.bin"));
        assert_eq!(t.mgr_ops.written.lock().unwrap().len(), 64);
        // List head first: br1 was got last, so it is gated first.
        assert_eq!(
            take(&t.log),
            [
                "br1 enable_set(false)",
                "br0 enable_set(false)",
                "fpga0 write_init 0",
                "fpga0 write 64",
                "fpga0 write_complete",
                "br1 enable_set(true)",
                "br0 enable_set(true)",
            ]
        );
        let region = t.driver.region_for(&t.region_node).unwrap();
        assert!(region.info().is_some());
        assert!(t.br0.is_held() && t.br1.is_held());
        assert_eq!(region.bridges().len(), 2);
    });
}

/// An overlay's `fpga-bridges` replaces the region node's; an info with
/// no overlay uses the region node's own list.
#[test]
fn bridge_list_comes_from_overlay_else_region_node() {
    block_on(async {
        let t = dt(true).await;
        t.region_node.set_phandles("fpga-bridges", &[&t.br1_node]);
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin");
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
        assert!(t.br0.is_held() && !t.br1.is_held());
        t.notify(OverlayAction::PostRemove, &ov).await.unwrap();

        let region = t.driver.region_for(&t.region_node).unwrap();
        region.set_info(Some(fpga_core::ImageInfo::from_firmware("good.bin")));
        region.program().await.unwrap();
        assert!(t.br0.is_held() && t.br1.is_held());
    });
}

/// 80: a second programming overlay on a region that has an info is
/// `EINVAL`, and the first stays applied.
#[test]
fn b80_second_programming_overlay_is_einval() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin");
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
        take(&t.log);
        let ov2 = t.overlay("ov2");
        ov2.set_string("firmware-name", "good.bin");
        let e = t.notify(OverlayAction::PreApply, &ov2).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("already has an overlay"), "{e}");
        assert!(entries(&t.log).is_empty());
        let info = t.driver.region_for(&t.region_node).unwrap().info().unwrap();
        assert_eq!(info.overlay.as_ref(), Some(&ov));
    });
}

/// 81: an overlay adding a child region with its own `firmware-name` is
/// `EINVAL` (checked before anything is loaded).
#[test]
fn b81_child_region_with_firmware_is_einval() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin");
        let sub = ov.add_child("wrapper");
        let child = sub.add_child("child-region");
        child
            .set_compatible("fpga-region")
            .set_string("firmware-name", "child.bin");
        let e = t.notify(OverlayAction::PreApply, &ov).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("child-region"), "{e}");
        assert!(entries(&t.log).is_empty());
        // A child region *without* firmware-name is fine.
        child.remove_property("firmware-name");
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
    });
}

/// 82: a failing load rejects the overlay with the load's error and clears
/// `region.info`; the bridges got for it are put.
#[test]
fn b82_failed_programming_rejects_and_clears_info() {
    block_on(async {
        let t = dt(true).await;
        t.mgr_ops.fail_op("write", Errno::EIO);
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin")
            .set_phandles("fpga-bridges", &[&t.br1_node]);
        let e = t.notify(OverlayAction::PreApply, &ov).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EIO);
        let region = t.driver.region_for(&t.region_node).unwrap();
        assert!(region.info().is_none());
        assert!(!t.br0.is_held() && !t.br1.is_held());
        // The overlay node's extra reference went with the info (the
        // recording backend kept a copy of the info it saw).
        t.mgr_ops.init_infos.lock().unwrap().clear();
        assert_eq!(ov.refcount(), 1);
        // A missing file is rejected the same way.
        t.mgr_ops.clear_fail();
        let ov2 = t.overlay("ov2");
        ov2.set_string("firmware-name", "missing.bin");
        let e = t.notify(OverlayAction::PreApply, &ov2).await.unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        assert!(region.info().is_none());
    });
}

/// 83: removing an applied overlay disables and puts the region's bridges
/// and clears `region.info`.
#[test]
fn b83_post_remove_disables_puts_and_clears() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin")
            .set_phandles("fpga-bridges", &[&t.br1_node]);
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
        take(&t.log);
        // The notifications in between change nothing.
        t.notify(OverlayAction::PostApply, &ov).await.unwrap();
        t.notify(OverlayAction::PreRemove, &ov).await.unwrap();
        assert!(entries(&t.log).is_empty());

        t.notify(OverlayAction::PostRemove, &ov).await.unwrap();
        assert_eq!(
            take(&t.log),
            ["br1 enable_set(false)", "br0 enable_set(false)"]
        );
        assert!(!t.br0_ops.is_enabled() && !t.br1_ops.is_enabled());
        assert!(!t.br0.is_held() && !t.br1.is_held());
        let region = t.driver.region_for(&t.region_node).unwrap();
        assert!(region.info().is_none());
        assert!(region.bridges().is_empty());
        t.mgr_ops.init_infos.lock().unwrap().clear();
        assert_eq!(ov.refcount(), 1);
        // The region can take a new overlay now.
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
    });
}

/// A held parent bridge aborts discovery with `EBUSY`; a held listed
/// bridge puts what was got and returns `EBUSY`.
#[test]
fn busy_bridges_abort_programming() {
    block_on(async {
        let t = dt(true).await;
        let held = t.fpga.of_bridge_get(&t.br0_node, None).unwrap();
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin");
        let e = t.notify(OverlayAction::PreApply, &ov).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        drop(held);

        let held = t.fpga.of_bridge_get(&t.br1_node, None).unwrap();
        ov.set_phandles("fpga-bridges", &[&t.br1_node]);
        let e = t.notify(OverlayAction::PreApply, &ov).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert!(!t.br0.is_held(), "br0 got before the busy one is put");
        assert!(t.loads().is_empty());
        drop(held);
        t.notify(OverlayAction::PreApply, &ov).await.unwrap();
    });
}

/// Overlays that target something other than a region are ignored.
#[test]
fn non_region_targets_are_ignored() {
    block_on(async {
        let t = dt(true).await;
        let ov = t.overlay("ov");
        ov.set_string("firmware-name", "good.bin")
            .set_flag("external-fpga-config");
        t.driver
            .notify(OverlayAction::PreApply, &t.br1_node, &ov)
            .await
            .unwrap();
        assert!(entries(&t.log).is_empty());
    });
}

/// Unbinding the region device unregisters the region and puts its
/// manager reference.
#[test]
fn remove_unregisters_region_and_puts_manager() {
    block_on(async {
        let t = dt(true).await;
        let mgr_dev = t.mgr.as_ref().unwrap().device().clone();
        let bound_refs = mgr_dev.refcount();
        let region = t.driver.region_for(&t.region_node).unwrap();
        let region_dev = region.device().clone();
        drop(region);
        t.core.unbind(&t.region_dev).await.unwrap();
        assert!(t.driver.region_for(&t.region_node).is_none());
        assert!(t.fpga.regions().is_empty());
        assert!(!region_dev.is_registered());
        assert!(mgr_dev.refcount() < bound_refs);
        // Unloading the manager's owner is now possible at once.
        let m = t.reg.owner().unwrap().clone();
        m.unload().await.unwrap();
    });
}
