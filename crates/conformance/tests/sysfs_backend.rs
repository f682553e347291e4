//! The live-kernel backend's own behaviour, on the fake kernel (see
//! `conformance::fake_kernel`): Xilinx `firmware` loads (staged, locked,
//! verified, cleaned up), the lock file, keys and flags, the firmware
//! search path, configfs overlays, `XlnxOps` through fpga-core, and the
//! reprogram engine over the sysfs loaders. What every backend shares is
//! the conformance suite's.

use backend_linux_sysfs::{
    FirmwareLoader, Kernel, ManagerLockFile, OverlayLoader, Overlays, SysfsError, XlnxManager,
    XlnxOps,
};
use backend_sim::{Board, Scenario};
use conformance::fake_kernel::FakeKernel;
use devlink_core::drive::{rebind, unbind_tree, Bind, Settle, Unbind, WaitRemoval};
use devlink_core::{ErrorKind, Topology};
use fpga_core::{reprogram, ImageFlags, ImageInfo, MgrState, ReprogramOptions, Stage, Step};
use futures::executor::block_on;
use std::fs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);
const DEMO: &str = include_str!("../../../tests/scenarios/demo-board.toml");

fn board() -> Board {
    block_on(Scenario::parse(DEMO).unwrap().build()).unwrap()
}

fn start() -> FakeKernel {
    FakeKernel::start(&board())
}

fn topo(k: &Kernel) -> Topology {
    k.read_topology().unwrap()
}

fn firmware_dir_is_empty(k: &FakeKernel) -> bool {
    k.firmware_files().is_empty()
}

fn bound(t: &Topology, key: &str) -> bool {
    t.named(key).unwrap().is_bound()
}

#[test]
fn unbind_takes_dependents_down_consumers_first_and_rebind_restores_them() {
    let fk = start();
    let k = fk.kernel();
    let before = topo(&k);
    let host = before.find("platform:soc:fpga-region0").unwrap();
    let mut expected: Vec<String> = before
        .teardown_order(host)
        .into_iter()
        .map(|i| before.device(i))
        .filter(|d| d.is_bound())
        .map(|d| d.name.clone())
        .collect();
    expected.push("soc:fpga-region0".into());
    assert!(expected.len() > 2, "{expected:?}");

    let down = block_on(unbind_tree(&k, "platform:soc:fpga-region0")).unwrap();
    let names: Vec<String> = down
        .iter()
        .map(|u| u.key.split_once(':').unwrap().1.to_string())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(fk.seen().unbinds, expected);
    // Every consumer went down before each of its suppliers.
    for l in before.links().iter().filter(|l| !l.sync_state_only()) {
        let pos = |k: &str| down.iter().position(|u| u.key == k);
        if let (Some(si), Some(ci)) = (pos(&l.supplier_key), pos(&l.consumer_key)) {
            assert!(ci < si, "{} went down after its supplier", l.name);
        }
    }
    let settle = Settle {
        unbound: down.iter().map(|u| u.key.clone()).collect(),
        ..Settle::default()
    };
    block_on(k.wait_removal(&settle, Duration::from_secs(5))).unwrap();
    let mid = topo(&k);
    for u in &down {
        assert!(!bound(&mid, &u.key), "{} still bound", u.key);
    }

    let back = block_on(rebind(&k, &down));
    assert!(back.not_bound.is_empty(), "{:?}", back.not_bound);
    let after = topo(&k);
    for u in &down {
        assert!(bound(&after, &u.key), "{} not bound again", u.key);
    }
    // Binds ran suppliers first: the reverse of the unbinds.
    let mut rev = expected.clone();
    rev.reverse();
    assert_eq!(fk.seen().binds, rev);
}

#[test]
fn a_gated_bind_is_deferred_at_once_and_names_the_supplier() {
    let fk = start();
    let k = fk.kernel();
    block_on(unbind_tree(&k, "platform:soc:fpga-region0")).unwrap();
    let t = Instant::now();
    match block_on(k.bind("platform:uart0", None)).unwrap() {
        devlink_core::drive::BindOutcome::Deferred { waiting } => {
            let w: Vec<String> = waiting.iter().map(ToString::to_string).collect();
            assert!(
                w.iter().any(|w| w.contains("platform:soc:fpga-region0")),
                "{w:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A link gate is known at once: no wait for the bind timeout.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn unknown_devices_and_unsafe_driver_names_are_refused_before_any_write() {
    let fk = start();
    let k = fk.kernel();
    let e = block_on(k.unbind_one("platform:nope")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
    assert!(e.to_string().contains("nope"), "{e}");
    block_on(k.unbind_one("platform:dma0")).unwrap();
    let e = block_on(k.bind("platform:dma0", Some("../../x"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(fk.seen().binds.is_empty());
}

#[test]
fn the_settle_wait_names_what_is_still_pending() {
    let fk = start();
    let k = fk.kernel();
    let t = topo(&k);
    let link = t.links()[0].clone();
    // Stuck in a transition no fake-kernel action will end.
    fk.stick_link(&link.name, "consumer probing");
    let e = block_on(k.wait_removal(
        &Settle {
            gone: vec!["platform:never-there".into(), link.consumer_key.clone()],
            unbound: vec![link.consumer_key.clone()],
            since: None,
        },
        Duration::from_millis(50),
    ))
    .unwrap_err();
    let SysfsError::Timeout { pending, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        pending
            .iter()
            .any(|p| p.contains(&link.consumer_key) && p.contains("still present")),
        "{pending:?}"
    );
    assert!(
        pending.iter().any(|p| p.contains("consumer probing")),
        "{pending:?}"
    );
}

#[test]
fn a_firmware_load_stages_locks_verifies_and_cleans_up() {
    let fk = start();
    let root = fk.root();
    let mgr = XlnxManager::open(&root, "fpga0").unwrap();
    let r = mgr
        .load(b"GOOD image", ImageFlags::PARTIAL_RECONFIG, None)
        .unwrap();
    assert_eq!(r.state, MgrState::Operating);
    let seen = fk.seen().loads.clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, "1", "flags at load time");
    assert_eq!(seen[0].2, b"GOOD image");
    assert!(seen[0].0.starts_with("fpga-devlink-"), "{}", seen[0].0);
    assert!(firmware_dir_is_empty(&fk));
    // The lock was released.
    drop(ManagerLockFile::acquire(&root, "fpga0").unwrap());
}

#[test]
fn a_failing_load_carries_state_and_status_lines_and_leaves_nothing() {
    let fk = start();
    let root = fk.root();
    let mgr = XlnxManager::open(&root, "fpga0").unwrap();
    let e = mgr
        .load(b"BAD-CRC image", ImageFlags::empty(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    let text = e.to_string();
    assert!(text.contains("write error"), "{text}");
    assert!(text.contains("reconfig CRC error"), "{text}");
    assert!(firmware_dir_is_empty(&fk));
    drop(ManagerLockFile::acquire(&root, "fpga0").unwrap());
    // The next good load recovers.
    assert_eq!(
        mgr.load(b"ok", ImageFlags::empty(), None).unwrap().state,
        MgrState::Operating
    );
}

#[test]
fn a_held_manager_is_busy_and_names_the_holder() {
    let fk = start();
    let root = fk.root();
    let _held = ManagerLockFile::acquire(&root, "fpga0").unwrap();
    let mgr = XlnxManager::open(&root, "fpga0").unwrap();
    let e = mgr.load(b"x", ImageFlags::empty(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(e.to_string().contains("pid"), "{e}");
    assert!(fk.seen().loads.is_empty());
    assert!(firmware_dir_is_empty(&fk));
}

#[test]
fn a_lock_held_by_another_process_is_busy() {
    let fk = start();
    let root = fk.root();
    let file = root.lock_dir().join("fpga-devlink-fpga0.lock");
    fs::write(&file, "pid 4242 (other-tool)\n").unwrap();
    let Ok(mut child) = std::process::Command::new("flock")
        .arg(&file)
        .args(["sleep", "5"])
        .spawn()
    else {
        eprintln!("no flock(1) here; the in-process lock test covers the rest");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let e = loop {
        match ManagerLockFile::acquire(&root, "fpga0") {
            Err(e) => break e,
            Ok(l) => {
                drop(l);
                assert!(Instant::now() < deadline, "flock(1) never took the lock");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(e.kind(), ErrorKind::Busy);
}

#[test]
fn keys_and_flags_the_interface_cannot_carry_are_refused_before_anything_is_written() {
    let fk = start();
    let mgr = XlnxManager::open(&fk.root(), "fpga0").unwrap();
    for (flags, key) in [
        (ImageFlags::USERKEY_ENCRYPTED_BITSTREAM, None),
        (ImageFlags::USERKEY_ENCRYPTED_BITSTREAM, Some("k\nk")),
        (ImageFlags::CONFIG_DMA_BUF, None),
    ] {
        let e = mgr.load(b"x", flags, key).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert!(fk.seen().loads.is_empty());
    assert!(firmware_dir_is_empty(&fk));
    let k = "ab".repeat(32);
    mgr.load(b"x", ImageFlags::USERKEY_ENCRYPTED_BITSTREAM, Some(&k))
        .unwrap();
    assert_eq!(fk.seen().loads[0].1, "20");
    // The sticky key was cleared after the load.
    assert_eq!(
        fs::read_to_string(fk.path("class/fpga_manager/fpga0/key")).unwrap(),
        "\n"
    );
}

#[test]
fn a_shadowing_file_earlier_on_the_search_path_is_refused() {
    let fk = start();
    let root = fk.root();
    let mgr = XlnxManager::open(&root, "fpga0").unwrap();
    let mut staged = backend_linux_sysfs::StagedFile::create(&root, "bin").unwrap();
    staged.write_all(b"x").unwrap();
    staged.finish().unwrap();
    fs::create_dir_all(fk.path("lib/firmware/updates")).unwrap();
    fs::write(fk.path("lib/firmware/updates").join(staged.name()), "old").unwrap();
    let e = mgr
        .load_staged(&staged, ImageFlags::empty(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(e.to_string().contains("updates"), "{e}");
}

#[test]
fn a_mainline_manager_without_firmware_is_unsupported_and_says_what_to_do() {
    let fk = start();
    fs::remove_file(fk.path("class/fpga_manager/fpga0/firmware")).unwrap();
    let e = XlnxManager::open(&fk.root(), "fpga0").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("overlay"), "{e}");
    let e = XlnxManager::open(&fk.root(), "fpga9").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
}

fn firmware_loader(k: &Kernel, image: &[u8]) -> FirmwareLoader {
    let v = k.read_fpga().unwrap();
    let target = v.region_target(&v.regions[0]).unwrap();
    FirmwareLoader::new(
        k,
        target,
        image.to_vec(),
        ImageFlags::PARTIAL_RECONFIG,
        None,
    )
}

#[derive(Default)]
struct Steps(Mutex<Vec<Step>>);

impl fpga_core::Observer for Steps {
    fn step(&self, s: &Step) {
        self.0.lock().unwrap().push(s.clone());
    }
}

#[test]
fn the_region_reprogram_stages_locks_loads_and_restores_dependents() {
    let fk = start();
    let k = fk.kernel();
    let steps = Steps::default();
    let report = block_on(reprogram(
        &k,
        &firmware_loader(&k, b"new logic"),
        &ReprogramOptions::default(),
        &steps,
    ))
    .unwrap();
    let s = steps.0.lock().unwrap().clone();
    let staged = s
        .iter()
        .position(|x| matches!(x, Step::Staged { .. }))
        .unwrap();
    let first_unbind = s
        .iter()
        .position(|x| matches!(x, Step::Unbind { .. }))
        .unwrap();
    assert!(
        staged < first_unbind,
        "staged before anything goes down: {s:?}"
    );
    assert_eq!(report.loaded.state, MgrState::Operating);
    assert!(!report.unbound.is_empty());
    assert!(report.rebound.not_bound.is_empty());
    // The region's host stayed bound; the dependents are back.
    let t = topo(&k);
    assert!(bound(&t, "platform:soc:fpga-region0"));
    for u in &report.unbound {
        assert!(bound(&t, &u.key), "{}", u.key);
    }
    let loads = fk.seen().loads.clone();
    assert_eq!(loads.len(), 1);
    assert_eq!(loads[0].1, "1", "the partial flag at load time");
    assert!(firmware_dir_is_empty(&fk));
}

#[test]
fn a_failing_region_load_leaves_dependents_down_and_nothing_staged() {
    let fk = start();
    let k = fk.kernel();
    let e = block_on(reprogram(
        &k,
        &firmware_loader(&k, b"BAD-CRC"),
        &ReprogramOptions::default(),
        &fpga_core::ignore,
    ))
    .unwrap_err();
    assert_eq!(e.stage, Stage::Load);
    assert!(e.to_string().contains("reconfig CRC error"), "{e}");
    assert!(!e.left_unbound.is_empty());
    let t = topo(&k);
    for u in &e.left_unbound {
        assert!(!bound(&t, &u.key), "{} came back over failed logic", u.key);
    }
    assert!(firmware_dir_is_empty(&fk));
    drop(ManagerLockFile::acquire(&fk.root(), "fpga0").unwrap());
}

#[test]
fn an_overlay_apply_is_verified_and_a_failed_one_leaves_no_slot_or_file() {
    let fk = start();
    let k = fk.kernel();
    let ov = Overlays::open(&k).unwrap();
    fs::write(fk.path("lib/firmware/region.bit"), "good bits").unwrap();
    let s = ov
        .apply(
            "region0",
            b"overlay firmware-name=region.bit",
            Some("fpga0"),
            T,
        )
        .unwrap();
    assert!(s.applied);
    assert!(s.path.as_deref().unwrap().starts_with("fpga-devlink-"));
    assert_eq!(ov.list().unwrap(), vec![s.clone()]);
    // Only the operator's bitstream is left; the staged blob is gone.
    let files: Vec<_> = fs::read_dir(fk.path("lib/firmware"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, vec![std::ffi::OsString::from("region.bit")]);
    // The slot already holds an overlay: one-shot, refused without a
    // write (spec uio.md behaviour 47).
    let slot_path = fk.path("kernel/config/device-tree/overlays/region0/path");
    let before = fs::read_to_string(&slot_path).unwrap();
    let e = ov.apply("region0", b"overlay", None, T).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(fs::read_to_string(&slot_path).unwrap(), before);
    // An existing empty slot (another applier mid-way) is busy (46).
    fs::create_dir(fk.path("kernel/config/device-tree/overlays/other")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let e = ov.apply("other", b"overlay", None, T).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");

    fs::write(fk.path("lib/firmware/bad.bit"), "BAD-CRC").unwrap();
    let e = ov
        .apply(
            "region1",
            b"overlay firmware-name=bad.bit",
            Some("fpga0"),
            Duration::from_millis(300),
        )
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("reconfig CRC error"), "{text}");
    assert!(!fk
        .path("kernel/config/device-tree/overlays/region1")
        .exists());
    for bad in ["", "..", "a/b"] {
        assert_eq!(
            ov.apply(bad, b"x", None, T).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}

#[test]
fn overlays_without_configfs_support_are_unsupported() {
    let fk = start();
    fs::remove_dir_all(fk.path("kernel/config/device-tree")).unwrap();
    let e = Overlays::open(&fk.kernel()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("configfs"), "{e}");
}

#[test]
fn the_xilinx_ops_program_through_fpga_core() {
    let fk = start();
    let mgr = XlnxManager::open(&fk.root(), "fpga0").unwrap();
    block_on(async {
        let core = devlink_core::DriverCore::new().unwrap();
        let parent = core.device("soc:fpga-mgr").bus("platform").create();
        core.device_add(&parent).await.unwrap();
        let fpga = fpga_core::Fpga::new(&core);
        let module = devlink_core::Module::new("sysfs_xlnx");
        let m = fpga
            .registrar(&module)
            .register_manager(
                &parent,
                fpga_core::ManagerInfo::new("xlnx via sysfs", Arc::new(XlnxOps::new(mgr))),
            )
            .await
            .unwrap();
        let held = fpga.mgr_get(&parent).unwrap();
        let locked = held.lock().unwrap();
        let mut info = ImageInfo::from_buffer(b"through the core".to_vec())
            .with_flags(ImageFlags::PARTIAL_RECONFIG);
        locked.load(&mut info).await.unwrap();
        assert_eq!(m.state(), MgrState::Operating);
        let mut bad = ImageInfo::from_buffer(b"BAD-CRC".to_vec());
        let e = locked.load(&mut bad).await.unwrap_err();
        assert!(e.to_string().contains("reconfig CRC error"), "{e}");
        assert_eq!(m.state(), MgrState::WriteCompleteErr);
    });
    let loads = fk.seen().loads.clone();
    assert_eq!(loads[0].2, b"through the core");
    assert_eq!(loads[0].1, "1");
    assert!(firmware_dir_is_empty(&fk));
}

#[test]
fn a_region_reprogram_through_an_overlay_applies_it_and_reports_a_failed_load() {
    let fk = start();
    let k = fk.kernel();
    let v = k.read_fpga().unwrap();
    let target = v.region_target(&v.regions[0]).unwrap();
    let loader = |bits: &[u8], slot: &str, remove: Vec<String>| {
        OverlayLoader::new(
            &k,
            target.clone(),
            slot,
            format!("overlay firmware-name={slot}.bit").into_bytes(),
            Some((format!("{slot}.bit"), bits.to_vec().into())),
            remove,
        )
        // The fake answers a failed apply by dropping the slot's files
        // (the real kernel fails the `path` write at once).
        .with_settle(Duration::from_millis(300))
    };
    let steps = Steps::default();
    let r = block_on(reprogram(
        &k,
        &loader(b"good", "dfx0", vec![]),
        &ReprogramOptions::default(),
        &steps,
    ))
    .unwrap();
    let s = steps.0.lock().unwrap().clone();
    assert!(
        s.iter()
            .any(|x| matches!(x, Step::OverlayApplied { slot } if slot == "dfx0")),
        "{s:?}"
    );
    assert_eq!(r.loaded.state, MgrState::Operating);
    assert!(r.rebound.not_bound.is_empty());
    // The bitstream placed for the apply is removed with the staged blob.
    assert!(firmware_dir_is_empty(&fk));
    let slots = Overlays::open(&k).unwrap().list().unwrap();
    assert_eq!(slots.len(), 1);

    // Replacing dfx0 (removing its slot in `retire`) needs configfs
    // itself: a plain directory with files in it cannot be rmdir'ed. The
    // lab runs that on a real kernel's configfs.

    let e = block_on(reprogram(
        &k,
        &loader(b"BAD-CRC", "dfx2", vec![]),
        &ReprogramOptions::default(),
        &fpga_core::ignore,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("reconfig CRC error"), "{e}");
    assert!(!fk.path("kernel/config/device-tree/overlays/dfx2").exists());
    assert!(firmware_dir_is_empty(&fk));

    // Replacing dfx0 while an overlay applied after it is still there
    // (b48): refused at the check, before any dependent is touched.
    Overlays::open(&k)
        .unwrap()
        .apply("later", b"overlay", None, T)
        .unwrap();
    let bound_before = topo(&k)
        .devices()
        .iter()
        .filter(|d| d.driver.is_some())
        .count();
    let e = block_on(reprogram(
        &k,
        &loader(b"good", "dfx3", vec!["dfx0".to_string()]),
        &ReprogramOptions::default(),
        &fpga_core::ignore,
    ))
    .unwrap_err();
    assert_eq!(e.stage, fpga_core::Stage::Acquire, "{e}");
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.to_string().contains("\"later\""), "{e}");
    assert!(e.left_unbound.is_empty());
    let bound_after = topo(&k)
        .devices()
        .iter()
        .filter(|d| d.driver.is_some())
        .count();
    assert_eq!(bound_after, bound_before);
}

/// A link of the region's users whose state cannot be read: reprogram
/// refuses before anything goes down, names the link and the problem, and
/// leaves the lock and the firmware directory as they were.
#[test]
fn an_unreadable_link_of_a_user_refuses_the_reprogram_before_anything_is_touched() {
    let fk = start();
    let k = fk.kernel();
    fs::write(
        fk.path("devices/virtual/devlink/platform:dma0--platform:eth0/status"),
        "exploding\n",
    )
    .unwrap();
    let before = topo(&k);
    let e = block_on(reprogram(
        &k,
        &firmware_loader(&k, b"new logic"),
        &ReprogramOptions::default(),
        &fpga_core::ignore,
    ))
    .unwrap_err();
    assert_eq!(e.stage, Stage::Check, "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.left_unbound.is_empty(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("platform:dma0--platform:eth0") && msg.contains("exploding"),
        "{msg}"
    );
    let after = topo(&k);
    for d in before.devices() {
        assert_eq!(
            after.named(&d.key()).unwrap().driver,
            d.driver,
            "{}",
            d.key()
        );
    }
    assert!(fk.seen().loads.is_empty());
    assert!(firmware_dir_is_empty(&fk));
    assert_eq!(ManagerLockFile::holder(k.root(), "fpga0").unwrap(), None);
}

#[test]
fn b48_only_the_topmost_overlay_comes_off_and_the_order_survives_processes() {
    let fk = start();
    let k = fk.kernel();
    let ov = Overlays::open(&k).unwrap();
    fs::write(fk.path("lib/firmware/r.bit"), "good bits").unwrap();
    for slot in ["base", "mid", "top"] {
        ov.apply(slot, b"overlay firmware-name=r.bit", Some("fpga0"), T)
            .unwrap();
    }
    assert_eq!(ov.order().unwrap(), ["base", "mid", "top"]);
    // Not the topmost: refused, nothing removed.
    for (slot, after) in [("base", "\"mid\", \"top\""), ("mid", "\"top\"")] {
        let e = ov.remove(slot, T).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(e.to_string().contains(after), "{e}");
    }
    assert_eq!(ov.list().unwrap().len(), 3);
    // Another process (a fresh handle) sees the same order, from the file.
    let order_file = k.root().lock_dir().join("fpga-devlink-overlays.order");
    assert_eq!(fs::read_to_string(&order_file).unwrap(), "base\nmid\ntop\n");
    let other = Overlays::open(&fk.kernel()).unwrap();
    assert_eq!(other.order().unwrap(), ["base", "mid", "top"]);
    // The file missing or stale: re-derived from configfs, by creation.
    fs::write(&order_file, "gone\ntop\n").unwrap();
    assert_eq!(other.order().unwrap(), ["top", "base", "mid"]);
    fs::remove_file(&order_file).unwrap();
    assert_eq!(other.order().unwrap(), ["base", "mid", "top"]);
    // Last applied, first removed: the two topmost together are allowed,
    // any set with a later overlay outside it is not.
    ov.check_topmost(&["mid".to_string(), "top".to_string()])
        .unwrap();
    let e = ov
        .check_topmost(&["base".to_string(), "top".to_string()])
        .unwrap_err();
    assert!(e.to_string().contains("\"mid\""), "{e}");
    // A slot another tool removed drops out of the order. (The fake
    // kernel's slots are plain directories, which cannot be rmdir'ed with
    // their files in them as configfs slots can; the removal itself runs
    // on a real configfs, which the lab does not have yet.)
    // (Renamed away first, as the fake kernel itself removes things: its
    // thread may be writing into the slot.)
    let trash = fk.path("removed-top");
    fs::rename(fk.path("kernel/config/device-tree/overlays/top"), &trash).unwrap();
    let _ = fs::remove_dir_all(&trash);
    assert_eq!(ov.order().unwrap(), ["base", "mid"]);
    ov.check_topmost(&["mid".to_string()]).unwrap();
}

/// uio.md b49: the dfx-mgr bind sequence writes `unbind`, then
/// `driver_override`, then `bind`; the undo writes `unbind`, then clears
/// `driver_override` with a newline; a device already bound to the
/// driver is left alone by both.
#[test]
fn b49_the_driver_override_sequence_and_its_undo() {
    let fk = start();
    let k = fk.kernel();
    // A UIO driver on the platform bus, as uio_pdrv_genirq is.
    let drv = fk.path("bus/platform/drivers/uio_pdrv_genirq");
    fs::create_dir_all(&drv).unwrap();
    for f in ["bind", "unbind"] {
        fs::write(drv.join(f), "").unwrap();
    }
    let dev = "platform:dma0";
    let before = topo(&k).named(dev).unwrap().driver.clone().unwrap();
    let b = k.bind_override(dev, "uio_pdrv_genirq").unwrap();
    assert_eq!(b.previous.as_deref(), Some(before.as_str()));
    assert_eq!(
        topo(&k).named(dev).unwrap().driver.as_deref(),
        Some("uio_pdrv_genirq")
    );
    // Step 4: the UIO device under the bus device.
    let dir = fk.path("bus/platform/devices/dma0");
    assert_eq!(k.uio_of(dev).unwrap(), None);
    fs::create_dir_all(dir.join("uio/uio4")).unwrap();
    assert_eq!(k.uio_of(dev).unwrap().as_deref(), Some("uio4"));
    fs::create_dir_all(dir.join("uio/uio5")).unwrap();
    assert_eq!(k.uio_of(dev).unwrap_err().kind(), ErrorKind::InvalidInput);
    k.unbind_override(&b).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("driver_override")).unwrap(),
        "(null)\n"
    );
    assert!(topo(&k).named(dev).unwrap().driver.is_none());
    let ev: Vec<String> = fk
        .seen()
        .events
        .iter()
        .filter(|e| e.contains("dma0"))
        .cloned()
        .collect();
    assert_eq!(
        ev,
        [
            "unbind dma0".to_string(),
            "driver_override dma0 uio_pdrv_genirq".into(),
            "bind dma0 uio_pdrv_genirq".into(),
            "unbind dma0".into(),
            "driver_override dma0 ".into(),
        ]
    );
    // Already bound to the driver: nothing is written, and the undo of
    // that touches nothing either.
    let b = k.bind_override(dev, "uio_pdrv_genirq").unwrap();
    let again = k.bind_override(dev, "uio_pdrv_genirq").unwrap();
    assert!(b.changed && !again.changed);
    k.unbind_override(&again).unwrap();
    assert_eq!(
        topo(&k).named(dev).unwrap().driver.as_deref(),
        Some("uio_pdrv_genirq")
    );
    k.unbind_override(&b).unwrap();
    let n = fk
        .seen()
        .events
        .iter()
        .filter(|e| e.contains("dma0"))
        .count();
    assert_eq!(n, 9);
    // Refused before any write: no such driver, a bad name.
    assert_eq!(
        k.bind_override(dev, "no_such_driver").unwrap_err().kind(),
        ErrorKind::NoDevice
    );
    assert_eq!(
        k.bind_override("dma0", "uio_pdrv_genirq")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        k.bind_override(dev, "../x").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        fk.seen()
            .events
            .iter()
            .filter(|e| e.contains("dma0"))
            .count(),
        n
    );
}
