//! The sysfs backend's driving half (`backend_linux_sysfs::Kernel`) on the
//! live kernel: unbind consumers-first through each driver's `unbind`,
//! the settle and quiet waits, rebind suppliers-first through
//! `drivers/<drv>/bind`, and the deferral a link-gated bind gets through
//! either file. The devices and links come from the `lab_devlink` module.

use crate::kernel::{ctl_ok, reset, write_file};
use crate::{ensure, Report};
use backend_linux_sysfs::{Kernel, Settle, Snapshot, SysfsError, SysfsRoot, Unbound};
use devlink_core::{ErrorKind, LinkState};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);
/// For a bind that is expected to stay deferred, and for a wait that is
/// expected to time out.
const SHORT: Duration = Duration::from_millis(300);

fn kernel() -> Kernel {
    Kernel::new(SysfsRoot::default())
}

fn key(name: &str) -> String {
    format!("platform:{name}")
}

fn snap(k: &Kernel) -> Result<Snapshot, String> {
    k.snapshot().map_err(|e| format!("snapshot: {e}"))
}

fn bound(s: &Snapshot, name: &str) -> Result<bool, String> {
    s.device(&key(name))
        .map(|d| d.is_bound())
        .ok_or_else(|| format!("no device {}", key(name)))
}

fn status(s: &Snapshot, sup: &str, con: &str) -> String {
    let name = format!("platform:{sup}--platform:{con}");
    s.links
        .values()
        .find(|l| l.name == name)
        .map(|l| l.status.sysfs_status().to_string())
        .unwrap_or_else(|| format!("(no link {name})"))
}

fn path_of(s: &Snapshot, name: &str) -> Result<String, String> {
    s.device(&key(name))
        .map(|d| d.path.clone())
        .ok_or_else(|| format!("no device {}", key(name)))
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

fn all_links(s: &Snapshot, want: &str) -> Result<(), String> {
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
        down = k.unbind(&key("lab-s"), T).map_err(err_str)?;
        let order: Vec<&str> = down.iter().map(|u| u.key.as_str()).collect();
        let want = ["lab-g", "lab-c2", "lab-c1", "lab-s"].map(key);
        ensure(order == want, || {
            format!("unbind order {order:?}, expected {want:?}")
        })?;
        ensure(
            down.iter()
                .all(|u| u.driver == "lab" && u.bus == "platform"),
            || format!("{down:?}"),
        )?;
        let s = snap(&k)?;
        for u in &down {
            ensure(!bound(&s, &u.name)?, || format!("{} still bound", u.key))?;
        }
        Ok(())
    })();
    report.check("drive/unbind-consumers-first", r);

    let r = (|| {
        let settle = Settle {
            gone: vec![],
            unbound: down.iter().map(|u| u.path.clone()).collect(),
        };
        k.wait_settled(&settle, T).map_err(err_str)?;
        all_links(&snap(&k)?, "dormant")
    })();
    report.check("drive/wait-settled-after-unbind", r);

    let r = (|| {
        ensure(!down.is_empty(), || "nothing was unbound".into())?;
        let missing = k.rebind(&down, T).map_err(err_str)?;
        ensure(missing.is_empty(), || {
            format!("not found again: {missing:?}")
        })?;
        let s = snap(&k)?;
        for u in &down {
            ensure(bound(&s, &u.name)?, || format!("{} not bound again", u.key))?;
        }
        all_links(&s, "active")
    })();
    report.check("drive/rebind-suppliers-first", r);

    // A link-gated bind. The kernel fact first: `drivers_probe` (the file
    // `Kernel::bind` writes without a driver) answers a link-gated device
    // with EINVAL (any negative `device_attach()` is EINVAL there), and
    // queues it for a deferred retry, unlike `drivers/<drv>/bind`.
    let r = (|| {
        down = k.unbind(&key("lab-s"), T).map_err(err_str)?;
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
        k.rebind(&down, T).map_err(err_str)?;
        all_links(&snap(&k)?, "active")
    })();
    report.check("drive/kernel-drivers_probe-gated-einval-retried", r);

    let r = (|| {
        down = k.unbind(&key("lab-s"), T).map_err(err_str)?;
        // lab-c2 for drivers_probe: the kernel queues it for a retry, and
        // nothing depends on it, so that retry cannot race the rebind of a
        // supplier.
        for (what, dev, driver) in [
            ("bind file", "lab-c1", Some("lab")),
            ("drivers_probe", "lab-c2", None),
        ] {
            let e = match k.bind(&key(dev), driver, SHORT) {
                Ok(()) => return Err(format!("{what}: a gated bind succeeded")),
                Err(e) => e,
            };
            ensure(e.kind() == ErrorKind::Deferred, || {
                format!("{what}: kind {:?}, expected Deferred: {e}", e.kind())
            })?;
            ensure(e.to_string().contains("platform:lab-s"), || {
                format!("{what}: the error does not name the supplier: {e}")
            })?;
        }
        let s = snap(&k)?;
        ensure(!bound(&s, "lab-c1")? && !bound(&s, "lab-c2")?, || {
            "a gated device bound".into()
        })?;
        k.rebind(&down, T).map_err(err_str)?;
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
        let unbinder = std::thread::spawn(|| kernel().unbind_only(&key("lab-s"), T));
        let started = std::time::Instant::now();
        while status(&snap(&k)?, "lab-s", "lab-c1") != "supplier unbinding" {
            if started.elapsed() > T {
                let _ = ctl_ok("release");
                let _ = unbinder.join();
                return Err("the link never read `supplier unbinding`".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let s_path = path_of(&snap(&k)?, "lab-s")?;
        let settle = Settle {
            gone: vec![],
            unbound: vec![s_path],
        };
        let during = k.wait_settled(&settle, SHORT);
        let quiet = k.wait_quiet(SHORT);
        ctl_ok("release")?;
        let u = unbinder
            .join()
            .map_err(|_| "unbind thread panicked".to_string())?
            .map_err(err_str)?;
        ensure(u.as_ref().is_some_and(|u| u.key == key("lab-s")), || {
            format!("unbind_only returned {u:?}")
        })?;
        for (what, r) in [("wait_settled", during), ("wait_quiet", quiet)] {
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
        k.wait_settled(&settle, T).map_err(err_str)?;
        k.wait_quiet(T).map_err(err_str)?;
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
        let x = path_of(&snap(&k)?, "lab-x")?;
        let settle = Settle {
            gone: vec![x.clone()],
            unbound: vec![],
        };
        match k.wait_settled(&settle, SHORT) {
            Err(e @ SysfsError::Timeout { .. }) if e.to_string().contains(&x) => {}
            other => {
                return Err(format!(
                    "with lab-x present: {other:?}, expected a timeout naming {x}"
                ))
            }
        }
        ctl_ok("del lab-x")?;
        k.wait_settled(&settle, T).map_err(err_str)?;
        let s = snap(&k)?;
        ensure(
            s.device(&key("lab-x")).is_none()
                && !s.links.values().any(|l| l.name.contains("lab-x")),
            || "lab-x or one of its links is still there".into(),
        )
    })();
    report.check("drive/wait-settled-gone", r);

    let r = (|| {
        reset()?;
        k.wait_quiet(T).map_err(err_str)?;
        let s = snap(&k)?;
        let busy: Vec<String> = s
            .links
            .values()
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
