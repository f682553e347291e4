mod common;
use common::*;
use devlink_core::*;

#[test]
fn unbinding_a_supplier_removes_consumers_first() {
    let b = Bench::new();
    let (a, _) = b.bound("a");
    let (bb, _) = b.bound("b");
    let (c, _) = b.bound("c");
    b.core.link_add(&bb, &a, LinkFlags::empty()).unwrap();
    b.core.link_add(&c, &bb, LinkFlags::empty()).unwrap();
    b.log.take();
    block_on(b.core.unbind(&a)).unwrap();
    assert_eq!(
        b.log.with_prefix("remove:"),
        [
            "remove:platform:c",
            "remove:platform:b",
            "remove:platform:a"
        ]
    );
}

/// The path an unbind reports is the device's sysfs path as the topology
/// gives it, for devices at a bus root, under a parent, under a parent's
/// parent, and in a class (computed for the one device, not a snapshot).
#[test]
fn an_unbind_reports_the_path_the_topology_gives() {
    use devlink_core::drive::Unbind;
    let b = common::Bench::new();
    let (top, _) = b.bound("top");
    let mid = b
        .core
        .device("mid")
        .bus("platform")
        .compatible("mid")
        .parent(&top)
        .create();
    common::block_on(b.core.device_add(&mid)).unwrap();
    let leaf = b
        .core
        .device("leaf")
        .bus("i2c")
        .compatible("leaf")
        .parent(&mid)
        .create();
    common::block_on(b.core.device_add(&leaf)).unwrap();
    let classy = b.core.device("c0").class("misc").compatible("c0").create();
    common::block_on(b.core.device_add(&classy)).unwrap();
    for n in ["mid", "leaf", "c0"] {
        b.driver(n);
    }
    let topo = b.core.topology();
    for key in ["i2c:leaf", "platform:mid", "misc:c0", "platform:top"] {
        let want = topo.device(topo.find(key).unwrap()).path.clone();
        let got = common::block_on(b.core.unbind_one(key)).unwrap().unwrap();
        assert_eq!(got.path, want, "{key}");
    }
    assert_eq!(
        topo.device(topo.find("i2c:leaf").unwrap()).path,
        "devices/platform/top/mid/leaf"
    );
}
