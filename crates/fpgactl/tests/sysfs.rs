//! `fpgactl --backend sysfs --root DIR` on the committed fixture trees of
//! backend-linux-sysfs: output, exit codes, and bad input.

mod common;

use common::{fpgactl, stderr, stdout};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../backend-linux-sysfs/tests/fixtures")
        .join(name)
}

fn run(root: &Path, args: &[&str]) -> std::process::Output {
    let root = root.to_str().unwrap();
    let mut all = vec!["--backend", "sysfs", "--root", root];
    all.extend_from_slice(args);
    fpgactl(&all)
}

/// A writable copy of a fixture, with a lock directory and a firmware
/// directory, and the manager's `firmware`/`flags`/`key` files.
fn writable(name: &str, state: &str, status: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture(name).display()))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    for d in ["run/lock", "lib/firmware"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let m = dir.path().join("class/fpga_manager/fpga0");
    for (f, t) in [
        ("firmware", ""),
        ("flags", "0\n"),
        ("key", "\n"),
        ("state", state),
        ("status", status),
    ] {
        std::fs::write(m.join(f), t).unwrap();
    }
    dir
}

#[test]
fn list_show_links_why_and_order_read_the_tree() {
    let root = fixture("arm64-virt");
    let o = run(&root, &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "fpga0     manager   operating",
        "br0       bridge    enabled",
        "uio0      uio",
        "platform:regulator-b  waiting",
        "amba:9030000.pl061    bound       pl061_gpio",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let out = stdout(&run(&root, &["show", "gpio-keys"]));
    assert!(
        out.contains("amba:9030000.pl061--platform:gpio-keys  available"),
        "{out}"
    );
    assert!(out.contains("of_node   /gpio-keys"), "{out}");
    let out = stdout(&run(&root, &["show", "fpga0"]));
    assert!(out.contains("lock      free"), "{out}");
    let out = stdout(&run(&root, &["links"]));
    assert!(
        out.contains("platform:gpio-ctl--platform:regulator-b   dormant"),
        "{out}"
    );
    let out = stdout(&run(&root, &["why", "regulator-b"]));
    assert!(out.contains("- platform:gpio-ctl (link dormant)"), "{out}");
    let out = stdout(&run(&root, &["order", "amba:9030000.pl061", "--teardown"]));
    assert_eq!(out, "  1. platform:regulator-a\n  2. platform:gpio-keys\n");
    let out = stdout(&run(&root, &["order", "amba:9030000.pl061", "--bringup"]));
    assert_eq!(out, "  1. platform:gpio-keys\n  2. platform:regulator-a\n");
}

#[test]
fn json_output_is_machine_readable() {
    let o = run(&fixture("arm64-virt"), &["--json", "links"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[0]["supplier"], "amba:9030000.pl061");
    let o = run(&fixture("arm64-virt"), &["--json", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["managers"][0]["state"], "operating");
    assert_eq!(v["uio"][0]["maps"][0]["size"], 0x10_0000);
}

#[test]
fn bad_trees_and_names_fail_with_a_clear_message_and_exit_code() {
    let o = run(&fixture("edge-unknown-status"), &["links"]);
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(e.contains("status") && e.contains("exploding"), "{e}");

    let o = run(&fixture("arm64-virt"), &["show", "nope"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));

    let o = run(Path::new("/nonexistent/fpgactl-root"), &["list"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("/nonexistent/fpgactl-root"),
        "{}",
        stderr(&o)
    );

    let o = run(&fixture("edge-no-fpga"), &["program", "fpga0", "/dev/null"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no FPGA manager support"),
        "{}",
        stderr(&o)
    );

    // The simulator's options do not mix with the kernel's.
    let o = fpgactl(&["--root", "/tmp", "list"]);
    assert_eq!(o.status.code(), Some(3));
    let o = run(&fixture("arm64-virt"), &["demo"]);
    assert_eq!(o.status.code(), Some(8));
}

#[test]
fn unbinding_an_unbound_device_changes_nothing() {
    let o = run(&fixture("arm64-virt"), &["unbind", "gpio-ctl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("was not bound; nothing changed"));
}

#[test]
fn program_stages_the_image_and_reports_the_kernels_state() {
    let dir = writable("arm64-virt", "operating\n", "");
    let img = dir.path().join("design.bin");
    std::fs::write(&img, b"bits").unwrap();
    let img = img.to_str().unwrap();
    let o = run(dir.path(), &["program", "fpga0", img, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("dry run"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("class/fpga_manager/fpga0/firmware")).unwrap(),
        "",
        "a dry run writes nothing"
    );

    let o = run(dir.path(), &["program", "fpga0", img, "--partial"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("fpga0: state operating"),
        "{}",
        stdout(&o)
    );
    let m = dir.path().join("class/fpga_manager/fpga0");
    let name = std::fs::read_to_string(m.join("firmware")).unwrap();
    assert!(name.starts_with("fpgactl-"), "{name}");
    assert_eq!(std::fs::read_to_string(m.join("flags")).unwrap(), "1");
    // The staged copy is gone.
    assert_eq!(
        std::fs::read_dir(dir.path().join("lib/firmware"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_failed_load_exits_with_the_kernels_status_lines() {
    let dir = writable("arm64-virt", "write error\n", "reconfig CRC error\n");
    let img = dir.path().join("design.bin");
    std::fs::write(&img, b"bits").unwrap();
    let o = run(dir.path(), &["program", "fpga0", img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("write error") && e.contains("reconfig CRC error"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("lib/firmware"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn an_empty_or_missing_image_is_refused_before_anything_is_written() {
    let dir = writable("arm64-virt", "operating\n", "");
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let o = run(dir.path(), &["program", "fpga0", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = run(dir.path(), &["program", "fpga0", "/nonexistent.bin"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let m = dir.path().join("class/fpga_manager/fpga0");
    assert_eq!(std::fs::read_to_string(m.join("firmware")).unwrap(), "");
}
