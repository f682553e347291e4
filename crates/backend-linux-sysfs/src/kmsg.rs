//! The kernel log, read from `/dev/kmsg` for one window of time: what the
//! kernel said while an overlay was being removed. The overlay core's
//! "memory leak" errors are how a live kernel reports the seed bug (an
//! overlay node still referenced when its changeset is destroyed); this
//! module finds them, with the node they name.
//!
//! `/dev/kmsg` hands out one record per `read`: `PRIO,SEQ,USEC,FLAGS;TEXT`
//! and then continuation lines starting with a space. A watch opens it
//! non-blocking and seeks to the end, so it sees only records logged after
//! it started; a plain file (tests) works the same way from its length.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsgRecord {
    /// Syslog priority and facility (`PRIO`), if the record had one.
    pub prio: Option<u32>,
    /// The kernel's sequence number, if the record had one.
    pub seq: Option<u64>,
    /// The message, `\xNN` escapes as the kernel wrote them.
    pub text: String,
}

/// An overlay-node leak the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    /// The device-tree node named, e.g. `/fpga-region/dev@0`.
    pub node: String,
    /// The reference count the kernel found, where it says.
    pub refcount: Option<u32>,
    /// The whole message.
    pub text: String,
}

/// Reads what the kernel logs from the moment of [`KmsgWatch::start`].
#[derive(Debug)]
pub struct KmsgWatch {
    path: PathBuf,
    file: Option<std::fs::File>,
    /// Why the log cannot be read, if it cannot.
    unavailable: Option<String>,
}

/// At most this many records are read per call (a flood is cut, not
/// followed forever).
const MAX_RECORDS: usize = 100_000;

impl KmsgWatch {
    /// Opens `path` and moves to its end. A log that cannot be opened (no
    /// permission, `CONFIG_PRINTK` off) is not an error: the watch then
    /// says so in [`unavailable`](Self::unavailable) and reads nothing.
    pub fn start(path: &Path) -> KmsgWatch {
        use std::os::unix::fs::OpenOptionsExt;
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path)
            .and_then(|mut f| f.seek(SeekFrom::End(0)).map(|_| f));
        match opened {
            Ok(f) => KmsgWatch {
                path: path.to_path_buf(),
                file: Some(f),
                unavailable: None,
            },
            Err(e) => KmsgWatch {
                path: path.to_path_buf(),
                file: None,
                unavailable: Some(format!("{}: {e}", path.display())),
            },
        }
    }

    /// A watch that reads nothing (no log configured).
    pub fn none(why: &str) -> KmsgWatch {
        KmsgWatch {
            path: PathBuf::new(),
            file: None,
            unavailable: Some(why.to_string()),
        }
    }

    /// Why nothing can be read, if so.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// The records logged since the start (or the previous call).
    pub fn records(&mut self) -> Vec<KmsgRecord> {
        let Some(f) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // A record is at most about 8 KiB (the kernel's CONSOLE_EXT_LOG_MAX
        // with its dictionary); a larger buffer never makes `read` fail
        // with EINVAL, and a plain file is read in chunks of lines.
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending = Vec::new();
        let is_char_device = {
            use std::os::unix::fs::FileTypeExt;
            f.metadata().is_ok_and(|m| m.file_type().is_char_device())
        };
        while out.len() < MAX_RECORDS {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) if is_char_device => out.push(parse_record(&buf[..n])),
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                // Records overwritten before they were read: the next
                // read continues with the oldest one still there.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PIPE.raw_os_error()) => {
                    continue
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.unavailable = Some(format!("{}: {e}", self.path.display()));
                    break;
                }
            }
        }
        if !pending.is_empty() {
            // A plain file: one record per line that does not start with
            // a space (continuations do).
            let mut rec: Vec<u8> = Vec::new();
            for line in pending.split_inclusive(|&b| b == b'\n') {
                if line.first() != Some(&b' ') && !rec.is_empty() {
                    out.push(parse_record(&rec));
                    rec.clear();
                }
                rec.extend_from_slice(line);
            }
            if !rec.is_empty() {
                out.push(parse_record(&rec));
            }
        }
        out
    }
}

/// Parses one record (`PRIO,SEQ,USEC,FLAGS;TEXT\n KEY=VALUE\n...`);
/// a line without the header is kept whole as the text.
pub fn parse_record(raw: &[u8]) -> KmsgRecord {
    let raw = String::from_utf8_lossy(raw);
    let first = raw.split('\n').next().unwrap_or("");
    if let Some((head, text)) = first.split_once(';') {
        let mut fields = head.split(',');
        let prio = fields.next().and_then(|p| p.parse().ok());
        let seq = fields.next().and_then(|s| s.parse().ok());
        if prio.is_some() && seq.is_some() {
            return KmsgRecord {
                prio,
                seq,
                text: text.to_string(),
            };
        }
    }
    KmsgRecord {
        prio: None,
        seq: None,
        text: first.to_string(),
    }
}

/// The overlay-node leaks among `records`: the overlay core's "memory
/// leak, expected refcount 1 instead of N ... overlay node PATH" (a node
/// still referenced when its changeset was destroyed) and "memory leak
/// before free overlay changeset, PATH" (its last reference dropped
/// later).
pub fn leaks(records: &[KmsgRecord]) -> Vec<LeakReport> {
    let mut out = Vec::new();
    for r in records {
        let t = r.text.as_str();
        if let Some(i) = t.find("memory leak, expected refcount 1 instead of ") {
            let rest = &t[i + "memory leak, expected refcount 1 instead of ".len()..];
            let refcount = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok());
            let node = t
                .rfind("overlay node ")
                .map(|j| t[j + "overlay node ".len()..].trim().to_string())
                .unwrap_or_default();
            out.push(LeakReport {
                node,
                refcount,
                text: t.to_string(),
            });
        } else if let Some(i) = t.find("memory leak before free overlay changeset,") {
            let node = t[i + "memory leak before free overlay changeset,".len()..]
                .trim()
                .to_string();
            out.push(LeakReport {
                node,
                refcount: None,
                text: t.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_leaks() {
        let r = parse_record(b"3,1234,56789,-;OF: ERROR: memory leak, expected refcount 1 instead of 2, of_node_get()/of_node_put() unbalanced - destroy cset entry: attach overlay node /lab-fpga-region/a-f1\n SUBSYSTEM=of\n");
        assert_eq!(r.prio, Some(3));
        assert_eq!(r.seq, Some(1234));
        let l = leaks(&[r]);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].node, "/lab-fpga-region/a-f1");
        assert_eq!(l[0].refcount, Some(2));
        let r =
            parse_record(b"3,5,6,-;OF: ERROR: memory leak before free overlay changeset,  /x/y\n");
        assert_eq!(leaks(&[r])[0].node, "/x/y");
        assert!(leaks(&[parse_record(b"6,7,8,-;lab-dt: probed\n")]).is_empty());
        // No header: kept whole.
        assert_eq!(parse_record(b"plain words").text, "plain words");
        assert_eq!(parse_record(b"").text, "");
    }

    #[test]
    fn a_watch_sees_only_what_came_after_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("kmsg");
        std::fs::write(&p, "6,1,0,-;before\n").unwrap();
        let mut w = KmsgWatch::start(&p);
        assert!(w.unavailable().is_none());
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, b"6,2,0,-;after\n KEY=V\n3,3,0,-;again\n").unwrap();
        let r = w.records();
        let texts: Vec<&str> = r.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["after", "again"]);
        assert!(w.records().is_empty());
        let missing = KmsgWatch::start(&d.path().join("none"));
        assert!(missing.unavailable().is_some());
    }

    proptest::proptest! {
        /// Whatever the log holds, reading it is a list of records and
        /// leaks, never a panic.
        #[test]
        fn the_record_parser_never_panics(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let r = parse_record(&raw);
            let _ = leaks(&[r]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            let _ = leaks(&[parse_record(format!("3,1,2,-;OF: ERROR: memory leak, expected refcount 1 instead of {text}").as_bytes())]);
        }
    }
}
