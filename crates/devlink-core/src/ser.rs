//! Serde helpers for the `serde` feature: durations as milliseconds,
//! states as their sysfs strings.

use crate::flags::{DevState, LinkFlags, LinkState};
use serde::{Serialize, Serializer};

/// A duration as whole milliseconds.
pub(crate) fn millis<S: Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(crate::drive::duration_ms(*d))
}

impl Serialize for LinkState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sysfs_status())
    }
}

impl Serialize for DevState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Link flags as the list of their kernel names (`["MANAGED", "PM_RUNTIME"]`).
impl Serialize for LinkFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter_names().map(|(n, _)| n))
    }
}
