//! Progress reporting: every step of programming and reprogramming, on
//! every backend, is one [`Step`] reported to an [`Observer`] (for
//! progress bars, logs and fpgactl's JSON).

use crate::state::MgrState;

/// One step of a load or of a reprogram ([`crate::reprogram`]). The same
/// enum on every backend; a backend reports the steps it has (a live
/// kernel stages a file, the in-process manager holds its region).
///
/// With the `serde` feature a step serialises as an object tagged by
/// `"step"`: `{"step": "unbind", "device": "platform:eth0"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "step", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Step {
    /// The region is held (`fpga_region_get`).
    RegionHeld {
        /// `region<N>`.
        region: String,
    },
    /// The manager is locked (`fpga_mgr_lock`, or the cross-process lock
    /// file on a live kernel).
    ManagerLocked {
        /// `fpga<N>`.
        manager: String,
    },
    /// The image was staged where the kernel loads it from.
    Staged {
        /// The file, relative to the firmware directory.
        file: String,
        /// Its size.
        bytes: u64,
    },
    /// A dependent is being unbound (consumers first).
    Unbind {
        /// `bus:name`.
        device: String,
    },
    /// An overlay slot of the old image is being removed (last-first).
    OverlayRemoved {
        /// The configfs slot.
        slot: String,
    },
    /// Every link release the teardown queued has run, and the driver
    /// model has settled.
    WaitRemoval {
        /// Releases the teardown queued, where the backend counts them.
        releases: Option<u64>,
        /// How long the wait took, in milliseconds.
        waited_ms: u64,
    },
    /// Checked that the teardown left nothing behind.
    LeakCheck {
        /// Dependents checked.
        devices: usize,
        /// Whether reference counts were compared (the in-process core
        /// has them; a live kernel does not show them, and its check is
        /// that every link of the dependents is back at rest).
        references: bool,
    },
    /// `get_bridges` filled the list.
    BridgesGot {
        /// Bridges in the list.
        count: usize,
    },
    /// The bridges stopped traffic.
    BridgesDisabled,
    /// Bytes written so far during the load.
    Loading {
        /// Bytes written.
        written: u64,
        /// Bytes to write.
        total: u64,
    },
    /// The region's overlay was applied (the kernel programmed it).
    OverlayApplied {
        /// The configfs slot.
        slot: String,
    },
    /// The load finished.
    Loaded {
        /// The manager's state afterwards.
        state: MgrState,
    },
    /// The bridges let traffic through again.
    BridgesEnabled,
    /// The manager is unlocked and the region released.
    Released,
    /// A dependent was bound again (suppliers first).
    Bind {
        /// `bus:name`.
        device: String,
        /// Whether it bound.
        bound: bool,
        /// Why not, when it did not (deferred, failed, gone).
        why: Option<String>,
    },
}

/// Receives [`Step`]s.
pub trait Observer: Send + Sync {
    /// Called once per step, in order.
    fn step(&self, step: &Step);
}

impl<F: Fn(&Step) + Send + Sync> Observer for F {
    fn step(&self, step: &Step) {
        self(step)
    }
}

/// An observer that ignores everything.
pub fn ignore(_: &Step) {}
