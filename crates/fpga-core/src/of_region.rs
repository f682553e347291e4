//! The device-tree region layer (`drivers/fpga/of-fpga-region.c`, spec
//! `fpga.md` §7): a driver that turns firmware nodes compatible with
//! `"fpga-region"` into regions, finds their manager and bridges through
//! phandles, and programs a region when an overlay targeting it is applied.
//!
//! Firmware-node properties it reads:
//!
//! | node | property | meaning |
//! |---|---|---|
//! | region or ancestor region | `fpga-mgr` (phandle) | the manager's parent node |
//! | region or overlay | `fpga-bridges` (phandles) | bridges' parent nodes |
//! | overlay | `partial-fpga-config`, `external-fpga-config`, `encrypted-fpga-config` | image flags |
//! | overlay | `firmware-name` | the image to load |
//! | overlay | `region-unfreeze-timeout-us`, `region-freeze-timeout-us`, `config-complete-timeout-us` | timeouts |
//!
//! A region's parent node is a bridge if a bridge is registered with that
//! node as its parent's node; it is gated first.

use crate::bridge::BridgeList;
use crate::error::{Errno, FpgaError, Result};
use crate::fpga::{lock, Fpga, Registrar};
use crate::image::ImageInfo;
use crate::ops::RegionOps;
use crate::region::{FpgaRegion, RegionInfo};
use crate::state::ImageFlags;
use async_trait::async_trait;
use devlink_core::{Device, Driver, FwNode, Module, Populated, ProbeError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The `compatible` string the layer binds to.
pub const FPGA_REGION_COMPATIBLE: &str = "fpga-region";

/// The overlay notifications the layer reacts to (`OF_OVERLAY_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayAction {
    /// Before the overlay's nodes are attached: program the region.
    PreApply,
    /// After the overlay's nodes were attached (nothing to do).
    PostApply,
    /// Before the overlay's nodes are detached (nothing to do).
    PreRemove,
    /// After the overlay's nodes were detached: gate and release the
    /// bridges, forget the image.
    PostRemove,
}

struct Bound {
    region: FpgaRegion,
    children: Populated,
}

/// The `of-fpga-region` driver. Register it once per [`Fpga`] with
/// [`OfRegionDriver::register`]; every platform device whose node is
/// compatible with `"fpga-region"` then binds to it. Its probe defers
/// (`EPROBE_DEFER`) until the region's manager is registered.
///
/// ```
/// use devlink_core::{DriverCore, Module};
/// use fpga_core::{Fpga, OfRegionDriver};
/// # futures::executor::block_on(async {
/// let core = DriverCore::new().unwrap();
/// let fpga = Fpga::new(&core);
/// let of_regions = OfRegionDriver::register(&fpga, &Module::new("of_fpga_region"))
///     .await
///     .unwrap();
/// // A region node whose manager is not there yet: the device defers.
/// let mgr_node = core.of_root().add_child("fpga-mgr");
/// let node = core.of_root().add_child("fpga-region0");
/// node.set_compatible("fpga-region").set_phandles("fpga-mgr", &[&mgr_node]);
/// let dev = core.device("fpga-region0").bus("platform").fwnode(&node).create();
/// core.device_add(&dev).await.unwrap();
/// assert!(dev.driver_name().is_none());
/// assert!(of_regions.region_for(&node).is_none());
/// # });
/// ```
pub struct OfRegionDriver {
    fpga: Fpga,
    registrar: Registrar,
    bound: Mutex<HashMap<String, Bound>>,
}

impl std::fmt::Debug for OfRegionDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = lock(&self.bound).keys().cloned().collect();
        f.debug_struct("OfRegionDriver")
            .field("bound", &names)
            .finish()
    }
}

impl OfRegionDriver {
    /// Registers the driver in `fpga`'s driver core, owned by `module`
    /// (regions it registers are owned by `module` too). Devices already
    /// added bind now.
    pub async fn register(fpga: &Fpga, module: &Module) -> Result<Arc<OfRegionDriver>> {
        let driver = Arc::new(OfRegionDriver {
            fpga: fpga.clone(),
            registrar: fpga.registrar(module),
            bound: Mutex::new(HashMap::new()),
        });
        fpga.core()
            .driver_register(module, driver.clone())
            .await
            .map_err(|source| FpgaError::Core {
                object: "of-fpga-region".into(),
                source,
            })?;
        Ok(driver)
    }

    /// `of_fpga_region_find(node)`: the region whose parent device was
    /// made from `node`.
    pub fn region_for(&self, node: &FwNode) -> Option<FpgaRegion> {
        self.fpga
            .region_class_find(None, |r| r.parent().fwnode().as_ref() == Some(node))
            .map(|(r, _dev)| r)
    }

    /// The overlay notifier (`of_fpga_region_notify`): `overlay` is the
    /// fragment's node, `target` the node it applies to. Targets that are
    /// not a region of this layer are ignored (`Ok`). A `PreApply` error
    /// rejects the overlay; the other actions cannot fail.
    pub async fn notify(
        &self,
        action: OverlayAction,
        target: &FwNode,
        overlay: &FwNode,
    ) -> Result<()> {
        let Some(region) = self.region_for(target) else {
            return Ok(());
        };
        match action {
            OverlayAction::PreApply => pre_apply(&region, overlay).await,
            OverlayAction::PostRemove => {
                post_remove(&region).await;
                Ok(())
            }
            OverlayAction::PostApply | OverlayAction::PreRemove => Ok(()),
        }
    }
}

/// `of_fpga_region_get_mgr`: from `node` up, the first `fpga-region`
/// node with an `fpga-mgr` phandle names the manager.
fn find_mgr_node(node: &FwNode) -> Option<FwNode> {
    let mut cur = Some(node.clone());
    while let Some(n) = cur {
        if n.compatible().as_deref() == Some(FPGA_REGION_COMPATIBLE) {
            if let Some(mgr) = n.parse_phandle("fpga-mgr", 0) {
                return Some(mgr);
            }
        }
        cur = n.parent();
    }
    None
}

/// Whether any node below `overlay` is a region carrying `firmware-name`.
fn child_region_with_firmware(overlay: &FwNode) -> Option<String> {
    overlay
        .descendants()
        .into_iter()
        .find(|n| {
            n.compatible().as_deref() == Some(FPGA_REGION_COMPATIBLE)
                && n.read_string("firmware-name").is_some()
        })
        .map(|n| n.path().to_string())
}

/// `of_fpga_region_parse_ov`: the image info an overlay asks for, or
/// `None` if it does not program the FPGA.
fn parse_overlay(region: &FpgaRegion, overlay: &FwNode) -> Result<Option<ImageInfo>> {
    let object = region.device().name();
    if region.info().is_some() {
        return Err(FpgaError::invalid(
            object,
            "region already has an overlay applied",
        ));
    }
    if let Some(child) = child_region_with_firmware(overlay) {
        return Err(FpgaError::invalid(
            object,
            format!(
                "overlay adds the child region {child} with its own firmware-name \
                 (program child regions with their own overlays)"
            ),
        ));
    }
    let mut info = ImageInfo::alloc(region.device());
    info.overlay = Some(overlay.clone());
    for (prop, flag) in [
        ("partial-fpga-config", ImageFlags::PARTIAL_RECONFIG),
        ("external-fpga-config", ImageFlags::EXTERNAL_CONFIG),
        ("encrypted-fpga-config", ImageFlags::ENCRYPTED_BITSTREAM),
    ] {
        if overlay.read_bool(prop) {
            info.flags |= flag;
        }
    }
    info.firmware_name = overlay.read_string("firmware-name");
    if let Some(v) = overlay.read_u32("region-unfreeze-timeout-us") {
        info.enable_timeout_us = v;
    }
    if let Some(v) = overlay.read_u32("region-freeze-timeout-us") {
        info.disable_timeout_us = v;
    }
    if let Some(v) = overlay.read_u32("config-complete-timeout-us") {
        info.config_complete_timeout_us = v;
    }
    if info.firmware_name.is_none() {
        return Ok(None);
    }
    if info.flags.contains(ImageFlags::EXTERNAL_CONFIG) {
        return Err(FpgaError::invalid(
            object,
            "overlay has both firmware-name and external-fpga-config \
             (an externally configured FPGA cannot be loaded here)",
        ));
    }
    Ok(Some(info))
}

async fn pre_apply(region: &FpgaRegion, overlay: &FwNode) -> Result<()> {
    let Some(info) = parse_overlay(region, overlay)? else {
        return Ok(());
    };
    region.set_info(Some(info));
    let result = region.program().await;
    if result.is_err() {
        region.set_info(None);
    }
    result
}

async fn post_remove(region: &FpgaRegion) {
    // Gating may fail; the kernel ignores that here too.
    let mut list = region.take_bridge_list();
    let _ = list.disable_all().await;
    list.put_all();
    region.set_info(None);
}

/// `of_fpga_region_get_bridges`.
struct OfBridges {
    fpga: Fpga,
}

#[async_trait]
impl RegionOps for OfBridges {
    async fn get_bridges(&self, region: &FpgaRegion, list: &mut BridgeList) -> Result<()> {
        let Some(region_np) = region.parent().fwnode() else {
            return Ok(());
        };
        let info = region.info();
        let parent_br = region_np.parent();
        if let Some(p) = &parent_br {
            match self.fpga.of_bridge_get_to_list(p, info.as_ref(), list) {
                Err(e) if e.errno() == Errno::EBUSY => return Err(e),
                // Anything else: the parent is not a bridge.
                _ => {}
            }
        }
        let source = info
            .as_ref()
            .and_then(|i| i.overlay.clone())
            .unwrap_or_else(|| region_np.clone());
        for i in 0.. {
            let Some(br) = source.parse_phandle("fpga-bridges", i) else {
                break;
            };
            if parent_br.as_ref() == Some(&br) {
                continue;
            }
            if let Err(e) = self.fpga.of_bridge_get_to_list(&br, info.as_ref(), list) {
                if e.errno() == Errno::EBUSY {
                    list.put_all();
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Driver for OfRegionDriver {
    fn name(&self) -> &str {
        "of-fpga-region"
    }

    fn matches(&self, dev: &Device) -> bool {
        dev.compatible() == Some(FPGA_REGION_COMPATIBLE)
    }

    async fn probe(&self, dev: &Device) -> std::result::Result<(), ProbeError> {
        let node = dev
            .fwnode()
            .ok_or_else(|| ProbeError::Failed("no firmware node".into()))?;
        let mgr_node = find_mgr_node(&node).ok_or_else(|| {
            ProbeError::Defer(format!(
                "{}: no fpga-region node with an fpga-mgr phandle at or above it (EINVAL)",
                node.path()
            ))
        })?;
        let mgr = self
            .fpga
            .of_mgr_get(&mgr_node)
            .map_err(|e| ProbeError::Defer(format!("FPGA manager {}: {e}", mgr_node.path())))?;
        drop(mgr_node);
        let info = RegionInfo {
            mgr: Some(mgr),
            get_bridges: Some(Arc::new(OfBridges {
                fpga: self.fpga.clone(),
            })),
            compat_id: None,
        };
        let region = self
            .registrar
            .register_region(dev, Some(info))
            .await
            .map_err(|e| ProbeError::Failed(e.to_string()))?;
        let children = match self.fpga.core().populate(&node).await {
            Ok(p) => p,
            Err(e) => {
                region.unregister().await;
                return Err(ProbeError::Failed(format!("populating child regions: {e}")));
            }
        };
        lock(&self.bound).insert(dev.name().to_string(), Bound { region, children });
        Ok(())
    }

    async fn remove(&self, dev: &Device) {
        let Some(bound) = lock(&self.bound).remove(dev.name()) else {
            return;
        };
        self.fpga.core().depopulate(bound.children).await;
        // Unregister, then the manager reference goes with the last
        // handle on the region.
        bound.region.unregister().await;
    }
}
