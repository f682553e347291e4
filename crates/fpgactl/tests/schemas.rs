//! Every command's `--json` report has one schema on every backend: the
//! committed `docs/schemas/<command>.json` (generated from the report
//! types, `fpgactl schemas DIR`), checked here against real output of
//! the simulator, the live-kernel backend on a fake kernel, and the UIO
//! backend on a fixture tree.

mod common;

use common::*;
use serde_json::Value;

const COMMANDS: [&str; 14] = [
    "list",
    "show",
    "links",
    "why",
    "order",
    "unbind",
    "bind",
    "wait-removal",
    "program",
    "reprogram",
    "sim-image",
    "image",
    "recover",
    "error",
];

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let f = Files::new();
    let dir = f.str("schemas");
    ok(&["schemas", &dir]);
    for c in COMMANDS {
        let generated =
            std::fs::read_to_string(f.path("schemas").join(format!("{c}.json"))).unwrap();
        let committed = manifest().join(format!("../../docs/schemas/{c}.json"));
        let committed = std::fs::read_to_string(&committed).unwrap_or_default();
        assert_eq!(
            committed, generated,
            "docs/schemas/{c}.json is stale: run `cargo xtask schemas`"
        );
    }
    let extra: Vec<String> = std::fs::read_dir(manifest().join("../../docs/schemas"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !COMMANDS.iter().any(|c| format!("{c}.json") == *n))
        .collect();
    assert!(extra.is_empty(), "schemas of no command: {extra:?}");
}

#[test]
fn the_validator_rejects_what_a_schema_does_not_allow() {
    let s = schema("bind");
    let good = serde_json::json!({"device": "platform:a", "driver": "d", "was_bound": false});
    assert!(validate(&s, &s, &good, "$").is_ok());
    for bad in [
        serde_json::json!({"device": "platform:a", "driver": "d"}),
        serde_json::json!({"device": 1, "driver": "d", "was_bound": false}),
        serde_json::json!({"device": "a", "driver": "d", "was_bound": false, "extra": 1}),
    ] {
        assert!(validate(&s, &s, &bad, "$").is_err(), "{bad}");
    }
}

fn check(command: &str, args: &[&str]) -> Value {
    let v = json(args);
    assert_schema(command, &v);
    v
}

#[test]
fn every_report_matches_its_schema_on_the_simulator() {
    let f = Files::new();
    let img = f.image("full.img", 4096, false);
    check("list", &["list"]);
    for name in ["eth0", "fpga0", "br0", "region0"] {
        check("show", &["show", name]);
    }
    check("links", &["links"]);
    check("why", &["why", "eth0"]);
    check("order", &["order", "soc:fpga-region0", "--teardown"]);
    check("unbind", &["unbind", "dma0"]);
    check("bind", &["bind", "dma0"]);
    check("wait-removal", &["wait-removal"]);
    let p = check("program", &["program", "region0", &img, "--force"]);
    assert!(p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["step"].is_string()));
    check(
        "program",
        &["program", "region0", &img, "--dry-run", "--force"],
    );
    check("reprogram", &["reprogram", "region0", &img]);
    check("sim-image", &["sim-image", &f.str("x.img"), "--size", "64"]);
    let i = check("image", &["image", &img]);
    assert_eq!(
        (i["format"].as_str(), i["loadable"].as_bool()),
        (Some("simbit"), Some(true))
    );
    let r = check("recover", &["recover"]);
    assert!(r["note"].is_string(), "{r}");
}

#[test]
fn every_report_matches_its_schema_on_the_live_kernel_backend() {
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let root = root.to_str().unwrap();
    let f = Files::new();
    let img = f.str("image.bin");
    std::fs::write(&img, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    check("list", &sysfs(root, &["list"]));
    for name in ["eth0", "fpga0", "br0", "region0"] {
        check("show", &sysfs(root, &["show", name]));
    }
    check("links", &sysfs(root, &["links"]));
    check("why", &sysfs(root, &["why", "eth0"]));
    check(
        "order",
        &sysfs(root, &["order", "soc:fpga-region0", "--teardown"]),
    );
    check("unbind", &sysfs(root, &["unbind", "dma0"]));
    check("bind", &sysfs(root, &["bind", "dma0"]));
    check("bind", &sysfs(root, &["bind", "eth0"]));
    check("wait-removal", &sysfs(root, &["wait-removal"]));
    check(
        "program",
        &sysfs(root, &["program", "fpga0", &img, "--force"]),
    );
    check(
        "program",
        &sysfs(root, &["program", "region0", &img, "--dry-run", "--force"]),
    );
    check("reprogram", &sysfs(root, &["reprogram", "region0", &img]));
    check("image", &sysfs(root, &["image", &img]));
    assert!(fk.firmware_files().is_empty(), "{:?}", fk.firmware_files());
    let r = check("recover", &sysfs(root, &["recover"]));
    assert_eq!(r["recovered"], serde_json::json!([]));
}

#[test]
fn every_report_matches_its_schema_on_the_uio_backend() {
    let f = Files::new();
    let tree = f.copy_tree(&fixture("arm64-virt"), "tree");
    std::fs::create_dir_all(tree.join("dev")).unwrap();
    std::fs::File::create(tree.join("dev/uio0"))
        .unwrap()
        .set_len(0x10_0000)
        .unwrap();
    let root = tree.to_str().unwrap();
    let img = f.str("p.bit");
    std::fs::write(
        &img,
        backend_uio::bitstream::synthetic_partial(16, 0x0362_D093).bit,
    )
    .unwrap();
    check("list", &uio(root, &["list"]));
    check("show", &uio(root, &["show", "uio0"]));
    check("links", &uio(root, &["links"]));
    check("why", &uio(root, &["why", "uio0"]));
    check("order", &uio(root, &["order", "uio0", "--bringup"]));
    check("wait-removal", &uio(root, &["wait-removal"]));
    check("recover", &uio(root, &["recover"]));
    check(
        "program",
        &uio(root, &["program", "uio0", &img, "--partial", "--dry-run"]),
    );
    let i = check("image", &uio(root, &["image", &img]));
    assert_eq!(i["part"], "7a35tcpg236");
    assert_eq!(i["idcode"], "0x0362d093");
}

/// Runs with `--json`, requires exit `code`, checks stdout against the
/// error schema and returns the error object.
fn failure(args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = fpgactl(&all);
    assert_eq!(o.status.code(), Some(code), "{all:?}: {}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{all:?}: {e}: {}", stdout(&o)));
    assert_schema("error", &v);
    assert_eq!(v["error"]["exit_code"], code);
    // The text is on standard error as well, for whoever watches.
    assert!(stderr(&o).contains("fpgactl: error: "), "{}", stderr(&o));
    v["error"].clone()
}

#[test]
fn every_failure_prints_the_error_schema_on_every_backend() {
    let f = Files::new();
    let img = f.image("full.img", 4096, false);
    // The simulator: a name that is not there, a refused plain load, a
    // manager someone else holds.
    let e = failure(&["show", "eth9"], 4);
    assert_eq!(e["kind"], "no_device");
    let e = failure(&["program", "region0", &img], 5);
    assert_eq!(e["kind"], "busy");
    assert_eq!(e["errno"], "EBUSY");
    assert_eq!(e["program"]["stage"], "check");
    assert_eq!(e["program"]["left_unbound"], serde_json::json!([]));
    let held = f.held_board("fpgautil");
    let e = failure(&["--scenario", &held, "reprogram", "region0", &img], 5);
    assert_eq!(e["program"]["stage"], "acquire");
    assert_eq!(e["program"]["left_unbound"], serde_json::json!([]));

    // The live-kernel backend: a load the kernel fails after the users
    // went down leaves them down, and says which, as data.
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let root = root.to_str().unwrap();
    let bad = f.str("bad.bin");
    std::fs::write(&bad, backend_sim::sim_image(b"a BAD-CRC image", false)).unwrap();
    let e = failure(&sysfs(root, &["reprogram", "region0", &bad]), 9);
    assert_eq!(e["program"]["stage"], "load");
    let left: Vec<&str> = e["program"]["left_unbound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["device"].as_str().unwrap())
        .collect();
    assert_eq!(
        left,
        [
            "i2c:0-0048",
            "platform:uart0",
            "platform:eth0",
            "platform:dma0"
        ]
    );
    assert!(e["hint"].as_str().unwrap().contains("fpgactl bind"), "{e}");
    let e = failure(&sysfs(root, &["show", "eth9"]), 4);
    assert_eq!(e["kind"], "no_device");

    // The UIO backend: what it cannot do.
    let e = failure(&uio(root, &["unbind", "uio0"]), 8);
    assert_eq!(e["kind"], "unsupported");
    assert_eq!(e["program"], Value::Null);
}
