//! Serde helpers for the `serde` feature: states and flags as the
//! kernel's strings.

use crate::state::{CompatId, ImageFlags, MgrState, MgrStatus};
use serde::{Serialize, Serializer};

impl Serialize for MgrState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sysfs())
    }
}

/// The status bits as the sysfs lines (`["reconfig CRC error"]`).
impl Serialize for MgrStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.sysfs();
        s.collect_seq(text.lines())
    }
}

/// As the sysfs `compat_id` (`0x…:0x…`), without the newline.
impl Serialize for CompatId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sysfs().trim_end())
    }
}

impl Serialize for ImageFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter_names().map(|(n, _)| n))
    }
}
