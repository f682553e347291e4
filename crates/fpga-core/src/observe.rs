//! Progress reporting: every step of programming and reprogramming is
//! reported to an [`Observer`] (for progress bars and logs).

/// One step of [`crate::FpgaRegion::program`] or [`crate::reprogram`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// A dependent is being unbound (consumers first).
    Unbind {
        /// `bus:name`.
        device: String,
    },
    /// Waiting for link releases queued by the teardown.
    WaitRemoval {
        /// Releases the teardown queued.
        queued: u64,
    },
    /// Checked that the teardown left no extra device reference.
    LeakCheck {
        /// Devices checked.
        devices: usize,
    },
    /// The region is held (`fpga_region_get`).
    RegionHeld,
    /// The manager is locked.
    ManagerLocked,
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
    /// The load finished.
    Loaded,
    /// The bridges let traffic through again.
    BridgesEnabled,
    /// The manager is unlocked and the region released.
    Released,
    /// A dependent was bound again (suppliers first).
    Bind {
        /// `bus:name`.
        device: String,
        /// Whether it bound (a deferral or failure leaves it unbound).
        bound: bool,
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
pub(crate) fn nothing(_: &Step) {}
