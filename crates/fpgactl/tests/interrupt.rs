//! A reprogram on a live kernel (the fake kernel) interrupted at each of
//! its steps: killed with SIGKILL, or asked to stop with SIGINT/SIGTERM.
//! The process stops itself exactly at the step (the test hook
//! `FPGA_DEVLINK_TEST_STOP_AT`; the test waits for the stop, a handshake,
//! not a timer), then gets its signal. Afterwards nothing may be left: the
//! next `reprogram` (or `recover`) finds the journal, binds back every
//! user, removes the staged image, and leaves no journal.

mod common;

use common::*;
use conformance::fake_kernel::FakeKernel;
use std::path::Path;
use std::process::{Command, Stdio};

const USERS: [&str; 4] = [
    "platform:dma0",
    "platform:uart0",
    "platform:eth0",
    "i2c:0-0048",
];

/// Runs `reprogram` until it stops itself at `step`; returns its pid.
fn stopped_at(root: &Path, img: &str, step: &str) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
        .args(["--backend", "sysfs", "--root"])
        .arg(root)
        .args(["reprogram", "region0", img])
        .env("FPGA_DEVLINK_TEST_STOP_AT", step)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFSTOPPED(status),
        "{step}: the run ended (status {status:#x}) without reaching the step"
    );
    child
}

fn bound(root: &Path, key: &str) -> bool {
    let k = backend_linux_sysfs::Kernel::new(backend_linux_sysfs::SysfsRoot::at(root));
    k.read_topology().unwrap().named(key).unwrap().is_bound()
}

fn journal(root: &Path) -> Option<backend_linux_sysfs::Interrupted> {
    backend_linux_sysfs::journal_of(&backend_linux_sysfs::SysfsRoot::at(root), "fpga0").unwrap()
}

fn all_back_and_clean(fk: &FakeKernel, root: &Path, what: &str) {
    for u in USERS {
        assert!(bound(root, u), "{what}: {u} is not bound");
    }
    assert!(
        fk.firmware_files().is_empty(),
        "{what}: {:?}",
        fk.firmware_files()
    );
    assert_eq!(journal(root), None, "{what}: a journal is left");
}

/// Every step a reprogram through the Xilinx `firmware` attribute
/// reports, in order.
const STEPS: [&str; 14] = [
    "manager_locked",
    "staged",
    "unbind:1",
    "unbind:2",
    "unbind:3",
    "unbind:4",
    "wait_removal",
    "leak_check",
    "loaded",
    "released",
    "bind:1",
    "bind:2",
    "bind:3",
    "bind:4",
];

#[test]
fn a_reprogram_killed_at_any_step_is_recovered_by_the_next_run() {
    let f = Files::new();
    let img = f.str("image.bin");
    std::fs::write(&img, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    let board = demo_board();
    for (i, step) in STEPS.iter().enumerate() {
        let fk = FakeKernel::start(&board);
        let root = fk.path("");
        let mut child = stopped_at(&root, &img, step);
        child.kill().unwrap();
        let _ = child.wait();
        // What the kill left: during the teardown and the load, users are
        // down and the journal says so.
        if (3..=9).contains(&i) {
            let j = journal(&root).unwrap_or_else(|| panic!("{step}: no journal"));
            assert!(!j.unbound.is_empty(), "{step}: {j:?}");
            assert!(
                !bound(&root, "i2c:0-0048"),
                "{step}: the first user is still bound"
            );
        }
        // Every other run uses `recover`, the others the next reprogram.
        let out = if i % 2 == 0 {
            fpgactl(&[
                "--backend",
                "sysfs",
                "--root",
                root.to_str().unwrap(),
                "reprogram",
                "region0",
                &img,
            ])
        } else {
            fpgactl(&[
                "--backend",
                "sysfs",
                "--root",
                root.to_str().unwrap(),
                "recover",
            ])
        };
        assert!(out.status.success(), "{step}: {}", stderr(&out));
        if (3..=9).contains(&i) && i % 2 == 0 {
            assert!(
                stderr(&out).contains("was interrupted at its"),
                "{step}: the rerun does not say what it finished: {}",
                stderr(&out)
            );
        }
        all_back_and_clean(&fk, &root, step);
    }
}

#[test]
fn sigint_or_sigterm_stops_at_the_next_safe_point_and_brings_everything_back() {
    let f = Files::new();
    let img = f.str("image.bin");
    std::fs::write(&img, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    let board = demo_board();
    for (step, sig, code) in [
        ("unbind:2", libc::SIGINT, 130),
        ("wait_removal", libc::SIGTERM, 143),
        ("staged", libc::SIGHUP, 129),
    ] {
        let fk = FakeKernel::start(&board);
        let root = fk.path("");
        let child = stopped_at(&root, &img, step);
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals to our own stopped child.
        unsafe {
            libc::kill(pid, sig);
            libc::kill(pid, libc::SIGCONT);
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{step}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("fpgactl: stopped by SIG"),
            "{step}: {}",
            stderr(&out)
        );
        // Nothing was loaded, and nothing is left for a next run.
        assert!(fk.seen().loads.is_empty(), "{step}: it loaded");
        all_back_and_clean(&fk, &root, step);
    }
}

#[test]
fn a_signal_during_the_load_lets_it_and_the_bring_up_finish() {
    let f = Files::new();
    let img = f.str("image.bin");
    std::fs::write(&img, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    let fk = FakeKernel::start(&demo_board());
    let root = fk.path("");
    let child = stopped_at(&root, &img, "loaded");
    let pid = child.id() as libc::pid_t;
    // SAFETY: signals to our own stopped child.
    unsafe {
        libc::kill(pid, libc::SIGINT);
        libc::kill(pid, libc::SIGCONT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(fk.seen().loads.len(), 1);
    all_back_and_clean(&fk, &root, "loaded");
}

#[test]
fn recover_leaves_users_of_a_cut_load_down_unless_the_manager_is_operating() {
    let f = Files::new();
    let bad = f.str("bad.bin");
    std::fs::write(&bad, backend_sim::sim_image(b"a BAD-CRC image", false)).unwrap();
    let fk = FakeKernel::start(&demo_board());
    let root = fk.path("");
    let r = root.to_str().unwrap();
    // Killed after a load that failed (the manager is in `write error`),
    // before the engine closed its journal.
    let mut child = stopped_at(&root, &bad, "released");
    child.kill().unwrap();
    let _ = child.wait();
    let out = fpgactl(&["--backend", "sysfs", "--root", r, "--json", "recover"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_schema("recover", &v);
    let row = &v["recovered"][0];
    assert_eq!(row["stage"], "loading");
    assert!(
        row["left_down"].as_str().unwrap().contains("write error"),
        "{row}"
    );
    assert!(!bound(&root, "platform:dma0"));
    assert!(
        journal(&root).is_some(),
        "the journal stays until a good load"
    );
    // A good load brings them back (and says so).
    let img = f.str("image.bin");
    std::fs::write(&img, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    let out = fpgactl(&[
        "--backend",
        "sysfs",
        "--root",
        r,
        "program",
        "fpga0",
        &img,
        "--force",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    all_back_and_clean(&fk, &root, "after a good load");
    // `--force` binds without a good load.
    let mut child = stopped_at(&root, &bad, "released");
    child.kill().unwrap();
    let _ = child.wait();
    let out = fpgactl(&["--backend", "sysfs", "--root", r, "recover", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("bound again  platform:dma0"),
        "{}",
        stdout(&out)
    );
    all_back_and_clean(&fk, &root, "--force");
}

#[test]
fn recover_leaves_a_run_that_is_still_going_alone() {
    let f = Files::new();
    let img = f.str("image.bin");
    std::fs::write(&img, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    let fk = FakeKernel::start(&demo_board());
    let root = fk.path("");
    // A run stopped in its teardown still holds the manager's lock.
    let mut child = stopped_at(&root, &img, "unbind:3");
    let out = fpgactl(&[
        "--backend",
        "sysfs",
        "--root",
        root.to_str().unwrap(),
        "recover",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("busy"), "{}", stderr(&out));
    assert!(journal(&root).is_some(), "its journal is untouched");
    assert!(!bound(&root, "i2c:0-0048"), "what it took down stays down");
    child.kill().unwrap();
    let _ = child.wait();
    let out = fpgactl(&[
        "--backend",
        "sysfs",
        "--root",
        root.to_str().unwrap(),
        "recover",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    all_back_and_clean(&fk, &root, "after the kill");
}
