//! The lab on stock distribution kernels: Debian's prebuilt
//! `linux-image-*-amd64` of bookworm (6.1) and trixie (6.12), fetched with
//! `apt-get download` through private apt directories, booted with their
//! own modules (the closure of the drivers for what QEMU emulates, from
//! the package's own `modules.dep`), a udev-style coldplug
//! (`tests/kernel/init-stock.sh`) and `lab-guest stock NAME`. Nothing is
//! compiled: a prebuilt kernel needs no build. The guest prints a capture
//! of its `/sys`, unpacked here into `<work>/capture/`; `--update-captures`
//! copies it over the committed fixture.

use super::{boot_with, fnv1a, pack, private_apt, report, run, GuestBins, Kernel, Machine, Res};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One stock kernel.
pub(super) struct Stock {
    /// The lab's name for it, also the check prefix (`stock-debian-6.1`)
    /// and the fixture's (`debian-6.1-q35`).
    pub name: &'static str,
    /// Debian suite.
    suite: &'static str,
    /// How its versioned image package starts.
    prefix: &'static str,
}

pub(super) const KERNELS: &[Stock] = &[
    Stock {
        name: "debian-6.1",
        suite: "bookworm",
        prefix: "linux-image-6.1.",
    },
    Stock {
        name: "debian-6.12",
        suite: "trixie",
        prefix: "linux-image-6.12.",
    },
];

/// The drivers for what the machine emulates, and the modules no device
/// asks for (loaded by name by the init script).
const WANT: &[&str] = &[
    "e1000",
    "ahci",
    "sd_mod",
    "xhci_pci",
    "usb_storage",
    "bochs",
    "virtio_pci",
    "virtio_blk",
    "i2c_i801",
    "at24",
    "ee1004",
    "zram",
    "bonding",
    "uio_pci_generic",
];
/// What the coldplug must have loaded before the checks start.
const COLDPLUG: &[&str] = &[
    "e1000",
    "ahci",
    "sd_mod",
    "xhci_pci",
    "usb_storage",
    "bochs",
    "virtio_blk",
];
const APPLETS: &[&str] = &[
    "sh", "mount", "cat", "cut", "echo", "poweroff", "sync", "uname", "ls", "dmesg", "find",
    "xargs", "sort", "wc", "grep", "modprobe", "depmod", "insmod", "sleep", "tar", "gzip",
    "base64", "readlink",
];
/// `usb-storage.delay_use=0`: scan the stick at once, not after a second.
const CMDLINE: &str = "console=ttyS0 panic=-1 quiet usb-storage.delay_use=0";

fn normal(name: &str) -> String {
    name.replace('-', "_")
}

/// The cached image package, or a fresh download.
fn fetch(cache: &Path, k: &Stock) -> Res<PathBuf> {
    let debs = cache.join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let find = || -> Option<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&debs)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with(k.prefix) && n.contains("-amd64_") && n.ends_with("_amd64.deb")
                })
            })
            .collect();
        v.sort();
        v.pop()
    };
    if let Some(deb) = find() {
        eprintln!("    cached: {}", deb.display());
        return Ok(deb);
    }
    let apt = apt_for(cache, k)?;
    eprintln!("    apt-get update (private lists, Debian {})", k.suite);
    run(Command::new("apt-get").args(&apt).arg("update"))?;
    let deps = super::output(
        Command::new("apt-cache")
            .args(&apt)
            .args(["depends", "linux-image-amd64"]),
    )?;
    let pkg = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with(k.prefix))
        .ok_or_else(|| {
            format!(
                "linux-image-amd64 in {} depends on no {}*: {deps}",
                k.suite, k.prefix
            )
        })?
        .to_string();
    eprintln!("    apt-get download {pkg}");
    run(Command::new("apt-get")
        .args(&apt)
        .args(["download", &pkg])
        .current_dir(&debs))?;
    find().ok_or_else(|| format!("apt-get download left no {pkg} .deb in {}", debs.display()))
}

/// An unpacked image package, indexed.
struct Unpacked {
    vmlinuz: PathBuf,
    /// `lib/modules/<version>` inside it.
    modules: PathBuf,
    version: String,
}

fn unpack(cache: &Path, deb: &Path) -> Res<Unpacked> {
    let stem = deb
        .file_stem()
        .ok_or("a .deb without a name")?
        .to_string_lossy()
        .into_owned();
    let dir = cache.join("stock").join(&stem);
    let done = dir.join(".indexed");
    if !done.exists() {
        let tmp = cache.join("stock").join(format!("{stem}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&tmp))?;
        std::fs::rename(&tmp, &dir).map_err(|e| e.to_string())?;
    }
    // bookworm: lib/modules; trixie: usr/lib/modules.
    let base = if dir.join("usr/lib/modules").is_dir() {
        dir.join("usr")
    } else {
        dir.clone()
    };
    let version = std::fs::read_dir(base.join("lib/modules"))
        .map_err(|e| format!("{}: {e}", base.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or("no lib/modules/<version> in the package")?;
    if !done.exists() {
        // Debian's packages ship no modules.dep: the postinst makes it.
        run(Command::new("busybox")
            .arg("depmod")
            .arg("-b")
            .arg(&base)
            .arg(&version))?;
        std::fs::write(&done, "").map_err(|e| e.to_string())?;
    }
    Ok(Unpacked {
        vmlinuz: dir.join(format!("boot/vmlinuz-{version}")),
        modules: base.join("lib/modules").join(&version),
        version,
    })
}

fn apt_for(cache: &Path, k: &Stock) -> Res<Vec<String>> {
    private_apt(
        &cache.join(format!("apt-{}", k.suite)),
        &format!("deb http://deb.debian.org/debian {} main", k.suite),
    )
}

/// `lab_devlink.ko` built for the stock kernel `u` from its own headers
/// (`linux-headers-<version>`, its `-common` and its `linux-kbuild`),
/// cached by the module source's hash. Debian's kbuild tools for trixie
/// need a newer C library than a bookworm host has: where one does not
/// run, the same tool from the lab kernel's tree (the same 6.12 source)
/// stands in; the compiler is the host's `gcc`, and BTF (which needs
/// `pahole`) is left out.
fn lab_module(
    root: &Path,
    cache: &Path,
    k: &Stock,
    u: &Unpacked,
    lab: &Kernel,
    work: &Path,
) -> Res<PathBuf> {
    let src = std::fs::read(root.join("tests/kernel/lab_devlink.c")).map_err(|e| e.to_string())?;
    let key = format!("{:016x}", fnv1a(&[&src, u.version.as_bytes()]));
    let cached = cache
        .join("stock")
        .join(format!("lab_devlink-{}-{key}.ko", u.version));
    if cached.exists() {
        eprintln!("    cached: {}", cached.display());
        return Ok(cached);
    }
    let debs = cache.join("debs");
    let apt = apt_for(cache, k)?;
    run(Command::new("apt-get").args(&apt).arg("update"))?;
    let headers = format!("linux-headers-{}", u.version);
    let deps = super::output(
        Command::new("apt-cache")
            .args(&apt)
            .args(["depends", &headers]),
    )?;
    let mut pkgs = vec![headers.clone()];
    pkgs.extend(
        deps.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .filter(|p| p.starts_with("linux-headers-") || p.starts_with("linux-kbuild-"))
            .map(str::to_string),
    );
    eprintln!("    apt-get download {}", pkgs.join(" "));
    run(Command::new("apt-get")
        .args(&apt)
        .arg("download")
        .args(&pkgs)
        .current_dir(&debs))?;
    let tree = cache.join("stock").join(format!("headers-{}", u.version));
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
    for p in &pkgs {
        let deb = std::fs::read_dir(&debs)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{p}_")))
            })
            .ok_or_else(|| format!("apt-get download left no {p} .deb"))?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
    }
    let h = tree.join("usr/src").join(&headers);
    // Its Makefile includes the -common tree by absolute path.
    let mk = h.join("Makefile");
    let text = std::fs::read_to_string(&mk).map_err(|e| e.to_string())?;
    let usr_src = tree.join("usr/src");
    std::fs::write(&mk, text.replace("/usr/src", &usr_src.to_string_lossy()))
        .map_err(|e| e.to_string())?;
    // Tools that do not run here: the lab kernel's own builds of them.
    // Debian's are small wrappers that run `<tool>.real-<arch>`.
    for rel in [
        "scripts/basic/fixdep",
        "scripts/mod/modpost",
        "tools/objtool/objtool",
    ] {
        let tool = h.join(rel);
        let (Some(dir), Some(base)) = (tool.parent(), tool.file_name()) else {
            continue;
        };
        let real = format!("{}.real-", base.to_string_lossy());
        let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&real))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        candidates.push(tool.clone());
        for c in candidates {
            let runs = Command::new(&c)
                .output()
                .map(|o| !String::from_utf8_lossy(&o.stderr).contains("GLIBC_"))
                .unwrap_or(false);
            if !runs {
                let ours = lab.tree.join(rel);
                let target = std::fs::canonicalize(&c).map_err(|e| e.to_string())?;
                eprintln!(
                    "    {} needs a newer C library: using {}",
                    c.display(),
                    ours.display()
                );
                std::fs::copy(&ours, &target).map_err(|e| format!("{}: {e}", ours.display()))?;
            }
        }
    }
    // Options the host's gcc does not know come out of the configuration.
    let probe = Command::new("gcc")
        .args([
            "-fmin-function-alignment=16",
            "-x",
            "c",
            "-c",
            "/dev/null",
            "-o",
            "/dev/null",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !probe {
        let auto = h.join("include/config/auto.conf");
        let text = std::fs::read_to_string(&auto).map_err(|e| e.to_string())?;
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT="))
            .collect();
        std::fs::write(&auto, kept.join("\n") + "\n").map_err(|e| e.to_string())?;
    }
    let dir = work.join("lab-module");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("lab_devlink.c"), &src).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("Kbuild"), "obj-m := lab_devlink.o\n").map_err(|e| e.to_string())?;
    run(Command::new("make")
        .arg("-C")
        .arg(&h)
        .arg(format!("M={}", dir.display()))
        .args([
            "CC=gcc",
            "CROSS_COMPILE=",
            "CONFIG_DEBUG_INFO_BTF_MODULES=",
            "modules",
        ]))?;
    std::fs::copy(dir.join("lab_devlink.ko"), &cached).map_err(|e| e.to_string())?;
    Ok(cached)
}

/// `modules.dep` as name -> (path, the paths it needs).
fn dep_index(u: &Unpacked) -> Res<BTreeMap<String, (String, Vec<String>)>> {
    let text = std::fs::read_to_string(u.modules.join("modules.dep")).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for l in text.lines() {
        let Some((path, deps)) = l.split_once(':') else {
            continue;
        };
        let file = path.rsplit('/').next().unwrap_or(path);
        let name = file.trim_end_matches(".xz").trim_end_matches(".ko");
        out.insert(
            normal(name),
            (
                path.to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            ),
        );
    }
    Ok(out)
}

/// The initramfs for kernel `k`: busybox, the init script, the closure of
/// [`WANT`] (decompressed), the guest binaries.
fn initramfs(
    root: &Path,
    work: &Path,
    u: &Unpacked,
    bins: &GuestBins,
    k: &Stock,
    lab_ko: Option<&Path>,
) -> Res<PathBuf> {
    let tree =
        super::initramfs_skeleton(work, &[], APPLETS, &root.join("tests/kernel/init-stock.sh"))?;
    let copy = super::copy_file;
    let index = dep_index(u)?;
    let present: Vec<&str> = WANT
        .iter()
        .copied()
        .filter(|m| index.contains_key(*m))
        .collect();
    let mut files: BTreeSet<String> = BTreeSet::new();
    for m in &present {
        let (path, deps) = &index[*m];
        files.insert(path.clone());
        files.extend(deps.iter().cloned());
    }
    let dest = tree.join("lib/modules").join(&u.version);
    for f in &files {
        let from = u.modules.join(f);
        let to = dest.join(f.trim_end_matches(".xz"));
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
        }
        if f.ends_with(".xz") {
            let out = Command::new("xz")
                .arg("-dc")
                .arg(&from)
                .output()
                .map_err(|e| format!("xz: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "xz -dc {}: {}",
                    from.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::fs::write(&to, out.stdout).map_err(|e| e.to_string())?;
        } else {
            copy(&from, &to)?;
        }
    }
    for (from, name) in [(&bins.guest, "lab-guest"), (&bins.fpgactl, "fpgactl")] {
        let bin = tree.join("bin").join(name);
        copy(from, &bin)?;
        let _ = run(Command::new("strip").arg(&bin));
    }
    if let Some(ko) = lab_ko {
        copy(ko, &tree.join("lib/modules/lab/lab_devlink.ko"))?;
    }
    let coldplug: Vec<&str> = COLDPLUG
        .iter()
        .copied()
        .filter(|m| present.contains(m))
        .collect();
    let w = |f: &str, s: String| std::fs::write(tree.join(f), s).map_err(|e| e.to_string());
    w("lab/args", format!("stock {}", k.name))?;
    w("lab/expect-modules", present.join(" "))?;
    w("lab/expect-coldplug", coldplug.join(" "))?;
    // The SATA disk and the USB stick.
    w("lab/expect-disks", "2".to_string())?;
    eprintln!(
        "    {} modules ({} wanted here: {})",
        files.len(),
        present.len(),
        present.join(" ")
    );
    pack(&tree, &work.join("initramfs.cpio.gz"))
}

/// What QEMU emulates for a stock kernel: a NIC, SATA, USB storage behind
/// xHCI, a virtio disk, a VGA the bochs DRM driver takes, and the edu
/// device for UIO.
fn machine(work: &Path) -> Res<Machine> {
    let mut devices: Vec<String> = Vec::new();
    for (disk, attach) in [
        ("sata", vec!["ide-hd,drive=sata,bus=ide.0".to_string()]),
        ("usb", vec!["usb-storage,bus=xhci.0,drive=usb".to_string()]),
        ("vd", vec!["virtio-blk-pci,drive=vd".to_string()]),
    ] {
        let img = work.join(format!("{disk}.img"));
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(4 << 20))
            .map_err(|e| format!("{}: {e}", img.display()))?;
        if disk == "usb" {
            devices.extend(["-device".into(), "qemu-xhci,id=xhci".into()]);
        }
        devices.push("-drive".into());
        devices.push(format!(
            "if=none,id={disk},format=raw,file={}",
            img.display()
        ));
        for a in attach {
            devices.push("-device".into());
            devices.push(a);
        }
    }
    devices.extend(
        [
            "-nic", "none", "-device", "e1000", "-vga", "std", "-device", "edu",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    Ok(Machine {
        memory_mib: 1024,
        devices,
        cmdline: CMDLINE,
    })
}

/// Unpacks the capture the guest printed into `work/capture/`.
pub(super) fn unpack_capture(text: &str, work: &Path) -> Res<PathBuf> {
    let mut b64 = String::new();
    let mut inside = false;
    for l in text.lines() {
        let Some(pos) = l.find("LAB-CAPTURE") else {
            continue;
        };
        let l = &l[pos..];
        match l {
            "LAB-CAPTURE-BEGIN" => inside = true,
            "LAB-CAPTURE-END" => inside = false,
            _ if inside => {
                if let Some(rest) = l.strip_prefix("LAB-CAPTURE ") {
                    b64.push_str(rest.trim());
                    b64.push('\n');
                }
            }
            _ => {}
        }
    }
    if b64.is_empty() {
        return Err("the guest printed no capture".into());
    }
    let b64_path = work.join("capture.tgz.b64");
    std::fs::write(&b64_path, &b64).map_err(|e| e.to_string())?;
    let dir = work.join("capture");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    run(Command::new("sh").arg("-c").arg(format!(
        "base64 -d '{}' | tar -xzf - -C '{}'",
        b64_path.display(),
        dir.display()
    )))?;
    Ok(dir)
}

/// Where the committed capture of `k` lives.
pub(super) fn fixture_dir(root: &Path, k: &Stock) -> PathBuf {
    root.join("fixtures/sysfs").join(format!("{}-q35", k.name))
}

/// What every stock kernel's run shares.
pub(super) struct Ctx<'a> {
    /// The workspace.
    pub root: &'a Path,
    /// The lab's download and build cache.
    pub cache: &'a Path,
    /// The static guest binaries.
    pub bins: &'a GuestBins,
    /// The lab kernel's tree (its kbuild tools stand in for ones that do
    /// not run here).
    pub lab: &'a Kernel,
    /// The bound on one boot.
    pub timeout: Duration,
    /// Copy the captures over the committed fixtures.
    pub update_captures: bool,
}

/// Fetch, unpack, pack, boot and report one stock kernel in `work`;
/// returns the report text.
pub(super) fn lab_one(ctx: &Ctx<'_>, work: &Path, k: &Stock) -> Res<String> {
    let Ctx {
        root,
        cache,
        bins,
        lab,
        timeout,
        update_captures,
    } = *ctx;
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let deb = fetch(cache, k)?;
    let u = unpack(cache, &deb)?;
    // Without the module the conformance cases fail in the guest, saying
    // so; the read checks still run.
    let ko = match lab_module(root, cache, k, &u, lab, work) {
        Ok(ko) => Some(ko),
        Err(e) => {
            eprintln!("    lab_devlink for {}: {e}", u.version);
            None
        }
    };
    let initrd = initramfs(root, work, &u, bins, k, ko.as_deref())?;
    let m = machine(work)?;
    let text = boot_with(&u.vmlinuz, &initrd, &m, work, timeout)?;
    let rep = report(&text, work);
    match unpack_capture(&text, work) {
        Ok(dir) => {
            eprintln!("    capture: {}", dir.display());
            if update_captures {
                let to = fixture_dir(root, k);
                let _ = std::fs::remove_dir_all(&to);
                run(Command::new("cp").arg("-a").arg(&dir).arg(&to))?;
                eprintln!("    updated {}", to.display());
            }
        }
        Err(e) => eprintln!("    no capture: {e}"),
    }
    rep
}
