//! End-to-end tests of fpgactl: real process, real exit codes.

mod common;

use common::{fpgactl, stderr, stdout};

#[test]
fn demo_reprograms_with_dependents_down_in_the_safe_order() {
    let o = fpgactl(&["demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("missing {needle:?} in\n{out}"))
    };
    // The target is held before anything is disturbed.
    assert!(pos("hold   fpga_region:region0") < pos("   unbind "));
    // Teardown is consumers first: eth0 depends on dma0.
    assert!(pos("unbind platform:eth0") < pos("unbind platform:dma0"));
    // The barrier and the leak check come before the bridges go down.
    assert!(pos("wait_removal: the teardown queued 1 link release(s)") < pos("bridges disabled"));
    assert!(pos("leak check: no dependent kept a reference (4 checked)") < pos("bridges disabled"));
    assert!(pos("bridges disabled: fpga_bridge:br0 disabled") < pos("load    12%"));
    assert!(pos("load   100%") < pos("loaded: fpga_manager:fpga0 is operating"));
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
        // The wall-clock duration is the only non-virtual figure.
        s.lines()
            .filter(|l| !l.starts_with("== Done in"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(stdout(&fpgactl(&["demo"]))),
        strip(stdout(&fpgactl(&["demo"])))
    );
}

#[test]
fn demo_json_is_a_list_of_steps() {
    let o = fpgactl(&["--json", "demo"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let steps: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"board"));
    assert_eq!(steps.last(), Some(&"done"));
    assert_eq!(
        steps.iter().filter(|s| s.starts_with("Unbind")).count(),
        4,
        "{steps:?}"
    );
}

#[test]
fn links_formats() {
    let table = stdout(&fpgactl(&["links"]));
    assert!(
        table.lines().any(
            |l| l.starts_with("platform:soc:fpga-region0--platform:dma0 ")
                && l.contains(" active ")
        ),
        "{table}"
    );
    let dot = stdout(&fpgactl(&["links", "--format", "dot"]));
    assert!(dot.starts_with("digraph devlinks {"));
    assert!(
        dot.contains("\"platform:uart0\" -> \"i2c:0-0048\" [label=\"not tracked\", style=dashed];"),
        "{dot}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&fpgactl(&["links", "--format", "json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 8);
}

#[test]
fn why_and_order() {
    let o = fpgactl(&["why", "eth0"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "platform:eth0 is bound to sim,eth.\n");
    let o = fpgactl(&["order", "soc:fpga-region0", "--bringup"]);
    assert_eq!(
        stdout(&o),
        "  1. platform:dma0\n  2. platform:uart0\n  3. platform:eth0\n  4. i2c:0-0048\n  5. fpga_region:region0\n"
    );
}

#[test]
fn why_explains_a_waiting_device() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.toml");
    std::fs::write(
        &path,
        "[[driver]]\nname = \"sensor\"\n\
         [[device]]\nname = \"soc:pmic\"\n\
         [[device]]\nname = \"1-0050\"\nbus = \"i2c\"\ncompatible = \"sensor\"\n\
         [[link]]\nconsumer = \"i2c:1-0050\"\nsupplier = \"soc:pmic\"\n",
    )
    .unwrap();
    let o = fpgactl(&["--scenario", path.to_str().unwrap(), "why", "1-0050"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "i2c:1-0050 is not bound; it is waiting for:\n  - platform:soc:pmic (link dormant; \
         no driver, not bound and waiting for nothing: is its driver registered?)\n"
    );
}

#[test]
fn bad_input_gets_a_message_and_the_documented_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[device]]\nname = \n").unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
        (&["why", "eth9"], 4, "no device named \"eth9\""),
        (
            &["--scenario", "/no/such/file.toml", "list"],
            4,
            "/no/such/file.toml",
        ),
        (
            &["--scenario", bad.to_str().unwrap(), "list"],
            3,
            "bad.toml:2:",
        ),
        (&["order", "eth0"], 2, "--teardown"),
    ];
    for (args, code, needle) in cases {
        let o = fpgactl(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout on failure");
    }
}
