//! \[xlnx\] The Xilinx manager attributes `flags`, `key` and `firmware`
//! that fpgautil, dfx-mgr and PYNQ program through (spec `fpga.md` §8.4),
//! with the library's bounds checks instead of Xilinx's unbounded copies.

use crate::error::{FpgaError, Result};
use crate::fpga::lock;
use crate::image::ImageInfo;
use crate::manager::FpgaManager;
use crate::state::ImageFlags;

/// The longest key accepted: 64 hex characters (a 256-bit AES key).
pub const MAX_KEY: usize = 64;

#[derive(Debug, Default, Clone)]
pub(crate) struct XlnxAttrs {
    pub flags: u32,
    pub key: String,
}

fn strip_newline(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

impl FpgaManager {
    /// Reads `flags`: lowercase hex without prefix, then `\n`.
    pub fn xlnx_flags(&self) -> String {
        format!("{:x}\n", lock(&self.inner.xlnx).flags)
    }

    /// Writes `flags`: hex, optional `0x`, optional trailing `\n`. Invalid
    /// (or negative) text fails with `EINVAL` and keeps the old value.
    pub fn xlnx_write_flags(&self, text: &str) -> Result<()> {
        let t = strip_newline(text).trim();
        let digits = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        let value = u32::from_str_radix(digits, 16)
            .ok()
            .filter(|_| !digits.is_empty())
            .ok_or_else(|| {
                FpgaError::invalid(
                    self.device().name(),
                    format!("flags: {text:?} is not a hex number"),
                )
            })?;
        lock(&self.inner.xlnx).flags = value;
        Ok(())
    }

    /// Reads `key`: the stored characters, then `\n`.
    pub fn xlnx_key(&self) -> String {
        format!("{}\n", lock(&self.inner.xlnx).key)
    }

    /// Writes `key`: at most 64 characters after one trailing `\n` is
    /// stripped (`InvalidInput` otherwise, nothing stored).
    pub fn xlnx_write_key(&self, text: &str) -> Result<()> {
        let k = strip_newline(text);
        if k.len() > MAX_KEY {
            return Err(FpgaError::invalid(
                self.device().name(),
                format!("key of {} characters; at most {MAX_KEY}", k.len()),
            ));
        }
        lock(&self.inner.xlnx).key = k.to_string();
        Ok(())
    }

    /// Writes `firmware`: loads the named file through the firmware path
    /// with the stored `flags` (and `key` when flag 0x20 is set), without
    /// taking the manager lock, as Xilinx kernels do. Returns the number
    /// of bytes written on success.
    pub async fn xlnx_write_firmware(&self, text: &str) -> Result<usize> {
        let name = strip_newline(text);
        crate::firmware::check_name(self.device().name(), name)?;
        let attrs = lock(&self.inner.xlnx).clone();
        let flags = ImageFlags::from_bits_retain(attrs.flags);
        let mut info = ImageInfo::from_firmware(name).with_flags(flags);
        if flags.contains(ImageFlags::USERKEY_ENCRYPTED_BITSTREAM) {
            info.key = Some(attrs.key);
        }
        self.inner.load(&mut info, None).await?;
        Ok(text.len())
    }
}
