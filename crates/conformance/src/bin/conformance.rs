//! Prints the conformance matrix (cases × backends) and exits non-zero if
//! any cell failed. `cargo xtask test` runs it; `cargo xtask lab` runs it
//! with `--column "linux (lab)=target/lab/conformance.tsv"`, the column the
//! lab's guest measured on the real kernel (`case<TAB>ok|FAIL|n/a<TAB>why`
//! per line).

use conformance::{run, Cell, Matrix, SimRig, SysfsRig, UioRig};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut m = Matrix::default();
    run(&mut m, SimRig::new);
    run(&mut m, SysfsRig::new);
    run(&mut m, UioRig::new);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(spec) = (a == "--column").then(|| it.next()).flatten() else {
            eprintln!("usage: conformance [--column NAME=FILE]...");
            return ExitCode::from(2);
        };
        let Some((name, file)) = spec.split_once('=') else {
            eprintln!("--column NAME=FILE, not {spec:?}");
            return ExitCode::from(2);
        };
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{file}: {e}");
                return ExitCode::FAILURE;
            }
        };
        for line in text.lines() {
            let mut f = line.splitn(3, '\t');
            let (case, verdict, why) = (
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
                f.next().unwrap_or("").to_string(),
            );
            let cell = match verdict {
                "ok" => Cell::Ok,
                "n/a" => Cell::NotApplicable(why),
                _ => Cell::Fail(why),
            };
            m.record(name, case, cell);
        }
    }
    print!("{}", m.render());
    if m.failures().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
