//! The reader against fixture trees written from the simulator's own sysfs
//! view (so every state the simulator reaches is read back and compared),
//! and against broken trees (every error names the file and the text).

use backend_linux_sysfs::{read_fpga, read_topology, SysfsError, SysfsRoot};
use backend_sim::{Board, Scenario};
use devlink_core::{LinkFlags, Topology, Waiting};
use fpga_core::ReadFpga;
use futures::executor::block_on;
use std::path::Path;

const DEMO: &str = include_str!("../../../tests/scenarios/demo-board.toml");

fn board(text: &str) -> Board {
    block_on(Scenario::parse(text).unwrap().build()).unwrap()
}

/// Writes the board's sysfs (devices, links, FPGA classes) under `dir`.
fn write_fixture(b: &Board, dir: &Path) {
    b.core.topology().write_sysfs(dir).unwrap();
    block_on(b.fpga.fpga_view())
        .unwrap()
        .write_sysfs(dir)
        .unwrap();
}

/// Reads the fixture back and checks it against the simulator, field by
/// field, and query by query.
fn assert_same(b: &Board) -> Topology {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(b, dir.path());
    let root = SysfsRoot::at(dir.path());
    let read = read_topology(&root).unwrap();
    let sim = b.core.topology();
    let keys = |t: &Topology| {
        let mut v: Vec<String> = t.devices().iter().map(|d| d.key()).collect();
        v.sort();
        v
    };
    assert_eq!(keys(&read), keys(&sim));
    for d in sim.devices() {
        let r = read.named(&d.key()).unwrap();
        assert_eq!(r.name, d.name);
        assert_eq!(r.path, d.path);
        assert_eq!(r.bus, d.bus, "{}", d.path);
        assert_eq!(r.class, d.class, "{}", d.path);
        assert_eq!(r.driver, d.driver, "{}", d.path);
        assert_eq!(r.fwnode, d.fwnode, "{}", d.path);
        assert_eq!(r.waiting_for_supplier, d.waiting_for_supplier, "{}", d.path);
        let parent = |t: &Topology, p: Option<usize>| p.map(|p| t.device(p).key());
        assert_eq!(
            parent(&read, r.parent),
            parent(&sim, d.parent),
            "{}",
            d.path
        );
    }
    assert_eq!(read.links().len(), sim.links().len());
    for l in sim.links() {
        let r = read.link_named(&l.name).unwrap();
        assert_eq!(r.status, l.status, "{}", l.name);
        assert_eq!(r.flags, l.flags & LinkFlags::SYSFS_VISIBLE, "{}", l.name);
        assert_eq!(r.supplier_key, l.supplier_key, "{}", l.name);
        assert_eq!(r.consumer_key, l.consumer_key, "{}", l.name);
        assert_eq!(r.sysfs_ends, l.sysfs_ends, "{}", l.name);
    }
    let fpga = read_fpga(&root).unwrap();
    let want = block_on(b.fpga.fpga_view()).unwrap();
    assert_eq!(fpga.managers.len(), want.managers.len());
    for (m, w) in fpga.managers.iter().zip(&want.managers) {
        assert_eq!((&m.dev, &m.name, m.state), (&w.dev, &w.name, w.state));
        assert_eq!(m.parent, w.parent);
    }
    assert_eq!(fpga.bridges.len(), want.bridges.len());
    assert_eq!(fpga.regions.len(), want.regions.len());
    // The same queries give the same answers, written once, over both.
    for d in sim.devices() {
        let (si, ri) = (sim.find(&d.key()).unwrap(), read.find(&d.key()).unwrap());
        let names = |t: &Topology, v: Vec<usize>| -> Vec<String> {
            v.into_iter().map(|i| t.device(i).key()).collect()
        };
        let got = names(&read, read.dependents(ri));
        let want = names(&sim, sim.dependents(si));
        assert_topological(&read, &got);
        let (mut g, mut w) = (got.clone(), want.clone());
        g.sort();
        w.sort();
        assert_eq!(g, w, "dependents of {}", d.key());
        let suppliers = |v: Vec<Waiting>| -> Vec<Waiting> {
            v.into_iter()
                .map(|w| match w {
                    Waiting::FwNode { .. } => Waiting::FwNode { path: None },
                    other => other,
                })
                .collect()
        };
        let (mut g, mut w) = (
            suppliers(read.waiting_for(ri)),
            suppliers(sim.waiting_for(si)),
        );
        g.dedup();
        w.dedup();
        assert_eq!(g, w, "waiting_for {}", d.key());
    }
    read
}

/// Every supplier (link or parent) comes before its consumer.
fn assert_topological(t: &Topology, order: &[String]) {
    let pos = |k: &str| order.iter().position(|x| x == k);
    for l in t.links().iter().filter(|l| !l.sync_state_only()) {
        if let (Some(a), Some(b)) = (pos(&l.supplier_key), pos(&l.consumer_key)) {
            assert!(
                a < b,
                "{} after its consumer {} in {order:?}",
                l.supplier_key,
                l.consumer_key
            );
        }
    }
}

#[test]
fn demo_board_reads_back_identically() {
    let b = board(DEMO);
    let t = assert_same(&b);
    let eth = t.named("eth0").unwrap();
    assert_eq!(
        t.device(eth.parent.unwrap()).path,
        "devices/platform/soc:fpga-region0"
    );
    let l = t.link_named("platform:dma0--platform:eth0").unwrap();
    assert_eq!(l.auto_remove_on(), "supplier unbind");
}

#[test]
fn states_after_unbind_read_back_identically() {
    let b = board(DEMO);
    let dma = b.core.find_device("dma0").unwrap();
    block_on(b.core.unbind(&dma)).unwrap();
    b.core.wait_removal().unwrap();
    let t = assert_same(&b);
    let eth = t.named("platform:eth0").unwrap();
    assert!(!eth.is_bound());
    // eth0's link to dma0 was AUTOREMOVE_SUPPLIER: gone.
    assert!(t.link_named("platform:dma0--platform:eth0").is_none());
}

#[test]
fn a_waiting_device_reads_back_with_its_missing_suppliers() {
    let text = r#"
[core]
fw_devlink = "on"

[[fwnode]]
path = "/soc/clk"
compatible = "clk"

[[fwnode]]
path = "/soc/uart"
compatible = "uart"
suppliers = ["/soc/clk", "/soc/pinctrl"]

[[fwnode]]
path = "/soc/pinctrl"
compatible = "pinctrl"

[[driver]]
name = "uart"

[[device]]
name = "soc:clk"
fwnode = "/soc/clk"

[[device]]
name = "soc:uart"
fwnode = "/soc/uart"
"#;
    let b = board(text);
    let t = assert_same(&b);
    let uart = t.find("soc:uart").unwrap();
    assert!(!t.device(uart).is_bound());
    assert_eq!(t.device(uart).fwnode.as_deref(), Some("/soc/uart"));
    let missing = t.waiting_for(uart);
    assert!(
        missing.contains(&Waiting::Supplier {
            supplier: "platform:soc:clk".into(),
            state: devlink_core::LinkState::Dormant
        }),
        "{missing:?}"
    );
    assert!(
        missing.contains(&Waiting::FwNode { path: None }),
        "{missing:?}"
    );
}

fn demo_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(&board(DEMO), dir.path());
    dir
}

/// The error of reading `dir` whole: the topology, then the FPGA classes.
fn read_err(dir: &Path) -> SysfsError {
    let root = SysfsRoot::at(dir);
    match read_topology(&root) {
        Err(e) => e,
        Ok(_) => read_fpga(&root).unwrap_err(),
    }
}

/// What reading `dir` whole says about its one bad file: the problem the
/// topology records on the object it concerns (the rest reads), or the
/// FPGA view's error.
fn read_problem(dir: &Path) -> String {
    let root = SysfsRoot::at(dir);
    let t = read_topology(&root).unwrap();
    let problems: Vec<String> = t
        .links()
        .iter()
        .flat_map(|l| l.problems.iter())
        .chain(t.devices().iter().flat_map(|d| d.problems.iter()))
        .map(|p| p.message.clone())
        .collect();
    match problems.as_slice() {
        [one] => one.clone(),
        [] => {
            let e = read_fpga(&root).unwrap_err();
            assert!(matches!(e, SysfsError::Parse { .. }), "{e}");
            assert_eq!(e.kind(), devlink_core::ErrorKind::InvalidInput);
            e.to_string()
        }
        many => panic!("one bad file, {} problems: {many:?}", many.len()),
    }
}

#[test]
fn unknown_strings_are_errors_naming_file_and_text() {
    let cases = [
        (
            "class/devlink/platform:dma0--platform:eth0/status",
            "broken\n",
            "\"broken\\n\"",
        ),
        (
            "class/devlink/platform:dma0--platform:eth0/auto_remove_on",
            "sometimes\n",
            "sometimes",
        ),
        (
            "class/devlink/platform:dma0--platform:eth0/runtime_pm",
            "yes\n",
            "yes",
        ),
        (
            "class/devlink/platform:dma0--platform:eth0/sync_state_only",
            "2\n",
            "\"2\\n\"",
        ),
        ("class/fpga_manager/fpga0/state", "exploded\n", "exploded"),
        ("class/fpga_manager/fpga0/status", "on fire\n", "on fire"),
        ("class/fpga_bridge/br0/state", "ajar\n", "ajar"),
    ];
    for (file, text, needle) in cases {
        let dir = demo_fixture();
        std::fs::write(dir.path().join(file), text).unwrap();
        let msg = read_problem(dir.path());
        let leaf = Path::new(file).file_name().unwrap().to_str().unwrap();
        assert!(msg.contains(leaf) && msg.contains(needle), "{file}: {msg}");
    }
}

#[test]
fn missing_attribute_and_missing_root_are_io_errors() {
    let dir = demo_fixture();
    let f = dir.path().join("class/fpga_manager/fpga0/state");
    std::fs::remove_file(&f).unwrap();
    let e = read_err(dir.path());
    assert!(matches!(e, SysfsError::Io { .. }), "{e}");
    assert!(e.to_string().contains("fpga0/state"), "{e}");
    let e = read_err(Path::new("/no/such/sysfs"));
    assert_eq!(e.kind(), devlink_core::ErrorKind::NoDevice);
    assert!(e.to_string().starts_with("/no/such/sysfs: "), "{e}");
}

#[test]
fn a_symlink_leaving_the_root_is_refused() {
    let dir = demo_fixture();
    let outside = tempfile::tempdir().unwrap();
    let link = dir
        .path()
        .join("class/devlink/platform:dma0--platform:eth0/supplier");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    // A problem of that link: its ends come from its name instead.
    let msg = read_problem(dir.path());
    assert!(msg.contains("a symlink into the sysfs root"), "{msg}");
    let t = read_topology(&SysfsRoot::at(dir.path())).unwrap();
    let l = t.link_named("platform:dma0--platform:eth0").unwrap();
    assert!(!l.sysfs_ends && !l.read("supplier"));
    assert_eq!(
        l.supplier.map(|s| t.device(s).key()).as_deref(),
        Some("platform:dma0")
    );
}

#[test]
fn an_empty_tree_is_an_empty_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let t = read_topology(&SysfsRoot::at(dir.path())).unwrap();
    assert!(t.devices().is_empty() && t.links().is_empty());
    let f = read_fpga(&SysfsRoot::at(dir.path())).unwrap();
    assert!(!f.supported && f.managers.is_empty());
}
