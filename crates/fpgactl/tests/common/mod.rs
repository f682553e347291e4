//! Running the real `fpgactl` binary, the fixtures each backend runs on,
//! and a JSON-schema check of its reports.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
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

/// Runs and requires success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = fpgactl(args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Runs and requires exit `code` with `needle` on stderr and nothing on
/// stdout.
pub fn fails(args: &[&str], code: i32, needle: &str) -> Output {
    let o = fpgactl(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    o
}

/// Runs with `--json` first, requires success, parses stdout.
pub fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> PathBuf {
    manifest().join("../../tests/scenarios").join(name)
}

/// A committed sysfs fixture tree of backend-linux-sysfs.
pub fn fixture(name: &str) -> PathBuf {
    manifest().join("../../fixtures/sysfs").join(name)
}

/// A temporary directory with helpers.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn str(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// A SIMBIT image made by `fpgactl sim-image`.
    pub fn image(&self, name: &str, size: usize, partial: bool) -> String {
        let p = self.str(name);
        let size = size.to_string();
        let mut args = vec!["sim-image", p.as_str(), "--size", size.as_str()];
        if partial {
            args.push("--partial");
        }
        ok(&args);
        p
    }

    /// The demo board with the manager's lock held by `holder`.
    pub fn held_board(&self, holder: &str) -> String {
        let demo = std::fs::read_to_string(scenario("demo-board.toml")).unwrap();
        let text = demo.replace(
            "bytes_per_sec = 200_000_000\n",
            &format!("bytes_per_sec = 200_000_000\nheld_by = \"{holder}\"\n"),
        );
        assert_ne!(text, demo);
        let p = self.path("held.toml");
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// A copy of a directory tree into `name`.
    pub fn copy_tree(&self, from: &Path, name: &str) -> PathBuf {
        let to = self.path(name);
        std::fs::create_dir_all(&to).unwrap();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(&to)
            .status()
            .unwrap();
        assert!(ok.success());
        to
    }
}

/// The committed schema of `command`'s report.
pub fn schema(command: &str) -> Value {
    let p = manifest()
        .join("../../docs/schemas")
        .join(format!("{command}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// Checks `v` against `command`'s committed schema; panics naming the
/// first mismatch.
pub fn assert_schema(command: &str, v: &Value) {
    let s = schema(command);
    if let Err(e) = validate(&s, &s, v, "$") {
        panic!("{command}: the report does not match docs/schemas/{command}.json: {e}\n{v:#}");
    }
}

/// A JSON-schema check of the subset schemars writes: `type` (one or a
/// list), `properties`, `required`, `additionalProperties: false`,
/// `items`, `$ref` into `$defs`, `oneOf`, `anyOf`, `enum`, `const`,
/// `minimum`.
pub fn validate(root: &Value, s: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .ok_or_else(|| format!("{at}: unsupported $ref {r}"))?;
        let def = &root["$defs"][name];
        if def.is_null() {
            return Err(format!("{at}: no $defs/{name}"));
        }
        validate(root, def, v, at)?;
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |ty: &str| match ty {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: expected {types:?}, found {v}"));
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            return Err(format!("{at}: expected {c}, found {v}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            return Err(format!("{at}: {n} < {min}"));
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let ok = alts
                .iter()
                .filter(|a| validate(root, a, v, at).is_ok())
                .count();
            let good = if key == "oneOf" { ok == 1 } else { ok >= 1 };
            if !good {
                let why: Vec<String> = alts
                    .iter()
                    .filter_map(|a| validate(root, a, v, at).err())
                    .collect();
                return Err(format!(
                    "{at}: {ok} of the {key} alternatives match: {why:?}"
                ));
            }
        }
    }
    if let (Some(obj), true) = (
        v.as_object(),
        s.get("properties").is_some() || s.get("required").is_some(),
    ) {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or("");
            if !obj.contains_key(r) {
                return Err(format!("{at}: missing {r}"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, val, &format!("{at}.{k}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: {k} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(root, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// `sysfs` arguments for a root.
pub fn sysfs<'a>(root: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--backend", "sysfs", "--root", root];
    all.extend_from_slice(args);
    all
}

/// `uio` arguments for a root.
pub fn uio<'a>(root: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--backend", "uio", "--root", root];
    all.extend_from_slice(args);
    all
}

/// What a bounded run of fpgactl gave.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: std::time::Duration,
}

/// Runs fpgactl with a bound. A waiter thread reports the exit on a
/// channel; if `bound` passes first the child is killed and the run is an
/// `Err` (a hang). Both pipes are read on threads, so a large output
/// cannot block the child.
pub fn run_bounded(args: &[&str], bound: std::time::Duration) -> Result<Ran, String> {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(bound) {
        Ok(status) => status.unwrap(),
        Err(_) => {
            // SAFETY: `pid` is our child, not yet reaped (the waiter is
            // still blocked in `wait`), so it names no other process.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let _ = waiter.join();
            return Err(format!("{args:?}: still running after {bound:?} (a hang)"));
        }
    };
    let _ = waiter.join();
    Ok(Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        took: started.elapsed(),
    })
}

/// The demo board (`tests/scenarios/demo-board.toml`), built.
pub fn demo_board() -> backend_sim::Board {
    futures::executor::block_on(
        backend_sim::Scenario::load(scenario("demo-board.toml"))
            .unwrap()
            .build(),
    )
    .unwrap()
}

/// A fake kernel serving the demo board.
pub fn demo_fake_kernel() -> conformance::fake_kernel::FakeKernel {
    conformance::fake_kernel::FakeKernel::start(&demo_board())
}
