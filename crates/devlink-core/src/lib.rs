//! # devlink-core
//!
//! The Linux driver core's device links in user space, and the contract
//! every backend drives a driver model through.
//!
//! ## The contract
//!
//! A driver model, in process or the running kernel, is read as one owned
//! [`Topology`]: devices (bus, name, driver, presence state, parent,
//! firmware node, `waiting_for_supplier`) and links (both ends, flags,
//! status, auto-remove rule). The questions people ask of it are answered
//! once, over `Topology`, with the kernel's semantics for every flag:
//! [`Topology::dependents`] (children and consumers, transitively, except
//! through `SYNC_STATE_ONLY` links), [`Topology::teardown_order`]
//! (consumers first), [`Topology::bringup_order`] (suppliers first),
//! [`Topology::waiting_for`] and [`Topology::why`] (what a device that is
//! not bound waits for).
//!
//! Driving it is four small capabilities in [`drive`], each with errors
//! that answer [`KindError::kind`]: [`drive::ReadTopology`],
//! [`drive::Unbind`], [`drive::Bind`] (a device its suppliers hold back is
//! [`drive::BindOutcome::Deferred`], naming them) and
//! [`drive::WaitRemoval`] (until every queued link release has run, with a
//! deadline whose timeout names what is pending); [`drive::DriverModel`]
//! is all four. [`DriverCore`] implements them here;
//! `backend_linux_sysfs::Kernel` implements them on `/sys`. Code written
//! against them runs on either:
//!
//! ```
//! use devlink_core::drive::{rebind, unbind_tree, DriverModel};
//!
//! /// Takes `dev` and everything that depends on it down (consumers
//! /// first) and back up (suppliers first); returns how many came back.
//! async fn bounce<M: DriverModel>(m: &M, dev: &str) -> Result<usize, M::Error> {
//!     let topo = m.topology().await?;
//!     let id = topo.find(dev).expect("a known device");
//!     println!("going down: {:?}", topo.teardown_order(id));
//!     let down = unbind_tree(m, dev).await.map_err(|p| p.error)?;
//!     Ok(rebind(m, &down).await.bound.len())
//! }
//! ```
//!
//! `fpga-core` builds its one reprogram engine on the same contract.
//!
//! ## The in-process driver core
//!
//! [`DriverCore`] is the model itself: devices with reference counts,
//! drivers under owner [`Module`]s, supplier/consumer [`Link`]s with the
//! kernel's flags and states, probe deferral and consumer-first unbinding,
//! firmware nodes, changesets (overlays), and the removal queue whose
//! [`DriverCore::wait_removal`] is the barrier that makes reprogramming
//! safe. The behaviour follows `spec/device-links.md`; rustdoc of each
//! item names its kernel counterpart, and `docs/device-links.md` lists
//! where it deliberately differs.
//!
//! Who calls it: `fpga-core` (managers, bridges and regions are devices
//! here, and their owners are [`Module`]s), the backends, and `fpgactl`.
//! What it never does: name a backend, spawn async tasks, or require an
//! executor. Its one thread is the removal worker, started by
//! [`DriverCore::new`]. Async operations work on any executor.
//!
//! ```
//! use devlink_core::{DriverCore, Driver, ProbeError, Device, LinkFlags, LinkState, Module};
//! use std::sync::Arc;
//!
//! struct Simple(&'static str);
//! #[async_trait::async_trait]
//! impl Driver for Simple {
//!     fn name(&self) -> &str { self.0 }
//!     async fn probe(&self, _dev: &Device) -> Result<(), ProbeError> { Ok(()) }
//! }
//!
//! # futures::executor::block_on(async {
//! let core = DriverCore::new()?;
//! let module = Module::new("board");
//! core.driver_register(&module, Arc::new(Simple("region"))).await?;
//! core.driver_register(&module, Arc::new(Simple("dma"))).await?;
//!
//! let region = core.device("region0").bus("platform").compatible("region").create();
//! let dma = core.device("dma0").bus("platform").compatible("dma").create();
//! core.device_add(&region).await?;
//! core.device_add(&dma).await?;
//! let link = core.link_add(&dma, &region, LinkFlags::empty())?;
//! assert_eq!(link.state()?, LinkState::Active);
//!
//! // Unbinding the supplier unbinds its consumer first.
//! core.unbind(&region).await?;
//! assert_eq!(dma.driver_name(), None);
//! assert_eq!(link.state()?, LinkState::Dormant);
//! # Ok::<(), devlink_core::Error>(())
//! # }).unwrap();
//! ```

#![warn(missing_docs)]

// Under `--cfg loom` only the concurrency primitives are built, with loom's
// synchronisation types, for the model tests in `tests/loom_*.rs`.
mod diag;
mod errno;
mod error;
pub mod fdt;
mod flags;
mod module;
mod removal;
mod sync;

#[cfg(not(loom))]
mod changeset;
#[cfg(not(loom))]
mod core;
#[cfg(not(loom))]
mod dd;
#[cfg(not(loom))]
mod device;
#[cfg(not(loom))]
pub mod drive;
#[cfg(not(loom))]
mod fwnode;
#[cfg(not(loom))]
mod graph;
#[cfg(not(loom))]
mod link;
#[cfg(not(loom))]
pub mod of;
#[cfg(not(loom))]
mod query;
#[cfg(all(feature = "serde", not(loom)))]
mod ser;
#[cfg(not(loom))]
mod sysfs;
#[cfg(not(loom))]
mod topology;
#[cfg(not(loom))]
mod transitions;

#[cfg(not(loom))]
pub use crate::core::{DriverCore, DriverCoreBuilder, WorkerSpawner};
#[cfg(not(loom))]
pub use changeset::{Changeset, Populated, RevertNotifier};
#[cfg(not(loom))]
pub use dd::{Driver, ProbeError};
#[cfg(not(loom))]
pub use device::{Device, DeviceBuilder, ReleaseFn};
pub use diag::{Diagnostic, Diagnostics};
pub use errno::{Errno, KindError};
pub use error::{Error, ErrorKind, Result};
pub use flags::{initial_link_state, DevState, FwDevlinkMode, LinkFlags, LinkState};
#[cfg(not(loom))]
pub use fwnode::{FwNode, FwNodeWeak};
#[cfg(not(loom))]
pub use graph::{CoreConfig, KernelCompat, RuntimePm};
#[cfg(not(loom))]
pub use link::{Link, LinkInfo};
pub use module::{ExitFuture, ExitHook, Module, ModulePin, ModuleState, PinToken};
#[cfg(not(loom))]
pub use query::{Waiting, WhyEntry};
pub use removal::{Job, RemovalHold, RemovalQueue};
#[cfg(not(loom))]
pub use topology::{DevId, LinkId, LookupError, Problem, TopoDevice, TopoLink, Topology};

/// Re-exported so drivers can be written without naming the crate.
#[cfg(not(loom))]
pub use async_trait::async_trait;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
