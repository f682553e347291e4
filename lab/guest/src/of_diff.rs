//! fw_devlink from a device tree, differentially: the links the kernel
//! made for an applied overlay's devices against the links devlink-core
//! makes from the same `.dtbo` (its nodes attached by
//! `devlink_core::of::attach_fdt`, one platform device per child of the
//! region node as the kernel's overlay notifier makes them, in the same
//! order, and the lab's `lab-dt` driver for `lab,dt-device`). Compared:
//! every link between the overlay's devices (ends, status,
//! `sync_state_only`), and each device's driver and
//! `waiting_for_supplier`.

use async_trait::async_trait;
use devlink_core::fdt::{Fdt, FragmentTarget};
use devlink_core::{Device, Driver, DriverCore, KernelCompat, ProbeError, Topology};
use futures::executor::block_on;
use std::collections::BTreeSet;
use std::sync::Arc;

struct LabDt;

#[async_trait]
impl Driver for LabDt {
    fn name(&self) -> &str {
        "lab,dt-device"
    }
    async fn probe(&self, _dev: &Device) -> Result<(), ProbeError> {
        Ok(())
    }
}

/// One side's view of the overlay's devices: links as
/// `supplier -> consumer status sync_state_only`, devices as
/// `key bound|unbound waiting_for_supplier`.
#[derive(Debug, PartialEq, Eq)]
pub struct View {
    pub links: BTreeSet<String>,
    pub devices: BTreeSet<String>,
}

/// The view of `t` restricted to devices whose key starts with `prefix`.
pub fn view(t: &Topology, prefix: &str) -> View {
    let links = t
        .links()
        .iter()
        .filter(|l| l.supplier_key.starts_with(prefix) && l.consumer_key.starts_with(prefix))
        .map(|l| {
            format!(
                "{} -> {} {} sync_state_only={}",
                l.supplier_key,
                l.consumer_key,
                l.status,
                l.flags.contains(devlink_core::LinkFlags::SYNC_STATE_ONLY)
            )
        })
        .collect();
    let devices = t
        .devices()
        .iter()
        .filter(|d| d.key().starts_with(prefix))
        .map(|d| {
            format!(
                "{} {} waiting_for_supplier={:?}",
                d.key(),
                if d.driver.is_some() {
                    "bound"
                } else {
                    "unbound"
                },
                d.waiting_for_supplier
            )
        })
        .collect();
    View { links, devices }
}

/// What devlink-core makes of `dtbo`'s fragment for `region_node` (a
/// root-level node, `/lab-fpga-region`).
pub fn devlink_core_view(dtbo: &[u8], region_node: &str, prefix: &str) -> Result<View, String> {
    let fdt = Fdt::parse(dtbo).map_err(|e| e.to_string())?;
    let frag = fdt
        .fragments()
        .into_iter()
        .find(|f| f.target == FragmentTarget::Path(region_node.to_string()))
        .ok_or_else(|| format!("no fragment for {region_node}"))?
        .overlay
        .clone();
    let core = DriverCore::builder()
        .kernel_compat(KernelCompat::KERNEL)
        .build()
        .map_err(|e| e.to_string())?;
    let module = core.module("lab_overlay");
    block_on(core.driver_register(&module, Arc::new(LabDt))).map_err(|e| e.to_string())?;
    // The target: the root, or a node under it with a device of its own
    // (of-fpga-region's platform device).
    let (region, rdev) = match region_node.trim_start_matches('/') {
        "" => (core.of_root(), None),
        name => {
            let region = core.of_root().add_child(name);
            region.set_compatible("fpga-region");
            let rdev = core
                .device(&region.device_name())
                .bus("platform")
                .fwnode(&region)
                .create();
            block_on(core.device_add(&rdev)).map_err(|e| e.to_string())?;
            (region, Some(rdev))
        }
    };
    // The tree holds its nodes weakly: these handles keep them.
    let _nodes = devlink_core::of::attach_fdt(&region, &frag, false);
    // The overlay notifier makes a platform device of every child of a
    // populated bus node (or of the root), with or without `compatible`,
    // in tree order.
    // Not for a disabled node (`of_device_is_available`).
    let disabled: Vec<&str> = frag
        .children
        .iter()
        .filter(|c| {
            c.prop_str("status")
                .is_some_and(|s| s != "okay" && s != "ok")
        })
        .map(|c| c.name.as_str())
        .collect();
    let mut devs = Vec::new();
    for n in region.children() {
        if disabled.contains(&n.name()) {
            continue;
        }
        let mut b = core.device(&n.device_name()).bus("platform").fwnode(&n);
        if let Some(p) = &rdev {
            b = b.parent(p);
        }
        let d = b.create();
        // A deferred probe is not an error of the add.
        let _ = block_on(core.device_add(&d));
        devs.push(d);
    }
    block_on(core.retry_deferred());
    let v = view(&core.topology(), prefix);
    drop(devs);
    Ok(v)
}

/// Both views, side by side where they differ. `declared` are the
/// differences known and documented (`docs/real-kernel.md`): each must
/// show, and nothing else may, so a fix on either side is noticed.
pub fn compare(kernel: &View, core: &View, declared: &[&str]) -> (Result<(), String>, Vec<String>) {
    let mut found = Vec::new();
    for (what, k, c) in [
        ("link", &kernel.links, &core.links),
        ("device", &kernel.devices, &core.devices),
    ] {
        for only in k.difference(c) {
            found.push(format!("kernel only {what}: {only}"));
        }
        for only in c.difference(k) {
            found.push(format!("devlink-core only {what}: {only}"));
        }
    }
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|f| !declared.contains(&f.as_str()))
        .collect();
    let missing: Vec<&&str> = declared
        .iter()
        .filter(|d| !found.iter().any(|f| f == *d))
        .collect();
    let mut details: Vec<String> = found
        .iter()
        .map(|f| {
            if declared.contains(&f.as_str()) {
                format!("declared: {f}")
            } else {
                f.clone()
            }
        })
        .collect();
    details.extend(
        missing
            .iter()
            .map(|m| format!("declared but not shown: {m}")),
    );
    let outcome = if kernel.links.is_empty() {
        Err("the kernel made no links: nothing was compared".into())
    } else if !unexpected.is_empty() || !missing.is_empty() {
        Err(format!(
            "{} unexpected difference(s), {} declared one(s) not shown",
            unexpected.len(),
            missing.len()
        ))
    } else {
        Ok(())
    };
    (outcome, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use devlink_core::fdt::FdtNode;

    /// A two-device region overlay as dtc writes one (local phandles).
    fn blob(target: &str) -> Vec<u8> {
        let mut src = FdtNode::new("a-src");
        src.set_str("compatible", "lab,dt-device");
        src.set_cells("#clock-cells", &[0]);
        src.set_cells("phandle", &[1]);
        let mut c1 = FdtNode::new("a-c1");
        c1.set_str("compatible", "lab,dt-device");
        c1.set_cells("clocks", &[1]);
        let mut w = FdtNode::new("a-waiter");
        w.set_str("compatible", "lab,dt-device");
        w.set_cells("clocks", &[2]);
        let mut holder = FdtNode::new("a-holder");
        let mut pending = FdtNode::new("pending");
        pending.set_str("compatible", "lab,dt-device");
        pending.set_cells("#clock-cells", &[0]);
        pending.set_cells("phandle", &[2]);
        holder.children.push(pending);
        let mut ov = FdtNode::new("__overlay__");
        ov.children.extend([src, c1, w, holder]);
        let mut frag = FdtNode::new("fragment@0");
        frag.set_str("target-path", target);
        frag.children.push(ov);
        let mut root = FdtNode::new("");
        root.children.push(frag);
        Fdt { root }.to_bytes()
    }

    /// Two nodes naming each other: fw_devlink's cycle check makes both
    /// links sync-state-only, and each goes when its consumer binds, as
    /// the kernel ends (the lab's `links` overlay).
    #[test]
    fn a_two_node_cycle_leaves_no_link() {
        let node = |name: &str, ph: u32, other: u32| {
            let mut n = FdtNode::new(name);
            n.set_str("compatible", "lab,dt-device");
            n.set_cells("#clock-cells", &[0]);
            n.set_cells("phandle", &[ph]);
            n.set_cells("clocks", &[other]);
            n
        };
        let mut ov = FdtNode::new("__overlay__");
        ov.children
            .extend([node("l-cycle-x", 1, 2), node("l-cycle-y", 2, 1)]);
        let mut frag = FdtNode::new("fragment@0");
        frag.set_str("target-path", "/");
        frag.children.push(ov);
        let mut root = FdtNode::new("");
        root.children.push(frag);
        let v = devlink_core_view(&Fdt { root }.to_bytes(), "/", "platform:l-").unwrap();
        assert!(v.links.is_empty(), "{v:?}");
        assert_eq!(
            v.devices.iter().filter(|d| d.contains(" bound ")).count(),
            2,
            "{v:?}"
        );
    }

    #[test]
    fn devlink_core_makes_the_links_the_blob_implies() {
        for (target, prefix) in [
            ("/lab-fpga-region", "platform:lab-fpga-region:a-"),
            ("/", "platform:a-"),
        ] {
            let v = devlink_core_view(&blob(target), target, prefix).unwrap();
            let links: Vec<&String> = v.links.iter().collect();
            assert_eq!(
                links,
                [&format!(
                    "{prefix}src -> {prefix}c1 active sync_state_only=false"
                )],
                "{v:?}"
            );
            assert!(v.devices.contains(&format!(
                "{prefix}waiter unbound waiting_for_supplier=Some(true)"
            )));
            assert!(v.devices.contains(&format!(
                "{prefix}holder unbound waiting_for_supplier=Some(false)"
            )));
        }
    }
}
