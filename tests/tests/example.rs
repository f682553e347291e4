//! `examples/reprogram.rs` runs the same code on the simulator and on the
//! live-kernel backend (here on the fake kernel), and succeeds on both.

use std::path::PathBuf;
use std::process::Command;

fn example() -> PathBuf {
    // target/<profile>/deps/example-<hash> -> target/<profile>/examples/reprogram
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples/reprogram")
}

#[test]
fn the_example_reprograms_on_the_simulator_and_on_a_kernel() {
    let bin = example();
    if !bin.exists() {
        panic!(
            "{} is not built (cargo test builds examples)",
            bin.display()
        );
    }
    let o = Command::new(&bin)
        .args(["--backend", "sim"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sim = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        sim.contains("4 user(s) down and back; the manager is operating"),
        "{sim}"
    );

    let board = futures::executor::block_on(
        backend_sim::Scenario::parse(include_str!("../scenarios/demo-board.toml"))
            .unwrap()
            .build(),
    )
    .unwrap();
    let fk = conformance::fake_kernel::FakeKernel::start(&board);
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("image.bin");
    std::fs::write(&img, b"new logic").unwrap();
    let o = Command::new(&bin)
        .args(["--backend", "sysfs", "--root"])
        .arg(fk.path(""))
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kernel = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        kernel.contains("4 user(s) down and back; the manager is operating"),
        "{kernel}"
    );
    // The same steps, in the same order, on both (the kernel's has the
    // staged file; the simulator's the region hold and the bridges).
    let unbinds = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains("Unbind"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(unbinds(&sim), unbinds(&kernel));
}
