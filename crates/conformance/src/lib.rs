//! # conformance
//!
//! One suite, generic over the workspace's contracts, that every backend
//! must pass the same way: the driver-model contract
//! ([`DriverModel`](devlink_core::drive::DriverModel)), the FPGA view
//! ([`ReadFpga`](fpga_core::ReadFpga)) and the reprogram engine over the
//! backend's [`ImageLoader`](fpga_core::ImageLoader). A [`Rig`] is one
//! backend with the conformance board (`tests/scenarios/conformance-board.toml`)
//! on it; [`cases`] lists the cases; [`run`] runs them and
//! [`Matrix`] prints cases × backends, each cell `ok`, `FAIL` or
//! `n/a: why`.
//!
//! Rigs here: the simulator ([`SimRig`]), the live-kernel backend on a
//! fake kernel ([`SysfsRig`], a thread answering writes as the kernel
//! does), and the UIO simulator ([`UioRig`]: the in-process driver model
//! with FPGA ops over a simulated AXI HWICAP and PR decoupler, and a UIO
//! accelerator among the dependents). The real-kernel lab adds its own rig
//! (`lab/guest`), running the same cases on Linux.
//!
//! Not a library for users: it exists to prove the backends agree.

#![warn(missing_docs)]

mod cases;
pub mod fake_kernel;
mod matrix;
mod rig_sim;
mod rig_sysfs;
mod rig_uio;

pub use cases::{cases, Case, Miss};
pub use matrix::{run, Cell, Matrix};
pub use rig_sim::SimRig;
pub use rig_sysfs::SysfsRig;
pub use rig_uio::UioRig;

use async_trait::async_trait;
use devlink_core::drive::DriverModel;
use fpga_core::{FpgaView, ImageLoader};
use std::any::Any;

/// The conformance board, as a scenario.
pub const BOARD: &str = include_str!("../../../tests/scenarios/conformance-board.toml");

/// The board's device names (`bus:name`). The same on the in-process
/// backends and the fake kernel; a real kernel's lab board may have to
/// differ where a bus is missing (the lab kernel has no I2C: its sensor is
/// a platform device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The device the region hangs off (its users hang off or link to it).
    pub region_host: String,
    /// The manager's host.
    pub manager_host: String,
    /// A child of the region host and its consumer (`PM_RUNTIME`).
    pub dma: String,
    /// A child of the region host and its consumer.
    pub uart: String,
    /// A child of the region host, its consumer, and `dma`'s consumer
    /// through an `AUTOREMOVE_SUPPLIER` link.
    pub eth: String,
    /// A child of the region host and its consumer (a UIO device on the
    /// UIO backend).
    pub accel: String,
    /// `uart`'s consumer through a stateless link.
    pub sensor: String,
    /// The region host's consumer through a sync-state-only link; it has
    /// no driver (the kernel drops such a link once its consumer binds).
    pub monitor: String,
    /// A device with no driver.
    pub ghost: String,
    /// `ghost`'s consumer: waits for it.
    pub late: String,
}

impl Names {
    /// The names of `tests/scenarios/conformance-board.toml`.
    pub fn standard() -> Names {
        let p = |n: &str| format!("platform:{n}");
        Names {
            region_host: p("soc:fpga-region0"),
            manager_host: p("soc:fpga-mgr"),
            dma: p("dma0"),
            uart: p("uart0"),
            eth: p("eth0"),
            accel: p("accel0"),
            sensor: "i2c:0-0048".into(),
            monitor: p("mon0"),
            ghost: p("ghost0"),
            late: p("late0"),
        }
    }

    /// The region's users: the region host's dependents (any order where
    /// `dma` precedes `eth` and `uart` precedes `sensor` is suppliers
    /// first).
    pub fn users(&self) -> Vec<String> {
        vec![
            self.dma.clone(),
            self.uart.clone(),
            self.eth.clone(),
            self.accel.clone(),
            self.sensor.clone(),
        ]
    }
}

/// Why a case does not apply to a backend.
pub type NotApplicable = String;

/// One backend with the conformance board on it. Each case gets a fresh
/// rig.
#[async_trait(?Send)]
pub trait Rig {
    /// The backend's driver model.
    type Model: DriverModel;
    /// The backend's way an image gets in.
    type Loader: ImageLoader;

    /// The backend's name in the matrix.
    fn name(&self) -> &'static str;

    /// The board's device names on this backend.
    fn names(&self) -> &Names;

    /// The driver model.
    fn model(&self) -> &Self::Model;

    /// Whether the backend has FPGA classes at all (a stock distribution
    /// kernel built without `CONFIG_FPGA` has none: every FPGA case is
    /// then not applicable, with this reason).
    fn fpga_support(&self) -> Result<(), NotApplicable> {
        Ok(())
    }

    /// The FPGA classes.
    async fn fpga(&self) -> Result<FpgaView, String>;

    /// A loader of the region with an image the backend loads (`good`),
    /// or one whose load fails while it writes (the FPGA is touched).
    fn region_loader(&self, good: bool) -> Self::Loader;

    /// A loader straight through the manager (no region).
    fn manager_loader(&self, good: bool) -> Self::Loader;

    /// Another holder (another process, where the backend has them) takes
    /// the manager's lock until the guard drops.
    fn hold_manager(&self) -> Result<Box<dyn Any>, NotApplicable>;

    /// The driver of `device` keeps a device reference when it is unbound
    /// (a leak the engine must catch before it programs).
    fn leak_on_remove(&self, device: &str) -> Result<(), NotApplicable>;

    /// Something pending that a removal wait must time out on, until the
    /// guard drops; the string names what the timeout must mention.
    fn stall_removal(&self) -> Result<(Box<dyn Any>, String), NotApplicable>;

    /// Files the backend staged and did not remove (none, ever, is the
    /// rule).
    fn leftovers(&self) -> Vec<String>;
}
