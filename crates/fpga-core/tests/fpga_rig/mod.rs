//! Small recording backends shared by the bridge/region, Xilinx and
//! reprogram tests: every op call goes to one shared log, so tests can
//! assert exact call orders across managers, bridges and drivers.

#![allow(dead_code)]

use devlink_core::{async_trait, Device, Driver, DriverCore, ProbeError};
use fpga_core::{
    BridgeCaps, BridgeList, Errno, Fpga, FpgaBridgeOps, FpgaManagerOps, FpgaRegion, ImageInfo,
    MgrCaps, MgrState, MgrStatus, OpError, RegionOps, ScatterTable,
};
use fpga_core::{BridgeCtx, ManagerCtx};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A log shared by every recording object of a test.
pub type Log = Arc<Mutex<Vec<String>>>;

pub fn new_log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

pub fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

pub fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A driver core, the FPGA subsystem on it, and a registered platform
/// device named `name` (no driver bound).
pub async fn platform(core: &DriverCore, name: &str) -> Device {
    let d = core.device(name).bus("platform").create();
    core.device_add(&d).await.unwrap();
    d
}

pub fn setup() -> (DriverCore, Fpga) {
    let core = DriverCore::new().unwrap();
    let fpga = Fpga::new(&core);
    (core, fpga)
}

/// A manager backend that logs each op as `"<tag> <op> ..."` and can be
/// told to fail one op with an errno.
pub struct RecMgr {
    pub tag: String,
    pub caps: MgrCaps,
    pub initial_header_size: usize,
    pub status: u64,
    pub log: Log,
    /// `(op name, errno)`: that op fails.
    pub fail: Mutex<Option<(&'static str, Errno)>>,
    /// The infos `write_init` saw.
    pub init_infos: Mutex<Vec<ImageInfo>>,
    /// Every byte `write` received.
    pub written: Mutex<Vec<u8>>,
}

impl RecMgr {
    pub fn new(tag: &str, caps: MgrCaps, log: &Log) -> RecMgr {
        RecMgr {
            tag: tag.to_string(),
            caps,
            initial_header_size: 0,
            status: 0,
            log: Arc::clone(log),
            fail: Mutex::new(None),
            init_infos: Mutex::new(Vec::new()),
            written: Mutex::new(Vec::new()),
        }
    }

    /// `write_init`, `write`, `write_complete`.
    pub fn writer(tag: &str, log: &Log) -> RecMgr {
        RecMgr::new(
            tag,
            MgrCaps::WRITE_INIT | MgrCaps::WRITE | MgrCaps::WRITE_COMPLETE,
            log,
        )
    }

    pub fn fail_op(&self, op: &'static str, errno: Errno) {
        *self.fail.lock().unwrap() = Some((op, errno));
    }

    pub fn clear_fail(&self) {
        *self.fail.lock().unwrap() = None;
    }

    fn rec(&self, op: &'static str, what: String) -> Result<(), OpError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {op}{what}", self.tag));
        match *self.fail.lock().unwrap() {
            Some((f, errno)) if f == op => Err(OpError::new(errno)),
            _ => Ok(()),
        }
    }

    pub fn writes(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(&format!("{} write ", self.tag)))
            .count()
    }
}

#[async_trait]
impl FpgaManagerOps for RecMgr {
    fn caps(&self) -> MgrCaps {
        self.caps
    }
    fn initial_header_size(&self) -> usize {
        self.initial_header_size
    }
    async fn state(&self, _mgr: &ManagerCtx) -> MgrState {
        MgrState::Unknown
    }
    async fn status(&self, _mgr: &ManagerCtx) -> MgrStatus {
        MgrStatus::from_bits_retain(self.status)
    }
    async fn parse_header(
        &self,
        _mgr: &ManagerCtx,
        _info: &mut ImageInfo,
        buf: &[u8],
    ) -> Result<(), OpError> {
        self.rec("parse_header", format!(" {}", buf.len()))
    }
    async fn write_init(
        &self,
        _mgr: &ManagerCtx,
        info: &ImageInfo,
        buf: &[u8],
    ) -> Result<(), OpError> {
        self.init_infos.lock().unwrap().push(info.clone());
        self.rec("write_init", format!(" {}", buf.len()))
    }
    async fn write(&self, _mgr: &ManagerCtx, buf: &[u8]) -> Result<(), OpError> {
        self.written.lock().unwrap().extend_from_slice(buf);
        self.rec("write", format!(" {}", buf.len()))
    }
    async fn write_sg(&self, _mgr: &ManagerCtx, sgt: &ScatterTable) -> Result<(), OpError> {
        self.rec("write_sg", format!(" {}", sgt.len()))
    }
    async fn write_complete(&self, _mgr: &ManagerCtx, _info: &ImageInfo) -> Result<(), OpError> {
        self.rec("write_complete", String::new())
    }
    async fn fpga_remove(&self, _mgr: &ManagerCtx) {
        let _ = self.rec("fpga_remove", String::new());
    }
}

/// A bridge backend that keeps an enabled flag (initially enabled), logs
/// `"<tag> enable_set(<bool>)"`, and can fail `enable_set(value)`.
pub struct RecBridge {
    pub tag: String,
    pub caps: BridgeCaps,
    pub log: Log,
    pub enabled: AtomicBool,
    /// `enable_set(value)` fails with this errno.
    pub fail_set: Mutex<Option<(bool, Errno)>>,
    /// `enable_show` fails with this errno.
    pub fail_show: Mutex<Option<Errno>>,
    pub removes: AtomicUsize,
    /// Set by the test after registration: whether the class device was
    /// still registered when `fpga_bridge_remove` ran.
    pub dev: Mutex<Option<Device>>,
    pub registered_at_remove: Mutex<Option<bool>>,
}

impl RecBridge {
    pub fn new(tag: &str, caps: BridgeCaps, log: &Log) -> RecBridge {
        RecBridge {
            tag: tag.to_string(),
            caps,
            log: Arc::clone(log),
            enabled: AtomicBool::new(true),
            fail_set: Mutex::new(None),
            fail_show: Mutex::new(None),
            removes: AtomicUsize::new(0),
            dev: Mutex::new(None),
            registered_at_remove: Mutex::new(None),
        }
    }

    /// `enable_show` and `enable_set`.
    pub fn full(tag: &str, log: &Log) -> RecBridge {
        RecBridge::new(tag, BridgeCaps::ENABLE_SHOW | BridgeCaps::ENABLE_SET, log)
    }

    pub fn fail_set(&self, value: bool, errno: Errno) {
        *self.fail_set.lock().unwrap() = Some((value, errno));
    }

    pub fn clear_fail(&self) {
        *self.fail_set.lock().unwrap() = None;
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl FpgaBridgeOps for RecBridge {
    fn caps(&self) -> BridgeCaps {
        self.caps
    }
    async fn enable_show(&self, _bridge: &BridgeCtx) -> Result<bool, OpError> {
        if let Some(e) = *self.fail_show.lock().unwrap() {
            return Err(OpError::new(e));
        }
        Ok(self.enabled.load(Ordering::SeqCst))
    }
    async fn enable_set(&self, _bridge: &BridgeCtx, enable: bool) -> Result<(), OpError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} enable_set({enable})", self.tag));
        if let Some((v, e)) = *self.fail_set.lock().unwrap() {
            if v == enable {
                return Err(OpError::new(e));
            }
        }
        self.enabled.store(enable, Ordering::SeqCst);
        Ok(())
    }
    async fn fpga_bridge_remove(&self, _bridge: &BridgeCtx) {
        self.removes.fetch_add(1, Ordering::SeqCst);
        let reg = self.dev.lock().unwrap().as_ref().map(Device::is_registered);
        *self.registered_at_remove.lock().unwrap() = reg;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} fpga_bridge_remove", self.tag));
    }
}

/// A `get_bridges` that gets the bridges of `parents` to the list, in
/// order (so the list ends up reversed), and can be told to fail.
pub struct GetBridges {
    pub fpga: Fpga,
    pub parents: Vec<Device>,
    pub log: Log,
    pub calls: AtomicUsize,
    /// Fail (after getting nothing) with this errno.
    pub fail: Mutex<Option<Errno>>,
}

impl GetBridges {
    pub fn new(fpga: &Fpga, parents: &[&Device], log: &Log) -> GetBridges {
        GetBridges {
            fpga: fpga.clone(),
            parents: parents.iter().map(|d| (*d).clone()).collect(),
            log: Arc::clone(log),
            calls: AtomicUsize::new(0),
            fail: Mutex::new(None),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl RegionOps for GetBridges {
    async fn get_bridges(
        &self,
        region: &FpgaRegion,
        list: &mut BridgeList,
    ) -> fpga_core::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push("get_bridges".to_string());
        if let Some(errno) = *self.fail.lock().unwrap() {
            return Err(fpga_core::FpgaError::Op {
                object: region.device().name().to_string(),
                op: "get_bridges",
                source: OpError::new(errno),
            });
        }
        let info = region.info();
        for p in &self.parents {
            self.fpga.bridge_get_to_list(p, info.as_ref(), list)?;
        }
        Ok(())
    }
}

/// A driver that logs `probe <name>` / `remove <name>`; with `leak`, its
/// `remove` keeps a clone of the device (a leaked device reference).
pub struct RecDriver {
    pub name: String,
    pub log: Log,
    pub leak: bool,
    pub leaked: Mutex<Vec<Device>>,
}

impl RecDriver {
    pub fn new(name: &str, log: &Log) -> RecDriver {
        RecDriver {
            name: name.to_string(),
            log: Arc::clone(log),
            leak: false,
            leaked: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Driver for RecDriver {
    fn name(&self) -> &str {
        &self.name
    }
    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("probe {}", dev.name()));
        Ok(())
    }
    async fn remove(&self, dev: &Device) {
        self.log
            .lock()
            .unwrap()
            .push(format!("remove {}", dev.name()));
        if self.leak {
            self.leaked.lock().unwrap().push(dev.clone());
        }
    }
}
