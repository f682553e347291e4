//! `cargo xtask`: the project's chores as code.
//!
//! - `cargo xtask test [--no-loom] [--no-lint] [--real-kernel]`: the whole test matrix —
//!   `cargo fmt --check`, clippy with `-D warnings`, every test of the
//!   workspace (unit, integration, doc tests), then the `loom` models of the
//!   removal barrier and the owner protocol (built in their own target
//!   directory because `--cfg loom` changes every crate), and with
//!   `--real-kernel` the real-kernel lab last. This is the README's test
//!   command and what `.ci/run` runs.
//! - `cargo xtask lab [--guest-args ARGS] [--timeout SECS]`: the real-kernel
//!   lab — every backend checked against Linux 6.12 under QEMU; see [`lab`]
//!   and `docs/real-kernel.md`.
//! - `cargo xtask bench [--quick] [--record] [--no-run]`: the benchmarks,
//!   their figures and the dashboard (`target/dashboard/`); see [`bench`].
//! - `cargo xtask assets`: `fpgactl`'s man pages (`target/assets/man/`) and
//!   shell completions (`target/assets/completions/`), generated from its
//!   clap definition.
//! - `cargo xtask schemas`: the JSON schemas of fpgactl's reports into
//!   `docs/schemas/` (a test fails when the committed ones are stale).
//!
//! Every step prints what it runs and how long it took; the first failing
//! step stops the run with a non-zero exit.

mod bench;
mod dashboard;
mod lab;

use std::process::{Command, ExitCode};
use std::time::Instant;

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask <command>\n\n\
         commands:\n  \
         test [--no-loom] [--no-lint] [--real-kernel]\n  \
                                                fmt, clippy, all tests, loom models (and the lab)\n  \
         lab [--guest-args ARGS] [--timeout S]  the real-kernel lab under QEMU\n  \
         bench [--quick] [--record] [--no-run]  benchmarks, figures, target/dashboard/\n  \
         assets                                 fpgactl man pages and completions, target/assets/\n  \
         schemas                                fpgactl's JSON report schemas, docs/schemas/\n  \
         capture-sysfs DIR [--from SYS]         copy what the backends read of /sys (or SYS) into DIR\n  \
         fuzz [--cases N]                       every parser of outside input on N generated inputs\n"
    );
    ExitCode::from(2)
}

struct Step {
    name: &'static str,
    cmd: Command,
}

/// Cargo's target directory for the workspace at `root`, as cargo itself
/// resolves it (`cargo metadata`'s `target_directory`: `CARGO_TARGET_DIR`,
/// `build.target-dir` in a config, or `target/`). Every path the xtask
/// derives from the target directory comes from here.
pub fn target_dir(root: &std::path::Path) -> std::path::PathBuf {
    target_dir_with(cargo(), root)
}

fn target_dir_with(mut cargo: Command, root: &std::path::Path) -> std::path::PathBuf {
    let out = cargo
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output();
    let dir = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["target_directory"].as_str().map(std::path::PathBuf::from));
    dir.unwrap_or_else(|| {
        eprintln!(
            "xtask: `cargo metadata` did not say where the target directory is; using target/"
        );
        root.join("target")
    })
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run_steps(steps: Vec<Step>) -> ExitCode {
    let total = Instant::now();
    let count = steps.len();
    for (i, mut step) in steps.into_iter().enumerate() {
        let started = Instant::now();
        eprintln!("\n==> [{}/{count}] {}: {:?}", i + 1, step.name, step.cmd);
        let status = match step.cmd.status() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("xtask: cannot run {}: {e}", step.name);
                return ExitCode::FAILURE;
            }
        };
        let secs = started.elapsed().as_secs_f64();
        if !status.success() {
            eprintln!(
                "xtask: step '{}' failed after {secs:.1}s ({status})",
                step.name
            );
            return ExitCode::FAILURE;
        }
        eprintln!("==> {} ok in {secs:.1}s", step.name);
    }
    eprintln!(
        "\nxtask: all {count} steps passed in {:.1}s",
        total.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// The crates a library user depends on (packaged and doc-checked by
/// `cargo xtask test`).
const LIBRARY_CRATES: [&str; 7] = [
    "devlink-core",
    "fpga-core-macros",
    "fpga-image",
    "fpga-core",
    "backend-sim",
    "backend-linux-sysfs",
    "backend-uio",
];

fn test(args: &[String]) -> ExitCode {
    let loom = !args.iter().any(|a| a == "--no-loom");
    let lint = !args.iter().any(|a| a == "--no-lint");
    let real_kernel = args.iter().any(|a| a == "--real-kernel");
    if let Some(bad) = args
        .iter()
        .find(|a| !matches!(a.as_str(), "--no-loom" | "--no-lint" | "--real-kernel"))
    {
        eprintln!("xtask test: unknown option {bad}");
        return usage();
    }
    let mut steps = Vec::new();
    if lint {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--", "--check"]);
        steps.push(Step {
            name: "rustfmt",
            cmd: fmt,
        });
        let mut clippy = cargo();
        clippy.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        steps.push(Step {
            name: "clippy",
            cmd: clippy,
        });
    }
    let mut tests = cargo();
    tests.args(["test", "--workspace"]);
    steps.push(Step {
        name: "tests",
        cmd: tests,
    });
    // The conformance suite on every backend, printed as a matrix (cases
    // x backends); `cargo test` above ran the same cases as tests.
    let mut matrix = cargo();
    matrix.args(["run", "--quiet", "-p", "conformance"]);
    steps.push(Step {
        name: "conformance matrix",
        cmd: matrix,
    });
    if lint {
        // The library crates as a user would depend on them: their docs
        // build without a warning, and each packages (offline: this
        // checks the package, not an upload).
        let mut doc = cargo();
        doc.args(["doc", "--no-deps"])
            .args(LIBRARY_CRATES.iter().flat_map(|c| ["-p", c]))
            .env("RUSTDOCFLAGS", "-D warnings");
        steps.push(Step {
            name: "docs",
            cmd: doc,
        });
        let mut package = cargo();
        package
            .args([
                "package",
                "--offline",
                "--no-verify",
                "--allow-dirty",
                "--quiet",
            ])
            .args(LIBRARY_CRATES.iter().flat_map(|c| ["-p", c]));
        steps.push(Step {
            name: "packaging",
            cmd: package,
        });
    }
    if loom {
        let mut loom = cargo();
        loom.args([
            "test",
            "--release",
            "-p",
            "devlink-core",
            "-p",
            "fpga-core",
            "--test",
            "loom_removal",
            "--test",
            "loom_module",
            "--test",
            "loom_guard",
        ])
        .env("RUSTFLAGS", "--cfg loom")
        .env(
            "CARGO_TARGET_DIR",
            target_dir(&workspace_root()).join("loom"),
        )
        .env("LOOM_MAX_PREEMPTIONS", "3");
        steps.push(Step {
            name: "loom models",
            cmd: loom,
        });
    }
    let code = run_steps(steps);
    if !real_kernel || code != ExitCode::SUCCESS {
        return code;
    }
    eprintln!("\n==> real-kernel lab (cargo xtask lab)");
    lab::lab(&[])
}

/// Man pages and completions, written by `fpgactl` itself from its clap
/// definition (so they cannot drift from `--help`).
fn assets() -> ExitCode {
    let out = target_dir(&workspace_root()).join("assets");
    let man = out.join("man");
    let man = man.to_string_lossy();
    let fpgactl = |args: &[&str]| {
        let mut c = cargo();
        c.args(["run", "--quiet", "-p", "fpgactl", "--"]).args(args);
        c
    };
    let mut steps = vec![Step {
        name: "man pages",
        cmd: fpgactl(&["man", &man]),
    }];
    if let Err(e) = std::fs::create_dir_all(out.join("completions")) {
        eprintln!("xtask: cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    for (shell, file) in [
        ("bash", "fpgactl.bash"),
        ("zsh", "_fpgactl"),
        ("fish", "fpgactl.fish"),
    ] {
        let path = out.join("completions").join(file);
        let file = match std::fs::File::create(&path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("xtask: cannot create {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        let mut cmd = fpgactl(&["completions", shell]);
        cmd.stdout(file);
        steps.push(Step {
            name: "completions",
            cmd,
        });
    }
    run_steps(steps)
}

/// The fuzz targets: every parser of outside input, as property tests
/// (a stable toolchain has no libFuzzer; a generator drives the same
/// entry points): `(package, test target or "lib", test name filter)`.
const FUZZ_TARGETS: &[(&str, &str, &str)] = &[
    (
        "backend-linux-sysfs",
        "lib",
        "attr::tests::parsers_never_panic_and_accept_only_canonical_text",
    ),
    (
        "backend-linux-sysfs",
        "lib",
        "journal::tests::the_journal_parser_never_panics",
    ),
    ("backend-uio", "lib", "attr::tests::parsers_never_panic"),
    (
        "backend-uio",
        "lib",
        "bitstream::tests::parsers_never_panic",
    ),
    ("backend-sim", "scenario", "the_parser_never_panics"),
    (
        "backend-linux-sysfs",
        "lib",
        "kmsg::tests::the_record_parser_never_panics",
    ),
    ("devlink-core", "lib", "fdt::tests::the_parser_never_panics"),
    (
        "backend-linux-sysfs",
        "lib",
        "uevent::tests::the_parser_never_panics",
    ),
];

/// `cargo xtask fuzz [--cases N]`: each target on N generated inputs
/// (default 20000), in release mode.
fn fuzz(args: &[String]) -> ExitCode {
    let cases = match args {
        [] => 20_000u64,
        [flag, n] if flag == "--cases" => match n.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("xtask fuzz: --cases {n}: a number");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: cargo xtask fuzz [--cases N]");
            return ExitCode::from(2);
        }
    };
    let steps = FUZZ_TARGETS
        .iter()
        .map(|(pkg, target, filter)| {
            let mut c = cargo();
            c.args(["test", "--release", "-q", "-p", pkg]);
            if *target == "lib" {
                c.arg("--lib");
            } else {
                c.args(["--test", target]);
            }
            c.args([filter, "--", "--exact"])
                .env("PROPTEST_CASES", cases.to_string());
            Step {
                name: "fuzz target",
                cmd: c,
            }
        })
        .collect();
    run_steps(steps)
}

/// `cargo xtask capture-sysfs DIR [--from SYS]`: a fixture (or a bug
/// report's attachment) from a live sysfs tree; see `docs/user-guide.md`.
fn capture_sysfs(args: &[String]) -> ExitCode {
    let (mut dir, mut from) = (None, std::path::PathBuf::from("/sys"));
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.as_slice().first()) {
            ("--from", Some(v)) => {
                from = v.into();
                it.next();
            }
            (d, _) if dir.is_none() && !d.starts_with('-') => {
                dir = Some(std::path::PathBuf::from(d))
            }
            _ => {
                eprintln!("usage: cargo xtask capture-sysfs DIR [--from SYS]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: cargo xtask capture-sysfs DIR [--from SYS]");
        return ExitCode::from(2);
    };
    match capture_into(&from, &dir) {
        Ok(text) => {
            eprintln!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask capture-sysfs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn capture_into(from: &std::path::Path, dir: &std::path::Path) -> Result<String, String> {
    if !from.join("devices").is_dir() {
        return Err(format!(
            "{}: not a sysfs tree (no devices/)",
            from.display()
        ));
    }
    // Never mixed into an existing tree: what was there would look captured.
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{}: not empty; capture into a new directory",
            dir.display()
        ));
    }
    let started = Instant::now();
    let got =
        backend_linux_sysfs::capture(from, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let release = if from == std::path::Path::new("/sys") {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    } else {
        format!("unknown (captured from {})", from.display())
    };
    let mut about = format!(
        "sysfs capture (cargo xtask capture-sysfs)\nkernel: {release}\nmachine: {}\n\
         directories: {}\nattributes: {}\nsymlinks: {}\nplaceholders (never read): {}\n",
        std::env::consts::ARCH,
        got.dirs,
        got.files,
        got.symlinks,
        got.placeholders
    );
    for u in &got.unreadable {
        about.push_str(&format!("unreadable: {u}\n"));
    }
    std::fs::write(dir.join("CAPTURE.txt"), &about).map_err(|e| e.to_string())?;
    // It must read back: that is what it is for.
    let root = backend_linux_sysfs::SysfsRoot::at(dir);
    let t = backend_linux_sysfs::read_topology(&root)
        .map_err(|e| format!("the capture does not read back: {e}"))?;
    Ok(format!(
        "{about}read back: {} devices, {} links, in {:.1}s\n\
         to attach it to a bug report: tar czf sysfs.tgz -C {} .",
        t.devices().len(),
        t.links().len(),
        started.elapsed().as_secs_f64(),
        dir.display()
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("assets") => assets(),
        Some("schemas") => {
            let mut c = cargo();
            c.args([
                "run",
                "--quiet",
                "-p",
                "fpgactl",
                "--",
                "schemas",
                "docs/schemas",
            ]);
            run_steps(vec![Step {
                name: "schemas",
                cmd: c,
            }])
        }
        Some("lab") => lab::lab(&args[1..]),
        Some("capture-sysfs") => capture_sysfs(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        _ => usage(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_directory_is_cargos_answer() {
        let root = workspace_root();
        let dir = tempfile_dir();
        let mut c = cargo();
        c.env("CARGO_TARGET_DIR", &dir);
        assert_eq!(target_dir_with(c, &root), dir);
        let mut c = cargo();
        c.env_remove("CARGO_TARGET_DIR");
        c.env_remove("CARGO_BUILD_TARGET_DIR");
        let plain = target_dir_with(c, &root);
        assert!(plain.ends_with("target"), "{}", plain.display());
    }

    #[test]
    fn a_capture_reads_back_and_never_mixes_into_a_tree() {
        let fixture = workspace_root().join("fixtures/sysfs/arm64-virt");
        let dir = tempfile_dir().join("capture");
        let _ = std::fs::remove_dir_all(&dir);
        let text = capture_into(&fixture, &dir).unwrap();
        assert!(text.contains("read back: 13 devices, 3 links"), "{text}");
        assert!(dir.join("CAPTURE.txt").is_file());
        let again = capture_into(&fixture, &dir).unwrap_err();
        assert!(again.contains("not empty"), "{again}");
        let not_sys = capture_into(&dir.join("devices"), &dir.join("other")).unwrap_err();
        assert!(not_sys.contains("not a sysfs tree"), "{not_sys}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A renamed property test would make its fuzz step run nothing.
    #[test]
    fn every_fuzz_target_exists() {
        let root = workspace_root();
        for (pkg, target, filter) in FUZZ_TARGETS {
            let name = filter.rsplit("::").next().unwrap();
            let dir = root.join("crates").join(pkg);
            let files: Vec<std::path::PathBuf> = if *target == "lib" {
                std::fs::read_dir(dir.join("src"))
                    .unwrap()
                    .flatten()
                    .map(|e| e.path())
                    .collect()
            } else {
                vec![dir.join("tests").join(format!("{target}.rs"))]
            };
            let found = files.iter().any(|f| {
                std::fs::read_to_string(f).is_ok_and(|t| t.contains(&format!("fn {name}(")))
            });
            assert!(found, "fuzz target {pkg} {filter} does not exist");
        }
    }

    fn tempfile_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("xtask-target-{}", std::process::id()))
    }
}
