//! Spec `device-links.md` §8, behaviours 79–84 (`waiting_for_supplier`,
//! §7.5, and the overlay scenario of §6), plus the seed scenario: destroying
//! an overlay changeset while a link release still holds one of its nodes.

mod common;
use common::*;
use devlink_core::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NODE: &str = "/fpga-bus/region";

/// An applied overlay changeset with one node, `/fpga-bus/region`, a
/// platform device populated from it (bound to driver `region`), and an
/// `ACTIVE` link from a bound base device `bridge` to it.
struct Overlay {
    /// The base-tree parent; kept alive (the tree holds no references).
    _parent: FwNode,
    cs: Changeset,
    node: FwNodeWeak,
    populated: Option<Populated>,
    bridge: Device,
    link: Link,
}

fn overlay(b: &Bench) -> Overlay {
    let parent = b.core.of_root().add_child("fpga-bus");
    let node = parent.new_detached("region");
    node.set_compatible("region");
    let watch = node.downgrade();
    let mut cs = b.core.changeset();
    cs.attach_node(node); // the changeset's reference
    cs.apply().unwrap();
    let (bridge, _) = b.bound("bridge");
    b.driver("region");
    let populated = block_on(b.core.populate(&parent)).unwrap();
    assert_eq!(populated.devices().len(), 1);
    let region = &populated.devices()[0];
    assert_eq!(region.name(), "fpga-bus:region");
    assert_eq!(region.driver_name().as_deref(), Some("region"));
    let link = b
        .core
        .link_add(region, &bridge, LinkFlags::empty())
        .unwrap();
    assert_eq!(link.state().unwrap(), LinkState::Active);
    assert_eq!(watch.path(), NODE);
    assert_eq!(watch.refcount(), 2, "changeset + device");
    assert_eq!(region.refcount(), 3, "populate + registration + link");
    assert_eq!(bridge.refcount(), 3, "handle + registration + link");
    Overlay {
        _parent: parent,
        cs,
        node: watch,
        populated: Some(populated),
        bridge,
        link,
    }
}

fn overlay_errors(b: &Bench) -> Vec<Diagnostic> {
    b.core
        .diagnostics()
        .snapshot()
        .into_iter()
        .filter(|d| {
            matches!(
                d,
                Diagnostic::OverlayRefcount { .. } | Diagnostic::OverlayLeakAtRelease { .. }
            )
        })
        .collect()
}

/// Drops `hold` from another thread after a short delay, so the caller is
/// inside the barrier when the releases run.
fn release_later(hold: RemovalHold) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(hold);
    })
}

// ---------------------------------------------------------------------------
// The seed scenario
// ---------------------------------------------------------------------------

#[test]
fn seed_overlay_destroy_waits_for_link_releases() {
    for hold_released_by_other_thread in [true, false] {
        let how = if hold_released_by_other_thread {
            "hold released during the barrier"
        } else {
            "hold released before destroy"
        };
        let b = Bench::new();
        let mut o = overlay(&b);
        let hold = b.core.hold_removals();

        block_on(b.core.depopulate(o.populated.take().unwrap()));
        assert!(!o.link.exists(), "{how}: device_del deleted the link");
        assert_eq!(b.core.find_device("fpga-bus:region"), None, "{how}");
        assert_eq!(b.core.removal_queue().pending(), 1, "{how}");
        assert_eq!(o.node.refcount(), 2, "{how}: the device still holds it");
        assert_eq!(o.bridge.refcount(), 3, "{how}: release still pending");
        block_on(o.cs.revert()).unwrap();

        // Without waiting: refused, and nothing is destroyed.
        match o.cs.try_destroy() {
            Err(Error::NodeStillReferenced {
                path,
                expected,
                actual,
            }) => {
                assert_eq!((path.as_str(), expected, actual), (NODE, 1, 2), "{how}")
            }
            other => panic!("{how}: expected NodeStillReferenced, got {other:?}"),
        }
        assert_eq!(o.cs.nodes().len(), 1, "{how}: changeset intact");
        assert_eq!(o.node.refcount(), 2, "{how}");
        assert!(!o.node.is_freed() && !o.node.is_leaked(), "{how}");

        // With the barrier.
        if hold_released_by_other_thread {
            let t = release_later(hold);
            o.cs.destroy().unwrap();
            t.join().unwrap();
        } else {
            drop(hold);
            o.cs.destroy().unwrap();
        }

        assert_eq!(b.core.removal_queue().pending(), 0, "{how}");
        assert_eq!(o.bridge.refcount(), 2, "{how}: link released the bridge");
        assert!(o.cs.nodes().is_empty(), "{how}");
        assert_eq!(o.node.refcount(), 0, "{how}");
        assert!(o.node.is_freed(), "{how}: the node is freed");
        assert!(!o.node.is_leaked(), "{how}");
        assert_eq!(
            overlay_errors(&b),
            [Diagnostic::OverlayRefcount {
                path: NODE.into(),
                expected: 1,
                actual: 2
            }],
            "{how}: only the refused try_destroy reported the node"
        );
        drop(o.cs); // already destroyed: nothing more happens
        assert_eq!(overlay_errors(&b).len(), 1, "{how}");
    }
}

// ---------------------------------------------------------------------------
// 79–84
// ---------------------------------------------------------------------------

#[test]
fn b79_waiting_for_supplier_follows_firmware_suppliers() {
    let b = Bench::new();
    assert_eq!(b.core.config().fw_devlink, FwDevlinkMode::Rpm, "strict");
    let root = b.core.of_root();
    let pmic_node = root.add_child("pmic");
    pmic_node.set_compatible("pmic");
    let sensor_node = root.add_child("sensor");
    sensor_node.set_compatible("sensor");
    sensor_node.add_supplier_hint(&pmic_node);
    let in_sysfs = |b: &Bench| {
        b.core
            .topology()
            .named("sensor")
            .expect("registered")
            .waiting_for_supplier
    };

    let sensor = b
        .core
        .device("sensor")
        .bus("platform")
        .fwnode(&sensor_node)
        .create();
    block_on(b.core.device_add(&sensor)).unwrap();
    assert_eq!(sensor.waiting_for_supplier(), Some(true));
    assert_eq!(in_sysfs(&b), Some(true));
    b.driver("sensor");
    assert!(
        b.log.entries().is_empty(),
        "fw_devlink holds the probe back"
    );
    assert_eq!(sensor.waiting_for_supplier(), Some(true));

    let pmic = b
        .core
        .device("pmic")
        .bus("platform")
        .fwnode(&pmic_node)
        .create();
    block_on(b.core.device_add(&pmic)).unwrap();
    let link = b
        .core
        .find_link(&sensor, &pmic)
        .expect("fw_devlink linked them");
    assert_eq!(
        link.flags().unwrap(),
        LinkFlags::INFERRED
            | LinkFlags::AUTOPROBE_CONSUMER
            | LinkFlags::PM_RUNTIME
            | LinkFlags::MANAGED
    );
    assert_eq!(sensor.waiting_for_supplier(), Some(false));
    assert_eq!(in_sysfs(&b), Some(false));
    assert_eq!(sensor.driver_name(), None);

    b.driver("pmic");
    assert_eq!(sensor.driver_name().as_deref(), Some("sensor"));
    assert_eq!(sensor.waiting_for_supplier(), None, "file gone after bind");
    assert_eq!(in_sysfs(&b), None);
}

#[test]
fn b80_no_waiting_for_supplier_when_permissive_or_without_fwnode() {
    for mode in [FwDevlinkMode::Permissive, FwDevlinkMode::Off] {
        let b = Bench::with_core(DriverCore::builder().fw_devlink(mode).build().unwrap());
        let root = b.core.of_root();
        let missing = root.add_child("missing");
        let node = root.add_child("sensor");
        node.set_compatible("sensor");
        node.add_supplier_hint(&missing);
        let d = b
            .core
            .device("sensor")
            .bus("platform")
            .fwnode(&node)
            .create();
        block_on(b.core.device_add(&d)).unwrap();
        assert_eq!(d.waiting_for_supplier(), None, "{mode:?}");
        let view = b.core.topology();
        assert_eq!(
            view.device(view.find("sensor").unwrap())
                .waiting_for_supplier,
            None,
            "{mode:?}"
        );
        b.driver("sensor");
        assert_eq!(
            d.driver_name().as_deref(),
            Some("sensor"),
            "{mode:?}: not gated"
        );
    }

    let b = Bench::new();
    assert!(b.core.config().fw_devlink.is_strict());
    let d = b.dev("plain");
    assert!(d.fwnode().is_none());
    assert_eq!(d.waiting_for_supplier(), None);
    assert_eq!(
        b.core
            .topology()
            .named("plain")
            .unwrap()
            .waiting_for_supplier,
        None
    );
}

#[test]
fn b81_destroy_without_barrier_logs_and_leaks_the_node() {
    let b = Bench::new();
    let mut o = overlay(&b);
    let hold = b.core.hold_removals();
    block_on(b.core.depopulate(o.populated.take().unwrap()));
    block_on(o.cs.revert()).unwrap();

    o.cs.destroy_without_barrier();

    let refcount = Diagnostic::OverlayRefcount {
        path: NODE.into(),
        expected: 1,
        actual: 2,
    };
    assert_eq!(overlay_errors(&b), std::slice::from_ref(&refcount));
    assert_eq!(
        refcount.message(),
        format!(
            "OF: ERROR: memory leak, expected refcount 1 instead of 2, \
             of_node_get()/of_node_put() unbalanced - destroy cset entry: \
             attach overlay node {NODE}"
        )
    );
    assert_eq!(o.node.refcount(), 1, "only the pending device holds it");

    drop(hold);
    b.core.wait_removal().unwrap(); // the late put runs
    let leak = Diagnostic::OverlayLeakAtRelease { path: NODE.into() };
    assert_eq!(overlay_errors(&b), [refcount, leak.clone()]);
    assert_eq!(
        leak.message(),
        format!("OF: ERROR: memory leak before free overlay changeset,  {NODE}")
    );
    assert_eq!(o.node.refcount(), 0);
    assert!(o.node.is_leaked(), "released but never freed");
    assert!(!o.node.is_freed());
    assert_eq!(o.bridge.refcount(), 2);
}

#[test]
fn b82_destroy_with_barrier_frees_the_node_silently() {
    let b = Bench::new();
    let mut o = overlay(&b);
    let hold = b.core.hold_removals();
    block_on(b.core.depopulate(o.populated.take().unwrap()));
    block_on(o.cs.revert()).unwrap();
    assert_eq!(o.node.refcount(), 2);

    let t = release_later(hold);
    o.cs.destroy().unwrap();
    t.join().unwrap();

    assert!(overlay_errors(&b).is_empty(), "{:?}", overlay_errors(&b));
    assert!(o.node.is_freed());
    assert!(!o.node.is_leaked());
    assert_eq!(o.bridge.refcount(), 2);
}

#[test]
fn b83_genuine_leak_still_reported_with_barrier() {
    let b = Bench::new();
    let mut o = overlay(&b);
    // Some driver took a node reference and never put it.
    let leaked = o.node.upgrade().unwrap();
    block_on(b.core.depopulate(o.populated.take().unwrap()));
    block_on(o.cs.revert()).unwrap();

    let err = o.cs.destroy().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::NodeStillReferenced { path, expected: 1, actual: 2 } if path == NODE
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert_eq!(
        overlay_errors(&b),
        [Diagnostic::OverlayRefcount {
            path: NODE.into(),
            expected: 1,
            actual: 2
        }]
    );
    assert_eq!(b.core.removal_queue().pending(), 0, "the barrier did run");
    assert_eq!(o.bridge.refcount(), 2);
    assert_eq!(o.cs.nodes().len(), 1, "the library keeps the changeset");

    drop(leaked);
    o.cs.destroy().unwrap();
    assert!(o.node.is_freed());
}

#[test]
fn b84_barrier_covers_links_deleted_by_revert_notifiers() {
    let b = Bench::new();
    let mut o = overlay(&b);
    // The notifier removes the device (as an I2C client removal would),
    // deleting its links during the revert.
    let slot = Arc::new(Mutex::new(o.populated.take()));
    let notified = Arc::new(Mutex::new(Vec::new()));
    {
        let (core, slot, notified) = (b.core.clone(), slot.clone(), notified.clone());
        o.cs.on_revert(Arc::new(move |node: FwNodeWeak| -> ExitFuture {
            notified.lock().unwrap().push(node.path().to_string());
            let populated = slot.lock().unwrap().take();
            let core = core.clone();
            Box::pin(async move {
                if let Some(p) = populated {
                    core.depopulate(p).await;
                }
            })
        }));
    }
    let hold = b.core.hold_removals();
    block_on(o.cs.revert()).unwrap();
    assert_eq!(*notified.lock().unwrap(), [NODE]);
    assert!(!o.link.exists(), "the notifier deleted the link");
    assert_eq!(b.core.removal_queue().pending(), 1);
    assert_eq!(o.node.refcount(), 2);

    let t = release_later(hold);
    o.cs.destroy().unwrap();
    t.join().unwrap();

    assert!(overlay_errors(&b).is_empty(), "{:?}", overlay_errors(&b));
    assert!(o.node.is_freed());
    assert_eq!(o.bridge.refcount(), 2);
}
