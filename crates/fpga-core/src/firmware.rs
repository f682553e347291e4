//! The firmware loader's part: name checks and the search path (§3.8).

use crate::error::{FpgaError, Result};
use std::path::{Component, Path, PathBuf};

/// The longest firmware name accepted (the Xilinx buffer is 255 bytes).
pub const MAX_NAME: usize = 255;

/// \[library rule\] A firmware name is non-empty, at most 255 bytes,
/// relative, free of `..` and NUL.
pub(crate) fn check_name(object: &str, name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(FpgaError::invalid(
            object,
            format!("firmware name {name:?}: {why}"),
        ))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME {
        return bad("longer than 255 bytes");
    }
    if name.contains('\0') {
        return bad("contains NUL");
    }
    let p = Path::new(name);
    if p.is_absolute() {
        return bad("must be relative to the firmware search path");
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return bad("must not contain '..'");
    }
    Ok(())
}

/// Reads `name` from the first directory of `dirs` that has it.
pub(crate) fn read(dirs: &[PathBuf], name: &Path) -> std::io::Result<Vec<u8>> {
    for dir in dirs {
        match std::fs::read(dir.join(name)) {
            Ok(data) => return Ok(data),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!(
            "{} not found in {}",
            name.display(),
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}
