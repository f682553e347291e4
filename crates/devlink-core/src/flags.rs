//! Link flags, link states and device driver-presence states, with the
//! kernel's values and sysfs strings (spec `device-links.md` §2.1, §3).

use std::fmt;

bitflags::bitflags! {
    /// The `DL_FLAG_*` bits of a device link (spec §2.1).
    ///
    /// Values are the kernel's, so a flag word read from a kernel trace or
    /// written by a test module means the same thing here.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LinkFlags: u32 {
        /// `DL_FLAG_STATELESS`: the caller owns a reference; no state tracking.
        const STATELESS = 0x001;
        /// `DL_FLAG_AUTOREMOVE_CONSUMER`: drop when the consumer unbinds or fails to probe.
        const AUTOREMOVE_CONSUMER = 0x002;
        /// `DL_FLAG_PM_RUNTIME`: runtime PM follows the link.
        const PM_RUNTIME = 0x004;
        /// `DL_FLAG_RPM_ACTIVE`: resume the supplier at add time and keep a usage reference.
        const RPM_ACTIVE = 0x008;
        /// `DL_FLAG_AUTOREMOVE_SUPPLIER`: drop when the supplier unbinds.
        const AUTOREMOVE_SUPPLIER = 0x010;
        /// `DL_FLAG_AUTOPROBE_CONSUMER`: re-probe the consumer when the supplier binds.
        const AUTOPROBE_CONSUMER = 0x020;
        /// `DL_FLAG_MANAGED`: internal; the core tracks driver presence. Callers may not pass it.
        const MANAGED = 0x040;
        /// `DL_FLAG_SYNC_STATE_ONLY`: the link only delays the supplier's `sync_state()`.
        const SYNC_STATE_ONLY = 0x080;
        /// `DL_FLAG_INFERRED`: inferred from firmware data (fw_devlink).
        const INFERRED = 0x100;
        /// `DL_FLAG_CYCLE`: fw_devlink found the link in a dependency cycle.
        const CYCLE = 0x200;
    }
}

impl LinkFlags {
    /// Flags only valid on managed links (`DL_MANAGED_LINK_FLAGS`, `0x3B2`).
    pub const MANAGED_ONLY: LinkFlags = LinkFlags::from_bits_retain(0x3B2);
    /// Flags [`crate::DriverCore::link_add`] accepts (`DL_ADD_VALID_FLAGS`, `0x3BF`).
    pub const ADD_VALID: LinkFlags = LinkFlags::from_bits_retain(0x3BF);
    /// Marker flags ignored by the sync-state-only predicate (`DL_MARKER_FLAGS`, `0x340`).
    pub const MARKERS: LinkFlags = LinkFlags::from_bits_retain(0x340);

    /// The kernel's `device_link_flag_is_sync_state_only()`: true when the
    /// flags are exactly `SYNC_STATE_ONLY` once the marker bits are ignored.
    pub fn is_sync_state_only(self) -> bool {
        (self.bits() & !Self::MARKERS.bits()) == Self::SYNC_STATE_ONLY.bits()
    }

    /// The sysfs `auto_remove_on` string, without the newline (spec §7.2).
    pub fn auto_remove_on(self) -> &'static str {
        if self.contains(LinkFlags::AUTOREMOVE_SUPPLIER) {
            "supplier unbind"
        } else if self.contains(LinkFlags::AUTOREMOVE_CONSUMER) {
            "consumer unbind"
        } else {
            "never"
        }
    }
}

/// The state of a device link (`enum device_link_state`, spec §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// `DL_STATE_NONE`: driver presence not tracked.
    None,
    /// `DL_STATE_DORMANT`: the supplier's driver is absent.
    Dormant,
    /// `DL_STATE_AVAILABLE`: the supplier is bound, the consumer is not.
    Available,
    /// `DL_STATE_CONSUMER_PROBE`: the consumer is probing.
    ConsumerProbe,
    /// `DL_STATE_ACTIVE`: both are bound.
    Active,
    /// `DL_STATE_SUPPLIER_UNBIND`: the supplier's driver is going away.
    SupplierUnbind,
}

impl LinkState {
    /// Every state, in kernel value order (`NONE` = −1 first).
    pub const ALL: [LinkState; 6] = [
        LinkState::None,
        LinkState::Dormant,
        LinkState::Available,
        LinkState::ConsumerProbe,
        LinkState::Active,
        LinkState::SupplierUnbind,
    ];

    /// The kernel's numeric value.
    pub fn value(self) -> i32 {
        match self {
            LinkState::None => -1,
            LinkState::Dormant => 0,
            LinkState::Available => 1,
            LinkState::ConsumerProbe => 2,
            LinkState::Active => 3,
            LinkState::SupplierUnbind => 4,
        }
    }

    /// The sysfs `status` string, without the newline (`status_show`).
    pub fn sysfs_status(self) -> &'static str {
        match self {
            LinkState::None => "not tracked",
            LinkState::Dormant => "dormant",
            LinkState::Available => "available",
            LinkState::ConsumerProbe => "consumer probing",
            LinkState::Active => "active",
            LinkState::SupplierUnbind => "supplier unbinding",
        }
    }

    /// Parses a sysfs `status` string (trailing newline allowed). `unknown`
    /// and anything else yield `None`: the kernel never shows `unknown` for a
    /// live link, so a reader must treat it as an error.
    pub fn from_sysfs(text: &str) -> Option<LinkState> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        LinkState::ALL
            .into_iter()
            .find(|s| s.sysfs_status() == text)
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sysfs_status())
    }
}

/// A device's driver-presence state (`enum dl_dev_state`, spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DevState {
    /// `DL_DEV_NO_DRIVER`.
    NoDriver,
    /// `DL_DEV_PROBING`.
    Probing,
    /// `DL_DEV_DRIVER_BOUND`.
    DriverBound,
    /// `DL_DEV_UNBINDING`.
    Unbinding,
}

impl DevState {
    /// Every state, in kernel value order.
    pub const ALL: [DevState; 4] = [
        DevState::NoDriver,
        DevState::Probing,
        DevState::DriverBound,
        DevState::Unbinding,
    ];

    /// The kernel's numeric value.
    pub fn value(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for DevState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DevState::NoDriver => "no driver",
            DevState::Probing => "probing",
            DevState::DriverBound => "bound",
            DevState::Unbinding => "unbinding",
        })
    }
}

/// The initial state of a managed link (`device_link_init_status`, spec §3.3).
pub fn initial_link_state(supplier: DevState, consumer: DevState) -> LinkState {
    use DevState::*;
    match (supplier, consumer) {
        (NoDriver, _) => LinkState::Dormant,
        (Probing, Probing) => LinkState::ConsumerProbe,
        (Probing, _) => LinkState::Dormant,
        (DriverBound, Probing) => LinkState::ConsumerProbe,
        (DriverBound, DriverBound) => LinkState::Active,
        (DriverBound, NoDriver | Unbinding) => LinkState::Available,
        (Unbinding, _) => LinkState::SupplierUnbind,
    }
}

/// How fw_devlink turns firmware supplier hints into device links
/// (`fw_devlink=` on the kernel command line, spec §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FwDevlinkMode {
    /// No links from firmware data.
    Off,
    /// `INFERRED|SYNC_STATE_ONLY` links; never gates probing.
    Permissive,
    /// `INFERRED|AUTOPROBE_CONSUMER` links; gates probing.
    On,
    /// `INFERRED|AUTOPROBE_CONSUMER|PM_RUNTIME` links (the kernel's default).
    #[default]
    Rpm,
}

impl FwDevlinkMode {
    /// The flags fw_devlink passes to `device_link_add` in this mode.
    pub fn link_flags(self) -> LinkFlags {
        match self {
            FwDevlinkMode::Off => LinkFlags::empty(),
            FwDevlinkMode::Permissive => LinkFlags::INFERRED | LinkFlags::SYNC_STATE_ONLY,
            FwDevlinkMode::On => LinkFlags::INFERRED | LinkFlags::AUTOPROBE_CONSUMER,
            FwDevlinkMode::Rpm => {
                LinkFlags::INFERRED | LinkFlags::AUTOPROBE_CONSUMER | LinkFlags::PM_RUNTIME
            }
        }
    }

    /// Whether this mode is stricter than `permissive` (so it creates
    /// `waiting_for_supplier` and gates probes on missing suppliers).
    pub fn is_strict(self) -> bool {
        matches!(self, FwDevlinkMode::On | FwDevlinkMode::Rpm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_kernel() {
        assert_eq!(LinkFlags::MANAGED_ONLY.bits(), 0x3B2);
        assert_eq!(LinkFlags::ADD_VALID.bits(), 0x3BF);
        assert_eq!(LinkFlags::MARKERS.bits(), 0x340);
        assert!(!LinkFlags::ADD_VALID.contains(LinkFlags::MANAGED));
    }

    #[test]
    fn sync_state_only_predicate_ignores_markers() {
        let sso = LinkFlags::SYNC_STATE_ONLY;
        assert!(sso.is_sync_state_only());
        assert!(
            (sso | LinkFlags::MANAGED | LinkFlags::INFERRED | LinkFlags::CYCLE)
                .is_sync_state_only()
        );
        assert!(!(sso | LinkFlags::STATELESS).is_sync_state_only());
        assert!(!LinkFlags::MANAGED.is_sync_state_only());
    }

    #[test]
    fn status_strings_round_trip() {
        for s in LinkState::ALL {
            assert_eq!(
                LinkState::from_sysfs(&format!("{}\n", s.sysfs_status())),
                Some(s)
            );
        }
        assert_eq!(LinkState::from_sysfs("unknown\n"), None);
    }
}
