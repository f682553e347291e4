//! The conformance matrix under `cargo test`: every case on every
//! backend, one test per backend (`cargo xtask test` also prints the
//! whole matrix through the `conformance` binary).

use conformance::{run, Matrix, SimRig, SysfsRig, UioRig};

fn check(m: &Matrix) {
    let failures = m.failures();
    assert!(failures.is_empty(), "{}", m.render());
    let (ok, _, _) = m.counts();
    assert!(ok >= 30, "{}", m.render());
}

#[test]
fn the_simulator_conforms() {
    let mut m = Matrix::default();
    run(&mut m, SimRig::new);
    check(&m);
}

#[test]
fn the_live_kernel_backend_conforms_on_the_fake_kernel() {
    let mut m = Matrix::default();
    run(&mut m, SysfsRig::new);
    check(&m);
}

#[test]
fn the_uio_simulator_conforms() {
    let mut m = Matrix::default();
    run(&mut m, UioRig::new);
    check(&m);
}

/// The README shows an excerpt of the matrix: each of its rows, and the
/// totals line, must be what the suite prints.
#[test]
fn the_readme_excerpt_is_the_matrix() {
    let mut m = Matrix::default();
    run(&mut m, SimRig::new);
    run(&mut m, SysfsRig::new);
    run(&mut m, UioRig::new);
    let printed: Vec<String> = m
        .render()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("```text\nCASE ")
        .expect("the README shows the matrix");
    let block = &readme[start + 8..];
    let block = &block[..block.find("```").unwrap()];
    let mut rows = 0;
    for line in block.lines().filter(|l| *l != "...") {
        assert!(
            printed.iter().any(|p| p == line.trim_end()),
            "README row {line:?} is not in the matrix:\n{}",
            m.render()
        );
        rows += 1;
    }
    assert!(rows >= 3);
}
