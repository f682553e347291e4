//! The FPGA classes on the real kernel: the lab_fpga module's fake
//! manager, bridge and regions read through `backend-linux-sysfs`,
//! programming through the Xilinx-style `firmware` attribute (which runs
//! the kernel's own `fpga_mgr_load`), each injected failure, and the
//! kernel's FPGA KUnit suites.

use crate::kernel::write_file;
use crate::{ensure, Report};
use backend_linux_sysfs::{
    read_fpga, ManagerLockFile, SysfsError, SysfsRoot, XlnxManager, XlnxOps,
};
use devlink_core::ErrorKind;
use fpga_core::{FpgaView, ManagerView};
use fpga_core::{ImageFlags, ImageInfo, MgrState};

const CTL: &str = crate::kernel::FPGA_CTL;
const LAST: &str = "/sys/kernel/debug/lab-fpga/last";
const MGR_NAME: &str = "Lab FPGA Manager";

fn snapshot() -> Result<FpgaView, String> {
    read_fpga(&SysfsRoot::default()).map_err(|e| e.to_string())
}

fn manager(snap: &FpgaView) -> Result<&ManagerView, String> {
    snap.managers
        .iter()
        .find(|m| m.name == MGR_NAME)
        .ok_or_else(|| format!("no manager named {MGR_NAME:?} in {:?}", snap.managers))
}

fn ctl(cmd: &str) -> Result<(), String> {
    crate::kernel::fpga_ctl(cmd)
}

/// Writes `name` to the manager's `firmware` attribute; the errno on failure.
fn program(dev: &str, name: &str) -> Result<(), i32> {
    write_file(
        format!("/sys/class/fpga_manager/{dev}/firmware"),
        &format!("{name}\n"),
    )
    .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn state_of(dev: &str) -> Result<String, String> {
    let m = snapshot()?
        .managers
        .into_iter()
        .find(|m| m.dev == dev)
        .ok_or("manager vanished")?;
    Ok(m.state.sysfs().to_string())
}

/// The fake stack, its status bits, programming, and injected failures.
pub fn run(report: &mut Report) {
    if !std::path::Path::new(CTL).exists() {
        report.check("fpga", Err("the lab_fpga module is not loaded".into()));
        return;
    }
    let snap = match snapshot() {
        Ok(s) => s,
        Err(e) => return report.check("fpga/classes", Err(e)),
    };
    let mgr = match manager(&snap) {
        Ok(m) => m.clone(),
        Err(e) => return report.check("fpga/classes", Err(e)),
    };
    let dev = mgr.dev.clone();
    report.check(
        "fpga/manager-name-state-status",
        ensure(
            mgr.state.sysfs() == "operating" && mgr.status.is_some_and(|s| s.is_empty()),
            || format!("{mgr:?}"),
        ),
    );
    let bridge = snap.bridges.iter().find(|b| b.name == "Lab FPGA Bridge");
    report.check(
        "fpga/bridge-enabled",
        ensure(bridge.is_some_and(|b| b.enabled == Some(true)), || {
            format!("{:?}", snap.bridges)
        }),
    );
    report.check(
        "fpga/region-compat_id",
        ensure(
            snap.regions.iter().any(|r| {
                r.compat_id.is_some_and(|i| {
                    i.id_h == 0x0123_4567_89ab_cdef && i.id_l == 0xfedc_ba98_7654_3210
                })
            }),
            || format!("regions {:?}", snap.regions),
        ),
    );
    // A region without a compat_id: the kernel's `compat_id` opens, and the
    // read fails with ENOENT; the reader must report "none".
    let r = (|| {
        ctl("region-noid 1")?;
        let snap = snapshot();
        ctl("region-noid 0")?;
        let snap = snap?;
        ensure(
            snap.regions
                .iter()
                .filter(|r| r.compat_id.is_none())
                .count()
                == 1,
            || format!("regions {:?}", snap.regions),
        )
    })();
    report.check("fpga/region-without-compat_id", r);

    // Status bits: the five mainline lines, in bit order; Xilinx-only
    // bits are not printed by mainline.
    let status = |bits: u64| -> Result<String, String> {
        ctl(&format!("status {bits:#x}"))?;
        let s = manager(&snapshot()?)?.status.ok_or("no status file")?;
        Ok(s.sysfs())
    };
    let r = (|| {
        let all = status(0x1f)?;
        let want = "reconfig operation error\nreconfig CRC error\nreconfig incompatible image\n\
                    reconfig IP protocol error\nreconfig fifo overflow error\n";
        ensure(all == want, || format!("0x1f reads {all:?}"))?;
        let x = status(0x7e0)?;
        ensure(x.is_empty(), || format!("xilinx-only bits read {x:?}"))?;
        let one = status(0x2)?;
        ensure(one == "reconfig CRC error\n", || {
            format!("0x2 reads {one:?}")
        })?;
        status(0).map(|_| ())
    })();
    report.check("fpga/status-bits", r);

    // Programming through `firmware` (Xilinx semantics) with the sysfs
    // `flags` copied into the image info.
    let image: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    let sum: u32 = image.iter().map(|&b| u32::from(b)).sum();
    let r = (|| {
        std::fs::create_dir_all("/lib/firmware").map_err(|e| e.to_string())?;
        std::fs::write("/lib/firmware/lab-image.bin", &image).map_err(|e| e.to_string())?;
        write_file(format!("/sys/class/fpga_manager/{dev}/flags"), "20\n")
            .map_err(|e| format!("flags: {e}"))?;
        ctl("ok")?;
        program(&dev, "lab-image.bin").map_err(|e| format!("firmware write failed: errno {e}"))?;
        let last = std::fs::read_to_string(LAST).map_err(|e| e.to_string())?;
        let want = format!("bytes={} sum={sum} flags=20\n", image.len());
        ensure(last == want, || {
            format!("manager saw {last:?}, expected {want:?}")
        })?;
        let st = state_of(&dev)?;
        ensure(st == "operating", || format!("state {st:?} after success"))?;
        write_file(format!("/sys/class/fpga_manager/{dev}/flags"), "0\n")
            .map_err(|e| format!("flags: {e}"))
    })();
    report.check("fpga/program-firmware-ok", r);

    // Each injected failure: the write fails with the op's error and the
    // state names the failing step; then a good load recovers.
    for (op, state) in [
        ("parse_header", "parse header error"),
        ("write_init", "write init error"),
        ("write", "write error"),
        ("write_complete", "write complete error"),
    ] {
        let r = (|| {
            ctl("ok")?;
            ctl(&format!("fail {op} -5"))?;
            let e = program(&dev, "lab-image.bin");
            ensure(e == Err(libc::EIO), || {
                format!("firmware write gave {e:?}, expected EIO")
            })?;
            let st = state_of(&dev)?;
            ensure(st == state, || format!("state {st:?}, expected {state:?}"))?;
            ctl("ok")?;
            program(&dev, "lab-image.bin").map_err(|e| format!("recovery load: errno {e}"))?;
            let st = state_of(&dev)?;
            ensure(st == "operating", || format!("state {st:?} after recovery"))
        })();
        report.check(&format!("fpga/fail-{op}"), r);
    }
    let r = (|| {
        let e = program(&dev, "no-such-image.bin");
        ensure(e == Err(libc::ENOENT), || {
            format!("gave {e:?}, expected ENOENT")
        })?;
        let st = state_of(&dev)?;
        ensure(st == "firmware request error", || format!("state {st:?}"))?;
        let e = write_file(format!("/sys/class/fpga_manager/{dev}/firmware"), "\n")
            .map_err(|e| e.raw_os_error());
        ensure(e == Err(Some(libc::EINVAL)), || {
            format!("empty name gave {e:?}")
        })?;
        program(&dev, "lab-image.bin").map_err(|e| format!("recovery load: errno {e}"))
    })();
    report.check("fpga/firmware-missing-and-empty", r);

    let r = (|| {
        let enabled = || -> Result<bool, String> {
            Ok(snapshot()?
                .bridges
                .iter()
                .find(|b| b.name == "Lab FPGA Bridge")
                .ok_or("bridge vanished")?
                .enabled
                .unwrap_or(false))
        };
        ctl("bridge 0")?;
        ensure(!enabled()?, || "bridge still enabled".into())?;
        ctl("bridge 1")?;
        ensure(enabled()?, || "bridge still disabled".into())
    })();
    report.check("fpga/bridge-state", r);

    backend(report, &dev);
}

/// The files the backend staged and left in the firmware directory.
fn staged_left() -> Result<Vec<String>, String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(FIRMWARE_DIR).map_err(|e| format!("{FIRMWARE_DIR}: {e}"))? {
        let name = e.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("fpga-devlink-") {
            v.push(name.into_owned());
        }
    }
    Ok(v)
}

const FIRMWARE_DIR: &str = "/lib/firmware";

fn byte_sum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}

fn last() -> Result<String, String> {
    std::fs::read_to_string(LAST).map_err(|e| format!("{LAST}: {e}"))
}

/// Nothing staged is left behind and the manager's lock is free.
fn clean_after(root: &SysfsRoot, dev: &str) -> Result<(), String> {
    let left = staged_left()?;
    ensure(left.is_empty(), || format!("staged files left: {left:?}"))?;
    ManagerLockFile::acquire(root, dev)
        .map(drop)
        .map_err(|e| format!("the lock is not free after the load: {e}"))
}

/// The backend's own programming path against the kernel's FPGA manager
/// code: `XlnxManager::load` (stage in /lib/firmware, lock, `flags`,
/// `firmware`, judge by `state`, unstage, unlock), every injected failure
/// through it, a held lock, and `XlnxOps` under fpga-core.
fn backend(report: &mut Report, dev: &str) {
    let root = SysfsRoot::default();
    for d in [root.firmware(), root.lock_dir()] {
        if let Err(e) = std::fs::create_dir_all(d) {
            return report.check("fpga/backend", Err(format!("{}: {e}", d.display())));
        }
    }
    let mgr = match XlnxManager::open(&root, dev) {
        Ok(m) => m,
        Err(e) => return report.check("fpga/backend-open", Err(e.to_string())),
    };
    let image: Vec<u8> = (0..12345u32).map(|i| (i * 13 + 1) as u8).collect();
    let r = (|| {
        ctl("ok")?;
        let rep = mgr
            .load(&image, ImageFlags::PARTIAL_RECONFIG, None)
            .map_err(|e| format!("load: {e}"))?;
        ensure(
            rep.state == MgrState::Operating && rep.status.is_empty(),
            || format!("{rep:?}"),
        )?;
        let want = format!("bytes={} sum={} flags=1\n", image.len(), byte_sum(&image));
        let seen = last()?;
        ensure(seen == want, || {
            format!("manager saw {seen:?}, expected {want:?}")
        })?;
        let flags = mgr.flags().map_err(|e| e.to_string())?;
        ensure(flags == 1, || format!("flags read back {flags:#x}"))?;
        clean_after(&root, dev)
    })();
    report.check("fpga/backend-load-ok", r);

    for (op, state) in [
        ("parse_header", "parse header error"),
        ("write_init", "write init error"),
        ("write", "write error"),
        ("write_complete", "write complete error"),
    ] {
        let r = (|| {
            ctl("ok")?;
            ctl(&format!("fail {op} -5"))?;
            let got = mgr.load(&image, ImageFlags::empty(), None);
            ctl("ok")?;
            let e = match got {
                Ok(rep) => return Err(format!("the load succeeded: {rep:?}")),
                Err(e) => e,
            };
            ensure(e.kind() == ErrorKind::Io, || {
                format!("kind {:?}, expected Io: {e}", e.kind())
            })?;
            let text = e.to_string();
            ensure(
                text.contains(&format!("state \"{state}\""))
                    && text.contains(&format!("(os error {})", libc::EIO)),
                || format!("the error does not carry EIO and the state {state:?}: {text}"),
            )?;
            ensure(
                matches!(&e, SysfsError::Kernel { state: Some(s), .. } if s == state),
                || format!("not a Kernel error with the state: {e:?}"),
            )?;
            clean_after(&root, dev)
        })();
        report.check(&format!("fpga/backend-fail-{op}"), r);
    }

    // Another holder of the lock: Busy, nothing written, nothing left.
    let r = (|| {
        let before = last()?;
        let held = ManagerLockFile::acquire(&root, dev).map_err(|e| e.to_string())?;
        let holder = ManagerLockFile::holder(&root, dev).map_err(|e| e.to_string())?;
        let got = mgr.load(b"never loaded", ImageFlags::empty(), None);
        drop(held);
        ensure(
            holder
                .as_deref()
                .is_some_and(|h| h.contains(&format!("pid {}", std::process::id()))),
            || format!("holder {holder:?}"),
        )?;
        match got {
            Err(e) if e.kind() == ErrorKind::Busy => {}
            other => return Err(format!("{other:?}, expected Busy")),
        }
        let after = last()?;
        ensure(before == after, || {
            format!("the manager was given an image: {after:?}")
        })?;
        clean_after(&root, dev)
    })();
    report.check("fpga/backend-lock-busy", r);

    report.check(
        "fpga/backend-xlnxops-through-fpga-core",
        ops_through_core(&root, mgr),
    );
}

/// `XlnxOps` registered in a local fpga-core and loaded through it: a
/// good image, then a `write` failure, judged by both the core and the
/// kernel.
fn ops_through_core(root: &SysfsRoot, mgr: XlnxManager) -> Result<(), String> {
    use std::sync::Arc;
    ctl("ok")?;
    let image = b"through fpga-core".to_vec();
    let want = format!("bytes={} sum={} flags=1\n", image.len(), byte_sum(&image));
    let dev = mgr.dev().to_string();
    futures::executor::block_on(async {
        let core = devlink_core::DriverCore::new().map_err(|e| e.to_string())?;
        let parent = core.device("lab:fpga-mgr").bus("platform").create();
        core.device_add(&parent).await.map_err(|e| e.to_string())?;
        let fpga = fpga_core::Fpga::new(&core);
        let module = devlink_core::Module::new("lab_xlnx_ops");
        let m = fpga
            .registrar(&module)
            .register_manager(
                &parent,
                fpga_core::ManagerInfo::new("lab via sysfs", Arc::new(XlnxOps::new(mgr))),
            )
            .await
            .map_err(|e| e.to_string())?;
        let held = fpga.mgr_get(&parent).map_err(|e| e.to_string())?;
        let locked = held.lock().map_err(|e| e.to_string())?;
        let mut info =
            ImageInfo::from_buffer(image.clone()).with_flags(ImageFlags::PARTIAL_RECONFIG);
        locked
            .load(&mut info)
            .await
            .map_err(|e| format!("load: {e}"))?;
        ensure(m.state() == MgrState::Operating, || {
            format!("core state {:?}", m.state())
        })?;
        let seen = last()?;
        ensure(seen == want, || {
            format!("manager saw {seen:?}, expected {want:?}")
        })?;
        ctl("fail write -5")?;
        let mut bad = ImageInfo::from_buffer(b"refused".to_vec());
        let got = locked.load(&mut bad).await;
        ctl("ok")?;
        let e = match got {
            Ok(()) => return Err("the failing load succeeded".to_string()),
            Err(e) => e,
        };
        ensure(e.to_string().contains("write error"), || {
            format!("the core's error does not carry the kernel state: {e}")
        })?;
        ensure(m.state() == MgrState::WriteCompleteErr, || {
            format!("core state {:?} after the failure", m.state())
        })?;
        Ok::<(), String>(())
    })?;
    let st = state_of(&dev)?;
    ensure(st == "write error", || format!("kernel state {st:?}"))?;
    clean_after(root, &dev)?;
    // Recover for whatever runs next.
    program(&dev, "lab-image.bin").map_err(|e| format!("recovery load: errno {e}"))
}

/// The kernel's FPGA KUnit suites (`fpga_mgr`, `fpga_bridge`,
/// `fpga_region`), run when their modules were loaded by `/init`: every
/// case must be `ok`, and there must be nine.
pub fn kunit(report: &mut Report) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for suite in ["fpga_mgr", "fpga_bridge", "fpga_region"] {
        let path = format!("/sys/kernel/debug/kunit/{suite}/results");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                bad.push(format!("{path}: {e}"));
                continue;
            }
        };
        for line in text.lines().map(str::trim) {
            let (good, rest) = if let Some(r) = line.strip_prefix("ok ") {
                (true, r)
            } else if let Some(r) = line.strip_prefix("not ok ") {
                (false, r)
            } else {
                continue;
            };
            let name = rest.split_whitespace().nth(1).unwrap_or("");
            if name == suite {
                continue; // the suite's own line
            }
            if good {
                ok.push(format!("{suite}.{name}"));
            } else {
                bad.push(format!("{suite}.{name}: {line}"));
            }
        }
    }
    let details: Vec<String> = ok.iter().map(|c| format!("ok {c}")).collect();
    let r = ensure(bad.is_empty() && ok.len() == 9, || {
        format!("{} cases ok (expected 9), failures: {bad:?}", ok.len())
    });
    report.result("kunit/fpga-9-cases", r, &details);
}
