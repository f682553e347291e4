//! Owner-module behaviours 43–51 of spec `fpga.md` §10 (the 2024 owner
//! change and the library's §4.3 guard + unregistered-flag protocol), one
//! test each (`bNN_...`), plus a stress test of gets, puts, loads, status
//! reads, unregisters and unloads racing on four threads.

use devlink_core::{Device, DriverCore, ErrorKind, Module, ModuleState};
use fpga_core::ManagerCtx;
use fpga_core::{
    BridgeCaps, Errno, Fpga, FpgaError, FpgaManager, FpgaManagerOps, ImageInfo, ManagerInfo,
    MgrCaps, MgrState, MgrStatus, MockFpgaBridgeOps, MockFpgaManagerOps, OpError, RegionInfo,
    ScatterTable,
};
use futures::executor::block_on;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::Duration;

struct Env {
    core: DriverCore,
    fpga: Fpga,
    module: Module,
    parent: Device,
}

async fn env() -> Env {
    let core = DriverCore::new().unwrap();
    let parent = core.device("soc:fpga-mgr").bus("platform").create();
    core.device_add(&parent).await.unwrap();
    let fpga = Fpga::new(&core);
    Env {
        core,
        fpga,
        module: Module::new("fpga_owner"),
        parent,
    }
}

impl Env {
    async fn platform(&self, name: &str) -> Device {
        let d = self.core.device(name).bus("platform").create();
        self.core.device_add(&d).await.unwrap();
        d
    }

    async fn register(&self, ops: Arc<dyn FpgaManagerOps>) -> FpgaManager {
        self.fpga
            .registrar(&self.module)
            .register_manager(&self.parent, ManagerInfo::new("owned", ops))
            .await
            .unwrap()
    }
}

/// A backend that accepts everything.
fn accepting() -> Arc<MockFpgaManagerOps> {
    let mut m = MockFpgaManagerOps::new();
    m.expect_caps().return_const(MgrCaps::WRITE);
    m.expect_initial_header_size().return_const(0usize);
    m.expect_skip_header().return_const(false);
    m.expect_write().returning(|_, _| Ok(()));
    Arc::new(m)
}

fn assert_enodev<T>(r: Result<T, FpgaError>) {
    let Err(err) = r else {
        panic!("expected ENODEV, got Ok")
    };
    assert_eq!(err.errno(), Errno::ENODEV, "{err}");
    assert_eq!(err.kind(), ErrorKind::NoDevice);
}

#[test]
fn b43_get_with_going_owner_is_enodev_and_counts_unchanged() {
    block_on(async {
        let env = env().await;
        let mgr = env.register(accepting()).await;
        let refs = mgr.device().refcount();
        let parent_refs = env.parent.refcount();
        env.module.begin_unload().unwrap();
        assert_eq!(env.module.state(), ModuleState::Going);
        assert_enodev(env.fpga.mgr_get(&env.parent));
        assert_eq!(mgr.device().refcount(), refs);
        assert_eq!(env.parent.refcount(), parent_refs);
        assert_eq!(env.module.pins(), 0);
        assert!(!mgr.is_locked());
    });
}

#[test]
fn b44_get_pins_owner_and_blocks_unload_until_put() {
    block_on(async {
        let env = env().await;
        let mgr = env.register(accepting()).await;
        let held = env.fpga.mgr_get(&env.parent).unwrap();
        assert_eq!(env.module.pins(), 1);
        let err = env.module.unload().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy);
        // The refused unload changed nothing.
        assert_eq!(env.module.state(), ModuleState::Live);
        assert_eq!(env.module.pins(), 1);
        assert!(!mgr.is_unregistered());
        held.lock()
            .unwrap()
            .load(&mut ImageInfo::from_buffer(vec![1, 2]))
            .await
            .unwrap();
        drop(held);
        assert_eq!(env.module.pins(), 0);
        env.module.unload().await.unwrap();
        assert_eq!(env.module.state(), ModuleState::Gone);
        assert!(mgr.is_unregistered());
    });
}

#[test]
fn b45_builtin_owner_can_always_be_pinned() {
    block_on(async {
        let env = env().await;
        let mgr = env
            .fpga
            .registrar_builtin()
            .register_manager(&env.parent, ManagerInfo::new("builtin", accepting()))
            .await
            .unwrap();
        // Another module going away does not matter.
        env.module.unload().await.unwrap();
        let refs = mgr.device().refcount();
        let held: Vec<_> = (0..8)
            .map(|_| env.fpga.mgr_get(&env.parent).unwrap())
            .collect();
        assert_eq!(mgr.device().refcount(), refs + 8);
        held[3]
            .lock()
            .unwrap()
            .load(&mut ImageInfo::from_buffer(vec![7]))
            .await
            .unwrap();
        drop(held);
        assert_eq!(mgr.device().refcount(), refs);
        // Only while registered.
        mgr.unregister().await;
        assert_enodev(env.fpga.mgr_get(&env.parent));
    });
}

#[test]
fn b46_get_after_unregister_is_enodev_without_touching_owner() {
    block_on(async {
        let env = env().await;
        let node = env.core.of_root().add_child("fpga-mgr@0");
        let parent = env
            .core
            .device("soc:fpga-mgr@0")
            .bus("platform")
            .fwnode(&node)
            .create();
        env.core.device_add(&parent).await.unwrap();
        let mgr = env
            .fpga
            .registrar(&env.module)
            .register_manager(&parent, ManagerInfo::new("dt", accepting()))
            .await
            .unwrap();
        let holder = env.fpga.of_mgr_get(&node).unwrap();
        assert_eq!(env.module.pins(), 1);
        mgr.unregister().await;
        // The owner is still live: a `try_get` would succeed and show up
        // as a second pin. (Whether the lookup or the ops guard refuses
        // first is not observable from outside; either must leave the
        // owner alone.)
        assert_eq!(env.module.state(), ModuleState::Live);
        let refs = mgr.device().refcount();
        assert_enodev(env.fpga.mgr_get(&parent));
        assert_enodev(env.fpga.of_mgr_get(&node));
        assert_eq!(env.module.pins(), 1);
        assert_eq!(mgr.device().refcount(), refs);
        drop(holder);
        assert_eq!(env.module.pins(), 0);
    });
}

#[test]
fn b47_get_after_owner_unloaded_is_enodev_owner_untouched() {
    // The owner half of this interleaving is loom-checked in
    // crates/devlink-core/tests/loom_module.rs; fpga-core has no loom
    // model, so this is the deterministic interleaving: A's lookup
    // reference (a device reference to the manager) exists, B unloads the
    // owner (unregister + Gone), then A's `get` runs and must fail with
    // ENODEV without changing the owner's pin count.
    block_on(async {
        let env = env().await;
        let mgr = env.register(accepting()).await;
        let lookup_ref = mgr.device().clone(); // A, paused after lookup
        env.module.unload().await.unwrap(); // B
        let refs = lookup_ref.refcount();
        assert_eq!(env.module.state(), ModuleState::Gone);
        assert!(mgr.is_unregistered());
        let pins = env.module.pins();
        assert_enodev(env.fpga.mgr_get(&env.parent)); // A resumes
        assert_eq!(env.module.pins(), pins);
        assert_eq!(pins, 0);
        assert_eq!(lookup_ref.refcount(), refs);
        assert_eq!(env.module.state(), ModuleState::Gone);
    });
}

#[test]
fn b48_get_racing_unload_never_both_succeed() {
    let mut outcomes = [0usize; 2]; // [get won, unload won]
    for round in 0..300 {
        let env = block_on(env());
        let mgr = block_on(env.register(accepting()));
        let start = Arc::new(Barrier::new(2));
        let unload_done = Arc::new(Barrier::new(2));
        let a = {
            let (fpga, parent, module) = (env.fpga.clone(), env.parent.clone(), env.module.clone());
            let (start, unload_done) = (Arc::clone(&start), Arc::clone(&unload_done));
            std::thread::spawn(move || {
                start.wait();
                let got = fpga.mgr_get(&parent);
                if got.is_ok() {
                    // A pin is only ever held on a live owner.
                    assert_eq!(module.state(), ModuleState::Live);
                }
                unload_done.wait(); // hold the pin until B has finished
                match got {
                    Ok(r) => {
                        assert_eq!(module.state(), ModuleState::Live);
                        drop(r);
                        true
                    }
                    Err(e) => {
                        assert_eq!(e.errno(), Errno::ENODEV);
                        false
                    }
                }
            })
        };
        if round % 2 == 1 {
            std::thread::yield_now();
        }
        start.wait();
        let unloaded = block_on(env.module.unload());
        unload_done.wait();
        let got = a.join().unwrap();
        match (&unloaded, got) {
            (Ok(()), true) => panic!("round {round}: unload and get both succeeded"),
            (Ok(()), false) => {
                outcomes[1] += 1;
                assert_eq!(env.module.state(), ModuleState::Gone);
                assert!(mgr.is_unregistered());
            }
            (Err(e), true) => {
                outcomes[0] += 1;
                assert_eq!(e.kind(), ErrorKind::Busy, "round {round}");
                // The pin is released now: the unload goes through.
                block_on(env.module.unload()).unwrap();
            }
            (Err(e), false) => panic!("round {round}: unload failed ({e}) without a pin"),
        }
        assert_eq!(env.module.pins(), 0, "round {round}: a pin was lost");
    }
    assert_eq!(outcomes.iter().sum::<usize>(), 300);
}

#[test]
fn b49_holder_after_unregister_gets_enodev_and_no_op_runs() {
    block_on(async {
        let env = env().await;
        // Every op present; only the ops-table fields and `state` (at
        // registration) and `fpga_remove` (at unregister) are expected:
        // any other call panics the test.
        let mut m = MockFpgaManagerOps::new();
        m.expect_caps().times(1).return_const(MgrCaps::all());
        m.expect_initial_header_size().times(1).return_const(0usize);
        m.expect_skip_header().times(1).return_const(false);
        m.expect_state().times(1).return_const(MgrState::Operating);
        m.expect_fpga_remove().times(1).return_const(());
        let mgr = env.register(Arc::new(m)).await;

        let holder = env.fpga.mgr_get(&env.parent).unwrap();
        let locked_before = env.fpga.mgr_get(&env.parent).unwrap();
        let lock = locked_before.lock().unwrap();
        assert_eq!(env.module.pins(), 2);
        mgr.unregister().await;
        // Loads by a lock taken before unregister: ENODEV, no op.
        for mut info in [
            ImageInfo::from_buffer(vec![1, 2, 3]),
            ImageInfo::from_table(ScatterTable::new(vec![vec![1u8, 2].into()])),
            ImageInfo::from_firmware("x.bit"),
        ] {
            assert_enodev(lock.load(&mut info).await);
        }
        // Locking afterwards: ENODEV.
        drop(lock);
        assert_enodev(holder.lock());
        assert_enodev(holder.status().await);
        assert_enodev(mgr.sysfs_status().await);
        // The state is left as it was (unregister does not change it).
        assert_eq!(mgr.sysfs_state(), "operating\n");
        drop(locked_before);
        assert_eq!(env.module.pins(), 1);
        drop(holder);
        assert_eq!(env.module.pins(), 0);
        env.module.unload().await.unwrap();
    });
}

#[test]
fn b50_bridge_unregister_does_not_wait_for_holder() {
    let env = block_on(env());
    let mut ops = MockFpgaBridgeOps::new();
    ops.expect_caps().return_const(BridgeCaps::ENABLE_SET);
    ops.expect_enable_set().times(1).returning(|_, _| Ok(()));
    let bridge = block_on(env.fpga.registrar(&env.module).register_bridge(
        &env.parent,
        "br",
        Some(Arc::new(ops)),
    ))
    .unwrap();
    let hold = env.fpga.bridge_get(&env.parent, None).unwrap(); // U
    block_on(hold.disable()).unwrap();
    assert_eq!(env.module.pins(), 1);
    let (tx, rx) = mpsc::channel();
    let unreg = {
        let bridge = bridge.clone();
        std::thread::spawn(move || {
            block_on(bridge.unregister());
            tx.send(()).unwrap();
        })
    };
    rx.recv_timeout(Duration::from_secs(20))
        .expect("unregister waited for the holder");
    unreg.join().unwrap();
    assert!(bridge.is_unregistered());
    assert!(hold.bridge().is_held());
    assert_enodev(env.fpga.bridge_get(&env.parent, None));
    // The holder's ops now fail without reaching the backend.
    assert_enodev(block_on(hold.enable()));
    drop(hold);
    assert_eq!(env.module.pins(), 0);
    assert_enodev(env.fpga.bridge_get(&env.parent, None));
    assert!(env.fpga.bridges().is_empty());
}

#[test]
fn b51_failing_gets_leave_every_count_and_lock_unchanged() {
    block_on(async {
        let env = env().await;
        let other = env.platform("soc:nothing").await;
        let mgr_mod = Module::new("mgr_owner");
        let br_mod = Module::new("bridge_owner");
        let reg_mod = Module::new("region_owner");
        let mgr = env
            .fpga
            .registrar(&mgr_mod)
            .register_manager(&env.parent, ManagerInfo::new("m", accepting()))
            .await
            .unwrap();
        let mut bops = MockFpgaBridgeOps::new();
        bops.expect_caps().return_const(BridgeCaps::empty());
        let br_parent = env.platform("soc:bridge").await;
        let bridge = env
            .fpga
            .registrar(&br_mod)
            .register_bridge(&br_parent, "b", Some(Arc::new(bops)))
            .await
            .unwrap();
        let rg_parent = env.platform("soc:region").await;
        let region = env
            .fpga
            .registrar(&reg_mod)
            .register_region(
                &rg_parent,
                Some(RegionInfo::new(env.fpga.mgr_get(&env.parent).unwrap())),
            )
            .await
            .unwrap();

        // Everything observable, in one tuple.
        let snap = || {
            (
                mgr.device().refcount(),
                bridge.device().refcount(),
                region.device().refcount(),
                other.refcount(),
                (mgr_mod.pins(), br_mod.pins(), reg_mod.pins()),
                (mgr.is_locked(), bridge.is_held(), region.is_held()),
                bridge.info().map(|i| i.region_id),
            )
        };

        // Lookups that find nothing.
        let before = snap();
        assert_enodev(env.fpga.mgr_get(&other));
        assert_enodev(env.fpga.of_mgr_get(&env.core.of_root().add_child("none")));
        assert_enodev(env.fpga.bridge_get(&other, None));
        assert_eq!(snap(), before);

        // Busy: manager locked by someone, bridge and region held.
        let mgr_ref = env.fpga.mgr_get(&env.parent).unwrap();
        let mgr_lock = mgr_ref.lock().unwrap();
        let info = ImageInfo {
            region_id: 7,
            ..ImageInfo::default()
        };
        let bhold = env.fpga.bridge_get(&br_parent, Some(&info)).unwrap();
        let rhold = region.get().unwrap();
        let before = snap();
        assert_eq!(before.5, (true, true, true));
        assert_eq!(mgr_ref.lock().unwrap_err().errno(), Errno::EBUSY);
        let other_info = ImageInfo {
            region_id: 9,
            ..ImageInfo::default()
        };
        let e = env
            .fpga
            .bridge_get(&br_parent, Some(&other_info))
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(region.get().err().unwrap().errno(), Errno::EBUSY);
        assert_eq!(snap(), before, "bridge info kept (spec §9.3)");
        drop((mgr_lock, mgr_ref, bhold, rhold));

        // Owners going: ENODEV, holds and device references undone.
        br_mod.begin_unload().unwrap();
        reg_mod.begin_unload().unwrap();
        let before = snap();
        assert_eq!(before.5, (false, false, false));
        assert_enodev(env.fpga.bridge_get(&br_parent, Some(&other_info)));
        assert_enodev(region.get());
        assert_eq!(snap(), before);
        // The region keeps one manager reference (its pin on mgr_mod) until
        // it is unregistered and released.
        assert_eq!(mgr_mod.pins(), 1);
        region.unregister().await;
        drop(region);
        assert_eq!(mgr_mod.pins(), 0);

        // Manager owner going, with the manager locked by a lock guard that
        // outlived its reference: ENODEV, lock and counts unchanged.
        let mgr_lock = env.fpga.mgr_get(&env.parent).unwrap().lock().unwrap();
        mgr_mod.begin_unload().unwrap();
        let mgr_snap = || (mgr.device().refcount(), mgr_mod.pins(), mgr.is_locked());
        let before = mgr_snap();
        assert_eq!(before.1, 0);
        assert!(before.2);
        assert_enodev(env.fpga.mgr_get(&env.parent));
        assert_eq!(mgr_snap(), before);
        drop(mgr_lock);

        // Manager unregistered but still referenced (built-in owner).
        let parent2 = env.platform("soc:fpga-mgr2").await;
        let mgr2 = env
            .fpga
            .registrar_builtin()
            .register_manager(&parent2, ManagerInfo::new("m2", accepting()))
            .await
            .unwrap();
        let keep = env.fpga.mgr_get(&parent2).unwrap();
        mgr2.unregister().await;
        let before = (
            mgr2.device().refcount(),
            parent2.refcount(),
            mgr2.is_locked(),
        );
        assert_enodev(env.fpga.mgr_get(&parent2));
        assert_enodev(keep.lock());
        assert_eq!(
            (
                mgr2.device().refcount(),
                parent2.refcount(),
                mgr2.is_locked()
            ),
            before
        );
        drop(keep);
    });
}

// ---------------------------------------------------------------------------
// Stress
// ---------------------------------------------------------------------------

/// Counts ops and notes any that runs after `unregistered` was set (the
/// test sets it when an unregister or an unload has *returned*: from then
/// on no backend op may start or still be running).
#[derive(Default)]
struct Counting {
    ops: AtomicUsize,
    removes: AtomicUsize,
    unregistered: AtomicBool,
    late: AtomicBool,
}

impl Counting {
    fn op(&self) {
        self.ops.fetch_add(1, SeqCst);
        if self.unregistered.load(SeqCst) {
            self.late.store(true, SeqCst);
        }
    }

    fn leave(&self) {
        if self.unregistered.load(SeqCst) {
            self.late.store(true, SeqCst);
        }
    }
}

#[async_trait::async_trait]
impl FpgaManagerOps for Counting {
    // `caps`, `initial_header_size` and `skip_header` are the kernel's
    // ops-table fields, not ops; they are not counted.
    fn caps(&self) -> MgrCaps {
        MgrCaps::WRITE_INIT
            | MgrCaps::WRITE
            | MgrCaps::WRITE_COMPLETE
            | MgrCaps::STATUS
            | MgrCaps::REMOVE
    }
    async fn state(&self, _mgr: &ManagerCtx) -> MgrState {
        MgrState::Unknown
    }
    async fn status(&self, _mgr: &ManagerCtx) -> MgrStatus {
        self.op();
        // Stay in the op a little so unregisters overlap it.
        std::thread::yield_now();
        self.leave();
        MgrStatus::empty()
    }
    async fn parse_header(
        &self,
        _mgr: &ManagerCtx,
        _: &mut ImageInfo,
        _: &[u8],
    ) -> Result<(), OpError> {
        self.op();
        self.leave();
        Ok(())
    }
    async fn write_init(&self, _mgr: &ManagerCtx, _: &ImageInfo, _: &[u8]) -> Result<(), OpError> {
        self.op();
        self.leave();
        Ok(())
    }
    async fn write(&self, _mgr: &ManagerCtx, _: &[u8]) -> Result<(), OpError> {
        self.op();
        std::thread::yield_now();
        self.leave();
        Ok(())
    }
    async fn write_sg(&self, _mgr: &ManagerCtx, _: &ScatterTable) -> Result<(), OpError> {
        self.op();
        self.leave();
        Ok(())
    }
    async fn write_complete(&self, _mgr: &ManagerCtx, _: &ImageInfo) -> Result<(), OpError> {
        self.op();
        self.leave();
        Ok(())
    }
    async fn fpga_remove(&self, _mgr: &ManagerCtx) {
        self.op();
        self.removes.fetch_add(1, SeqCst);
        self.leave();
    }
}

struct Round {
    module: Module,
    mgr: FpgaManager,
    ops: Arc<Counting>,
}

const THREADS: usize = 4;
const ROUNDS: usize = 1000;
const PER_ROUND: usize = 25; // iterations per thread per round

#[test]
fn stress_get_put_unregister_unload() {
    let env = block_on(env());
    let current: Arc<Mutex<Option<Round>>> = Arc::new(Mutex::new(None));
    let start = Arc::new(Barrier::new(THREADS + 1));
    let end = Arc::new(Barrier::new(THREADS + 1));
    let iterations = Arc::new(AtomicUsize::new(0));
    let loads_ok = Arc::new(AtomicUsize::new(0));

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (fpga, parent) = (env.fpga.clone(), env.parent.clone());
            let (current, start, end) =
                (Arc::clone(&current), Arc::clone(&start), Arc::clone(&end));
            let (iterations, loads_ok) = (Arc::clone(&iterations), Arc::clone(&loads_ok));
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    start.wait();
                    let (module, mgr, ops) = {
                        let g = current.lock().unwrap();
                        let r = g.as_ref().unwrap();
                        (r.module.clone(), r.mgr.clone(), Arc::clone(&r.ops))
                    };
                    let at = round % PER_ROUND;
                    for i in 0..PER_ROUND {
                        iterations.fetch_add(1, SeqCst);
                        match t {
                            // Getters/loaders: get, lock, load, unlock, put.
                            0 | 1 => match fpga.mgr_get(&parent) {
                                Ok(held) => {
                                    assert_eq!(module.state(), ModuleState::Live);
                                    if let Ok(lock) = held.lock() {
                                        let mut info = ImageInfo::from_buffer(vec![t as u8; 4]);
                                        match block_on(lock.load(&mut info)) {
                                            Ok(()) => {
                                                loads_ok.fetch_add(1, SeqCst);
                                            }
                                            Err(e) => assert_eq!(e.errno(), Errno::ENODEV),
                                        }
                                    }
                                }
                                Err(e) => assert_eq!(e.errno(), Errno::ENODEV),
                            },
                            // Unpinned sysfs reads, then the unloader.
                            2 => {
                                if let Err(e) = block_on(mgr.sysfs_status()) {
                                    assert_eq!(e.errno(), Errno::ENODEV);
                                }
                                if i >= at / 2 {
                                    match block_on(module.unload()) {
                                        Ok(()) => ops.unregistered.store(true, SeqCst),
                                        Err(e) => assert!(
                                            matches!(
                                                e.kind(),
                                                ErrorKind::Busy | ErrorKind::NoDevice
                                            ),
                                            "{e}"
                                        ),
                                    }
                                }
                            }
                            // Status reader, then the explicit unregister.
                            _ => {
                                if let Err(e) = block_on(mgr.sysfs_status()) {
                                    assert_eq!(e.errno(), Errno::ENODEV);
                                }
                                if i == at {
                                    block_on(mgr.unregister());
                                    ops.unregistered.store(true, SeqCst);
                                }
                            }
                        }
                    }
                    drop((module, mgr, ops));
                    end.wait();
                }
            })
        })
        .collect();

    for round in 0..ROUNDS {
        let module = Module::new(format!("stress{round}"));
        let ops = Arc::new(Counting::default());
        let mgr = block_on(
            env.fpga
                .registrar(&module)
                .register_manager(&env.parent, ManagerInfo::new("stress", ops.clone())),
        )
        .unwrap();
        // Every earlier manager was fully released: its id is free again.
        assert_eq!(
            mgr.device().name(),
            "fpga0",
            "round {round}: a device reference leaked"
        );
        *current.lock().unwrap() = Some(Round {
            module: module.clone(),
            mgr: mgr.clone(),
            ops: Arc::clone(&ops),
        });
        start.wait();
        end.wait();
        *current.lock().unwrap() = None;
        assert!(
            !ops.late.load(SeqCst),
            "round {round}: an op ran after unregister returned"
        );
        assert_eq!(module.pins(), 0, "round {round}: a pin was lost");
        assert!(mgr.is_unregistered());
        assert_eq!(
            ops.removes.load(SeqCst),
            1,
            "round {round}: fpga_remove count"
        );
        if module.state() == ModuleState::Live {
            block_on(module.unload()).unwrap();
        }
        assert_eq!(module.state(), ModuleState::Gone);
        assert_enodev(env.fpga.mgr_get(&env.parent));
        assert!(env.fpga.managers().is_empty());
    }
    for w in workers {
        w.join().unwrap();
    }
    let n = iterations.load(SeqCst);
    assert!(n >= 100_000, "{n} iterations");
    assert!(loads_ok.load(SeqCst) > 0);
}
