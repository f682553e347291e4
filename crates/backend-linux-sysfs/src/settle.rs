//! The settle wait of [`Kernel`]: after a teardown, until the kernel has
//! put the unbound devices' links at rest and removed what went away.
//!
//! With a [`WaitRemoval::removal_mark`] taken before the teardown, the
//! kernel's own `unbind` messages settle the unbound devices with nothing
//! read back (the kernel sends one at the end of `__device_release_driver`,
//! after `device_links_driver_cleanup`: in the engine's consumers-first
//! sequence every link of a device it unbound is then at rest, while a
//! transition someone else has under way at that moment is not seen);
//! otherwise, for removed devices,
//! or when a message is missing, sysfs is read, only what is pending. A
//! wait that finds something pending parks on the uevent socket (or its
//! timer, where there is no socket) and looks again when woken.

use crate::attr;
use crate::drive::Kernel;
use crate::error::{Result, SysfsError};
use crate::io::Dir;
use async_trait::async_trait;
use devlink_core::drive::{Settle, WaitRemoval, Waited};
use devlink_core::LinkState;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Marks {
    /// Newest last; at most [`MAX_MARKS`] (a mark whose wait never comes,
    /// a teardown that failed, is dropped with its socket once newer
    /// ones push it out).
    open: Vec<(u64, crate::uevent::Uevents)>,
}

impl Marks {
    /// Sockets kept.
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }
}

/// Uevent sockets kept for settle waits to come.
const MAX_MARKS: usize = 4;

/// The longest look-to-look interval of a wait woken by uevents.
const WAKE_MAX: Duration = Duration::from_millis(20);

impl Kernel {
    fn parking(&self) {
        if let Some(h) = &self.park {
            h();
        }
    }

    /// Polls `check` until it reports nothing pending or `timeout` passes.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<Vec<String>>,
    ) -> Result<Duration> {
        let start = Instant::now();
        let mut poll = self.poll.min(Duration::from_millis(1));
        // Once something is pending, the kernel's uevents wake the wait:
        // the changes waited for (an unbind, a bind, a device or a link
        // going) each end with one, so the timer between looks can grow
        // further; it still bounds a change that sends none.
        let mut uevents: Option<Option<crate::uevent::Uevents>> = None;
        let mut woken = false;
        loop {
            let pending = check()?;
            if pending.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(SysfsError::Timeout {
                    what: what.to_string(),
                    waited_ms: devlink_core::drive::duration_ms(start.elapsed()),
                    pending,
                });
            }
            let left = timeout.saturating_sub(start.elapsed());
            if uevents.is_some() {
                self.parking();
            }
            match &uevents {
                // Opened after a look found something pending, then looked
                // again at once: nothing announced in between is missed.
                None => uevents = Some(crate::uevent::Uevents::open()),
                Some(Some(u)) => {
                    // The timer grows past the plain interval only once
                    // the socket has shown it delivers (a kernel without
                    // uevents for this, or a test's fake, keeps the
                    // plain interval).
                    if u.wait(poll.min(left)) {
                        woken = true;
                    }
                    let cap = if woken {
                        WAKE_MAX
                    } else {
                        Duration::from_millis(1)
                    };
                    poll = (poll * 2).min(self.poll.max(cap));
                }
                Some(None) => {
                    std::thread::sleep(poll.min(left));
                    poll = (poll * 2).min(self.poll.max(Duration::from_millis(1)));
                }
            }
        }
    }

    /// What is not yet as `settle` wants it, one phrase per item, from the
    /// pending devices' own entries only.
    fn pending(&self, sys: &Dir, settle: &Settle) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for key in &settle.gone {
            if let Some((bus, name)) = key.split_once(':') {
                if sys.symlink(format!("bus/{bus}/devices/{name}"))?.is_some()
                    || sys.symlink(format!("class/{bus}/{name}"))?.is_some()
                {
                    out.push(format!("device {key} still present"));
                }
            }
        }
        if !settle.gone.is_empty() {
            if let Some(class) = sys.sub_opt("class/devlink")? {
                for name in class.entries()? {
                    let touches = settle.gone.iter().any(|g| {
                        name.starts_with(&format!("{g}--")) || name.ends_with(&format!("--{g}"))
                    });
                    if touches {
                        out.push(format!("link {name} still present"));
                    }
                }
            }
        }
        // A link between two of the devices shows in both their
        // directories: its `status` is read once, and judged from both
        // sides.
        let mut seen: std::collections::HashMap<(String, String), Option<LinkState>> =
            Default::default();
        for key in &settle.unbound {
            let Ok(d) = self.locate(sys, key) else {
                continue;
            };
            let Some(dir) = sys.sub_opt(&d.path)? else {
                continue;
            };
            for e in dir.entries()? {
                let consumer_side = e.starts_with("supplier:");
                if !consumer_side && !e.starts_with("consumer:") {
                    continue;
                }
                let other = &e[e.find(':').map_or(0, |i| i + 1)..];
                let ends = if consumer_side {
                    (other.to_string(), key.clone())
                } else {
                    (key.clone(), other.to_string())
                };
                let status = match seen.get(&ends) {
                    Some(s) => *s,
                    None => {
                        let s = match dir.read_opt(format!("{e}/status"))? {
                            Some(t) => {
                                Some(attr::link_status(&dir.path().join(&e).join("status"), &t)?)
                            }
                            None => None,
                        };
                        seen.insert(ends, s);
                        s
                    }
                };
                let Some(status) = status else {
                    continue;
                };
                let at_rest = if consumer_side {
                    matches!(
                        status,
                        LinkState::Available | LinkState::Dormant | LinkState::None
                    )
                } else {
                    status != LinkState::SupplierUnbind
                };
                if !at_rest {
                    out.push(format!("link {e} of {key} is {status}, not at rest"));
                }
            }
        }
        Ok(out)
    }

    /// Links in a transition anywhere (`consumer probing`, `supplier
    /// unbinding`): one `status` read per link.
    fn in_transition(&self, sys: &Dir) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let Some(class) = sys.sub_opt("class/devlink")? else {
            return Ok(out);
        };
        for name in class.entries()? {
            let Some(t) = class.read_opt(format!("{name}/status"))? else {
                continue;
            };
            let status = attr::link_status(&class.path().join(&name).join("status"), &t)?;
            if matches!(status, LinkState::ConsumerProbe | LinkState::SupplierUnbind) {
                out.push(format!("link {name} is {status}"));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl WaitRemoval for Kernel {
    /// Opens the kernel's uevent socket (where it can be had), so that the
    /// settle wait after the teardown can learn from the kernel's own
    /// `unbind` messages that each unbind has finished, links included,
    /// instead of reading their links back. `None` where there is no
    /// socket: the wait then reads sysfs.
    fn removal_mark(&self) -> Option<u64> {
        let socket = crate::uevent::Uevents::open_for_teardown()?;
        // Unique in the process: a mark from another `Kernel` finds no
        // socket here (and the wait reads sysfs) instead of a wrong one.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut m = self.state.marks.lock().unwrap_or_else(|p| p.into_inner());
        m.open.push((id, socket));
        if m.open.len() > MAX_MARKS {
            m.open.remove(0);
        }
        Some(id)
    }

    /// Waits until `settle` holds and no link is in a transition. The
    /// kernel's own barrier (`device_link_wait_removal`, run by overlay
    /// removal since 6.9) is not reachable from user space. With a
    /// [`removal_mark`](Self::removal_mark) from before the teardown, a
    /// kernel `unbind` message for every unbound device settles them
    /// without a read (the kernel sends it once the device's unbind has
    /// updated its links; a supplier someone else is unbinding at that
    /// moment is not seen); otherwise, or for removed devices, what sysfs
    /// shows is checked, re-reading only what is pending.
    async fn wait_removal(&self, settle: &Settle, timeout: Duration) -> Result<Waited> {
        let start = Instant::now();
        let socket = settle.since.and_then(|id| {
            let mut m = self.state.marks.lock().unwrap_or_else(|p| p.into_inner());
            let at = m.open.iter().position(|(i, _)| *i == id)?;
            Some(m.open.remove(at).1)
        });
        if let Some(socket) = socket {
            if settle.gone.is_empty() && !settle.unbound.is_empty() {
                if let Some(waited) = self.settle_by_uevents(&socket, settle, start, timeout)? {
                    return Ok(waited);
                }
            }
        }
        let sys = self.sys()?;
        // A wait for named devices looks at their links only; the whole
        // class is read only for a wait for the kernel to be quiet (no
        // device named), so an unrelated link in transition elsewhere
        // never holds up a reprogram, and the wait costs what the
        // teardown touched, not what the machine has.
        let targeted = !settle.unbound.is_empty() || !settle.gone.is_empty();
        // What a uevent wait that had to give up used is not given again.
        let left = timeout.saturating_sub(start.elapsed());
        self.wait_until("waiting for the kernel to settle", left, || {
            let p = self.pending(&sys, settle)?;
            if p.is_empty() && !targeted {
                return self.in_transition(&sys);
            }
            Ok(p)
        })?;
        Ok(Waited {
            releases: None,
            waited: start.elapsed(),
        })
    }
}

impl Kernel {
    /// The settle wait of devices this process unbound after `socket`
    /// opened: done once the kernel announced each one's `unbind`.
    /// Sysfs is read only where the messages cannot decide: at the start
    /// (a device whose uevents are suppressed never announces) and after
    /// a quiet stretch of [`WAKE_MAX`]. `None`: the socket lost messages,
    /// read sysfs instead.
    fn settle_by_uevents(
        &self,
        socket: &crate::uevent::Uevents,
        settle: &Settle,
        start: Instant,
        timeout: Duration,
    ) -> Result<Option<Waited>> {
        let done = || Waited {
            releases: None,
            waited: start.elapsed(),
        };
        let wanted: std::collections::HashSet<&str> =
            settle.unbound.iter().map(String::as_str).collect();
        let mut seen = std::collections::HashSet::new();
        let mut look = true;
        let mut looked = start;
        // As in `wait_until`: the quiet stretch grows past the plain
        // interval only once the socket has shown it delivers.
        let (mut quiet, mut delivers) = (Duration::from_millis(1), false);
        loop {
            // Read until every device is announced, not further.
            let drained = socket.drain(|m| {
                if note_unbind(m, &wanted, &mut seen) {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            });
            match drained {
                Err(crate::uevent::Lost) => return Ok(None),
                Ok(n) => delivers |= n > 0,
            }
            if seen.len() == wanted.len() {
                return Ok(Some(done()));
            }
            // Sysfs decides after a quiet stretch, and at least every
            // `WAKE_MAX` however many unrelated messages keep coming.
            if look || looked.elapsed() >= WAKE_MAX || start.elapsed() >= timeout {
                looked = Instant::now();
                let sys = self.sys()?;
                let pending = self.pending(&sys, settle)?;
                if pending.is_empty() {
                    return Ok(Some(done()));
                }
                if start.elapsed() >= timeout {
                    return Err(SysfsError::Timeout {
                        what: "waiting for the kernel to settle".into(),
                        waited_ms: devlink_core::drive::duration_ms(start.elapsed()),
                        pending,
                    });
                }
            }
            let left = timeout.saturating_sub(start.elapsed());
            self.parking();
            // A message: read it before looking at sysfs again.
            look = !socket.readable(left.min(quiet));
            let cap = if delivers {
                WAKE_MAX
            } else {
                self.poll.max(Duration::from_millis(1))
            };
            quiet = (quiet * 2).min(cap);
        }
    }
}

/// Notes in `seen` which of `wanted` (`bus:name`) the kernel message `msg`
/// announces the `unbind` of; whether all of them are now seen.
fn note_unbind<'a>(
    msg: &[u8],
    wanted: &std::collections::HashSet<&'a str>,
    seen: &mut std::collections::HashSet<&'a str>,
) -> bool {
    if let Some(u) = crate::uevent::parse(msg).filter(|u| u.action == "unbind") {
        if let Some(w) = wanted.get(u.key().as_str()) {
            seen.insert(*w);
        }
    }
    seen.len() == wanted.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::SysfsRoot;
    use std::sync::Arc;

    /// A tree under `d` with a consumer `q4` whose supplier link reads
    /// `consumer probing` (pending for a settle wait on `q4`).
    fn pending_tree(d: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::fs::symlink;
        let sys = d.join("sys");
        std::fs::create_dir_all(sys.join("bus/platform/devices")).unwrap();
        let link = sys.join("devices/platform/q4/supplier:platform:host");
        std::fs::create_dir_all(&link).unwrap();
        std::fs::write(link.join("status"), "consumer probing\n").unwrap();
        symlink(
            "../../../devices/platform/q4",
            sys.join("bus/platform/devices/q4"),
        )
        .unwrap();
        link.join("status")
    }

    #[test]
    fn a_pending_settle_parks_and_the_park_hook_is_the_handshake() {
        let d = tempfile::tempdir().unwrap();
        let status = pending_tree(d.path());
        let root = SysfsRoot::at(d.path().join("sys"));
        let parks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let k = {
            let (parks, status) = (Arc::clone(&parks), status.clone());
            Kernel::new(root).with_park_hook(move || {
                // The first park puts the link at rest.
                if parks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    std::fs::write(&status, "available\n").unwrap();
                }
            })
        };
        // With and without a mark (the socket, where it can be had, has no
        // message for this tree's device: sysfs decides).
        for since in [None, k.removal_mark()] {
            std::fs::write(&status, "consumer probing\n").unwrap();
            parks.store(0, std::sync::atomic::Ordering::SeqCst);
            let settle = Settle {
                unbound: vec!["platform:q4".into()],
                since,
                ..Settle::default()
            };
            futures::executor::block_on(k.wait_removal(&settle, Duration::from_secs(10))).unwrap();
            assert!(
                parks.load(std::sync::atomic::Ordering::SeqCst) >= 1,
                "{since:?}"
            );
        }
        // Nothing pending: no park.
        parks.store(5, std::sync::atomic::Ordering::SeqCst);
        let settle = Settle {
            unbound: vec!["platform:q4".into()],
            ..Settle::default()
        };
        futures::executor::block_on(k.wait_removal(&settle, Duration::from_secs(10))).unwrap();
        assert_eq!(parks.load(std::sync::atomic::Ordering::SeqCst), 5);
        // Still pending at the deadline: a timeout naming the link.
        std::fs::write(&status, "consumer probing\n").unwrap();
        let quiet = Kernel::new(SysfsRoot::at(d.path().join("sys")));
        let e = futures::executor::block_on(quiet.wait_removal(&settle, Duration::from_millis(30)))
            .unwrap_err();
        assert!(e.to_string().contains("supplier:platform:host"), "{e}");
    }

    #[test]
    fn only_unbind_messages_of_the_devices_waited_for_count() {
        let m = |action: &str, name: &str| {
            format!(
                "{action}@/devices/platform/{name}\0ACTION={action}\0DEVPATH=/devices/platform/{name}\0SUBSYSTEM=platform\0SEQNUM=1\0"
            )
            .into_bytes()
        };
        // A key listed twice is one device.
        let wanted: std::collections::HashSet<&str> = ["platform:q4", "platform:k1", "platform:q4"]
            .into_iter()
            .collect();
        let mut seen = std::collections::HashSet::new();
        for msg in [
            m("unbind", "q4"),
            m("bind", "k1"),
            b"junk".to_vec(),
            m("unbind", "q3"),
            m("remove", "k1"),
        ] {
            assert!(!note_unbind(&msg, &wanted, &mut seen));
        }
        // A second message for the same device counts once.
        assert!(!note_unbind(&m("unbind", "q4"), &wanted, &mut seen));
        assert_eq!(seen.len(), 1);
        assert!(note_unbind(&m("unbind", "k1"), &wanted, &mut seen));
    }
}
