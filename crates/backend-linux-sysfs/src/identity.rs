//! Which image is loaded on a live kernel. The kernel does not say, so
//! every load through [`FirmwareLoader`](crate::FirmwareLoader) that is
//! told its image ([`with_identity`](crate::FirmwareLoader::with_identity))
//! keeps a record beside the lock files (`<lock dir>/<prefix><manager>.image`):
//! removed when the load starts, written atomically once the kernel
//! reports success. A record is believed only while the manager still
//! says what it said then: the same `state`, and no `firmware` write
//! since (kernfs moves an attribute's modification time on a write, so
//! another tool's load is seen even when it leaves the state alone);
//! otherwise the image was "loaded outside this tool".

use crate::error::{Result, SysfsError};
use crate::journal::{escape, unescape, write_atomically};
use crate::lock::safe_name;
use crate::root::SysfsRoot;
use fpga_core::{ImageIdentity, LoadedImage};
use std::path::PathBuf;

const MAGIC: &str = "fpga-devlink image record 1";

/// The record's path for `manager`.
pub fn record_path(root: &SysfsRoot, manager: &str) -> Result<PathBuf> {
    let m = safe_name("manager name", manager)?;
    Ok(root.lock_dir().join(format!("{}{m}.image", root.prefix())))
}

/// Forgets what was loaded on `manager` (a load is starting, or failed).
pub fn forget(root: &SysfsRoot, manager: &str) -> Result<()> {
    let path = record_path(root, manager)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SysfsError::Io { path, source }),
    }
}

/// Records `loaded` on `manager`, whose `state` now reads `state`.
pub fn record(root: &SysfsRoot, manager: &str, loaded: &LoadedImage, state: &str) -> Result<()> {
    let path = record_path(root, manager)?;
    let i = &loaded.image;
    let text = format!(
        "{MAGIC}\nname {}\nsha256 {}\nbytes {}\nflags {:x}\ntime_ms {}\npid {}\nprocess {}\nstate {}\n",
        escape(&i.name),
        escape(&i.sha256),
        i.bytes,
        loaded.flags,
        loaded.time_ms,
        loaded.pid,
        escape(&loaded.process),
        escape(state),
    );
    write_atomically(&path, &text).map_err(|source| SysfsError::Io { path, source })
}

/// A record as read back, with the state it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What was loaded.
    pub loaded: LoadedImage,
    /// The manager's `state` right after the load.
    pub state: String,
}

/// The record of `manager`, if one is there. A record that is not one
/// (cut, foreign, over 64 KiB) is an error naming the file.
pub fn read_record(root: &SysfsRoot, manager: &str) -> Result<Option<Record>> {
    let path = record_path(root, manager)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SysfsError::Io { path, source }),
    };
    let bad = |why: &str| SysfsError::parse(&path, "(the record)", why);
    if bytes.len() > 64 * 1024 {
        return Err(bad("a record of at most 64 KiB"));
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(bad(MAGIC));
    }
    let mut field = |key: &str| -> Result<String> {
        let line = lines
            .next()
            .ok_or_else(|| bad(&format!("a `{key}` line")))?;
        line.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .map(unescape)
            .ok_or_else(|| bad(&format!("a `{key}` line")))
    };
    let name = field("name")?;
    let sha256 = field("sha256")?;
    let bytes_n = field("bytes")?;
    let flags = field("flags")?;
    let time_ms = field("time_ms")?;
    let pid = field("pid")?;
    let process = field("process")?;
    let state = field("state")?;
    let num = |v: &str, what: &str| v.parse::<u64>().map_err(|_| bad(what));
    Ok(Some(Record {
        loaded: LoadedImage {
            image: ImageIdentity {
                name,
                sha256,
                bytes: num(&bytes_n, "a byte count")?,
            },
            flags: u32::from_str_radix(&flags, 16).map_err(|_| bad("hexadecimal flags"))?,
            time_ms: num(&time_ms, "a time in milliseconds")?,
            pid: u32::try_from(num(&pid, "a process id")?).map_err(|_| bad("a process id"))?,
            process,
        },
        state,
    }))
}

/// What `list` and `show` say of `manager`, whose `state` reads `state`
/// now: the loaded image, or why it is not known.
pub fn loaded_now(
    root: &SysfsRoot,
    manager: &str,
    state: &str,
) -> (Option<LoadedImage>, Option<String>) {
    let rec = match read_record(root, manager) {
        Ok(Some(r)) => r,
        Ok(None) => return (None, None),
        Err(e) => return (None, Some(format!("the record cannot be read: {e}"))),
    };
    if rec.state != state {
        return (
            None,
            Some(format!(
                "loaded outside this tool: the manager is {state}, it was {} after {} was loaded",
                rec.state, rec.loaded.image.name
            )),
        );
    }
    let fw = root
        .sys()
        .join("class/fpga_manager")
        .join(manager)
        .join("firmware");
    let written_ms = std::fs::metadata(&fw)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if written_ms.is_some_and(|w| w > rec.loaded.time_ms) {
        return (
            None,
            Some(format!(
                "loaded outside this tool: `firmware` was written after {} was loaded",
                rec.loaded.image.name
            )),
        );
    }
    (Some(rec.loaded), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, SysfsRoot) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("run/lock")).unwrap();
        let r = SysfsRoot::at(d.path());
        (d, r)
    }

    fn loaded(name: &str) -> LoadedImage {
        LoadedImage {
            image: ImageIdentity {
                name: name.into(),
                sha256: "0f".repeat(32),
                bytes: 42,
            },
            flags: 0x21,
            time_ms: 1_700_000_000_000,
            pid: 77,
            process: "fpga tool\r\n".into(),
        }
    }

    #[test]
    fn a_record_round_trips_every_character() {
        let (_d, r) = root();
        let l = loaded("odd\nname \\ with\ttabs.bit");
        record(&r, "fpga0", &l, "operating").unwrap();
        let back = read_record(&r, "fpga0").unwrap().unwrap();
        assert_eq!(back.loaded, l);
        assert_eq!(back.state, "operating");
        forget(&r, "fpga0").unwrap();
        assert_eq!(read_record(&r, "fpga0").unwrap(), None);
        forget(&r, "fpga0").unwrap();
    }

    #[test]
    fn what_is_not_a_record_is_an_error_naming_the_file() {
        let (_d, r) = root();
        let path = record_path(&r, "fpga0").unwrap();
        for text in [
            "".to_string(),
            "garbage\n".into(),
            format!("{MAGIC}\nname x\n"),
            format!("{MAGIC}\nname a\nsha256 b\nbytes many\nflags 0\ntime_ms 0\npid 1\nprocess p\nstate s\n"),
            format!("{MAGIC}\nname a\nsha256 b\nbytes 1\nflags zz\ntime_ms 0\npid 1\nprocess p\nstate s\n"),
            "x".repeat(70_000),
        ] {
            std::fs::write(&path, &text).unwrap();
            let e = read_record(&r, "fpga0").unwrap_err();
            assert!(e.to_string().contains("fpga0.image"), "{e}");
            let (l, why) = loaded_now(&r, "fpga0", "operating");
            assert!(l.is_none() && why.unwrap().contains("cannot be read"));
        }
    }

    #[test]
    fn a_bad_manager_name_is_refused() {
        let (_d, r) = root();
        assert!(record_path(&r, "../etc").is_err());
        assert!(forget(&r, "").is_err());
    }
}
