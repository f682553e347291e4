//! The only `unsafe` of the crate: `mmap`/`munmap` of a UIO map and the
//! 32-bit volatile accesses into it. No Rust reference into the mapping is
//! ever created (spec `uio.md` §1.5): the base is kept as a raw pointer and
//! every access is bounds- and alignment-checked before it is performed.

use crate::error::{Result, UioError};
use crate::regs::{check_access, Registers};
use devlink_core::ErrorKind;
use rustix::mm::{MapFlags, ProtFlags};
use std::os::fd::AsFd;
use std::ptr::NonNull;

/// One `MAP_SHARED`, `PROT_READ | PROT_WRITE` mapping; `munmap` on drop.
pub(crate) struct RawMapping {
    base: NonNull<u8>,
    len: usize,
    label: String,
    index: usize,
}

// SAFETY: the mapping is plain device or file memory owned by this value
// until drop; it is only reached through volatile accesses that are safe
// to issue from any thread (the hardware or the page cache serialises
// them), and no reference into it exists.
unsafe impl Send for RawMapping {}
// SAFETY: see above; `&RawMapping` offers only volatile 32-bit accesses.
unsafe impl Sync for RawMapping {}

impl RawMapping {
    /// Maps `len` bytes (a whole number of pages) of `fd` at `offset`
    /// (`index * PAGE`: the offset selects the UIO map).
    pub(crate) fn map(
        fd: impl AsFd,
        offset: u64,
        len: usize,
        label: &str,
        index: usize,
    ) -> std::result::Result<RawMapping, i32> {
        if len == 0 {
            return Err(crate::error::errno::EINVAL);
        }
        // SAFETY: a null hint lets the kernel choose a fresh address range,
        // so no existing Rust object is overlapped; the result is only
        // used through the checked volatile accessors below.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                offset,
            )
        }
        .map_err(|e| e.raw_os_error())?;
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(crate::error::errno::EINVAL)?;
        Ok(RawMapping {
            base,
            len,
            label: label.to_string(),
            index,
        })
    }

    /// The address the kernel chose (for tests of the pointer arithmetic).
    pub(crate) fn base_addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    fn err(&self, op: &'static str, off: usize) -> UioError {
        UioError::dev(
            &self.label,
            Some(self.index),
            op,
            ErrorKind::InvalidInput,
            format!(
                "offset {off:#x} is outside the {:#x}-byte mapping or not 4-byte aligned",
                self.len
            ),
        )
    }
}

impl Registers for RawMapping {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn read32(&self, off: usize) -> Result<u32> {
        if !check_access(self.len, off) {
            return Err(self.err("read32", off));
        }
        // SAFETY: `off + 4 <= len` and `off % 4 == 0` (checked above), the
        // mapping is page-aligned and alive while `self` is, so the pointer
        // is in bounds and aligned for a u32.
        Ok(unsafe { self.base.as_ptr().add(off).cast::<u32>().read_volatile() })
    }

    #[inline]
    fn write32(&self, off: usize, v: u32) -> Result<()> {
        if !check_access(self.len, off) {
            return Err(self.err("write32", off));
        }
        // SAFETY: as in `read32`.
        unsafe { self.base.as_ptr().add(off).cast::<u32>().write_volatile(v) };
        Ok(())
    }

    #[inline]
    fn write32_repeat(&self, off: usize, words: &[u32]) -> Result<()> {
        if !check_access(self.len, off) {
            return Err(self.err("write32", off));
        }
        // SAFETY: as in `read32`; every store goes to the same checked
        // address (a FIFO keyhole), one 32-bit volatile store per word.
        let reg = unsafe { self.base.as_ptr().add(off).cast::<u32>() };
        for &w in words {
            // SAFETY: `reg` is the checked, aligned, live address above.
            unsafe { reg.write_volatile(w) };
        }
        Ok(())
    }
}

impl Drop for RawMapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what `mmap` returned, the range
        // is unmapped once (here), and no reference into it exists.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// A raw volatile-store loop on a mapping, for the benchmark baseline only:
/// the same stores [`Registers::write32_repeat`] issues, without the trait,
/// the bounds check or the HWICAP logic.
#[doc(hidden)]
/// `off` is relative to the register base (as for [`crate::Mapping`]).
/// Returns false (and stores nothing) for a simulated mapping or an
/// offset outside the window.
pub fn raw_store_loop(mapping: &crate::Mapping, off: usize, words: &[u32]) -> bool {
    let Some((raw, start)) = mapping.raw() else {
        return false;
    };
    let Some(off) = start.checked_add(off) else {
        return false;
    };
    if !check_access(raw.len, off) || off + 4 > start + mapping.len() {
        return false;
    }
    // SAFETY: checked in bounds and aligned just above; the mapping is
    // alive for the borrow of `mapping`.
    let reg = unsafe { raw.base.as_ptr().add(off).cast::<u32>() };
    for &w in words {
        // SAFETY: `reg` is the checked, aligned, live address above.
        unsafe { reg.write_volatile(w) };
    }
    true
}
