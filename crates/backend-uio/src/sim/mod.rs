//! The UIO simulator (spec `uio.md` §1.13): a rooted fake sysfs tree with
//! the kernel's file names and formats (so the real discovery code reads
//! it), descriptors with the kernel's per-descriptor counts, `EAGAIN`,
//! `EIO`, `ENOSYS`, length checks, `uio_pdrv_genirq` masking, and
//! `unregister()` with the §1.10 sequence. Register files are pluggable
//! [`RegisterModel`]s behind the same [`crate::Registers`] trait as a real
//! mapping; the HWICAP model of §2.8 is [`HwicapModel`].

mod hwicap;
mod model;

pub use hwicap::{Fault, HwicapConfig, HwicapModel, TickMode};
pub use model::{Access, AccessLog, RamModel, RegisterModel};

use crate::device::{lock, UioDevice};
use crate::discover::{self, MapInfo, Selector};
use crate::error::{errno, Result, UioError};
use crate::port::{check_mmap, Port, Readiness};
use crate::regs::{check_access, Backing, Registers};
use crate::root::UioRoot;
use devlink_core::ErrorKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a simulated device's interrupt behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqModel {
    /// No interrupt (`read`/`write` → `EIO`, `poll` → error).
    None,
    /// `uio_pdrv_genirq`: masked on each interrupt, further interrupts
    /// latched (at most one pending) until `irq_enable()`.
    GenIrq,
    /// `uio_pci_generic`: no `irqcontrol` hook (`write` → `ENOSYS`); every
    /// interrupt is counted.
    NoIrqControl,
}

/// One simulated map.
#[derive(Clone)]
pub struct SimMap {
    /// `name`.
    pub name: String,
    /// `addr`.
    pub addr: u64,
    /// `size`.
    pub size: u64,
    /// `offset`.
    pub offset: u64,
    /// The register file behind it, addressed from the register base.
    pub model: Arc<dyn RegisterModel>,
    /// Every access that reached the model.
    pub log: AccessLog,
}

impl SimMap {
    /// A map with this model and a fresh access log.
    pub fn new(addr: u64, size: u64, offset: u64, model: Arc<dyn RegisterModel>) -> SimMap {
        SimMap {
            name: String::new(),
            addr,
            size,
            offset,
            model,
            log: AccessLog::default(),
        }
    }
}

/// What to register.
#[derive(Clone)]
pub struct SimDeviceSpec {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// The parent platform device (`devices/platform/<parent>`).
    pub parent: String,
    /// The interrupt model.
    pub irq: IrqModel,
    /// The maps.
    pub maps: Vec<SimMap>,
}

impl SimDeviceSpec {
    /// A `uio_pdrv_genirq` device tree node: version `devicetree`, an
    /// interrupt, no maps yet.
    pub fn new(name: &str, parent: &str) -> SimDeviceSpec {
        SimDeviceSpec {
            name: name.into(),
            version: "devicetree".into(),
            parent: parent.into(),
            irq: IrqModel::GenIrq,
            maps: Vec::new(),
        }
    }

    /// Sets the interrupt model.
    pub fn with_irq(mut self, irq: IrqModel) -> SimDeviceSpec {
        self.irq = irq;
        self
    }

    /// Adds a map.
    pub fn with_map(mut self, map: SimMap) -> SimDeviceSpec {
        self.maps.push(map);
        self
    }

    /// Adds a page-aligned map of plain RAM registers.
    pub fn with_ram_map(self, addr: u64, size: u64) -> SimDeviceSpec {
        let model = Arc::new(RamModel::new(size as usize));
        self.with_map(SimMap::new(addr, size, 0, model))
    }
}

/// A registered simulated device: its number and registration generation
/// (a re-registration under the same number is a different device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimHandle {
    /// `N` of `uioN`.
    pub number: u32,
    gen: u64,
}

struct SimDev {
    gen: u64,
    spec: SimDeviceSpec,
    event: u32,
    masked: bool,
    pending: bool,
    holder: Option<String>,
    descriptors: usize,
}

struct SimState {
    devices: BTreeMap<u32, SimDev>,
    next_gen: u64,
}

struct Shared {
    root: UioRoot,
    state: Mutex<SimState>,
    cond: Condvar,
    mmaps: std::sync::atomic::AtomicUsize,
    _dir: tempfile::TempDir,
}

/// The simulated UIO subsystem. Cloning gives another handle.
///
/// ```
/// use backend_uio::sim::{SimUio, SimDeviceSpec};
/// use backend_uio::Selector;
/// let sim = SimUio::new().unwrap();
/// let h = sim.register(SimDeviceSpec::new("accel", "a0000000.accel").with_ram_map(0xa000_0000, 0x1000));
/// assert_eq!(h.number, 0);
/// let dev = sim.open(Selector::Number(0)).unwrap();
/// sim.inject_irq(h).unwrap();
/// assert_eq!(dev.wait_irq(None).unwrap().count, 1);
/// ```
#[derive(Clone)]
pub struct SimUio {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimUio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimUio({})", self.shared.root.sys().display())
    }
}

fn write_file(path: &Path, text: &str) {
    // The tree is ours, in our temporary directory: a failure here is a
    // broken machine (disk full), reported by the reads that follow.
    let _ = std::fs::write(path, text);
}

impl SimUio {
    /// A simulator with an empty tree in a fresh temporary directory.
    pub fn new() -> Result<SimUio> {
        let dir = tempfile::tempdir().map_err(UioError::io("temporary directory"))?;
        let root = UioRoot::at(dir.path());
        std::fs::create_dir_all(root.class_dir()).map_err(UioError::io(root.class_dir()))?;
        Ok(SimUio {
            shared: Arc::new(Shared {
                root,
                state: Mutex::new(SimState {
                    devices: BTreeMap::new(),
                    next_gen: 1,
                }),
                cond: Condvar::new(),
                mmaps: Default::default(),
                _dir: dir,
            }),
        })
    }

    /// The fake sysfs tree's root.
    pub fn root(&self) -> &UioRoot {
        &self.shared.root
    }

    /// The parent device directory for `parent`.
    pub fn parent_path(&self, parent: &str) -> PathBuf {
        self.shared.root.sys().join("devices/platform").join(parent)
    }

    fn dev_dir(&self, spec: &SimDeviceSpec, n: u32) -> PathBuf {
        self.parent_path(&spec.parent).join(format!("uio/uio{n}"))
    }

    /// Registers a device under the lowest free number and writes its
    /// sysfs entries (§1.1–§1.3 formats).
    pub fn register(&self, spec: SimDeviceSpec) -> SimHandle {
        let mut st = lock(&self.shared.state);
        let number = (0..).find(|n| !st.devices.contains_key(n)).unwrap_or(0);
        let gen = st.next_gen;
        st.next_gen += 1;
        let dir = self.dev_dir(&spec, number);
        let _ = std::fs::create_dir_all(&dir);
        write_file(&dir.join("name"), &format!("{}\n", spec.name));
        write_file(&dir.join("version"), &format!("{}\n", spec.version));
        write_file(&dir.join("event"), "0\n");
        write_file(&dir.join("dev"), &format!("243:{number}\n"));
        for (i, m) in spec.maps.iter().enumerate() {
            let md = dir.join(format!("maps/map{i}"));
            let _ = std::fs::create_dir_all(&md);
            write_file(&md.join("name"), &format!("{}\n", m.name));
            write_file(&md.join("addr"), &format!("{:#018x}\n", m.addr));
            write_file(&md.join("size"), &format!("{:#018x}\n", m.size));
            write_file(&md.join("offset"), &format!("{:#x}\n", m.offset));
        }
        let _ = std::os::unix::fs::symlink(self.parent_path(&spec.parent), dir.join("device"));
        let class = self.shared.root.class_dir().join(format!("uio{number}"));
        let _ = std::os::unix::fs::symlink(&dir, class);
        st.devices.insert(
            number,
            SimDev {
                gen,
                spec,
                event: 0,
                masked: false,
                pending: false,
                holder: None,
                descriptors: 0,
            },
        );
        SimHandle { number, gen }
    }

    fn with_dev<T>(&self, h: SimHandle, f: impl FnOnce(&mut SimDev, &Path) -> T) -> Result<T> {
        let mut st = lock(&self.shared.state);
        match st.devices.get_mut(&h.number) {
            Some(d) if d.gen == h.gen => {
                let dir = self.dev_dir(&d.spec, h.number);
                Ok(f(d, &dir))
            }
            _ => Err(UioError::dev(
                &format!("sim uio{}", h.number),
                None,
                "sim",
                ErrorKind::NoDevice,
                "the device was unregistered",
            )),
        }
    }

    /// Raises the device's interrupt once. Returns whether it was counted
    /// (a masked `GenIrq` line latches it instead).
    pub fn inject_irq(&self, h: SimHandle) -> Result<bool> {
        let counted = self.with_dev(h, |d, dir| match d.spec.irq {
            IrqModel::None => None,
            IrqModel::GenIrq if d.masked => {
                d.pending = true;
                Some(false)
            }
            IrqModel::GenIrq | IrqModel::NoIrqControl => {
                deliver(d, dir);
                Some(true)
            }
        })?;
        self.shared.cond.notify_all();
        counted.ok_or_else(|| {
            UioError::dev(
                &format!("sim uio{}", h.number),
                None,
                "inject_irq",
                ErrorKind::Unsupported,
                "the device has no interrupt",
            )
        })
    }

    /// Sets the device's event counter (to test wrapping).
    pub fn set_event_count(&self, h: SimHandle, count: u32) -> Result<()> {
        self.with_dev(h, |d, dir| {
            d.event = count;
            write_file(&dir.join("event"), &format!("{count}\n"));
        })
    }

    /// Whether the interrupt line is masked.
    pub fn is_masked(&self, h: SimHandle) -> Result<bool> {
        self.with_dev(h, |d, _| d.masked)
    }

    /// Open descriptors of the device.
    pub fn open_descriptors(&self, h: SimHandle) -> Result<usize> {
        self.with_dev(h, |d, _| d.descriptors)
    }

    /// Whether `h` is still registered.
    pub fn is_registered(&self, h: SimHandle) -> bool {
        self.with_dev(h, |_, _| ()).is_ok()
    }

    /// Unregisters the device (§1.10): marks it gone, wakes every reader
    /// (`EIO`), removes its sysfs entries and frees its number. Existing
    /// mappings stay valid.
    pub fn unregister(&self, h: SimHandle) -> Result<()> {
        let mut st = lock(&self.shared.state);
        match st.devices.get(&h.number) {
            Some(d) if d.gen == h.gen => {}
            _ => {
                return Err(UioError::dev(
                    &format!("sim uio{}", h.number),
                    None,
                    "unregister",
                    ErrorKind::NoDevice,
                    "not registered",
                ))
            }
        }
        if let Some(d) = st.devices.remove(&h.number) {
            let _ = std::fs::remove_file(
                self.shared
                    .root
                    .class_dir()
                    .join(format!("uio{}", h.number)),
            );
            let _ = std::fs::remove_dir_all(self.dev_dir(&d.spec, h.number));
        }
        drop(st);
        self.shared.cond.notify_all();
        Ok(())
    }

    /// Opens and locks a device, like [`UioDevice::open`] on a real
    /// system: the same discovery code runs on this simulator's tree.
    pub fn open(&self, sel: Selector) -> Result<UioDevice> {
        self.open_as(sel, "sim")
    }

    /// [`open`](Self::open) naming the lock holder.
    pub fn open_as(&self, sel: Selector, owner: &str) -> Result<UioDevice> {
        self.open_inner(sel, Some(owner))
    }

    /// Opens without the advisory lock (see [`UioDevice::open_shared`]).
    pub fn open_shared(&self, sel: Selector) -> Result<UioDevice> {
        self.open_inner(sel, None)
    }

    /// `mmap` calls that reached the simulated kernel.
    pub fn mmap_calls(&self) -> usize {
        self.shared.mmaps.load(std::sync::atomic::Ordering::Acquire)
    }

    fn open_inner(&self, sel: Selector, owner: Option<&str>) -> Result<UioDevice> {
        let root = &self.shared.root;
        let info = discover::resolve(root, &sel)?;
        let node = format!("{}/uio{}", root.dev_dir().display(), info.number);
        let (gen, initial) = {
            let mut st = lock(&self.shared.state);
            let d = st.devices.get_mut(&info.number).ok_or_else(|| {
                UioError::os(
                    &node,
                    None,
                    "open",
                    errno::ENODEV,
                    ErrorKind::NoDevice,
                    "stale device node",
                )
            })?;
            if let Some(owner) = owner {
                if let Some(holder) = &d.holder {
                    return Err(UioError::Busy {
                        device: node,
                        holder: holder.clone(),
                    });
                }
                d.holder = Some(owner.to_string());
            }
            d.descriptors += 1;
            (d.gen, d.event)
        };
        let port = SimPort {
            shared: Arc::clone(&self.shared),
            number: info.number,
            gen,
            remembered: Mutex::new(initial),
            exclusive: owner.is_some(),
        };
        Ok(UioDevice::from_port(
            root,
            info,
            node,
            Box::new(port),
            initial,
            None,
        ))
    }
}

/// Counts one interrupt and, for `GenIrq`, masks the line.
fn deliver(d: &mut SimDev, dir: &Path) {
    d.event = d.event.wrapping_add(1);
    if d.spec.irq == IrqModel::GenIrq {
        d.masked = true;
    }
    write_file(&dir.join("event"), &format!("{}\n", d.event));
}

struct SimPort {
    shared: Arc<Shared>,
    number: u32,
    gen: u64,
    remembered: Mutex<u32>,
    exclusive: bool,
}

impl SimPort {
    fn dev<'a>(&self, st: &'a mut SimState) -> Option<&'a mut SimDev> {
        st.devices
            .get_mut(&self.number)
            .filter(|d| d.gen == self.gen)
    }
}

impl Drop for SimPort {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        let exclusive = self.exclusive;
        if let Some(d) = self.dev(&mut st) {
            if exclusive {
                d.holder = None;
            }
            d.descriptors -= 1;
        }
    }
}

impl Port for SimPort {
    fn read(&self, buf: &mut [u8], nonblock: bool) -> std::result::Result<usize, i32> {
        if buf.len() != 4 {
            return Err(errno::EINVAL);
        }
        let mut st = lock(&self.shared.state);
        loop {
            let remembered = *lock(&self.remembered);
            let event = match self.dev(&mut st) {
                None => return Err(errno::EIO),
                Some(d) if d.spec.irq == IrqModel::None => return Err(errno::EIO),
                Some(d) => d.event,
            };
            if event != remembered {
                buf.copy_from_slice(&event.to_ne_bytes());
                *lock(&self.remembered) = event;
                return Ok(4);
            }
            if nonblock {
                return Err(errno::EAGAIN);
            }
            st = self.shared.cond.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn write(&self, buf: &[u8]) -> std::result::Result<usize, i32> {
        let value = <[u8; 4]>::try_from(buf).map_err(|_| errno::EINVAL)?;
        let mut st = lock(&self.shared.state);
        let dir = {
            let d = self.dev(&mut st).ok_or(errno::EINVAL)?;
            match d.spec.irq {
                IrqModel::None => return Err(errno::EIO),
                IrqModel::NoIrqControl => return Err(errno::ENOSYS),
                IrqModel::GenIrq => {}
            }
            d.spec.parent.clone()
        };
        let dir = self
            .shared
            .root
            .sys()
            .join("devices/platform")
            .join(dir)
            .join(format!("uio/uio{}", self.number));
        let d = self.dev(&mut st).ok_or(errno::EINVAL)?;
        if i32::from_ne_bytes(value) != 0 {
            d.masked = false;
            if d.pending {
                d.pending = false;
                deliver(d, &dir);
            }
        } else {
            d.masked = true;
        }
        drop(st);
        self.shared.cond.notify_all();
        Ok(4)
    }

    fn poll(&self, timeout: Option<Duration>) -> std::result::Result<Readiness, i32> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = lock(&self.shared.state);
        loop {
            let remembered = *lock(&self.remembered);
            match self.dev(&mut st) {
                None => return Ok(Readiness::Error),
                Some(d) if d.spec.irq == IrqModel::None => return Ok(Readiness::Error),
                Some(d) if d.event != remembered => return Ok(Readiness::Readable),
                Some(_) => {}
            }
            st = match deadline {
                None => self.shared.cond.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(Readiness::TimedOut);
                    }
                    self.shared
                        .cond
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    fn mmap(
        &self,
        map: &MapInfo,
        offset: u64,
        len: usize,
    ) -> std::result::Result<(Backing, usize), i32> {
        let page = self.shared.root.page_size();
        self.shared
            .mmaps
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let mut st = lock(&self.shared.state);
        let d = self.dev(&mut st).ok_or(errno::EINVAL)?;
        let index = (offset / page as u64) as usize;
        let maps: Vec<MapInfo> = d
            .spec
            .maps
            .iter()
            .enumerate()
            .map(|(i, m)| MapInfo {
                index: i,
                name: m.name.clone(),
                addr: m.addr,
                size: m.size,
                offset: m.offset,
            })
            .collect();
        check_mmap(maps.get(index), index, len, page).map_err(|(e, _, _)| e)?;
        let sm = &d.spec.maps[index];
        let base = 0x7f00_0000_0000usize + ((self.number as usize) << 24) + index * page;
        let region = SimRegion {
            model: Arc::clone(&sm.model),
            log: sm.log.clone(),
            start: map.in_page_offset(page),
            len,
        };
        Ok((Backing::Model(Box::new(region)), base))
    }

    fn gone(&self) -> bool {
        let mut st = lock(&self.shared.state);
        self.dev(&mut st).is_none()
    }
}

/// A simulated mapping: the map's model, reached at `off - start` (the
/// register base), each access logged.
struct SimRegion {
    model: Arc<dyn RegisterModel>,
    log: AccessLog,
    start: usize,
    len: usize,
}

impl Registers for SimRegion {
    fn len(&self) -> usize {
        self.len
    }

    fn read32(&self, off: usize) -> Result<u32> {
        if !check_access(self.len, off) || off < self.start {
            return Err(UioError::dev(
                "sim",
                None,
                "read32",
                ErrorKind::InvalidInput,
                "outside the model",
            ));
        }
        let v = self.model.read32(off - self.start);
        self.log.record(false, off - self.start, v);
        Ok(v)
    }

    fn write32(&self, off: usize, v: u32) -> Result<()> {
        if !check_access(self.len, off) || off < self.start {
            return Err(UioError::dev(
                "sim",
                None,
                "write32",
                ErrorKind::InvalidInput,
                "outside the model",
            ));
        }
        self.log.record(true, off - self.start, v);
        self.model.write32(off - self.start, v);
        Ok(())
    }

    fn write32_repeat(&self, off: usize, words: &[u32]) -> Result<()> {
        if !check_access(self.len, off) || off < self.start {
            return Err(UioError::dev(
                "sim",
                None,
                "write32",
                ErrorKind::InvalidInput,
                "outside the model",
            ));
        }
        for &w in words {
            self.log.record(true, off - self.start, w);
        }
        self.model.write32_repeat(off - self.start, words);
        Ok(())
    }
}
