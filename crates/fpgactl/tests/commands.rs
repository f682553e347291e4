//! End-to-end tests of every fpgactl command on the simulator: real
//! process, output and exit codes, including bad input.

mod common;

use common::{fpgactl, stderr as err, stdout as out};
use std::path::{Path, PathBuf};
use std::process::Output;

fn ok(args: &[&str]) -> String {
    let o = fpgactl(args);
    assert!(o.status.success(), "{args:?}: {}", err(&o));
    out(&o)
}

fn fails(args: &[&str], code: i32, needle: &str) -> Output {
    let o = fpgactl(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}: {}{}",
        out(&o),
        err(&o)
    );
    assert!(err(&o).contains(needle), "{args:?}: {}", err(&o));
    o
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn image(&self, name: &str, size: usize, partial: bool) -> String {
        let p = self.path(name);
        let size = size.to_string();
        let mut args = vec!["sim-image", p.to_str().unwrap(), "--size", &size];
        if partial {
            args.push("--partial");
        }
        ok(&args);
        p.to_str().unwrap().to_string()
    }
    /// The demo board with the manager's lock held by `holder`.
    fn held_board(&self, holder: &str) -> String {
        let demo = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios/demo-board.toml"),
        )
        .unwrap();
        let text = demo.replace(
            "bytes_per_sec = 200_000_000\n",
            &format!("bytes_per_sec = 200_000_000\nheld_by = \"{holder}\"\n"),
        );
        assert_ne!(text, demo);
        let p = self.path("held.toml");
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
}

#[test]
fn list_shows_fpga_objects_then_devices() {
    let o = ok(&["list"]);
    let lines: Vec<&str> = o.lines().collect();
    assert!(lines[0].starts_with("FPGA "), "{o}");
    assert!(lines[1].starts_with("fpga0     manager   power off"), "{o}");
    assert!(lines[2].starts_with("br0       bridge    enabled"), "{o}");
    assert!(
        lines[3].contains("programmed by fpga0, 4 dependent(s)"),
        "{o}"
    );
    assert!(
        o.contains("platform:eth0              bound       sim,eth"),
        "{o}"
    );
    let v = json(&["list"]);
    assert_eq!(v["managers"][0]["state"], "power off");
    assert_eq!(v["bridges"][0]["state"], "enabled");
    assert_eq!(v["regions"][0]["dependents"].as_array().unwrap().len(), 4);
    assert_eq!(v["devices"].as_array().unwrap().len(), 10);
}

#[test]
fn show_every_kind_of_object() {
    let m = ok(&["show", "fpga0"]);
    assert!(m.contains("  state     power off\n"), "{m}");
    assert!(
        m.contains("  lock      free\n") && m.contains("  regions   region0\n"),
        "{m}"
    );
    let b = ok(&["show", "fpga_bridge:br0"]);
    assert!(b.contains("  state     enabled\n"), "{b}");
    let r = ok(&["show", "region0"]);
    assert!(
        r.contains("dependents (suppliers first): platform:dma0 (bound), platform:uart0 (bound), platform:eth0 (bound), i2c:0-0048 (bound)\n"),
        "{r}"
    );
    let d = ok(&["show", "eth0"]);
    assert!(
        d.contains("supplier platform:dma0                link platform:dma0--platform:eth0 (active, flags 0x050)"),
        "{d}"
    );
    let v = json(&["show", "region0"]);
    assert_eq!(v["kind"], "fpga_region");
    assert_eq!(v["region"]["manager"], "fpga0");
    let v = json(&["show", "uart0"]);
    assert_eq!(v["device"]["consumers"][0]["device"], "i2c:0-0048");
    assert_eq!(v["device"]["consumers"][0]["status"], "not tracked");
    fails(&["show", "fpga7"], 4, "no device named \"fpga7\"");
}

#[test]
fn links_svg_is_drawn() {
    let f = Files::new();
    let svg = f.path("links.svg");
    let o = ok(&["links", "--svg", svg.to_str().unwrap()]);
    assert!(o.contains("graph drawn into"), "{o}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.trim_end().ends_with("</svg>"));
    assert!(text.contains("platform:eth0") && text.contains("not tracked"));
    // An unwritable destination is an error naming the file.
    fails(
        &["links", "--svg", "/no/such/dir/links.svg"],
        4,
        "writing /no/such/dir/links.svg",
    );
}

#[test]
fn program_a_manager_reports_state_and_status() {
    let f = Files::new();
    let img = f.image("full.bin", 64 << 10, false);
    // --force: fpga0 also programs region0, whose dependents are bound.
    let o = ok(&["program", "fpga0", &img, "--force"]);
    assert!(o.contains("load   100%  65536/65536 bytes"), "{o}");
    assert!(
        o.ends_with("done: fpga0 is operating (no error bits)\n"),
        "{o}"
    );
    let v = json(&["program", "fpga0", &img, "--force"]);
    assert_eq!(v["state"], "operating");
    assert_eq!(v["status"].as_array().unwrap().len(), 0);
}

#[test]
fn program_a_region_with_bound_dependents_is_refused_unless_forced() {
    let f = Files::new();
    let img = f.image("full.bin", 4096, false);
    let o = fails(
        &["program", "region0", &img],
        5,
        "region0 has 4 bound dependent(s)",
    );
    assert!(err(&o).contains("fpgactl reprogram region0"), "{}", err(&o));
    assert!(out(&o).is_empty(), "nothing may happen before the refusal");
    // The manager programs that region too.
    fails(
        &["program", "fpga0", &img],
        5,
        "region0 has 4 bound dependent(s)",
    );
    let o = ok(&["program", "region0", &img, "--force"]);
    assert!(
        o.contains("bridges disabled: fpga_bridge:br0 disabled"),
        "{o}"
    );
    assert!(
        o.ends_with("done: fpga0 is operating (no error bits)\n"),
        "{o}"
    );
}

#[test]
fn dry_run_changes_nothing() {
    let f = Files::new();
    let img = f.image("p.bin", 4096, true);
    let o = ok(&[
        "program",
        "fpga0",
        &img,
        "--partial",
        "--dry-run",
        "--force",
    ]);
    assert_eq!(
        o,
        "dry run: would load 4120 bytes (partial) into fpga0 through fpga0 (power off); nothing was changed\n"
    );
    // Dry runs still refuse what the real run would refuse.
    fails(
        &["program", "fpga0", &img, "--partial", "--dry-run"],
        5,
        "bound dependent(s)",
    );
}

#[test]
fn bad_images_are_refused_before_anything_is_touched() {
    let f = Files::new();
    let full = f.image("full.bin", 4096, false);
    let partial = f.image("partial.bin", 4096, true);
    let bytes = std::fs::read(&full).unwrap();
    let trunc = f.path("trunc.bin");
    std::fs::write(&trunc, &bytes[..100]).unwrap();
    let junk = f.path("junk.bin");
    std::fs::write(&junk, b"not an image at all, just text").unwrap();
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0xff;
    let bad_crc = f.path("crc.bin");
    std::fs::write(&bad_crc, flipped).unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["program", "fpga0", trunc.to_str().unwrap(), "--force"],
            3,
            "truncated: the header announces 4096 payload bytes, the file has 76",
        ),
        (
            vec!["program", "fpga0", junk.to_str().unwrap(), "--force"],
            3,
            "bad magic",
        ),
        (
            vec!["program", "fpga0", bad_crc.to_str().unwrap(), "--force"],
            3,
            "CRC",
        ),
        (
            vec!["program", "fpga0", &partial, "--force"],
            3,
            "is a partial image",
        ),
        (
            vec!["reprogram", "region0", &full, "--partial"],
            3,
            "is a full image",
        ),
        (
            vec!["program", "fpga0", "/no/such/image.bin", "--force"],
            4,
            "/no/such/image.bin",
        ),
        (
            vec!["program", "br0", &full],
            3,
            "not an FPGA manager or region",
        ),
        (vec!["reprogram", "fpga0", &full], 3, "not an FPGA region"),
    ];
    for (args, code, needle) in cases {
        let o = fails(&args, code, needle);
        assert!(out(&o).is_empty(), "{args:?} started: {}", out(&o));
    }
}

#[test]
fn a_held_manager_is_busy_unless_forced() {
    let f = Files::new();
    let board = f.held_board("fpgautil (pid 4242)");
    let img = f.image("full.bin", 4096, false);
    let l = ok(&["--scenario", &board, "list"]);
    assert!(l.contains("locked by fpgautil (pid 4242)"), "{l}");
    let o = fails(
        &["--scenario", &board, "reprogram", "region0", &img],
        5,
        "fpga0: locked by fpgautil (pid 4242)",
    );
    assert!(err(&o).contains("--force"), "{}", err(&o));
    assert!(out(&o).is_empty());
    let o = ok(&["--scenario", &board, "program", "fpga0", &img, "--force"]);
    assert!(
        o.starts_with("warning: broke the lock fpgautil (pid 4242) held on fpga0\n"),
        "{o}"
    );
    assert!(
        o.ends_with("done: fpga0 is operating (no error bits)\n"),
        "{o}"
    );
    let o = ok(&[
        "--scenario",
        &board,
        "reprogram",
        "region0",
        &img,
        "--force",
    ]);
    assert!(o.starts_with("warning: broke the lock"), "{o}");
    assert!(o.contains("done: 4 dependent(s) rebound"), "{o}");
}

#[test]
fn reprogram_takes_dependents_down_and_back() {
    let f = Files::new();
    let img = f.image("full.bin", 4096, false);
    let o = ok(&["reprogram", "region0", &img]);
    let pos = |n: &str| o.find(n).unwrap_or_else(|| panic!("{n:?} missing in\n{o}"));
    assert!(pos("unbind platform:eth0") < pos("unbind platform:dma0"));
    assert!(pos("leak check") < pos("bridges disabled"));
    assert!(pos("bind   platform:dma0") < pos("bind   platform:eth0"));
    assert!(o.ends_with("done: 4 dependent(s) rebound; fpga0 is operating (no error bits)\n"));
    let v = json(&["reprogram", "region0", &img]);
    let last = v.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["step"], "done");
    assert_eq!(last["rebound"].as_array().unwrap().len(), 4);
    assert_eq!(last["state"], "operating");
}

#[test]
fn unbind_bind_and_wait_removal() {
    let o = ok(&["unbind", "dma0"]);
    assert_eq!(
        o,
        "unbind platform:dma0: 2 device(s) changed\n  \
         platform:dma0                bound -> no driver\n  \
         platform:eth0                bound -> no driver\n"
    );
    let v = json(&["unbind", "soc:fpga-region0"]);
    assert_eq!(v["changed"].as_array().unwrap().len(), 4, "{v}");
    fails(&["bind", "eth0"], 3, "already bound to sim,eth");
    fails(
        &["unbind", "fpga_region:region0"],
        3,
        "is not bound to a driver",
    );
    fails(&["unbind", "eth9"], 4, "no device named \"eth9\"");
    assert_eq!(
        ok(&["wait-removal"]),
        "no link release pending (waited for 0)\n"
    );
    assert_eq!(json(&["wait-removal", "--timeout", "0.5"])["pending"], 0);
    fails(&["wait-removal", "--timeout", "-1"], 2, "");
    fails(
        &["wait-removal", "--timeout", "NaN"],
        3,
        "give a number of seconds",
    );
}

#[test]
fn bind_of_a_waiting_device_is_deferred() {
    let f = Files::new();
    let p = f.path("board.toml");
    std::fs::write(
        &p,
        "[[driver]]\nname = \"sensor\"\n\
         [[device]]\nname = \"soc:pmic\"\n\
         [[device]]\nname = \"1-0050\"\nbus = \"i2c\"\ncompatible = \"sensor\"\n\
         [[link]]\nconsumer = \"i2c:1-0050\"\nsupplier = \"soc:pmic\"\n",
    )
    .unwrap();
    let o = fails(
        &["--scenario", p.to_str().unwrap(), "bind", "1-0050"],
        6,
        "probe deferred, waiting for platform:soc:pmic",
    );
    assert!(err(&o).contains("fpgactl why 1-0050"), "{}", err(&o));
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    let bash = ok(&["completions", "bash"]);
    assert!(
        bash.contains("fpgactl") && bash.contains("reprogram"),
        "{bash}"
    );
    let zsh = ok(&["completions", "zsh"]);
    assert!(zsh.contains("#compdef fpgactl"));
    let f = Files::new();
    let dir = f.path("man");
    ok(&["man", dir.to_str().unwrap()]);
    let page = std::fs::read_to_string(dir.join("fpgactl.1")).unwrap();
    assert!(
        page.contains(".TH fpgactl") && page.contains("reprogram"),
        "{page}"
    );
    assert!(dir.join("fpgactl-reprogram.1").exists());
}

#[test]
fn help_documents_exit_codes() {
    let h = ok(&["--help"]);
    assert!(h.contains("Exit codes:") && h.contains("5  busy"), "{h}");
    let h = ok(&["program", "--help"]);
    assert!(h.contains("--dry-run") && h.contains("--force"), "{h}");
}
