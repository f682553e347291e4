//! Driving a fixture tree that a fake kernel (a thread) updates the way a
//! real one would: `unbind`/`bind`/`drivers_probe` writes take effect,
//! links change state and auto-removed ones vanish a little later, a
//! `firmware` write loads and sets `state`/`status`, and an overlay slot's
//! `path` write applies it.
//!
//! The manager's `state` file is a FIFO served by the fake kernel, which
//! drains pending `firmware` writes before it answers: a reader therefore
//! sees the state after every load it asked for, exactly as the real
//! kernel's synchronous `firmware` write guarantees.

use backend_linux_sysfs::{
    reprogram_region, AutoRemove, Kernel, Load, ManagerLock, Overlays, RegionPlan, Settle,
    Snapshot, SysfsError, SysfsRoot, XlnxManager, XlnxOps,
};
use backend_sim::{Board, Scenario};
use devlink_core::{ErrorKind, LinkState};
use fpga_core::{ImageFlags, ImageInfo, MgrState};
use futures::executor::block_on;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEMO: &str = include_str!("../../../tests/scenarios/demo-board.toml");
const T: Duration = Duration::from_secs(5);

fn board() -> Board {
    block_on(Scenario::parse(DEMO).unwrap().build()).unwrap()
}

/// What the fake kernel saw, for assertions.
#[derive(Default, Debug)]
struct Seen {
    /// `(firmware name, flags at load time, bytes of the file)`.
    loads: Vec<(String, String, Vec<u8>)>,
    /// Device names, in the order their unbind was written.
    unbinds: Vec<String>,
    binds: Vec<String>,
}

struct FakeKernel {
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeKernel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Replaces a file's contents in one step, as a kernel attribute changes:
/// a reader sees the old text or the new, never a half-written one.
fn put(path: &Path, text: impl AsRef<[u8]>) {
    let tmp = path.with_extension("fake-kernel-tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

impl FakeKernel {
    fn root(&self) -> SysfsRoot {
        SysfsRoot::at(self.dir.path())
    }

    fn kernel(&self) -> Kernel {
        Kernel::new(self.root()).with_poll_interval(Duration::from_millis(1))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The demo board's tree, plus the files a kernel has for driving and
    /// a Xilinx manager `fpga0`.
    fn start() -> FakeKernel {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let b = board();
        b.core.sysfs_view().write_to(root).unwrap();
        let mut drivers = BTreeMap::new();
        for d in b.core.sysfs_view().devices {
            if let (Some(bus), Some(drv)) = (&d.bus, &d.driver) {
                let ddir = root.join("bus").join(bus).join("drivers").join(drv);
                fs::write(ddir.join("bind"), "").unwrap();
                fs::write(ddir.join("unbind"), "").unwrap();
                drivers.insert(d.name.clone(), drv.clone());
            }
        }
        for bus in fs::read_dir(root.join("bus")).unwrap() {
            fs::write(bus.unwrap().path().join("drivers_probe"), "").unwrap();
        }
        for (br, _) in &b.bridges {
            let d = root.join("class/fpga_bridge").join(br.device().name());
            fs::write(d.join("name"), br.sysfs_name()).unwrap();
            fs::write(d.join("state"), block_on(br.sysfs_state()).unwrap()).unwrap();
        }
        // The simulator's view has the class device; give it a Xilinx
        // manager's attributes.
        let m = fs::canonicalize(root.join("class/fpga_manager/fpga0")).unwrap();
        fs::write(m.join("name"), "Xilinx ZynqMP FPGA Manager\n").unwrap();
        mkfifo(&m.join("state"));
        fs::write(m.join("status"), "").unwrap();
        fs::write(m.join("flags"), "0\n").unwrap();
        fs::write(m.join("key"), "\n").unwrap();
        fs::write(m.join("firmware"), "").unwrap();
        for d in [
            "lib/firmware",
            "run/lock",
            "kernel/config/device-tree/overlays",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let thread = {
            let (root, stop, seen) = (root.to_path_buf(), stop.clone(), seen.clone());
            std::thread::spawn(move || Fake::new(root, m, drivers, seen).run(&stop))
        };
        FakeKernel {
            dir,
            stop,
            seen,
            thread: Some(thread),
        }
    }
}

/// The fake kernel's state.
struct Fake {
    root: PathBuf,
    mgr: PathBuf,
    /// Device name -> its driver, for `drivers_probe`.
    drivers: BTreeMap<String, String>,
    seen: Arc<Mutex<Seen>>,
    state: String,
    /// Links to delete, and when.
    doomed: Vec<(Instant, String)>,
    /// Overlay slots whose apply failed.
    dead_slots: Vec<PathBuf>,
}

impl Fake {
    fn new(
        root: PathBuf,
        mgr: PathBuf,
        drivers: BTreeMap<String, String>,
        seen: Arc<Mutex<Seen>>,
    ) -> Fake {
        Fake {
            root,
            mgr,
            drivers,
            seen,
            state: "operating".into(),
            doomed: Vec::new(),
            dead_slots: Vec::new(),
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            self.drive_files();
            self.overlays();
            self.reap();
            self.serve_state();
            std::thread::sleep(Duration::from_micros(300));
        }
    }

    fn mgr(&self) -> PathBuf {
        self.mgr.clone()
    }

    /// Answers a reader of `state` waiting on the FIFO, after draining any
    /// `firmware` write (which the reader issued before opening `state`).
    fn serve_state(&mut self) {
        let fifo = self.mgr().join("state");
        let Ok(mut w) = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
        else {
            return;
        };
        self.firmware();
        let _ = w.write_all(format!("{}\n", self.state).as_bytes());
        // One answer per reader: wait until the readers have closed
        // (POLLERR). A reader that opened right behind the first one
        // finds the pipe drained: answer it too.
        let start = Instant::now();
        let mut drained_at: Option<Instant> = None;
        while start.elapsed() < Duration::from_secs(2) {
            let mut fds = [rustix::event::PollFd::new(
                &w,
                rustix::event::PollFlags::ERR,
            )];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if rustix::event::poll(&mut fds, Some(&zero)).unwrap_or(0) > 0 {
                break;
            }
            if rustix::io::ioctl_fionread(&w).unwrap_or(1) == 0 {
                let t = *drained_at.get_or_insert_with(Instant::now);
                if t.elapsed() > Duration::from_millis(2) {
                    self.firmware();
                    let _ = w.write_all(format!("{}\n", self.state).as_bytes());
                    drained_at = None;
                }
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn firmware(&mut self) {
        let f = self.mgr().join("firmware");
        let name = fs::read_to_string(&f).unwrap_or_default();
        if name.is_empty() {
            return;
        }
        fs::write(&f, "").unwrap();
        let flags = fs::read_to_string(self.mgr().join("flags")).unwrap();
        // The kernel reads `flags` back normalised.
        let v = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap_or(0);
        put(&self.mgr().join("flags"), format!("{v:x}\n"));
        let image = fs::read(self.root.join("lib/firmware").join(&name));
        let (state, status) = match &image {
            Err(_) => ("firmware request error", ""),
            Ok(data) if data.windows(7).any(|w| w == b"BAD-CRC") => {
                ("write error", "reconfig CRC error\n")
            }
            Ok(_) => ("operating", ""),
        };
        self.state = state.into();
        put(&self.mgr().join("status"), status);
        self.seen
            .lock()
            .unwrap()
            .loads
            .push((name, format!("{v:x}"), image.unwrap_or_default()));
    }

    fn dev_dir(&self, bus: &str, name: &str) -> Option<PathBuf> {
        fs::canonicalize(self.root.join("bus").join(bus).join("devices").join(name)).ok()
    }

    fn links(&self) -> Vec<(String, PathBuf, Option<PathBuf>, Option<PathBuf>)> {
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(self.root.join("class/devlink")) else {
            return out;
        };
        for e in rd.flatten() {
            let Ok(dir) = fs::canonicalize(e.path()) else {
                continue;
            };
            let s = fs::canonicalize(dir.join("supplier")).ok();
            let c = fs::canonicalize(dir.join("consumer")).ok();
            out.push((e.file_name().to_string_lossy().into_owned(), dir, s, c));
        }
        out
    }

    fn set_status(dir: &Path, s: &str) {
        let cur = fs::read_to_string(dir.join("status")).unwrap_or_default();
        if cur.trim_end() != "not tracked" {
            put(&dir.join("status"), format!("{s}\n"));
        }
    }

    fn drive_files(&mut self) {
        let Ok(buses) = fs::read_dir(self.root.join("bus")) else {
            return;
        };
        for bus in buses.flatten() {
            let bus_name = bus.file_name().to_string_lossy().into_owned();
            let Ok(rd) = fs::read_dir(bus.path().join("drivers")) else {
                continue;
            };
            for e in rd.flatten() {
                let drv = e.file_name().to_string_lossy().into_owned();
                for (file, bind) in [("unbind", false), ("bind", true)] {
                    let p = e.path().join(file);
                    let name = fs::read_to_string(&p).unwrap_or_default();
                    if name.is_empty() {
                        continue;
                    }
                    fs::write(&p, "").unwrap();
                    if bind {
                        self.bind(&bus_name, &name, &drv);
                    } else {
                        self.unbind(&bus_name, &name, &drv);
                    }
                }
            }
            let p = bus.path().join("drivers_probe");
            let name = fs::read_to_string(&p).unwrap_or_default();
            if !name.is_empty() {
                fs::write(&p, "").unwrap();
                if let Some(drv) = self.drivers.get(&name).cloned() {
                    self.bind(&bus_name, &name, &drv);
                }
            }
        }
    }

    fn unbind(&mut self, bus: &str, name: &str, drv: &str) {
        let Some(dev) = self.dev_dir(bus, name) else {
            return;
        };
        self.seen.lock().unwrap().unbinds.push(name.to_string());
        let _ = fs::remove_file(dev.join("driver"));
        let _ = fs::remove_file(
            self.root
                .join("bus")
                .join(bus)
                .join("drivers")
                .join(drv)
                .join(name),
        );
        for (lname, dir, s, c) in self.links() {
            let auto = fs::read_to_string(dir.join("auto_remove_on")).unwrap_or_default();
            if c.as_deref() == Some(&dev) {
                let s_bound = s.as_ref().is_some_and(|s| s.join("driver").exists());
                Self::set_status(&dir, if s_bound { "available" } else { "dormant" });
                if auto.trim_end() == "consumer unbind" {
                    self.doomed
                        .push((Instant::now() + Duration::from_millis(30), lname));
                }
            } else if s.as_deref() == Some(&dev) {
                Self::set_status(&dir, "dormant");
                if auto.trim_end() == "supplier unbind" {
                    self.doomed
                        .push((Instant::now() + Duration::from_millis(30), lname));
                }
            }
        }
    }

    fn bind(&mut self, bus: &str, name: &str, drv: &str) {
        let Some(dev) = self.dev_dir(bus, name) else {
            return;
        };
        let links = self.links();
        // Managed links' suppliers must be bound (else: deferred).
        let ready = links.iter().all(|(_, dir, s, c)| {
            c.as_deref() != Some(&dev)
                || fs::read_to_string(dir.join("status")).unwrap_or_default() == "not tracked\n"
                || s.as_ref().is_some_and(|s| s.join("driver").exists())
        });
        if !ready {
            return;
        }
        self.seen.lock().unwrap().binds.push(name.to_string());
        let ddir = self.root.join("bus").join(bus).join("drivers").join(drv);
        std::os::unix::fs::symlink(&ddir, dev.join("driver")).unwrap();
        let _ = std::os::unix::fs::symlink(&dev, ddir.join(name));
        for (_, dir, s, c) in links {
            if c.as_deref() == Some(&dev) {
                Self::set_status(&dir, "active");
            } else if s.as_deref() == Some(&dev) {
                let c_bound = c.as_ref().is_some_and(|c| c.join("driver").exists());
                Self::set_status(&dir, if c_bound { "active" } else { "available" });
            }
        }
    }

    /// Deletes auto-removed links once their time has come (the kernel
    /// releases them from its removal queue).
    fn reap(&mut self) {
        let now = Instant::now();
        let (due, keep): (Vec<_>, Vec<_>) = self.doomed.drain(..).partition(|(t, _)| *t <= now);
        self.doomed = keep;
        for (_, name) in due {
            // Gone in one step, as kernfs removes a directory: moved out
            // of the tree first, deleted after.
            let class = self.root.join("class/devlink").join(&name);
            if let Ok(dir) = fs::canonicalize(&class) {
                let _ = fs::remove_file(&class);
                let trash = self.root.join(format!(".removed-{name}"));
                if fs::rename(&dir, &trash).is_ok() {
                    let _ = fs::remove_dir_all(trash);
                }
            }
        }
    }

    /// configfs: a new slot gets `path` and `status`; a written `path`
    /// (no newline yet) is applied: the overlay blob names its bitstream
    /// as `firmware-name=<file>`, which loads through the manager.
    fn overlays(&mut self) {
        let dir = self.root.join("kernel/config/device-tree/overlays");
        let Ok(rd) = fs::read_dir(&dir) else { return };
        for e in rd.flatten() {
            let slot = e.path();
            if self.dead_slots.contains(&slot) {
                continue;
            }
            if !slot.join("path").exists() {
                put(&slot.join("path"), "\n");
                put(&slot.join("status"), "unapplied\n");
                continue;
            }
            let path = fs::read_to_string(slot.join("path")).unwrap_or_default();
            if path.is_empty() || path.ends_with('\n') {
                continue;
            }
            let blob = fs::read(self.root.join("lib/firmware").join(&path)).unwrap_or_default();
            let text = String::from_utf8_lossy(&blob).into_owned();
            let fw = text
                .split_whitespace()
                .find_map(|w| w.strip_prefix("firmware-name="))
                .map(str::to_string);
            let ok = match fw {
                Some(fw) => {
                    fs::write(self.mgr().join("firmware"), &fw).unwrap();
                    self.firmware();
                    self.state == "operating"
                }
                None => !blob.is_empty(),
            };
            if ok {
                put(&slot.join("path"), format!("{path}\n"));
                put(&slot.join("status"), "applied\n");
            } else {
                // A real configfs slot can be rmdir'ed with its
                // attributes in it; a plain directory cannot. So after a
                // failed apply the fake drops the attribute files (the
                // caller then sees `status` gone, i.e. not applied) and
                // remembers the slot as dead.
                let _ = fs::remove_file(slot.join("path"));
                let _ = fs::remove_file(slot.join("status"));
                self.dead_slots.push(slot);
            }
        }
    }
}

fn firmware_dir_is_empty(k: &FakeKernel) -> bool {
    fs::read_dir(k.path("lib/firmware"))
        .unwrap()
        .next()
        .is_none()
}

fn bound(snap: &Snapshot, key: &str) -> bool {
    snap.device(key).unwrap().is_bound()
}

#[test]
fn unbind_takes_dependents_down_consumers_first_and_rebind_restores_them() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let before = k.snapshot().unwrap();
    let expected: Vec<String> = k
        .teardown_order(&before, "platform:soc:fpga-region0")
        .unwrap()
        .iter()
        .map(|d| d.name.clone())
        .collect();
    assert!(expected.len() > 2, "{expected:?}");
    assert_eq!(expected.last().unwrap(), "soc:fpga-region0");

    let down = k.unbind("platform:soc:fpga-region0", T).unwrap();
    let names: Vec<&str> = down.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, expected);
    assert_eq!(fk.seen.lock().unwrap().unbinds, expected);
    // Every consumer went down before each of its suppliers.
    for l in before.links.values() {
        let (Some(s), Some(c)) = (&l.supplier, &l.consumer) else {
            continue;
        };
        let pos = |p: &str| down.iter().position(|u| u.path == p);
        if let (Some(si), Some(ci)) = (pos(s), pos(c)) {
            assert!(ci < si, "{} went down after its supplier", l.name);
        }
    }
    let settle = Settle {
        gone: vec![],
        unbound: down.iter().map(|u| u.path.clone()).collect(),
    };
    k.wait_settled(&settle, T).unwrap();
    let mid = k.snapshot().unwrap();
    for u in &down {
        assert!(!bound(&mid, &u.key), "{} still bound", u.key);
    }

    let gone = k.rebind(&down, T).unwrap();
    assert!(gone.is_empty());
    let after = k.snapshot().unwrap();
    for u in &down {
        assert!(bound(&after, &u.key), "{} not bound again", u.key);
    }
    // Binds ran suppliers first: the reverse of the unbinds.
    let mut rev = expected.clone();
    rev.reverse();
    assert_eq!(fk.seen.lock().unwrap().binds, rev);
}

#[test]
fn binding_a_device_whose_supplier_is_down_is_deferred_and_names_it() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let snap = k.snapshot().unwrap();
    // A consumer with a managed supplier link.
    let link = snap
        .links
        .values()
        .find(|l| l.status == LinkState::Active && l.auto_remove_on == AutoRemove::Never)
        .expect("an active link that stays")
        .clone();
    let supplier = snap.devices[link.supplier.as_ref().unwrap()].key();
    let consumer = snap.devices[link.consumer.as_ref().unwrap()].key();
    k.unbind(&supplier, T).unwrap();
    let e = k
        .bind(&consumer, None, Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Deferred, "{e}");
    assert!(e.to_string().contains(&supplier), "{e}");
    // Supplier first, then it binds.
    k.bind(&supplier, None, T).unwrap();
    k.bind(&consumer, None, T).unwrap();
    assert!(bound(&k.snapshot().unwrap(), &consumer));
}

#[test]
fn unknown_devices_and_unsafe_driver_names_are_refused_before_any_write() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let e = k.unbind("platform:nope", T).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
    assert!(e.to_string().contains("nope"), "{e}");
    let snap = k.snapshot().unwrap();
    let dev = snap.device("platform:dma0").unwrap().key();
    k.unbind(&dev, T).unwrap();
    let e = k.bind(&dev, Some("../../x"), T).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[test]
fn the_settle_wait_names_what_is_still_pending() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let snap = k.snapshot().unwrap();
    let link = snap.links.values().next().unwrap().clone();
    // Stuck in a transition no fake-kernel action will end.
    let dir = fs::canonicalize(fk.path("class/devlink").join(&link.name)).unwrap();
    fs::write(dir.join("status"), "consumer probing\n").unwrap();
    let consumer = link.consumer.clone().unwrap();
    let e = k
        .wait_settled(
            &Settle {
                gone: vec!["devices/platform/never-there".into(), consumer.clone()],
                unbound: vec![consumer.clone()],
            },
            Duration::from_millis(50),
        )
        .unwrap_err();
    let SysfsError::Timeout { pending, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        pending
            .iter()
            .any(|p| p.contains(&consumer) && p.contains("still present")),
        "{pending:?}"
    );
    assert!(
        pending.iter().any(|p| p.contains(&link.name)),
        "{pending:?}"
    );
}

#[test]
fn a_firmware_load_stages_locks_verifies_and_cleans_up() {
    let fk = FakeKernel::start();
    let root = fk.root();
    let mgr = XlnxManager::open(&root, "fpga0").unwrap();
    let r = mgr
        .load(b"GOOD image", ImageFlags::PARTIAL_RECONFIG, None)
        .unwrap();
    assert_eq!(r.state, MgrState::Operating);
    let seen = fk.seen.lock().unwrap().loads.clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, "1", "flags at load time");
    assert_eq!(seen[0].2, b"GOOD image");
    assert!(seen[0].0.starts_with("fpgactl-"), "{}", seen[0].0);
    assert!(firmware_dir_is_empty(&fk));
    // The lock was released.
    drop(ManagerLock::acquire(&root, "fpga0").unwrap());
}

#[test]
fn a_failing_load_carries_state_and_status_lines_and_leaves_nothing() {
    let fk = FakeKernel::start();
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
    drop(ManagerLock::acquire(&root, "fpga0").unwrap());
    // The next good load recovers.
    assert_eq!(
        mgr.load(b"ok", ImageFlags::empty(), None).unwrap().state,
        MgrState::Operating
    );
}

#[test]
fn a_held_manager_is_busy_and_names_the_holder() {
    let fk = FakeKernel::start();
    let root = fk.root();
    let _held = ManagerLock::acquire(&root, "fpga0").unwrap();
    let mgr = XlnxManager::open(&root, "fpga0").unwrap();
    let e = mgr.load(b"x", ImageFlags::empty(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(e.to_string().contains("pid"), "{e}");
    assert!(fk.seen.lock().unwrap().loads.is_empty());
    assert!(firmware_dir_is_empty(&fk));
}

#[test]
fn a_lock_held_by_another_process_is_busy() {
    let fk = FakeKernel::start();
    let root = fk.root();
    let file = root.lock_dir().join("fpgactl-fpga0.lock");
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
        match ManagerLock::acquire(&root, "fpga0") {
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
    let fk = FakeKernel::start();
    let mgr = XlnxManager::open(&fk.root(), "fpga0").unwrap();
    for (flags, key) in [
        (ImageFlags::USERKEY_ENCRYPTED_BITSTREAM, None),
        (ImageFlags::USERKEY_ENCRYPTED_BITSTREAM, Some("k\nk")),
        (ImageFlags::CONFIG_DMA_BUF, None),
    ] {
        let e = mgr.load(b"x", flags, key).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert!(fk.seen.lock().unwrap().loads.is_empty());
    assert!(firmware_dir_is_empty(&fk));
    let k = "ab".repeat(32);
    mgr.load(b"x", ImageFlags::USERKEY_ENCRYPTED_BITSTREAM, Some(&k))
        .unwrap();
    assert_eq!(fk.seen.lock().unwrap().loads[0].1, "20");
    // The sticky key was cleared after the load.
    assert_eq!(
        fs::read_to_string(fk.path("class/fpga_manager/fpga0/key")).unwrap(),
        "\n"
    );
}

#[test]
fn a_shadowing_file_earlier_on_the_search_path_is_refused() {
    let fk = FakeKernel::start();
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
    let fk = FakeKernel::start();
    fs::remove_file(fk.path("class/fpga_manager/fpga0/firmware")).unwrap();
    let e = XlnxManager::open(&fk.root(), "fpga0").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("overlay"), "{e}");
    let e = XlnxManager::open(&fk.root(), "fpga9").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
}

#[test]
fn the_region_reprogram_sequence_runs_in_order_and_restores_dependents() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let plan = RegionPlan {
        region_device: "platform:soc:fpga-region0".into(),
        manager: "fpga0".into(),
        load: Load::Firmware {
            image: b"new logic".to_vec(),
        },
        flags: ImageFlags::PARTIAL_RECONFIG,
        key: None,
        remove_overlays: vec![],
        timeout: T,
    };
    let mut steps = Vec::new();
    let report = reprogram_region(&k, &plan, |s| steps.push(s.to_string())).unwrap();
    let first_load = steps.iter().position(|s| s.starts_with("lock")).unwrap();
    let wait = steps.iter().position(|s| s.starts_with("wait")).unwrap();
    assert!(
        steps[..wait].iter().all(|s| s.starts_with("unbind")),
        "{steps:?}"
    );
    assert!(wait < first_load);
    assert!(
        steps[first_load + 1..]
            .iter()
            .all(|s| s.starts_with("bind")),
        "{steps:?}"
    );
    assert_eq!(report.load.state, MgrState::Operating);
    assert!(!report.unbound.is_empty());
    assert!(report.not_rebound.is_empty());
    // The region itself stayed bound; the dependents are back.
    let snap = k.snapshot().unwrap();
    assert!(bound(&snap, "platform:soc:fpga-region0"));
    for u in &report.unbound {
        assert!(bound(&snap, &u.key), "{}", u.key);
    }
    assert_eq!(fk.seen.lock().unwrap().loads.len(), 1);
    assert!(firmware_dir_is_empty(&fk));
}

#[test]
fn a_failing_region_load_leaves_dependents_down_and_nothing_staged() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let plan = RegionPlan {
        region_device: "platform:soc:fpga-region0".into(),
        manager: "fpga0".into(),
        load: Load::Firmware {
            image: b"BAD-CRC".to_vec(),
        },
        flags: ImageFlags::PARTIAL_RECONFIG,
        key: None,
        remove_overlays: vec![],
        timeout: T,
    };
    let mut steps = Vec::new();
    let e = reprogram_region(&k, &plan, |s| steps.push(s.to_string())).unwrap_err();
    assert!(e.to_string().contains("reconfig CRC error"), "{e}");
    assert!(!steps.iter().any(|s| s.starts_with("bind")), "{steps:?}");
    let snap = k.snapshot().unwrap();
    let unbound: Vec<&str> = steps
        .iter()
        .filter_map(|s| s.strip_prefix("unbind "))
        .collect();
    assert!(!unbound.is_empty());
    for d in unbound {
        assert!(!bound(&snap, d), "{d} came back over failed logic");
    }
    assert!(firmware_dir_is_empty(&fk));
    drop(ManagerLock::acquire(&fk.root(), "fpga0").unwrap());
}

#[test]
fn an_overlay_apply_is_verified_and_a_failed_one_leaves_no_slot_or_file() {
    let fk = FakeKernel::start();
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
    assert!(s.path.as_deref().unwrap().starts_with("fpgactl-"));
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
    let fk = FakeKernel::start();
    fs::remove_dir_all(fk.path("kernel/config/device-tree")).unwrap();
    let e = Overlays::open(&fk.kernel()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("configfs"), "{e}");
}

#[test]
fn the_xilinx_ops_program_through_fpga_core() {
    let fk = FakeKernel::start();
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
    let loads = fk.seen.lock().unwrap().loads.clone();
    assert_eq!(loads[0].2, b"through the core");
    assert_eq!(loads[0].1, "1");
    assert!(firmware_dir_is_empty(&fk));
}

#[test]
fn a_region_reprogram_through_an_overlay_applies_it_and_reports_a_failed_load() {
    let fk = FakeKernel::start();
    let k = fk.kernel();
    let plan = |bits: &[u8], slot: &str, timeout: Duration| RegionPlan {
        region_device: "platform:soc:fpga-region0".into(),
        manager: "fpga0".into(),
        load: Load::Overlay {
            slot: slot.into(),
            dtbo: format!("overlay firmware-name={slot}.bit").into_bytes(),
            bitstream: Some((format!("{slot}.bit"), bits.to_vec())),
        },
        flags: ImageFlags::PARTIAL_RECONFIG,
        key: None,
        remove_overlays: vec![],
        timeout,
    };
    let mut steps = Vec::new();
    let r = reprogram_region(&k, &plan(b"good", "dfx0", T), |s| steps.push(s.to_string())).unwrap();
    assert!(steps.iter().any(|s| s == "apply overlay dfx0"), "{steps:?}");
    let applied = r.overlay.unwrap();
    assert!(applied.applied);
    assert_eq!(r.load.state, MgrState::Operating);
    assert!(r.not_rebound.is_empty());
    // The bitstream placed for the apply is removed with the staged blob.
    assert!(firmware_dir_is_empty(&fk));

    let e = reprogram_region(
        &k,
        &plan(b"BAD-CRC", "dfx1", Duration::from_millis(300)),
        |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("reconfig CRC error"), "{e}");
    assert!(!fk.path("kernel/config/device-tree/overlays/dfx1").exists());
    assert!(firmware_dir_is_empty(&fk));
}
