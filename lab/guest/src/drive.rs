//! The sysfs backend's driving half (`backend_linux_sysfs::Kernel`, the
//! driver-model contract) on the live kernel: unbind consumers-first
//! through each driver's `unbind`, the settle wait, rebind
//! suppliers-first through `drivers/<drv>/bind`, and the deferral a
//! link-gated bind gets through either file. The devices and links come
//! from the `lab_devlink` module.

use crate::kernel::{ctl_ok, reset, write_file};
use crate::{ensure, Report};
use backend_linux_sysfs::{Kernel, SysfsError, SysfsRoot};
use devlink_core::drive::{
    rebind, unbind_tree, Bind, BindOutcome, Settle, Unbind, Unbound, WaitRemoval,
};
use devlink_core::{LinkState, Topology};
use futures::executor::block_on;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);
/// For a bind that is expected to stay deferred, and for a wait that is
/// expected to time out.
const SHORT: Duration = Duration::from_millis(300);

fn kernel() -> Kernel {
    Kernel::new(SysfsRoot::default()).with_timeout(T)
}

fn key(name: &str) -> String {
    format!("platform:{name}")
}

fn snap(k: &Kernel) -> Result<Topology, String> {
    k.read_topology().map_err(|e| format!("topology: {e}"))
}

fn bound(s: &Topology, name: &str) -> Result<bool, String> {
    s.named(&key(name))
        .map(|d| d.is_bound())
        .ok_or_else(|| format!("no device {}", key(name)))
}

fn status(s: &Topology, sup: &str, con: &str) -> String {
    let name = format!("platform:{sup}--platform:{con}");
    s.link_named(&name)
        .map(|l| l.status.sysfs_status().to_string())
        .unwrap_or_else(|| format!("(no link {name})"))
}

fn unbind(k: &Kernel, dev: &str) -> Result<Vec<Unbound>, String> {
    block_on(unbind_tree(k, &key(dev))).map_err(|p| p.error.to_string())
}

fn rebind_all(k: &Kernel, down: &[Unbound]) -> Result<(), String> {
    let r = block_on(rebind(k, down));
    ensure(r.not_bound.is_empty(), || {
        format!("not bound again: {:?}", r.not_bound)
    })
}

fn settle(k: &Kernel, settle: &Settle, t: Duration) -> Result<(), SysfsError> {
    block_on(k.wait_removal(settle, t)).map(|_| ())
}

/// lab-s supplies lab-c1 and lab-c2; lab-c1 supplies lab-g. All managed
/// links, all four bound.
fn setup() -> Result<(), String> {
    reset()?;
    for d in ["lab-s", "lab-c1", "lab-c2", "lab-g"] {
        ctl_ok(&format!("dev {d}"))?;
    }
    ctl_ok("link lab-c1 lab-s 0")?;
    ctl_ok("link lab-c2 lab-s 0")?;
    ctl_ok("link lab-g lab-c1 0")?;
    for d in ["lab-s", "lab-c1", "lab-c2", "lab-g"] {
        ctl_ok(&format!("bind {d}"))?;
    }
    Ok(())
}

const LINKS: [(&str, &str); 3] = [
    ("lab-s", "lab-c1"),
    ("lab-s", "lab-c2"),
    ("lab-c1", "lab-g"),
];

fn all_links(s: &Topology, want: &str) -> Result<(), String> {
    for (a, b) in LINKS {
        let st = status(s, a, b);
        ensure(st == want, || {
            format!("link {a}--{b} is {st:?}, expected {want:?}")
        })?;
    }
    Ok(())
}

fn err_str(e: SysfsError) -> String {
    e.to_string()
}

/// Every check of this section.
pub fn run(report: &mut Report) {
    if !crate::kernel::available() {
        report.check("drive", Err("the lab_devlink module is not loaded".into()));
        return;
    }
    let k = kernel();
    if let Err(e) = setup() {
        report.check("drive/setup", Err(e));
        return;
    }

    // unbind: consumers first, every one unbound in sysfs.
    let mut down: Vec<Unbound> = Vec::new();
    let r = (|| {
        down = unbind(&k, "lab-s")?;
        let order: Vec<&str> = down.iter().map(|u| u.key.as_str()).collect();
        // Consumers first: lab-g before lab-c1, both before lab-s.
        let pos = |n: &str| order.iter().position(|k| *k == key(n));
        ensure(
            pos("lab-g") < pos("lab-c1")
                && pos("lab-c1") < pos("lab-s")
                && pos("lab-c2") < pos("lab-s")
                && order.len() == 4,
            || format!("unbind order {order:?}"),
        )?;
        ensure(down.iter().all(|u| u.driver == "lab"), || {
            format!("{down:?}")
        })?;
        let s = snap(&k)?;
        for u in &down {
            ensure(!s.named(&u.key).is_some_and(|d| d.is_bound()), || {
                format!("{} still bound", u.key)
            })?;
        }
        Ok(())
    })();
    report.check("drive/unbind-consumers-first", r);

    let r = (|| {
        let s = Settle {
            unbound: down.iter().map(|u| u.key.clone()).collect(),
            ..Settle::default()
        };
        settle(&k, &s, T).map_err(err_str)?;
        all_links(&snap(&k)?, "dormant")
    })();
    report.check("drive/wait-settled-after-unbind", r);

    let r = (|| {
        ensure(!down.is_empty(), || "nothing was unbound".into())?;
        rebind_all(&k, &down)?;
        let s = snap(&k)?;
        for u in &down {
            ensure(s.named(&u.key).is_some_and(|d| d.is_bound()), || {
                format!("{} not bound again", u.key)
            })?;
        }
        all_links(&s, "active")
    })();
    report.check("drive/rebind-suppliers-first", r);

    // A link-gated bind. The kernel fact first: `drivers_probe` (the file
    // `Kernel::bind` writes without a driver) answers a link-gated device
    // with EINVAL (any negative `device_attach()` is EINVAL there), and
    // queues it for a deferred retry, unlike `drivers/<drv>/bind`.
    let r = (|| {
        down = unbind(&k, "lab-s")?;
        let e =
            write_file("/sys/bus/platform/drivers_probe", "lab-c2").map_err(|e| e.raw_os_error());
        ensure(e == Err(Some(libc::EINVAL)), || {
            format!("gated drivers_probe gave {e:?}, expected EINVAL")
        })?;
        ctl_ok("bind lab-s")?;
        ctl_ok("settle")?;
        let s = snap(&k)?;
        ensure(bound(&s, "lab-c2")?, || {
            "lab-c2 was not retried after its supplier bound (drivers_probe queues a deferred probe)".into()
        })?;
        ensure(!bound(&s, "lab-c1")?, || "lab-c1 bound by itself".into())?;
        // lab-c1 and lab-g are still down; the backend binds them back.
        rebind_all(&k, &down)?;
        all_links(&snap(&k)?, "active")
    })();
    report.check("drive/kernel-drivers_probe-gated-einval-retried", r);

    let r = (|| {
        down = unbind(&k, "lab-s")?;
        // lab-c2 for drivers_probe: the kernel queues it for a retry, and
        // nothing depends on it, so that retry cannot race the rebind of a
        // supplier.
        for (what, dev, driver) in [
            ("bind file", "lab-c1", Some("lab")),
            ("drivers_probe", "lab-c2", None),
        ] {
            match block_on(k.bind(&key(dev), driver)) {
                Ok(BindOutcome::Deferred { waiting }) => {
                    let w: Vec<String> = waiting.iter().map(ToString::to_string).collect();
                    ensure(w.iter().any(|w| w.contains("platform:lab-s")), || {
                        format!("{what}: deferred, but not naming the supplier: {w:?}")
                    })?;
                }
                other => return Err(format!("{what}: {other:?}, expected a deferral")),
            }
        }
        let s = snap(&k)?;
        ensure(!bound(&s, "lab-c1")? && !bound(&s, "lab-c2")?, || {
            "a gated device bound".into()
        })?;
        rebind_all(&k, &down)?;
        all_links(&snap(&k)?, "active")
    })();
    report.check("drive/bind-gated-is-deferred-naming-supplier", r);

    // The settle and quiet waits wait for a supplier's unbind to finish:
    // hold lab-s's remove callback and watch both time out naming the
    // link, then let it go.
    let r = (|| {
        // Fresh and all bound, whatever the checks above left.
        setup()?;
        ctl_ok("hold lab-s")?;
        let unbinder = std::thread::spawn(|| block_on(kernel().unbind_one(&key("lab-s"))));
        let started = std::time::Instant::now();
        while status(&snap(&k)?, "lab-s", "lab-c1") != "supplier unbinding" {
            if started.elapsed() > T {
                let _ = ctl_ok("release");
                let _ = unbinder.join();
                return Err("the link never read `supplier unbinding`".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let held = Settle {
            unbound: vec![key("lab-s")],
            ..Settle::default()
        };
        let during = settle(&k, &held, SHORT);
        let quiet = settle(&k, &Settle::default(), SHORT);
        ctl_ok("release")?;
        let u = unbinder
            .join()
            .map_err(|_| "unbind thread panicked".to_string())?
            .map_err(err_str)?;
        ensure(u.as_ref().is_some_and(|u| u.key == key("lab-s")), || {
            format!("unbind_only returned {u:?}")
        })?;
        for (what, r) in [("wait_removal of lab-s", during), ("wait_removal", quiet)] {
            match r {
                Err(e @ SysfsError::Timeout { .. })
                    if e.to_string().contains("supplier unbinding") => {}
                other => {
                    return Err(format!(
                        "{what} during the held unbind: {other:?}, expected a timeout naming `supplier unbinding`"
                    ))
                }
            }
        }
        settle(&k, &held, T).map_err(err_str)?;
        let s = snap(&k)?;
        all_links(&s, "dormant")?;
        ensure(!bound(&s, "lab-c1")? && !bound(&s, "lab-g")?, || {
            "consumers still bound after their supplier's unbind".into()
        })
    })();
    report.check("drive/wait-settled-waits-for-supplier-unbinding", r);

    // `gone`: a deleted device and its links.
    let r = (|| {
        ctl_ok("dev lab-x")?;
        ctl_ok("link lab-x lab-s 0")?;
        let x = key("lab-x");
        let gone = Settle {
            gone: vec![x.clone()],
            ..Settle::default()
        };
        match settle(&k, &gone, SHORT) {
            Err(e @ SysfsError::Timeout { .. }) if e.to_string().contains(&x) => {}
            other => {
                return Err(format!(
                    "with lab-x present: {other:?}, expected a timeout naming {x}"
                ))
            }
        }
        ctl_ok("del lab-x")?;
        settle(&k, &gone, T).map_err(err_str)?;
        let s = snap(&k)?;
        ensure(
            s.named(&key("lab-x")).is_none() && !s.links().iter().any(|l| l.name.contains("lab-x")),
            || "lab-x or one of its links is still there".into(),
        )
    })();
    report.check("drive/wait-settled-gone", r);

    let r = (|| {
        reset()?;
        settle(&k, &Settle::default(), T).map_err(err_str)?;
        let s = snap(&k)?;
        let busy: Vec<String> = s
            .links()
            .iter()
            .filter(|l| {
                matches!(
                    l.status,
                    LinkState::ConsumerProbe | LinkState::SupplierUnbind
                )
            })
            .map(|l| l.name.clone())
            .collect();
        ensure(busy.is_empty(), || format!("links in transition: {busy:?}"))
    })();
    report.check("drive/wait-quiet", r);
}
