//! The kernel's uevent messages: the socket they arrive on, and the parser
//! a wait reads them with to learn that an unbind has finished without
//! re-reading sysfs.
//!
//! A message from the kernel (`NETLINK_KOBJECT_UEVENT`, multicast group 1)
//! is a header `ACTION@DEVPATH` and then `KEY=VALUE` fields, each ended by
//! a NUL: `unbind@/devices/platform/q4\0ACTION=unbind\0DEVPATH=/devices/
//! platform/q4\0SUBSYSTEM=platform\0SEQNUM=1021\0`. The kernel sends
//! `unbind` at the very end of `__device_release_driver`, after
//! `device_links_driver_cleanup` has updated the device's links, so a
//! device's `unbind` message says its own unbind has run to its end (a
//! link whose supplier someone else is unbinding at that moment still
//! reads `supplier unbinding` until that supplier's unbind ends: the
//! engine unbinds consumers first itself, so that is someone else's
//! transition, seen only by reading sysfs).
//!
//! Anything malformed is `None`: the parser never panics, whatever the
//! bytes (a property test and `cargo xtask fuzz`).

use crate::io::count;
use std::os::fd::OwnedFd;

/// A drain lost messages (the socket's buffer overflowed, or the drain
/// hit its bound): nothing may be concluded from what it read.
#[derive(Debug)]
pub(crate) struct Lost;

/// The kernel's device announcements (`NETLINK_KOBJECT_UEVENT`, the
/// socket udev listens on): `add`, `remove`, `bind`, `unbind` of every
/// device, devlink class devices included. A wait uses them to wake up
/// and look again ([`Uevents::wait`], messages drained unread), and a
/// settle wait opened before a teardown reads them ([`Uevents::drain`],
/// parsed by [`parse`]).
pub(crate) struct Uevents {
    fd: OwnedFd,
}

impl Uevents {
    /// The socket, bound to the kernel's uevent group; `None` where it
    /// cannot be had (no netlink in a sandbox, a seccomp filter): the
    /// caller then waits on its timer alone.
    pub(crate) fn open() -> Option<Uevents> {
        use rustix::net::{netlink, AddressFamily, SocketFlags, SocketType};
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::KOBJECT_UEVENT),
        );
        count(|s| s.wake += 1);
        let fd = fd.ok()?;
        let bound = rustix::net::bind(&fd, &netlink::SocketAddrNetlink::new(0, 1));
        count(|s| s.wake += 1);
        bound.ok()?;
        Some(Uevents { fd })
    }

    /// [`open`](Self::open), with room for a long teardown's messages: the
    /// default buffer (`rmem_default`, about 200 KiB) holds a few hundred;
    /// with `CAP_NET_ADMIN` (root) it is raised past `rmem_max`, else to
    /// `rmem_max`. A socket that still overflows reports it, and the wait
    /// reads sysfs instead.
    pub(crate) fn open_for_teardown() -> Option<Uevents> {
        const ROOM: usize = 4 << 20;
        let u = Self::open()?;
        count(|s| s.wake += 1);
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&u.fd, ROOM).is_err() {
            count(|s| s.wake += 1);
            let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&u.fd, ROOM);
        }
        Some(u)
    }

    /// Waits until a uevent arrives or `timeout` passes, then drains what
    /// is queued, unread. Whether any arrived.
    pub(crate) fn wait(&self, timeout: std::time::Duration) -> bool {
        self.readable(timeout);
        let mut got = false;
        let mut buf = [0u8; 8192];
        // Bounded: a flood of events is drained at most this far before
        // the caller looks again.
        for _ in 0..64 {
            let r = rustix::net::recv(&self.fd, &mut buf[..], rustix::net::RecvFlags::DONTWAIT);
            count(|s| s.wake += 1);
            match r {
                Ok(_) => got = true,
                Err(_) => break,
            }
        }
        got
    }

    /// Waits until a message is queued or `timeout` passes (nothing is
    /// read); whether one is.
    pub(crate) fn readable(&self, timeout: std::time::Duration) -> bool {
        let ts = rustix::event::Timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            &self.fd,
            rustix::event::PollFlags::IN,
        )];
        count(|s| s.wake += 1);
        matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
    }

    /// Hands each queued kernel message to `each`, without blocking,
    /// until none is left or `each` breaks; how many it was handed.
    /// Messages whose sender is not the kernel (netlink port 0) are
    /// skipped: only a kernel message can say what the kernel did.
    pub(crate) fn drain(
        &self,
        mut each: impl FnMut(&[u8]) -> std::ops::ControlFlow<()>,
    ) -> std::result::Result<usize, Lost> {
        let mut buf = vec![0u8; 8192];
        let mut handed = 0;
        // Bounded: beyond this the caller looks at sysfs instead.
        for _ in 0..16_384 {
            let r = rustix::net::recvfrom(
                &self.fd,
                &mut buf[..],
                rustix::net::RecvFlags::DONTWAIT | rustix::net::RecvFlags::TRUNC,
            );
            count(|s| s.wake += 1);
            match r {
                Ok((n, full, addr)) => {
                    if full > n {
                        // Truncated: not a message this reader can trust.
                        return Err(Lost);
                    }
                    let kernel = addr
                        .and_then(|a| rustix::net::netlink::SocketAddrNetlink::try_from(a).ok())
                        .is_some_and(|a| a.pid() == 0);
                    if kernel {
                        handed += 1;
                        if each(&buf[..n]).is_break() {
                            return Ok(handed);
                        }
                    }
                }
                Err(rustix::io::Errno::AGAIN) => return Ok(handed),
                Err(rustix::io::Errno::INTR) => continue,
                // ENOBUFS: the kernel dropped messages for this socket.
                Err(_) => return Err(Lost),
            }
        }
        Err(Lost)
    }
}

impl Drop for Uevents {
    fn drop(&mut self) {
        count(|s| s.wake += 1);
    }
}

/// One parsed message, borrowing from the bytes received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uevent<'a> {
    /// `add`, `remove`, `bind`, `unbind`, `change`, `move`, …
    pub action: &'a str,
    /// The device's path below `/sys`, with its leading `/`
    /// (`/devices/platform/q4`).
    pub devpath: &'a str,
    /// `SUBSYSTEM`: the bus or class (`platform`, `devlink`).
    pub subsystem: &'a str,
}

impl Uevent<'_> {
    /// The device's `bus:name` key (the subsystem and the last path
    /// component), as the driver-model traits name devices.
    pub fn key(&self) -> String {
        let name = self.devpath.rsplit('/').next().unwrap_or("");
        format!("{}:{name}", self.subsystem)
    }
}

/// Parses one kernel uevent message; `None` unless it has a well-formed
/// `ACTION@DEVPATH` header whose `ACTION` and `DEVPATH` fields agree with
/// it, and a `SUBSYSTEM`. udev's re-broadcasts (`libudev` header, another
/// multicast group) are not kernel messages, and a synthetic event (one
/// with `SYNTH_UUID`, made by a write to a `uevent` file) is not news of
/// what the kernel did: both parse as `None`, as does a message that is
/// not UTF-8 (the wait then reads sysfs).
pub fn parse(msg: &[u8]) -> Option<Uevent<'_>> {
    let text = std::str::from_utf8(msg).ok()?;
    let mut parts = text.split('\0');
    let header = parts.next()?;
    let (action, devpath) = header.split_once('@')?;
    if action.is_empty() || !devpath.starts_with('/') || devpath.len() < 2 {
        return None;
    }
    let (mut act, mut path, mut subsystem) = (None, None, None);
    for field in parts.filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=')?;
        match k {
            "ACTION" => act = Some(v),
            "DEVPATH" => path = Some(v),
            "SUBSYSTEM" => subsystem = Some(v),
            // A synthetic event (a write to a device's `uevent` file,
            // `udevadm trigger`) says nothing about what the kernel did.
            "SYNTH_UUID" => return None,
            _ => {}
        }
    }
    let subsystem = subsystem.filter(|s| !s.is_empty() && !s.contains(['/', ':']))?;
    (act == Some(action) && path == Some(devpath)).then_some(Uevent {
        action,
        devpath,
        subsystem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(action: &str, path: &str, subsystem: &str) -> Vec<u8> {
        format!(
            "{action}@{path}\0ACTION={action}\0DEVPATH={path}\0SUBSYSTEM={subsystem}\0SEQNUM=7\0"
        )
        .into_bytes()
    }

    #[test]
    fn a_message_not_from_the_kernel_is_skipped() {
        use rustix::net::{netlink, AddressFamily, SendFlags, SocketType};
        // Where netlink cannot be had (a sandbox), there is nothing to
        // check: the wait then never uses messages at all.
        let Some(u) = Uevents::open() else {
            eprintln!("no uevent socket here; skipped");
            return;
        };
        let port = rustix::net::getsockname(&u.fd)
            .ok()
            .and_then(|a| netlink::SocketAddrNetlink::try_from(a).ok())
            .map(|a| a.pid())
            .unwrap();
        let Ok(forger) = rustix::net::socket(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            Some(netlink::KOBJECT_UEVENT),
        ) else {
            return;
        };
        let fake = msg("unbind", "/devices/platform/q4", "platform");
        // Sent straight to the listener's port: a process, not the kernel.
        if rustix::net::sendto(
            &forger,
            &fake,
            SendFlags::empty(),
            &netlink::SocketAddrNetlink::new(port, 0),
        )
        .is_err()
        {
            eprintln!("cannot send on netlink here; skipped");
            return;
        }
        // It arrived (the socket is readable) and was not handed on.
        assert!(u.readable(std::time::Duration::from_secs(5)));
        let mut handed = Vec::new();
        let n = u
            .drain(|m| {
                handed.push(m.to_vec());
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert!(
            handed.iter().all(|m| m != &fake),
            "a forged message was taken for the kernel's"
        );
        assert_eq!(n, handed.len());
    }

    #[test]
    fn kernel_messages_and_what_is_refused() {
        let m = msg("unbind", "/devices/platform/q4", "platform");
        let u = parse(&m).unwrap();
        assert_eq!(
            (u.action, u.devpath, u.subsystem),
            ("unbind", "/devices/platform/q4", "platform")
        );
        assert_eq!(u.key(), "platform:q4");
        let l = msg(
            "remove",
            "/devices/virtual/devlink/platform:a--platform:b",
            "devlink",
        );
        assert_eq!(parse(&l).unwrap().key(), "devlink:platform:a--platform:b");
        // A header the fields contradict, a missing subsystem, udev's
        // own format, junk.
        let lie = b"unbind@/devices/platform/q4\0ACTION=bind\0DEVPATH=/devices/platform/q4\0SUBSYSTEM=platform\0";
        assert_eq!(parse(lie), None);
        assert_eq!(
            parse(b"unbind@/devices/platform/q4\0ACTION=unbind\0DEVPATH=/devices/platform/q4\0"),
            None
        );
        assert_eq!(parse(b"libudev\0\xfe\xed\xca\xfe"), None);
        let mut synth = msg("unbind", "/devices/platform/q4", "platform");
        synth.extend_from_slice(b"SYNTH_UUID=0\0");
        assert_eq!(parse(&synth), None);
        assert_eq!(parse(b"@/x\0"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(
            parse(b"add@devices\0ACTION=add\0DEVPATH=devices\0SUBSYSTEM=x\0"),
            None
        );
    }

    proptest::proptest! {
        /// Whatever arrives on the socket, parsing it is a message or
        /// nothing, never a panic.
        #[test]
        fn the_parser_never_panics(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Some(u) = parse(&raw) {
                proptest::prop_assert!(u.devpath.starts_with('/'));
                let key = u.key();
                let (subsystem, name) = key.split_once(':').unwrap();
                proptest::prop_assert_eq!(subsystem, u.subsystem);
                let tail = format!("/{name}");
                proptest::prop_assert!(u.devpath.ends_with(&tail));
            }
        }

        #[test]
        fn well_formed_messages_parse_back(
            action in "[a-z]{1,8}",
            path in "(/[a-z0-9:.-]{1,12}){1,4}",
            subsystem in "[a-z]{1,10}",
        ) {
            let m = msg(&action, &path, &subsystem);
            let u = parse(&m).unwrap();
            proptest::prop_assert_eq!((u.action, u.devpath, u.subsystem), (&*action, &*path, &*subsystem));
        }
    }
}
