//! End-to-end tests of fpgactl on the simulator: real process, real
//! output and exit codes, including bad input. (The same commands on the
//! other backends: `sysfs.rs`, `uio.rs`; their JSON: `schemas.rs`.)

mod common;

use common::*;

#[test]
fn demo_reprograms_with_dependents_down_in_the_safe_order() {
    let out = ok(&["demo"]);
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("missing {needle:?} in\n{out}"))
    };
    // The target is held and locked before anything is disturbed.
    assert!(pos("hold   region0") < pos("   unbind "));
    assert!(pos("lock   fpga0") < pos("   unbind "));
    // Teardown is consumers first: eth0 depends on dma0.
    assert!(pos("unbind platform:eth0") < pos("unbind platform:dma0"));
    // The barrier and the leak check come before the bridges go down.
    assert!(pos("wait_removal: the teardown queued 1 link release(s)") < pos("bridges disabled"));
    assert!(pos("leak check: no dependent kept a reference (4 checked)") < pos("bridges disabled"));
    assert!(pos("bridges disabled") < pos("load    12%"));
    assert!(pos("load   100%") < pos("loaded: the manager is operating"));
    assert!(pos("bridges enabled") < pos("bind   platform:dma0"));
    // Bring-up is suppliers first.
    assert!(pos("bind   platform:dma0") < pos("bind   platform:eth0"));
    assert!(
        out.contains("8388608 payload bytes loaded and CRC-checked, 0 kernel warning(s)"),
        "{out}"
    );
    assert!(!out.contains("NOT bound"), "{out}");
}

#[test]
fn demo_is_deterministic() {
    let strip = |s: String| -> String {
        // The wall-clock durations are the only non-virtual figures.
        s.lines()
            .filter(|l| !l.starts_with("== Done in") && !l.contains("wait_removal"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(ok(&["demo"])), strip(ok(&["demo"])));
}

#[test]
fn demo_json_is_a_report_with_step_objects() {
    let v = json(&["demo"]);
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"region_held"));
    assert_eq!(
        steps.iter().filter(|s| **s == "unbind").count(),
        4,
        "{steps:?}"
    );
    assert_eq!(v["state"], "operating");
    assert_eq!(v["rebound"].as_array().unwrap().len(), 4);
}

#[test]
fn links_formats() {
    let table = ok(&["links"]);
    assert!(
        table.lines().any(
            |l| l.starts_with("platform:soc:fpga-region0--platform:dma0 ")
                && l.contains(" active ")
        ),
        "{table}"
    );
    let dot = ok(&["links", "--format", "dot"]);
    assert!(dot.starts_with("digraph devlinks {"));
    assert!(
        dot.contains("\"platform:uart0\" -> \"i2c:0-0048\" [label=\"not tracked\", style=dashed];"),
        "{dot}"
    );
    let v = json(&["links"]);
    assert_eq!(v["links"].as_array().unwrap().len(), 8);
    let sso = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "platform:uart0--i2c:0-0048")
        .unwrap();
    assert_eq!(sso["managed"], false);
    assert_eq!(sso["flags"], serde_json::json!(["STATELESS"]));
}

#[test]
fn links_svg_is_drawn() {
    let f = Files::new();
    let svg = f.str("links.svg");
    let o = ok(&["links", "--svg", &svg]);
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
fn why_and_order() {
    assert_eq!(ok(&["why", "eth0"]), "platform:eth0 is bound to sim,eth.\n");
    assert_eq!(
        ok(&["order", "soc:fpga-region0", "--bringup"]),
        "  1. fpga_region:region0\n  2. platform:dma0\n  3. platform:eth0\n  4. platform:uart0\n  5. i2c:0-0048\n"
    );
    let v = json(&["order", "soc:fpga-region0", "--teardown"]);
    assert_eq!(v["direction"], "teardown");
    assert_eq!(v["order"][0], "i2c:0-0048");
    // A region stands for what reprogramming it takes down: its users,
    // without the FPGA stack.
    let v = json(&["order", "region0", "--teardown"]);
    assert_eq!(v["device"], "fpga_region:region0");
    assert_eq!(
        v["order"],
        serde_json::json!([
            "i2c:0-0048",
            "platform:uart0",
            "platform:eth0",
            "platform:dma0"
        ])
    );
    let v = json(&["order", "fpga0", "--bringup"]);
    assert_eq!(v["order"][0], "platform:dma0");
    assert_eq!(v["order"].as_array().map(Vec::len), Some(4));
}

fn waiting_board(f: &Files) -> String {
    let p = f.path("board.toml");
    std::fs::write(
        &p,
        "[[driver]]\nname = \"sensor\"\n\
         [[device]]\nname = \"soc:pmic\"\n\
         [[device]]\nname = \"1-0050\"\nbus = \"i2c\"\ncompatible = \"sensor\"\n\
         [[link]]\nconsumer = \"i2c:1-0050\"\nsupplier = \"soc:pmic\"\n",
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn why_explains_a_waiting_device() {
    let f = Files::new();
    let board = waiting_board(&f);
    assert_eq!(
        ok(&["--scenario", &board, "why", "1-0050"]),
        "i2c:1-0050 is not bound; it is waiting for:\n  - platform:soc:pmic (link dormant); no driver\n"
    );
    let v = json(&["--scenario", &board, "why", "1-0050"]);
    assert_eq!(v["waiting_for"][0]["supplier"], "platform:soc:pmic");
    assert_eq!(v["waiting_for"][0]["link"], "dormant");
}

#[test]
fn bind_of_a_waiting_device_is_deferred() {
    let f = Files::new();
    let board = waiting_board(&f);
    let o = fails(
        &["--scenario", &board, "bind", "1-0050"],
        6,
        "probe deferred, waiting for platform:soc:pmic",
    );
    assert!(stderr(&o).contains("fpgactl why 1-0050"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn list_shows_fpga_objects_then_devices() {
    let o = ok(&["list"]);
    let lines: Vec<&str> = o.lines().collect();
    assert!(lines[0].starts_with("FPGA "), "{o}");
    assert!(lines[1].starts_with("fpga0     manager   power off"), "{o}");
    assert!(lines[2].starts_with("br0       bridge    enabled"), "{o}");
    assert!(lines[3].contains("programmed by fpga0, 4 user(s)"), "{o}");
    assert!(
        o.contains("platform:eth0              bound       sim,eth"),
        "{o}"
    );
    let v = json(&["list"]);
    assert_eq!(v["backend"], "sim");
    assert_eq!(v["fpga"]["managers"][0]["state"], "power off");
    assert_eq!(v["fpga"]["bridges"][0]["state"], "enabled");
    assert_eq!(
        v["fpga"]["regions"][0]["users"].as_array().unwrap().len(),
        4
    );
    assert_eq!(v["devices"].as_array().unwrap().len(), 10);
    assert!(v["uio"].is_null());
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
        r.contains(
            "users (suppliers first): platform:dma0, platform:eth0, platform:uart0, i2c:0-0048\n"
        ),
        "{r}"
    );
    let d = ok(&["show", "eth0"]);
    assert!(
        d.contains("    platform:dma0                active  auto_remove_on supplier unbind"),
        "{d}"
    );
    let v = json(&["show", "region0"]);
    assert_eq!(v["kind"], "fpga_region");
    assert_eq!(v["region"]["manager"], "fpga0");
    let v = json(&["show", "uart0"]);
    assert_eq!(v["consumers"][0]["consumer"], "i2c:0-0048");
    assert_eq!(v["consumers"][0]["status"], "not tracked");
    fails(&["show", "fpga7"], 4, "no device named \"fpga7\"");
}

#[test]
fn program_a_manager_reports_state_and_status() {
    let f = Files::new();
    let img = f.image("full.bin", 64 << 10, false);
    // --force: fpga0 also programs region0, whose users are bound.
    let o = ok(&["program", "fpga0", &img, "--force"]);
    assert!(o.contains("load   100%  65536/65536 bytes"), "{o}");
    assert!(
        o.contains("done: fpga0 is operating (no error bits)"),
        "{o}"
    );
    let v = json(&["program", "fpga0", &img, "--force"]);
    assert_eq!(v["state"], "operating");
    assert_eq!(v["status"].as_array().unwrap().len(), 0);
    assert_eq!(v["image"]["format"], "simbit");
}

#[test]
fn program_with_bound_users_is_refused_unless_forced() {
    let f = Files::new();
    let img = f.image("full.bin", 4096, false);
    let o = fails(&["program", "region0", &img], 5, "4 bound user(s)");
    assert!(
        stderr(&o).contains("fpgactl reprogram region0"),
        "{}",
        stderr(&o)
    );
    assert!(
        o.stdout.is_empty() || stdout(&o).starts_with("programming"),
        "{}",
        stdout(&o)
    );
    // The manager programs that region too.
    fails(&["program", "fpga0", &img], 5, "4 bound user(s)");
    let o = ok(&["program", "region0", &img, "--force"]);
    assert!(o.contains("bridges disabled"), "{o}");
    assert!(
        o.contains("done: fpga0 is operating (no error bits)"),
        "{o}"
    );
}

#[test]
fn dry_run_changes_nothing() {
    let f = Files::new();
    let img = f.image("p.bin", 4096, true);
    assert_eq!(
        ok(&["program", "fpga0", &img, "--partial", "--dry-run", "--force"]),
        format!("dry run: would load {img} (4120 bytes, simbit partial) into fpga0 through fpga0 (power off); nothing was changed\n")
    );
    // Dry runs refuse what the real run would refuse.
    fails(
        &["program", "fpga0", &img, "--partial", "--dry-run"],
        5,
        "bound user(s)",
    );
}

#[test]
fn bad_images_are_refused_before_anything_is_touched() {
    let f = Files::new();
    let full = f.image("full.bin", 4096, false);
    let partial = f.image("partial.bin", 4096, true);
    let bytes = std::fs::read(&full).unwrap();
    let trunc = f.str("trunc.bin");
    std::fs::write(&trunc, &bytes[..100]).unwrap();
    let junk = f.str("junk.bin");
    std::fs::write(&junk, b"not an image at all, just text").unwrap();
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0xff;
    let bad_crc = f.str("crc.bin");
    std::fs::write(&bad_crc, flipped).unwrap();
    let mut long = bytes.clone();
    long.extend_from_slice(&[0u8; 1500]);
    let trailing = f.str("long.bin");
    std::fs::write(&trailing, long).unwrap();
    let dir = f.str("");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["program", "fpga0", &trunc, "--force"],
            3,
            "truncated: the header announces 4096 payload bytes, the file has 76",
        ),
        (
            vec!["program", "fpga0", &junk, "--force"],
            3,
            "text, not an FPGA image",
        ),
        (vec!["program", "fpga0", &bad_crc, "--force"], 3, "CRC"),
        (
            vec!["program", "fpga0", &trailing, "--force"],
            3,
            "1500 bytes after the 4096 payload bytes",
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
            vec!["program", "fpga0", &dir, "--force"],
            3,
            "not a regular file",
        ),
        (
            vec!["program", "fpga0", "/dev/zero", "--force"],
            3,
            "not a regular file",
        ),
        (
            vec!["program", "br0", &full],
            4,
            "not an FPGA manager or region",
        ),
        (vec!["reprogram", "fpga0", &full], 3, "not an FPGA region"),
    ];
    for (args, code, needle) in cases {
        let o = fails(&args, code, needle);
        assert!(
            !stdout(&o).contains("unbind") && !stdout(&o).contains("lock"),
            "{args:?} started: {}",
            stdout(&o)
        );
    }
}

#[test]
fn a_held_manager_is_busy_and_nothing_is_touched_unless_forced() {
    let f = Files::new();
    let board = f.held_board("fpgautil (pid 4242)");
    let img = f.image("full.bin", 4096, false);
    let l = ok(&["--scenario", &board, "list"]);
    assert!(l.contains("locked by fpgautil (pid 4242)"), "{l}");
    let o = fails(
        &["--scenario", &board, "reprogram", "region0", &img],
        5,
        "manager is in use",
    );
    assert!(!stdout(&o).contains("unbind"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("every dependent is bound as before"),
        "{}",
        stderr(&o)
    );
    let o = fpgactl(&["--scenario", &board, "program", "fpga0", &img, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: broke the lock fpgautil (pid 4242) held on fpga0"),
        "{}",
        stderr(&o)
    );
    let o = fpgactl(&[
        "--scenario",
        &board,
        "reprogram",
        "region0",
        &img,
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("done: 4 dependent(s) rebound"),
        "{}",
        stdout(&o)
    );
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
    assert!(
        o.ends_with("done: 4 dependent(s) rebound; fpga0 is operating (no error bits)\n"),
        "{o}"
    );
    let v = json(&["reprogram", "region0", &img]);
    assert_eq!(v["rebound"].as_array().unwrap().len(), 4);
    assert_eq!(v["state"], "operating");
    assert_eq!(v["steps"][0]["step"], "region_held");
}

#[test]
fn unbind_bind_and_wait_removal() {
    assert_eq!(
        ok(&["unbind", "dma0"]),
        "unbind platform:dma0: 2 device(s) went down\n  \
         unbound platform:eth0                (was sim,eth)\n  \
         unbound platform:dma0                (was sim,dma)\n  \
         1 link release(s) queued; all have run\n"
    );
    let v = json(&["unbind", "soc:fpga-region0"]);
    assert_eq!(v["unbound"].as_array().unwrap().len(), 5, "{v}");
    // The same rules on every backend: binding a bound device and
    // unbinding an unbound one change nothing and succeed.
    assert_eq!(
        ok(&["bind", "eth0"]),
        "platform:eth0 is already bound to sim,eth; nothing changed\n"
    );
    assert_eq!(
        ok(&["unbind", "fpga_region:region0"]),
        "fpga_region:region0 was not bound; nothing changed\n"
    );
    fails(
        &["bind", "fpga_region:region0"],
        3,
        "class devices have no driver",
    );
    fails(&["unbind", "eth9"], 4, "no device named \"eth9\"");
    assert!(ok(&["wait-removal"]).starts_with("settled: no link release pending"));
    assert!(json(&["wait-removal", "--timeout", "0.5"])["waited_ms"].is_u64());
    fails(&["wait-removal", "--timeout", "-1"], 2, "");
    fails(
        &["wait-removal", "--timeout", "NaN"],
        3,
        "give a number of seconds",
    );
    fails(
        &["wait-removal", "--timeout", "1e20"],
        3,
        "at most 86400 seconds",
    );
}

#[test]
fn bad_input_gets_a_message_the_documented_exit_code_and_no_output() {
    let f = Files::new();
    let bad = f.path("bad.toml");
    std::fs::write(&bad, "[[device]]\nname = \n").unwrap();
    let bad = bad.to_str().unwrap().to_string();
    let cases: [(&[&str], i32, &str); 7] = [
        (&["why", "eth9"], 4, "no device named \"eth9\""),
        (
            &["--scenario", "/no/such/file.toml", "list"],
            4,
            "/no/such/file.toml",
        ),
        (&["--scenario", &bad, "list"], 3, "bad.toml:2:"),
        (&["order", "eth0"], 2, "--teardown"),
        (&["--root", "/tmp", "list"], 3, "--root is for"),
        (
            &["--backend", "sysfs", "--scenario", &bad, "list"],
            3,
            "--scenario is for",
        ),
        (
            &["sim-image", "/tmp/x.img", "--size", "18446744073709551615"],
            3,
            "at most",
        ),
    ];
    for (args, code, needle) in cases {
        let o = fails(args, code, needle);
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout on failure");
    }
}

#[test]
fn names_are_escaped_for_the_terminal_and_for_dot() {
    let f = Files::new();
    let p = f.path("nasty.toml");
    std::fs::write(
        &p,
        "[[device]]\nname = \"a\\u001b[2Jb\"\n[[device]]\nname = \"q\\\"x\"\n\
         [[link]]\nconsumer = \"q\\\"x\"\nsupplier = \"a\\u001b[2Jb\"\nflags = [\"STATELESS\"]\n",
    )
    .unwrap();
    let board = p.to_str().unwrap();
    let list = ok(&["--scenario", board, "list"]);
    assert!(
        !list.contains('\u{1b}'),
        "an escape sequence reached the terminal: {list:?}"
    );
    assert!(list.contains("a\\u{1b}[2Jb"), "{list}");
    let dot = ok(&["--scenario", board, "links", "--format", "dot"]);
    assert!(dot.contains("\"platform:q\\\"x\""), "{dot}");
    assert!(!dot.contains('\u{1b}'), "{dot:?}");
}

#[test]
fn a_closed_or_full_stdout_never_panics() {
    use std::process::{Command, Stdio};
    // A reader that goes away: exit 0, nothing on stderr.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c == 0),
        "{:?}",
        out.status
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A full disk: exit 9 with a message.
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let o = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
            .arg("list")
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(9),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stderr).contains("No space left"));
    }
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    let bash = ok(&["completions", "bash"]);
    assert!(
        bash.contains("fpgactl") && bash.contains("reprogram"),
        "{bash}"
    );
    assert!(ok(&["completions", "zsh"]).contains("#compdef fpgactl"));
    let f = Files::new();
    let dir = f.str("man");
    ok(&["man", &dir]);
    let page = std::fs::read_to_string(f.path("man").join("fpgactl.1")).unwrap();
    assert!(
        page.contains(".TH fpgactl") && page.contains("reprogram"),
        "{page}"
    );
    assert!(f.path("man").join("fpgactl-reprogram.1").exists());
}

#[test]
fn help_documents_exit_codes() {
    let h = ok(&["--help"]);
    assert!(h.contains("Exit codes:") && h.contains("5  busy"), "{h}");
    let h = ok(&["program", "--help"]);
    assert!(h.contains("--dry-run") && h.contains("--force"), "{h}");
}
