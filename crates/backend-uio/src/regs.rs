//! The safe register API: one small trait, implemented by a real `mmap`
//! and by the simulator's register models, and [`Mapping`], the window of
//! one UIO map that users and drivers hold.

use crate::error::{Result, UioError};
use crate::sys::RawMapping;
use devlink_core::ErrorKind;
use std::sync::Arc;

/// 32-bit register access, bounds- and alignment-checked. An access
/// outside `len()` or at an offset that is not a multiple of 4 fails with
/// `InvalidInput` and performs no access (spec `uio.md` §1.5).
pub trait Registers: Send + Sync {
    /// The window's length in bytes.
    fn len(&self) -> usize;

    /// Whether the window is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One 32-bit volatile load at `off`.
    fn read32(&self, off: usize) -> Result<u32>;

    /// One 32-bit volatile store at `off`.
    fn write32(&self, off: usize, v: u32) -> Result<()>;

    /// One 32-bit volatile store of each word, in order, all to `off` (a
    /// FIFO keyhole such as the HWICAP's `WF`). Checked once.
    fn write32_repeat(&self, off: usize, words: &[u32]) -> Result<()> {
        for &w in words {
            self.write32(off, w)?;
        }
        Ok(())
    }
}

/// Whether a 4-byte access at `off` fits a `len`-byte window and is
/// aligned.
#[inline]
pub(crate) fn check_access(len: usize, off: usize) -> bool {
    off % 4 == 0 && off.checked_add(4).is_some_and(|end| end <= len)
}

pub(crate) enum Backing {
    Raw(RawMapping),
    /// A register model: only the simulator (feature `sim`) makes one.
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    Model(Box<dyn Registers>),
}

impl Backing {
    fn regs(&self) -> &dyn Registers {
        match self {
            Backing::Raw(r) => r,
            Backing::Model(m) => m.as_ref(),
        }
    }
}

/// One mapped UIO map (`mmap` of `/dev/uioN` at `index * PAGE`), seen as
/// its register window: offset 0 is `mmap_base + offset` (the map's
/// in-page offset, spec §1.3). Dropping it unmaps.
///
/// Mappings stay valid after the device is closed or unregistered (the
/// kernel does not revoke them), which is why the driver-model glue drops
/// them before a region is reprogrammed.
pub struct Mapping {
    backing: Backing,
    start: usize,
    len: usize,
    mmap_base: usize,
    mmap_len: usize,
    mmap_offset: u64,
    device: String,
    index: usize,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mapping({} map{}, {:#x} bytes at +{:#x})",
            self.device, self.index, self.len, self.start
        )
    }
}

pub(crate) struct MappingParts {
    pub backing: Backing,
    pub mmap_base: usize,
    pub mmap_len: usize,
    pub mmap_offset: u64,
    pub start: usize,
    pub len: usize,
    pub device: String,
    pub index: usize,
}

impl Mapping {
    pub(crate) fn new(p: MappingParts) -> Mapping {
        Mapping {
            backing: p.backing,
            start: p.start,
            len: p.len,
            mmap_base: p.mmap_base,
            mmap_len: p.mmap_len,
            mmap_offset: p.mmap_offset,
            device: p.device,
            index: p.index,
        }
    }

    /// The map index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The device node it was mapped from.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The address `mmap` returned.
    pub fn mmap_base(&self) -> usize {
        self.mmap_base
    }

    /// `mmap_base + offset`: where register offset 0 is.
    pub fn register_base(&self) -> usize {
        self.mmap_base + self.start
    }

    /// The in-page offset of the registers.
    pub fn in_page_offset(&self) -> usize {
        self.start
    }

    /// The bytes mapped (whole pages).
    pub fn mmap_len(&self) -> usize {
        self.mmap_len
    }

    /// The file offset passed to `mmap` (`index * PAGE`).
    pub fn mmap_offset(&self) -> u64 {
        self.mmap_offset
    }

    pub(crate) fn raw(&self) -> Option<(&RawMapping, usize)> {
        match &self.backing {
            Backing::Raw(r) => Some((r, self.start)),
            Backing::Model(_) => None,
        }
    }

    fn err(&self, op: &'static str, off: usize) -> UioError {
        UioError::dev(
            &self.device,
            Some(self.index),
            op,
            ErrorKind::InvalidInput,
            format!(
                "register offset {off:#x} is outside the {:#x}-byte window or not 4-byte aligned",
                self.len
            ),
        )
    }
}

impl Registers for Mapping {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn read32(&self, off: usize) -> Result<u32> {
        if !check_access(self.len, off) {
            return Err(self.err("read32", off));
        }
        self.backing.regs().read32(self.start + off)
    }

    #[inline]
    fn write32(&self, off: usize, v: u32) -> Result<()> {
        if !check_access(self.len, off) {
            return Err(self.err("write32", off));
        }
        self.backing.regs().write32(self.start + off, v)
    }

    #[inline]
    fn write32_repeat(&self, off: usize, words: &[u32]) -> Result<()> {
        if !check_access(self.len, off) {
            return Err(self.err("write32", off));
        }
        self.backing.regs().write32_repeat(self.start + off, words)
    }
}

impl<R: Registers + ?Sized> Registers for Arc<R> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn read32(&self, off: usize) -> Result<u32> {
        (**self).read32(off)
    }
    fn write32(&self, off: usize, v: u32) -> Result<()> {
        (**self).write32(off, v)
    }
    fn write32_repeat(&self, off: usize, words: &[u32]) -> Result<()> {
        (**self).write32_repeat(off, words)
    }
}

#[cfg(test)]
mod tests {
    use super::check_access;

    #[test]
    fn access_checks() {
        assert!(check_access(8, 0));
        assert!(check_access(8, 4));
        assert!(!check_access(8, 8));
        assert!(!check_access(8, 2));
        assert!(!check_access(8, usize::MAX - 1));
        assert!(!check_access(0, 0));
    }
}
