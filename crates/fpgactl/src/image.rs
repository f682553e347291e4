//! Images as users have them: one check for every backend (fpga-image's
//! `identify`), the partial flag against what the file says, and
//! `fpgactl image FILE`.

use crate::backend::Backend;
use crate::load::read_image;
use crate::output::Failure;
use crate::report::ImageReport;
use devlink_core::ErrorKind;
use fpga_core::ImageFlags;
use std::path::Path;

/// What `path` (read as `bytes`) is; a malformed or unknown file is
/// invalid input naming the file and what is wrong.
pub fn identify(path: &Path, bytes: &[u8]) -> Result<fpga_image::Image, Failure> {
    fpga_image::identify(bytes).map_err(|e| {
        Failure::new(
            ErrorKind::InvalidInput,
            format!("image {}: {e}", path.display()),
        )
        .hint("if the target's driver takes this file as it is, pass --raw to load it unchecked")
    })
}

/// Refuses `--partial` where the file says it is full, and its absence
/// where the file says it is partial. Returns whether it is partial.
pub fn partial_matches(
    path: &Path,
    image: &fpga_image::Image,
    flags: ImageFlags,
) -> Result<bool, Failure> {
    let asked = flags.contains(ImageFlags::PARTIAL_RECONFIG);
    match image.partial {
        Some(is) if is != asked => {
            let (what, flag) = if is {
                ("a partial", "add --partial")
            } else {
                ("a full", "drop --partial")
            };
            Err(Failure::new(
                ErrorKind::InvalidInput,
                format!("image {} is {what} image", path.display()),
            )
            .hint(flag))
        }
        _ => Ok(asked),
    }
}

/// `fpgactl image FILE`.
pub fn image<B: Backend>(b: &B, path: &Path) -> Result<ImageReport, Failure> {
    let bytes = read_image(path)?;
    let id = identify(path, &bytes)?;
    let (loadable, plan) = match b.image_plan(&id) {
        Ok(p) => (true, p),
        Err(why) => (false, why),
    };
    Ok(ImageReport {
        file: path.display().to_string(),
        format: id.format.name().to_string(),
        bytes: id.size as u64,
        sha256: id.sha256.clone(),
        payload_offset: id.payload_offset as u64,
        payload_bytes: id.payload_len as u64,
        design: id.design.clone(),
        part: id.part.clone(),
        date: id.date.clone(),
        time: id.time.clone(),
        partial: id.partial,
        idcode: id.idcode.map(|i| format!("{i:#010x}")),
        backend: b.name().to_string(),
        loadable,
        plan,
    })
}
