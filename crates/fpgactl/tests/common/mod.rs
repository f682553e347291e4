//! Running the real `fpgactl` binary and reading what it printed.

#![allow(dead_code)]

use std::process::{Command, Output};

pub fn fpgactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fpgactl"))
        .args(args)
        .output()
        .expect("run fpgactl")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
