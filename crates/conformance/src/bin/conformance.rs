//! Prints the conformance matrix (cases × backends) and exits non-zero if
//! any cell failed. `cargo xtask test` runs it.

use conformance::{run, Matrix, SimRig, SysfsRig, UioRig};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut m = Matrix::default();
    run(&mut m, SimRig::new);
    run(&mut m, SysfsRig::new);
    run(&mut m, UioRig::new);
    print!("{}", m.render());
    if m.failures().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
