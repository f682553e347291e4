//! # fpga-core
//!
//! The Linux FPGA subsystem in user space, and the one reprogram engine
//! every backend runs.
//!
//! ## The engine
//!
//! [`reprogram`] is the safe sequence, written once: hold the region and
//! lock the manager (a busy target is refused before anything is touched),
//! take the region's users down consumers first, wait until every link
//! release has run, check that nothing leaked, load and verify, bring the
//! users back suppliers first. It is generic over two things:
//!
//! - the driver model, devlink-core's contract
//!   ([`DriverModel`](devlink_core::drive::DriverModel)): the in-process
//!   [`DriverCore`](devlink_core::DriverCore) or the running kernel;
//! - an [`ImageLoader`], how the image gets in: [`RegionLoader`] and
//!   [`ManagerLoader`] for a manager in this process (the simulator, the
//!   AXI HWICAP), the Xilinx `firmware` attribute or a configfs overlay on
//!   a live kernel (`backend-linux-sysfs`).
//!
//! Each step is a [`Step`] given to an [`Observer`] as it happens; a
//! failure is a [`ReprogramError`] that says at which [`Stage`], and
//! carries the users it left unbound as data. [`program`] is the plain
//! load (it refuses a target whose users are bound). [`ReadFpga`] reads
//! the managers, bridges and regions as an [`FpgaView`], on every backend.
//!
//! ```
//! use devlink_core::drive::DriverModel;
//! use fpga_core::{ImageLoader, LoadTarget, ReadFpga, ReprogramOptions, Step};
//!
//! /// Reprograms the first region of any backend.
//! async fn first_region<M: DriverModel, F: ReadFpga, L: ImageLoader>(
//!     model: &M,
//!     fpga: &F,
//!     loader_for: impl FnOnce(LoadTarget) -> L,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     let view = fpga.fpga_view().await?;
//!     let region = view.regions.first().ok_or("no region")?;
//!     let target = view.region_target(region).ok_or("manager unknown")?;
//!     let show = |s: &Step| println!("{s:?}");
//!     let report =
//!         fpga_core::reprogram(model, &loader_for(target), &ReprogramOptions::default(), &show)
//!             .await?;
//!     println!("{} users back; the manager is {}", report.rebound.bound.len(), report.loaded.state);
//!     Ok(())
//! }
//! ```
//!
//! `examples/reprogram.rs` in the workspace runs this on the simulator and
//! on a kernel.
//!
//! ## The subsystem
//!
//! Managers load bitstreams through a backend's low-level ops
//! ([`FpgaManagerOps`]), bridges gate traffic while a region is
//! reprogrammed, and regions tie them together, with the kernel's states,
//! load sequence, sysfs strings and unwinding order (`spec/fpga.md`).
//! Managers, bridges and regions are class devices in a `devlink-core`
//! [`DriverCore`](devlink_core::DriverCore), owned by a
//! [`Module`](devlink_core::Module): a `get` pins the owner, and once the
//! owner is going, new gets fail cleanly with `ENODEV` and no backend op is
//! called after unregister (the §4.3 protocol that closes the race mainline
//! leaves open).
//!
//! Who calls it: backends register through a [`Registrar`] (the
//! `THIS_MODULE` counterpart); users get, lock and program through
//! [`Fpga`]. It never names a backend and spawns no tasks.
//!
//! ## Writing a backend
//!
//! A manager is a type with the ops it has; [`manager_ops`] derives which
//! those are, every other op keeps the kernel's default. Each op gets a
//! [`ManagerCtx`] (name, id, parent, the state it runs in); the value
//! itself is the private data. This fake, in the style of the kernel's
//! own test fakes, counts what it was sent and checks its state:
//!
//! ```
//! use fpga_core::{Fpga, ImageInfo, ManagerCtx, ManagerInfo, MgrState, OpError};
//! use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
//!
//! #[derive(Default)]
//! struct Stats { bytes: AtomicUsize }       // the private data
//!
//! #[fpga_core::manager_ops]
//! impl fpga_core::FpgaManagerOps for Stats {
//!     async fn write(&self, mgr: &ManagerCtx, buf: &[u8]) -> Result<(), OpError> {
//!         assert_eq!(mgr.state(), MgrState::Write, "{} written out of order", mgr.name());
//!         self.bytes.fetch_add(buf.len(), Ordering::Relaxed);
//!         Ok(())
//!     }
//! }
//!
//! # futures::executor::block_on(async {
//! let core = devlink_core::DriverCore::new().unwrap();
//! let parent = core.device("soc:fpga").bus("platform").create();
//! core.device_add(&parent).await.unwrap();
//! let fpga = Fpga::new(&core);
//! let stats = Arc::new(Stats::default());
//! let mgr = fpga.registrar_builtin()
//!     .devm_register_manager(&parent, ManagerInfo::new("fake", stats.clone()))
//!     .await.unwrap();
//! assert_eq!(mgr.caps(), fpga_core::MgrCaps::WRITE);
//!
//! let held = fpga.mgr_get(&parent).unwrap();
//! held.lock().unwrap().load(&mut ImageInfo::from_buffer(vec![0; 16])).await.unwrap();
//! assert_eq!(stats.bytes.load(Ordering::Relaxed), 16);
//! assert_eq!(mgr.state(), MgrState::Operating);
//! # });
//! ```
//!
//! `caps()` written by hand is for test doubles that pick their
//! capabilities at run time; under `#[manager_ops]` it is refused:
//!
//! ```compile_fail
//! struct Twice;
//! #[fpga_core::manager_ops]
//! impl fpga_core::FpgaManagerOps for Twice {
//!     fn caps(&self) -> fpga_core::MgrCaps { fpga_core::MgrCaps::all() }
//! }
//! ```
//!
//! ## Where it differs from the kernel, on purpose
//!
//! - **`load` needs the lock as a type.** [`ManagerLock::load`] can only be
//!   called on a locked manager; `fpga_mgr_load` trusts its caller to hold
//!   `fpga_mgr_lock`. The type makes the unlocked load unwritable.
//! - **No op runs after unregister.** A `get` pins the owner module and
//!   every op goes through a guard that unregister closes and drains
//!   (§4.3); mainline can call ops of a manager whose module is going.
//! - **Op presence is derived, not a pointer.** `#[manager_ops]` writes the
//!   capability set from the ops an impl defines; the kernel reads it from
//!   which pointers are set. The behaviour of an absent op is the same.
//! - **Private data is the ops value.** There is no `priv` pointer: the
//!   type implementing the ops carries its own state, and the
//!   [`ManagerCtx`] it is given cannot be kept, so no cycle forms.
//! - **A devm registration on a device with no driver is released at
//!   `device_del`,** not only at the device's last reference as
//!   `devres_release_all` in `device_release` does: the registered object
//!   holds a reference to its parent, so the last reference would never
//!   come.
//! - **Async ops, sync callers.** Ops are `async`; the kernel's sleep in
//!   an op is an `.await` here, and nothing spawns a task.

#![warn(missing_docs)]

// Under `--cfg loom` only the ops guard (and its errors) is built, with
// loom's atomics, for the model in `tests/loom_guard.rs`.
#[cfg(not(loom))]
mod bridge;
#[cfg(not(loom))]
pub mod engine;
mod error;
#[cfg(not(loom))]
mod firmware;
#[cfg(not(loom))]
mod fpga;
mod guard;
#[cfg(not(loom))]
mod identity;
#[cfg(not(loom))]
mod image;
#[cfg(not(loom))]
mod loaders;
#[cfg(not(loom))]
mod manager;
#[cfg(not(loom))]
mod observe;
#[cfg(not(loom))]
mod of_region;
#[cfg(not(loom))]
mod ops;
#[cfg(not(loom))]
mod region;
#[cfg(all(feature = "serde", not(loom)))]
mod ser;
#[cfg(not(loom))]
mod state;
#[cfg(not(loom))]
mod view;
#[cfg(not(loom))]
mod xlnx;

#[cfg(not(loom))]
pub use bridge::{BridgeHold, BridgeList, FpgaBridge};
#[cfg(not(loom))]
pub use engine::{
    program, reprogram, ImageLoader, Journal, LoadFailed, LoadTarget, Loaded, ReprogramError,
    ReprogramOptions, ReprogramReport, Stage,
};
pub use error::{Errno, ErrorKind, FpgaError, OpError, Result};
#[cfg(not(loom))]
pub use firmware::MAX_NAME as MAX_FIRMWARE_NAME;
#[cfg(not(loom))]
pub use fpga::{Fpga, ManagerInfo, Registrar};
#[cfg(not(loom))]
pub use identity::{ImageIdentity, LoadedImage};
#[cfg(not(loom))]
pub use image::{ImageInfo, ScatterTable};
#[cfg(not(loom))]
pub use loaders::{ManagerLoader, RegionLoader};
#[cfg(not(loom))]
pub use manager::{FpgaManager, ManagerLock, ManagerRef, Progress};
#[cfg(not(loom))]
pub use observe::{ignore, Observer, Step};
#[cfg(not(loom))]
pub use of_region::{OfRegionDriver, OverlayAction, FPGA_REGION_COMPATIBLE};
#[cfg(not(loom))]
pub use ops::{
    BridgeCaps, BridgeCtx, FpgaBridgeOps, FpgaManagerOps, ManagerCtx, MgrCaps, RegionOps,
};
#[cfg(all(feature = "mocks", not(loom)))]
pub use ops::{MockFpgaBridgeOps, MockFpgaManagerOps};
#[cfg(not(loom))]
pub use region::{FpgaRegion, RegionHold, RegionInfo};
#[cfg(not(loom))]
pub use state::{CompatId, ImageFlags, MgrState, MgrStatus};
#[cfg(not(loom))]
pub use view::{BridgeView, FpgaView, ManagerView, ReadFpga, RegionView};
#[cfg(not(loom))]
pub use xlnx::MAX_KEY as MAX_XLNX_KEY;
mod sync;

#[cfg(not(loom))]
pub use fpga_core_macros::{bridge_ops, manager_ops};

// What the macros expand to names `::fpga_core`, also inside this crate.
#[cfg(not(loom))]
extern crate self as fpga_core;

/// For the macros' expansion only.
#[cfg(not(loom))]
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}

/// The ops guard, exposed only to the loom model.
#[cfg(loom)]
#[doc(hidden)]
pub use guard::{OpTicket, OpsGuard};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The macros crate's README example (it needs this crate to run).
#[cfg(doctest)]
#[doc = include_str!("../../fpga-core-macros/README.md")]
pub struct MacrosReadmeDoctests;
