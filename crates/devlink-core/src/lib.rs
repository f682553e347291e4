//! # devlink-core
//!
//! The Linux driver core's device links in user space: devices with
//! reference counts, drivers under owner [`Module`]s, supplier/consumer
//! [`Link`]s with the kernel's flags and states, probe deferral and
//! consumer-first unbinding, firmware nodes, changesets (overlays), and the
//! removal queue whose [`DriverCore::wait_removal`] is the barrier that makes
//! reprogramming safe. The behaviour follows `spec/device-links.md`; rustdoc
//! of each item names its kernel counterpart.
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
pub use module::{ExitFuture, ExitHook, Module, ModulePin, ModuleState};
#[cfg(not(loom))]
pub use query::{Waiting, WhyEntry};
pub use removal::{Job, RemovalHold, RemovalQueue};
#[cfg(not(loom))]
pub use topology::{DevId, LinkId, LookupError, TopoDevice, TopoLink, Topology};

/// Re-exported so drivers can be written without naming the crate.
#[cfg(not(loom))]
pub use async_trait::async_trait;
