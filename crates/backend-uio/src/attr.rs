//! Strict parsers for single UIO sysfs attributes (spec `uio.md` §1.2–§1.4).
//! Each takes the file's whole text: exactly one trailing newline is
//! stripped (and required); anything else is an error naming the file.
//! None of them panics on any input.

use crate::error::{Result, UioError};
use std::path::Path;

/// The value of a `"%s\n"` attribute: the text without its one trailing
/// newline. Empty values are allowed (a map `name` may be a bare `"\n"`);
/// a second line is not.
pub fn text(path: &Path, text: &str) -> Result<String> {
    match text.strip_suffix('\n') {
        Some(v) if !v.contains('\n') => Ok(v.to_string()),
        _ => Err(UioError::parse(path, text, "one line ending in a newline")),
    }
}

/// A non-empty `"%s\n"` attribute (`name`, `version`).
pub fn name(path: &Path, t: &str) -> Result<String> {
    let v = text(path, t)?;
    if v.is_empty() {
        return Err(UioError::parse(path, t, "a non-empty line"));
    }
    Ok(v)
}

/// A hexadecimal attribute (`addr`, `size`, `offset`, `start`): optional
/// `0x`/`0X` prefix, any case, any number of leading zeros (older kernels
/// did not pad, current ones pad to the physical-address width). At most
/// 16 significant digits.
pub fn hex(path: &Path, t: &str) -> Result<u64> {
    const EXPECTED: &str = "a hexadecimal number (0x optional) and a newline";
    let v = t
        .strip_suffix('\n')
        .ok_or_else(|| UioError::parse(path, t, EXPECTED))?;
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UioError::parse(path, t, EXPECTED));
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 16 {
        return Err(UioError::parse(
            path,
            t,
            "a hexadecimal number of at most 64 bits",
        ));
    }
    if significant.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(significant, 16).map_err(|_| UioError::parse(path, t, EXPECTED))
}

/// The `event` counter: unsigned decimal (`"%u\n"`), 32 bits.
pub fn event(path: &Path, t: &str) -> Result<u32> {
    const EXPECTED: &str = "an unsigned 32-bit decimal number and a newline";
    let v = t
        .strip_suffix('\n')
        .ok_or_else(|| UioError::parse(path, t, EXPECTED))?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UioError::parse(path, t, EXPECTED));
    }
    v.parse::<u32>()
        .map_err(|_| UioError::parse(path, t, EXPECTED))
}

/// The `dev` attribute: `"MAJ:MIN\n"`.
pub fn dev_numbers(path: &Path, t: &str) -> Result<(u32, u32)> {
    const EXPECTED: &str = "MAJ:MIN and a newline";
    let v = t
        .strip_suffix('\n')
        .ok_or_else(|| UioError::parse(path, t, EXPECTED))?;
    let (maj, min) = v
        .split_once(':')
        .ok_or_else(|| UioError::parse(path, t, EXPECTED))?;
    let num = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok()
    };
    match (num(maj), num(min)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(UioError::parse(path, t, EXPECTED)),
    }
}

/// A port region's `porttype`.
pub fn porttype(path: &Path, t: &str) -> Result<String> {
    const EXPECTED: &str = "port_none, port_x86, port_gpio or port_other";
    let v = text(path, t)?;
    match v.as_str() {
        "port_none" | "port_x86" | "port_gpio" | "port_other" => Ok(v),
        _ => Err(UioError::parse(path, t, EXPECTED)),
    }
}

/// The index `N` of a directory entry named `<prefix>N` (`map3`,
/// `uio12`): decimal without leading zeros.
pub fn indexed(entry: &str, prefix: &str) -> Option<u32> {
    let n = entry.strip_prefix(prefix)?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || (n.len() > 1 && n.starts_with('0'))
    {
        return None;
    }
    n.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("/sys/class/uio/uio0/maps/map0/addr")
    }

    #[test]
    fn hex_widths_and_cases() {
        for t in [
            "0x00000000a0001000\n",
            "0xa0001000\n",
            "0XA0001000\n",
            "a0001000\n",
        ] {
            assert_eq!(hex(p(), t).unwrap(), 0xA000_1000, "{t:?}");
        }
        for bad in [
            "0xa0001000",
            "0xa0001000\n\n",
            "0x\n",
            "\n",
            "0xg\n",
            " 0x1\n",
            "0x1 \n",
        ] {
            let e = hex(p(), bad).unwrap_err();
            assert!(e.to_string().contains("unexpected content"), "{e}");
        }
        assert_eq!(hex(p(), "0x0000000000000000000001\n").unwrap(), 1);
        assert!(hex(p(), "0x10000000000000000\n").is_err());
    }

    #[test]
    fn small_attributes() {
        assert_eq!(event(p(), "42\n").unwrap(), 42);
        assert!(event(p(), "4294967296\n").is_err());
        assert!(event(p(), "-1\n").is_err());
        assert_eq!(dev_numbers(p(), "243:0\n").unwrap(), (243, 0));
        assert!(dev_numbers(p(), "243\n").is_err());
        assert_eq!(text(p(), "\n").unwrap(), "");
        assert!(name(p(), "\n").is_err());
        assert_eq!(name(p(), "hwicap\n").unwrap(), "hwicap");
        assert_eq!(porttype(p(), "port_x86\n").unwrap(), "port_x86");
        assert!(porttype(p(), "port_usb\n").is_err());
        assert_eq!(indexed("map3", "map"), Some(3));
        assert_eq!(indexed("map03", "map"), None);
        assert_eq!(indexed("mapx", "map"), None);
    }

    proptest! {
        /// No input makes a parser panic; an accepted hex value re-parses
        /// from its padded, unpadded and upper-case renderings.
        #[test]
        fn parsers_never_panic(t in "\\PC{0,40}\n?") {
            if let Ok(v) = hex(p(), &t) {
                prop_assert!(t.ends_with('\n'));
                prop_assert_eq!(hex(p(), &format!("{v:#x}\n")).unwrap(), v);
            }
            if let Ok(v) = event(p(), &t) {
                prop_assert_eq!(format!("{v}\n").len() <= t.len(), true);
            }
            if let Ok(v) = text(p(), &t) {
                prop_assert_eq!(format!("{v}\n"), t.clone());
            }
            let _ = (dev_numbers(p(), &t), porttype(p(), &t), name(p(), &t));
        }

        #[test]
        fn hex_round_trips_every_rendering(v in any::<u64>()) {
            for t in [format!("{v:#018x}\n"), format!("{v:#x}\n"), format!("0X{v:X}\n"), format!("{v:x}\n")] {
                prop_assert_eq!(hex(p(), &t).unwrap(), v);
            }
        }

        #[test]
        fn event_round_trips(v in any::<u32>()) {
            prop_assert_eq!(event(p(), &format!("{v}\n")).unwrap(), v);
        }

        #[test]
        fn names_round_trip(s in "[^\n]{1,64}") {
            prop_assert_eq!(name(p(), &format!("{s}\n")).unwrap(), s);
        }
    }
}
