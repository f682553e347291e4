//! A fake kernel: a thread that answers writes to a sysfs tree the way a
//! real kernel would, so the live-kernel backend can be driven without
//! one. `unbind`/`bind`/`drivers_probe` writes take effect, links change
//! state and auto-removed ones vanish a little later, a `firmware` write
//! loads and sets `state`/`status`, and an overlay slot's `path` write
//! applies it (the blob names its bitstream as `firmware-name=<file>`; a
//! bitstream containing `BAD-CRC` fails with the kernel's CRC status).
//!
//! The manager's `state` file is a FIFO served by the fake kernel, which
//! drains pending `firmware` writes before it answers: a reader therefore
//! sees the state after every load it asked for, exactly as the real
//! kernel's synchronous `firmware` write guarantees.

use backend_linux_sysfs::{Kernel, SysfsRoot};
use backend_sim::Board;
use fpga_core::ReadFpga;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake kernel saw, for assertions.
#[derive(Default, Debug)]
pub struct Seen {
    /// `(firmware name, flags at load time, bytes of the file)`.
    pub loads: Vec<(String, String, Vec<u8>)>,
    /// Device names, in the order their unbind was written.
    pub unbinds: Vec<String>,
    /// Device names, in the order they were bound.
    pub binds: Vec<String>,
    /// Every `unbind NAME`, `bind NAME DRIVER` and `driver_override NAME
    /// TEXT` (TEXT empty: cleared with a newline), in the order the fake
    /// saw them.
    pub events: Vec<String>,
}

/// A running fake kernel over a temporary tree; stopped when dropped.
pub struct FakeKernel {
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeKernel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
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
    /// The roots of the fake kernel's tree.
    pub fn root(&self) -> SysfsRoot {
        SysfsRoot::at(self.dir.path())
    }

    /// A [`Kernel`] on the tree, with short waits.
    pub fn kernel(&self) -> Kernel {
        Kernel::new(self.root())
            .with_poll_interval(Duration::from_millis(1))
            .with_timeout(Duration::from_secs(3))
    }

    /// A path below the tree's root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// What the fake kernel saw so far.
    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Files left in the firmware directory.
    pub fn firmware_files(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.path("lib/firmware"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// `board`'s tree, plus the files a kernel has for driving and a
    /// Xilinx manager `fpga0` (whose `state` is served by the fake).
    pub fn start(board: &Board) -> FakeKernel {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        let topo = board.core.topology();
        topo.write_sysfs(root).expect("the board's tree");
        futures::executor::block_on(board.fpga.fpga_view())
            .expect("the board's FPGA classes")
            .write_sysfs(root)
            .expect("the FPGA attributes");
        let mut drivers = BTreeMap::new();
        for d in topo.devices() {
            let Some(bus) = &d.bus else { continue };
            let drv = d.driver.clone().or_else(|| {
                board
                    .devices
                    .get(&d.key())
                    .and_then(|dev| dev.compatible().map(str::to_string))
                    .filter(|c| board.drivers.contains_key(c))
            });
            fs::write(root.join(&d.path).join("driver_override"), "(null)\n").unwrap();
            if let Some(drv) = drv {
                let ddir = root.join("bus").join(bus).join("drivers").join(&drv);
                fs::create_dir_all(&ddir).unwrap();
                fs::write(ddir.join("bind"), "").unwrap();
                fs::write(ddir.join("unbind"), "").unwrap();
                drivers.insert(d.name.clone(), drv);
            }
        }
        for bus in fs::read_dir(root.join("bus"))
            .into_iter()
            .flatten()
            .flatten()
        {
            fs::write(bus.path().join("drivers_probe"), "").unwrap();
        }
        let m = fs::canonicalize(root.join("class/fpga_manager/fpga0")).expect("a manager fpga0");
        fs::write(m.join("name"), "Xilinx ZynqMP FPGA Manager\n").unwrap();
        let _ = fs::remove_file(m.join("state"));
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

    /// Leaves the link `name` stuck in `status` (a transition no action of
    /// the fake ends), until the next write to it.
    pub fn stick_link(&self, name: &str, status: &str) {
        let dir = fs::canonicalize(self.path("class/devlink").join(name)).expect("the link");
        put(&dir.join("status"), format!("{status}\n"));
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
    /// Overlay slots whose apply failed.
    dead_slots: Vec<PathBuf>,
    /// Each device's `driver_override` as last seen.
    overrides: BTreeMap<PathBuf, String>,
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
            dead_slots: Vec::new(),
            overrides: BTreeMap::new(),
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            // Before the binds: a bind written after an override must see it.
            self.driver_overrides();
            self.drive_files();
            self.overlays();
            self.serve_state();
            std::thread::sleep(Duration::from_micros(300));
        }
    }

    fn mgr(&self) -> PathBuf {
        self.mgr.clone()
    }

    /// `driver_override`: a written name is kept (shown with a newline),
    /// a lone newline clears it (shown as `(null)`); each write is an event.
    fn driver_overrides(&mut self) {
        let Ok(buses) = fs::read_dir(self.root.join("bus")) else {
            return;
        };
        for bus in buses.flatten() {
            let Ok(devs) = fs::read_dir(bus.path().join("devices")) else {
                continue;
            };
            for d in devs.flatten() {
                let Ok(dir) = fs::canonicalize(d.path()) else {
                    continue;
                };
                let file = dir.join("driver_override");
                let Ok(now) = fs::read_to_string(&file) else {
                    continue;
                };
                let before = self.overrides.get(&dir).map_or("(null)\n", String::as_str);
                // Empty: a write that truncated the file and has not yet
                // written (the kernel sees the bytes in one call; the fake
                // sees the file between the two).
                if now == before || now.is_empty() {
                    continue;
                }
                let name = d.file_name().to_string_lossy().into_owned();
                let shown = if now == "\n" {
                    self.seen().events.push(format!("driver_override {name} "));
                    "(null)\n".to_string()
                } else {
                    let text = now.trim_end_matches('\n').to_string();
                    self.seen()
                        .events
                        .push(format!("driver_override {name} {text}"));
                    format!("{text}\n")
                };
                put(&file, &shown);
                self.overrides.insert(dir, shown);
            }
        }
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
        self.seen()
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
                        // An override written before this bind is seen
                        // before it, even within one pass.
                        self.driver_overrides();
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

    /// The kernel's unbind, done in the order its `unbind` write does it:
    /// every link updated and the auto-removed ones deleted before the
    /// `driver` link goes (which is what a reader waits for).
    fn unbind(&mut self, bus: &str, name: &str, drv: &str) {
        let Some(dev) = self.dev_dir(bus, name) else {
            return;
        };
        self.seen().unbinds.push(name.to_string());
        self.seen().events.push(format!("unbind {name}"));
        for (lname, dir, s, c) in self.links() {
            let auto = fs::read_to_string(dir.join("auto_remove_on")).unwrap_or_default();
            if c.as_deref() == Some(&dev) {
                let s_bound = s.as_ref().is_some_and(|s| s.join("driver").exists());
                Self::set_status(&dir, if s_bound { "available" } else { "dormant" });
                if auto.trim_end() == "consumer unbind" {
                    self.delete_link(&lname, &dir, s.as_deref(), c.as_deref());
                }
            } else if s.as_deref() == Some(&dev) {
                Self::set_status(&dir, "dormant");
                if auto.trim_end() == "supplier unbind" {
                    self.delete_link(&lname, &dir, s.as_deref(), c.as_deref());
                }
            }
        }
        let _ = fs::remove_file(
            self.root
                .join("bus")
                .join(bus)
                .join("drivers")
                .join(drv)
                .join(name),
        );
        let _ = fs::remove_file(dev.join("driver"));
    }

    /// The kernel's bind: suppliers of managed, not sync-state-only links
    /// must be bound (else the probe is deferred); links are updated
    /// before the `driver` link appears.
    fn bind(&mut self, bus: &str, name: &str, drv: &str) {
        let Some(dev) = self.dev_dir(bus, name) else {
            return;
        };
        let links = self.links();
        let ready = links.iter().all(|(_, dir, s, c)| {
            c.as_deref() != Some(&dev)
                || fs::read_to_string(dir.join("status")).unwrap_or_default() == "not tracked\n"
                || fs::read_to_string(dir.join("sync_state_only")).unwrap_or_default() == "1\n"
                || s.as_ref().is_some_and(|s| s.join("driver").exists())
        });
        if !ready {
            return;
        }
        self.seen().binds.push(name.to_string());
        self.seen().events.push(format!("bind {name} {drv}"));
        for (_, dir, s, c) in links {
            if c.as_deref() == Some(&dev) {
                Self::set_status(&dir, "active");
            } else if s.as_deref() == Some(&dev) {
                let c_bound = c.as_ref().is_some_and(|c| c.join("driver").exists());
                Self::set_status(&dir, if c_bound { "active" } else { "available" });
            }
        }
        let ddir = self.root.join("bus").join(bus).join("drivers").join(drv);
        let _ = std::os::unix::fs::symlink(&dev, ddir.join(name));
        let _ = std::os::unix::fs::symlink(&ddir, dev.join("driver"));
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes a link as kernfs does, all at once: the device entries and
    /// the class entry first, then the directory, moved out of the tree
    /// before it is removed.
    fn delete_link(&self, name: &str, dir: &Path, s: Option<&Path>, c: Option<&Path>) {
        for (end, prefix) in [(s, "consumer:"), (c, "supplier:")] {
            let Some(end) = end else { continue };
            if let Ok(rd) = fs::read_dir(end) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(prefix)
                        && fs::canonicalize(e.path()).ok().as_deref() == Some(dir)
                    {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
        let _ = fs::remove_file(self.root.join("class/devlink").join(name));
        let trash = self.root.join(format!(".removed-{name}"));
        if fs::rename(dir, &trash).is_ok() {
            let _ = fs::remove_dir_all(trash);
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
            // A real blob names its bitstream in a fragment's
            // `firmware-name`; the tests' text blobs as `firmware-name=`.
            let fw = match devlink_core::fdt::Fdt::parse(&blob) {
                Ok(fdt) => fdt
                    .fragments()
                    .iter()
                    .find_map(|f| f.overlay.prop_str("firmware-name").map(str::to_string)),
                Err(_) => String::from_utf8_lossy(&blob)
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("firmware-name="))
                    .map(str::to_string),
            };
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
