//! [`Kernel`]: the running kernel (or a tree under a root) as a backend of
//! the driver-model contract. Unbind and bind go through the bus
//! driver's files; the settle wait after a teardown is `settle.rs`.
//!
//! The kernel does the work synchronously inside each write, but what a
//! write sets off (deferred probes, link release, an overlay's devices
//! going away) finishes later; every step therefore checks its effect by
//! reading sysfs back, within a deadline, and a timeout names what had
//! not happened.

use crate::attr;
use crate::error::{Result, SysfsError};
use crate::fpga::read_fpga;
use crate::io::Dir;
use crate::root::SysfsRoot;
use crate::scan::read_topology;
use async_trait::async_trait;
use devlink_core::drive::{BindOutcome, ErrorType, ReadTopology, Unbind, Unbound};
use devlink_core::{LinkState, Topology, Waiting};
use fpga_core::{FpgaView, ReadFpga};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A kernel's driver model through sysfs.
///
/// ```no_run
/// use backend_linux_sysfs::{Kernel, SysfsRoot};
/// use devlink_core::drive::{rebind, unbind_tree};
/// # futures::executor::block_on(async {
/// let k = Kernel::new(SysfsRoot::default());
/// let down = unbind_tree(&k, "platform:fpga-consumer").await.map_err(|p| p.error)?;
/// // ... reprogram ...
/// let back = rebind(&k, &down).await;
/// assert!(back.not_bound.is_empty());
/// # Ok::<(), backend_linux_sysfs::SysfsError>(())
/// # });
/// ```
#[derive(Clone)]
pub struct Kernel {
    root: SysfsRoot,
    pub(crate) poll: Duration,
    timeout: Duration,
    pub(crate) state: Arc<State>,
    pub(crate) park: Option<ParkHook>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("root", &self.root)
            .field("poll", &self.poll)
            .field("timeout", &self.timeout)
            .field("state", &self.state)
            .field("park_hook", &self.park.is_some())
            .finish()
    }
}

/// What the clones of one [`Kernel`] share: the open `/sys` directory
/// (opened once, not per unbind and bind), and the uevent sockets opened
/// by [`removal_mark`](devlink_core::drive::WaitRemoval::removal_mark) for
/// the settle waits to come (`settle.rs`).
#[derive(Default)]
pub(crate) struct State {
    sys: Mutex<Option<Arc<Dir>>>,
    pub(crate) marks: Mutex<crate::settle::Marks>,
}

/// See [`Kernel::with_park_hook`].
type ParkHook = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let marks = self.marks.lock().map_or(0, |m| m.len());
        f.debug_struct("State").field("marks", &marks).finish()
    }
}

/// Where a device is, found by `bus:name` without reading the world.
pub(crate) struct Located {
    pub(crate) key: String,
    name: String,
    bus: Option<String>,
    pub(crate) path: String,
}

impl Kernel {
    /// A handle on `root`.
    pub fn new(root: SysfsRoot) -> Kernel {
        Kernel {
            root,
            poll: Duration::from_millis(1),
            timeout: Duration::from_secs(10),
            state: Arc::default(),
            park: None,
        }
    }

    /// How long to wait between re-reads of what is pending at first
    /// (default 1 ms; each re-read looks only at the pending entries).
    /// The interval doubles up to this interval (at least 1 ms); a wait
    /// that has the kernel's uevent socket wakes on each uevent, and once
    /// one has come lets the interval grow to 20 ms.
    pub fn with_poll_interval(mut self, poll: Duration) -> Kernel {
        self.poll = poll;
        self
    }

    /// Calls `hook` each time a wait is about to park (on the uevent
    /// socket or its timer) because what it waits for is still pending: a
    /// handshake for a test or a measurement that must act while a wait is
    /// parked, instead of sleeping and hoping. The returned handle and
    /// its clones have it.
    pub fn with_park_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Kernel {
        self.park = Some(Arc::new(hook));
        self
    }

    /// How long an unbind or a bind may take to show (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Kernel {
        self.timeout = timeout;
        self
    }

    /// How long an unbind or a bind may take to show.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The roots.
    pub fn root(&self) -> &SysfsRoot {
        &self.root
    }

    /// The `/sys` directory, opened on first use and kept.
    pub(crate) fn sys(&self) -> Result<Arc<Dir>> {
        let mut g = self.state.sys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = &*g {
            return Ok(Arc::clone(d));
        }
        let d = Arc::new(Dir::open(self.root.sys())?);
        *g = Some(Arc::clone(&d));
        Ok(d)
    }

    /// Reads devices and links once.
    pub fn read_topology(&self) -> Result<Topology> {
        read_topology(&self.root)
    }

    /// Reads the FPGA classes once.
    pub fn read_fpga(&self) -> Result<FpgaView> {
        read_fpga(&self.root)
    }

    /// Finds `name` cheaply when it is `bus:name` (one `readlink` of
    /// `bus/<bus>/devices/<name>`), else through a whole topology read
    /// (bare names, class devices, paths; an ambiguous name is an error
    /// listing the candidates).
    pub(crate) fn locate(&self, sys: &Dir, name: &str) -> Result<Located> {
        for (i, _) in name.match_indices(':') {
            let (bus, dev) = (&name[..i], &name[i + 1..]);
            if bus.is_empty() || dev.is_empty() || bus.contains('/') || dev.contains('/') {
                continue;
            }
            let rel = format!("bus/{bus}/devices");
            if let Some(target) = sys.symlink(format!("{rel}/{dev}"))? {
                if let Some(path) = crate::io::join_link(std::path::Path::new(&rel), &target) {
                    return Ok(Located {
                        key: name.to_string(),
                        name: dev.to_string(),
                        bus: Some(bus.to_string()),
                        path,
                    });
                }
            }
        }
        let topo = self.read_topology()?;
        let id = topo.find(name).map_err(|e| SysfsError::Lookup {
            root: self.root.sys().to_path_buf(),
            source: e,
        })?;
        let d = topo.device(id);
        Ok(Located {
            key: d.key(),
            name: d.name.clone(),
            bus: d.bus.clone(),
            path: d.path.clone(),
        })
    }

    /// The driver bound to the device at `path`: one `readlinkat`.
    fn driver_of(sys: &Dir, path: &str) -> Result<Option<String>> {
        Ok(sys
            .symlink(format!("{path}/driver"))?
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned())))
    }

    /// What the device at `path` waits for, from its own `supplier:`
    /// entries and `waiting_for_supplier` (no whole-tree read).
    fn waiting_of(&self, sys: &Dir, path: &str) -> Result<Vec<Waiting>> {
        let Some(dir) = sys.sub_opt(path)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if let Some(t) = dir.read_opt("waiting_for_supplier")? {
            if attr::bool01(&dir.path().join("waiting_for_supplier"), &t)? {
                out.push(Waiting::FwNode { path: None });
            }
        }
        for e in dir.entries()? {
            let Some(supplier) = e.strip_prefix("supplier:") else {
                continue;
            };
            let Some(l) = self.link_state(&dir, &e)? else {
                continue;
            };
            let (status, sso) = l;
            if status == LinkState::None || sso {
                continue;
            }
            if !matches!(
                status,
                LinkState::Available | LinkState::Active | LinkState::ConsumerProbe
            ) {
                out.push(Waiting::Supplier {
                    supplier: supplier.to_string(),
                    state: status,
                });
            }
        }
        Ok(out)
    }

    /// The `status` and `sync_state_only` of the link behind the device
    /// entry `entry` (`supplier:…`/`consumer:…`); `None` if it is gone.
    fn link_state(&self, dev_dir: &Dir, entry: &str) -> Result<Option<(LinkState, bool)>> {
        let Some(t) = dev_dir.read_opt(format!("{entry}/status"))? else {
            return Ok(None);
        };
        let status = attr::link_status(&dev_dir.path().join(entry).join("status"), &t)?;
        let sso = match dev_dir.read_opt(format!("{entry}/sync_state_only"))? {
            Some(t) => attr::bool01(&dev_dir.path().join(entry).join("sync_state_only"), &t)?,
            None => false,
        };
        Ok(Some((status, sso)))
    }

    /// The unbind of one located device.
    fn unbind_located(&self, sys: &Dir, d: &Located) -> Result<Option<Unbound>> {
        let Some(driver) = Self::driver_of(sys, &d.path)? else {
            return Ok(None);
        };
        sys.write(format!("{}/driver/unbind", d.path), d.name.as_bytes())?;
        self.wait_until(&format!("unbind {}", d.key), self.timeout, || {
            Ok(match Self::driver_of(sys, &d.path)? {
                Some(drv) => vec![format!("{} still bound to {drv}", d.key)],
                None => Vec::new(),
            })
        })?;
        Ok(Some(Unbound {
            key: d.key.clone(),
            driver,
            path: d.path.clone(),
        }))
    }

    /// The bind of one located device.
    fn bind_located(&self, sys: &Dir, d: &Located, driver: Option<&str>) -> Result<BindOutcome> {
        if let Some(drv) = Self::driver_of(sys, &d.path)? {
            return Ok(BindOutcome::Bound {
                driver: drv,
                was_bound: true,
            });
        }
        let bus = d.bus.clone().ok_or_else(|| {
            SysfsError::invalid(
                d.key.clone(),
                "a class device without a bus has no driver to bind",
            )
        })?;
        crate::lock::safe_name("bus", &bus)?;
        let written = match driver {
            Some(drv) => {
                crate::lock::safe_name("driver", drv)?;
                sys.write(format!("bus/{bus}/drivers/{drv}/bind"), d.name.as_bytes())
            }
            None => sys.write(format!("bus/{bus}/drivers_probe"), d.name.as_bytes()),
        };
        // The kernel answers a bind whose probe defers or fails with an
        // error on the write; what it waits for is read below either way.
        let write_err = written.err();
        // The kernel probes inside the write (unless the driver probes
        // asynchronously). A device still unbound behind a link gate (a
        // supplier not ready) stays so until that supplier binds: that is
        // known now, without waiting out the timeout.
        // Bound within the write (the usual case): that one read says so.
        if let Some(drv) = Self::driver_of(sys, &d.path)? {
            return Ok(BindOutcome::Bound {
                driver: drv,
                was_bound: false,
            });
        }
        let waiting = self.waiting_of(sys, &d.path)?;
        if waiting
            .iter()
            .any(|w| matches!(w, Waiting::Supplier { .. }))
        {
            return bind_failure(d.key.clone(), write_err, waiting);
        }
        let waited = self.wait_until(&format!("bind {}", d.key), self.timeout, || {
            if Self::driver_of(sys, &d.path)?.is_some() {
                return Ok(Vec::new());
            }
            Ok(match sys.sub_opt(&d.path)? {
                Some(_) => vec![format!("{} not bound", d.key)],
                None => vec![format!("{} vanished", d.key)],
            })
        });
        match waited {
            Ok(_) => Ok(BindOutcome::Bound {
                driver: Self::driver_of(sys, &d.path)?.unwrap_or_default(),
                was_bound: false,
            }),
            Err(SysfsError::Timeout { .. }) => {
                let waiting = self.waiting_of(sys, &d.path)?;
                bind_failure(d.key.clone(), write_err, waiting)
            }
            Err(e) => Err(e),
        }
    }
}

/// The error of a bind that did not bind within its timeout: `write_err`
/// is what the `bind` or `drivers_probe` write answered, `waiting` what
/// sysfs says the device waits for.
///
/// A link-gated bind is a deferral, whatever the write said: the link
/// check runs before the driver's probe, so nothing else can have failed.
/// The kernel reports it differently per file: `drivers/<drv>/bind`
/// (`device_driver_attach()`) turns `-EPROBE_DEFER` into `EAGAIN` and
/// does not queue a retry; `drivers_probe` (`bus_rescan_devices_helper()`
/// through `device_attach()`) answers `EINVAL` for any negative result,
/// `-EPROBE_DEFER` included, and queues the device for a deferred retry.
/// `EAGAIN` and `EPROBE_DEFER` are kind `Deferred` in the one errno
/// table. Without a missing supplier, any other error is the driver
/// refusing the device.
pub(crate) fn bind_failure(
    device: String,
    write_err: Option<SysfsError>,
    waiting: Vec<Waiting>,
) -> Result<BindOutcome> {
    match write_err {
        Some(e) if e.kind() != devlink_core::ErrorKind::Deferred && waiting.is_empty() => {
            Err(SysfsError::Kernel {
                what: device,
                why: format!("bind refused: {e}"),
                kind: e.kind(),
                state: None,
                status: Vec::new(),
            })
        }
        _ => Ok(BindOutcome::Deferred { waiting }),
    }
}

impl ErrorType for Kernel {
    type Error = SysfsError;
}

#[async_trait]
impl ReadTopology for Kernel {
    /// Blocks the calling thread while it reads (sysfs is not async).
    async fn topology(&self) -> Result<Topology> {
        self.read_topology()
    }
}

#[async_trait]
impl Unbind for Kernel {
    async fn unbind_one(&self, device: &str) -> Result<Option<Unbound>> {
        let sys = self.sys()?;
        let d = self.locate(&sys, device)?;
        self.unbind_located(&sys, &d)
    }
}

#[async_trait]
impl devlink_core::drive::Bind for Kernel {
    async fn bind(&self, device: &str, driver: Option<&str>) -> Result<BindOutcome> {
        let sys = self.sys()?;
        let d = self.locate(&sys, device)?;
        self.bind_located(&sys, &d, driver)
    }
}

#[async_trait]
impl ReadFpga for Kernel {
    async fn fpga_view(&self) -> Result<FpgaView> {
        self.read_fpga()
    }
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
        let sup = || {
            vec![Waiting::Supplier {
                supplier: "platform:lab-s".into(),
                state: LinkState::Dormant,
            }]
        };
        // `drivers/<drv>/bind`: EAGAIN; `drivers_probe`: EINVAL (the lab
        // kernel, 6.12, answers a link-gated `drivers_probe` with EINVAL).
        for e in [io(Errno::AGAIN), io(Errno::INVAL), None] {
            match bind_failure("platform:lab-c".into(), e, sup()) {
                Ok(BindOutcome::Deferred { waiting }) => assert_eq!(waiting, sup()),
                other => panic!("{other:?}"),
            }
        }
        // EAGAIN without a visible supplier is still a deferral.
        assert!(matches!(
            bind_failure("platform:x".into(), io(Errno::AGAIN), vec![]),
            Ok(BindOutcome::Deferred { .. })
        ));
        // Nothing missing: the driver refused the device.
        for e in [Errno::INVAL, Errno::NXIO] {
            let err = bind_failure("platform:x".into(), io(e), vec![]).unwrap_err();
            assert!(matches!(err, SysfsError::Kernel { .. }), "{err}");
            assert!(err.to_string().contains("bind refused"), "{err}");
        }
    }
}
