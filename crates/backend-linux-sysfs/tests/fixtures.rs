//! The reader against fixture trees written from the simulator's own sysfs
//! view (so every state the simulator reaches is read back and compared),
//! and against broken trees (every error names the file and the text).

use backend_linux_sysfs::{AutoRemove, Missing, Snapshot, SysfsError, SysfsRoot};
use backend_sim::{Board, Scenario};
use devlink_core::LinkFlags;
use futures::executor::block_on;
use std::path::Path;

const DEMO: &str = include_str!("../../../tests/scenarios/demo-board.toml");

fn board(text: &str) -> Board {
    block_on(Scenario::parse(text).unwrap().build()).unwrap()
}

/// Writes the board's sysfs (devices, links, FPGA classes) under `dir`.
fn write_fixture(b: &Board, dir: &Path) {
    b.core.sysfs_view().write_to(dir).unwrap();
    for (m, _) in &b.managers {
        let d = dir.join("class/fpga_manager").join(m.device().name());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), m.sysfs_name()).unwrap();
        std::fs::write(d.join("state"), m.sysfs_state()).unwrap();
        std::fs::write(d.join("status"), block_on(m.sysfs_status()).unwrap()).unwrap();
    }
    for (br, _) in &b.bridges {
        let d = dir.join("class/fpga_bridge").join(br.device().name());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), br.sysfs_name()).unwrap();
        std::fs::write(d.join("state"), block_on(br.sysfs_state()).unwrap()).unwrap();
    }
    for r in &b.regions {
        let d = dir.join("class/fpga_region").join(r.device().name());
        std::fs::create_dir_all(&d).unwrap();
        if let Ok(id) = r.sysfs_compat_id() {
            std::fs::write(d.join("compat_id"), id).unwrap();
        }
    }
}

/// Reads the fixture back and checks it against the simulator, field by
/// field.
fn assert_same(b: &Board) -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(b, dir.path());
    let snap = Snapshot::read(&SysfsRoot::at(dir.path())).unwrap();
    let view = b.core.sysfs_view();
    // Class devices of the FPGA classes are written as class dirs too, so
    // every device of the view is found.
    assert_eq!(
        snap.devices.len(),
        view.devices.len(),
        "{:#?}",
        snap.devices.keys()
    );
    for d in &view.devices {
        let s = &snap.devices[&d.path];
        assert_eq!(s.name, d.name);
        assert_eq!(s.bus, d.bus, "{}", d.path);
        assert_eq!(s.class, d.class, "{}", d.path);
        assert_eq!(s.driver, d.driver, "{}", d.path);
        assert_eq!(s.of_node, d.of_node, "{}", d.path);
        assert_eq!(s.waiting_for_supplier, d.waiting_for_supplier, "{}", d.path);
    }
    assert_eq!(snap.links.len(), view.links.len());
    for l in &view.links {
        let s = &snap.links[&l.name];
        assert_eq!(s.status, l.state, "{}", l.name);
        assert_eq!(s.auto_remove_on.sysfs(), l.flags.auto_remove_on());
        assert_eq!(s.runtime_pm, l.flags.contains(LinkFlags::PM_RUNTIME));
        assert_eq!(
            s.sync_state_only,
            l.flags.contains(LinkFlags::SYNC_STATE_ONLY)
        );
        assert_eq!(s.supplier, l.supplier, "{}", l.name);
        assert_eq!(s.consumer, l.consumer, "{}", l.name);
    }
    for (m, _) in &b.managers {
        let s = snap
            .managers
            .iter()
            .find(|s| s.dev == m.device().name())
            .unwrap();
        assert_eq!(s.state, m.state());
        assert_eq!(s.name, m.name());
    }
    assert_eq!(snap.bridges.len(), b.bridges.len());
    assert_eq!(snap.regions.len(), b.regions.len());
    // The same queries give the same answers.
    for d in b.core.devices() {
        let s = snap.device(&d.to_string()).unwrap();
        let mut want: Vec<String> = b
            .core
            .dependents(&d)
            .iter()
            .map(|x| x.to_string())
            .collect();
        let got: Vec<String> = snap.dependents(s).iter().map(|x| x.key()).collect();
        assert_topological(&snap, &got);
        let mut got_sorted = got.clone();
        got_sorted.sort();
        want.sort();
        assert_eq!(got_sorted, want, "dependents of {d}");
        let want: Vec<String> = b
            .core
            .waiting_for(&d)
            .iter()
            .filter_map(|w| match w {
                devlink_core::Waiting::Supplier { supplier, .. } => Some(supplier.clone()),
                devlink_core::Waiting::FwNode { .. } => None,
            })
            .collect();
        let got: Vec<String> = snap
            .waiting_for(s)
            .iter()
            .filter_map(|m| match m {
                Missing::Supplier { supplier, .. } => Some(supplier.clone()),
                Missing::FirmwareSupplier => None,
            })
            .collect();
        assert_eq!(got, want, "waiting_for {d}");
    }
    snap
}

/// Every supplier (link or parent) comes before its consumer.
fn assert_topological(snap: &Snapshot, order: &[String]) {
    let pos = |k: &str| order.iter().position(|x| x == k);
    for l in snap.links.values() {
        let (Some(s), Some(c)) = (&l.supplier, &l.consumer) else {
            continue;
        };
        let (s, c) = (snap.devices[s].key(), snap.devices[c].key());
        if let (Some(a), Some(b)) = (pos(&s), pos(&c)) {
            assert!(a < b, "{s} after its consumer {c} in {order:?}");
        }
    }
}

#[test]
fn demo_board_reads_back_identically() {
    let b = board(DEMO);
    let snap = assert_same(&b);
    let eth = snap.device("eth0").unwrap();
    assert_eq!(
        eth.parent.as_deref(),
        Some("devices/platform/soc:fpga-region0")
    );
    let l = &snap.links["platform:dma0--platform:eth0"];
    assert_eq!(l.auto_remove_on, AutoRemove::SupplierUnbind);
    assert_eq!(snap.managers[0].state.sysfs(), "power off");
    assert!(snap.bridges[0].enabled);
}

#[test]
fn states_after_unbind_read_back_identically() {
    let b = board(DEMO);
    let dma = b.core.find_device("dma0").unwrap();
    block_on(b.core.unbind(&dma)).unwrap();
    b.core.wait_removal().unwrap();
    let snap = assert_same(&b);
    let eth = snap.device("platform:eth0").unwrap();
    assert!(!eth.is_bound());
    // eth0's link to dma0 was AUTOREMOVE_SUPPLIER: gone.
    assert!(!snap.links.contains_key("platform:dma0--platform:eth0"));
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
    let snap = assert_same(&b);
    let uart = snap.device("soc:uart").unwrap();
    assert!(!uart.is_bound());
    assert_eq!(uart.of_node.as_deref(), Some("/soc/uart"));
    let missing = snap.waiting_for(uart);
    assert!(
        missing.contains(&Missing::Supplier {
            supplier: "platform:soc:clk".into(),
            status: devlink_core::LinkState::Dormant
        }),
        "{missing:?}"
    );
    assert!(missing.contains(&Missing::FirmwareSupplier), "{missing:?}");
}

fn demo_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(&board(DEMO), dir.path());
    dir
}

fn read_err(dir: &Path) -> SysfsError {
    Snapshot::read(&SysfsRoot::at(dir)).unwrap_err()
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
        ("class/fpga_manager/fpga0/state", "exploded\n", "exploded"),
        ("class/fpga_manager/fpga0/status", "on fire\n", "on fire"),
        ("class/fpga_bridge/br0/state", "ajar\n", "ajar"),
    ];
    for (file, text, needle) in cases {
        let dir = demo_fixture();
        std::fs::write(dir.path().join(file), text).unwrap();
        let e = read_err(dir.path());
        let msg = e.to_string();
        assert!(matches!(e, SysfsError::Parse { .. }), "{file}: {msg}");
        let leaf = Path::new(file).file_name().unwrap().to_str().unwrap();
        assert!(msg.contains(leaf) && msg.contains(needle), "{file}: {msg}");
        assert_eq!(e.kind(), devlink_core::ErrorKind::InvalidInput);
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
    let e = read_err(dir.path());
    assert!(
        e.to_string().contains("a symlink into the sysfs root"),
        "{e}"
    );
}

#[test]
fn an_empty_tree_is_an_empty_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snap = Snapshot::read(&SysfsRoot::at(dir.path())).unwrap();
    assert!(snap.devices.is_empty() && snap.links.is_empty() && snap.managers.is_empty());
}
