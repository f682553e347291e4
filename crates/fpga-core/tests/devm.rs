//! Spec `fpga.md` behaviour 42: managed registration. A manager, bridge or
//! region registered with `Registrar::devm_register_*` is unregistered when
//! its parent device's driver unbinds (or its probe fails), and, for a
//! parent with no driver, when the parent is deleted.

use devlink_core::{async_trait, Device, Driver, DriverCore, Module, ProbeError};
use fpga_core::{
    Errno, Fpga, FpgaBridge, FpgaManager, FpgaRegion, ManagerCtx, ManagerInfo, OpError, RegionInfo,
};
use futures::executor::block_on;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A manager that counts its `fpga_remove` calls.
#[derive(Default)]
struct Counted {
    removed: AtomicUsize,
}

#[fpga_core::manager_ops]
impl fpga_core::FpgaManagerOps for Counted {
    async fn write(&self, _mgr: &ManagerCtx, _buf: &[u8]) -> Result<(), OpError> {
        Ok(())
    }
    async fn fpga_remove(&self, _mgr: &ManagerCtx) {
        self.removed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A bridge with only the default ops.
struct Plain;

#[fpga_core::bridge_ops]
impl fpga_core::FpgaBridgeOps for Plain {}

/// What the driver's probe registered.
#[derive(Default)]
struct Made {
    mgr: Option<FpgaManager>,
    bridge: Option<FpgaBridge>,
    region: Option<FpgaRegion>,
}

/// A platform driver whose probe registers a manager, a bridge and a
/// region on its device with the devm calls (`fail` makes the probe fail
/// after registering them).
struct FpgaDriver {
    fpga: Fpga,
    module: Module,
    ops: Arc<Counted>,
    made: Mutex<Made>,
    fail: bool,
}

#[async_trait]
impl Driver for FpgaDriver {
    fn name(&self) -> &str {
        "soc-fpga"
    }
    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        let reg = self.fpga.registrar(&self.module);
        let err = |e: fpga_core::FpgaError| ProbeError::Failed(e.to_string());
        let mgr = reg
            .devm_register_manager(dev, ManagerInfo::new("soc", self.ops.clone()))
            .await
            .map_err(err)?;
        let bridge = reg
            .devm_register_bridge(dev, "soc-bridge", Some(Arc::new(Plain)))
            .await
            .map_err(err)?;
        let held = self.fpga.mgr_get(dev).map_err(err)?;
        let region = reg
            .devm_register_region(dev, Some(RegionInfo::new(held)))
            .await
            .map_err(err)?;
        *self.made.lock().unwrap() = Made {
            mgr: Some(mgr),
            bridge: Some(bridge),
            region: Some(region),
        };
        if self.fail {
            return Err(ProbeError::Failed("late failure".into()));
        }
        Ok(())
    }
}

struct Rig {
    core: DriverCore,
    fpga: Fpga,
    dev: Device,
    drv: Arc<FpgaDriver>,
}

fn rig(fail: bool) -> Rig {
    let core = DriverCore::new().unwrap();
    let fpga = Fpga::new(&core);
    let dev = core
        .device("ff000000.fpga")
        .bus("platform")
        .compatible("soc-fpga")
        .create();
    block_on(core.device_add(&dev)).unwrap();
    let module = Module::new("soc_fpga");
    let drv = Arc::new(FpgaDriver {
        fpga: fpga.clone(),
        module: module.clone(),
        ops: Arc::new(Counted::default()),
        made: Mutex::new(Made::default()),
        fail,
    });
    block_on(core.driver_register(&module, drv.clone())).unwrap();
    Rig {
        core,
        fpga,
        dev,
        drv,
    }
}

/// Everything the probe registered is gone: unregistered, out of the
/// class lists and out of the topology, `fpga_remove` called once.
fn assert_all_gone(r: &Rig) {
    let made = r.drv.made.lock().unwrap();
    let (mgr, bridge, region) = (
        made.mgr.as_ref().unwrap(),
        made.bridge.as_ref().unwrap(),
        made.region.as_ref().unwrap(),
    );
    assert!(mgr.is_unregistered());
    assert!(bridge.is_unregistered());
    assert!(!region.device().is_registered());
    assert!(r.fpga.managers().is_empty());
    assert!(r.fpga.bridges().is_empty());
    assert!(r.fpga.regions().is_empty());
    let topo = r.core.topology();
    for name in ["fpga0", "br0", "region0"] {
        assert!(topo.named(name).is_none(), "{name} still in the topology");
    }
    assert_eq!(r.drv.ops.removed.load(Ordering::SeqCst), 1);
    assert_eq!(r.fpga.mgr_get(&r.dev).unwrap_err().errno(), Errno::ENODEV);
}

#[test]
fn b42_devm_objects_are_unregistered_when_the_parent_driver_unbinds() {
    let r = rig(false);
    assert_eq!(r.dev.driver_name().as_deref(), Some("soc-fpga"));
    assert_eq!(r.fpga.managers().len(), 1);
    assert_eq!(r.fpga.bridges().len(), 1);
    assert_eq!(r.fpga.regions().len(), 1);
    assert_eq!(r.drv.ops.removed.load(Ordering::SeqCst), 0);
    block_on(r.core.unbind(&r.dev)).unwrap();
    assert_all_gone(&r);
}

#[test]
fn b42_devm_objects_are_unregistered_when_the_probe_fails() {
    let r = rig(true);
    assert!(r.dev.driver_name().is_none());
    assert_all_gone(&r);
}

#[test]
fn b42_devm_objects_of_a_driverless_parent_go_when_it_is_deleted() {
    let core = DriverCore::new().unwrap();
    let fpga = Fpga::new(&core);
    let parent = core.device("soc:fpga").bus("platform").create();
    block_on(core.device_add(&parent)).unwrap();
    let ops = Arc::new(Counted::default());
    let mgr = block_on(
        fpga.registrar_builtin()
            .devm_register_manager(&parent, ManagerInfo::new("lonely", ops.clone())),
    )
    .unwrap();
    // Not on an unrelated unbind (there is no driver to unbind).
    assert!(!mgr.is_unregistered());
    block_on(core.device_del(&parent)).unwrap();
    assert!(mgr.is_unregistered());
    assert!(fpga.managers().is_empty());
    assert_eq!(ops.removed.load(Ordering::SeqCst), 1);
}

#[test]
fn an_explicit_unregister_before_the_parent_goes_is_not_repeated() {
    let r = rig(false);
    let mgr = r.drv.made.lock().unwrap().mgr.clone().unwrap();
    block_on(mgr.unregister());
    assert_eq!(r.drv.ops.removed.load(Ordering::SeqCst), 1);
    block_on(r.core.unbind(&r.dev)).unwrap();
    assert_all_gone(&r);
}
