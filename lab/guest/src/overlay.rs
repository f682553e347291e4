//! Device-tree overlays on the real kernel: the configfs overlay ABI
//! (lab_overlay.ko over the kernel's own of_overlay_fdt_apply and
//! of_overlay_remove), the kernel's of-fpga-region programming the lab's
//! device-tree manager from an overlay's `firmware-name`, the devices and
//! fw_devlink links the overlay makes, the seed sequence (dependents
//! down, links released, overlay removed, nothing leaked) warning-free
//! and with a held node the kernel warns about, the failures, b48 and
//! b49, and `fpgactl reprogram --overlay`.
//!
//! The overlays are `tests/kernel/overlays/*.dtso`, compiled by dtc when
//! the lab is built and found in `/lab/overlays`.

use crate::fpgactl::{fpgactl, ok};
use crate::kernel::{ctl_at, fpga_ctl, write_file};
use crate::{ensure, Report};
use backend_linux_sysfs::kmsg::{leaks, KmsgWatch};
use backend_linux_sysfs::{Kernel, OverlayLoader, Overlays, SysfsError, SysfsRoot};
use devlink_core::{ErrorKind, LinkState, Topology};
use fpga_core::{LoadTarget, ReprogramOptions, Step};
use futures::executor::block_on;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FPGA_LAST: &str = "/sys/kernel/debug/lab-fpga/last";
const OV_CTL: &str = "/sys/kernel/debug/lab-overlay/ctl";
const OF_MGR: &str = "Lab OF FPGA Manager";
const SETTLE: Duration = Duration::from_secs(10);

fn dtbo(name: &str) -> Result<Vec<u8>, String> {
    let p = format!("/lab/overlays/{name}.dtbo");
    std::fs::read(&p).map_err(|e| format!("{p}: {e}"))
}

/// An image for the lab manager (which takes any bytes): a SIMBIT, so
/// that fpgactl's format check accepts it too.
fn image(tag: u8) -> Vec<u8> {
    fpga_image::simbit::sim_image(&[tag; 600], false)
}

/// `bytes=N sum=S` of the last image the lab manager saw.
fn last() -> Result<(usize, u32), String> {
    let t = std::fs::read_to_string(FPGA_LAST).map_err(|e| format!("{FPGA_LAST}: {e}"))?;
    let field = |k: &str| {
        t.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_default()
            .to_string()
    };
    Ok((
        field("bytes=").parse().unwrap_or(0),
        field("sum=").parse().unwrap_or(0),
    ))
}

fn sum(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |s, &x| s.wrapping_add(x as u32))
}

/// The region of-fpga-region made, its manager and its target, once the
/// base overlay is on (polled: of-fpga-region's probe is retried after
/// the manager binds).
fn region_target(k: &Kernel) -> Result<(LoadTarget, String), String> {
    let started = Instant::now();
    loop {
        let view = k.read_fpga().map_err(|e| e.to_string())?;
        let mgr = view.managers.iter().find(|m| m.name == OF_MGR);
        if let Some(m) = mgr {
            if let Some(r) = view
                .regions
                .iter()
                .find(|r| r.parent.as_deref() == Some("platform:lab-fpga-region"))
            {
                let t = view.region_target(r).ok_or_else(|| {
                    format!(
                        "{}: its manager is not known (sysfs read of fpga-mgr failed): {r:?}",
                        r.dev
                    )
                })?;
                ensure(t.manager == m.dev, || {
                    format!("{} resolved to manager {}, not {}", r.dev, t.manager, m.dev)
                })?;
                return Ok((t, m.dev.clone()));
            }
        }
        if started.elapsed() > SETTLE {
            return Err(format!(
                "no region under platform:lab-fpga-region with {OF_MGR:?}: {view:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn dev(prefix: &str, name: &str) -> String {
    format!("platform:lab-fpga-region:{prefix}-{name}")
}

const CHILDREN: [&str; 8] = ["src", "c1", "c2", "c3", "f1", "f2", "f3", "f4"];

/// The fw_devlink links the region overlay `prefix` must have made, as
/// (supplier, consumer). f3's `dmas` makes none: fw_devlink counts it as
/// optional and follows it only with `fw_devlink.strict=1`.
fn expected_links(prefix: &str) -> Vec<(String, String)> {
    let d = |n| dev(prefix, n);
    vec![
        (d("src"), d("c1")),
        (d("c1"), d("c2")),
        (d("c2"), d("c3")),
        (d("src"), d("f1")),
        (d("src"), d("f2")),
        (d("src"), d("f4")),
    ]
}

/// Every child of overlay `prefix` bound, every expected link active, and
/// none for the optional `dmas`.
fn check_overlay_devices(t: &Topology, prefix: &str) -> Result<(), String> {
    for c in CHILDREN {
        let key = dev(prefix, c);
        let id = t.find(&key).map_err(|e| format!("{key}: {e}"))?;
        ensure(t.device(id).driver.as_deref() == Some("lab-dt"), || {
            format!("{key} bound to {:?}, not lab-dt", t.device(id).driver)
        })?;
    }
    for (s, c) in expected_links(prefix) {
        let l = t
            .links()
            .iter()
            .find(|l| l.supplier_key == s && l.consumer_key == c)
            .ok_or_else(|| {
                format!(
                    "no link {s} -> {c}; links: {:?}",
                    t.links().iter().map(|l| &l.name).collect::<Vec<_>>()
                )
            })?;
        ensure(l.status == LinkState::Active, || {
            format!("{} is {}", l.name, l.status)
        })?;
    }
    let f3 = dev(prefix, "f3");
    let optional: Vec<&String> = t
        .links()
        .iter()
        .filter(|l| l.consumer_key == f3)
        .map(|l| &l.name)
        .collect();
    ensure(optional.is_empty(), || {
        format!("dmas (optional without fw_devlink.strict) made links: {optional:?}")
    })
}

fn waiter_waits(t: &Topology, prefix: &str) -> Result<(), String> {
    let key = dev(prefix, "waiter");
    let id = t.find(&key).map_err(|e| format!("{key}: {e}"))?;
    let d = t.device(id);
    ensure(
        d.driver.is_none() && d.waiting_for_supplier == Some(true),
        || {
            format!(
                "{key}: driver {:?}, waiting_for_supplier {:?} (want unbound, 1)",
                d.driver, d.waiting_for_supplier
            )
        },
    )
}

fn none_left(t: &Topology, prefix: &str) -> Result<(), String> {
    let left: Vec<String> = t
        .devices()
        .iter()
        .map(|d| d.key())
        .filter(|k| k.starts_with(&format!("platform:lab-fpga-region:{prefix}-")))
        .collect();
    ensure(left.is_empty(), || format!("devices left behind: {left:?}"))
}

fn slots(ov: &Overlays) -> Vec<String> {
    ov.list()
        .map(|l| l.into_iter().map(|s| s.name).collect())
        .unwrap_or_default()
}

struct Steps(Mutex<Vec<Step>>);

impl fpga_core::Observer for Steps {
    fn step(&self, s: &Step) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s.clone());
    }
}

fn loader(
    k: &Kernel,
    t: &LoadTarget,
    slot: &str,
    overlay: &str,
    fw: &str,
    img: &[u8],
    remove: &[&str],
) -> Result<OverlayLoader, String> {
    Ok(OverlayLoader::new(
        k,
        t.clone(),
        slot,
        dtbo(overlay)?,
        Some((fw.to_string(), img.to_vec().into())),
        remove.iter().map(|s| s.to_string()).collect(),
    )
    .with_settle(SETTLE))
}

/// Reprograms through the engine; the steps and the kernel's log of the
/// run come back with the result.
fn reprogram(
    k: &Kernel,
    l: &OverlayLoader,
) -> (
    Result<fpga_core::ReprogramReport, fpga_core::ReprogramError>,
    Vec<Step>,
    Vec<backend_linux_sysfs::kmsg::KmsgRecord>,
) {
    let mut log = KmsgWatch::start(std::path::Path::new("/dev/kmsg"));
    let steps = Steps(Mutex::new(Vec::new()));
    let opts = ReprogramOptions {
        timeout: SETTLE,
        ..ReprogramOptions::default()
    };
    let r = block_on(fpga_core::reprogram(k, l, &opts, &steps));
    let steps = steps.0.into_inner().unwrap_or_else(|p| p.into_inner());
    (r, steps, log.records())
}

fn step_names(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter(|s| !matches!(s, Step::Loading { .. }))
        .map(|s| match s {
            Step::Unbind { device } => format!("unbind {device}"),
            Step::OverlayRemoved { slot } => format!("remove {slot}"),
            Step::OverlayApplied { slot } => format!("apply {slot}"),
            Step::WaitRemoval { .. } => "wait_removal".into(),
            other => format!("{other:?}")
                .split([' ', '{', '('])
                .next()
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

/// The whole section.
pub fn run(report: &mut Report) {
    let k = Kernel::new(SysfsRoot::default()).with_timeout(SETTLE);
    let ov = match Overlays::open(&k) {
        Ok(o) => o,
        Err(e) => return report.check("overlay/configfs-interface", Err(e.to_string())),
    };
    report.check(
        "overlay/configfs-interface",
        ensure(slots(&ov).is_empty(), || {
            format!("slots at start: {:?}", slots(&ov))
        }),
    );

    // The base: manager, bridge, region as device-tree devices.
    let base = dtbo("base").and_then(|b| {
        ov.apply("lab-base", &b, None, SETTLE)
            .map_err(|e| e.to_string())
    });
    let target = base.and_then(|_| region_target(&k));
    let (target, mgr) = match target {
        Ok(t) => t,
        Err(e) => return report.check("overlay/base-region-bound", Err(e)),
    };
    report.check("overlay/base-region-bound", Ok(()));

    // The first region overlay: of-fpga-region programs the manager.
    let img_a = image(0xa1);
    let first = (|| {
        let l = loader(
            &k,
            &target,
            "lab-a",
            "region-a",
            "lab-region-a.img",
            &img_a,
            &[],
        )?;
        let loaded = block_on(fpga_core::program(&k, &l, false, &|_: &Step| {}))
            .map_err(|e| e.to_string())?;
        ensure(loaded.state.sysfs() == "operating", || {
            format!("state {}", loaded.state.sysfs())
        })?;
        let (n, s) = last()?;
        ensure(n == img_a.len() && s == sum(&img_a), || {
            format!(
                "the manager saw {n} bytes (sum {s}), not the {} staged",
                img_a.len()
            )
        })?;
        ensure(
            !std::path::Path::new("/lib/firmware/lab-region-a.img").exists(),
            || "the staged image was left in /lib/firmware".into(),
        )
    })();
    report.check("overlay/region-programmed-by-of-fpga-region", first);
    let topo = k.read_topology().map_err(|e| e.to_string());
    report.check(
        "overlay/fw_devlink-links-active",
        topo.as_ref()
            .map_err(Clone::clone)
            .and_then(|t| check_overlay_devices(t, "a")),
    );
    report.check(
        "overlay/waiting_for_supplier-1",
        topo.as_ref()
            .map_err(Clone::clone)
            .and_then(|t| waiter_waits(t, "a")),
    );

    // fw_devlink from the device tree, against devlink-core reading the
    // same blobs: region-a's devices, then an overlay of the other
    // properties applied over it and removed again.
    let diff = |name: &str,
                node: &str,
                prefix: &str,
                declared: &[&str]|
     -> (Result<(), String>, Vec<String>) {
        let run = || -> Result<_, String> {
            let kernel =
                crate::of_diff::view(&k.read_topology().map_err(|e| e.to_string())?, prefix);
            let core = crate::of_diff::devlink_core_view(&dtbo(name)?, node, prefix)?;
            Ok(crate::of_diff::compare(&kernel, &core, declared))
        };
        run().unwrap_or_else(|e| (Err(e), Vec::new()))
    };
    let (o, d) = diff(
        "region-a",
        "/lab-fpga-region",
        "platform:lab-fpga-region:a-",
        &[],
    );
    report.result("overlay/fw_devlink-differential-region-a", o, &d);
    let mut log = KmsgWatch::start(std::path::Path::new("/dev/kmsg"));
    let links = dtbo("links").and_then(|b| {
        ov.apply("lab-links", &b, None, SETTLE)
            .map_err(|e| e.to_string())
    });
    let (o, mut d) = match links {
        // A two-node `clocks` cycle among them: both sides end with no
        // link between the two (devlink-core kept one until this check
        // found it; docs/device-links.md).
        Ok(_) => diff("links", "/", "platform:l-", &[]),
        Err(e) => (Err(e), Vec::new()),
    };
    // What fw_devlink said of the cycle (info lines the console hides).
    d.extend(
        log.records()
            .into_iter()
            .filter(|r| r.text.contains("cycle") || r.text.contains("device link"))
            .map(|r| format!("kernel log: {}", r.text)),
    );
    let removed = ov.remove("lab-links", SETTLE);
    report.result("overlay/fw_devlink-differential-properties", o, &d);
    report.check(
        "overlay/device-only-overlay-removed-verified",
        removed.map_err(|e| e.to_string()).and_then(|r| {
            ensure(
                // l-off is disabled: a node, no device.
                r.devices.len() == 10 && r.nodes.len() == 11 && r.log_unread.is_none(),
                || format!("{r:?}"),
            )
        }),
    );

    // b48: the base is under the region overlay; removing it first is
    // refused before anything is touched.
    let b48 = (|| {
        let e = ov
            .remove("lab-base", SETTLE)
            .err()
            .ok_or("removing the base under lab-a was not refused")?;
        ensure(
            e.kind() == ErrorKind::Busy && e.to_string().contains("lab-a"),
            || format!("wanted Busy naming lab-a: {e}"),
        )?;
        ensure(slots(&ov).contains(&"lab-base".to_string()), || {
            "the base slot went anyway".into()
        })?;
        let order = ov.order().map_err(|e| e.to_string())?;
        ensure(order == ["lab-base", "lab-a"], || {
            format!("order {order:?}")
        })
    })();
    report.check("overlay/b48-only-topmost-removed", b48);

    // The seed, warning-free: dependents down consumers first, the old
    // overlay off, links gone, then the new one on.
    let img_b = image(0xb2);
    let seed = (|| {
        let l = loader(
            &k,
            &target,
            "lab-b",
            "region-b",
            "lab-region-b.img",
            &img_b,
            &["lab-a"],
        )?;
        let (r, steps, log) = reprogram(&k, &l);
        let names = step_names(&steps);
        let r = r.map_err(|e| format!("{e}; steps {names:?}"))?;
        let pos = |s: &str| names.iter().position(|n| n == s);
        let unbinds: Vec<&String> = names.iter().filter(|n| n.starts_with("unbind ")).collect();
        ensure(unbinds.len() == 8, || format!("unbound {unbinds:?}"))?;
        for (s, c) in expected_links("a") {
            let (ps, pc) = (pos(&format!("unbind {s}")), pos(&format!("unbind {c}")));
            ensure(pc < ps, || format!("{c} not unbound before {s}: {names:?}"))?;
        }
        let removed = pos("remove lab-a").ok_or("lab-a not removed")?;
        ensure(
            unbinds.iter().all(|u| pos(u).is_some_and(|p| p < removed))
                && pos("apply lab-b").is_some_and(|p| p > removed),
            || format!("order: {names:?}"),
        )?;
        let leaked = leaks(&log);
        ensure(leaked.is_empty(), || {
            format!("the kernel logged leaks: {leaked:?}")
        })?;
        let t = k.read_topology().map_err(|e| e.to_string())?;
        none_left(&t, "a")?;
        check_overlay_devices(&t, "b")?;
        waiter_waits(&t, "b")?;
        let (n, s) = last()?;
        ensure(n == img_b.len() && s == sum(&img_b), || {
            format!("manager saw {n} bytes")
        })?;
        ensure(r.loaded.state.sysfs() == "operating", || {
            format!("state {}", r.loaded.state.sysfs())
        })
    })();
    report.check("overlay/seed-reprogram-warning-free", seed);

    // The seed's failure, proven: a held node of lab-b makes the kernel
    // warn when its changeset is destroyed; the library reports it as the
    // leak error naming the node, and this check sees it in the log.
    let leak = (|| {
        ctl_at(OV_CTL, "hold /lab-fpga-region/b-f1")?;
        let l = loader(
            &k,
            &target,
            "lab-a",
            "region-a",
            "lab-region-a.img",
            &img_a,
            &["lab-b"],
        )?;
        let (r, _, log) = reprogram(&k, &l);
        let released = ctl_at(OV_CTL, "release");
        let e = r.err().ok_or("reprogram with a held node succeeded")?;
        let text = e.to_string();
        ensure(
            e.kind() == ErrorKind::Busy && text.contains("/lab-fpga-region/b-f1"),
            || format!("wanted the leak error naming /lab-fpga-region/b-f1: {text}"),
        )?;
        let leaked = leaks(&log);
        ensure(
            leaked
                .iter()
                .any(|l| l.node == "/lab-fpga-region/b-f1" && l.refcount == Some(2)),
            || format!("the log shows no leak of b-f1: {leaked:?}"),
        )?;
        released?;
        let t = k.read_topology().map_err(|e| e.to_string())?;
        none_left(&t, "b")?;
        ensure(!slots(&ov).contains(&"lab-a".to_string()), || {
            "the new overlay was applied after the leak".into()
        })
    })();
    report.check("overlay/seed-leak-reported-naming-node", leak);

    // A load that fails inside the apply (the region is free now).
    let failing = (|| {
        fpga_ctl("fail write_init -5")?;
        let l = loader(
            &k,
            &target,
            "lab-fail",
            "region-a",
            "lab-region-a.img",
            &img_a,
            &[],
        )?;
        let r = block_on(fpga_core::program(&k, &l, false, &|_: &Step| {}));
        fpga_ctl("ok")?;
        let e = r.err().ok_or("the apply with a failing load succeeded")?;
        ensure(e.to_string().contains("write init error"), || {
            format!("wanted the manager's state in the error: {e}")
        })?;
        ensure(!slots(&ov).contains(&"lab-fail".to_string()), || {
            "the failed slot was left".into()
        })?;
        none_left(&k.read_topology().map_err(|e| e.to_string())?, "a")?;
        ensure(
            !std::path::Path::new("/lib/firmware/lab-region-a.img").exists(),
            || "the staged image was left".into(),
        )
    })();
    report.check("overlay/failing-load-leaves-nothing", failing);

    let rejected = (|| {
        let e = ov
            .apply("lab-rejected", &dtbo("rejected")?, None, SETTLE)
            .err()
            .ok_or("the kernel accepted an overlay with no target")?;
        ensure(!slots(&ov).contains(&"lab-rejected".to_string()), || {
            format!("slot left after {e}")
        })?;
        ensure(e.kind() == ErrorKind::InvalidInput, || {
            format!("wanted EINVAL's kind: {e}")
        })
    })();
    report.check("overlay/rejected-overlay-leaves-nothing", rejected);

    // The region again, then a second apply into the same slot.
    let exists = (|| {
        let l = loader(
            &k,
            &target,
            "lab-a",
            "region-a",
            "lab-region-a.img",
            &img_a,
            &[],
        )?;
        block_on(fpga_core::program(&k, &l, false, &|_: &Step| {})).map_err(|e| e.to_string())?;
        let again = loader(
            &k,
            &target,
            "lab-a",
            "region-b",
            "lab-region-b.img",
            &img_b,
            &[],
        )?;
        let e = block_on(fpga_core::ImageLoader::check(&again))
            .err()
            .ok_or("an existing slot was not refused")?;
        ensure(matches!(e, SysfsError::Busy { .. }), || format!("{e}"))?;
        check_overlay_devices(&k.read_topology().map_err(|e| e.to_string())?, "a")
    })();
    report.check("overlay/existing-slot-refused", exists);

    // fpgactl, another process: it finds lab-a as the region's overlay
    // from the order file this process wrote, and replaces it.
    let cli = (|| {
        let img = "/tmp/lab-region-b.simbit";
        std::fs::write(img, &img_b).map_err(|e| e.to_string())?;
        let o = ok(&[
            "--json",
            "reprogram",
            &target.name,
            img,
            "--overlay",
            "/lab/overlays/region-b.dtbo",
        ])?;
        let v: serde_json::Value =
            serde_json::from_str(&o.stdout).map_err(|e| format!("JSON: {e}: {}", o.stdout))?;
        let steps = v["steps"].to_string();
        ensure(
            steps.contains("overlay_removed")
                && steps.contains("lab-a")
                && steps.contains(&format!("fpgactl-{}-0", target.name)),
            || format!("steps: {steps}"),
        )?;
        let t = k.read_topology().map_err(|e| e.to_string())?;
        none_left(&t, "a")?;
        check_overlay_devices(&t, "b")?;
        let (n, _) = last()?;
        ensure(n == img_b.len(), || format!("manager saw {n} bytes"))?;
        // The simulator has no overlays: said plainly, exit 8.
        let sim = Command::new(crate::fpgactl::FPGACTL)
            .args([
                "reprogram",
                "region0",
                img,
                "--overlay",
                "/lab/overlays/region-b.dtbo",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        ensure(sim.status.code() == Some(8), || {
            format!("--backend sim --overlay: {:?}", sim.status.code())
        })
    })();
    report.check("overlay/fpgactl-reprogram-overlay", cli);
    let _ = fpgactl(&["list"]);

    // b49: the dfx-mgr bind sequence through driver_override.
    let b49 = (|| {
        let d = dev("b", "f2");
        let b = k.bind_override(&d, "lab").map_err(|e| e.to_string())?;
        let sysdir = "/sys/bus/platform/devices/lab-fpga-region:b-f2";
        let drv = std::fs::read_link(format!("{sysdir}/driver")).map_err(|e| e.to_string())?;
        ensure(
            drv.ends_with("lab") && b.previous.as_deref() == Some("lab-dt"),
            || format!("bound to {drv:?}, previous {:?}", b.previous),
        )?;
        k.unbind_override(&b).map_err(|e| e.to_string())?;
        let over = std::fs::read_to_string(format!("{sysdir}/driver_override")).unwrap_or_default();
        ensure(
            !std::path::Path::new(&format!("{sysdir}/driver")).exists() && over.trim() == "(null)",
            || format!("after the undo: driver_override {over:?}"),
        )?;
        write_file("/sys/bus/platform/drivers_probe", "lab-fpga-region:b-f2")
            .map_err(|e| e.to_string())?;
        // And with a UIO driver: QEMU's edu handed to uio_pci_generic.
        let Some(edu) = crate::uio::edu_name() else {
            return Err("no edu device".into());
        };
        let key = format!("pci:{edu}");
        // The uio section may have left it bound to uio_pci_generic: the
        // sequence then has nothing to do, so start from unbound.
        let was = block_on(devlink_core::drive::Unbind::unbind_one(&k, &key))
            .map_err(|e| e.to_string())?;
        let b = k
            .bind_override(&key, "uio_pci_generic")
            .map_err(|e| e.to_string())?;
        ensure(b.changed, || format!("{b:?}"))?;
        let uio = k.uio_of(&key).map_err(|e| e.to_string())?;
        ensure(uio.as_deref().is_some_and(|u| u.starts_with("uio")), || {
            format!("{key}: uio {uio:?}")
        })?;
        k.unbind_override(&b).map_err(|e| e.to_string())?;
        let gone = k.uio_of(&key).map_err(|e| e.to_string())?;
        ensure(gone.is_none(), || format!("uio after undo: {gone:?}"))?;
        if was.is_some() {
            // As the uio section left it; already bound, nothing changes.
            k.bind_override(&key, "uio_pci_generic")
                .map_err(|e| e.to_string())?;
            let again = k
                .bind_override(&key, "uio_pci_generic")
                .map_err(|e| e.to_string())?;
            ensure(!again.changed, || format!("{again:?}"))?;
        }
        Ok(())
    })();
    report.check("overlay/b49-driver_override-sequence", b49);

    // Last: the vendor interface's hazard itself. A raw rmdir of a
    // non-topmost slot (what b48 refuses) is only logged by the kernel,
    // and the overlay stays applied with no slot left to remove it by.
    let raw = (|| {
        let mut log = KmsgWatch::start(std::path::Path::new("/dev/kmsg"));
        std::fs::remove_dir("/sys/kernel/config/device-tree/overlays/lab-base")
            .map_err(|e| e.to_string())?;
        let said: Vec<String> = log.records().into_iter().map(|r| r.text).collect();
        ensure(said.iter().any(|l| l.contains("not topmost")), || {
            format!("the kernel said: {said:?}")
        })?;
        let still = std::path::Path::new("/sys/firmware/devicetree/base/lab-fpga-manager").exists();
        ensure(still, || "the base overlay's nodes went".into())?;
        ensure(
            k.read_fpga()
                .map_err(|e| e.to_string())?
                .managers
                .iter()
                .any(|m| m.dev == mgr),
            || "the base's manager went".into(),
        )
    })();
    report.check("overlay/raw-rmdir-of-non-topmost-is-ignored-by-kernel", raw);
}
