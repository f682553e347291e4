//! The committed fixture trees of `fixtures/sysfs/` at the workspace root (see its README):
//! a realistic tree read field by field, and one tree per edge case.

use backend_linux_sysfs::{
    read_fpga, read_topology, syscalls, Kernel, SysfsError, SysfsRoot, XlnxManager,
};
use devlink_core::drive::Unbind;
use devlink_core::{ErrorKind, LinkState, Topology, Waiting};
use fpga_core::MgrState;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/sysfs")
        .join(name)
}

fn read(name: &str) -> Result<Topology, SysfsError> {
    read_topology(&SysfsRoot::at(fixture(name)))
}

#[test]
fn the_arm64_virt_tree_reads_field_by_field() {
    let s = read("arm64-virt").unwrap();
    // Seven bus devices, four class devices (fpga0, br0, region0, uio0),
    // and two ancestors with a `uevent` file but no bus or class: the
    // platform bus's root device and the PCI host bridge.
    let keys: Vec<String> = s.devices().iter().map(|d| d.key()).collect();
    assert_eq!(s.devices().len(), 13, "{keys:?}");
    assert!(keys.contains(&":platform".to_string()), "{keys:?}");
    let pl061 = s.named("amba:9030000.pl061").unwrap();
    assert_eq!(pl061.path, "devices/platform/9030000.pl061");
    assert_eq!(pl061.driver.as_deref(), Some("pl061_gpio"));
    assert_eq!(pl061.fwnode.as_deref(), Some("/pl061@9030000"));
    let gk = s.named("platform:gpio-keys").unwrap();
    assert_eq!(gk.waiting_for_supplier, Some(false));
    assert!(s.notes().is_empty(), "{:?}", s.notes());

    let l = s
        .link_named("amba:9030000.pl061--platform:gpio-keys")
        .unwrap();
    assert_eq!(l.status, LinkState::Available);
    assert!(l.sync_state_only());
    assert!(!l.runtime_pm());
    assert_eq!(l.auto_remove_on(), "consumer unbind");
    assert_eq!(l.supplier_key, "amba:9030000.pl061");
    assert_eq!(
        s.device(l.consumer.unwrap()).path,
        "devices/platform/gpio-keys"
    );
    assert_eq!(
        s.link_named("platform:gpio-ctl--platform:regulator-b")
            .unwrap()
            .status,
        LinkState::Dormant
    );

    // Why is regulator-b not bound? Its GPIO controller has no driver.
    let b = s.find("regulator-b").unwrap();
    assert_eq!(
        s.waiting_for(b),
        vec![Waiting::Supplier {
            supplier: "platform:gpio-ctl".into(),
            state: LinkState::Dormant
        }]
    );
    // Everything that depends on the PL061, suppliers first; gpio-keys
    // consumes it through a sync-state-only link, which orders nothing.
    let deps: Vec<&str> = s
        .dependents(s.find("amba:9030000.pl061").unwrap())
        .iter()
        .map(|&d| s.device(d).name.as_str())
        .collect();
    assert_eq!(deps, ["regulator-a"]);
    // The UIO device's parent is the edu PCI device, whose parent is the
    // host bridge.
    let uio = s.named("uio:uio0").unwrap();
    let edu = s.device(uio.parent.unwrap());
    assert_eq!(edu.key(), "pci:0000:00:03.0");
    assert_eq!(s.device(edu.parent.unwrap()).key(), ":pci0000:00");

    let f = read_fpga(&SysfsRoot::at(fixture("arm64-virt"))).unwrap();
    assert!(f.supported);
    assert_eq!(f.managers.len(), 1);
    assert_eq!(f.managers[0].name, "Fake FPGA Manager");
    assert_eq!(f.managers[0].state, MgrState::Operating);
    assert!(f.managers[0].status.unwrap().is_empty());
    assert_eq!(f.managers[0].parent.as_deref(), Some("platform:fpga-mgr"));
    assert_eq!(f.bridges[0].enabled, Some(true));
    assert_eq!(f.regions[0].compat_id, None);
    assert_eq!(f.regions[0].manager.as_deref(), Some("fpga0"));
}

/// A malformed attribute is a problem of its link alone: the rest of the
/// tree reads, the link is kept and still orders probing (its consumer
/// is a dependent of its supplier), and the problem names file and text.
#[test]
fn an_unknown_status_string_is_a_problem_of_that_link_naming_file_and_text() {
    let s = read("edge-unknown-status").unwrap();
    let full = read("arm64-virt").unwrap();
    assert_eq!(s.devices().len(), full.devices().len());
    assert_eq!(s.links().len(), full.links().len());
    let l = s
        .link_named("platform:gpio-ctl--platform:regulator-b")
        .unwrap();
    assert!(!l.readable() && !l.read("status"));
    assert!(l.read("runtime_pm") && l.read("auto_remove_on"));
    let p = &l.problems[0];
    assert!(
        p.message
            .contains("platform:gpio-ctl--platform:regulator-b/status")
            && p.message.contains("\"exploding\\n\""),
        "{p}"
    );
    let gpio = s.find("platform:gpio-ctl").unwrap();
    let deps: Vec<String> = s
        .dependents(gpio)
        .iter()
        .map(|&d| s.device(d).key())
        .collect();
    assert_eq!(deps, ["platform:regulator-b"]);
    // Every command sees it as a note.
    assert!(
        s.notes().iter().any(|n| n.contains("exploding")),
        "{:?}",
        s.notes()
    );
    // The other links are read as usual.
    assert!(s.links().iter().filter(|l| l.readable()).count() == s.links().len() - 1);
}

#[test]
fn a_missing_attribute_is_a_problem_of_that_link_naming_the_file() {
    let s = read("edge-missing-attr").unwrap();
    let l = s
        .links()
        .iter()
        .find(|l| !l.readable())
        .expect("one link lacks an attribute");
    assert_eq!(l.problems.len(), 1);
    assert_eq!(l.problems[0].attribute, "runtime_pm");
    assert!(
        l.problems[0].message.ends_with("/runtime_pm: missing"),
        "{}",
        l.problems[0]
    );
    // What it has is read.
    assert!(l.read("status") && l.read("sync_state_only"));
}

#[test]
fn dangling_entries_are_things_that_went_away_and_are_left_out() {
    let s = read("edge-dangling").unwrap();
    let full = read("arm64-virt").unwrap();
    assert_eq!(s.links().len(), full.links().len());
    assert_eq!(s.devices().len(), full.devices().len());
}

#[test]
fn a_kernel_without_the_devlink_class_reads_with_no_links() {
    let s = read("edge-no-devlink").unwrap();
    assert!(s.notes().iter().any(|n| n.contains("no class/devlink")));
    assert!(s.links().is_empty());
    assert_eq!(s.devices().len(), 13);
}

#[test]
fn a_kernel_without_fpga_support_says_so() {
    read("edge-no-fpga").unwrap();
    let f = read_fpga(&SysfsRoot::at(fixture("edge-no-fpga"))).unwrap();
    assert!(!f.supported);
    let e = XlnxManager::open(&SysfsRoot::at(fixture("edge-no-fpga")), "fpga0").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("FPGA"), "{e}");
}

#[test]
fn an_attribute_read_costs_an_open_and_one_read() {
    let root = SysfsRoot::at(fixture("arm64-virt"));
    let before = syscalls();
    read_topology(&root).unwrap();
    let n = syscalls().since(&before);
    assert!(n.attr_reads > 10, "{n:?}");
    // One `stat` per ancestor directory no bus or class lists (is it a
    // device? it has a `uevent` file): `devices/platform`,
    // `devices/pci0000:00`, `devices/virtual`, ... here 6 of them.
    assert!(n.stat <= 8, "{n:?}");
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
    match read_topology(&root) {
        Ok(_) => println!("READ-OK"),
        Err(e) => println!("READ-ERROR kind={:?} {e}", e.kind()),
    }
    let k = Kernel::new(root).with_timeout(std::time::Duration::from_millis(200));
    match futures::executor::block_on(k.unbind_one("platform:gpio-keys")) {
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
    read_topology(&root).unwrap();
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

/// Copies a tree, symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Stock kernels keep attribute files beside the device symlinks of some
/// classes. They are neither devices nor read: not the write-only
/// `gpio/export`, and not `zram-control/hot_add`, whose read creates a
/// device (here a FIFO: opening it would block, so a reader that touched
/// it would never finish).
#[test]
fn class_attribute_files_are_not_devices_and_are_never_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sys");
    copy_tree(&fixture("arm64-virt"), &root);
    let plain = read_topology(&SysfsRoot::at(&root)).unwrap();
    let before = syscalls();
    read_topology(&SysfsRoot::at(&root)).unwrap();
    let plain_reads = syscalls().since(&before).attr_reads;
    for (class, file) in [
        ("firmware", "timeout"),
        ("net", "bonding_masters"),
        ("drm", "version"),
        ("devcoredump", "disabled"),
        ("gpio", "export"),
        ("gpio", "unexport"),
        ("zram-control", "hot_remove"),
    ] {
        let d = root.join("class").join(class);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(file), "1\n").unwrap();
        if class == "gpio" {
            std::fs::set_permissions(d.join(file), std::fs::Permissions::from_mode(0o200)).unwrap();
        }
    }
    let fifo = root.join("class/zram-control/hot_add");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let r = root.clone();
    std::thread::spawn(move || {
        let before = syscalls();
        let t = read_topology(&SysfsRoot::at(&r));
        let _ = tx.send((t, syscalls().since(&before).attr_reads));
    });
    // A bound for the failure case only: a reader that opened the FIFO
    // blocks for ever.
    let (t, reads) = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the reader opened zram-control/hot_add and blocked");
    let t = t.unwrap();
    assert_eq!(t.devices().len(), plain.devices().len());
    assert_eq!(reads, plain_reads, "no attribute read more");
    for name in ["timeout", "export", "hot_add", "bonding_masters"] {
        assert!(t.find(name).is_err(), "{name} became a device");
    }
}

/// The captures of stock Debian kernels (`cargo xtask lab
/// --update-captures`, QEMU q35 with SATA, USB storage, virtio, e1000,
/// bochs, edu, zram and bonding): what made every command fail there, and
/// what a real tree holds that a hand-made one does not.
fn stock_capture(name: &str) {
    let s = read(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        s.devices().len() > 250,
        "{name}: {} devices",
        s.devices().len()
    );
    // libata's link, made before the SCSI device was in sysfs: no
    // supplier/consumer symlinks; its ends come from its name, with a note.
    let l = s.link_named(":ata1--scsi:0:0:0:0").expect("the ATA link");
    assert!(!l.sysfs_ends && l.readable());
    let sup = l.supplier.map(|i| s.device(i).key());
    let con = l.consumer.map(|i| s.device(i).key());
    assert_eq!(sup.as_deref(), Some(":ata1"), "{name}");
    assert_eq!(con.as_deref(), Some("scsi:0:0:0:0"), "{name}");
    assert!(
        s.notes()
            .iter()
            .any(|n| n.contains(":ata1--scsi:0:0:0:0") && n.contains("from its name")),
        "{:?}",
        s.notes()
    );
    // A device with neither bus nor class is indexed (`:ata1`), and PCI
    // devices have their host bridge as parent.
    let pci = s.named("pci:0000:00:01.0").expect("a PCI device");
    assert_eq!(
        pci.parent.map(|p| s.device(p).key()).as_deref(),
        Some(":pci0000:00")
    );
    // A bare name four devices share is ambiguous, naming them all.
    match s.find("0:0:0:0") {
        Err(devlink_core::LookupError::Ambiguous { candidates, .. }) => {
            for c in [
                "scsi:0:0:0:0",
                "bsg:0:0:0:0",
                "scsi_device:0:0:0:0",
                "scsi_disk:0:0:0:0",
            ] {
                assert!(
                    candidates.iter().any(|x| x.starts_with(c)),
                    "{c} in {candidates:?}"
                );
            }
        }
        other => panic!("{name}: 0:0:0:0 -> {other:?}"),
    }
    // Class attribute files are in the tree, and are not devices.
    let root = fixture(name);
    for f in [
        "firmware/timeout",
        "net/bonding_masters",
        "zram-control/hot_add",
    ] {
        assert!(root.join("class").join(f).is_file(), "{name}: class/{f}");
    }
    assert!(s.find("hot_add").is_err() && s.find("bonding_masters").is_err());
    // Class-only devices are listed and addressable.
    for k in [
        "block:sda",
        "block:sdb",
        "net:eth0",
        "drm:card0",
        "uio:uio0",
    ] {
        assert!(s.named(k).is_some(), "{name}: {k}");
    }
    // No FPGA support on Debian's kernels, said as such.
    let f = read_fpga(&SysfsRoot::at(&root)).unwrap();
    assert!(!f.supported && f.managers.is_empty());
    // The UIO device, read by backend-uio's grammar.
    let uio = backend_uio::scan(&backend_uio::UioRoot::at(&root)).unwrap();
    assert_eq!(uio.len(), 1);
    assert_eq!(uio[0].name, "uio_pci_generic");
}

#[test]
fn the_debian_6_1_capture_reads() {
    stock_capture("debian-6.1-q35");
}

#[test]
fn the_debian_6_12_capture_reads() {
    stock_capture("debian-6.12-q35");
}

/// The capture of the lab's tinyconfig kernel after its checks: the lab's
/// FPGA manager, bridge and region as the kernel's FPGA classes show them.
#[test]
fn the_lab_kernel_capture_reads_with_its_fpga_classes() {
    let root = fixture("lab-6.12-tinyconfig");
    let s = read("lab-6.12-tinyconfig").unwrap();
    assert!(s.devices().len() > 100, "{}", s.devices().len());
    let f = read_fpga(&SysfsRoot::at(&root)).unwrap();
    assert!(f.supported);
    assert_eq!(f.managers.len(), 1);
    assert_eq!(f.managers[0].name, "Lab FPGA Manager");
    assert_eq!(f.bridges.len(), 1);
    assert_eq!(f.regions.len(), 1);
    assert_eq!(f.regions[0].manager.as_deref(), Some("fpga0"));
    let uio = backend_uio::scan(&backend_uio::UioRoot::at(&root)).unwrap();
    assert_eq!(uio.len(), 1);
}
