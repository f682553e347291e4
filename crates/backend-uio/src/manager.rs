//! The HWICAP as an `fpga-core` low-level manager driver, and the PR
//! decoupler as a bridge (spec `uio.md` §2.7). Both own an `Arc` of the
//! opened, locked UIO device and their mapping; if that device is
//! unregistered underneath them, every op fails with `ENODEV` before any
//! register is touched.

use crate::bitstream::{packet, scan_prefix, Scan, WordStream};
use crate::device::{lock, UioDevice};
use crate::error::{Result, UioError};
use crate::hwicap::{idcode_matches, reg, sr, Hwicap, HwicapTimeouts};
use crate::regs::{Mapping, Registers};
use devlink_core::ErrorKind;
use fpga_core::{BridgeCtx, ManagerCtx};
use fpga_core::{
    Errno, FpgaBridgeOps, FpgaManagerOps, ImageFlags, ImageInfo, MgrState, MgrStatus, OpError,
};
use std::sync::{Arc, Mutex};

/// The errno `fpga-core` sees for a backend error: the kernel's own where
/// it gave one, else the one table's errno for the kind.
pub fn errno_of(e: &UioError) -> Errno {
    match e.errno() {
        Some(n) => Errno(n),
        None => e.kind().errno(),
    }
}

fn op_err(e: &UioError) -> OpError {
    OpError::with(errno_of(e), e.to_string())
}

/// A check of the platform prerequisites (ICAP selected, not JTAG mode,
/// PCAP_PR clear, ...): `Err(explanation)` makes `write_init` fail with
/// `EOPNOTSUPP`. These registers are outside the HWICAP's maps, so by
/// default nothing is checked and the IDCODE probe is relied on.
pub type PlatformCheck = Arc<dyn Fn() -> std::result::Result<(), String> + Send + Sync>;

/// Bytes the manager asks for first in `parse_header` (it raises the
/// size with `EAGAIN` until the header and the IDCODE packet are in).
pub const INITIAL_HEADER: usize = 64;

#[derive(Default)]
struct Run {
    state: Option<MgrState>,
    status: MgrStatus,
    stream: Option<WordStream>,
    total: usize,
    words: Vec<u32>,
}

/// The HWICAP low-level manager driver (`FpgaManagerOps`).
pub struct HwicapManager {
    dev: Arc<UioDevice>,
    icap: Hwicap,
    platform: Option<PlatformCheck>,
    run: Mutex<Run>,
}

impl std::fmt::Debug for HwicapManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HwicapManager({})", self.dev.node())
    }
}

impl HwicapManager {
    /// A manager over map `index` of the opened HWICAP device `dev`.
    pub fn new(dev: Arc<UioDevice>, index: usize) -> Result<HwicapManager> {
        let map = dev.map(index)?;
        if map.len() < reg::SPAN {
            return Err(UioError::dev(
                dev.node(),
                Some(index),
                "hwicap",
                ErrorKind::InvalidInput,
                format!(
                    "register window of {:#x} bytes is smaller than the HWICAP's {:#x}",
                    map.len(),
                    reg::SPAN
                ),
            ));
        }
        let regs: Arc<dyn Registers> = Arc::new(map);
        Ok(HwicapManager {
            icap: Hwicap::new(regs, dev.node()),
            dev,
            platform: None,
            run: Mutex::new(Run::default()),
        })
    }

    /// With these hold and poll times.
    pub fn with_timeouts(mut self, t: HwicapTimeouts) -> HwicapManager {
        self.icap = self.icap.with_timeouts(t);
        self
    }

    /// With a platform-prerequisite check.
    pub fn with_platform_check(mut self, check: PlatformCheck) -> HwicapManager {
        self.platform = Some(check);
        self
    }

    /// The register driver.
    pub fn hwicap(&self) -> &Hwicap {
        &self.icap
    }

    /// The UIO device.
    pub fn device(&self) -> &Arc<UioDevice> {
        &self.dev
    }

    fn alive(&self, op: &'static str) -> std::result::Result<(), OpError> {
        if self.dev.is_gone() {
            return Err(OpError::with(
                Errno::ENODEV,
                format!(
                    "{}: {op}: the HWICAP's UIO device was unregistered",
                    self.dev.node()
                ),
            ));
        }
        Ok(())
    }

    /// Records a failure's status bits and returns the op error.
    fn failed(&self, e: &UioError, status: MgrStatus) -> OpError {
        lock(&self.run).status |= status;
        op_err(e)
    }

    fn status_of(e: &UioError) -> MgrStatus {
        match e.kind() {
            ErrorKind::Timeout => MgrStatus::OPERATION_ERR | MgrStatus::IP_PROTOCOL_ERR,
            ErrorKind::InvalidInput => MgrStatus::INCOMPATIBLE_IMAGE_ERR,
            _ => MgrStatus::OPERATION_ERR,
        }
    }

    fn push(&self, chunk: &[u8]) -> std::result::Result<(), OpError> {
        let words = {
            let mut run = lock(&self.run);
            let run = &mut *run;
            let Some(stream) = run.stream.as_mut() else {
                return Err(OpError::with(Errno::EINVAL, "write before write_init"));
            };
            run.words.clear();
            stream.push(chunk, &mut run.words);
            std::mem::take(&mut run.words)
        };
        let r = self.icap.write_words(&words);
        lock(&self.run).words = words;
        r.map_err(|e| self.failed_mid_stream(&e))
    }

    /// A failure after stream words went out: record it and abort the
    /// transfer (best effort), so the configuration logic waits for a new
    /// sync word instead of taking the next load as the rest of a packet.
    fn failed_mid_stream(&self, e: &UioError) -> OpError {
        let err = self.failed(e, Self::status_of(e));
        let _ = self.icap.abort();
        lock(&self.run).stream = None;
        err
    }
}

fn image_len(info: &ImageInfo, buf: &[u8]) -> usize {
    if let Some(sgt) = &info.sgt {
        sgt.len()
    } else if let Some(b) = info.buf.as_ref().filter(|b| !b.is_empty()) {
        b.len()
    } else {
        buf.len()
    }
}

#[fpga_core::manager_ops]
impl FpgaManagerOps for HwicapManager {
    fn initial_header_size(&self) -> usize {
        INITIAL_HEADER
    }

    async fn state(&self, _mgr: &ManagerCtx) -> MgrState {
        lock(&self.run).state.unwrap_or(MgrState::Unknown)
    }

    async fn status(&self, _mgr: &ManagerCtx) -> MgrStatus {
        lock(&self.run).status
    }

    /// Checks the whole header (format, `.bit` fields, lengths, IDCODE
    /// packet) without touching the device; asks for more bytes with
    /// `EAGAIN` until it has them.
    async fn parse_header(
        &self,
        _mgr: &ManagerCtx,
        info: &mut ImageInfo,
        buf: &[u8],
    ) -> std::result::Result<(), OpError> {
        let total = image_len(info, buf);
        match scan_prefix(buf, total) {
            Ok(Scan::Done(p)) => {
                info.header_size = p.scanned.clamp(1, total.max(1));
                Ok(())
            }
            Ok(Scan::NeedMore(n)) => {
                info.header_size = n.max(info.header_size + 1).min(total);
                Err(OpError::new(Errno::EAGAIN))
            }
            Err(e) => Err(OpError::with(Errno::EINVAL, e.to_string())),
        }
    }

    async fn write_init(
        &self,
        _mgr: &ManagerCtx,
        info: &ImageInfo,
        buf: &[u8],
    ) -> std::result::Result<(), OpError> {
        self.alive("write_init")?;
        if !info.flags.contains(ImageFlags::PARTIAL_RECONFIG) {
            return Err(OpError::with(
                Errno::EOPNOTSUPP,
                "the HWICAP cannot fully reconfigure the FPGA that contains it: PARTIAL_RECONFIG is required",
            ));
        }
        let refused = ImageFlags::ENCRYPTED_BITSTREAM
            | ImageFlags::COMPRESSED_BITSTREAM
            | ImageFlags::USERKEY_ENCRYPTED_BITSTREAM;
        if info.flags.intersects(refused) {
            return Err(OpError::with(
                Errno::EOPNOTSUPP,
                format!(
                    "image flags {:?} are not supported by the HWICAP",
                    info.flags & refused
                ),
            ));
        }
        let total = image_len(info, buf);
        let prefix = match scan_prefix(buf, total) {
            Ok(Scan::Done(p)) => p,
            Ok(Scan::NeedMore(n)) => {
                return Err(OpError::with(
                    Errno::EINVAL,
                    format!("header incomplete: {n} bytes needed"),
                ))
            }
            Err(e) => return Err(OpError::with(Errno::EINVAL, e.to_string())),
        };
        if let Some(check) = &self.platform {
            check().map_err(|why| {
                OpError::with(Errno::EOPNOTSUPP, format!("ICAP not usable: {why}"))
            })?;
        }
        {
            let mut run = lock(&self.run);
            let state = run.state;
            *run = Run {
                state,
                ..Run::default()
            };
        }
        self.icap
            .reset()
            .map_err(|e| self.failed(&e, Self::status_of(&e)))?;
        let id = self
            .icap
            .read_idcode()
            .map_err(|e| self.failed(&e, Self::status_of(&e)))?;
        if let Some(want) = prefix.idcode {
            if !idcode_matches(id, want) {
                let e = UioError::dev(
                    self.dev.node(),
                    Some(0),
                    "write_init",
                    ErrorKind::InvalidInput,
                    format!("bitstream is for IDCODE {want:#010x}, the device is {id:#010x}"),
                );
                return Err(self.failed(&e, MgrStatus::INCOMPATIBLE_IMAGE_ERR));
            }
        }
        let mut run = lock(&self.run);
        run.stream = Some(WordStream::new(prefix.format, prefix.data_offset));
        run.total = total;
        Ok(())
    }

    async fn write(&self, _mgr: &ManagerCtx, buf: &[u8]) -> std::result::Result<(), OpError> {
        self.alive("write")?;
        self.push(buf)
    }

    async fn write_complete(
        &self,
        _mgr: &ManagerCtx,
        _info: &ImageInfo,
    ) -> std::result::Result<(), OpError> {
        self.alive("write_complete")?;
        let (stream, total) = {
            let run = lock(&self.run);
            (run.stream.clone(), run.total)
        };
        let Some(stream) = stream else {
            return Err(OpError::with(
                Errno::EINVAL,
                "write_complete before write_init",
            ));
        };
        if let Err(e) = stream.finish() {
            return Err(self.failed(&UioError::from(e), MgrStatus::INCOMPATIBLE_IMAGE_ERR));
        }
        if stream.bytes() != total as u64 {
            let e = UioError::bitstream(
                "data",
                stream.bytes() as usize,
                format!("{} of {total} bytes written", stream.bytes()),
            );
            return Err(self.failed(&e, MgrStatus::OPERATION_ERR));
        }
        let s = self
            .icap
            .wait_done()
            .map_err(|e| self.failed_mid_stream(&e))?;
        if s & sr::CFGERR_N == 0 {
            let e = UioError::dev(
                self.dev.node(),
                Some(0),
                "write_complete",
                ErrorKind::Io,
                "configuration error reported by ICAP (SR.CFGERR_N = 0)",
            );
            return Err(self.failed_mid_stream(&e));
        }
        self.icap
            .write_words(&packet::DESYNC)
            .map_err(|e| self.failed(&e, Self::status_of(&e)))?;
        let mut run = lock(&self.run);
        run.stream = None;
        run.state = Some(MgrState::Operating);
        Ok(())
    }
}

/// The Xilinx PR Decoupler as an FPGA bridge: one control register at
/// offset 0; 1 decouples (bridge disabled), 0 couples (enabled).
pub struct PrDecoupler {
    dev: Arc<UioDevice>,
    regs: Mapping,
}

impl std::fmt::Debug for PrDecoupler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrDecoupler({})", self.dev.node())
    }
}

impl PrDecoupler {
    /// A bridge over map `index` of the opened decoupler device.
    pub fn new(dev: Arc<UioDevice>, index: usize) -> Result<PrDecoupler> {
        let regs = dev.map(index)?;
        Ok(PrDecoupler { dev, regs })
    }

    fn alive(&self) -> std::result::Result<(), OpError> {
        if self.dev.is_gone() {
            return Err(OpError::with(
                Errno::ENODEV,
                format!(
                    "{}: the decoupler's UIO device was unregistered",
                    self.dev.node()
                ),
            ));
        }
        Ok(())
    }
}

#[fpga_core::bridge_ops]
impl FpgaBridgeOps for PrDecoupler {
    async fn enable_show(&self, _bridge: &BridgeCtx) -> std::result::Result<bool, OpError> {
        self.alive()?;
        self.regs.read32(0).map(|v| v == 0).map_err(|e| op_err(&e))
    }

    async fn enable_set(
        &self,
        _bridge: &BridgeCtx,
        enable: bool,
    ) -> std::result::Result<(), OpError> {
        self.alive()?;
        self.regs
            .write32(0, if enable { 0 } else { 1 })
            .map_err(|e| op_err(&e))
    }
}
