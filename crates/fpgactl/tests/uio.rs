//! `fpgactl --backend uio --root DIR`: UIO devices on a fixture tree whose
//! `/dev/uio0` is a plain file (the real `mmap` path).

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn run(root: &Path, args: &[&str]) -> std::process::Output {
    fpgactl(&uio(root.to_str().unwrap(), args))
}

/// A copy of the fixture with `dev/uio0` standing in for the device node.
fn with_node(f: &Files) -> PathBuf {
    let dir = f.copy_tree(&fixture("arm64-virt"), "tree");
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    let node = std::fs::File::create(dir.join("dev/uio0")).unwrap();
    node.set_len(0x10_0000).unwrap();
    dir
}

fn bitstream(f: &Files) -> String {
    let img = f.str("partial.bit");
    std::fs::write(
        &img,
        backend_uio::bitstream::synthetic_partial(16, 0x0362_D093).bit,
    )
    .unwrap();
    img
}

#[test]
fn list_and_show_read_the_uio_class() {
    let o = run(&fixture("arm64-virt"), &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "uio0      uio       -                       \"uio_pci_generic\" 0.01.0, 1 map(s)"
        ),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("uio:uio0"), "{}", stdout(&o));
    let o = run(&fixture("arm64-virt"), &["show", "uio0"]);
    assert!(
        stdout(&o).contains("map0      0xfea00000 size 0x100000 offset 0x0"),
        "{}",
        stdout(&o)
    );
    let v = json(&uio(
        fixture("arm64-virt").to_str().unwrap(),
        &["show", "uio_pci_generic"],
    ));
    assert_eq!(v["kind"], "uio");
    assert_eq!(v["uio"]["name"], "uio0");
    assert_eq!(v["uio"]["events"], 0);
    // The parent is named relative to the root, never by the path the
    // tree happens to be under.
    assert_eq!(v["uio"]["parent"], "devices/pci0000:00/0000:00:03.0");
}

#[test]
fn what_uio_cannot_do_is_exit_8_with_a_pointer() {
    for cmd in [
        &["unbind", "uio0"][..],
        &["bind", "uio0"],
        &["demo"],
        &["reprogram", "region0", "/dev/null"],
    ] {
        let o = run(&fixture("arm64-virt"), cmd);
        assert_eq!(o.status.code(), Some(8), "{cmd:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    }
    // The read commands work (UIO devices have no links).
    let o = run(&fixture("arm64-virt"), &["links"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&fixture("arm64-virt"), &["show", "uio7"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = run(Path::new("/nonexistent"), &["list"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn a_malformed_image_is_refused_before_the_device_is_opened() {
    let f = Files::new();
    let dir = with_node(&f);
    let img = f.str("junk.bit");
    std::fs::write(&img, b"not a bitstream at all").unwrap();
    let o = run(&dir, &["program", "uio0", &img]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("text, not an FPGA image"),
        "{}",
        stderr(&o)
    );
    let node = std::fs::read(dir.join("dev/uio0")).unwrap();
    assert!(node.iter().all(|&b| b == 0));
}

#[test]
fn a_dry_run_parses_the_image_and_checks_the_device() {
    let f = Files::new();
    let dir = with_node(&f);
    let img = bitstream(&f);
    let o = run(&dir, &["program", "uio0", &img, "--partial", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("bytes, bit partial) into uio0"),
        "{}",
        stdout(&o)
    );
    let node = std::fs::read(dir.join("dev/uio0")).unwrap();
    assert!(
        node.iter().all(|&b| b == 0),
        "a dry run touches no register"
    );
}

#[test]
fn a_load_on_memory_that_is_no_hwicap_fails_cleanly_with_the_state() {
    let f = Files::new();
    let dir = with_node(&f);
    let img = bitstream(&f);
    let o = run(&dir, &["program", "uio0", &img, "--partial"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("uio0") && e.contains("the FPGA manager is"),
        "{e}"
    );
}
