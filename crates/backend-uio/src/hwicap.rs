//! The AXI HWICAP register driver (spec `uio.md` §2.1–§2.3): reset, abort,
//! the FIFO write path, readback and the IDCODE probe, over any
//! [`Registers`] (a real mapping or the simulator's model). Every poll
//! loop has a time deadline and reports the register and its last value.

use crate::bitstream::{packet, SYNC_WORD};
use crate::error::{Result, UioError};
use crate::regs::Registers;
use devlink_core::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Register offsets from the register base.
pub mod reg {
    /// Global interrupt enable.
    pub const GIER: usize = 0x01C;
    /// Interrupt status.
    pub const IPISR: usize = 0x020;
    /// Interrupt enable.
    pub const IPIER: usize = 0x028;
    /// Write-FIFO keyhole.
    pub const WF: usize = 0x100;
    /// Read-FIFO keyhole.
    pub const RF: usize = 0x104;
    /// Readback size.
    pub const SZ: usize = 0x108;
    /// Control.
    pub const CR: usize = 0x10C;
    /// Status.
    pub const SR: usize = 0x110;
    /// Write-FIFO vacancy.
    pub const WFV: usize = 0x114;
    /// Read-FIFO occupancy.
    pub const RFO: usize = 0x118;
    /// Bytes of register space the driver needs.
    pub const SPAN: usize = 0x11C;
}

/// Control register bits.
pub mod cr {
    /// Start moving the write FIFO into the ICAP (self-clears).
    pub const WRITE: u32 = 0x01;
    /// Start a readback of `SZ` words (self-clears).
    pub const READ: u32 = 0x02;
    /// Empty both FIFOs (set, hold, clear).
    pub const FIFO_CLEAR: u32 = 0x04;
    /// Reset the core (set, hold, clear).
    pub const SW_RESET: u32 = 0x08;
    /// Abort the current transfer.
    pub const ABORT: u32 = 0x10;
}

/// Status register bits (test bits, never the whole word).
pub mod sr {
    /// No transfer in progress.
    pub const DONE: u32 = 0x001;
    /// End of startup.
    pub const EOS: u32 = 0x004;
    /// Active low: an abort is in progress.
    pub const IN_ABORT_N: u32 = 0x020;
    /// Readback in progress.
    pub const RIP: u32 = 0x040;
    /// The configuration logic saw the sync word.
    pub const DALIGN: u32 = 0x080;
    /// Active low: the configuration logic reported an error.
    pub const CFGERR_N: u32 = 0x100;
}

/// Hold and poll times (spec §2.1–§2.2 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwicapTimeouts {
    /// How long reset and FIFO-clear bits are held (10 µs).
    pub hold: Duration,
    /// Per FIFO drain: WFV non-zero, CR.Write clear (1 s).
    pub drain: Duration,
    /// For DONE after the last chunk (1 s).
    pub done: Duration,
    /// For readback words (100 ms).
    pub readback: Duration,
}

impl Default for HwicapTimeouts {
    fn default() -> HwicapTimeouts {
        HwicapTimeouts {
            hold: Duration::from_micros(10),
            drain: Duration::from_secs(1),
            done: Duration::from_secs(1),
            readback: Duration::from_millis(100),
        }
    }
}

impl HwicapTimeouts {
    /// Every deadline set to `d` (tests).
    pub fn all(d: Duration) -> HwicapTimeouts {
        HwicapTimeouts {
            drain: d,
            done: d,
            readback: d,
            ..HwicapTimeouts::default()
        }
    }
}

/// Largest readback chunk (the `SZ` limit).
pub const MAX_READ_CHUNK: usize = 4095;

/// The HWICAP register driver.
///
/// ```
/// use backend_uio::hwicap::Hwicap;
/// use backend_uio::sim::{HwicapConfig, HwicapModel, SimDeviceSpec, SimMap, SimUio};
/// use backend_uio::Selector;
/// use std::sync::Arc;
/// let sim = SimUio::new().unwrap();
/// let model = Arc::new(HwicapModel::new(HwicapConfig::default()));
/// sim.register(SimDeviceSpec::new("hwicap", "40200000.hwicap")
///     .with_map(SimMap::new(0x4020_0000, 0x10000, 0, model.clone())));
/// let dev = sim.open(Selector::Name("hwicap".into())).unwrap();
/// let icap = Hwicap::new(Arc::new(dev.map(0).unwrap()), "hwicap");
/// assert_eq!(icap.read_idcode().unwrap(), 0x0362_D093);
/// ```
#[derive(Clone)]
pub struct Hwicap {
    regs: Arc<dyn Registers>,
    label: String,
    t: HwicapTimeouts,
}

impl std::fmt::Debug for Hwicap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hwicap({})", self.label)
    }
}

/// Waits: spin first (a register poll usually succeeds within a few
/// reads), then yield, then short sleeps so that deadlines hold to well
/// under 10 ms.
fn backoff(i: u32) {
    if i < 64 {
        std::hint::spin_loop();
    } else if i < 256 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(200));
    }
}

impl Hwicap {
    /// A driver over `regs` (the map's register window); `label` names
    /// the device in errors.
    pub fn new(regs: Arc<dyn Registers>, label: &str) -> Hwicap {
        Hwicap {
            regs,
            label: label.to_string(),
            t: HwicapTimeouts::default(),
        }
    }

    /// With these hold and poll times.
    pub fn with_timeouts(mut self, t: HwicapTimeouts) -> Hwicap {
        self.t = t;
        self
    }

    /// The hold and poll times.
    pub fn timeouts(&self) -> HwicapTimeouts {
        self.t
    }

    fn err(&self, op: &'static str, kind: ErrorKind, what: impl Into<String>) -> UioError {
        UioError::dev(&self.label, Some(0), op, kind, what)
    }

    /// Reads a register until `ok` holds or `within` passes.
    fn poll(
        &self,
        off: usize,
        register: &'static str,
        what: &'static str,
        within: Duration,
        ok: impl Fn(u32) -> bool,
    ) -> Result<u32> {
        let start = Instant::now();
        let mut i = 0;
        loop {
            let v = self.regs.read32(off)?;
            if ok(v) {
                return Ok(v);
            }
            let waited = start.elapsed();
            if waited >= within {
                return Err(UioError::Timeout {
                    device: self.label.clone(),
                    register,
                    last: v,
                    waited,
                    what,
                });
            }
            backoff(i);
            i = i.saturating_add(1);
        }
    }

    fn hold(&self) {
        let until = Instant::now() + self.t.hold;
        if self.t.hold > Duration::from_millis(1) {
            std::thread::sleep(self.t.hold);
        }
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }

    /// Sets `bit` in CR, holds, clears it.
    fn pulse(&self, bit: u32) -> Result<()> {
        let v = self.regs.read32(reg::CR)?;
        self.regs.write32(reg::CR, v | bit)?;
        self.hold();
        let v = self.regs.read32(reg::CR)?;
        self.regs.write32(reg::CR, v & !bit)
    }

    /// `reset()`: software reset, then FIFO clear, each set-hold-clear.
    pub fn reset(&self) -> Result<()> {
        self.pulse(cr::SW_RESET)?;
        self.pulse(cr::FIFO_CLEAR)
    }

    /// `abort()`: CR.Abort, wait for the abort to finish, then reset.
    pub fn abort(&self) -> Result<()> {
        let v = self.regs.read32(reg::CR)?;
        self.regs.write32(reg::CR, v | cr::ABORT)?;
        self.poll(
            reg::SR,
            "SR",
            "abort to finish (IN_ABORT_N = 1, DONE = 1)",
            self.t.done,
            |s| s & sr::IN_ABORT_N != 0 && s & sr::DONE != 0,
        )?;
        self.reset()
    }

    /// Waits for `SR.DONE` (the `done` deadline); returns the last SR.
    pub fn wait_done(&self) -> Result<u32> {
        self.poll(
            reg::SR,
            "SR",
            "SR.DONE after the last chunk",
            self.t.done,
            |v| v & sr::DONE != 0,
        )
    }

    /// The status register.
    pub fn status(&self) -> Result<u32> {
        self.regs.read32(reg::SR)
    }

    /// Starts a transfer read-modify-write: sets `start`, clears the other
    /// start bit (never Write and Read together).
    fn start(&self, start: u32) -> Result<()> {
        let other = (cr::WRITE | cr::READ) & !start;
        let v = self.regs.read32(reg::CR)?;
        self.regs.write32(reg::CR, (v | start) & !other)
    }

    /// One FIFO fill: reads WFV (waiting while it is 0) and pushes
    /// `min(WFV, words.len())` words, one 32-bit store each. Returns how
    /// many were pushed. Does not start the transfer.
    pub fn fill_fifo(&self, words: &[u32]) -> Result<usize> {
        if words.is_empty() {
            return Ok(0);
        }
        let vacancy = self.poll(reg::WFV, "WFV", "write-FIFO vacancy", self.t.drain, |v| {
            v != 0
        })?;
        let n = (vacancy as usize).min(words.len());
        self.regs.write32_repeat(reg::WF, &words[..n])?;
        Ok(n)
    }

    fn check_idle(&self, op: &'static str) -> Result<()> {
        let s = self.regs.read32(reg::SR)?;
        if s & sr::DONE == 0 {
            return Err(self.err(
                op,
                ErrorKind::Busy,
                "ICAP transfer in progress (SR.DONE = 0)",
            ));
        }
        if s & sr::IN_ABORT_N == 0 {
            return Err(self.err(op, ErrorKind::Busy, "abort in progress (SR.IN_ABORT_N = 0)"));
        }
        Ok(())
    }

    /// A configuration write (spec §2.2 `write_words`): refuses with
    /// `Busy` (pushing nothing) while a transfer runs; then per burst:
    /// WFV, push at most WFV words, CR.Write, wait for it to clear; then
    /// DONE, and the error bits.
    pub fn write_words(&self, words: &[u32]) -> Result<()> {
        const OP: &str = "write_words";
        self.check_idle(OP)?;
        let mut rest = words;
        while !rest.is_empty() {
            let n = self.fill_fifo(rest)?;
            rest = &rest[n..];
            self.start(cr::WRITE)?;
            self.poll(
                reg::CR,
                "CR",
                "CR.Write to clear (FIFO drained)",
                self.t.drain,
                |v| v & cr::WRITE == 0,
            )?;
            if !rest.is_empty() {
                // Stop early instead of feeding a stream that already failed.
                let s = self.regs.read32(reg::SR)?;
                if s & sr::IN_ABORT_N == 0 {
                    return Err(self.err(
                        OP,
                        ErrorKind::Busy,
                        "abort in progress (SR.IN_ABORT_N = 0)",
                    ));
                }
                if s & sr::CFGERR_N == 0 {
                    return Err(self.err(
                        OP,
                        ErrorKind::Io,
                        "configuration error reported by ICAP (SR.CFGERR_N = 0)",
                    ));
                }
            }
        }
        let s = self.wait_done()?;
        if s & sr::CFGERR_N == 0 {
            return Err(self.err(
                OP,
                ErrorKind::Io,
                "configuration error reported by ICAP (SR.CFGERR_N = 0)",
            ));
        }
        if s & sr::IN_ABORT_N == 0 {
            return Err(self.err(OP, ErrorKind::Busy, "abort in progress (SR.IN_ABORT_N = 0)"));
        }
        Ok(())
    }

    /// Readback of `n` words (spec §2.2 `read_words`), in `SZ` chunks of
    /// at most 4095. Must follow configuration packets requesting it.
    pub fn read_words(&self, n: usize) -> Result<Vec<u32>> {
        self.check_idle("read_words")?;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let chunk = (n - out.len()).min(MAX_READ_CHUNK);
            self.regs.write32(reg::SZ, chunk as u32)?;
            self.start(cr::READ)?;
            let mut got = 0;
            while got < chunk {
                let avail = self.poll(reg::RFO, "RFO", "readback words", self.t.readback, |v| {
                    v > 0
                })?;
                for _ in 0..(avail as usize).min(chunk - got) {
                    out.push(self.regs.read32(reg::RF)?);
                    got += 1;
                }
            }
            self.poll(reg::CR, "CR", "CR.Read to clear", self.t.readback, |v| {
                v & cr::READ == 0
            })?;
        }
        Ok(out)
    }

    /// Reads the device IDCODE (spec §2.2 `read_idcode`): reset, DESYNC,
    /// sync, check DALIGN, then two IDCODE reads of which the second is
    /// used (the first after power-up can be garbage), then DESYNC.
    pub fn read_idcode(&self) -> Result<u32> {
        use packet::*;
        self.reset()?;
        let mut seq = DESYNC.to_vec();
        seq.extend([DUMMY, NOOP, SYNC_WORD, NOOP, NOOP]);
        self.write_words(&seq)?;
        if self.status()? & sr::DALIGN == 0 {
            return Err(self.err(
                "read_idcode",
                ErrorKind::Io,
                "sync word not recognised (SR.DALIGN = 0)",
            ));
        }
        let request = [type1(OP_READ, REG_IDCODE, 1), NOOP, NOOP];
        let mut id = 0;
        for _ in 0..2 {
            self.write_words(&request)?;
            id = self.read_words(1)?.first().copied().unwrap_or(0);
        }
        self.write_words(&DESYNC)?;
        Ok(id)
    }
}

/// Whether two IDCODEs name the same device (bits 31..28, the silicon
/// revision, ignored).
///
/// ```
/// assert!(backend_uio::hwicap::idcode_matches(0x1362_D093, 0x0362_D093));
/// assert!(!backend_uio::hwicap::idcode_matches(0x0362_D093, 0x0372_D093));
/// ```
pub fn idcode_matches(a: u32, b: u32) -> bool {
    a & 0x0FFF_FFFF == b & 0x0FFF_FFFF
}
