//! An opened, locked UIO device: maps, interrupts, raw `read`/`write`
//! (spec `uio.md` §1.5–§1.10, §1.12).

use crate::discover::{self, Identity, MapInfo, Selector, UioInfo};
use crate::error::{errno, Result, UioError};
use crate::port::{check_mmap, FilePort, Port, Readiness};
use crate::regs::{Mapping, MappingParts};
use crate::root::UioRoot;
use devlink_core::ErrorKind;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One `read()` result: the device's total count and how many interrupts
/// this descriptor did not see one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqEvent {
    /// The device's event count (wraps at 2^32).
    pub count: u32,
    /// Interrupts between the previous report and this one, not counting
    /// this one: `count - last - 1`, with wrapping arithmetic (spec §1.6).
    pub missed: u32,
}

impl IrqEvent {
    /// The event for a descriptor that last saw `last` and now reads `count`.
    ///
    /// ```
    /// use backend_uio::IrqEvent;
    /// assert_eq!(IrqEvent::between(0xFFFF_FFFF, 1).missed, 1);
    /// assert_eq!(IrqEvent::between(7, 8).missed, 0);
    /// ```
    pub fn between(last: u32, count: u32) -> IrqEvent {
        IrqEvent {
            count,
            missed: count.wrapping_sub(last).wrapping_sub(1),
        }
    }
}

/// Holders of the advisory lock taken by this process, by device node,
/// so that `Busy` can name them.
fn holders() -> &'static Mutex<HashMap<PathBuf, String>> {
    static H: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    H.get_or_init(Default::default)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The holder of a `flock` on `node` by another process, from
/// `/proc/locks` (`N: FLOCK ADVISORY WRITE <pid> MAJ:MIN:INODE 0 EOF`).
fn proc_locks_holder(node: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(node).ok()?.ino();
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (kind, pid, id) = (f.get(1)?, f.get(4)?, f.get(5)?);
        let inode: u64 = id.rsplit(':').next()?.parse().ok()?;
        (*kind == "FLOCK" && inode == ino).then(|| format!("pid {pid}"))
    })
}

pub(crate) struct DevInner {
    pub(crate) info: UioInfo,
    pub(crate) node: String,
    pub(crate) page: usize,
    pub(crate) root: UioRoot,
    pub(crate) port: Box<dyn Port>,
    has_irq: bool,
    last: Mutex<u32>,
    lock_key: Option<PathBuf>,
}

impl Drop for DevInner {
    fn drop(&mut self) {
        if let Some(k) = &self.lock_key {
            lock(holders()).remove(k);
        }
    }
}

/// An opened UIO device (`/dev/uioN`), holding the exclusive advisory
/// lock. Dropping it closes the descriptor (and releases the lock);
/// mappings made from it live on until they are dropped themselves.
///
/// ```
/// use backend_uio::{sim::{SimUio, SimDeviceSpec}, Registers, Selector, UioDevice};
/// let sim = SimUio::new().unwrap();
/// sim.register(SimDeviceSpec::new("accel", "a0000000.accel").with_ram_map(0xa000_0000, 0x1000));
/// let dev = sim.open(Selector::Name("accel".into())).unwrap();
/// let regs = dev.map(0).unwrap();
/// regs.write32(0x10, 7).unwrap();
/// assert_eq!(regs.read32(0x10).unwrap(), 7);
/// ```
pub struct UioDevice {
    pub(crate) inner: Arc<DevInner>,
}

impl std::fmt::Debug for UioDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "UioDevice({}, {:?})",
            self.inner.node, self.inner.info.name
        )
    }
}

impl UioDevice {
    /// Opens and locks the device `sel` picks under `root` (real sysfs and
    /// `/dev`, or a fixture tree). The lock holder is named after this
    /// process.
    pub fn open(root: &UioRoot, sel: Selector) -> Result<UioDevice> {
        UioDevice::open_as(root, sel, &format!("pid {}", std::process::id()))
    }

    /// [`open`](Self::open), naming the lock holder `owner` (reported by
    /// a second opener's `Busy`).
    pub fn open_as(root: &UioRoot, sel: Selector, owner: &str) -> Result<UioDevice> {
        UioDevice::open_inner(root, sel, Some(owner))
    }

    /// Opens without the advisory lock: a listener (for instance a monitor
    /// waiting for interrupts) that never drives the device. The kernel
    /// allows any number of these; each has its own event count.
    pub fn open_shared(root: &UioRoot, sel: Selector) -> Result<UioDevice> {
        UioDevice::open_inner(root, sel, None)
    }

    fn open_inner(root: &UioRoot, sel: Selector, owner: Option<&str>) -> Result<UioDevice> {
        let info = discover::resolve(root, &sel)?;
        let node = info.node(root);
        // The kernel sets the descriptor's count at open; read it first,
        // so that a racing interrupt is over- rather than under-reported.
        let initial = discover::read_event(root, info.number)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&node)
            .map_err(UioError::io(&node))?;
        let label = node.display().to_string();
        let Some(owner) = owner else {
            let port = FilePort {
                file,
                label: label.clone(),
                root: root.clone(),
                number: info.number,
                identity: info.identity(),
            };
            return Ok(UioDevice::from_port(
                root,
                info,
                label,
                Box::new(port),
                initial,
                None,
            ));
        };
        if let Err(e) =
            rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        {
            if e == rustix::io::Errno::WOULDBLOCK {
                let key = std::fs::canonicalize(&node).unwrap_or(node.clone());
                let holder = lock(holders())
                    .get(&key)
                    .cloned()
                    .or_else(|| proc_locks_holder(&node))
                    .unwrap_or_else(|| "an unknown holder".to_string());
                return Err(UioError::Busy {
                    device: label,
                    holder,
                });
            }
            return Err(UioError::os(
                &label,
                None,
                "flock",
                e.raw_os_error(),
                ErrorKind::Io,
                "cannot take the advisory lock",
            ));
        }
        let key = std::fs::canonicalize(&node).unwrap_or(node.clone());
        lock(holders()).insert(key.clone(), owner.to_string());
        let port = FilePort {
            file,
            label: label.clone(),
            root: root.clone(),
            number: info.number,
            identity: info.identity(),
        };
        Ok(UioDevice::from_port(
            root,
            info,
            label,
            Box::new(port),
            initial,
            Some(key),
        ))
    }

    pub(crate) fn from_port(
        root: &UioRoot,
        info: UioInfo,
        node: String,
        port: Box<dyn Port>,
        initial: u32,
        lock_key: Option<PathBuf>,
    ) -> UioDevice {
        // §1.9: detect "no interrupt" at open without consuming anything.
        let has_irq = !matches!(port.poll(Some(Duration::ZERO)), Ok(Readiness::Error));
        UioDevice {
            inner: Arc::new(DevInner {
                info,
                node,
                page: root.page_size(),
                root: root.clone(),
                port,
                has_irq,
                last: Mutex::new(initial),
                lock_key,
            }),
        }
    }

    /// The sysfs description read at open.
    pub fn info(&self) -> &UioInfo {
        &self.inner.info
    }

    /// `N` of `uioN`.
    pub fn number(&self) -> u32 {
        self.inner.info.number
    }

    /// `name`.
    pub fn name(&self) -> &str {
        &self.inner.info.name
    }

    /// The device node path (`/dev/uioN`).
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The stable identity, for re-resolving after a reconfiguration.
    pub fn identity(&self) -> Identity {
        self.inner.info.identity()
    }

    /// The memory maps, `(index, name, addr, size, offset)` each.
    pub fn maps(&self) -> &[MapInfo] {
        &self.inner.info.maps
    }

    /// The page size used for `mmap` offsets and lengths.
    pub fn page_size(&self) -> usize {
        self.inner.page
    }

    /// Whether the device has an interrupt (detected at open, §1.9).
    pub fn has_irq(&self) -> bool {
        self.inner.has_irq
    }

    /// Whether the device was unregistered since it was opened (then every
    /// operation but dropping fails with `NoDevice`).
    pub fn is_gone(&self) -> bool {
        self.inner.port.gone()
    }

    /// `event` from sysfs: the device's total interrupt count. Reading it
    /// consumes nothing.
    pub fn event_count(&self) -> Result<u32> {
        discover::read_event(&self.inner.root, self.inner.info.number)
    }

    /// The `mmap` file offset that selects map `index`: `index * PAGE`.
    pub fn map_offset(&self, index: usize) -> u64 {
        index as u64 * self.inner.page as u64
    }

    /// Maps map `index` with its default length (`size` in whole pages).
    pub fn map(&self, index: usize) -> Result<Mapping> {
        let len = self
            .maps()
            .get(index)
            .map_or(self.inner.page, |m| m.default_len(self.inner.page));
        self.map_len(index, len)
    }

    /// Maps `len` bytes (rounded up to pages) of map `index`. The kernel's
    /// checks run before any `mmap` call (spec §1.5).
    pub fn map_len(&self, index: usize, len: usize) -> Result<Mapping> {
        let inner = &self.inner;
        let page = inner.page;
        let Some(len) = len.div_ceil(page).max(1).checked_mul(page) else {
            return Err(UioError::dev(
                &self.inner.node,
                Some(index),
                "mmap",
                ErrorKind::InvalidInput,
                format!("a mapping of {len} bytes rounds up past what an address can hold"),
            ));
        };
        let map = inner.info.maps.get(index);
        check_mmap(map, index, len, page).map_err(|(e, kind, what)| {
            UioError::os(&inner.node, Some(index), "mmap", e, kind, what)
        })?;
        let map = map.cloned().ok_or_else(|| {
            UioError::dev(
                &inner.node,
                Some(index),
                "mmap",
                ErrorKind::InvalidInput,
                "no such map",
            )
        })?;
        if inner.port.gone() {
            return Err(self.gone_err(Some(index), "mmap", Some(errno::EINVAL)));
        }
        let offset = self.map_offset(index);
        let (backing, base) = inner.port.mmap(&map, offset, len).map_err(|e| {
            let kind = match e {
                errno::ENODEV => ErrorKind::Unsupported,
                errno::EINVAL if inner.port.gone() => ErrorKind::NoDevice,
                errno::EINVAL | errno::EACCES => ErrorKind::InvalidInput,
                _ => ErrorKind::Io,
            };
            UioError::os(
                &inner.node,
                Some(index),
                "mmap",
                e,
                kind,
                "the kernel refused the mapping",
            )
        })?;
        let start = map.in_page_offset(page).min(len);
        let end = start
            .saturating_add(usize::try_from(map.size).unwrap_or(usize::MAX))
            .min(len);
        Ok(Mapping::new(MappingParts {
            backing,
            mmap_base: base,
            mmap_len: len,
            mmap_offset: offset,
            start,
            len: end - start,
            device: inner.node.clone(),
            index,
        }))
    }

    fn gone_err(&self, map: Option<usize>, op: &'static str, errno: Option<i32>) -> UioError {
        UioError::Device {
            device: self.inner.node.clone(),
            map,
            op,
            what: "the device was unregistered".into(),
            errno,
            kind: ErrorKind::NoDevice,
        }
    }

    /// A raw `read()` of `buf.len()` bytes (only 4 is legal: anything else
    /// is `InvalidInput`). Blocks until an event this descriptor has not
    /// seen.
    pub fn read_raw(&self, buf: &mut [u8]) -> Result<usize> {
        self.inner
            .port
            .read(buf, false)
            .map_err(|e| self.read_err(e, "read"))
    }

    /// A raw `write()` (irqcontrol); only 4 bytes are legal.
    pub fn write_raw(&self, buf: &[u8]) -> Result<usize> {
        self.inner
            .port
            .write(buf)
            .map_err(|e| self.write_err(e, "write"))
    }

    /// A raw `poll()` for readability; never updates the remembered count.
    pub fn poll_raw(&self, timeout: Option<Duration>) -> Result<Readiness> {
        self.inner.port.poll(timeout).map_err(|e| {
            UioError::os(
                &self.inner.node,
                None,
                "poll",
                e,
                ErrorKind::Io,
                "poll failed",
            )
        })
    }

    fn read_err(&self, e: i32, op: &'static str) -> UioError {
        let (kind, what) = match e {
            errno::EINVAL => (ErrorKind::InvalidInput, "a read must be exactly 4 bytes"),
            errno::EAGAIN => (ErrorKind::Deferred, "no new interrupt yet"),
            errno::EIO if self.inner.port.gone() => {
                (ErrorKind::NoDevice, "the device was unregistered")
            }
            errno::EIO => (ErrorKind::Unsupported, "the device has no interrupt"),
            _ => (ErrorKind::Io, "read failed"),
        };
        UioError::os(&self.inner.node, None, op, e, kind, what)
    }

    fn write_err(&self, e: i32, op: &'static str) -> UioError {
        let (kind, what) = match e {
            errno::EINVAL if self.inner.port.gone() => {
                (ErrorKind::NoDevice, "the device was unregistered")
            }
            errno::EINVAL => (ErrorKind::InvalidInput, "a write must be exactly 4 bytes"),
            errno::ENOSYS => (
                ErrorKind::Unsupported,
                "the driver has no irqcontrol (uio_pci_generic: clear INTx disable in config space)",
            ),
            errno::EIO => (ErrorKind::Unsupported, "the device has no interrupt"),
            _ => (ErrorKind::Io, "write failed"),
        };
        UioError::os(&self.inner.node, None, op, e, kind, what)
    }

    fn irqcontrol(&self, on: bool, op: &'static str) -> Result<()> {
        let v: i32 = on.into();
        self.inner
            .port
            .write(&v.to_ne_bytes())
            .map(|_| ())
            .map_err(|e| self.write_err(e, op))
    }

    /// Unmasks the interrupt (writes 1, spec §1.7).
    pub fn irq_enable(&self) -> Result<()> {
        self.irqcontrol(true, "irq_enable")
    }

    /// Masks the interrupt (writes 0).
    pub fn irq_disable(&self) -> Result<()> {
        self.irqcontrol(false, "irq_disable")
    }

    fn no_irq(&self, op: &'static str) -> UioError {
        UioError::dev(
            &self.inner.node,
            None,
            op,
            ErrorKind::Unsupported,
            "the device has no interrupt",
        )
    }

    /// Reads one count and turns it into an event against the remembered
    /// one.
    fn read_event(&self, nonblock: bool, op: &'static str) -> Result<IrqEvent> {
        let mut buf = [0u8; 4];
        self.inner
            .port
            .read(&mut buf, nonblock)
            .map_err(|e| self.read_err(e, op))?;
        let count = u32::from_ne_bytes(buf);
        let mut last = lock(&self.inner.last);
        let ev = IrqEvent::between(*last, count);
        *last = count;
        Ok(ev)
    }

    /// Waits for an interrupt: `poll()` with the timeout, then `read()`
    /// (spec §1.6, §1.8). `None` waits forever. Retries on `EINTR` until
    /// the deadline. `Unsupported` without touching the descriptor if the
    /// device has no interrupt; `NoDevice` once it was unregistered;
    /// `Timeout` if nothing came.
    pub fn wait_irq(&self, timeout: Option<Duration>) -> Result<IrqEvent> {
        self.wait_until(timeout.map(|t| Instant::now() + t), None)
    }

    /// Non-blocking wait: `Deferred` (`EAGAIN`) if no event is pending; the
    /// remembered count is then unchanged.
    pub fn try_wait_irq(&self) -> Result<IrqEvent> {
        if !self.inner.has_irq {
            return Err(self.no_irq("try_wait_irq"));
        }
        self.read_event(true, "try_wait_irq")
    }

    fn wait_until(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&AtomicBool>,
    ) -> Result<IrqEvent> {
        const OP: &str = "wait_irq";
        if !self.inner.has_irq {
            return Err(self.no_irq(OP));
        }
        // Cancellable waits poll in slices so the helper thread notices.
        let slice = cancel.map(|_| Duration::from_millis(20));
        loop {
            if cancel.is_some_and(|c| c.load(Ordering::Acquire)) {
                return Err(UioError::dev(
                    &self.inner.node,
                    None,
                    OP,
                    ErrorKind::Io,
                    "cancelled",
                ));
            }
            let now = Instant::now();
            let left = deadline.map(|d| d.saturating_duration_since(now));
            let t = match (left, slice) {
                (Some(l), Some(s)) => Some(l.min(s)),
                (l, s) => l.or(s),
            };
            match self.inner.port.poll(t) {
                Ok(Readiness::Readable) => match self.read_event(true, OP) {
                    Err(e) if e.kind() == ErrorKind::Deferred => continue,
                    other => return other,
                },
                // §1.8: never loop on an error mask; one read gives the errno.
                Ok(Readiness::Error) => {
                    return match self.read_event(true, OP) {
                        Err(e) if e.kind() == ErrorKind::Deferred => Err(UioError::dev(
                            &self.inner.node,
                            None,
                            OP,
                            ErrorKind::Io,
                            "poll reported an error but read found nothing",
                        )),
                        other => other,
                    }
                }
                Ok(Readiness::TimedOut) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(UioError::dev(
                            &self.inner.node,
                            None,
                            OP,
                            ErrorKind::Timeout,
                            format!("no interrupt within {:?}", left.unwrap_or_default()),
                        ));
                    }
                }
                Err(errno::EINTR) => {}
                Err(e) => {
                    return Err(UioError::os(
                        &self.inner.node,
                        None,
                        OP,
                        e,
                        ErrorKind::Io,
                        "poll failed",
                    ))
                }
            }
        }
    }

    /// [`wait_irq`](Self::wait_irq) as a future, for any executor: a
    /// helper thread does the `poll()` (in 20 ms slices, so that dropping
    /// the future stops it within 20 ms) and wakes the future through a
    /// channel. No runtime is required.
    pub async fn wait_irq_async(&self, timeout: Option<Duration>) -> Result<IrqEvent> {
        if !self.inner.has_irq {
            return Err(self.no_irq("wait_irq_async"));
        }
        struct Cancel(Arc<AtomicBool>);
        impl Drop for Cancel {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let cancel = Cancel(Arc::new(AtomicBool::new(false)));
        let flag = Arc::clone(&cancel.0);
        let dev = UioDevice {
            inner: Arc::clone(&self.inner),
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::Builder::new()
            .name("uio-irq-wait".into())
            .spawn(move || {
                let _ = tx.send(dev.wait_until(deadline, Some(&flag)));
            })
            .map_err(|e| {
                UioError::dev(
                    &self.inner.node,
                    None,
                    "wait_irq_async",
                    ErrorKind::OutOfMemory,
                    format!("cannot start the wait thread: {e}"),
                )
            })?;
        let r = rx.await.unwrap_or_else(|_| {
            Err(UioError::dev(
                &self.inner.node,
                None,
                "wait_irq_async",
                ErrorKind::Io,
                "the wait thread stopped",
            ))
        });
        drop(cancel);
        r
    }
}
