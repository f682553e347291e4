//! Pluggable register files for simulated maps, and the access log.

use crate::device::lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A simulated register file, addressed from the register base. Offsets
/// reaching it are already bounds- and alignment-checked.
pub trait RegisterModel: Send + Sync + 'static {
    /// A 32-bit load.
    fn read32(&self, off: usize) -> u32;
    /// A 32-bit store.
    fn write32(&self, off: usize, v: u32);
    /// Stores of each word to one offset (a FIFO keyhole), in order.
    fn write32_repeat(&self, off: usize, words: &[u32]) {
        for &w in words {
            self.write32(off, w);
        }
    }
}

/// One register access that reached a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Store (true) or load.
    pub write: bool,
    /// Register offset.
    pub off: usize,
    /// Value stored or loaded.
    pub value: u32,
    /// When.
    pub at: Instant,
}

/// The accesses of one map, in order. Cloning shares it. Recording can be
/// switched off (benchmarks).
#[derive(Debug, Clone)]
pub struct AccessLog {
    entries: Arc<Mutex<Vec<Access>>>,
    on: Arc<AtomicBool>,
}

impl Default for AccessLog {
    fn default() -> AccessLog {
        AccessLog {
            entries: Arc::default(),
            on: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl AccessLog {
    pub(crate) fn record(&self, write: bool, off: usize, value: u32) {
        if self.on.load(Ordering::Relaxed) {
            lock(&self.entries).push(Access {
                write,
                off,
                value,
                at: Instant::now(),
            });
        }
    }

    /// Switches recording on or off.
    pub fn set_enabled(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Everything recorded so far.
    pub fn entries(&self) -> Vec<Access> {
        lock(&self.entries).clone()
    }

    /// Takes and clears the log.
    pub fn take(&self) -> Vec<Access> {
        std::mem::take(&mut *lock(&self.entries))
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        lock(&self.entries).is_empty()
    }

    /// The stores to `off`, in order.
    pub fn writes_to(&self, off: usize) -> Vec<u32> {
        lock(&self.entries)
            .iter()
            .filter(|a| a.write && a.off == off)
            .map(|a| a.value)
            .collect()
    }
}

/// Plain read/write registers (RAM), zero at start.
#[derive(Debug)]
pub struct RamModel {
    words: Mutex<Vec<u32>>,
}

impl RamModel {
    /// `bytes` of registers.
    pub fn new(bytes: usize) -> RamModel {
        RamModel {
            words: Mutex::new(vec![0; bytes.div_ceil(4)]),
        }
    }
}

impl RegisterModel for RamModel {
    fn read32(&self, off: usize) -> u32 {
        lock(&self.words).get(off / 4).copied().unwrap_or(0)
    }

    fn write32(&self, off: usize, v: u32) {
        if let Some(w) = lock(&self.words).get_mut(off / 4) {
            *w = v;
        }
    }
}
