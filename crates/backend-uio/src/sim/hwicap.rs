//! The HWICAP register model (spec `uio.md` §2.8): FIFO vacancy, drain
//! rate, the configuration packet parser, IDCODE readback, CRC, and fault
//! injection.

use super::model::RegisterModel;
use crate::bitstream::{packet, SYNC_WORD};
use crate::device::lock;
use crate::hwicap::{cr, reg, sr};
use std::collections::VecDeque;
use std::sync::Mutex;

/// When the model's clock advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickMode {
    /// One tick per register load (deterministic; the default).
    OnRead,
    /// Only [`HwicapModel::tick`] advances it.
    Manual,
}

/// What the simulated core is built with.
#[derive(Debug, Clone)]
pub struct HwicapConfig {
    /// Write-FIFO depth in words (1 models the "lite" core without FIFO).
    pub depth: u32,
    /// Read-FIFO depth in words.
    pub read_depth: u32,
    /// Words moved between a FIFO and the ICAP per tick.
    pub words_per_tick: u32,
    /// The device's IDCODE.
    pub idcode: u32,
    /// A CRC value accepted besides `0x0000DEFC` ("no CRC check").
    pub crc: Option<u32>,
    /// Whether the first IDCODE read after a reset returns garbage.
    pub garbage_first_idcode: bool,
    /// The clock.
    pub tick: TickMode,
}

impl Default for HwicapConfig {
    /// 1024-word write FIFO, 256-word read FIFO, 64 words per tick,
    /// xc7a35t (`0x0362D093`), garbage first IDCODE, one tick per load.
    fn default() -> HwicapConfig {
        HwicapConfig {
            depth: 1024,
            read_depth: 256,
            words_per_tick: 64,
            idcode: 0x0362_D093,
            crc: None,
            garbage_first_idcode: true,
            tick: TickMode::OnRead,
        }
    }
}

impl HwicapConfig {
    /// The "lite" core: no write FIFO (one word at a time).
    pub fn lite() -> HwicapConfig {
        HwicapConfig {
            depth: 1,
            ..HwicapConfig::default()
        }
    }

    /// With this write-FIFO depth.
    pub fn with_depth(mut self, depth: u32) -> HwicapConfig {
        self.depth = depth.max(1);
        self
    }
}

/// A fault to inject. Word counts are words the ICAP has consumed since
/// the model was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// From this word on, `SR.DONE` reads 0 (the transfer never ends).
    StuckDone {
        /// Words consumed before it sticks.
        after_words: u64,
    },
    /// From this word on, `WFV` reads 0 (the ICAP takes nothing more).
    StuckWfvZero {
        /// Words consumed before it sticks.
        after_words: u64,
    },
    /// The configuration logic reports an error (`CFGERR_N = 0`) at this
    /// word and stops parsing.
    CfgErr {
        /// The word that fails.
        at_word: u64,
    },
    /// An abort at this word: FIFOs flushed, `IN_ABORT_N = 0` until reset.
    Abort {
        /// The word at which it happens.
        at_word: u64,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Parse {
    #[default]
    Unsynced,
    Header,
    /// Payload words left for a register, with the opcode.
    Payload {
        reg: u32,
        op: u32,
        left: u32,
    },
    Halted,
}

#[derive(Debug, Default)]
struct State {
    cr: u32,
    sz: u32,
    gier: u32,
    ipier: u32,
    ipisr: u32,
    fifo: VecDeque<u32>,
    rf: VecDeque<u32>,
    readback: VecDeque<u32>,
    read_left: u32,
    overflow: u64,
    consumed: u64,
    frames: u64,
    dalign: bool,
    cfgerr: bool,
    in_abort: bool,
    done_stuck: bool,
    wfv_stuck: bool,
    parse: Parse,
    last_reg: u32,
    idcode_reads: u32,
    idcode_mismatch: bool,
    crc_errors: u64,
    faults: Vec<Fault>,
    ticks: u64,
}

/// The simulated AXI HWICAP register file.
#[derive(Debug)]
pub struct HwicapModel {
    cfg: HwicapConfig,
    st: Mutex<State>,
}

impl HwicapModel {
    /// A core with this configuration, at its reset values.
    pub fn new(cfg: HwicapConfig) -> HwicapModel {
        HwicapModel {
            cfg,
            st: Mutex::new(State::default()),
        }
    }

    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.st).faults.push(fault);
    }

    /// Disarms every fault and un-sticks `DONE`/`WFV`.
    pub fn clear_faults(&self) {
        let mut s = lock(&self.st);
        s.faults.clear();
        s.done_stuck = false;
        s.wfv_stuck = false;
    }

    /// Advances the clock by `n` ticks.
    pub fn tick(&self, n: u64) {
        let mut s = lock(&self.st);
        for _ in 0..n {
            self.step(&mut s);
        }
    }

    /// Words dropped because they were pushed beyond `WFV`.
    pub fn overflow(&self) -> u64 {
        lock(&self.st).overflow
    }

    /// FDRI words written ("frames written").
    pub fn frames_written(&self) -> u64 {
        lock(&self.st).frames
    }

    /// Words the ICAP has consumed.
    pub fn words_consumed(&self) -> u64 {
        lock(&self.st).consumed
    }

    /// Whether the configuration logic is synchronised (`SR.DALIGN`).
    pub fn dalign(&self) -> bool {
        lock(&self.st).dalign
    }

    /// The status register as the driver would read it (no tick).
    pub fn sr(&self) -> u32 {
        self.sr_of(&lock(&self.st))
    }

    /// CRC check words that did not match.
    pub fn crc_errors(&self) -> u64 {
        lock(&self.st).crc_errors
    }

    /// Whether an IDCODE write did not match the device.
    pub fn idcode_mismatch(&self) -> bool {
        lock(&self.st).idcode_mismatch
    }

    fn sr_of(&self, s: &State) -> u32 {
        let busy = s.cr & (cr::WRITE | cr::READ) != 0 || s.done_stuck;
        let mut v = sr::EOS;
        if !busy {
            v |= sr::DONE;
        }
        if !s.in_abort {
            v |= sr::IN_ABORT_N;
        }
        if s.cr & cr::READ != 0 {
            v |= sr::RIP;
        }
        if s.dalign {
            v |= sr::DALIGN;
        }
        if !s.cfgerr {
            v |= sr::CFGERR_N;
        }
        v
    }

    fn reset(&self, s: &mut State) {
        let keep = (
            std::mem::take(&mut s.faults),
            s.done_stuck,
            s.wfv_stuck,
            s.overflow,
            s.consumed,
            s.frames,
            s.crc_errors,
            s.dalign,
            s.parse,
        );
        *s = State::default();
        (
            s.faults,
            s.done_stuck,
            s.wfv_stuck,
            s.overflow,
            s.consumed,
            s.frames,
            s.crc_errors,
            s.dalign,
            s.parse,
        ) = keep;
        // The core's reset does not desynchronise the configuration logic,
        // but it clears its error latch in this model.
        if s.parse == Parse::Halted {
            s.parse = if s.dalign {
                Parse::Header
            } else {
                Parse::Unsynced
            };
        }
    }

    /// Sticks DONE or WFV once enough words were consumed.
    fn arm(s: &mut State) {
        for f in &s.faults {
            match *f {
                Fault::StuckDone { after_words } if s.consumed >= after_words => {
                    s.done_stuck = true
                }
                Fault::StuckWfvZero { after_words } if s.consumed >= after_words => {
                    s.wfv_stuck = true
                }
                _ => {}
            }
        }
    }

    /// One clock tick: move words between the FIFOs and the ICAP.
    fn step(&self, s: &mut State) {
        s.ticks += 1;
        Self::arm(s);
        if s.cr & cr::WRITE != 0 {
            for _ in 0..self.cfg.words_per_tick {
                let Some(w) = s.fifo.pop_front() else { break };
                self.consume(s, w);
                if s.cr & cr::WRITE == 0 {
                    break;
                }
            }
            if s.fifo.is_empty() {
                s.cr &= !cr::WRITE;
            }
        }
        if s.cr & cr::READ != 0 {
            for _ in 0..self.cfg.words_per_tick {
                if s.read_left == 0 || s.rf.len() >= self.cfg.read_depth as usize {
                    break;
                }
                let Some(w) = s.readback.pop_front() else {
                    break;
                };
                s.rf.push_back(w);
                s.read_left -= 1;
            }
            if s.read_left == 0 {
                s.cr &= !cr::READ;
            }
        }
    }

    /// The ICAP consumes one word.
    fn consume(&self, s: &mut State, w: u32) {
        let n = s.consumed;
        s.consumed += 1;
        Self::arm(s);
        for f in s.faults.clone() {
            match f {
                Fault::CfgErr { at_word } if n == at_word => {
                    s.cfgerr = true;
                    s.parse = Parse::Halted;
                }
                Fault::Abort { at_word } if n == at_word => {
                    s.in_abort = true;
                    s.fifo.clear();
                    s.cr &= !cr::WRITE;
                    return;
                }
                _ => {}
            }
        }
        self.parse(s, w);
    }

    fn fail(s: &mut State) {
        s.cfgerr = true;
        s.parse = Parse::Halted;
    }

    fn parse(&self, s: &mut State, w: u32) {
        match s.parse {
            Parse::Halted => {}
            Parse::Unsynced => {
                if w == SYNC_WORD {
                    s.dalign = true;
                    s.parse = Parse::Header;
                }
            }
            Parse::Header => match w >> 29 {
                1 => {
                    let op = (w >> 27) & 3;
                    let r = (w >> 13) & 0x3FFF;
                    let count = w & 0x7FF;
                    s.last_reg = r;
                    self.start_payload(s, r, op, count);
                }
                2 => {
                    let op = (w >> 27) & 3;
                    let count = w & 0x07FF_FFFF;
                    let r = s.last_reg;
                    self.start_payload(s, r, op, count);
                }
                _ => Self::fail(s),
            },
            Parse::Payload { reg: r, op, left } => {
                s.parse = if left > 1 {
                    Parse::Payload {
                        reg: r,
                        op,
                        left: left - 1,
                    }
                } else {
                    Parse::Header
                };
                if op == packet::OP_WRITE {
                    self.write_reg(s, r, w);
                }
            }
        }
    }

    fn start_payload(&self, s: &mut State, r: u32, op: u32, count: u32) {
        if op == packet::OP_READ {
            for _ in 0..count {
                let v = if r == packet::REG_IDCODE {
                    s.idcode_reads += 1;
                    if s.idcode_reads == 1 && self.cfg.garbage_first_idcode {
                        0xDEAD_BEEF
                    } else {
                        self.cfg.idcode
                    }
                } else {
                    // Frame data read back: a pattern.
                    0x5A00_0000 | (s.readback.len() as u32 & 0xFFFF)
                };
                s.readback.push_back(v);
            }
            return;
        }
        if op == packet::OP_WRITE && count > 0 {
            s.parse = Parse::Payload {
                reg: r,
                op,
                left: count,
            };
        }
    }

    fn write_reg(&self, s: &mut State, r: u32, v: u32) {
        match r {
            packet::REG_FDRI => s.frames += 1,
            packet::REG_CMD if v == packet::CMD_DESYNC => {
                s.dalign = false;
                s.parse = Parse::Unsynced;
            }
            packet::REG_IDCODE if v & 0x0FFF_FFFF != self.cfg.idcode & 0x0FFF_FFFF => {
                s.idcode_mismatch = true;
                Self::fail(s);
            }
            packet::REG_CRC if v != packet::CRC_DISABLED && Some(v) != self.cfg.crc => {
                s.crc_errors += 1;
                Self::fail(s);
            }
            _ => {}
        }
    }

    fn write_locked(&self, s: &mut State, off: usize, v: u32) {
        match off {
            reg::GIER => s.gier = v & 0x8000_0000,
            reg::IPISR => s.ipisr &= !v,
            reg::IPIER => s.ipier = v & 0xF,
            reg::WF => {
                let vacancy = if s.wfv_stuck {
                    0
                } else {
                    self.cfg.depth as usize - s.fifo.len().min(self.cfg.depth as usize)
                };
                if vacancy == 0 {
                    s.overflow += 1;
                } else {
                    s.fifo.push_back(v);
                }
            }
            reg::SZ => s.sz = v,
            reg::CR => {
                if v & cr::SW_RESET != 0 {
                    self.reset(s);
                    s.cr = v & cr::SW_RESET;
                    return;
                }
                if v & cr::FIFO_CLEAR != 0 {
                    s.fifo.clear();
                    s.rf.clear();
                }
                if v & cr::ABORT != 0 {
                    // The abort also stops the configuration logic's packet
                    // processing: it waits for a new sync word.
                    s.fifo.clear();
                    s.rf.clear();
                    s.readback.clear();
                    s.in_abort = false;
                    s.dalign = false;
                    s.parse = Parse::Unsynced;
                    s.cr = 0;
                    return;
                }
                if v & cr::READ != 0 && s.cr & cr::READ == 0 {
                    s.read_left = s.sz;
                }
                let busy = s.cr & (cr::WRITE | cr::READ);
                s.cr = (v & (cr::FIFO_CLEAR | cr::SW_RESET)) | busy | (v & (cr::WRITE | cr::READ));
                if s.cr & cr::WRITE != 0 && s.fifo.is_empty() {
                    s.cr &= !cr::WRITE;
                }
            }
            _ => {}
        }
    }
}

impl RegisterModel for HwicapModel {
    fn read32(&self, off: usize) -> u32 {
        let mut s = lock(&self.st);
        if self.cfg.tick == TickMode::OnRead {
            self.step(&mut s);
        }
        match off {
            reg::GIER => s.gier,
            reg::IPISR => s.ipisr,
            reg::IPIER => s.ipier,
            reg::RF => s.rf.pop_front().unwrap_or(0),
            reg::CR => s.cr,
            reg::SR => self.sr_of(&s),
            reg::WFV => {
                if s.wfv_stuck {
                    0
                } else {
                    self.cfg.depth - (s.fifo.len() as u32).min(self.cfg.depth)
                }
            }
            reg::RFO => s.rf.len() as u32,
            _ => 0,
        }
    }

    fn write32(&self, off: usize, v: u32) {
        let mut s = lock(&self.st);
        self.write_locked(&mut s, off, v);
    }

    fn write32_repeat(&self, off: usize, words: &[u32]) {
        let mut s = lock(&self.st);
        for &w in words {
            self.write_locked(&mut s, off, w);
        }
    }
}
