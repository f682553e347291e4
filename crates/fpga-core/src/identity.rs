//! Which image is loaded: what a load was given ([`ImageIdentity`], from
//! whoever has the file) and what was recorded once it succeeded
//! ([`LoadedImage`]). The kernel keeps no such record; a manager in this
//! process keeps the last one in memory, the live-kernel backend in a
//! state file beside its lock files.

/// The image a load is given, as its caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ImageIdentity {
    /// The file's name as the user gave it.
    pub name: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// The file's size.
    pub bytes: u64,
}

/// A load that succeeded: the image, when, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LoadedImage {
    /// The image.
    pub image: ImageIdentity,
    /// The image flags of the load (`FPGA_MGR_*` bits).
    pub flags: u32,
    /// When the load finished, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The loading process's id.
    pub pid: u32,
    /// The loading process's name.
    pub process: String,
}

impl LoadedImage {
    /// A record of `image` loaded now, with `flags`, by this process.
    pub fn now(image: ImageIdentity, flags: u32) -> LoadedImage {
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let process = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        LoadedImage {
            image,
            flags,
            time_ms,
            pid: std::process::id(),
            process,
        }
    }
}
