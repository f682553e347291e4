//! [`Kernel`]: the running kernel (or a tree under a root) as a backend of
//! the driver-model contract. Unbind and bind go through the bus
//! driver's files; waits re-read only what is still pending.
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
use devlink_core::drive::{
    BindOutcome, ErrorType, ReadTopology, Settle, Unbind, Unbound, WaitRemoval, Waited,
};
use devlink_core::{LinkState, Topology, Waiting};
use fpga_core::{FpgaView, ReadFpga};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    poll: Duration,
    timeout: Duration,
    state: Arc<State>,
    park: Option<ParkHook>,
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
/// by [`WaitRemoval::removal_mark`] for the settle waits to come.
#[derive(Default)]
struct State {
    sys: Mutex<Option<Arc<Dir>>>,
    marks: Mutex<Marks>,
}

/// See [`Kernel::with_park_hook`].
type ParkHook = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Marks {
    next: u64,
    /// Newest last; at most [`MAX_MARKS`] (a mark whose wait never comes,
    /// a teardown that failed, is dropped with its socket once newer
    /// ones push it out).
    open: Vec<(u64, crate::io::Uevents)>,
}

/// Uevent sockets kept for settle waits to come.
const MAX_MARKS: usize = 4;

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let marks = self.marks.lock().map_or(0, |m| m.open.len());
        f.debug_struct("State").field("marks", &marks).finish()
    }
}

/// Where a device is, found by `bus:name` without reading the world.
struct Located {
    key: String,
    name: String,
    bus: Option<String>,
    path: String,
}

/// The longest look-to-look interval of a wait woken by uevents.
const WAKE_MAX: Duration = Duration::from_millis(20);

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

    fn parking(&self) {
        if let Some(h) = &self.park {
            h();
        }
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
    fn sys(&self) -> Result<Arc<Dir>> {
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

    /// Polls `check` until it reports nothing pending or `timeout` passes.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<Vec<String>>,
    ) -> Result<Duration> {
        let start = Instant::now();
        let mut poll = self.poll.min(Duration::from_millis(1));
        // Once something is pending, the kernel's uevents wake the wait:
        // the changes waited for (an unbind, a bind, a device or a link
        // going) each end with one, so the timer between looks can grow
        // further; it still bounds a change that sends none.
        let mut uevents: Option<Option<crate::io::Uevents>> = None;
        let mut woken = false;
        loop {
            let pending = check()?;
            if pending.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(SysfsError::Timeout {
                    what: what.to_string(),
                    waited_ms: devlink_core::drive::duration_ms(start.elapsed()),
                    pending,
                });
            }
            let left = timeout.saturating_sub(start.elapsed());
            if uevents.is_some() {
                self.parking();
            }
            match &uevents {
                // Opened after a look found something pending, then looked
                // again at once: nothing announced in between is missed.
                None => uevents = Some(crate::io::Uevents::open()),
                Some(Some(u)) => {
                    // The timer grows past the plain interval only once
                    // the socket has shown it delivers (a kernel without
                    // uevents for this, or a test's fake, keeps the
                    // plain interval).
                    if u.wait(poll.min(left)) {
                        woken = true;
                    }
                    let cap = if woken {
                        WAKE_MAX
                    } else {
                        Duration::from_millis(1)
                    };
                    poll = (poll * 2).min(self.poll.max(cap));
                }
                Some(None) => {
                    std::thread::sleep(poll.min(left));
                    poll = (poll * 2).min(self.poll.max(Duration::from_millis(1)));
                }
            }
        }
    }

    /// Finds `name` cheaply when it is `bus:name` (one `readlink` of
    /// `bus/<bus>/devices/<name>`), else through a whole topology read
    /// (bare names, class devices, paths; an ambiguous name is an error
    /// listing the candidates).
    fn locate(&self, sys: &Dir, name: &str) -> Result<Located> {
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

    /// What is not yet as `settle` wants it, one phrase per item, from the
    /// pending devices' own entries only.
    fn pending(&self, sys: &Dir, settle: &Settle) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for key in &settle.gone {
            if let Some((bus, name)) = key.split_once(':') {
                if sys.symlink(format!("bus/{bus}/devices/{name}"))?.is_some()
                    || sys.symlink(format!("class/{bus}/{name}"))?.is_some()
                {
                    out.push(format!("device {key} still present"));
                }
            }
        }
        if !settle.gone.is_empty() {
            if let Some(class) = sys.sub_opt("class/devlink")? {
                for name in class.entries()? {
                    let touches = settle.gone.iter().any(|g| {
                        name.starts_with(&format!("{g}--")) || name.ends_with(&format!("--{g}"))
                    });
                    if touches {
                        out.push(format!("link {name} still present"));
                    }
                }
            }
        }
        // A link between two of the devices shows in both their
        // directories: its `status` is read once, and judged from both
        // sides.
        let mut seen: std::collections::HashMap<(String, String), Option<LinkState>> =
            Default::default();
        for key in &settle.unbound {
            let Ok(d) = self.locate(sys, key) else {
                continue;
            };
            let Some(dir) = sys.sub_opt(&d.path)? else {
                continue;
            };
            for e in dir.entries()? {
                let consumer_side = e.starts_with("supplier:");
                if !consumer_side && !e.starts_with("consumer:") {
                    continue;
                }
                let other = &e[e.find(':').map_or(0, |i| i + 1)..];
                let ends = if consumer_side {
                    (other.to_string(), key.clone())
                } else {
                    (key.clone(), other.to_string())
                };
                let status = match seen.get(&ends) {
                    Some(s) => *s,
                    None => {
                        let s = match dir.read_opt(format!("{e}/status"))? {
                            Some(t) => {
                                Some(attr::link_status(&dir.path().join(&e).join("status"), &t)?)
                            }
                            None => None,
                        };
                        seen.insert(ends, s);
                        s
                    }
                };
                let Some(status) = status else {
                    continue;
                };
                let at_rest = if consumer_side {
                    matches!(
                        status,
                        LinkState::Available | LinkState::Dormant | LinkState::None
                    )
                } else {
                    status != LinkState::SupplierUnbind
                };
                if !at_rest {
                    out.push(format!("link {e} of {key} is {status}, not at rest"));
                }
            }
        }
        Ok(out)
    }

    /// Links in a transition anywhere (`consumer probing`, `supplier
    /// unbinding`): one `status` read per link.
    fn in_transition(&self, sys: &Dir) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let Some(class) = sys.sub_opt("class/devlink")? else {
            return Ok(out);
        };
        for name in class.entries()? {
            let Some(t) = class.read_opt(format!("{name}/status"))? else {
                continue;
            };
            let status = attr::link_status(&class.path().join(&name).join("status"), &t)?;
            if matches!(status, LinkState::ConsumerProbe | LinkState::SupplierUnbind) {
                out.push(format!("link {name} is {status}"));
            }
        }
        Ok(out)
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
impl WaitRemoval for Kernel {
    /// Opens the kernel's uevent socket (where it can be had), so that the
    /// settle wait after the teardown can learn from the kernel's own
    /// `unbind` messages that each unbind has finished, links included,
    /// instead of reading their links back. `None` where there is no
    /// socket: the wait then reads sysfs.
    fn removal_mark(&self) -> Option<u64> {
        let socket = crate::io::Uevents::open()?;
        let mut m = self.state.marks.lock().unwrap_or_else(|p| p.into_inner());
        m.next += 1;
        let id = m.next;
        m.open.push((id, socket));
        if m.open.len() > MAX_MARKS {
            m.open.remove(0);
        }
        Some(id)
    }

    /// Waits until `settle` holds and no link is in a transition. The
    /// kernel's own barrier (`device_link_wait_removal`, run by overlay
    /// removal since 6.9) is not reachable from user space. With a
    /// [`removal_mark`](Self::removal_mark) from before the teardown, a
    /// kernel `unbind` message for every unbound device settles them
    /// without a read (the kernel sends it after the device's links are
    /// at rest); otherwise, or for removed devices, what sysfs shows is
    /// checked, re-reading only what is pending.
    async fn wait_removal(&self, settle: &Settle, timeout: Duration) -> Result<Waited> {
        let start = Instant::now();
        let socket = settle.since.and_then(|id| {
            let mut m = self.state.marks.lock().unwrap_or_else(|p| p.into_inner());
            let at = m.open.iter().position(|(i, _)| *i == id)?;
            Some(m.open.remove(at).1)
        });
        if let Some(socket) = socket {
            if settle.gone.is_empty() && !settle.unbound.is_empty() {
                if let Some(waited) = self.settle_by_uevents(&socket, settle, start, timeout)? {
                    return Ok(waited);
                }
            }
        }
        let sys = self.sys()?;
        // A wait for named devices looks at their links only; the whole
        // class is read only for a wait for the kernel to be quiet (no
        // device named), so an unrelated link in transition elsewhere
        // never holds up a reprogram, and the wait costs what the
        // teardown touched, not what the machine has.
        let targeted = !settle.unbound.is_empty() || !settle.gone.is_empty();
        let waited = self.wait_until("waiting for the kernel to settle", timeout, || {
            let p = self.pending(&sys, settle)?;
            if p.is_empty() && !targeted {
                return self.in_transition(&sys);
            }
            Ok(p)
        })?;
        Ok(Waited {
            releases: None,
            waited: start.elapsed().max(waited),
        })
    }
}

impl Kernel {
    /// The settle wait of devices this process unbound after `socket`
    /// opened: done once the kernel announced each one's `unbind`.
    /// Sysfs is read only where the messages cannot decide: at the start
    /// (a device whose uevents are suppressed never announces) and after
    /// a quiet stretch of [`WAKE_MAX`]. `None`: the socket lost messages,
    /// read sysfs instead.
    fn settle_by_uevents(
        &self,
        socket: &crate::io::Uevents,
        settle: &Settle,
        start: Instant,
        timeout: Duration,
    ) -> Result<Option<Waited>> {
        let done = || Waited {
            releases: None,
            waited: start.elapsed(),
        };
        let mut seen = std::collections::HashSet::new();
        let mut look = true;
        // As in `wait_until`: the quiet stretch grows past the plain
        // interval only once the socket has shown it delivers.
        let (mut quiet, mut delivers) = (Duration::from_millis(1), false);
        loop {
            // Read until every device is announced, not further.
            let drained = socket.drain(|m| {
                if note_unbind(m, &settle.unbound, &mut seen) {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            });
            match drained {
                Err(crate::io::Lost) => return Ok(None),
                Ok(n) => delivers |= n > 0,
            }
            if seen.len() == settle.unbound.len() {
                return Ok(Some(done()));
            }
            if look || start.elapsed() >= timeout {
                let sys = self.sys()?;
                let pending = self.pending(&sys, settle)?;
                if pending.is_empty() {
                    return Ok(Some(done()));
                }
                if start.elapsed() >= timeout {
                    return Err(SysfsError::Timeout {
                        what: "waiting for the kernel to settle".into(),
                        waited_ms: devlink_core::drive::duration_ms(start.elapsed()),
                        pending,
                    });
                }
            }
            let left = timeout.saturating_sub(start.elapsed());
            self.parking();
            // A message: read it before looking at sysfs again.
            look = !socket.readable(left.min(quiet));
            let cap = if delivers {
                WAKE_MAX
            } else {
                self.poll.max(Duration::from_millis(1))
            };
            quiet = (quiet * 2).min(cap);
        }
    }
}

/// Notes in `seen` which of `wanted` (`bus:name`) the kernel message `msg`
/// announces the `unbind` of; whether all of them are now seen.
fn note_unbind<'a>(
    msg: &[u8],
    wanted: &'a [String],
    seen: &mut std::collections::HashSet<&'a str>,
) -> bool {
    if let Some(u) = crate::uevent::parse(msg).filter(|u| u.action == "unbind") {
        let key = u.key();
        if let Some(w) = wanted.iter().find(|w| **w == key) {
            seen.insert(w);
        }
    }
    seen.len() == wanted.len()
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

    /// A tree under `d` with a consumer `q4` whose supplier link reads
    /// `consumer probing` (pending for a settle wait on `q4`).
    fn pending_tree(d: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::fs::symlink;
        let sys = d.join("sys");
        std::fs::create_dir_all(sys.join("bus/platform/devices")).unwrap();
        let link = sys.join("devices/platform/q4/supplier:platform:host");
        std::fs::create_dir_all(&link).unwrap();
        std::fs::write(link.join("status"), "consumer probing\n").unwrap();
        symlink(
            "../../../devices/platform/q4",
            sys.join("bus/platform/devices/q4"),
        )
        .unwrap();
        link.join("status")
    }

    #[test]
    fn a_pending_settle_parks_and_the_park_hook_is_the_handshake() {
        let d = tempfile::tempdir().unwrap();
        let status = pending_tree(d.path());
        let root = SysfsRoot::at(d.path().join("sys"));
        let parks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let k = {
            let (parks, status) = (Arc::clone(&parks), status.clone());
            Kernel::new(root).with_park_hook(move || {
                // The first park puts the link at rest.
                if parks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    std::fs::write(&status, "available\n").unwrap();
                }
            })
        };
        // With and without a mark (the socket, where it can be had, has no
        // message for this tree's device: sysfs decides).
        for since in [None, k.removal_mark()] {
            std::fs::write(&status, "consumer probing\n").unwrap();
            parks.store(0, std::sync::atomic::Ordering::SeqCst);
            let settle = Settle {
                unbound: vec!["platform:q4".into()],
                since,
                ..Settle::default()
            };
            futures::executor::block_on(k.wait_removal(&settle, Duration::from_secs(10))).unwrap();
            assert!(
                parks.load(std::sync::atomic::Ordering::SeqCst) >= 1,
                "{since:?}"
            );
        }
        // Nothing pending: no park.
        parks.store(5, std::sync::atomic::Ordering::SeqCst);
        let settle = Settle {
            unbound: vec!["platform:q4".into()],
            ..Settle::default()
        };
        futures::executor::block_on(k.wait_removal(&settle, Duration::from_secs(10))).unwrap();
        assert_eq!(parks.load(std::sync::atomic::Ordering::SeqCst), 5);
        // Still pending at the deadline: a timeout naming the link.
        std::fs::write(&status, "consumer probing\n").unwrap();
        let quiet = Kernel::new(SysfsRoot::at(d.path().join("sys")));
        let e = futures::executor::block_on(quiet.wait_removal(&settle, Duration::from_millis(30)))
            .unwrap_err();
        assert!(e.to_string().contains("supplier:platform:host"), "{e}");
    }

    #[test]
    fn only_unbind_messages_of_the_devices_waited_for_count() {
        let m = |action: &str, name: &str| {
            format!(
                "{action}@/devices/platform/{name}\0ACTION={action}\0DEVPATH=/devices/platform/{name}\0SUBSYSTEM=platform\0SEQNUM=1\0"
            )
            .into_bytes()
        };
        let wanted = vec!["platform:q4".to_string(), "platform:k1".to_string()];
        let mut seen = std::collections::HashSet::new();
        for msg in [
            m("unbind", "q4"),
            m("bind", "k1"),
            b"junk".to_vec(),
            m("unbind", "q3"),
            m("remove", "k1"),
        ] {
            assert!(!note_unbind(&msg, &wanted, &mut seen));
        }
        // A second message for the same device counts once.
        assert!(!note_unbind(&m("unbind", "q4"), &wanted, &mut seen));
        assert_eq!(seen.len(), 1);
        assert!(note_unbind(&m("unbind", "k1"), &wanted, &mut seen));
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
