//! Strict parsers for single sysfs attributes. Each takes the file's whole
//! text: exactly one value and one trailing newline (the kernel's
//! `sysfs_emit` format); anything else is an error naming the file.

use crate::error::{Result, SysfsError};
use devlink_core::LinkState;
use fpga_core::{CompatId, MgrState, MgrStatus};
use std::path::Path;

/// `auto_remove_on` of a link (spec `device-links.md` §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoRemove {
    /// `supplier unbind`
    SupplierUnbind,
    /// `consumer unbind`
    ConsumerUnbind,
    /// `never`
    Never,
}

impl AutoRemove {
    /// The sysfs text, without the newline.
    pub fn sysfs(self) -> &'static str {
        match self {
            AutoRemove::SupplierUnbind => "supplier unbind",
            AutoRemove::ConsumerUnbind => "consumer unbind",
            AutoRemove::Never => "never",
        }
    }
}

/// The one line of an attribute: the text without its final newline.
/// Rejects a missing newline, an empty value, and more than one line.
pub fn one_line<'a>(path: &Path, text: &'a str, expected: &str) -> Result<&'a str> {
    match text.strip_suffix('\n') {
        Some(v) if !v.is_empty() && !v.contains('\n') => Ok(v),
        _ => Err(SysfsError::parse(path, text, expected)),
    }
}

/// A link's `status`.
pub fn link_status(path: &Path, text: &str) -> Result<LinkState> {
    const EXPECTED: &str =
        "one of: not tracked, dormant, available, consumer probing, active, supplier unbinding";
    let v = one_line(path, text, EXPECTED)?;
    LinkState::from_sysfs(v).ok_or_else(|| SysfsError::parse(path, text, EXPECTED))
}

/// A link's `auto_remove_on`.
pub fn auto_remove_on(path: &Path, text: &str) -> Result<AutoRemove> {
    const EXPECTED: &str = "one of: supplier unbind, consumer unbind, never";
    match one_line(path, text, EXPECTED)? {
        "supplier unbind" => Ok(AutoRemove::SupplierUnbind),
        "consumer unbind" => Ok(AutoRemove::ConsumerUnbind),
        "never" => Ok(AutoRemove::Never),
        _ => Err(SysfsError::parse(path, text, EXPECTED)),
    }
}

/// A `0`/`1` attribute (`runtime_pm`, `sync_state_only`,
/// `waiting_for_supplier`).
pub fn bool01(path: &Path, text: &str) -> Result<bool> {
    match one_line(path, text, "0 or 1")? {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(SysfsError::parse(path, text, "0 or 1")),
    }
}

/// An FPGA manager's `state` (spec `fpga.md` §8.1).
pub fn mgr_state(path: &Path, text: &str) -> Result<MgrState> {
    const EXPECTED: &str = "an FPGA manager state (unknown, power off, ..., operating)";
    let v = one_line(path, text, EXPECTED)?;
    MgrState::from_sysfs(v).ok_or_else(|| SysfsError::parse(path, text, EXPECTED))
}

/// An FPGA manager's `status`: zero or more known lines, each ending in a
/// newline.
pub fn mgr_status(path: &Path, text: &str) -> Result<MgrStatus> {
    const EXPECTED: &str = "FPGA manager status lines (reconfig operation error, ...)";
    let malformed =
        !text.is_empty() && !text.ends_with('\n') || text.split_terminator('\n').any(str::is_empty);
    if malformed {
        return Err(SysfsError::parse(path, text, EXPECTED));
    }
    MgrStatus::from_sysfs(text).map_err(|_| SysfsError::parse(path, text, EXPECTED))
}

/// An FPGA bridge's `state`: `enabled` or `disabled`.
pub fn bridge_state(path: &Path, text: &str) -> Result<bool> {
    match one_line(path, text, "enabled or disabled")? {
        "enabled" => Ok(true),
        "disabled" => Ok(false),
        _ => Err(SysfsError::parse(path, text, "enabled or disabled")),
    }
}

/// An FPGA region's `compat_id`: 32 hex digits.
pub fn compat_id(path: &Path, text: &str) -> Result<CompatId> {
    const EXPECTED: &str = "32 hexadecimal digits";
    let v = one_line(path, text, EXPECTED)?;
    CompatId::from_sysfs(v).ok_or_else(|| SysfsError::parse(path, text, EXPECTED))
}

/// A `name` attribute: any non-empty single line.
pub fn name(path: &Path, text: &str) -> Result<String> {
    one_line(path, text, "a name on one line").map(str::to_string)
}

/// The Xilinx manager `flags` as read back: lowercase hexadecimal with no
/// prefix (spec `fpga.md` §8.4), at most 8 digits.
pub fn xlnx_flags(path: &Path, text: &str) -> Result<u32> {
    const EXPECTED: &str = "lowercase hexadecimal flags without 0x";
    let v = one_line(path, text, EXPECTED)?;
    if v.len() > 8
        || !v
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(SysfsError::parse(path, text, EXPECTED));
    }
    u32::from_str_radix(v, 16).map_err(|_| SysfsError::parse(path, text, EXPECTED))
}

/// A configfs overlay's `status` (spec `uio.md` §3.3): `applied` is
/// `true`, `unapplied` is `false`.
pub fn overlay_status(path: &Path, text: &str) -> Result<bool> {
    const EXPECTED: &str = "applied or unapplied";
    match one_line(path, text, EXPECTED)? {
        "applied" => Ok(true),
        "unapplied" => Ok(false),
        _ => Err(SysfsError::parse(path, text, EXPECTED)),
    }
}

/// A configfs overlay's `path` as read back: the applied name without its
/// newline, or `None` for the bare `"\n"` of a slot with nothing applied.
pub fn overlay_path(path: &Path, text: &str) -> Result<Option<String>> {
    match text {
        "\n" => Ok(None),
        _ => one_line(path, text, "the applied overlay's file name").map(|v| Some(v.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("/sys/x")
    }

    #[test]
    fn every_link_status_round_trips() {
        for s in LinkState::ALL {
            let text = format!("{}\n", s.sysfs_status());
            assert_eq!(link_status(p(), &text).unwrap(), s);
        }
        for bad in ["unknown\n", "active", "active\n\n", "Active\n", "", "\n"] {
            let e = link_status(p(), bad).unwrap_err();
            assert!(
                e.to_string().starts_with("/sys/x: unexpected content"),
                "{e}"
            );
        }
    }

    #[test]
    fn every_manager_state_round_trips() {
        for s in MgrState::ALL {
            assert_eq!(mgr_state(p(), &format!("{}\n", s.sysfs())).unwrap(), s);
        }
        assert!(mgr_state(p(), "powered\n").is_err());
    }

    #[test]
    fn status_lines_and_small_attributes() {
        let all = MgrStatus::all();
        assert_eq!(mgr_status(p(), &all.sysfs()).unwrap(), all);
        assert_eq!(mgr_status(p(), "").unwrap(), MgrStatus::empty());
        assert!(mgr_status(p(), "reconfig operation error").is_err());
        assert!(mgr_status(p(), "on fire\n").is_err());
        assert!(bool01(p(), "1\n").unwrap());
        assert!(bool01(p(), "2\n").is_err());
        assert!(bridge_state(p(), "disabled\n").is_ok_and(|e| !e));
        assert_eq!(auto_remove_on(p(), "never\n").unwrap(), AutoRemove::Never);
        let id = compat_id(p(), "000000000000000100000000000000ab\n").unwrap();
        assert_eq!((id.id_h, id.id_l), (1, 0xab));
        assert!(compat_id(p(), "xyz\n").is_err());
    }

    #[test]
    fn long_garbage_is_cut_in_the_message() {
        let junk = "é".repeat(300) + "\n";
        let SysfsError::Parse { text, .. } = link_status(p(), &junk).unwrap_err() else {
            panic!()
        };
        assert!(text.len() <= 200);
    }

    proptest! {
        /// No input makes a parser panic; whatever it accepts re-renders
        /// to exactly the input.
        #[test]
        fn parsers_never_panic_and_accept_only_canonical_text(text in "\\PC{0,40}\n?") {
            if let Ok(s) = link_status(p(), &text) {
                prop_assert_eq!(format!("{}\n", s.sysfs_status()), text.clone());
            }
            if let Ok(s) = mgr_state(p(), &text) {
                prop_assert_eq!(format!("{}\n", s.sysfs()), text.clone());
            }
            if let Ok(a) = auto_remove_on(p(), &text) {
                prop_assert_eq!(format!("{}\n", a.sysfs()), text.clone());
            }
            if let Ok(s) = mgr_status(p(), &text) {
                prop_assert_eq!(s.sysfs(), text.clone());
            }
            let _ = (bool01(p(), &text), bridge_state(p(), &text), compat_id(p(), &text));
            if let Ok(v) = xlnx_flags(p(), &text) {
                prop_assert_eq!(u32::from_str_radix(text.trim_end(), 16).unwrap(), v);
                prop_assert!(!text.contains(|c: char| c.is_ascii_uppercase()));
            }
            if let Ok(a) = overlay_status(p(), &text) {
                prop_assert_eq!(if a { "applied\n" } else { "unapplied\n" }, text.as_str());
            }
            if let Ok(Some(name)) = overlay_path(p(), &text) {
                prop_assert_eq!(format!("{name}\n"), text.clone());
            }
        }

        #[test]
        fn hex_attributes_round_trip(flags in any::<u32>()) {
            prop_assert_eq!(xlnx_flags(p(), &format!("{flags:x}\n")).unwrap(), flags);
            let upper = format!("{flags:X}");
            let accepted = xlnx_flags(p(), &format!("{upper}\n")).is_ok();
            prop_assert_eq!(accepted, !upper.bytes().any(|b| b.is_ascii_uppercase()));
        }

        #[test]
        fn status_line_sets_round_trip(bits in 0u64..(1 << 11)) {
            let s = MgrStatus::from_bits_retain(bits);
            prop_assert_eq!(mgr_status(p(), &s.sysfs()).unwrap(), s);
        }
    }
}
