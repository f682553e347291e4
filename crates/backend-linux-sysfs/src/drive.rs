//! Driving the kernel's driver model through sysfs: unbind and bind
//! through the bus driver's files in a safe order, and the wait for the
//! kernel to finish.
//!
//! The kernel does the work synchronously inside each write, but what a
//! write sets off (deferred probes, link release on the devlink removal
//! queue, an overlay's devices going away) finishes later; every step
//! here therefore checks its effect by reading sysfs back, within a
//! deadline, and a timeout names what had not happened.

use crate::error::{Result, SysfsError};
use crate::io::Dir;
use crate::root::SysfsRoot;
use crate::scan::{Snapshot, SysDevice};
use devlink_core::LinkState;
use std::time::{Duration, Instant};

/// A device this crate unbound, with what is needed to bind it back even
/// if its directory moved meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbound {
    /// `bus:name`.
    pub key: String,
    /// The directory name.
    pub name: String,
    /// The bus.
    pub bus: String,
    /// The driver it was bound to.
    pub driver: String,
    /// Its directory when it was unbound.
    pub path: String,
}

/// What [`Kernel::wait_settled`] waits for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settle {
    /// Device directories (relative to the sysfs root) that must be gone,
    /// with every link that touched them.
    pub gone: Vec<String>,
    /// Devices (directories) that were unbound: every link they consume
    /// must be back at rest (`available`, `dormant` or `not tracked`),
    /// and every link they supply must have left `supplier unbinding`.
    pub unbound: Vec<String>,
}

/// Handle for driving one kernel (or fixture tree).
///
/// ```no_run
/// use backend_linux_sysfs::{Kernel, SysfsRoot};
/// use std::time::Duration;
/// let k = Kernel::new(SysfsRoot::default());
/// let down = k.unbind("platform:fpga-consumer", Duration::from_secs(5))?;
/// // ... reprogram ...
/// k.rebind(&down, Duration::from_secs(5))?;
/// # Ok::<(), backend_linux_sysfs::SysfsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Kernel {
    root: SysfsRoot,
    poll: Duration,
}

impl Kernel {
    /// A handle on `root`.
    pub fn new(root: SysfsRoot) -> Kernel {
        Kernel {
            root,
            poll: Duration::from_millis(5),
        }
    }

    /// How often waits re-read sysfs (default 5 ms).
    pub fn with_poll_interval(mut self, poll: Duration) -> Kernel {
        self.poll = poll;
        self
    }

    /// The roots.
    pub fn root(&self) -> &SysfsRoot {
        &self.root
    }

    /// Reads everything once.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::read(&self.root)
    }

    /// Polls `check` until it reports nothing pending or `timeout` passes.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<Vec<String>>,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let pending = check()?;
            if pending.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(SysfsError::Timeout {
                    what: what.to_string(),
                    waited_ms: start.elapsed().as_millis() as u64,
                    pending,
                });
            }
            std::thread::sleep(self.poll);
        }
    }

    /// The devices that go down with `device`, consumers first, ending
    /// with `device` itself: its children and consumers, transitively.
    /// Only bound ones are listed.
    pub fn teardown_order<'a>(
        &self,
        snap: &'a Snapshot,
        device: &str,
    ) -> Result<Vec<&'a SysDevice>> {
        let dev = snap.expect_device(device, self.root.sys())?;
        let mut order: Vec<&SysDevice> = snap.dependents(dev).into_iter().rev().collect();
        order.push(dev);
        order.retain(|d| d.is_bound());
        Ok(order)
    }

    /// Unbinds `device` and everything bound that depends on it,
    /// consumers first, by writing each device's name to its driver's
    /// `unbind` file; checks after each write that the driver link is
    /// gone. Returns what was unbound, in order, for [`rebind`](Self::rebind).
    /// A device that is not bound is not an error: the list is empty.
    pub fn unbind(&self, device: &str, timeout: Duration) -> Result<Vec<Unbound>> {
        let snap = self.snapshot()?;
        let sys = Dir::open(self.root.sys())?;
        let mut done = Vec::new();
        for d in self.teardown_order(&snap, device)? {
            done.extend(self.unbind_dev(&sys, d, timeout)?);
        }
        Ok(done)
    }

    /// Unbinds `device` alone (no dependents): writes its name to its
    /// driver's `unbind` and waits until the `driver` link is gone.
    /// `None` if it was not bound (the kernel may have unbound it already:
    /// a managed link's consumer goes down with its supplier).
    pub fn unbind_only(&self, device: &str, timeout: Duration) -> Result<Option<Unbound>> {
        let snap = self.snapshot()?;
        let d = snap.expect_device(device, self.root.sys())?;
        self.unbind_dev(&Dir::open(self.root.sys())?, d, timeout)
    }

    /// [`unbind_only`](Self::unbind_only) of a device from a snapshot,
    /// whose `driver` link is checked live first (the snapshot may be
    /// older than a cascade the kernel ran meanwhile).
    pub(crate) fn unbind_dev(
        &self,
        sys: &Dir,
        d: &SysDevice,
        timeout: Duration,
    ) -> Result<Option<Unbound>> {
        let Some(bus) = d.bus.clone() else {
            return Ok(None);
        };
        let Some(dir) = sys.sub_opt(&d.path)? else {
            return Ok(None);
        };
        let Some(driver) = dir
            .read_link("driver")?
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        else {
            return Ok(None);
        };
        dir.write("driver/unbind", d.name.as_bytes())?;
        self.wait_until(&format!("unbind {}", d.key()), timeout, || {
            Ok(match sys.sub_opt(&d.path)? {
                Some(dir) if dir.read_link("driver")?.is_some() => {
                    vec![format!("{} still bound to {driver}", d.key())]
                }
                _ => Vec::new(),
            })
        })?;
        Ok(Some(Unbound {
            key: d.key(),
            name: d.name.clone(),
            bus,
            driver,
            path: d.path.clone(),
        }))
    }

    /// Binds `device` through its bus's `drivers_probe` (the kernel picks
    /// the driver, honouring `driver_override`), or through
    /// `drivers/<driver>/bind` when `driver` is given. If it is still not
    /// bound when `timeout` passes, the error lists what it waits for.
    pub fn bind(&self, device: &str, driver: Option<&str>, timeout: Duration) -> Result<()> {
        let snap = self.snapshot()?;
        self.bind_dev(
            snap.expect_device(device, self.root.sys())?,
            driver,
            timeout,
        )
    }

    /// [`bind`](Self::bind) of a device from a snapshot.
    fn bind_dev(&self, dev: &SysDevice, driver: Option<&str>, timeout: Duration) -> Result<()> {
        if dev.is_bound() {
            return Ok(());
        }
        let bus = dev.bus.clone().ok_or_else(|| {
            SysfsError::invalid(
                dev.key(),
                "a class device without a bus has no driver to bind",
            )
        })?;
        let sys = Dir::open(self.root.sys())?;
        let bus_dir = sys.sub(format!("bus/{bus}"))?;
        let written = match driver {
            Some(drv) => {
                crate::lock::safe_name("driver", drv)?;
                bus_dir.write(format!("drivers/{drv}/bind"), dev.name.as_bytes())
            }
            None => bus_dir.write("drivers_probe", dev.name.as_bytes()),
        };
        // The kernel answers a bind whose probe defers or fails with an
        // error on the write; what it waits for is read below either way.
        let write_err = written.err();
        let waited = self.wait_until(&format!("bind {}", dev.key()), timeout, || {
            Ok(match sys.sub_opt(&dev.path)? {
                Some(dir) if dir.read_link("driver")?.is_some() => Vec::new(),
                Some(_) => vec![format!("{} not bound", dev.key())],
                None => vec![format!("{} vanished", dev.key())],
            })
        });
        match waited {
            Ok(()) => Ok(()),
            Err(SysfsError::Timeout { .. }) => {
                let snap = self.snapshot()?;
                let missing = snap
                    .device(&dev.path)
                    .map(|d| snap.waiting_for(d).iter().map(|m| m.to_string()).collect())
                    .unwrap_or_default();
                Err(bind_failure(dev.key(), write_err, missing))
            }
            Err(e) => Err(e),
        }
    }

    /// Binds back what [`unbind`](Self::unbind) took down, suppliers
    /// first, each to the driver it had. A device is found again by
    /// `bus:name`, so one that was removed and re-created (an overlay
    /// re-applied) is bound at its new place; one that no longer exists is
    /// skipped and returned.
    pub fn rebind(&self, unbound: &[Unbound], timeout: Duration) -> Result<Vec<Unbound>> {
        let mut missing = Vec::new();
        for u in unbound.iter().rev() {
            let snap = self.snapshot()?;
            let Some(d) = snap.device(&u.key) else {
                missing.push(u.clone());
                continue;
            };
            self.bind_dev(d, Some(&u.driver), timeout)?;
        }
        Ok(missing)
    }

    /// Waits until the kernel has finished what unbinding and removal set
    /// off (see [`Settle`]), re-reading sysfs every poll interval.
    pub fn wait_settled(&self, settle: &Settle, timeout: Duration) -> Result<()> {
        self.wait_until("waiting for the kernel to settle", timeout, || {
            let snap = self.snapshot()?;
            Ok(pending(&snap, settle))
        })
    }
}

impl Kernel {
    /// Waits until no link is in a transition (`consumer probing`,
    /// `supplier unbinding`) and no link outlives a device that is gone:
    /// the kernel has finished what earlier binds, unbinds and removals
    /// set off.
    pub fn wait_quiet(&self, timeout: Duration) -> Result<()> {
        self.wait_until("waiting for the kernel to finish", timeout, || {
            let snap = self.snapshot()?;
            Ok(snap
                .links
                .values()
                .filter_map(|l| {
                    if matches!(
                        l.status,
                        LinkState::ConsumerProbe | LinkState::SupplierUnbind
                    ) {
                        return Some(format!("link {} is {}", l.name, l.status));
                    }
                    [&l.supplier, &l.consumer]
                        .into_iter()
                        .flatten()
                        .find(|p| !snap.devices.contains_key(*p))
                        .map(|p| format!("link {} outlives its device {p}", l.name))
                })
                .collect())
        })
    }
}

/// The error of a bind that did not bind within its timeout: `write_err`
/// is what the `bind` or `drivers_probe` write answered, `missing` what
/// sysfs says the device waits for.
///
/// A link-gated bind is a deferral, whatever the write said: the link
/// check runs before the driver's probe, so nothing else can have failed.
/// The kernel reports it differently per file: `drivers/<drv>/bind`
/// (`device_driver_attach()`) turns `-EPROBE_DEFER` into `EAGAIN` and
/// does not queue a retry; `drivers_probe` (`bus_rescan_devices_helper()`
/// through `device_attach()`) answers `EINVAL` for any negative result,
/// `-EPROBE_DEFER` included, and queues the device for a deferred retry.
/// `EPROBE_DEFER` itself (517) is accepted too. Without a missing
/// supplier, any other error is the driver refusing the device.
pub(crate) fn bind_failure(
    device: String,
    write_err: Option<SysfsError>,
    missing: Vec<String>,
) -> SysfsError {
    let deferred = |e: &SysfsError| matches!(e.errno(), Some(n) if n == 517 || n == rustix::io::Errno::AGAIN.raw_os_error());
    match write_err {
        Some(e) if !deferred(&e) && missing.is_empty() => SysfsError::Kernel {
            what: device,
            why: format!("bind refused: {e}"),
            kind: e.kind(),
            state: None,
            status: missing,
        },
        _ => SysfsError::Deferred { device, missing },
    }
}

/// What is not yet as `settle` wants it, one phrase per item.
pub(crate) fn pending(snap: &Snapshot, settle: &Settle) -> Vec<String> {
    let mut out = Vec::new();
    for g in &settle.gone {
        if snap.devices.contains_key(g) {
            out.push(format!("device {g} still present"));
        }
    }
    for l in snap.links.values() {
        let touches = |end: &Option<String>, set: &[String]| {
            end.as_deref().is_some_and(|p| set.iter().any(|g| g == p))
        };
        if touches(&l.supplier, &settle.gone) || touches(&l.consumer, &settle.gone) {
            out.push(format!("link {} still present ({})", l.name, l.status));
            continue;
        }
        if touches(&l.consumer, &settle.unbound)
            && !matches!(
                l.status,
                LinkState::Available | LinkState::Dormant | LinkState::None
            )
        {
            out.push(format!("link {} is {}, not at rest", l.name, l.status));
        } else if touches(&l.supplier, &settle.unbound) && l.status == LinkState::SupplierUnbind {
            out.push(format!("link {} is {}", l.name, l.status));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(errno: rustix::io::Errno) -> Option<SysfsError> {
        Some(SysfsError::Io {
            path: "/sys/bus/platform/drivers_probe".into(),
            source: std::io::Error::from_raw_os_error(errno.raw_os_error()),
        })
    }

    #[test]
    fn a_gated_bind_is_deferred_whichever_errno_the_kernel_chose() {
        use rustix::io::Errno;
        let sup = || vec!["platform:lab-s (link dormant)".to_string()];
        // `drivers/<drv>/bind`: EAGAIN; `drivers_probe`: EINVAL (the lab
        // kernel, 6.12, answers a link-gated `drivers_probe` with EINVAL).
        for e in [io(Errno::AGAIN), io(Errno::INVAL), None] {
            let err = bind_failure("platform:lab-c".into(), e, sup());
            assert_eq!(err.kind(), devlink_core::ErrorKind::Deferred, "{err}");
            assert!(err.to_string().contains("platform:lab-s"), "{err}");
        }
        // EAGAIN without a visible supplier is still a deferral.
        let err = bind_failure("platform:x".into(), io(Errno::AGAIN), vec![]);
        assert_eq!(err.kind(), devlink_core::ErrorKind::Deferred, "{err}");
        // Nothing missing: the driver refused the device.
        let err = bind_failure("platform:x".into(), io(Errno::INVAL), vec![]);
        assert!(matches!(err, SysfsError::Kernel { .. }), "{err}");
        assert!(err.to_string().contains("bind refused"), "{err}");
        let err = bind_failure("platform:x".into(), io(Errno::NXIO), vec![]);
        assert!(matches!(err, SysfsError::Kernel { .. }), "{err}");
    }
}
