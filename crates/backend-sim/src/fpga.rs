//! The simulated FPGA: a manager that checks the images it is given, a
//! bridge, and a small bitstream format for them.
//!
//! **Image format** (`SIMBIT`): a 24-byte header — magic `SIMBIT01`, flags
//! (`u32` LE, bit 0 = partial), payload length (`u32` LE), CRC-32 of the
//! payload (`u32` LE), the sync word `AA 99 55 66` — then the payload.
//! [`sim_image`] builds one.
//!
//! The manager's `parse_header` reads the header (asking for more bytes
//! with `EAGAIN` on a short first chunk), `write_init` checks the magic,
//! the sync word and the partial flag against the image info and against
//! what is loaded (a partial image needs a full one first), `write` copies
//! into a preallocated sink at a virtual speed, and `write_complete` checks
//! the length and the CRC. Every op can be told to fail, and `write` can
//! fail at a byte offset; failures set the status bits a real manager
//! would.

use crate::driver::SimClock;
use fpga_core::{BridgeCtx, ManagerCtx};
use fpga_core::{
    Errno, FpgaBridgeOps, FpgaManagerOps, ImageFlags, ImageInfo, MgrCaps, MgrState, MgrStatus,
    OpError, ScatterTable,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use fpga_image::simbit::crc32_update;
pub use fpga_image::simbit::{crc32, parse_sim_header, sim_image, SimHeader, SIM_HEADER};

/// Which op a [`SimFpgaManager`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFault {
    /// `parse_header`.
    ParseHeader,
    /// `write_init`.
    WriteInit,
    /// `write` once this many payload bytes have been accepted.
    WriteAt(u64),
    /// `write_complete`.
    WriteComplete,
}

#[derive(Debug, Default)]
struct LoadState {
    sink: Vec<u8>,
    header: Option<SimHeader>,
    received: u64,
    crc: u32,
    sink_pos: usize,
    status: MgrStatus,
    loaded: Option<SimHeader>,
    loads: u64,
    ops: Vec<&'static str>,
    /// The `write` fault in force for the current load.
    write_fault: Option<(u64, Errno)>,
}

/// A simulated FPGA manager backend.
pub struct SimFpgaManager {
    clock: SimClock,
    bytes_per_sec: u64,
    write_sg: bool,
    verify_crc: bool,
    fault: Mutex<Option<(SimFault, Errno)>>,
    /// Copied from `fault` at `write_init`, so `write` takes one lock.
    st: Mutex<LoadState>,
    removed: AtomicBool,
    written: AtomicU64,
}

impl std::fmt::Debug for SimFpgaManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFpgaManager")
            .field("bytes_per_sec", &self.bytes_per_sec)
            .field("write_sg", &self.write_sg)
            .finish()
    }
}

impl SimFpgaManager {
    /// A manager writing at `bytes_per_sec` of virtual time (0 = instant),
    /// with CRC checking on and `write` (not `write_sg`).
    pub fn new(clock: &SimClock, bytes_per_sec: u64) -> SimFpgaManager {
        SimFpgaManager {
            clock: clock.clone(),
            bytes_per_sec,
            write_sg: false,
            verify_crc: true,
            fault: Mutex::new(None),
            st: Mutex::new(LoadState::default()),
            removed: AtomicBool::new(false),
            written: AtomicU64::new(0),
        }
    }

    /// Use `write_sg` instead of `write` (the DMA style).
    pub fn with_write_sg(mut self) -> SimFpgaManager {
        self.write_sg = true;
        self
    }

    /// Turns the CRC check off (the raw-throughput benchmark).
    pub fn without_crc(mut self) -> SimFpgaManager {
        self.verify_crc = false;
        self
    }

    /// Preallocates a sink of `bytes` that writes copy into.
    pub fn with_sink(self, bytes: usize) -> SimFpgaManager {
        self.st.lock().unwrap().sink = vec![0; bytes];
        self
    }

    /// Makes the next loads fail at `fault` with `errno` until cleared.
    pub fn inject(&self, fault: Option<(SimFault, Errno)>) {
        *self.fault.lock().unwrap() = fault;
    }

    /// The image loaded last (its header), if any.
    pub fn loaded(&self) -> Option<SimHeader> {
        self.st.lock().unwrap().loaded
    }

    /// Completed loads.
    pub fn loads(&self) -> u64 {
        self.st.lock().unwrap().loads
    }

    /// Every op called, in order.
    pub fn ops(&self) -> Vec<&'static str> {
        self.st.lock().unwrap().ops.clone()
    }

    /// Payload bytes accepted by `write` so far (all loads).
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Whether `fpga_remove` ran.
    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    fn fault(&self, which: fn(SimFault) -> bool) -> Option<Errno> {
        match *self.fault.lock().unwrap() {
            Some((f, e)) if which(f) => Some(e),
            _ => None,
        }
    }

    fn fail(&self, status: MgrStatus, errno: Errno, why: String) -> Result<(), OpError> {
        self.st.lock().unwrap().status |= status;
        Err(OpError::with(errno, why))
    }

    fn accept(&self, data: &[u8]) -> Result<(), OpError> {
        let mut st = self.st.lock().unwrap();
        if st.ops.last() != Some(&"write") {
            st.ops.push("write");
        }
        let Some(h) = st.header else {
            drop(st);
            return self.fail(
                MgrStatus::IP_PROTOCOL_ERR,
                Errno::EINVAL,
                "write before write_init".into(),
            );
        };
        let mut data = data;
        if let Some((off, errno)) = st.write_fault {
            if st.received + data.len() as u64 > off {
                let ok = (off - st.received.min(off)) as usize;
                data = &data[..ok];
                self.take(&mut st, data);
                drop(st);
                return self.fail(
                    MgrStatus::OPERATION_ERR,
                    errno,
                    format!("simulated write failure at byte {off}"),
                );
            }
        }
        if st.received + data.len() as u64 > u64::from(h.len) {
            drop(st);
            return self.fail(
                MgrStatus::FIFO_OVERFLOW_ERR,
                Errno::EINVAL,
                format!("more data than the header's {} bytes", h.len),
            );
        }
        self.take(&mut st, data);
        Ok(())
    }

    fn take(&self, st: &mut LoadState, data: &[u8]) {
        if self.verify_crc {
            st.crc = crc32_update(st.crc, data);
        }
        if !st.sink.is_empty() {
            let len = st.sink.len();
            let pos = st.sink_pos % len;
            let n = data.len().min(len - pos);
            st.sink[pos..pos + n].copy_from_slice(&data[..n]);
            st.sink_pos = pos + n;
        }
        st.received += data.len() as u64;
        self.written.fetch_add(data.len() as u64, Ordering::Relaxed);
        if self.bytes_per_sec > 0 {
            self.clock.advance(Duration::from_nanos(
                (data.len() as u128 * 1_000_000_000 / self.bytes_per_sec as u128) as u64,
            ));
        }
    }
}

#[async_trait::async_trait]
impl FpgaManagerOps for SimFpgaManager {
    fn caps(&self) -> MgrCaps {
        let base = MgrCaps::STATE
            | MgrCaps::STATUS
            | MgrCaps::PARSE_HEADER
            | MgrCaps::WRITE_INIT
            | MgrCaps::WRITE_COMPLETE
            | MgrCaps::REMOVE;
        base | if self.write_sg {
            MgrCaps::WRITE_SG
        } else {
            MgrCaps::WRITE
        }
    }

    fn initial_header_size(&self) -> usize {
        SIM_HEADER
    }

    fn skip_header(&self) -> bool {
        true
    }

    async fn state(&self, _mgr: &ManagerCtx) -> MgrState {
        MgrState::PowerOff
    }

    async fn status(&self, _mgr: &ManagerCtx) -> MgrStatus {
        self.st.lock().unwrap().status
    }

    async fn parse_header(
        &self,
        _mgr: &ManagerCtx,
        info: &mut ImageInfo,
        buf: &[u8],
    ) -> Result<(), OpError> {
        self.st.lock().unwrap().ops.push("parse_header");
        if let Some(e) = self.fault(|f| f == SimFault::ParseHeader) {
            return self.fail(
                MgrStatus::OPERATION_ERR,
                e,
                "simulated parse_header failure".into(),
            );
        }
        if buf.len() < SIM_HEADER {
            info.header_size = SIM_HEADER;
            return Err(OpError::new(Errno::EAGAIN));
        }
        let h = match parse_sim_header(buf) {
            Ok(h) => h,
            Err(why) => return self.fail(MgrStatus::INCOMPATIBLE_IMAGE_ERR, Errno::EINVAL, why),
        };
        info.header_size = SIM_HEADER;
        info.data_size = h.len as usize;
        Ok(())
    }

    async fn write_init(
        &self,
        _mgr: &ManagerCtx,
        info: &ImageInfo,
        buf: &[u8],
    ) -> Result<(), OpError> {
        {
            let mut st = self.st.lock().unwrap();
            st.ops.push("write_init");
            st.status = MgrStatus::empty();
        }
        if let Some(e) = self.fault(|f| f == SimFault::WriteInit) {
            return self.fail(
                MgrStatus::OPERATION_ERR,
                e,
                "simulated write_init failure".into(),
            );
        }
        let h = match parse_sim_header(buf) {
            Ok(h) => h,
            Err(why) => return self.fail(MgrStatus::INCOMPATIBLE_IMAGE_ERR, Errno::EINVAL, why),
        };
        let want_partial = info.flags.contains(ImageFlags::PARTIAL_RECONFIG);
        if h.partial != want_partial {
            return self.fail(
                MgrStatus::INCOMPATIBLE_IMAGE_ERR,
                Errno::EINVAL,
                format!(
                    "image is {} but the load asked for {}",
                    if h.partial { "partial" } else { "full" },
                    if want_partial { "partial" } else { "full" }
                ),
            );
        }
        let mut st = self.st.lock().unwrap();
        if h.partial && st.loaded.is_none() {
            drop(st);
            return self.fail(
                MgrStatus::INCOMPATIBLE_IMAGE_ERR,
                Errno::EINVAL,
                "partial image on an unconfigured FPGA (load a full image first)".into(),
            );
        }
        st.header = Some(h);
        st.write_fault = match *self.fault.lock().unwrap() {
            Some((SimFault::WriteAt(off), e)) => Some((off, e)),
            _ => None,
        };
        st.received = 0;
        st.crc = 0xFFFF_FFFF;
        st.sink_pos = 0;
        Ok(())
    }

    async fn write(&self, _mgr: &ManagerCtx, buf: &[u8]) -> Result<(), OpError> {
        self.accept(buf)
    }

    async fn write_sg(&self, _mgr: &ManagerCtx, sgt: &ScatterTable) -> Result<(), OpError> {
        // write_sg sees the whole table: skip the header itself.
        let mut skip = SIM_HEADER;
        for seg in sgt.segments() {
            let s = skip.min(seg.len());
            skip -= s;
            if s < seg.len() {
                self.accept(&seg[s..])?;
            }
        }
        Ok(())
    }

    async fn write_complete(&self, _mgr: &ManagerCtx, _info: &ImageInfo) -> Result<(), OpError> {
        self.st.lock().unwrap().ops.push("write_complete");
        if let Some(e) = self.fault(|f| f == SimFault::WriteComplete) {
            return self.fail(
                MgrStatus::OPERATION_ERR,
                e,
                "simulated write_complete failure".into(),
            );
        }
        let mut st = self.st.lock().unwrap();
        let Some(h) = st.header.take() else {
            drop(st);
            return self.fail(
                MgrStatus::IP_PROTOCOL_ERR,
                Errno::EINVAL,
                "write_complete before write_init".into(),
            );
        };
        if st.received != u64::from(h.len) {
            let got = st.received;
            drop(st);
            return self.fail(
                MgrStatus::OPERATION_ERR,
                Errno::EIO,
                format!("image truncated: {got} of {} payload bytes", h.len),
            );
        }
        if self.verify_crc && st.crc ^ 0xFFFF_FFFF != h.crc {
            drop(st);
            return self.fail(
                MgrStatus::CRC_ERR,
                Errno::EIO,
                "payload CRC mismatch".into(),
            );
        }
        st.loaded = Some(h);
        st.loads += 1;
        Ok(())
    }

    async fn fpga_remove(&self, _mgr: &ManagerCtx) {
        self.removed.store(true, Ordering::Release);
    }
}

/// A simulated bridge: a flag, a toggle count, and an optional failure.
#[derive(Debug, Default)]
pub struct SimBridge {
    enabled: AtomicBool,
    toggles: AtomicU64,
    fail: Mutex<Option<(bool, Errno)>>,
}

impl SimBridge {
    /// An enabled bridge.
    pub fn new() -> SimBridge {
        SimBridge {
            enabled: AtomicBool::new(true),
            ..SimBridge::default()
        }
    }

    /// Whether traffic passes.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// How many times `enable_set` changed or re-set the state.
    pub fn toggles(&self) -> u64 {
        self.toggles.load(Ordering::Acquire)
    }

    /// Makes `enable_set(value)` fail with `errno` (None clears).
    pub fn inject(&self, fault: Option<(bool, Errno)>) {
        *self.fail.lock().unwrap() = fault;
    }
}

#[fpga_core::bridge_ops]
impl FpgaBridgeOps for SimBridge {
    async fn enable_show(&self, _bridge: &BridgeCtx) -> Result<bool, OpError> {
        Ok(self.is_enabled())
    }

    async fn enable_set(&self, _bridge: &BridgeCtx, enable: bool) -> Result<(), OpError> {
        if let Some((value, e)) = *self.fail.lock().unwrap() {
            if value == enable {
                return Err(OpError::with(
                    e,
                    format!("simulated enable_set({enable}) failure"),
                ));
            }
        }
        self.enabled.store(enable, Ordering::Release);
        self.toggles.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}
