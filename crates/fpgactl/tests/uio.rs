//! `fpgactl --backend uio --root DIR`: UIO devices on a fixture tree whose
//! `/dev/uio0` is a plain file (the real `mmap` path).

mod common;

use common::{fpgactl, stderr, stdout};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend-linux-sysfs/tests/fixtures/arm64-virt")
}

fn run(root: &Path, args: &[&str]) -> std::process::Output {
    let root = root.to_str().unwrap();
    let mut all = vec!["--backend", "uio", "--root", root];
    all.extend_from_slice(args);
    fpgactl(&all)
}

/// A copy of the fixture with `dev/uio0` standing in for the device node.
fn with_node() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture().display()))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::create_dir_all(dir.path().join("dev")).unwrap();
    let f = std::fs::File::create(dir.path().join("dev/uio0")).unwrap();
    f.set_len(0x10_0000).unwrap();
    dir
}

#[test]
fn list_and_show_read_the_uio_class() {
    let o = run(&fixture(), &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("uio0     uio_pci_generic       0.01.0      map0 0xfea00000+0x100000"),
        "{}",
        stdout(&o)
    );
    let o = run(&fixture(), &["show", "uio0"]);
    assert!(
        stdout(&o).contains("map0      0xfea00000 size 0x100000 offset 0x0"),
        "{}",
        stdout(&o)
    );
    let o = run(&fixture(), &["--json", "show", "uio_pci_generic"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "uio0");
    assert_eq!(v["events"], 0);
}

#[test]
fn driver_model_commands_are_refused_with_a_pointer() {
    for cmd in [&["links"][..], &["why", "x"], &["unbind", "x"], &["demo"]] {
        let o = run(&fixture(), cmd);
        assert_eq!(o.status.code(), Some(8), "{cmd:?}");
        assert!(stderr(&o).contains("--backend sysfs"), "{}", stderr(&o));
    }
    let o = run(&fixture(), &["show", "uio7"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn a_malformed_image_is_refused_before_the_device_is_opened() {
    let dir = with_node();
    let img = dir.path().join("junk.bit");
    std::fs::write(&img, b"not a bitstream at all").unwrap();
    let o = run(dir.path(), &["program", "uio0", img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("sync word"), "{}", stderr(&o));
    // Nothing reached the mapping.
    let node = std::fs::read(dir.path().join("dev/uio0")).unwrap();
    assert!(node.iter().all(|&b| b == 0));
}

#[test]
fn a_dry_run_parses_the_image_and_checks_the_device() {
    let dir = with_node();
    let img = dir.path().join("partial.bit");
    std::fs::write(
        &img,
        backend_uio::bitstream::synthetic_partial(16, 0x0362_D093).bit,
    )
    .unwrap();
    let o = run(
        dir.path(),
        &[
            "program",
            "uio0",
            img.to_str().unwrap(),
            "--partial",
            "--dry-run",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("is a bit image of"), "{}", stdout(&o));
    let node = std::fs::read(dir.path().join("dev/uio0")).unwrap();
    assert!(
        node.iter().all(|&b| b == 0),
        "a dry run touches no register"
    );
}

#[test]
fn a_load_on_memory_that_is_no_hwicap_fails_cleanly_with_the_state() {
    let dir = with_node();
    let img = dir.path().join("partial.bit");
    std::fs::write(
        &img,
        backend_uio::bitstream::synthetic_partial(16, 0x0362_D093).bit,
    )
    .unwrap();
    let o = run(
        dir.path(),
        &["program", "uio0", img.to_str().unwrap(), "--partial"],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("uio0") && e.contains("state"), "{e}");
}
