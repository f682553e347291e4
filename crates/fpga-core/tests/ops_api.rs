//! The ops API as a backend author meets it: `#[manager_ops]` and
//! `#[bridge_ops]` derive the capability set from the ops an impl defines,
//! absent ops behave as the kernel's defaults, and every op is given its
//! object's context (no handle kept, no cycle).

use devlink_core::{Device, DriverCore};
use fpga_core::{
    BridgeCaps, BridgeCtx, Errno, Fpga, FpgaBridgeOps, FpgaManagerOps, ImageInfo, ManagerCtx,
    ManagerInfo, MgrCaps, MgrState, MgrStatus, OpError, ScatterTable,
};
use futures::executor::block_on;
use std::sync::{Arc, Mutex};

fn setup() -> (DriverCore, Fpga, Device) {
    let core = DriverCore::new().unwrap();
    let parent = core.device("soc:fpga").bus("platform").create();
    block_on(core.device_add(&parent)).unwrap();
    let fpga = Fpga::new(&core);
    (core, fpga, parent)
}

/// What each op saw of its manager: (op, name, id, parent, state).
type Seen = Mutex<Vec<(&'static str, String, u32, String, MgrState)>>;

#[derive(Default)]
struct Every {
    seen: Seen,
}

impl Every {
    fn saw(&self, op: &'static str, m: &ManagerCtx) {
        self.seen.lock().unwrap().push((
            op,
            m.name().to_string(),
            m.id(),
            m.parent().name().to_string(),
            m.state(),
        ));
    }
}

#[fpga_core::manager_ops]
impl FpgaManagerOps for Every {
    async fn state(&self, m: &ManagerCtx) -> MgrState {
        self.saw("state", m);
        MgrState::PowerUp
    }
    async fn status(&self, m: &ManagerCtx) -> MgrStatus {
        self.saw("status", m);
        MgrStatus::empty()
    }
    async fn parse_header(
        &self,
        m: &ManagerCtx,
        _info: &mut ImageInfo,
        _buf: &[u8],
    ) -> Result<(), OpError> {
        self.saw("parse_header", m);
        Ok(())
    }
    async fn write_init(&self, m: &ManagerCtx, _i: &ImageInfo, _b: &[u8]) -> Result<(), OpError> {
        self.saw("write_init", m);
        Ok(())
    }
    async fn write(&self, m: &ManagerCtx, _buf: &[u8]) -> Result<(), OpError> {
        self.saw("write", m);
        Ok(())
    }
    async fn write_sg(&self, m: &ManagerCtx, _sgt: &ScatterTable) -> Result<(), OpError> {
        self.saw("write_sg", m);
        Ok(())
    }
    async fn write_complete(&self, m: &ManagerCtx, _info: &ImageInfo) -> Result<(), OpError> {
        self.saw("write_complete", m);
        Ok(())
    }
    async fn fpga_remove(&self, m: &ManagerCtx) {
        self.saw("fpga_remove", m);
    }
}

#[test]
fn every_op_defined_is_every_capability_and_sees_its_manager() {
    let (_core, fpga, parent) = setup();
    let ops = Arc::new(Every::default());
    let mgr = block_on(
        fpga.registrar_builtin()
            .register_manager(&parent, ManagerInfo::new("every", ops.clone())),
    )
    .unwrap();
    assert_eq!(mgr.caps(), MgrCaps::all());
    assert_eq!(mgr.state(), MgrState::PowerUp);
    block_on(async {
        let held = fpga.mgr_get(&parent).unwrap();
        held.lock()
            .unwrap()
            .load(&mut ImageInfo::from_buffer(vec![7; 8]))
            .await
            .unwrap();
        mgr.sysfs_status().await.unwrap();
        drop(held);
        mgr.unregister().await;
    });
    let seen = ops.seen.lock().unwrap().clone();
    let ops_and_states: Vec<_> = seen.iter().map(|(op, .., s)| (*op, *s)).collect();
    assert_eq!(
        ops_and_states,
        [
            // Asked before the class device exists, in the initial state.
            ("state", MgrState::Unknown),
            ("parse_header", MgrState::ParseHeader),
            ("write_init", MgrState::WriteInit),
            // A buffer goes through `write` when both exist, as in the kernel.
            ("write", MgrState::Write),
            ("write_complete", MgrState::WriteComplete),
            ("status", MgrState::Operating),
            ("fpga_remove", MgrState::Operating),
        ]
    );
    for (op, name, id, parent_name, _) in &seen {
        assert_eq!(
            (name.as_str(), *id, parent_name.as_str()),
            ("every", 0, "soc:fpga"),
            "{op}"
        );
    }
}

/// Only `write_sg`: everything else is the kernel's default.
struct SgOnly {
    segments: Mutex<usize>,
}

#[fpga_core::manager_ops]
impl FpgaManagerOps for SgOnly {
    async fn write_sg(&self, _m: &ManagerCtx, sgt: &ScatterTable) -> Result<(), OpError> {
        *self.segments.lock().unwrap() += sgt.segments().len();
        Ok(())
    }
}

#[test]
fn an_impl_with_only_write_sg_loads_buffers_through_it_and_defaults_the_rest() {
    let (_core, fpga, parent) = setup();
    let ops = Arc::new(SgOnly {
        segments: Mutex::new(0),
    });
    let mgr = block_on(
        fpga.registrar_builtin()
            .register_manager(&parent, ManagerInfo::new("sg", ops.clone())),
    )
    .unwrap();
    assert_eq!(mgr.caps(), MgrCaps::WRITE_SG);
    assert_eq!(mgr.state(), MgrState::Unknown, "no state op: unknown");
    block_on(async {
        let held = fpga.mgr_get(&parent).unwrap();
        let locked = held.lock().unwrap();
        locked
            .load(&mut ImageInfo::from_buffer(vec![1; 32]))
            .await
            .unwrap();
        assert_eq!(mgr.sysfs_status().await.unwrap(), "", "no status op: empty");
    });
    assert_eq!(*ops.segments.lock().unwrap(), 1);
    assert_eq!(mgr.state(), MgrState::Operating);
}

/// No ops at all: registers, cannot load (neither write nor write_sg).
struct Nothing;

#[fpga_core::manager_ops]
impl FpgaManagerOps for Nothing {}

#[test]
fn an_impl_with_no_write_op_fails_loads_with_eopnotsupp() {
    let (_core, fpga, parent) = setup();
    let mgr = block_on(
        fpga.registrar_builtin()
            .register_manager(&parent, ManagerInfo::new("nothing", Arc::new(Nothing))),
    )
    .unwrap();
    assert_eq!(mgr.caps(), MgrCaps::empty());
    let e = block_on(async {
        let held = fpga.mgr_get(&parent).unwrap();
        let locked = held.lock().unwrap();
        locked
            .load(&mut ImageInfo::from_buffer(vec![1; 4]))
            .await
            .unwrap_err()
    });
    assert_eq!(e.errno(), Errno::EOPNOTSUPP, "{e}");
}

/// `initial_header_size` and `skip_header` are settings, not ops: they do
/// not count as capabilities.
struct Settings;

#[fpga_core::manager_ops]
impl FpgaManagerOps for Settings {
    fn initial_header_size(&self) -> usize {
        4
    }
    fn skip_header(&self) -> bool {
        true
    }
    async fn write(&self, _m: &ManagerCtx, _buf: &[u8]) -> Result<(), OpError> {
        Ok(())
    }
}

#[test]
fn settings_are_not_capabilities() {
    assert_eq!(Settings.caps(), MgrCaps::WRITE);
    assert_eq!(Settings.initial_header_size(), 4);
}

/// A bridge that records which bridge each op ran for.
#[derive(Default)]
struct Gate {
    log: Mutex<Vec<String>>,
}

#[fpga_core::bridge_ops]
impl FpgaBridgeOps for Gate {
    async fn enable_set(&self, b: &BridgeCtx, enable: bool) -> Result<(), OpError> {
        self.log.lock().unwrap().push(format!(
            "{} br{} {enable} on {}",
            b.name(),
            b.id(),
            b.parent().name()
        ));
        Ok(())
    }
}

struct Open;

#[fpga_core::bridge_ops]
impl FpgaBridgeOps for Open {}

#[test]
fn bridges_derive_their_caps_and_default_to_enabled() {
    let (_core, fpga, parent) = setup();
    let reg = fpga.registrar_builtin();
    let gate = Arc::new(Gate::default());
    let a = block_on(reg.register_bridge(&parent, "gate", Some(gate.clone()))).unwrap();
    let b = block_on(reg.register_bridge(&parent, "none", Some(Arc::new(Open)))).unwrap();
    assert_eq!(a.caps(), BridgeCaps::ENABLE_SET);
    assert_eq!(b.caps(), BridgeCaps::empty());
    block_on(async {
        a.disable().await.unwrap();
        a.enable().await.unwrap();
        b.disable().await.unwrap();
        // No enable_show: reads as enabled, whatever was set.
        assert_eq!(a.sysfs_state().await.unwrap(), "enabled\n");
        assert_eq!(b.sysfs_state().await.unwrap(), "enabled\n");
        b.unregister().await;
    });
    assert_eq!(
        *gate.log.lock().unwrap(),
        ["gate br0 false on soc:fpga", "gate br0 true on soc:fpga"]
    );
}

#[test]
fn a_load_that_says_its_image_is_recorded_until_the_next_load_starts() {
    let (_core, fpga, parent) = setup();
    let ops = Arc::new(SgOnly {
        segments: Mutex::new(0),
    });
    let mgr = block_on(
        fpga.registrar_builtin()
            .register_manager(&parent, ManagerInfo::new("rec", ops)),
    )
    .unwrap();
    let id = fpga_core::ImageIdentity {
        name: "a.img".into(),
        sha256: "ab".repeat(32),
        bytes: 8,
    };
    let load = |info: &mut ImageInfo| {
        block_on(async {
            let held = fpga.mgr_get(&parent).unwrap();
            let locked = held.lock().unwrap();
            locked.load(info).await
        })
    };
    assert_eq!(mgr.loaded_image(), None);
    let flags = fpga_core::ImageFlags::PARTIAL_RECONFIG;
    load(
        &mut ImageInfo::from_buffer(vec![1; 8])
            .with_flags(flags)
            .with_identity(id.clone()),
    )
    .unwrap();
    let rec = mgr.loaded_image().expect("recorded");
    assert_eq!(
        (rec.image.clone(), rec.flags, rec.pid),
        (id.clone(), flags.bits(), std::process::id())
    );
    // The view shows it on every in-process backend.
    let view = block_on(fpga_core::ReadFpga::fpga_view(&fpga)).unwrap();
    assert_eq!(view.managers[0].loaded.as_ref(), Some(&rec));
    // A load without an identity forgets it, and so does a failed one.
    load(&mut ImageInfo::from_buffer(vec![1; 8])).unwrap();
    assert_eq!(mgr.loaded_image(), None);
    load(&mut ImageInfo::from_buffer(vec![1; 8]).with_identity(id.clone())).unwrap();
    assert!(mgr.loaded_image().is_some());
    let e = load(&mut ImageInfo::default().with_identity(id)).unwrap_err();
    assert_eq!(e.kind(), devlink_core::ErrorKind::InvalidInput, "{e}");
    assert_eq!(mgr.loaded_image(), None);
}
