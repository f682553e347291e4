//! The reader and the capture on the machine the tests run on: its own
//! `/sys`, read-only. Whatever kernel that is, every device and link must
//! read, and a capture must read back the same.

use backend_linux_sysfs::{capture, read_fpga, read_topology, SysfsRoot};
use std::path::Path;

fn keys(t: &devlink_core::Topology) -> (Vec<String>, Vec<String>) {
    let mut d: Vec<String> = t.devices().iter().map(|d| d.path.clone()).collect();
    let mut l: Vec<String> = t.links().iter().map(|l| l.name.clone()).collect();
    d.sort();
    l.sort();
    (d, l)
}

#[test]
fn this_machines_sys_reads_and_a_capture_reads_back_the_same() {
    if !Path::new("/sys/devices").is_dir() {
        eprintln!("no /sys here; nothing to check");
        return;
    }
    let live = read_topology(&SysfsRoot::default()).expect("the live /sys reads");
    assert!(!live.devices().is_empty());
    // A device has a parent exactly when a directory above it is a
    // device (has a `uevent` file), as `ls` tells.
    for d in live.devices() {
        let mut up = Path::new(&d.path).parent();
        let mut ancestor = false;
        while let Some(a) = up.filter(|a| a.as_os_str() != "devices") {
            ancestor |= Path::new("/sys").join(a).join("uevent").is_file();
            up = a.parent();
        }
        assert_eq!(
            d.parent.is_some(),
            ancestor,
            "{}: parent {:?}",
            d.path,
            d.parent
        );
    }
    read_fpga(&SysfsRoot::default()).expect("the FPGA classes read (or are absent)");
    let dir = tempfile::tempdir().unwrap();
    let got = capture(Path::new("/sys"), dir.path()).unwrap();
    assert!(got.files > 0 && got.symlinks > 0, "{got:?}");
    let back = read_topology(&SysfsRoot::at(dir.path())).expect("the capture reads");
    let (ld, ll) = keys(&live);
    let (bd, bl) = keys(&back);
    // The machine may gain or lose a device between the two reads; nothing
    // in a test machine does so in practice, and a difference is printed.
    assert_eq!(ld, bd, "devices differ between /sys and its capture");
    assert_eq!(ll, bl, "links differ between /sys and its capture");
    for (a, b) in live.devices().iter().zip(back.devices()) {
        assert_eq!(
            (&a.bus, &a.class, &a.driver),
            (&b.bus, &b.class, &b.driver),
            "{}",
            a.path
        );
    }
}
