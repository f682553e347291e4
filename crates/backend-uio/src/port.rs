//! The descriptor of an opened `/dev/uioN`: the kernel-facing half of
//! [`crate::UioDevice`]. Two implementations: [`FilePort`] over a real
//! file descriptor, and the simulator's descriptor. Errors are bare errnos;
//! the device turns them into [`crate::UioError`]s with the kind its call
//! gives them.

use crate::discover::{MapInfo, MAX_MAPS};
use crate::error::errno;
use crate::regs::Backing;
use devlink_core::ErrorKind;
use std::time::Duration;

/// What `poll()` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// `POLLIN`: an event this descriptor has not read yet.
    Readable,
    /// `POLLERR`/`POLLHUP`/`POLLNVAL`: no interrupt source, or gone.
    Error,
    /// Nothing before the timeout.
    TimedOut,
}

/// The kernel side of one open descriptor.
pub(crate) trait Port: Send + Sync {
    /// `read()`; `nonblock` behaves as `O_NONBLOCK`.
    fn read(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, i32>;
    /// `write()`.
    fn write(&self, buf: &[u8]) -> Result<usize, i32>;
    /// `poll()` for `POLLIN`; `None` waits forever.
    fn poll(&self, timeout: Option<Duration>) -> Result<Readiness, i32>;
    /// `mmap(len, offset)`; the map's description is for the backing.
    fn mmap(&self, map: &MapInfo, offset: u64, len: usize) -> Result<(Backing, usize), i32>;
    /// Whether the device behind the descriptor was unregistered.
    fn gone(&self) -> bool;
}

/// The kernel's `uio_mmap` checks, in its order (spec §1.5): map index,
/// pages spanned, then the physical-region rules. Used before every real
/// `mmap` (so a fixture file refuses what a kernel would) and by the
/// simulated kernel.
pub(crate) fn check_mmap(
    map: Option<&MapInfo>,
    index: usize,
    len: usize,
    page: usize,
) -> Result<(), (i32, ErrorKind, String)> {
    let map = match map {
        Some(m) if index < MAX_MAPS => m,
        _ => {
            return Err((
                errno::EINVAL,
                ErrorKind::InvalidInput,
                format!("map{index} does not exist (offset {index} * PAGE selects it)"),
            ))
        }
    };
    let pages = len.div_ceil(page) as u64;
    if len == 0 || pages > map.pages_spanned(page) {
        return Err((
            errno::EINVAL,
            ErrorKind::InvalidInput,
            format!(
                "{len:#x} bytes is {pages} pages; the region spans {}",
                map.pages_spanned(page)
            ),
        ));
    }
    if map.addr & (page as u64 - 1) != 0 {
        return Err((
            errno::ENODEV,
            ErrorKind::Unsupported,
            format!(
                "physical address {:#x} is not page-aligned: the kernel cannot map it",
                map.addr
            ),
        ));
    }
    if (pages * page as u64) > map.size {
        return Err((
            errno::EINVAL,
            ErrorKind::InvalidInput,
            format!(
                "{} bytes of mapping exceed the region size {:#x}",
                pages * page as u64,
                map.size
            ),
        ));
    }
    Ok(())
}

/// A real descriptor of `/dev/uioN` (or, on a fixture tree, of a regular
/// file standing in for it).
pub(crate) struct FilePort {
    pub(crate) file: std::fs::File,
    pub(crate) label: String,
    pub(crate) root: crate::UioRoot,
    pub(crate) number: u32,
    pub(crate) identity: crate::Identity,
}

fn os(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(errno::EIO)
}

impl Port for FilePort {
    fn read(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, i32> {
        use std::io::Read;
        if nonblock && self.poll(Some(Duration::ZERO))? != Readiness::Readable {
            return Err(errno::EAGAIN);
        }
        (&self.file).read(buf).map_err(os)
    }

    fn write(&self, buf: &[u8]) -> Result<usize, i32> {
        use std::io::Write;
        (&self.file).write(buf).map_err(os)
    }

    fn poll(&self, timeout: Option<Duration>) -> Result<Readiness, i32> {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let ts = timeout.map(|t| Timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: t.subsec_nanos() as _,
        });
        let mut fds = [PollFd::new(&self.file, PollFlags::IN | PollFlags::RDNORM)];
        let n = rustix::event::poll(&mut fds, ts.as_ref()).map_err(|e| e.raw_os_error())?;
        if n == 0 {
            return Ok(Readiness::TimedOut);
        }
        let r = fds[0].revents();
        if r.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL) {
            Ok(Readiness::Error)
        } else if r.intersects(PollFlags::IN | PollFlags::RDNORM) {
            Ok(Readiness::Readable)
        } else {
            Ok(Readiness::TimedOut)
        }
    }

    fn mmap(&self, map: &MapInfo, offset: u64, len: usize) -> Result<(Backing, usize), i32> {
        // A regular file standing in for the node (a copied tree, a test)
        // must cover the mapping: touching a page past its end would kill
        // the process with SIGBUS. A real node is a character device.
        if let Ok(meta) = self.file.metadata() {
            let end = offset.checked_add(len as u64).ok_or(errno::EINVAL)?;
            if meta.is_file() && meta.len() < end {
                return Err(errno::EINVAL);
            }
        }
        let raw = crate::sys::RawMapping::map(&self.file, offset, len, &self.label, map.index)?;
        let base = raw.base_addr();
        Ok((Backing::Raw(raw), base))
    }

    fn gone(&self) -> bool {
        // The number may have been reused: gone unless uioN is still the
        // same hardware.
        !matches!(crate::discover::read_info(&self.root, self.number),
            Ok(info) if info.identity() == self.identity)
    }
}
