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
