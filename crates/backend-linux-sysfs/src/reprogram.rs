//! Reprogramming one region on a live kernel, in the order of spec
//! `uio.md` §3.6: dependents down consumers-first and the region's
//! overlays removed last-first; wait until the kernel has finished; lock,
//! load (or apply the region overlay), verify, unlock; bring the
//! dependents back suppliers-first.

use crate::drive::{Kernel, Settle, Unbound};
use crate::error::Result;
use crate::overlay::{OverlaySlot, Overlays};
use crate::xlnx::{LoadReport, StagedFile, XlnxManager};
use fpga_core::ImageFlags;
use std::collections::BTreeSet;
use std::time::Duration;

/// How the new image gets in.
#[derive(Debug, Clone)]
pub enum Load {
    /// Through the manager's Xilinx `firmware` attribute.
    Firmware {
        /// The image.
        image: Vec<u8>,
    },
    /// By applying a region overlay whose `firmware-name` names the
    /// bitstream, in a new configfs slot.
    Overlay {
        /// The slot to create.
        slot: String,
        /// The `.dtbo` blob.
        dtbo: Vec<u8>,
        /// The bitstream the overlay names, as (file name, contents), to
        /// place in the firmware directory for the apply; `None` if it is
        /// there already.
        bitstream: Option<(String, Vec<u8>)>,
    },
}

/// One region reprogram.
#[derive(Debug, Clone)]
pub struct RegionPlan {
    /// The device whose dependents (children and consumers) go down: the
    /// region's device, `bus:name` or a path.
    pub region_device: String,
    /// The manager (`fpga0`).
    pub manager: String,
    /// The new image.
    pub load: Load,
    /// Image flags (partial, encrypted, ...).
    pub flags: ImageFlags,
    /// The user key, for the user-key flag.
    pub key: Option<String>,
    /// The region's overlay slots to remove first, in the order they were
    /// applied (removed last-first).
    pub remove_overlays: Vec<String>,
    /// The bound for each wait.
    pub timeout: Duration,
}

enum How<'a> {
    Firmware(XlnxManager, &'a [u8]),
    Overlay {
        slot: &'a str,
        dtbo: &'a [u8],
        bitstream: Option<&'a (String, Vec<u8>)>,
    },
}

/// A step of [`reprogram_region`], reported as it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Unbinding a device (consumers first).
    Unbind(String),
    /// Removing an overlay slot.
    RemoveOverlay(String),
    /// Waiting for the kernel to finish removal.
    WaitRemoval,
    /// Locking the manager and loading.
    Load(String),
    /// Applying the overlay in the slot.
    ApplyOverlay(String),
    /// Binding a device back (suppliers first).
    Bind(String),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Unbind(d) => write!(f, "unbind {d}"),
            Step::RemoveOverlay(s) => write!(f, "remove overlay {s}"),
            Step::WaitRemoval => f.write_str("wait for the kernel to finish removal"),
            Step::Load(m) => write!(f, "lock {m}, write flags, load through firmware"),
            Step::ApplyOverlay(s) => write!(f, "apply overlay {s}"),
            Step::Bind(d) => write!(f, "bind {d}"),
        }
    }
}

/// What a reprogram did.
#[derive(Debug, Clone)]
pub struct RegionReport {
    /// Devices taken down, in order.
    pub unbound: Vec<Unbound>,
    /// The load's result.
    pub load: LoadReport,
    /// The overlay slot applied, for an overlay load.
    pub overlay: Option<OverlaySlot>,
    /// Devices that were unbound and no longer exist (the new image has
    /// no such device).
    pub not_rebound: Vec<Unbound>,
}

/// Runs `plan`. On a failed load the dependents stay down (the region's
/// logic is in an unknown state) and the error says so; everything this
/// call staged or created is removed either way.
pub fn reprogram_region(
    kernel: &Kernel,
    plan: &RegionPlan,
    mut step: impl FnMut(&Step),
) -> Result<RegionReport> {
    // Everything the load needs is checked before anything goes down.
    let how = match &plan.load {
        Load::Firmware { image } => {
            How::Firmware(XlnxManager::open(kernel.root(), &plan.manager)?, image)
        }
        Load::Overlay {
            slot,
            dtbo,
            bitstream,
        } => How::Overlay {
            slot,
            dtbo,
            bitstream: bitstream.as_ref(),
        },
    };
    let overlays = if plan.remove_overlays.is_empty() && matches!(plan.load, Load::Firmware { .. })
    {
        None
    } else {
        Some(Overlays::open(kernel)?)
    };

    // 1. Dependents down, consumers first; the region device stays.
    let snap = kernel.snapshot()?;
    let region = snap
        .expect_device(&plan.region_device, kernel.root().sys())?
        .clone();
    let sys = crate::io::Dir::open(kernel.root().sys())?;
    let mut unbound = Vec::new();
    for d in kernel
        .teardown_order(&snap, &plan.region_device)?
        .into_iter()
        .filter(|d| d.path != region.path)
    {
        step(&Step::Unbind(d.key()));
        // Consumers came earlier in the order; the kernel may have taken
        // this one down with them already.
        unbound.extend(kernel.unbind_dev(&sys, d, plan.timeout)?);
    }
    let before: BTreeSet<String> = kernel.snapshot()?.devices.into_keys().collect();
    if let Some(ov) = &overlays {
        for s in plan.remove_overlays.iter().rev() {
            step(&Step::RemoveOverlay(s.clone()));
            ov.remove(s, plan.timeout)?;
        }
    }

    // 2. Wait: unbound consumers' links at rest, removed devices' links
    // gone.
    step(&Step::WaitRemoval);
    let after: BTreeSet<String> = kernel.snapshot()?.devices.into_keys().collect();
    let settle = Settle {
        gone: before.difference(&after).cloned().collect(),
        unbound: unbound.iter().map(|u| u.path.clone()).collect(),
    };
    kernel.wait_settled(&settle, plan.timeout)?;
    kernel.wait_quiet(plan.timeout)?;

    // 3. Load.
    let (load, overlay) = match how {
        How::Firmware(mgr, image) => {
            step(&Step::Load(plan.manager.clone()));
            (mgr.load(image, plan.flags, plan.key.as_deref())?, None)
        }
        How::Overlay {
            slot,
            dtbo,
            bitstream,
        } => {
            step(&Step::ApplyOverlay(slot.to_string()));
            let _placed = match bitstream {
                Some((name, data)) => Some(StagedFile::place_named(kernel.root(), name, data)?),
                None => None,
            };
            let _lock = crate::lock::ManagerLock::acquire(kernel.root(), &plan.manager)?;
            let ov = match &overlays {
                Some(ov) => ov.clone(),
                None => Overlays::open(kernel)?,
            };
            let applied = ov.apply(slot, dtbo, Some(&plan.manager), plan.timeout)?;
            let m = XlnxManager::reader(kernel.root(), &plan.manager);
            let state = m.state()?;
            if state.is_error() {
                return Err(m.failure(
                    format!("manager {}", plan.manager),
                    format!("overlay {slot} applied but the load failed"),
                    fpga_core::ErrorKind::Io,
                ));
            }
            (
                LoadReport {
                    state,
                    status: m.status()?,
                    load_time: Duration::ZERO,
                },
                Some(applied),
            )
        }
    };

    // 4. Back up, suppliers first, found again by bus:name.
    let mut not_rebound = Vec::new();
    for u in unbound.iter().rev() {
        step(&Step::Bind(u.key.clone()));
        not_rebound.extend(kernel.rebind(std::slice::from_ref(u), plan.timeout)?);
    }
    Ok(RegionReport {
        unbound,
        load,
        overlay,
        not_rebound,
    })
}
