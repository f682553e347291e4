//! The driver-model contract: four small capabilities every backend
//! implements the same way (read a [`Topology`], unbind one device, bind
//! one device, wait until removal has finished), each with an error that
//! answers [`KindError::kind`]. The in-process [`DriverCore`] implements
//! them here; the live-kernel backend implements them over sysfs.
//!
//! What is built from them is written once, below and in `fpga-core`:
//! [`unbind_tree`] (a device and everything that depends on it, consumers
//! first), [`rebind`] (suppliers first), and the reprogram engine.
//!
//! ```
//! use devlink_core::drive::{unbind_tree, rebind, DriverModel};
//! # use devlink_core::{DriverCore, LinkFlags};
//! # async fn demo() -> Result<(), devlink_core::Error> {
//! # let core = DriverCore::new()?;
//! // The same code runs on any backend: `core` could be a live kernel.
//! async fn bounce<M: DriverModel>(m: &M, dev: &str) -> Result<usize, M::Error> {
//!     let down = unbind_tree(m, dev).await.map_err(|p| p.error)?;
//!     let back = rebind(m, &down).await;
//!     Ok(back.bound.len())
//! }
//! bounce(&core, "platform:dma0").await.ok();
//! # Ok(()) }
//! ```

use crate::core::DriverCore;
use crate::errno::KindError;
use crate::error::{Error, ErrorKind};
use crate::flags::DevState;
use crate::query::Waiting;
use crate::topology::Topology;
use async_trait::async_trait;
use std::time::{Duration, Instant};

/// The error type shared by a backend's capabilities.
pub trait ErrorType {
    /// The backend's error.
    type Error: KindError;
}

/// Reads the driver model as it is now.
#[async_trait]
pub trait ReadTopology: ErrorType + Send + Sync {
    /// A snapshot of devices and links.
    async fn topology(&self) -> Result<Topology, Self::Error>;
}

/// Unbinds one device (`device_release_driver`, or a write to its
/// driver's `unbind`).
#[async_trait]
pub trait Unbind: ErrorType + Send + Sync {
    /// Unbinds `device` (any name [`Topology::find`] accepts) and waits
    /// until its driver is gone. The kernel unbinds the consumers of its
    /// managed links first by itself; everything else that depends on it
    /// is the caller's to take down first ([`unbind_tree`] does). `None`
    /// if it was not bound: unbinding an unbound device changes nothing
    /// and is not an error, on every backend.
    async fn unbind_one(&self, device: &str) -> Result<Option<Unbound>, Self::Error>;
}

/// Binds one device (`device_attach`, `drivers_probe`, or a named
/// driver's `bind`).
#[async_trait]
pub trait Bind: ErrorType + Send + Sync {
    /// Binds `device` to `driver`, or to whichever driver matches. A
    /// device already bound is [`BindOutcome::Bound`] with `was_bound`; a
    /// device whose probe was deferred is [`BindOutcome::Deferred`] with
    /// what it waits for. A probe that failed is an error.
    async fn bind(&self, device: &str, driver: Option<&str>) -> Result<BindOutcome, Self::Error>;
}

/// Waits for what unbinding and removal set off to finish
/// (`device_link_wait_removal`, or the kernel's sysfs settling).
#[async_trait]
pub trait WaitRemoval: ErrorType + Send + Sync {
    /// A mark to pass in [`Settle::since`], so the wait can say how many
    /// link releases the work since the mark queued (where the backend
    /// can count them).
    fn removal_mark(&self) -> Option<u64> {
        None
    }

    /// Waits until every link release queued before the call has run and
    /// `settle` holds, or `timeout` passes; the timeout error names what
    /// is still pending.
    async fn wait_removal(&self, settle: &Settle, timeout: Duration)
        -> Result<Waited, Self::Error>;
}

/// Everything a backend of the driver model provides.
pub trait DriverModel: ReadTopology + Unbind + Bind + WaitRemoval {}
impl<T: ReadTopology + Unbind + Bind + WaitRemoval> DriverModel for T {}

/// A device a backend unbound: enough to bind it back, even where its
/// sysfs directory moved meanwhile (it is found again by `key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Unbound {
    /// `bus:name`.
    pub key: String,
    /// The driver it was bound to.
    pub driver: String,
    /// Its sysfs directory when it was unbound.
    pub path: String,
}

/// What [`Bind::bind`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "outcome", rename_all = "snake_case"))]
pub enum BindOutcome {
    /// The device is bound to `driver`.
    Bound {
        /// The driver.
        driver: String,
        /// It was bound already; nothing changed.
        was_bound: bool,
    },
    /// The probe was deferred: the device waits for these.
    Deferred {
        /// What it waits for (may be empty when the driver itself
        /// deferred).
        waiting: Vec<Waiting>,
    },
}

/// What [`WaitRemoval::wait_removal`] waits for besides the release queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settle {
    /// Devices (`bus:name`) unbound meanwhile: every link they consume
    /// must be back at rest, and none they supply may still be `supplier
    /// unbinding`.
    pub unbound: Vec<String>,
    /// Devices (`bus:name`) removed meanwhile: they, and every link that
    /// touched them, must be gone.
    pub gone: Vec<String>,
    /// A [`WaitRemoval::removal_mark`] taken before the work began.
    pub since: Option<u64>,
}

/// What a wait did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Waited {
    /// Link releases queued since [`Settle::since`] (all finished), where
    /// the backend can count them.
    pub releases: Option<u64>,
    /// How long the wait took.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::millis"))]
    pub waited: Duration,
}

/// [`unbind_tree`] stopped partway: what went down before the error.
#[derive(Debug)]
pub struct PartialUnbind<E> {
    /// Unbound before the failure, consumers first.
    pub unbound: Vec<Unbound>,
    /// The failure.
    pub error: E,
}

/// Unbinds `device` and everything bound that depends on it (children
/// and consumers through ordering links, transitively), consumers first,
/// from one topology read. A dependent the kernel already took down with
/// an earlier one is skipped. Returns what went down, in order.
pub async fn unbind_tree<M>(m: &M, device: &str) -> Result<Vec<Unbound>, PartialUnbind<M::Error>>
where
    M: ReadTopology + Unbind + ?Sized,
{
    let fail = |error| PartialUnbind {
        unbound: Vec::new(),
        error,
    };
    let topo = m.topology().await.map_err(fail)?;
    let id = match topo.find(device) {
        Ok(id) => id,
        // Let the backend name the error in its own terms.
        Err(_) => {
            m.unbind_one(device).await.map_err(fail)?;
            return Ok(Vec::new());
        }
    };
    let mut order = topo.teardown_order(id);
    order.push(id);
    let mut done = Vec::new();
    for d in order {
        let dev = topo.device(d);
        if !dev.is_bound() {
            continue;
        }
        match m.unbind_one(&dev.key()).await {
            Ok(u) => done.extend(u),
            Err(error) => {
                return Err(PartialUnbind {
                    unbound: done,
                    error,
                })
            }
        }
    }
    Ok(done)
}

/// What [`rebind`] achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Rebound {
    /// Bound again, suppliers first.
    pub bound: Vec<Unbound>,
    /// Not bound again, with why (deferred, failed, or gone).
    pub not_bound: Vec<(Unbound, String)>,
}

/// Binds back what [`unbind_tree`] (or a teardown) took down, suppliers
/// first (the reverse of `unbound`), each to the driver it had. One that
/// does not bind is recorded with the reason and the rest still go on.
pub async fn rebind<M: Bind + ?Sized>(m: &M, unbound: &[Unbound]) -> Rebound {
    rebind_with(m, unbound, &|_, _| {}).await
}

/// [`rebind`], calling `each(device, why_not)` as each bind ends (`None`
/// when it bound).
pub async fn rebind_with<M: Bind + ?Sized>(
    m: &M,
    unbound: &[Unbound],
    each: &(dyn Fn(&Unbound, Option<&str>) + Send + Sync),
) -> Rebound {
    let mut out = Rebound::default();
    for u in unbound.iter().rev() {
        let why = match m.bind(&u.key, Some(&u.driver)).await {
            Ok(BindOutcome::Bound { .. }) => None,
            Ok(BindOutcome::Deferred { waiting }) if waiting.is_empty() => {
                Some("probe deferred".to_string())
            }
            Ok(BindOutcome::Deferred { waiting }) => {
                let w: Vec<String> = waiting.iter().map(ToString::to_string).collect();
                Some(format!("deferred, waiting for {}", w.join(", ")))
            }
            Err(e) => Some(e.to_string()),
        };
        each(u, why.as_deref());
        match why {
            None => out.bound.push(u.clone()),
            Some(why) => out.not_bound.push((u.clone(), why)),
        }
    }
    out
}

impl ErrorType for DriverCore {
    type Error = Error;
}

impl KindError for Error {
    fn kind(&self) -> ErrorKind {
        Error::kind(self)
    }
}

#[async_trait]
impl ReadTopology for DriverCore {
    async fn topology(&self) -> Result<Topology, Error> {
        Ok(DriverCore::topology(self))
    }
}

impl DriverCore {
    fn resolve(&self, name: &str) -> Result<crate::Device, Error> {
        if let Some(d) = self.find_device(name) {
            return Ok(d);
        }
        let topo = DriverCore::topology(self);
        let id = topo.find(name)?;
        self.find_device(&topo.device(id).key())
            .ok_or_else(|| Error::NotRegistered {
                device: name.to_string(),
            })
    }
}

#[async_trait]
impl Unbind for DriverCore {
    async fn unbind_one(&self, device: &str) -> Result<Option<Unbound>, Error> {
        let d = self.resolve(device)?;
        let Some(driver) = d.driver_name() else {
            return Ok(None);
        };
        // One device's path, not a whole snapshot per unbind (that made a
        // teardown quadratic in the number of dependents).
        let path = self.path_of(&d).unwrap_or_default();
        self.unbind(&d).await?;
        Ok(Some(Unbound {
            key: d.to_string(),
            driver,
            path,
        }))
    }
}

#[async_trait]
impl Bind for DriverCore {
    async fn bind(&self, device: &str, driver: Option<&str>) -> Result<BindOutcome, Error> {
        let d = self.resolve(device)?;
        if let Some(drv) = d.driver_name() {
            return Ok(BindOutcome::Bound {
                driver: drv,
                was_bound: true,
            });
        }
        let r = match driver {
            Some(name) => self.bind_with(&d, name).await,
            None => DriverCore::bind(self, &d).await,
        };
        match r {
            Ok(()) | Err(Error::ProbeDeferred { .. }) => {}
            Err(e) => return Err(e),
        }
        match (d.driver_name(), d.state()) {
            (Some(drv), DevState::DriverBound) => Ok(BindOutcome::Bound {
                driver: drv,
                was_bound: false,
            }),
            _ => Ok(BindOutcome::Deferred {
                waiting: self.waiting_for(&d),
            }),
        }
    }
}

#[async_trait]
impl WaitRemoval for DriverCore {
    fn removal_mark(&self) -> Option<u64> {
        Some(self.removal_queue().counters().0)
    }

    async fn wait_removal(&self, settle: &Settle, timeout: Duration) -> Result<Waited, Error> {
        let start = Instant::now();
        if !self.wait_removal_timeout(timeout)? {
            return Err(Error::RemovalTimeout {
                waited_ms: duration_ms(start.elapsed()),
                pending: self.removal_queue().pending(),
            });
        }
        Ok(Waited {
            releases: settle
                .since
                .map(|m| self.removal_queue().counters().0.saturating_sub(m)),
            waited: start.elapsed(),
        })
    }
}

/// Milliseconds, saturating (a wait of more than 584 million years reads
/// as `u64::MAX`).
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
