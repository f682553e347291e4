//! Cross-crate: a scenario board's sysfs view written to disk reads back
//! with the kernel's layout and strings.

use backend_sim::Scenario;
use futures::executor::block_on;
use std::fs;

#[test]
fn demo_board_sysfs_tree_on_disk() {
    let text = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/demo-board.toml"
    ))
    .unwrap();
    let board = block_on(Scenario::parse(&text).unwrap().build()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    board.core.topology().write_sysfs(root).unwrap();

    let link = root.join("class/devlink/platform:soc:fpga-region0--platform:dma0");
    assert_eq!(fs::read_to_string(link.join("status")).unwrap(), "active\n");
    assert_eq!(fs::read_to_string(link.join("runtime_pm")).unwrap(), "1\n");
    assert_eq!(
        fs::read_to_string(link.join("auto_remove_on")).unwrap(),
        "never\n"
    );
    assert_eq!(
        fs::read_to_string(link.join("sync_state_only")).unwrap(),
        "0\n"
    );
    let supplier = fs::canonicalize(link.join("supplier")).unwrap();
    assert_eq!(
        supplier,
        fs::canonicalize(root.join("devices/platform/soc:fpga-region0")).unwrap()
    );
    // dma0 is a child of the region: its directory is below the region's.
    let dma = root.join("devices/platform/soc:fpga-region0/dma0");
    assert!(dma.join("supplier:platform:soc:fpga-region0").exists());
    assert!(fs::read_link(dma.join("driver"))
        .unwrap()
        .ends_with("bus/platform/drivers/sim,dma"));
    let stateless = root.join("class/devlink/platform:uart0--i2c:0-0048");
    assert_eq!(
        fs::read_to_string(stateless.join("status")).unwrap(),
        "not tracked\n"
    );
    // The region's fwnode hints were all satisfied before it bound.
    assert_eq!(
        fs::read_dir(root.join("class/devlink")).unwrap().count(),
        board.core.link_count()
    );
}
