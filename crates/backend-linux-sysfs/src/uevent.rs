//! The kernel's uevent messages, as a wait reads them to learn that an
//! unbind has finished without re-reading sysfs.
//!
//! A message from the kernel (`NETLINK_KOBJECT_UEVENT`, multicast group 1)
//! is a header `ACTION@DEVPATH` and then `KEY=VALUE` fields, each ended by
//! a NUL: `unbind@/devices/platform/q4\0ACTION=unbind\0DEVPATH=/devices/
//! platform/q4\0SUBSYSTEM=platform\0SEQNUM=1021\0`. The kernel sends
//! `unbind` at the very end of `__device_release_driver`, after
//! `device_links_driver_cleanup` has put the device's links at rest, so a
//! device's `unbind` message proves what a settle wait checks for it.
//!
//! Anything malformed is `None`: the parser never panics, whatever the
//! bytes (a property test and `cargo xtask fuzz`).

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
/// multicast group) are not kernel messages and parse as `None`.
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
            "{action}@{path}\0ACTION={action}\0DEVPATH={path}\0SUBSYSTEM={subsystem}\0DRIVER=lab\0SEQNUM=7\0"
        )
        .into_bytes()
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
                proptest::prop_assert!(!u.key().is_empty());
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
