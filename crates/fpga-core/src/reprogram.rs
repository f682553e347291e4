//! Reprogramming a region that has dependents: the sequence the two kernel
//! threads behind this project are about (DESIGN.md "The problem").
//!
//! 1. Hold the region and lock its manager first, so a busy target is
//!    refused (`EBUSY`) before any dependent is disturbed. Bridges still
//!    held from the previous program (got by `get_bridges`) are put: the
//!    new image replaces the old one.
//! 2. Unbind the region's dependents, consumers first: every device that
//!    depends (as a child or a link consumer, transitively) on the region's
//!    parent device — the platform device consumers link to, since class
//!    devices never bind — or on the region's class device, except the FPGA
//!    class devices themselves.
//! 3. Wait for every link release the teardown queued (`wait_removal`).
//! 4. Check that no dependent kept an extra device reference through the
//!    teardown (a driver that took one in `remove` and never dropped it);
//!    refuse to go on if one did.
//! 5. Disable the bridges, load, enable the bridges, unlock (§6.4).
//! 6. Bind the dependents that were bound before, suppliers first.
//!
//! Failure leaves a documented state, and every reference taken is
//! released (the region hold, the manager lock and owner pins are RAII):
//! - before any bridge was disabled (teardown, leak check or `get_bridges`
//!   failed): neither the bridges nor the FPGA were touched, so the
//!   dependents that were bound are bound again and the error lists any
//!   that could not be;
//! - once a bridge was disabled (a bridge disable, the load, or a bridge
//!   enable failed): the FPGA's state is the manager's (error) state,
//!   bridges got by `get_bridges` are put and not re-enabled, and the
//!   dependents stay unbound (binding them to switched-off or broken logic
//!   would be unsafe); the error lists them. After fixing the cause, bind
//!   them yourself: a later `reprogram` only brings back the dependents
//!   that were bound when *it* started.

use crate::error::FpgaError;
use crate::image::ImageInfo;
use crate::observe::{Observer, Step};
use crate::region::FpgaRegion;
use crate::state::MgrState;
use devlink_core::{DevState, Device, DriverCore};

/// What a successful reprogram did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReprogramReport {
    /// Dependents unbound, in teardown order (consumers first).
    pub unbound: Vec<String>,
    /// Link releases the teardown queued (all finished before the load).
    pub releases: u64,
    /// Dependents bound again, in bring-up order (suppliers first).
    pub rebound: Vec<String>,
    /// Dependents that were bound before and did not bind again
    /// (deferred or failed probe); they are left unbound.
    pub not_rebound: Vec<String>,
    /// The manager's state afterwards (`operating`).
    pub state: MgrState,
}

/// Why a reprogram stopped, and what it left behind.
#[derive(Debug, thiserror::Error)]
#[error("reprogram {region}: {step} failed: {source}; {}", left_behind(.left_unbound, .state))]
pub struct ReprogramError {
    /// The region (`region<N>`).
    pub region: String,
    /// The step that failed (`acquire`, `teardown`, `leak check`, `program`).
    pub step: &'static str,
    /// The cause.
    #[source]
    pub source: FpgaError,
    /// Dependents left unbound.
    pub left_unbound: Vec<String>,
    /// The manager's state.
    pub state: MgrState,
}

fn left_behind(unbound: &[String], state: &MgrState) -> String {
    if unbound.is_empty() {
        format!("every dependent is bound as before; the FPGA manager is {state}")
    } else {
        format!(
            "left unbound: {}; the FPGA manager is {state}",
            unbound.join(", ")
        )
    }
}

impl ReprogramError {
    /// The cause's kind.
    pub fn kind(&self) -> crate::ErrorKind {
        self.source.kind()
    }
}

/// Reprograms `region` with `image` while its dependents are safely down.
/// See the module documentation for the sequence and the failure states.
///
/// ```
/// # use fpga_core::*;
/// # use std::sync::Arc;
/// # futures::executor::block_on(async {
/// # let core = devlink_core::DriverCore::new().unwrap();
/// # let parent = core.device("soc:fpga").bus("platform").create();
/// # core.device_add(&parent).await.unwrap();
/// # let fpga = Fpga::new(&core);
/// # let mut ops = MockFpgaManagerOps::new();
/// # ops.expect_caps().return_const(MgrCaps::WRITE);
/// # ops.expect_initial_header_size().return_const(0usize);
/// # ops.expect_skip_header().return_const(false);
/// # ops.expect_write().returning(|_| Ok(()));
/// # let reg = fpga.registrar_builtin();
/// # reg.register_manager(&parent, ManagerInfo::new("m", Arc::new(ops))).await.unwrap();
/// let region = reg
///     .register_region(&parent, Some(RegionInfo::new(fpga.mgr_get(&parent).unwrap())))
///     .await
///     .unwrap();
/// let report = reprogram(&region, ImageInfo::from_buffer(vec![0u8; 64]), &|step: &Step| {
///     println!("{step:?}");
/// })
/// .await
/// .unwrap();
/// assert_eq!(report.state, MgrState::Operating);
/// # });
/// ```
pub async fn reprogram(
    region: &FpgaRegion,
    image: ImageInfo,
    obs: &dyn Observer,
) -> std::result::Result<ReprogramReport, ReprogramError> {
    let name = region.device().name().to_string();
    let state = |r: &FpgaRegion| r.manager().state();
    let err = |step, source, left_unbound| ReprogramError {
        region: name.clone(),
        step,
        source,
        left_unbound,
        state: state(region),
    };
    let core = match region.device().driver_core() {
        Some(c) => c,
        None => {
            return Err(err(
                "acquire",
                FpgaError::nodev(&name, "the driver core is gone"),
                vec![],
            ))
        }
    };
    // 1. Refuse a busy target before touching anything.
    let (hold, mgr_lock) = region.acquire(obs).map_err(|e| err("acquire", e, vec![]))?;

    // The new image replaces the old one: bridges still held from the
    // previous program (§6.4 keeps them) are put. A static list is kept.
    if region.has_get_bridges() {
        region.put_bridges();
    }

    // 2. Teardown, consumers first; remember who was bound and their counts.
    let dependents = dependents_of(&core, region);
    let was_bound: Vec<bool> = dependents
        .iter()
        .map(|d| d.state() == DevState::DriverBound)
        .collect();
    let refs_before: Vec<usize> = dependents.iter().map(Device::refcount).collect();
    let (queued_before, _) = core.removal_queue().counters();
    let mut unbound = Vec::new();
    for (d, bound) in dependents.iter().zip(&was_bound).rev() {
        if !bound {
            continue;
        }
        obs.step(&Step::Unbind {
            device: d.to_string(),
        });
        if let Err(source) = core.unbind(d).await {
            let source = FpgaError::Core {
                object: d.to_string(),
                source,
            };
            let left = rebind(&core, &dependents, &was_bound, obs).await.1;
            return Err(err("teardown", source, left));
        }
        unbound.push(d.to_string());
    }

    // 3. The barrier.
    let (queued_after, _) = core.removal_queue().counters();
    let releases = queued_after - queued_before;
    if let Err(source) = core.wait_removal_async().await {
        let left = rebind(&core, &dependents, &was_bound, obs).await.1;
        return Err(err(
            "wait for removal",
            FpgaError::Core {
                object: name.clone(),
                source,
            },
            left,
        ));
    }
    obs.step(&Step::WaitRemoval { queued: releases });

    // 4. No dependent may hold more references than before the teardown.
    let leaked = dependents
        .iter()
        .zip(&refs_before)
        .find(|(d, &before)| d.refcount() > before);
    if let Some((d, &before)) = leaked {
        let source = FpgaError::invalid(
            &d.to_string(),
            format!(
                "holds {} references after its teardown, {before} before: a driver or release kept a reference; not programming",
                d.refcount()
            ),
        );
        drop((hold, mgr_lock));
        let left = rebind(&core, &dependents, &was_bound, obs).await.1;
        return Err(err("leak check", source, left));
    }
    obs.step(&Step::LeakCheck {
        devices: dependents.len(),
    });

    // 5. Program (§6.4 steps 3–7), with the region's info set meanwhile.
    region.set_info(Some(image.clone()));
    let (programmed, touched) = region.program_locked(hold, mgr_lock, image, obs).await;
    region.set_info(None);
    if let Err(source) = programmed {
        // Before any bridge was switched (get_bridges failed) nothing was
        // touched: bring the dependents back. After that, leave them down.
        let left = if touched {
            unbound
        } else {
            rebind(&core, &dependents, &was_bound, obs).await.1
        };
        return Err(err("program", source, left));
    }

    // 6. Bring-up, suppliers first.
    let (rebound, not_rebound) = rebind(&core, &dependents, &was_bound, obs).await;
    Ok(ReprogramReport {
        unbound,
        releases,
        rebound,
        not_rebound,
        state: state(region),
    })
}

/// Binds the dependents that were bound, suppliers first. Returns the ones
/// that bound and the ones that did not.
async fn rebind(
    core: &DriverCore,
    dependents: &[Device],
    was_bound: &[bool],
    obs: &dyn Observer,
) -> (Vec<String>, Vec<String>) {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for (d, _) in dependents.iter().zip(was_bound).filter(|(_, b)| **b) {
        let bound = core.bind(d).await.is_ok() && d.state() == DevState::DriverBound;
        obs.step(&Step::Bind {
            device: d.to_string(),
            bound,
        });
        if bound {
            ok.push(d.to_string());
        } else {
            failed.push(d.to_string());
        }
    }
    (ok, failed)
}

/// The devices that depend on the region, in bring-up order.
fn dependents_of(core: &DriverCore, region: &FpgaRegion) -> Vec<Device> {
    const FPGA_CLASSES: [&str; 3] = ["fpga_manager", "fpga_bridge", "fpga_region"];
    let mut deps = core.dependents(region.parent());
    for d in core.dependents(region.device()) {
        if !deps.contains(&d) {
            deps.push(d);
        }
    }
    deps.retain(|d| !d.class().is_some_and(|c| FPGA_CLASSES.contains(&c)));
    // A Device hashes and compares by identity, never by its (atomic)
    // reference count, so it is a sound key.
    #[allow(clippy::mutable_key_type)]
    let order: std::collections::HashMap<Device, usize> = core
        .devices()
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d, i))
        .collect();
    deps.sort_by_key(|d| order.get(d).copied().unwrap_or(usize::MAX));
    deps
}
