//! The committed fixture trees of `tests/fixtures/` (see its README):
//! a realistic tree read field by field, and one tree per edge case.

use backend_linux_sysfs::{
    syscalls, AutoRemove, Kernel, Missing, Snapshot, SysfsError, SysfsRoot, XlnxManager,
};
use devlink_core::{ErrorKind, LinkState};
use fpga_core::MgrState;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> Result<Snapshot, SysfsError> {
    Snapshot::read(&SysfsRoot::at(fixture(name)))
}

#[test]
fn the_arm64_virt_tree_reads_field_by_field() {
    let s = read("arm64-virt").unwrap();
    // Seven bus devices and four class devices (fpga0, br0, region0, uio0).
    assert_eq!(s.devices.len(), 11);
    let pl061 = s.device("amba:9030000.pl061").unwrap();
    assert_eq!(pl061.path, "devices/platform/9030000.pl061");
    assert_eq!(pl061.driver.as_deref(), Some("pl061_gpio"));
    assert_eq!(pl061.of_node.as_deref(), Some("/pl061@9030000"));
    let keys = s.device("platform:gpio-keys").unwrap();
    assert_eq!(keys.waiting_for_supplier, Some(false));
    assert!(s.has_devlink_class && s.has_fpga_classes);

    let l = &s.links["amba:9030000.pl061--platform:gpio-keys"];
    assert_eq!(l.status, LinkState::Available);
    assert!(l.sync_state_only);
    assert!(!l.runtime_pm);
    assert_eq!(l.auto_remove_on, AutoRemove::ConsumerUnbind);
    assert_eq!(
        l.supplier.as_deref(),
        Some("devices/platform/9030000.pl061")
    );
    assert_eq!(l.consumer.as_deref(), Some("devices/platform/gpio-keys"));
    assert_eq!(
        s.links["platform:gpio-ctl--platform:regulator-b"].status,
        LinkState::Dormant
    );

    // Why is regulator-b not bound? Its GPIO controller has no driver.
    let b = s.device("regulator-b").unwrap();
    assert_eq!(
        s.waiting_for(b),
        vec![Missing::Supplier {
            supplier: "platform:gpio-ctl".into(),
            status: LinkState::Dormant
        }]
    );
    // Everything that depends on the PL061, suppliers first.
    let deps: Vec<&str> = s
        .dependents(pl061)
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(deps, ["gpio-keys", "regulator-a"]);

    assert_eq!(s.managers.len(), 1);
    assert_eq!(s.managers[0].name, "Fake FPGA Manager");
    assert_eq!(s.managers[0].state, MgrState::Operating);
    assert!(s.managers[0].status.unwrap().is_empty());
    assert!(s.bridges[0].enabled);
    assert_eq!(s.regions[0].compat_id, None);

    assert_eq!(s.uio.len(), 1);
    let u = &s.uio[0];
    assert_eq!(
        (u.dev.as_str(), u.name.as_str()),
        ("uio0", "uio_pci_generic")
    );
    assert_eq!(u.version, "0.01.0");
    assert_eq!(u.parent.as_deref(), Some("devices/pci0000:00/0000:00:03.0"));
    assert_eq!(u.maps, vec![(0, 0xfea0_0000, 0x10_0000)]);
}

#[test]
fn an_unknown_status_string_is_an_error_naming_file_and_text() {
    let e = read("edge-unknown-status").unwrap_err();
    let SysfsError::Parse { path, text, .. } = &e else {
        panic!("{e}")
    };
    assert!(path.ends_with("platform:gpio-ctl--platform:regulator-b/status"));
    assert_eq!(text, "exploding\n");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_missing_attribute_is_an_error_naming_the_file() {
    let e = read("edge-missing-attr").unwrap_err();
    assert!(e.to_string().contains("runtime_pm"), "{e}");
    assert_eq!(e.kind(), ErrorKind::NoDevice);
}

#[test]
fn dangling_entries_are_things_that_went_away_and_are_left_out() {
    let s = read("edge-dangling").unwrap();
    let full = read("arm64-virt").unwrap();
    assert_eq!(s.links.len(), full.links.len());
    assert_eq!(s.devices.len(), full.devices.len());
}

#[test]
fn a_kernel_without_the_devlink_class_reads_with_no_links() {
    let s = read("edge-no-devlink").unwrap();
    assert!(!s.has_devlink_class);
    assert!(s.links.is_empty());
    assert_eq!(s.devices.len(), 11);
}

#[test]
fn a_kernel_without_fpga_support_says_so() {
    let s = read("edge-no-fpga").unwrap();
    assert!(!s.has_fpga_classes);
    let e = XlnxManager::open(&SysfsRoot::at(fixture("edge-no-fpga")), "fpga0").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("FPGA"), "{e}");
}

#[test]
fn an_attribute_read_costs_an_open_and_one_read_and_no_stat() {
    let root = SysfsRoot::at(fixture("arm64-virt"));
    let before = syscalls();
    Snapshot::read(&root).unwrap();
    let n = syscalls().since(&before);
    assert!(n.attr_reads > 20, "{n:?}");
    assert_eq!(n.stat, 0, "{n:?}");
    // Every attribute read: one open and one read. Directory handles add
    // opens of their own; reads are only ever attribute reads.
    assert_eq!(n.read, n.attr_reads, "{n:?}");
}

/// The child half of the permission tests: runs as an unprivileged user
/// (root would pass every permission check).
#[test]
fn permission_child() {
    let Ok(dir) = std::env::var("SYSFS_PERMISSION_CHILD") else {
        return;
    };
    let root = SysfsRoot::at(&dir);
    match Snapshot::read(&root) {
        Ok(_) => println!("READ-OK"),
        Err(e) => println!("READ-ERROR kind={:?} {e}", e.kind()),
    }
    let k = Kernel::new(root);
    match k.unbind("platform:gpio-keys", std::time::Duration::from_millis(200)) {
        Ok(_) => println!("UNBIND-OK"),
        Err(e) => println!("UNBIND-ERROR kind={:?} {e}", e.kind()),
    }
}

#[test]
fn permission_denied_is_a_clear_error_naming_the_file() {
    use std::os::unix::process::CommandExt;
    // Who are we? (/proc says it without another dependency.)
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let root_user = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixture("arm64-virt"))
        .arg(&tree)
        .status()
        .unwrap();
    assert!(st.success());
    // A link attribute nobody may read, and a read-only driver directory.
    let status_file =
        tree.join("devices/virtual/devlink/amba:9030000.pl061--platform:gpio-keys/status");
    let chmod = |mode: &str, p: &Path| {
        assert!(std::process::Command::new("chmod")
            .arg(mode)
            .arg(p)
            .status()
            .unwrap()
            .success())
    };
    chmod("0000", &status_file);
    std::fs::write(tree.join("bus/platform/drivers/gpio-keys/unbind"), "").unwrap();
    chmod("0444", &tree.join("bus/platform/drivers/gpio-keys/unbind"));
    chmod("a+rx", dir.path());
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "permission_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("SYSFS_PERMISSION_CHILD", &tree);
    if root_user {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("READ-ERROR") {
        // The test binary may sit where nobody can reach it.
        eprintln!("child did not run as expected: {text}");
        assert!(!out.status.success() || text.contains("running"), "{text}");
        return;
    }
    assert!(
        text.contains("READ-ERROR kind=InvalidInput") || text.contains("Permission denied"),
        "{text}"
    );
    assert!(text.contains("status"), "{text}");
    chmod("0644", &status_file);
    // Restore readability, keep the unbind file read-only: the unbind
    // must fail on the write, naming it.
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("UNBIND-ERROR")
            && text.contains("unbind")
            && text.contains("Permission denied"),
        "{text}"
    );
}

/// The kernel's own count of this thread's `read` calls
/// (`/proc/thread-self/io`, `syscr`).
fn kernel_read_calls() -> Option<u64> {
    let t = std::fs::read_to_string("/proc/thread-self/io").ok()?;
    t.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_crates_read_count_matches_the_kernels() {
    let Some(a) = kernel_read_calls() else {
        eprintln!("no /proc/thread-self/io here");
        return;
    };
    // What reading the counter itself costs.
    let b = kernel_read_calls().unwrap();
    let cost = b - a;
    let root = SysfsRoot::at(fixture("arm64-virt"));
    let ours = syscalls();
    let k0 = kernel_read_calls().unwrap();
    Snapshot::read(&root).unwrap();
    let k1 = kernel_read_calls().unwrap();
    let n = syscalls().since(&ours);
    // `syscr` counts `read` calls (not `getdents64`): it must equal the
    // crate's own count exactly.
    let kernel = k1 - k0 - cost;
    assert_eq!(
        kernel, n.read,
        "kernel's syscr against the crate's count: {n:?}"
    );
}
