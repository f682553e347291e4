//! Manager states, status bits, image flags and compat ids, with the
//! kernel's exact sysfs strings (spec `fpga.md` §3.3, §3.9, §6.6, §8).

use std::fmt;

/// `enum fpga_mgr_states`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MgrState {
    /// `FPGA_MGR_STATE_UNKNOWN`
    Unknown,
    /// `FPGA_MGR_STATE_POWER_OFF`
    PowerOff,
    /// `FPGA_MGR_STATE_POWER_UP`
    PowerUp,
    /// `FPGA_MGR_STATE_RESET`
    Reset,
    /// `FPGA_MGR_STATE_FIRMWARE_REQ`
    FirmwareReq,
    /// `FPGA_MGR_STATE_FIRMWARE_REQ_ERR`
    FirmwareReqErr,
    /// `FPGA_MGR_STATE_PARSE_HEADER`
    ParseHeader,
    /// `FPGA_MGR_STATE_PARSE_HEADER_ERR`
    ParseHeaderErr,
    /// `FPGA_MGR_STATE_WRITE_INIT`
    WriteInit,
    /// `FPGA_MGR_STATE_WRITE_INIT_ERR`
    WriteInitErr,
    /// `FPGA_MGR_STATE_WRITE`
    Write,
    /// `FPGA_MGR_STATE_WRITE_ERR`
    WriteErr,
    /// `FPGA_MGR_STATE_WRITE_COMPLETE`
    WriteComplete,
    /// `FPGA_MGR_STATE_WRITE_COMPLETE_ERR`
    WriteCompleteErr,
    /// `FPGA_MGR_STATE_OPERATING`
    Operating,
}

impl MgrState {
    /// All 15 states in enum order.
    pub const ALL: [MgrState; 15] = [
        MgrState::Unknown,
        MgrState::PowerOff,
        MgrState::PowerUp,
        MgrState::Reset,
        MgrState::FirmwareReq,
        MgrState::FirmwareReqErr,
        MgrState::ParseHeader,
        MgrState::ParseHeaderErr,
        MgrState::WriteInit,
        MgrState::WriteInitErr,
        MgrState::Write,
        MgrState::WriteErr,
        MgrState::WriteComplete,
        MgrState::WriteCompleteErr,
        MgrState::Operating,
    ];

    /// The sysfs `state` string, without the newline.
    pub fn sysfs(self) -> &'static str {
        match self {
            MgrState::Unknown => "unknown",
            MgrState::PowerOff => "power off",
            MgrState::PowerUp => "power up",
            MgrState::Reset => "reset",
            MgrState::FirmwareReq => "firmware request",
            MgrState::FirmwareReqErr => "firmware request error",
            MgrState::ParseHeader => "parse header",
            MgrState::ParseHeaderErr => "parse header error",
            MgrState::WriteInit => "write init",
            MgrState::WriteInitErr => "write init error",
            MgrState::Write => "write",
            MgrState::WriteErr => "write error",
            MgrState::WriteComplete => "write complete",
            MgrState::WriteCompleteErr => "write complete error",
            MgrState::Operating => "operating",
        }
    }

    /// Parses a sysfs `state` string (one trailing newline allowed).
    pub fn from_sysfs(text: &str) -> Option<MgrState> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        MgrState::ALL.into_iter().find(|s| s.sysfs() == text)
    }

    /// Whether this is one of the `*_ERR` states a failed load ends in.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            MgrState::FirmwareReqErr
                | MgrState::ParseHeaderErr
                | MgrState::WriteInitErr
                | MgrState::WriteErr
                | MgrState::WriteCompleteErr
        )
    }

    pub(crate) fn from_u8(v: u8) -> MgrState {
        MgrState::ALL[v as usize % 15]
    }
}

impl fmt::Display for MgrState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sysfs())
    }
}

bitflags::bitflags! {
    /// The manager `status` op's bits (`FPGA_MGR_STATUS_*`), mainline and
    /// Xilinx.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MgrStatus: u64 {
        /// `reconfig operation error`
        const OPERATION_ERR = 0x001;
        /// `reconfig CRC error`
        const CRC_ERR = 0x002;
        /// `reconfig incompatible image`
        const INCOMPATIBLE_IMAGE_ERR = 0x004;
        /// `reconfig IP protocol error`
        const IP_PROTOCOL_ERR = 0x008;
        /// `reconfig fifo overflow error`
        const FIFO_OVERFLOW_ERR = 0x010;
        /// \[xlnx\] `reconfig security error`
        const SECURITY_ERR = 0x020;
        /// \[xlnx\] `initialization has not finished`
        const DEVICE_INIT_ERR = 0x040;
        /// \[xlnx\] `device internal signal error`
        const SIGNAL_ERR = 0x080;
        /// \[xlnx\] `all I/Os are placed in High-Z state`
        const HIGH_Z_STATE_ERR = 0x100;
        /// \[xlnx\] `start-up sequence has not finished`
        const EOS_ERR = 0x200;
        /// \[xlnx\] `firmware request error`
        const FIRMWARE_REQ_ERR = 0x400;
    }
}

impl MgrStatus {
    const LINES: [&'static str; 11] = [
        "reconfig operation error",
        "reconfig CRC error",
        "reconfig incompatible image",
        "reconfig IP protocol error",
        "reconfig fifo overflow error",
        "reconfig security error",
        "initialization has not finished",
        "device internal signal error",
        "all I/Os are placed in High-Z state",
        "start-up sequence has not finished",
        "firmware request error",
    ];

    /// The sysfs `status` text: one line per set bit, ascending, each
    /// ending in `\n`; empty when no bit is set. Unknown bits are ignored.
    pub fn sysfs(self) -> String {
        let mut out = String::new();
        for (i, line) in Self::LINES.iter().enumerate() {
            if self.bits() & (1 << i) != 0 {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Parses sysfs `status` text back into bits; an unknown line is an
    /// error naming it.
    pub fn from_sysfs(text: &str) -> Result<MgrStatus, String> {
        let mut bits = 0;
        for line in text.lines().filter(|l| !l.is_empty()) {
            match Self::LINES.iter().position(|l| *l == line) {
                Some(i) => bits |= 1 << i,
                None => return Err(format!("unknown status line {line:?}")),
            }
        }
        Ok(MgrStatus::from_bits_retain(bits))
    }
}

bitflags::bitflags! {
    /// Image flags (`FPGA_MGR_*`, spec §3.3). The core passes them to the
    /// backend and never interprets them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ImageFlags: u32 {
        /// `FPGA_MGR_PARTIAL_RECONFIG`
        const PARTIAL_RECONFIG = 0x01;
        /// `FPGA_MGR_EXTERNAL_CONFIG`
        const EXTERNAL_CONFIG = 0x02;
        /// `FPGA_MGR_ENCRYPTED_BITSTREAM`
        const ENCRYPTED_BITSTREAM = 0x04;
        /// `FPGA_MGR_BITSTREAM_LSB_FIRST`
        const BITSTREAM_LSB_FIRST = 0x08;
        /// `FPGA_MGR_COMPRESSED_BITSTREAM`
        const COMPRESSED_BITSTREAM = 0x10;
        /// \[xlnx\] `FPGA_MGR_USERKEY_ENCRYPTED_BITSTREAM`
        const USERKEY_ENCRYPTED_BITSTREAM = 0x20;
        /// \[xlnx\] `FPGA_MGR_DDR_MEM_AUTH_BITSTREAM`
        const DDR_MEM_AUTH_BITSTREAM = 0x40;
        /// \[xlnx\] `FPGA_MGR_SECURE_MEM_AUTH_BITSTREAM`
        const SECURE_MEM_AUTH_BITSTREAM = 0x80;
        /// \[xlnx\] `FPGA_MGR_CONFIG_DMA_BUF`
        const CONFIG_DMA_BUF = 0x100;
    }
}

/// A 128-bit compatibility id (`struct fpga_compat_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CompatId {
    /// High 64 bits.
    pub id_h: u64,
    /// Low 64 bits.
    pub id_l: u64,
}

impl CompatId {
    /// The region sysfs `compat_id` text: 32 lowercase hex digits and `\n`.
    pub fn sysfs(self) -> String {
        format!("{:016x}{:016x}\n", self.id_h, self.id_l)
    }

    /// Parses the sysfs text.
    pub fn from_sysfs(text: &str) -> Option<CompatId> {
        let t = text.strip_suffix('\n').unwrap_or(text);
        if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(CompatId {
            id_h: u64::from_str_radix(&t[..16], 16).ok()?,
            id_l: u64::from_str_radix(&t[16..], 16).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_strings_round_trip() {
        for s in MgrState::ALL {
            assert_eq!(MgrState::from_sysfs(&format!("{s}\n")), Some(s));
            assert_eq!(MgrState::from_u8(s as u8), s);
        }
    }

    #[test]
    fn status_lines_round_trip() {
        let all = MgrStatus::all();
        assert_eq!(MgrStatus::from_sysfs(&all.sysfs()), Ok(all));
        assert_eq!(MgrStatus::empty().sysfs(), "");
        assert!(MgrStatus::from_sysfs("bogus\n").is_err());
    }

    #[test]
    fn compat_id_format() {
        let c = CompatId {
            id_h: 1,
            id_l: 0xab,
        };
        assert_eq!(c.sysfs(), "000000000000000100000000000000ab\n");
        assert_eq!(CompatId::from_sysfs(&c.sysfs()), Some(c));
    }
}
