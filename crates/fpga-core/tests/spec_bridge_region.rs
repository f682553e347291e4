//! Spec `fpga.md` §5, §6, §8.2–8.3: bridges and regions, behaviours 52–77
//! and 91 of §10 (78–84, the device-tree region layer, are in
//! `spec_of_region.rs`).

mod fpga_rig;

use devlink_core::{DriverCore, ErrorKind, Module};
use fpga_core::{
    BridgeCaps, BridgeList, CompatId, Errno, Fpga, FpgaBridge, FpgaBridgeOps, FpgaManager,
    FpgaManagerOps, FpgaRegion, ImageFlags, ImageInfo, ManagerInfo, MgrState, MockFpgaBridgeOps,
    RegionInfo, Registrar,
};
use fpga_rig::{
    block_on, entries, new_log, platform, setup, take, GetBridges, Log, RecBridge, RecMgr,
};
use std::sync::Arc;

async fn add_bridge(
    core: &DriverCore,
    reg: &Registrar,
    parent_name: &str,
    name: &str,
    ops: &Arc<RecBridge>,
) -> (devlink_core::Device, FpgaBridge) {
    let parent = platform(core, parent_name).await;
    let ops_dyn: Arc<dyn FpgaBridgeOps> = ops.clone();
    let br = reg
        .register_bridge(&parent, name, Some(ops_dyn))
        .await
        .unwrap();
    (parent, br)
}

/// A manager with `write_init`/`write`/`write_complete`, a bridge with
/// `enable_show`/`enable_set`, and a region whose `get_bridges` gets that
/// bridge; all owned by the module `lowlevel`.
struct Rig {
    _core: DriverCore,
    fpga: Fpga,
    module: Module,
    log: Log,
    mgr_parent: devlink_core::Device,
    mgr_ops: Arc<RecMgr>,
    mgr: FpgaManager,
    br_parent: devlink_core::Device,
    br_ops: Arc<RecBridge>,
    bridge: FpgaBridge,
    gb: Arc<GetBridges>,
    region: FpgaRegion,
}

async fn rig(with_get_bridges: bool) -> Rig {
    let (core, fpga) = setup();
    let module = Module::new("lowlevel");
    let reg = fpga.registrar(&module);
    let log = new_log();
    let mgr_parent = platform(&core, "soc:mgr").await;
    let mgr_ops = Arc::new(RecMgr::writer("fpga0", &log));
    let ops_dyn: Arc<dyn FpgaManagerOps> = mgr_ops.clone();
    let mgr = reg
        .register_manager(&mgr_parent, ManagerInfo::new("mgr", ops_dyn))
        .await
        .unwrap();
    let br_ops = Arc::new(RecBridge::full("br0", &log));
    let (br_parent, bridge) = add_bridge(&core, &reg, "soc:br", "bridge", &br_ops).await;
    let gb = Arc::new(GetBridges::new(&fpga, &[&br_parent], &log));
    let region_parent = platform(&core, "soc:region").await;
    let get_bridges: Option<Arc<dyn fpga_core::RegionOps>> = if with_get_bridges {
        Some(gb.clone())
    } else {
        None
    };
    let region = reg
        .register_region(
            &region_parent,
            Some(RegionInfo {
                mgr: Some(fpga.mgr_get(&mgr_parent).unwrap()),
                get_bridges,
                compat_id: None,
            }),
        )
        .await
        .unwrap();
    region.set_info(Some(ImageInfo::from_buffer(vec![0x5a; 16])));
    Rig {
        _core: core,
        fpga,
        module,
        log,
        mgr_parent,
        mgr_ops,
        mgr,
        br_parent,
        br_ops,
        bridge,
        gb,
        region,
    }
}

impl Rig {
    /// The manager's lock can be taken (and is released again at once).
    fn mgr_unlocked(&self) -> bool {
        let r = self.fpga.mgr_get(&self.mgr_parent).unwrap();
        r.lock().is_ok()
    }
}

// ---------------------------------------------------------------- bridges

#[test]
fn b52_bridge_register_without_ops_or_with_empty_name_is_einval() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let parent = platform(&core, "soc:br").await;
        let e = reg.register_bridge(&parent, "br", None).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let ops: Arc<dyn FpgaBridgeOps> = Arc::new(RecBridge::full("x", &new_log()));
        let e = reg
            .register_bridge(&parent, "", Some(ops.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        // Nothing was registered and no id consumed.
        assert!(fpga.bridges().is_empty());
        let br = reg.register_bridge(&parent, "br", Some(ops)).await.unwrap();
        assert_eq!(br.device().name(), "br0");
    });
}

#[test]
fn b53_two_bridges_are_br0_and_br1() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let log = new_log();
        let (_pa, a) = add_bridge(
            &core,
            &reg,
            "soc:a",
            "A",
            &Arc::new(RecBridge::full("a", &log)),
        )
        .await;
        let (_pb, b) = add_bridge(
            &core,
            &reg,
            "soc:b",
            "B",
            &Arc::new(RecBridge::full("b", &log)),
        )
        .await;
        assert_eq!(a.device().name(), "br0");
        assert_eq!(b.device().name(), "br1");
        assert_eq!((a.id(), b.id()), (0, 1));
        assert_eq!(a.device().class(), Some("fpga_bridge"));
        assert_eq!(a.sysfs_name(), "A\n");
        assert_eq!(b.sysfs_name(), "B\n");
    });
}

#[test]
fn b54_disable_then_enable_calls_enable_set_false_then_true() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let log = new_log();
        let ops = Arc::new(RecBridge::full("br0", &log));
        let (_p, br) = add_bridge(&core, &reg, "soc:br", "br", &ops).await;
        br.disable().await.unwrap();
        assert_eq!(br.sysfs_state().await.unwrap(), "disabled\n");
        br.enable().await.unwrap();
        assert_eq!(br.sysfs_state().await.unwrap(), "enabled\n");
        assert_eq!(
            take(&log),
            ["br0 enable_set(false)", "br0 enable_set(true)"]
        );
    });
}

#[test]
fn b55_bridge_without_enable_set_enables_and_disables_with_0() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let parent = platform(&core, "soc:br").await;
        // Only `caps` is expected: any call to enable_set would panic.
        let mut ops = MockFpgaBridgeOps::new();
        ops.expect_caps().return_const(BridgeCaps::empty());
        ops.expect_enable_set().never();
        let br = reg
            .register_bridge(&parent, "br", Some(Arc::new(ops)))
            .await
            .unwrap();
        br.disable().await.unwrap();
        br.enable().await.unwrap();
        let hold = fpga.bridge_get(&parent, None).unwrap();
        hold.disable().await.unwrap();
        hold.enable().await.unwrap();
    });
}

#[test]
fn b56_second_get_without_put_is_ebusy() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let ops = Arc::new(RecBridge::full("br0", &new_log()));
        let (parent, br) = add_bridge(&core, &reg, "soc:br", "br", &ops).await;
        let hold = fpga.bridge_get(&parent, None).unwrap();
        assert_eq!(hold.bridge().device().name(), "br0");
        assert!(br.is_held());
        let e = fpga.bridge_get(&parent, None).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(e.kind(), ErrorKind::Busy);
        // The failed get changed nothing: still held by the first holder.
        assert!(br.is_held());
        drop(hold);
        assert!(!br.is_held());
    });
}

#[test]
fn b57_put_clears_info_and_allows_a_new_get() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let ops = Arc::new(RecBridge::full("br0", &new_log()));
        let (parent, br) = add_bridge(&core, &reg, "soc:br", "br", &ops).await;
        let info = ImageInfo::from_firmware("a.bin").with_flags(ImageFlags::PARTIAL_RECONFIG);
        let hold = fpga.bridge_get(&parent, Some(&info)).unwrap();
        let stored = br.info().expect("get stores info");
        assert_eq!(stored.firmware_name.as_deref(), Some("a.bin"));
        assert_eq!(stored.flags, ImageFlags::PARTIAL_RECONFIG);
        // [library rule] a failing get does not clobber the holder's info.
        let other = ImageInfo::from_firmware("b.bin");
        assert_eq!(
            fpga.bridge_get(&parent, Some(&other)).unwrap_err().errno(),
            Errno::EBUSY
        );
        assert_eq!(br.info().unwrap().firmware_name.as_deref(), Some("a.bin"));
        drop(hold);
        assert!(br.info().is_none(), "put clears info");
        let again = fpga.bridge_get(&parent, None).unwrap();
        assert!(br.info().is_none());
        drop(again);
    });
}

#[test]
fn b58_bridge_get_for_device_without_bridge_is_enodev() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let ops = Arc::new(RecBridge::full("br0", &new_log()));
        let (_p, _br) = add_bridge(&core, &reg, "soc:br", "br", &ops).await;
        let other = platform(&core, "soc:other").await;
        let before = other.refcount();
        let e = fpga.bridge_get(&other, None).unwrap_err();
        assert_eq!(e.errno(), Errno::ENODEV);
        assert_eq!(e.kind(), ErrorKind::NoDevice);
        assert_eq!(other.refcount(), before);
        let mut list = BridgeList::new();
        let e = fpga
            .bridge_get_to_list(&other, None, &mut list)
            .unwrap_err();
        assert_eq!(e.errno(), Errno::ENODEV);
        assert!(list.is_empty());
    });
}

#[test]
fn b59_get_to_list_inserts_at_head() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let log = new_log();
        let (pa, _a) = add_bridge(
            &core,
            &reg,
            "soc:a",
            "A",
            &Arc::new(RecBridge::full("a", &log)),
        )
        .await;
        let (pb, _b) = add_bridge(
            &core,
            &reg,
            "soc:b",
            "B",
            &Arc::new(RecBridge::full("b", &log)),
        )
        .await;
        let mut list = BridgeList::new();
        fpga.bridge_get_to_list(&pa, None, &mut list).unwrap();
        fpga.bridge_get_to_list(&pb, None, &mut list).unwrap();
        let names: Vec<String> = list
            .bridges()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        assert_eq!(names, ["B", "A"]);
        assert_eq!(list.len(), 2);
        // A failing get leaves the list unchanged.
        let e = fpga.bridge_get_to_list(&pa, None, &mut list).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(list.len(), 2);
    });
}

#[test]
fn b60_disable_all_stops_at_the_first_error() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let log = new_log();
        let ops: Vec<Arc<RecBridge>> = ["first", "second", "third"]
            .iter()
            .map(|t| Arc::new(RecBridge::full(t, &log)))
            .collect();
        let mut parents = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            parents.push(
                add_bridge(&core, &reg, &format!("soc:b{i}"), o.tag.as_str(), o)
                    .await
                    .0,
            );
        }
        ops[1].fail_set(false, Errno::EIO);
        // Head insertion: get third, second, first to list first..third.
        let mut list = BridgeList::new();
        for p in parents.iter().rev() {
            fpga.bridge_get_to_list(p, None, &mut list).unwrap();
        }
        let names: Vec<String> = list
            .bridges()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        assert_eq!(names, ["first", "second", "third"]);
        let e = list.disable_all().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EIO);
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            take(&log),
            ["first enable_set(false)", "second enable_set(false)"]
        );
        assert!(!ops[0].is_enabled());
        assert!(ops[1].is_enabled());
        assert!(ops[2].is_enabled());
        // enable_all behaves the same way; an empty list is 0.
        ops[1].clear_fail();
        ops[0].fail_set(true, Errno::ETIMEDOUT);
        let e = list.enable_all().await.unwrap_err();
        assert_eq!(e.errno(), Errno::ETIMEDOUT);
        assert_eq!(take(&log), ["first enable_set(true)"]);
        let empty = BridgeList::new();
        empty.disable_all().await.unwrap();
        empty.enable_all().await.unwrap();
        assert!(take(&log).is_empty());
    });
}

#[test]
fn b61_put_all_empties_the_list_and_frees_every_bridge() {
    block_on(async {
        let (core, fpga) = setup();
        let module = Module::new("lowlevel");
        let reg = fpga.registrar(&module);
        let log = new_log();
        let (pa, a) = add_bridge(
            &core,
            &reg,
            "soc:a",
            "A",
            &Arc::new(RecBridge::full("a", &log)),
        )
        .await;
        let (pb, b) = add_bridge(
            &core,
            &reg,
            "soc:b",
            "B",
            &Arc::new(RecBridge::full("b", &log)),
        )
        .await;
        let refs = (a.device().refcount(), b.device().refcount());
        let mut list = BridgeList::new();
        fpga.bridge_get_to_list(&pa, None, &mut list).unwrap();
        fpga.bridge_get_to_list(&pb, None, &mut list).unwrap();
        assert_eq!(module.pins(), 2);
        assert_eq!(a.device().refcount(), refs.0 + 1);
        list.put_all();
        assert!(list.is_empty());
        assert_eq!(list.len(), 0);
        assert_eq!(module.pins(), 0);
        assert_eq!((a.device().refcount(), b.device().refcount()), refs);
        assert!(!a.is_held() && !b.is_held());
        let ha = fpga.bridge_get(&pa, None).unwrap();
        let hb = fpga.bridge_get(&pb, None).unwrap();
        drop((ha, hb));
        // Putting an empty list is a no-op.
        list.put_all();
        assert!(list.is_empty());
    });
}

#[test]
fn b62_bridge_state_attribute() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let log = new_log();
        // No enable_show: always "enabled", even when disabled.
        let plain = Arc::new(RecBridge::new("plain", BridgeCaps::ENABLE_SET, &log));
        let (_p, br) = add_bridge(&core, &reg, "soc:plain", "plain", &plain).await;
        br.disable().await.unwrap();
        assert_eq!(br.sysfs_state().await.unwrap(), "enabled\n");

        let shown = Arc::new(RecBridge::full("shown", &log));
        let (_p2, br2) = add_bridge(&core, &reg, "soc:shown", "shown", &shown).await;
        assert_eq!(br2.sysfs_state().await.unwrap(), "enabled\n");
        shown
            .enabled
            .store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(br2.sysfs_state().await.unwrap(), "disabled\n");
        *shown.fail_show.lock().unwrap() = Some(Errno::EIO);
        let e = br2.sysfs_state().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EIO);
        assert_eq!(e.kind(), ErrorKind::Io);
    });
}

#[test]
fn b63_bridge_remove_is_called_once_before_removal() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let log = new_log();
        let ops = Arc::new(RecBridge::new(
            "br0",
            BridgeCaps::ENABLE_SET | BridgeCaps::REMOVE,
            &log,
        ));
        let (parent, br) = add_bridge(&core, &reg, "soc:br", "br", &ops).await;
        *ops.dev.lock().unwrap() = Some(br.device().clone());
        assert!(br.device().is_registered());
        br.unregister().await;
        assert_eq!(ops.removes.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(*ops.registered_at_remove.lock().unwrap(), Some(true));
        assert!(!br.device().is_registered());
        assert!(br.is_unregistered());
        assert!(fpga.bridges().is_empty());
        assert_eq!(
            fpga.bridge_get(&parent, None).unwrap_err().errno(),
            Errno::ENODEV
        );
        // A second unregister does not call the op again.
        br.unregister().await;
        assert_eq!(ops.removes.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(take(&log), ["br0 fpga_bridge_remove"]);
        ops.dev.lock().unwrap().take();
    });
}

// ---------------------------------------------------------------- regions

#[test]
fn b64_region_register_without_info_is_einval() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let parent = platform(&core, "soc:region").await;
        let e = reg.register_region(&parent, None).await.unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(fpga.regions().is_empty());
    });
}

#[test]
fn b65_region_register_without_manager_is_invalid_input() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let parent = platform(&core, "soc:region").await;
        let e = reg
            .register_region(
                &parent,
                Some(RegionInfo {
                    mgr: None,
                    get_bridges: None,
                    compat_id: Some(CompatId { id_h: 1, id_l: 2 }),
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(fpga.regions().is_empty());
    });
}

#[test]
fn b66_class_find_returns_the_region_with_one_more_device_reference() {
    block_on(async {
        let r = rig(false).await;
        let reg = r.fpga.registrar_builtin();
        let p2 = platform(&r.fpga.core().clone(), "soc:region2").await;
        let region2 = reg
            .register_region(
                &p2,
                Some(RegionInfo::new(r.fpga.mgr_get(&r.mgr_parent).unwrap())),
            )
            .await
            .unwrap();
        assert_eq!(region2.device().name(), "region1");
        let before = region2.device().refcount();
        let (found, dev) = r
            .fpga
            .region_class_find(None, |reg| reg.parent() == &p2)
            .expect("found");
        assert_eq!(found.device().name(), "region1");
        assert_eq!(dev.name(), "region1");
        assert_eq!(region2.device().refcount(), before + 1);
        drop(dev);
        assert_eq!(region2.device().refcount(), before);
        // The first region is found from the beginning, not after itself.
        let first_parent = r.region.parent().clone();
        let (f, d) = r
            .fpga
            .region_class_find(None, |reg| reg.parent() == &first_parent)
            .unwrap();
        assert_eq!(f.device().name(), "region0");
        drop(d);
        assert!(r
            .fpga
            .region_class_find(Some(&r.region), |reg| reg.parent() == &first_parent)
            .is_none());
        let (after, d) = r.fpga.region_class_find(Some(&r.region), |_| true).unwrap();
        assert_eq!(after.device().name(), "region1");
        drop(d);
        let nobody = platform(&r.fpga.core().clone(), "soc:nobody").await;
        assert!(r
            .fpga
            .region_class_find(None, |reg| reg.parent() == &nobody)
            .is_none());
    });
}

#[test]
fn b67_program_cycles_the_bridge_and_writes_once() {
    block_on(async {
        let r = rig(true).await;
        assert_eq!(r.bridge.sysfs_state().await.unwrap(), "enabled\n");
        r.region.program().await.unwrap();
        assert_eq!(
            take(&r.log),
            [
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 write_init 0",
                "fpga0 write 16",
                "fpga0 write_complete",
                "br0 enable_set(true)",
            ]
        );
        assert_eq!(r.mgr_ops.written.lock().unwrap().as_slice(), &[0x5a; 16]);
        assert_eq!(r.mgr.state(), MgrState::Operating);
        assert_eq!(r.bridge.sysfs_state().await.unwrap(), "enabled\n");
        assert!(r.mgr_unlocked());
        assert!(!r.region.is_held());
        // On success the bridges got by get_bridges stay held.
        assert!(r.bridge.is_held());
        assert_eq!(r.region.bridges().len(), 1);
        assert_eq!(r.region.bridges()[0].name(), "bridge");
    });
}

#[test]
fn b68_reprogram_without_put_is_ebusy_from_get_bridges() {
    block_on(async {
        let r = rig(true).await;
        r.region.program().await.unwrap();
        take(&r.log);
        let pins = r.module.pins();
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(r.gb.calls(), 2);
        assert_eq!(take(&r.log), ["get_bridges"]);
        assert_eq!(r.mgr_ops.writes(), 0);
        assert!(r.mgr_unlocked());
        assert!(!r.region.is_held());
        assert_eq!(r.module.pins(), pins);
        let hold = r.region.get().expect("region released");
        drop(hold);
    });
}

#[test]
fn b69_program_put_program_writes_twice_and_cycles_twice() {
    block_on(async {
        let r = rig(true).await;
        r.region.program().await.unwrap();
        r.region.put_bridges();
        assert!(!r.bridge.is_held());
        assert!(r.region.bridges().is_empty());
        r.region.program().await.unwrap();
        let log = entries(&r.log);
        assert_eq!(r.mgr_ops.writes(), 2);
        let bridge_ops: Vec<&String> = log.iter().filter(|l| l.starts_with("br0")).collect();
        assert_eq!(
            bridge_ops,
            [
                "br0 enable_set(false)",
                "br0 enable_set(true)",
                "br0 enable_set(false)",
                "br0 enable_set(true)",
            ]
        );
        assert_eq!(r.gb.calls(), 2);
        assert_eq!(r.mgr.state(), MgrState::Operating);
    });
}

#[test]
fn b70_locked_manager_is_ebusy_and_get_bridges_is_not_called() {
    block_on(async {
        let r = rig(true).await;
        let other = r.fpga.mgr_get(&r.mgr_parent).unwrap();
        let locked = other.lock().unwrap();
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(r.gb.calls(), 0);
        assert!(take(&r.log).is_empty());
        assert!(!r.region.is_held());
        drop(r.region.get().expect("region released"));
        // The other user still holds the lock.
        assert!(r.mgr.is_locked());
        drop(locked);
        assert!(r.mgr_unlocked());
        assert_eq!(r.mgr.state(), MgrState::Unknown);
    });
}

#[test]
fn b71_program_while_region_held_is_ebusy() {
    block_on(async {
        let r = rig(true).await;
        let hold = r.region.get().unwrap();
        assert!(r.region.is_held());
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(r.gb.calls(), 0);
        assert!(take(&r.log).is_empty());
        assert!(!r.mgr.is_locked());
        assert!(r.region.is_held(), "the first holder keeps the region");
        assert_eq!(r.region.get().err().expect("busy").errno(), Errno::EBUSY);
        drop(hold);
        r.region.program().await.unwrap();
    });
}

#[test]
fn b72_get_bridges_failure_is_returned_and_no_bridge_op_runs() {
    block_on(async {
        let r = rig(true).await;
        *r.gb.fail.lock().unwrap() = Some(Errno::ENOMEM);
        let pins = r.module.pins();
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::ENOMEM);
        assert_eq!(e.kind(), ErrorKind::OutOfMemory);
        assert_eq!(take(&r.log), ["get_bridges"]);
        assert!(r.mgr_unlocked());
        assert!(!r.region.is_held());
        assert_eq!(r.module.pins(), pins);
        assert_eq!(r.mgr.state(), MgrState::Unknown);
        assert!(r.br_ops.is_enabled());
    });
}

#[test]
fn b73_load_failure_puts_bridges_and_leaves_them_disabled() {
    block_on(async {
        let r = rig(true).await;
        r.mgr_ops.fail_op("write", Errno::EIO);
        let pins = r.module.pins();
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EIO);
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            take(&r.log),
            [
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 write_init 0",
                "fpga0 write 16",
            ]
        );
        assert_eq!(r.mgr.state(), MgrState::WriteErr);
        assert_eq!(r.mgr.sysfs_state(), "write error\n");
        assert!(r.region.bridges().is_empty(), "list put");
        assert!(!r.bridge.is_held());
        assert!(!r.br_ops.is_enabled());
        assert_eq!(r.bridge.sysfs_state().await.unwrap(), "disabled\n");
        assert!(r.mgr_unlocked());
        assert!(!r.region.is_held());
        assert_eq!(r.module.pins(), pins);
        drop(r.fpga.bridge_get(&r.br_parent, None).expect("bridge free"));
    });
}

#[test]
fn b74_bridge_enable_failure_is_returned_and_the_list_put() {
    block_on(async {
        let r = rig(true).await;
        r.br_ops.fail_set(true, Errno::ETIMEDOUT);
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::ETIMEDOUT);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            take(&r.log),
            [
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 write_init 0",
                "fpga0 write 16",
                "fpga0 write_complete",
                "br0 enable_set(true)",
            ]
        );
        // The load itself succeeded.
        assert_eq!(r.mgr.state(), MgrState::Operating);
        assert!(r.region.bridges().is_empty());
        assert!(!r.bridge.is_held());
        assert!(r.mgr_unlocked());
        assert!(!r.region.is_held());
    });
}

#[test]
fn b75_static_bridge_list_is_left_intact_on_load_failure() {
    block_on(async {
        let r = rig(false).await;
        let mut list = BridgeList::new();
        r.fpga
            .bridge_get_to_list(&r.br_parent, None, &mut list)
            .unwrap();
        r.region.set_bridge_list(list);
        r.mgr_ops.fail_op("write_init", Errno::EIO);
        let e = r.region.program().await.unwrap_err();
        assert_eq!(e.errno(), Errno::EIO);
        assert_eq!(r.mgr.state(), MgrState::WriteInitErr);
        assert_eq!(
            take(&r.log),
            ["br0 enable_set(false)", "fpga0 write_init 0"]
        );
        assert_eq!(r.gb.calls(), 0);
        let bridges = r.region.bridges();
        assert_eq!(bridges.len(), 1, "static list not put");
        assert_eq!(bridges[0].name(), "bridge");
        assert!(r.bridge.is_held());
        assert!(!r.br_ops.is_enabled());
        assert!(r.mgr_unlocked());
        assert!(!r.region.is_held());
        // And on success it is still not put.
        r.mgr_ops.clear_fail();
        r.region.program().await.unwrap();
        assert_eq!(r.region.bridges().len(), 1);
        assert!(r.br_ops.is_enabled());
    });
}

#[test]
fn b76_compat_id_is_32_hex_digits() {
    block_on(async {
        let (core, fpga) = setup();
        let reg = fpga.registrar_builtin();
        let parent = platform(&core, "soc:fpga").await;
        let ops: Arc<dyn FpgaManagerOps> = Arc::new(RecMgr::writer("fpga0", &new_log()));
        reg.register_manager(&parent, ManagerInfo::new("m", ops))
            .await
            .unwrap();
        let region = reg
            .register_region(
                &parent,
                Some(RegionInfo {
                    mgr: Some(fpga.mgr_get(&parent).unwrap()),
                    get_bridges: None,
                    compat_id: Some(CompatId {
                        id_h: 0x1,
                        id_l: 0xab,
                    }),
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            region.sysfs_compat_id().unwrap(),
            "000000000000000100000000000000ab\n"
        );
        let p2 = platform(&core, "soc:fpga2").await;
        let region2 = reg
            .register_region(
                &p2,
                Some(RegionInfo {
                    mgr: Some(fpga.mgr_get(&parent).unwrap()),
                    get_bridges: None,
                    compat_id: Some(CompatId {
                        id_h: 0xfedc_ba98_7654_3210,
                        id_l: u64::MAX,
                    }),
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            region2.sysfs_compat_id().unwrap(),
            "fedcba9876543210ffffffffffffffff\n"
        );
    });
}

#[test]
fn b77_compat_id_unset_is_enoent() {
    block_on(async {
        let r = rig(false).await;
        let e = r.region.sysfs_compat_id().unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        assert_eq!(e.kind(), ErrorKind::NoDevice);
    });
}

#[test]
fn b91_objects_on_driverless_parents_can_be_got_and_programmed() {
    block_on(async {
        let (core, fpga) = setup();
        let module = Module::new("lowlevel");
        let reg = fpga.registrar(&module);
        let log = new_log();
        let mgr_parent = platform(&core, "test:mgr").await;
        let br_parent = platform(&core, "test:br").await;
        let region_parent = platform(&core, "test:region").await;
        for p in [&mgr_parent, &br_parent, &region_parent] {
            assert_eq!(p.driver_name(), None);
        }
        let mgr_ops: Arc<dyn FpgaManagerOps> = Arc::new(RecMgr::writer("fpga0", &log));
        reg.register_manager(&mgr_parent, ManagerInfo::new("m", mgr_ops))
            .await
            .unwrap();
        let br_ops: Arc<dyn FpgaBridgeOps> = Arc::new(RecBridge::full("br0", &log));
        reg.register_bridge(&br_parent, "b", Some(br_ops))
            .await
            .unwrap();
        let mgr_ref = fpga.mgr_get(&mgr_parent).expect("manager get");
        assert_eq!(module.pins(), 1);
        let hold = fpga.bridge_get(&br_parent, None).expect("bridge get");
        assert_eq!(module.pins(), 2);
        drop(hold);
        let gb = Arc::new(GetBridges::new(&fpga, &[&br_parent], &log));
        let region = reg
            .register_region(
                &region_parent,
                Some(RegionInfo {
                    mgr: Some(fpga.mgr_get(&mgr_parent).unwrap()),
                    get_bridges: Some(gb),
                    compat_id: None,
                }),
            )
            .await
            .unwrap();
        drop(region.get().expect("region get"));
        region.set_info(Some(ImageInfo::from_buffer(vec![1, 2, 3, 4])));
        region.program().await.expect("program");
        assert_eq!(mgr_ref.state(), MgrState::Operating);
        assert_eq!(
            take(&log),
            [
                "get_bridges",
                "br0 enable_set(false)",
                "fpga0 write_init 0",
                "fpga0 write 4",
                "fpga0 write_complete",
                "br0 enable_set(true)",
            ]
        );
        region.put_bridges();
        drop(mgr_ref);
        // Only the region's own manager reference pins the module now.
        assert_eq!(module.pins(), 1);
    });
}
