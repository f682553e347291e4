//! Handles have identity: equal when they are the same registered object,
//! usable as hash keys; every kind of object knows its parent device.

mod fpga_rig;

use devlink_core::Module;
use fpga_core::{FpgaBridgeOps, FpgaManagerOps, ManagerInfo, RegionInfo};
use fpga_rig::{block_on, new_log, platform, setup, RecBridge, RecMgr};
use std::collections::HashSet;
use std::sync::Arc;

#[test]
fn handles_are_equal_exactly_when_they_are_the_same_object() {
    block_on(async {
        let (core, fpga) = setup();
        let module = Module::new("lowlevel");
        let reg = fpga.registrar(&module);
        let log = new_log();
        let (pa, pb) = (platform(&core, "a").await, platform(&core, "b").await);
        let ops = |tag: &str| -> Arc<dyn FpgaManagerOps> { Arc::new(RecMgr::writer(tag, &log)) };
        let m1 = reg
            .register_manager(&pa, ManagerInfo::new("one", ops("1")))
            .await
            .unwrap();
        let m2 = reg
            .register_manager(&pb, ManagerInfo::new("two", ops("2")))
            .await
            .unwrap();
        assert_eq!(m1, m1.clone());
        assert!(m1.ptr_eq(&m1.clone()));
        assert_ne!(m1, m2);
        // Hashing is by the object's address, which its interior mutability
        // never changes.
        #[allow(clippy::mutable_key_type)]
        let set: HashSet<_> = [m1.clone(), m1.clone(), m2.clone()].into_iter().collect();
        assert_eq!(set.len(), 2);
        // Looked up again, a manager is the one registered.
        assert_eq!(fpga.mgr_get(&pa).unwrap().manager(), m1);

        let bops: Arc<dyn FpgaBridgeOps> =
            Arc::new(RecBridge::new("br", fpga_core::BridgeCaps::all(), &log));
        let br = reg.register_bridge(&pb, "br", Some(bops)).await.unwrap();
        assert_eq!(br, br.clone());
        assert_eq!(br.parent(), &pb);
        let region = reg
            .register_region(&pa, Some(RegionInfo::new(fpga.mgr_get(&pa).unwrap())))
            .await
            .unwrap();
        assert_eq!(region, region.clone());
        assert_eq!(region.parent(), &pa);
        assert_eq!(m1.parent(), &pa);
    });
}
