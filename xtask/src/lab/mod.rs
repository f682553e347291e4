//! `cargo xtask lab`: the real-kernel lab (see `docs/real-kernel.md`).
//!
//! Boots a tiny Linux 6.12 under QEMU (TCG, x86_64 `q35`, with QEMU's `edu`
//! PCI device) and runs this project's checks inside it against the
//! kernel's real driver core, device links, FPGA classes and UIO:
//!
//! 1. host tools (QEMU, static busybox, the kernel's build dependencies),
//!    installed with `apt-get` when missing;
//! 2. the kernel source: Debian trixie's `linux-source-6.12`, fetched with
//!    `apt-get download` through private apt directories (the host's apt
//!    state is not touched);
//! 3. the kernel: `tinyconfig` + `tests/kernel/config.fragment`, built once
//!    and cached under `~/.cache/fpga-devlink-lab/<key>/`, the key hashing
//!    the source package version and the fragment;
//! 4. the lab's kernel modules (`tests/kernel/*.c`), built out of tree;
//! 5. the static guest binaries (`lab/guest`, and `fpgactl`, which the
//!    guest runs), musl or static glibc;
//! 6. an initramfs (busybox, `tests/kernel/init.sh`, modules, binaries,
//!    `tests/kernel/scenarios/*.scn`);
//! 7. the boot, the serial console captured to `target/lab/serial.log`;
//! 8. the report: every `LAB-RESULT` line, failures with their details, a
//!    non-zero exit if any check failed or the guest did not finish.
//!
//! Every step prints what it does and how long it took.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

pub(crate) mod figures;
mod report;
mod stock;

use report::report;

/// The kernel source package (Debian trixie).
const SOURCE_PACKAGE: &str = "linux-source-6.12";
const SOURCE_RELEASE: &str = "deb http://deb.debian.org/debian trixie main";
/// Bump when the way the kernel is built changes (part of the cache key).
const RECIPE: &str = "lab-kernel-recipe-1: tinyconfig + fragment, make bzImage modules";
const KERNEL_CMDLINE: &str = "console=ttyS0 panic=-1 quiet deferred_probe_timeout=-1";
const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "mount", "insmod", "cat", "cut", "echo", "poweroff", "sync", "uname", "ls", "dmesg",
    "tar", "gzip", "base64",
];

type Res<T> = Result<T, String>;

struct Timings {
    steps: Vec<(String, f64)>,
    total: Instant,
}

impl Timings {
    /// Runs `f` as a named step, printing what it does and how long it took.
    fn step<T>(&mut self, name: &str, f: impl FnOnce() -> Res<T>) -> Res<T> {
        eprintln!("\n==> [lab] {name}");
        let t = Instant::now();
        let r = f();
        let secs = t.elapsed().as_secs_f64();
        match &r {
            Ok(_) => eprintln!("==> [lab] {name}: ok in {secs:.1}s"),
            // The error itself is printed once, at the end of the run.
            Err(_) => eprintln!("==> [lab] {name}: FAILED after {secs:.1}s"),
        }
        self.steps.push((name.to_string(), secs));
        r
    }

    fn print(&self) {
        eprintln!("\n[lab] time per step:");
        for (name, secs) in &self.steps {
            eprintln!("  {secs:7.1}s  {name}");
        }
        eprintln!("  {:7.1}s  total", self.total.elapsed().as_secs_f64());
    }
}

struct Options {
    guest_args: String,
    timeout: Duration,
    /// Boot the tinyconfig lab kernel.
    tiny: bool,
    /// Boot the stock Debian kernels.
    stock: bool,
    /// Copy the stock kernels' captures over the committed fixtures.
    update_captures: bool,
    /// Append the measured figures to docs/benchmarks/lab-history.jsonl.
    record: bool,
}

fn parse_options(args: &[String]) -> Res<Options> {
    let mut o = Options {
        guest_args: String::new(),
        timeout: Duration::from_secs(900),
        tiny: true,
        stock: true,
        update_captures: false,
        record: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--guest-args" => o.guest_args = it.next().ok_or("--guest-args needs a value")?.clone(),
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs seconds")?;
                o.timeout = Duration::from_secs(v.parse().map_err(|_| format!("--timeout {v}"))?);
            }
            "--no-stock" => o.stock = false,
            "--stock-only" => o.tiny = false,
            "--update-captures" => o.update_captures = true,
            "--record" => o.record = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// The guest's `LAB-FIGURE`s into `work/figures.json`, and with
/// `--record` onto `docs/benchmarks/lab-history.jsonl`.
fn lab_figures(root: &Path, work: &Path, text: &str, record: bool) -> Res<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let commit = output(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root),
    )
    .map(|s| s.trim().to_string())
    .unwrap_or_else(|_| "unknown".into());
    let dirty = output(
        Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(root),
    )
    .is_ok_and(|s| !s.trim().is_empty());
    let mut r = figures::record(text, &crate::bench::utc_date(now), &commit);
    r["dirty"] = serde_json::Value::Bool(dirty);
    let n = r["figures"].as_array().map_or(0, Vec::len);
    for f in r["figures"].as_array().into_iter().flatten() {
        eprintln!(
            "    {} = {} {}{}",
            f["id"].as_str().unwrap_or(""),
            f["value"],
            f["unit"].as_str().unwrap_or(""),
            match (f["goal"].as_str(), f["met"].as_bool()) {
                (Some(g), Some(m)) => format!(" (goal {g}: {})", if m { "met" } else { "not met" }),
                _ => String::new(),
            }
        );
    }
    std::fs::write(work.join("figures.json"), format!("{r:#}\n")).map_err(|e| e.to_string())?;
    if record {
        if n == 0 {
            return Err("--record: the guest printed no figures (run the downtime section)".into());
        }
        let path = root.join("docs/benchmarks/lab-history.jsonl");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(f, "{r}").map_err(|e| e.to_string())?;
        eprintln!("    recorded in {}", path.display());
    }
    Ok(())
}

/// Runs `cmd`, failing with its output if it fails.
fn run(cmd: &mut Command) -> Res<()> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    Err(format!(
        "{cmd:?} failed ({})\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
        out.status,
        tail(&out.stdout),
        tail(&out.stderr)
    ))
}

/// Runs `cmd` and returns its stdout.
fn output(cmd: &mut Command) -> Res<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// 64-bit FNV-1a, for the cache key (no dependency needed).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn cache_root() -> PathBuf {
    if let Ok(d) = std::env::var("FPGA_DEVLINK_LAB_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache")
        });
    base.join("fpga-devlink-lab")
}

/// Step 1: the host tools, installed with apt-get when missing.
fn host_tools() -> Res<()> {
    let needs: &[(&str, &str)] = &[
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("flex", "flex"),
        ("bison", "bison"),
        ("bc", "bc"),
        ("make", "make"),
        ("gcc", "gcc"),
        ("dpkg", "dpkg"),
        ("xz", "xz-utils"),
        ("strip", "binutils"),
        ("dtc", "device-tree-compiler"),
        ("patch", "patch"),
    ];
    let mut missing: Vec<&str> = needs
        .iter()
        .filter(|(prog, _)| !have(prog))
        .map(|(_, pkg)| *pkg)
        .collect();
    // The initramfs needs the static busybox of `busybox-static` (the
    // `busybox` package is dynamically linked).
    let busybox_static = Path::new("/bin/busybox").exists()
        && output(Command::new("dpkg-query").args(["-W", "-f=${Status}", "busybox-static"]))
            .is_ok_and(|s| s.contains("install ok installed"));
    if !busybox_static {
        missing.push("busybox-static");
    }
    if !Path::new("/usr/include/libelf.h").exists() {
        missing.push("libelf-dev");
    }
    if missing.is_empty() {
        eprintln!(
            "    all present: qemu-system-x86_64, busybox (static), flex, bison, bc, libelf, dtc"
        );
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "missing packages {missing:?} and not root: install them with apt-get"
        ));
    }
    eprintln!("    installing {missing:?}");
    let install = |missing: &[&str]| {
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install(&missing).is_err() {
        eprintln!("    apt-get install failed; running apt-get update first");
        run(Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        install(&missing)?;
    }
    Ok(())
}

/// apt-get/apt-cache options for private apt directories under `dir`
/// reading the one-line sources entry `release` (the host's apt state is
/// never touched).
fn private_apt(dir: &Path, release: &str) -> Res<Vec<String>> {
    for sub in ["lists/partial", "cache/archives/partial", "etc"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let sources = dir.join("etc/sources.list");
    std::fs::write(&sources, format!("{release}\n")).map_err(|e| e.to_string())?;
    Ok(vec![
        format!("-oDir::State::Lists={}", dir.join("lists").display()),
        format!("-oDir::Cache={}", dir.join("cache").display()),
        "-oDir::State::status=/dev/null".into(),
        format!("-oDir::Etc::SourceList={}", sources.display()),
        "-oDir::Etc::SourceParts=/dev/null".into(),
        "-oAPT::Get::List-Cleanup=0".into(),
        "-oDebug::NoLocking=1".into(),
    ])
}

/// Step 2: the kernel source package (cached `.deb`), returns its path.
fn kernel_source(cache: &Path) -> Res<PathBuf> {
    let debs = cache.join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let find = || -> Option<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&debs)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    n.to_string_lossy()
                        .starts_with(&format!("{SOURCE_PACKAGE}_"))
                }) && p.extension().is_some_and(|e| e == "deb")
            })
            .collect();
        v.sort();
        v.pop()
    };
    if let Some(deb) = find() {
        eprintln!("    cached: {}", deb.display());
        return Ok(deb);
    }
    let apt = private_apt(&cache.join("apt"), SOURCE_RELEASE)?;
    eprintln!("    apt-get update (private lists, Debian trixie)");
    run(Command::new("apt-get").args(&apt).arg("update"))?;
    eprintln!("    apt-get download {SOURCE_PACKAGE}");
    run(Command::new("apt-get")
        .args(&apt)
        .args(["download", SOURCE_PACKAGE])
        .current_dir(&debs))?;
    find().ok_or_else(|| {
        format!(
            "apt-get download left no {SOURCE_PACKAGE} .deb in {}",
            debs.display()
        )
    })
}

struct Kernel {
    tree: PathBuf,
    bzimage: PathBuf,
    kunit_modules: Vec<PathBuf>,
}

/// Step 3: the kernel, built once per cache key.
fn kernel_build(cache: &Path, deb: &Path, fragment: &Path, patches: &Path) -> Res<Kernel> {
    let frag = std::fs::read(fragment).map_err(|e| format!("{}: {e}", fragment.display()))?;
    // `tests/kernel/patches/*.patch`, in name order, applied with
    // `patch -p1` after unpacking; their text is part of the cache key.
    let mut patch_files: Vec<PathBuf> = std::fs::read_dir(patches)
        .map_err(|e| format!("{}: {e}", patches.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    patch_files.sort();
    let mut patch_text = Vec::new();
    for p in &patch_files {
        patch_text.extend(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let deb_name = deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = format!(
        "{}-{:016x}",
        deb_name.trim_end_matches(".deb").replace("_all", ""),
        fnv1a(&[deb_name.as_bytes(), &frag, &patch_text, RECIPE.as_bytes()])
    );
    let dir = cache.join(&key);
    let done = dir.join("done");
    let tree = dir.join("linux");
    let kunit: Vec<PathBuf> = ["fpga-mgr-test", "fpga-bridge-test", "fpga-region-test"]
        .iter()
        .map(|m| tree.join(format!("drivers/fpga/tests/{m}.ko")))
        .collect();
    let kernel = Kernel {
        bzimage: tree.join("arch/x86/boot/bzImage"),
        kunit_modules: kunit,
        tree: tree.clone(),
    };
    if done.exists() && kernel.bzimage.exists() {
        eprintln!("    cached: {} (key {key})", kernel.bzimage.display());
        return Ok(kernel);
    }
    eprintln!("    building into {} (key {key})", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let unpacked = dir.join("deb");
    run(Command::new("dpkg").arg("-x").arg(deb).arg(&unpacked))?;
    let tarball = std::fs::read_dir(unpacked.join("usr/src"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.xz"))
        .ok_or("no .tar.xz in the source package")?;
    run(Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir))?;
    let top = tarball
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar.xz").to_string())
        .ok_or("bad tarball name")?;
    std::fs::rename(dir.join(&top), &tree).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&unpacked);
    for p in &patch_files {
        run(Command::new("patch")
            .args(["-p1", "--forward", "--batch", "-i"])
            .arg(p)
            .current_dir(&tree))?;
    }
    eprintln!(
        "    unpacked in {:.1}s, {} patch(es) applied",
        t.elapsed().as_secs_f64(),
        patch_files.len()
    );
    let t = Instant::now();
    run(Command::new("make").arg("tinyconfig").current_dir(&tree))?;
    run(Command::new("scripts/kconfig/merge_config.sh")
        .args(["-m", ".config"])
        .arg(fragment)
        .current_dir(&tree))?;
    run(Command::new("make").arg("olddefconfig").current_dir(&tree))?;
    let config = std::fs::read_to_string(tree.join(".config")).map_err(|e| e.to_string())?;
    let frag_text = String::from_utf8_lossy(&frag);
    let lost: Vec<&str> = frag_text
        .lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter(|l| !config.lines().any(|c| c == *l))
        .collect();
    if !lost.is_empty() {
        return Err(format!("the config fragment did not stick: {lost:?}"));
    }
    eprintln!("    configured in {:.1}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    eprintln!("    make -j2 bzImage modules (about 3.5 minutes on 2 cores)");
    run(Command::new("make")
        .args(["-j2", "bzImage", "modules"])
        .current_dir(&tree))?;
    eprintln!("    compiled in {:.1}s", t.elapsed().as_secs_f64());
    for m in &kernel.kunit_modules {
        if !m.exists() {
            return Err(format!("{} was not built", m.display()));
        }
    }
    std::fs::write(&done, format!("{deb_name}\n{RECIPE}\n")).map_err(|e| e.to_string())?;
    Ok(kernel)
}

/// Step 4: the lab modules, built out of tree in `target/lab/modules`.
fn lab_modules(root: &Path, kernel: &Kernel, work: &Path) -> Res<Vec<PathBuf>> {
    let dir = work.join("modules");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let src = root.join("tests/kernel");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&src)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let p = e.path();
        let n = e.file_name().to_string_lossy().into_owned();
        if n == "Kbuild" || n.ends_with(".c") {
            std::fs::copy(&p, dir.join(&n)).map_err(|e| e.to_string())?;
            if let Some(stem) = n.strip_suffix(".c") {
                names.push(stem.to_string());
            }
        }
    }
    run(Command::new("make")
        .arg("-C")
        .arg(&kernel.tree)
        .arg(format!("M={}", dir.display()))
        .arg("modules"))?;
    names.sort();
    Ok(names.iter().map(|n| dir.join(format!("{n}.ko"))).collect())
}

/// The guest's static binaries: `lab-guest` and `fpgactl`.
struct GuestBins {
    guest: PathBuf,
    fpgactl: PathBuf,
}

/// Step 5: the static guest binaries (`lab-guest`, and `fpgactl`, which
/// the guest runs as a subprocess), in one cargo build.
fn guest_binary(root: &Path, target: &Path) -> Res<GuestBins> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    const MUSL: &str = "x86_64-unknown-linux-musl";
    const PACKAGES: [&str; 4] = ["-p", "lab-guest", "-p", "fpgactl"];
    let bins = |dir: PathBuf| GuestBins {
        guest: dir.join("lab-guest"),
        fpgactl: dir.join("fpgactl"),
    };
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
        .map(|s| s.lines().any(|l| l.trim() == MUSL))
        .unwrap_or(false);
    let musl = installed || run(Command::new("rustup").args(["target", "add", MUSL])).is_ok();
    if musl {
        run(Command::new(&cargo)
            .args(["build", "--release", "--target", MUSL])
            .args(PACKAGES)
            .current_dir(root))?;
        return Ok(bins(target.join(format!("{MUSL}/release"))));
    }
    eprintln!("    no musl target: static glibc build (-C target-feature=+crt-static)");
    const GNU: &str = "x86_64-unknown-linux-gnu";
    run(Command::new(&cargo)
        .args(["build", "--release", "--target", GNU])
        .args(PACKAGES)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", target.join("lab/static-gnu"))
        .current_dir(root))?;
    Ok(bins(target.join(format!("lab/static-gnu/{GNU}/release"))))
}

/// Copies one file, the error naming both ends.
pub(crate) fn copy_file(from: &Path, to: &Path) -> Res<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
}

/// A fresh initramfs tree under `work/initramfs`: the directories every
/// guest needs (plus `extra`), a static busybox with `applets` linked to
/// it, and `init` as `/init` (executable whatever the checkout's modes).
pub(crate) fn initramfs_skeleton(
    work: &Path,
    extra: &[&str],
    applets: &[&str],
    init: &Path,
) -> Res<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let tree = work.join("initramfs");
    let _ = std::fs::remove_dir_all(&tree);
    // `run/lock`: the sysfs backend's per-manager lock files.
    let dirs = [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "lab",
        "run/lock",
        "lib/firmware",
        "lib/modules/lab",
    ];
    for d in dirs.iter().chain(extra) {
        std::fs::create_dir_all(tree.join(d)).map_err(|e| e.to_string())?;
    }
    copy_file(Path::new("/bin/busybox"), &tree.join("bin/busybox"))?;
    for a in applets {
        std::os::unix::fs::symlink("busybox", tree.join("bin").join(a))
            .map_err(|e| e.to_string())?;
    }
    copy_file(init, &tree.join("init"))?;
    std::fs::set_permissions(tree.join("init"), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(tree)
}

/// Step 6: the initramfs.
fn initramfs(
    root: &Path,
    work: &Path,
    kernel: &Kernel,
    modules: &[PathBuf],
    bins: &GuestBins,
    guest_args: &str,
) -> Res<PathBuf> {
    let tree = initramfs_skeleton(
        work,
        &["sbin", "lab/scenarios", "lab/overlays"],
        BUSYBOX_APPLETS,
        &root.join("tests/kernel/init.sh"),
    )?;
    let copy = copy_file;

    for m in modules.iter().chain(&kernel.kunit_modules) {
        let name = m.file_name().ok_or("module without a name")?;
        copy(m, &tree.join("lib/modules/lab").join(name))?;
    }
    for (from, name) in [(&bins.guest, "lab-guest"), (&bins.fpgactl, "fpgactl")] {
        let bin = tree.join("bin").join(name);
        copy(from, &bin)?;
        // Debug info is a third of the image and never used in the guest.
        let _ = run(Command::new("strip").arg(&bin));
    }
    for e in std::fs::read_dir(root.join("tests/kernel/scenarios"))
        .map_err(|e| e.to_string())?
        .flatten()
    {
        copy(&e.path(), &tree.join("lab/scenarios").join(e.file_name()))?;
    }
    compile_overlays(
        &root.join("tests/kernel/overlays"),
        &tree.join("lab/overlays"),
    )?;
    std::fs::write(tree.join("lab/args"), guest_args).map_err(|e| e.to_string())?;
    pack(&tree, &work.join("initramfs.cpio.gz"))
}

/// The lab's device-tree overlays, `tests/kernel/overlays/NAME.dtso`,
/// compiled by `dtc` into `out/NAME.dtbo` (warnings are errors: a
/// malformed overlay must not reach the kernel by accident).
fn compile_overlays(src: &Path, out: &Path) -> Res<()> {
    let mut n = 0;
    for e in std::fs::read_dir(src).map_err(|e| e.to_string())?.flatten() {
        let p = e.path();
        let Some(stem) = p
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_suffix(".dtso"))
        else {
            continue;
        };
        let res = Command::new("dtc")
            .args(["-I", "dts", "-O", "dtb", "-o"])
            .arg(out.join(format!("{stem}.dtbo")))
            .arg(&p)
            .output()
            .map_err(|e| format!("cannot run dtc: {e}"))?;
        let warned = String::from_utf8_lossy(&res.stderr);
        if !res.status.success() || !warned.trim().is_empty() {
            return Err(format!("dtc on {}: {}", p.display(), warned.trim()));
        }
        n += 1;
    }
    eprintln!("    {n} overlays compiled with dtc");
    Ok(())
}

/// Packs `tree` into a gzipped newc cpio archive at `out`.
fn pack(tree: &Path, out: &Path) -> Res<PathBuf> {
    let out = out.to_path_buf();
    run(Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null | gzip -1 > '{}'",
            out.display()
        ))
        .current_dir(tree))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!("    {} ({} KiB)", out.display(), size / 1024);
    Ok(out)
}

/// Step 7: the boot; returns the serial console's text.
fn boot(kernel: &Kernel, initrd: &Path, work: &Path, timeout: Duration) -> Res<String> {
    let machine = Machine {
        memory_mib: 512,
        devices: vec!["-device".into(), "edu".into()],
        cmdline: KERNEL_CMDLINE,
    };
    boot_with(&kernel.bzimage, initrd, &machine, work, timeout)
}

/// What QEMU emulates around a kernel.
struct Machine {
    memory_mib: u32,
    /// Arguments adding devices (`-device edu`, drives...).
    devices: Vec<String>,
    cmdline: &'static str,
}

/// Boots `image` with `initrd` on `machine` under TCG; returns the serial
/// console's text (also in `work/serial.log`).
fn boot_with(
    image: &Path,
    initrd: &Path,
    machine: &Machine,
    work: &Path,
    timeout: Duration,
) -> Res<String> {
    let log_path = work.join("serial.log");
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-M", "q35", "-smp", "1"])
        .arg("-m")
        .arg(machine.memory_mib.to_string())
        .args(["-nographic", "-no-reboot"])
        .args(&machine.devices)
        .arg("-kernel")
        .arg(image)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", machine.cmdline])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut log = std::fs::File::create(&log_path).ok();
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).replace('\r', "");
            if let Some(l) = log.as_mut() {
                let _ = writeln!(l, "{line}");
            }
            if let Some(pos) = line.find("LAB-") {
                let l = &line[pos..];
                if l.starts_with("LAB-RESULT")
                    || l.starts_with("LAB-BOOT")
                    || l.starts_with("LAB-SUMMARY")
                {
                    eprintln!("    {l}");
                }
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = reader.join().map_err(|_| "serial reader panicked")?;
    let errs = err_reader.join().unwrap_or_default();
    match status {
        None => Err(format!(
            "the guest did not power off within {}s; serial log: {}\n{}",
            timeout.as_secs(),
            work.join("serial.log").display(),
            tail(&text, 40)
        )),
        Some(st) if !st.success() => Err(format!(
            "qemu exited with {st}: {}\n{}",
            errs.trim(),
            tail(&text, 40)
        )),
        Some(_) => Ok(text),
    }
}

pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `cargo xtask lab [--guest-args "SECTIONS"] [--timeout SECS]`.
pub fn lab(args: &[String]) -> ExitCode {
    let opts = match parse_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xtask lab: {e}\nusage: cargo xtask lab [--guest-args \"scenarios fpga ...\"] [--timeout SECS] [--no-stock | --stock-only] [--update-captures]");
            return ExitCode::from(2);
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // Cargo's own answer, so a CARGO_TARGET_DIR (or a config's
    // build.target-dir) is honoured everywhere.
    let target = crate::target_dir(&root);
    let work = target.join("lab");
    let cache = cache_root();
    let mut t = Timings {
        steps: Vec::new(),
        total: Instant::now(),
    };
    let result = (|| -> Res<String> {
        std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
        t.step(
            "host tools (qemu, busybox-static, kernel build deps)",
            host_tools,
        )?;
        let deb = t.step("kernel source (Debian trixie linux-source-6.12)", || {
            kernel_source(&cache)
        })?;
        let kernel = t.step(
            "kernel (tinyconfig + tests/kernel/config.fragment and patches/, cached)",
            || {
                kernel_build(
                    &cache,
                    &deb,
                    &root.join("tests/kernel/config.fragment"),
                    &root.join("tests/kernel/patches"),
                )
            },
        )?;
        let modules = t.step("lab kernel modules (tests/kernel)", || {
            lab_modules(&root, &kernel, &work)
        })?;
        let bins = t.step("static guest binaries (lab-guest, fpgactl)", || {
            guest_binary(&root, &target)
        })?;
        let mut reports = Vec::new();
        let mut failed = Vec::new();
        if opts.tiny {
            let initrd = t.step("initramfs", || {
                initramfs(&root, &work, &kernel, &modules, &bins, &opts.guest_args)
            })?;
            let text = t.step("boot and guest checks (QEMU TCG, q35 + edu)", || {
                boot(&kernel, &initrd, &work, opts.timeout)
            })?;
            match t.step("report", || report(&text, &work)) {
                Ok(r) => reports.push(r),
                Err(e) => failed.push(e),
            }
            if let Err(e) = t.step("figures (target/lab/figures.json)", || {
                lab_figures(&root, &work, &text, opts.record)
            }) {
                failed.push(e);
            }
            match stock::unpack_capture(&text, &work) {
                Ok(dir) if opts.update_captures => {
                    let to = root.join("fixtures/sysfs/lab-6.12-tinyconfig");
                    let _ = std::fs::remove_dir_all(&to);
                    run(Command::new("cp").arg("-a").arg(&dir).arg(&to))?;
                    eprintln!("    updated {}", to.display());
                }
                Ok(dir) => eprintln!("    capture: {}", dir.display()),
                Err(e) => eprintln!("    no capture: {e}"),
            }
        }
        if opts.stock {
            for k in stock::KERNELS {
                let dir = work.join(format!("stock-{}", k.name));
                let r = t.step(
                    &format!(
                        "stock kernel {} (prebuilt, its own modules, coldplug)",
                        k.name
                    ),
                    || {
                        let ctx = stock::Ctx {
                            root: &root,
                            cache: &cache,
                            bins: &bins,
                            lab: &kernel,
                            timeout: opts.timeout,
                            update_captures: opts.update_captures,
                        };
                        stock::lab_one(&ctx, &dir, k)
                    },
                );
                match r {
                    Ok(r) => reports.push(format!("{}:\n{r}", k.name)),
                    Err(e) => failed.push(format!("{}:\n{e}", k.name)),
                }
            }
        }
        if failed.is_empty() {
            Ok(reports.join("\n"))
        } else {
            Err(reports
                .into_iter()
                .chain(failed)
                .collect::<Vec<_>>()
                .join("\n"))
        }
    })();
    t.print();
    // The matrix with a column per kernel booted in this run.
    let mut columns = Vec::new();
    if opts.tiny {
        columns.push(("linux (lab)".to_string(), work.join("conformance.tsv")));
    }
    if opts.stock {
        for k in stock::KERNELS {
            columns.push((
                format!("{} (stock)", k.name),
                work.join(format!("stock-{}", k.name))
                    .join("conformance.tsv"),
            ));
        }
    }
    columns.retain(|(_, f)| std::fs::metadata(f).is_ok_and(|m| m.len() > 0));
    if !columns.is_empty() {
        eprintln!("\n==> [lab] the conformance matrix with the real kernels' columns");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = Command::new(cargo);
        c.args(["run", "--quiet", "-p", "conformance", "--"]);
        for (name, file) in &columns {
            c.arg("--column").arg(format!("{name}={}", file.display()));
        }
        let _ = c.current_dir(&root).status();
    }
    match result {
        Ok(rep) => {
            eprintln!("\n{rep}");
            eprintln!(
                "xtask lab: all guest checks passed (report: {})",
                work.join("report.txt").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\n{e}");
            eprintln!(
                "xtask lab: FAILED (serial log: {})",
                work.join("serial.log").display()
            );
            ExitCode::FAILURE
        }
    }
}
