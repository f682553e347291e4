//! Every system call this crate makes on sysfs, configfs and the firmware
//! directory, relative to open directory handles, and counted.
//!
//! An attribute read is two calls: `openat` relative to the directory's
//! handle, and one `read` into a page-sized buffer (sysfs hands back the
//! whole attribute in the first read; a fixture file that fills the buffer
//! is read on). The descriptor's `close` is a third, which no reader of a
//! file can avoid. Nothing here calls `stat`. Symlinks are resolved with
//! one `readlinkat` and lexical joining, which is exact in sysfs because
//! every link target there is relative and crosses only real directories.
//!
//! The counters are per thread (so parallel tests do not disturb each
//! other) and cost one thread-local add per call; [`syscalls`] reads them.

use crate::error::{Result, SysfsError};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, CWD};
use std::cell::Cell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// System calls made by this crate on the calling thread, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Syscalls {
    /// `openat`.
    pub open: u64,
    /// `read`.
    pub read: u64,
    /// `close`.
    pub close: u64,
    /// `readlinkat`.
    pub readlink: u64,
    /// `getdents64` (directory listing; a listing also reopens the
    /// directory once).
    pub getdents: u64,
    /// `write`.
    pub write: u64,
    /// Any `stat` family call. This crate makes none on its read path;
    /// the counter exists so a test can say so.
    pub stat: u64,
    /// Attributes read (each one `open` + `read` + `close`; a missing
    /// attribute costs only the failed `open` and is not counted here).
    pub attr_reads: u64,
    /// The uevent wake-ups of a wait: `socket`, `bind`, `poll`, `recv`
    /// and the socket's `close`.
    pub wake: u64,
}

impl Syscalls {
    /// Calls in `self` that were not in `before`.
    pub fn since(&self, before: &Syscalls) -> Syscalls {
        Syscalls {
            open: self.open - before.open,
            read: self.read - before.read,
            close: self.close - before.close,
            readlink: self.readlink - before.readlink,
            getdents: self.getdents - before.getdents,
            write: self.write - before.write,
            stat: self.stat - before.stat,
            attr_reads: self.attr_reads - before.attr_reads,
            wake: self.wake - before.wake,
        }
    }

    /// Every call.
    pub fn total(&self) -> u64 {
        self.open
            + self.read
            + self.close
            + self.readlink
            + self.getdents
            + self.write
            + self.stat
            + self.wake
    }
}

thread_local! {
    static COUNTS: Cell<Syscalls> = const { Cell::new(Syscalls {
        open: 0, read: 0, close: 0, readlink: 0, getdents: 0, write: 0, stat: 0, attr_reads: 0,
        wake: 0,
    }) };
}

/// The calls this thread has made through this crate so far.
pub fn syscalls() -> Syscalls {
    COUNTS.with(Cell::get)
}

pub(crate) fn count(f: impl FnOnce(&mut Syscalls)) {
    COUNTS.with(|c| {
        let mut s = c.get();
        f(&mut s);
        c.set(s);
    });
}

/// Closes through the counter.
struct Fd(Option<OwnedFd>);

impl Fd {
    fn new(fd: OwnedFd) -> Fd {
        Fd(Some(fd))
    }
    fn borrow(&self) -> BorrowedFd<'_> {
        self.0.as_ref().expect("open until dropped").as_fd()
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            count(|s| s.close += 1);
        }
    }
}

/// The size of the first read: a page, which is what sysfs shows at most
/// on 4 KiB-page kernels; larger contents are read on.
/// The largest attribute read (sysfs text attributes are at most a page).
const MAX_ATTR: usize = 64 * 1024;

/// How long a FIFO standing where an attribute should be may take to
/// answer.
const FIFO_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

const FIRST_READ: usize = 4096;

/// An open directory. All access below it is relative to its handle.
pub(crate) struct Dir {
    fd: Fd,
    path: PathBuf,
}

impl std::fmt::Debug for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dir").field("path", &self.path).finish()
    }
}

fn io_err(path: &Path, e: rustix::io::Errno) -> SysfsError {
    SysfsError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

fn is_not_found(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOENT || e == rustix::io::Errno::NOTDIR
}

impl Dir {
    /// Opens `path` (absolute or relative to the working directory).
    pub(crate) fn open(path: &Path) -> Result<Dir> {
        Self::open_at(CWD, path, path.to_path_buf())
    }

    fn open_at(dirfd: impl AsFd, rel: &Path, full: PathBuf) -> Result<Dir> {
        count(|s| s.open += 1);
        let fd = rustix::fs::openat(
            dirfd,
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(&full, e))?;
        Ok(Dir {
            fd: Fd::new(fd),
            path: full,
        })
    }

    /// The directory's path, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a directory below this one.
    pub(crate) fn sub(&self, rel: impl AsRef<Path>) -> Result<Dir> {
        let rel = rel.as_ref();
        Self::open_at(self.fd.borrow(), rel, self.path.join(rel))
    }

    /// [`sub`](Self::sub), with a missing directory as `None`.
    pub(crate) fn sub_opt(&self, rel: impl AsRef<Path>) -> Result<Option<Dir>> {
        let rel = rel.as_ref();
        count(|s| s.open += 1);
        match rustix::fs::openat(
            self.fd.borrow(),
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(Dir {
                fd: Fd::new(fd),
                path: self.path.join(rel),
            })),
            Err(e) if is_not_found(e) => Ok(None),
            Err(e) => Err(io_err(&self.path.join(rel), e)),
        }
    }

    /// Reads the attribute `name` into `buf` (cleared first): one
    /// `openat`, one `read` for anything up to a page. A missing file is
    /// `Ok(false)`.
    pub(crate) fn read_into(&self, name: impl AsRef<Path>, buf: &mut Vec<u8>) -> Result<bool> {
        let name = name.as_ref();
        count(|s| s.open += 1);
        // Non-blocking: a FIFO where an attribute should be reads as
        // empty instead of waiting for a writer for ever.
        let path = || self.path.join(name);
        let fd = match rustix::fs::openat(
            self.fd.borrow(),
            name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => {
                count(|s| s.attr_reads += 1);
                Fd::new(fd)
            }
            Err(e) if is_not_found(e) => return Ok(false),
            // O_NOFOLLOW on a symlink: no kernel makes an attribute one.
            Err(e) if e == rustix::io::Errno::LOOP => {
                return Err(SysfsError::parse(
                    path(),
                    "(a symlink)",
                    "a regular attribute file, not a symlink",
                ))
            }
            Err(e) => return Err(io_err(&path(), e)),
        };
        buf.clear();
        let mut want = FIRST_READ;
        loop {
            let start = buf.len();
            buf.resize(start + want, 0);
            count(|s| s.read += 1);
            let n = match rustix::io::read(fd.borrow(), &mut buf[start..]) {
                Ok(n) => n,
                // The kernel's way of saying "none" for some attributes
                // (an FPGA region's `compat_id`): the open succeeds and
                // the read fails with ENOENT.
                Err(e) if e == rustix::io::Errno::NOENT => return Ok(false),
                Err(e) if e == rustix::io::Errno::AGAIN && start == 0 => {
                    return self.read_fifo(&fd, &path(), buf);
                }
                Err(e) => return Err(io_err(&path(), e)),
            };
            buf.truncate(start + n);
            if n == 0 && start == 0 && !self.regular(&fd, &path())? {
                // A FIFO where an attribute should be (a stand-in served by
                // a process, a hostile tree): wait for its answer, bounded,
                // instead of blocking for ever.
                return self.read_fifo(&fd, &path(), buf);
            }
            if n < want {
                return Ok(true);
            }
            // No text attribute is larger than a page; a file that keeps
            // giving (a device node where an attribute should be) is cut.
            if buf.len() >= MAX_ATTR {
                return Err(SysfsError::parse(
                    path(),
                    &format!("(more than {MAX_ATTR} bytes)"),
                    "an attribute of at most 64 KiB",
                ));
            }
            want = want.saturating_mul(2).min(MAX_ATTR - buf.len());
        }
    }

    /// Whether `fd` is a regular file (an attribute); counted as a stat.
    fn regular(&self, fd: &Fd, path: &Path) -> Result<bool> {
        count(|s| s.stat += 1);
        let st = rustix::fs::fstat(fd.borrow()).map_err(|e| io_err(path, e))?;
        Ok(rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile)
    }

    /// One answer from a FIFO: waits at most [`FIFO_WAIT`] for data, then
    /// reads what there is (at most [`MAX_ATTR`] bytes).
    fn read_fifo(&self, fd: &Fd, path: &Path, buf: &mut Vec<u8>) -> Result<bool> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let deadline = std::time::Instant::now() + FIFO_WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(SysfsError::parse(
                    path,
                    "(a FIFO that gave nothing)",
                    "a regular attribute file",
                ));
            }
            let b = fd.borrow();
            let mut fds = [PollFd::new(&b, PollFlags::IN)];
            let t = Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            match poll(&mut fds, Some(&t)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(e) if e == rustix::io::Errno::INTR => continue,
                Err(e) => return Err(io_err(path, e)),
            }
            buf.resize(MAX_ATTR, 0);
            count(|s| s.read += 1);
            match rustix::io::read(fd.borrow(), &mut buf[..]) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(true);
                }
                Err(e) if e == rustix::io::Errno::AGAIN => {
                    buf.clear();
                    continue;
                }
                Err(e) => return Err(io_err(path, e)),
            }
        }
    }

    /// The attribute `name` as text; `None` if the file does not exist.
    pub(crate) fn read_opt(&self, name: impl AsRef<Path>) -> Result<Option<String>> {
        let name = name.as_ref();
        let mut buf = Vec::new();
        if !self.read_into(name, &mut buf)? {
            return Ok(None);
        }
        String::from_utf8(buf).map(Some).map_err(|e| {
            SysfsError::parse(
                self.path.join(name),
                &String::from_utf8_lossy(e.as_bytes()),
                "UTF-8 text",
            )
        })
    }

    /// The attribute `name` as text; a missing file is an error naming it.
    pub(crate) fn read(&self, name: impl AsRef<Path>) -> Result<String> {
        let name = name.as_ref();
        self.read_opt(name)?.ok_or_else(|| SysfsError::Io {
            path: self.path.join(name),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    /// A symlink's target; `None` if there is no such entry.
    pub(crate) fn read_link(&self, name: impl AsRef<Path>) -> Result<Option<PathBuf>> {
        let name = name.as_ref();
        count(|s| s.readlink += 1);
        match rustix::fs::readlinkat(self.fd.borrow(), name, Vec::new()) {
            Ok(t) => Ok(Some(PathBuf::from(OsStr::from_bytes(t.as_bytes())))),
            Err(e) if is_not_found(e) => Ok(None),
            // Not a symlink.
            Err(e) if e == rustix::io::Errno::INVAL => Err(SysfsError::parse(
                self.path.join(name),
                "(not a symlink)",
                "a symlink",
            )),
            Err(e) => Err(io_err(&self.path.join(name), e)),
        }
    }

    /// A symlink's target; `None` if there is no such entry or it is not
    /// a symlink (a class attribute file beside class members). Never
    /// opens or reads the entry.
    pub(crate) fn symlink(&self, name: impl AsRef<Path>) -> Result<Option<PathBuf>> {
        let name = name.as_ref();
        count(|s| s.readlink += 1);
        match rustix::fs::readlinkat(self.fd.borrow(), name, Vec::new()) {
            Ok(t) => Ok(Some(PathBuf::from(OsStr::from_bytes(t.as_bytes())))),
            Err(e) if is_not_found(e) || e == rustix::io::Errno::INVAL => Ok(None),
            Err(e) => Err(io_err(&self.path.join(name), e)),
        }
    }

    /// The entry names, sorted; a directory that vanished meanwhile is
    /// empty.
    pub(crate) fn entries(&self) -> Result<Vec<String>> {
        count(|s| {
            s.open += 1;
            s.close += 1;
        });
        let dir = match rustix::fs::Dir::read_from(self.fd.borrow()) {
            Ok(d) => d,
            Err(e) if is_not_found(e) => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.path, e)),
        };
        let mut out = Vec::new();
        count(|s| s.getdents += 1);
        for e in dir {
            let e = e.map_err(|e| io_err(&self.path, e))?;
            let name = e.file_name().to_bytes();
            if name != b"." && name != b".." {
                out.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Writes `text` to the existing attribute `name` in one `write`
    /// (sysfs takes a store in one call). Never creates the file.
    pub(crate) fn write(&self, name: impl AsRef<Path>, text: &[u8]) -> Result<()> {
        let name = name.as_ref();
        let path = self.path.join(name);
        count(|s| s.open += 1);
        let fd = rustix::fs::openat(
            self.fd.borrow(),
            name,
            // O_TRUNC: sysfs ignores it (each write is a whole store);
            // a fixture file then holds exactly the last store, as a
            // kernel attribute would.
            OFlags::WRONLY | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| io_err(&path, e))?;
        let fd = Fd::new(fd);
        count(|s| s.write += 1);
        let n = rustix::io::write(fd.borrow(), text).map_err(|e| io_err(&path, e))?;
        if n != text.len() {
            return Err(SysfsError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes taken", text.len()),
                ),
            });
        }
        Ok(())
    }

    /// Creates `name` with exclusive-create and no-follow semantics: an
    /// existing file or symlink of that name is an error, never followed
    /// or truncated.
    pub(crate) fn create_new(&self, name: &str, mode: u32) -> Result<std::fs::File> {
        let path = self.path.join(name);
        count(|s| s.open += 1);
        let fd = rustix::fs::openat(
            self.fd.borrow(),
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| io_err(&path, e))?;
        Ok(std::fs::File::from(fd))
    }

    /// Removes the file `name`.
    pub(crate) fn unlink(&self, name: &str) -> Result<()> {
        rustix::fs::unlinkat(self.fd.borrow(), name, AtFlags::empty())
            .map_err(|e| io_err(&self.path.join(name), e))
    }

    /// Creates the directory `name`.
    pub(crate) fn mkdir(&self, name: &str) -> Result<()> {
        rustix::fs::mkdirat(self.fd.borrow(), name, Mode::from_raw_mode(0o755))
            .map_err(|e| io_err(&self.path.join(name), e))
    }

    /// Removes the directory `name`.
    pub(crate) fn rmdir(&self, name: &str) -> Result<()> {
        rustix::fs::unlinkat(self.fd.borrow(), name, AtFlags::REMOVEDIR)
            .map_err(|e| io_err(&self.path.join(name), e))
    }

    /// Whether `name` exists (without following a final symlink).
    pub(crate) fn exists(&self, name: impl AsRef<Path>) -> Result<bool> {
        let name = name.as_ref();
        count(|s| s.stat += 1);
        match rustix::fs::statat(self.fd.borrow(), name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(e) => Ok(false),
            Err(e) => Err(io_err(&self.path.join(name), e)),
        }
    }

    /// The underlying handle, for `flock`.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.borrow()
    }
}

/// Joins a relative symlink `target` found in directory `base` (both
/// relative to the sysfs root) and normalises `.` and `..` lexically.
/// `None` if the result would leave the root or the target is absolute.
pub(crate) fn join_link(base: &Path, target: &Path) -> Option<String> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in base.components().chain(target.components()) {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(&p.to_string_lossy());
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_link_resolves_parent_steps_and_refuses_escape() {
        assert_eq!(
            join_link(
                Path::new("class/devlink"),
                Path::new("../../devices/virtual/devlink/x")
            )
            .as_deref(),
            Some("devices/virtual/devlink/x")
        );
        assert_eq!(join_link(Path::new("a"), Path::new("../../b")), None);
        assert_eq!(join_link(Path::new("a"), Path::new("/abs")), None);
        assert_eq!(
            join_link(Path::new("a/b"), Path::new("./c")).as_deref(),
            Some("a/b/c")
        );
    }

    #[test]
    fn an_attribute_read_is_an_open_and_one_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state"), "operating\n").unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let before = syscalls();
        assert_eq!(d.read("state").unwrap(), "operating\n");
        let n = syscalls().since(&before);
        assert_eq!((n.open, n.read, n.close, n.stat), (1, 1, 1, 0));
    }

    #[test]
    fn a_long_attribute_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let text = "x".repeat(3 * FIRST_READ + 5);
        std::fs::write(dir.path().join("big"), &text).unwrap();
        let d = Dir::open(dir.path()).unwrap();
        assert_eq!(d.read("big").unwrap(), text);
    }

    #[test]
    fn create_new_refuses_existing_files_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taken"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("trap")).unwrap();
        let d = Dir::open(dir.path()).unwrap();
        assert!(d.create_new("taken", 0o644).is_err());
        assert!(d.create_new("trap", 0o644).is_err());
        assert_eq!(std::fs::read(dir.path().join("taken")).unwrap(), b"x");
        assert!(d.create_new("fresh", 0o644).is_ok());
    }
}
