//! `fpgactl --backend sysfs --root DIR`: the same commands on the
//! committed fixture trees, on trees the simulator writes, and on the fake
//! kernel (which answers the writes): output, exit codes, bad input.

mod common;

use common::*;
use std::path::Path;

fn run(root: &Path, args: &[&str]) -> std::process::Output {
    fpgactl(&sysfs(root.to_str().unwrap(), args))
}

/// A writable copy of a fixture with a lock and a firmware directory and
/// the manager's Xilinx `firmware`/`flags`/`key` files; its `state` is a
/// plain file holding `state`.
fn writable(f: &Files, name: &str, state: &str, status: &str) -> std::path::PathBuf {
    let dir = f.copy_tree(&fixture(name), "tree");
    for d in ["run/lock", "lib/firmware"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let m = dir.join("class/fpga_manager/fpga0");
    for (file, t) in [
        ("firmware", ""),
        ("flags", "0\n"),
        ("key", "\n"),
        ("state", state),
        ("status", status),
    ] {
        std::fs::write(m.join(file), t).unwrap();
    }
    dir
}

#[test]
fn list_show_links_why_and_order_read_the_tree() {
    let root = fixture("arm64-virt");
    let o = run(&root, &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "fpga0     manager   operating",
        "br0       bridge    enabled",
        "uio0      uio",
        "platform:regulator-b  waiting",
        "amba:9030000.pl061    bound       pl061_gpio",
        ":pci0000:00           no driver",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let out = stdout(&run(&root, &["show", "gpio-keys"]));
    assert!(
        out.contains("    amba:9030000.pl061           available"),
        "{out}"
    );
    assert!(out.contains("sync_state_only"), "{out}");
    assert!(out.contains("of_node   /gpio-keys"), "{out}");
    // The fixture has no run/lock: `show` says a load could not lock,
    // instead of "free" (and then a failing load).
    let out = stdout(&run(&root, &["show", "fpga0"]));
    assert!(
        out.contains("lock      not held, but unavailable: ")
            && out.contains("run/lock is missing"),
        "{out}"
    );
    let f = Files::new();
    let tree = f.copy_tree(&root, "tree");
    std::fs::create_dir_all(tree.join("run/lock")).unwrap();
    let out = stdout(&run(&tree, &["show", "fpga0"]));
    assert!(out.contains("lock      free"), "{out}");
    let out = stdout(&run(&root, &["links"]));
    assert!(
        out.contains("platform:gpio-ctl--platform:regulator-b   dormant"),
        "{out}"
    );
    let out = stdout(&run(&root, &["why", "regulator-b"]));
    assert!(
        out.contains("- platform:gpio-ctl (link dormant); no driver"),
        "{out}"
    );
    // gpio-keys consumes the PL061 through a sync-state-only link: not a
    // dependent (the same answer as the simulator's).
    assert_eq!(
        stdout(&run(&root, &["order", "amba:9030000.pl061", "--teardown"])),
        "  1. platform:regulator-a\n"
    );
}

#[test]
fn the_same_board_reads_the_same_through_both_backends() {
    // The demo board on the simulator, and written out and read back
    // through the sysfs backend: the same JSON for the same commands.
    let f = Files::new();
    let board = futures::executor::block_on(
        backend_sim::Scenario::load(scenario("demo-board.toml"))
            .unwrap()
            .build(),
    )
    .unwrap();
    board.core.topology().write_sysfs(&f.path("tree")).unwrap();
    futures::executor::block_on(fpga_core::ReadFpga::fpga_view(&board.fpga))
        .unwrap()
        .write_sysfs(&f.path("tree"))
        .unwrap();
    let root = f.str("tree");
    for args in [
        vec!["links"],
        vec!["order", "soc:fpga-region0", "--teardown"],
        vec!["why", "eth0"],
        vec!["show", "uart0"],
    ] {
        let mut sim = json(&args);
        let mut kernel = json(&sysfs(&root, &args));
        // The simulator knows flags sysfs cannot show.
        for v in [&mut sim, &mut kernel] {
            strip_flags(v);
        }
        assert_eq!(sim, kernel, "{args:?}");
    }
}

fn strip_flags(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("flags");
            m.values_mut().for_each(strip_flags);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_flags),
        _ => {}
    }
}

#[test]
fn bad_trees_and_names_fail_with_a_clear_message_and_exit_code() {
    // One unreadable attribute is that link's problem: the command
    // works, the link shows `unreadable` and the note names file and text.
    let o = run(&fixture("edge-unknown-status"), &["links"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("platform:gpio-ctl--platform:regulator-b   unreadable"),
        "{out}"
    );
    assert!(
        out.contains("/status: unexpected content \"exploding\\n\""),
        "{out}"
    );
    let v = json(&sysfs(
        fixture("edge-unknown-status").to_str().unwrap(),
        &["links"],
    ));
    let l = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "platform:gpio-ctl--platform:regulator-b")
        .unwrap();
    assert_eq!(l["status"], "unreadable");
    assert!(
        l["problems"][0].as_str().unwrap().contains("exploding"),
        "{l}"
    );
    let o = run(&fixture("edge-missing-attr"), &["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&fixture("arm64-virt"), &["show", "nope"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
    let o = run(Path::new("/nonexistent/fpgactl-root"), &["list"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("/nonexistent/fpgactl-root"),
        "{}",
        stderr(&o)
    );
    let f = Files::new();
    let img = f.str("x.bin");
    std::fs::write(&img, backend_sim::sim_image(b"x", false)).unwrap();
    let o = run(&fixture("edge-no-fpga"), &["program", "fpga0", &img]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no FPGA manager"), "{}", stderr(&o));
    let o = run(&fixture("arm64-virt"), &["demo"]);
    assert_eq!(o.status.code(), Some(8));
}

#[test]
fn a_kernel_without_fpga_support_lists_its_devices_and_says_so() {
    let o = run(&fixture("edge-no-fpga"), &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("(no FPGA classes: this kernel has no FPGA support, CONFIG_FPGA)\n"),
        "{out}"
    );
    assert!(out.contains("amba:9030000.pl061"), "{out}");
    let v = json(&sysfs(fixture("edge-no-fpga").to_str().unwrap(), &["list"]));
    assert_eq!(v["fpga"]["supported"], false);
}

#[test]
fn unbinding_an_unbound_device_changes_nothing() {
    let o = run(&fixture("arm64-virt"), &["unbind", "gpio-ctl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("was not bound; nothing changed"));
}

#[test]
fn program_stages_the_image_and_reports_the_kernels_state() {
    let f = Files::new();
    let dir = writable(&f, "arm64-virt", "operating\n", "");
    let img = f.str("design.bin");
    std::fs::write(&img, backend_sim::sim_image(b"bits", false)).unwrap();
    let o = run(&dir, &["program", "fpga0", &img, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("dry run"), "{}", stdout(&o));
    let m = dir.join("class/fpga_manager/fpga0");
    assert_eq!(
        std::fs::read_to_string(m.join("firmware")).unwrap(),
        "",
        "a dry run writes nothing"
    );
    std::fs::write(&img, backend_sim::sim_image(b"bits", true)).unwrap();
    let o = run(&dir, &["program", "fpga0", &img, "--partial"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("done: fpga0 is operating"),
        "{}",
        stdout(&o)
    );
    let name = std::fs::read_to_string(m.join("firmware")).unwrap();
    assert!(
        name.starts_with("fpga-devlink-") || name.starts_with("fpgactl-"),
        "{name}"
    );
    assert_eq!(std::fs::read_to_string(m.join("flags")).unwrap(), "1");
    assert_eq!(
        std::fs::read_dir(dir.join("lib/firmware")).unwrap().count(),
        0
    );
}

#[test]
fn a_failed_load_exits_with_the_kernels_status_lines() {
    let f = Files::new();
    let dir = writable(&f, "arm64-virt", "write error\n", "reconfig CRC error\n");
    let img = f.str("design.bin");
    std::fs::write(&img, backend_sim::sim_image(b"bits", false)).unwrap();
    let o = run(&dir, &["program", "fpga0", &img]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("write error") && e.contains("reconfig CRC error"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("lib/firmware")).unwrap().count(),
        0
    );
}

#[test]
fn an_empty_or_missing_image_is_refused_before_anything_is_written() {
    let f = Files::new();
    let dir = writable(&f, "arm64-virt", "operating\n", "");
    let empty = f.str("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let o = run(&dir, &["program", "fpga0", &empty]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = run(&dir, &["program", "fpga0", "/nonexistent.bin"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let m = dir.join("class/fpga_manager/fpga0");
    assert_eq!(std::fs::read_to_string(m.join("firmware")).unwrap(), "");
}

#[test]
fn reprogram_on_the_fake_kernel_takes_dependents_down_and_back() {
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let f = Files::new();
    let img = f.str("design.bin");
    std::fs::write(&img, backend_sim::sim_image(b"new logic", false)).unwrap();
    let o = run(&root, &["reprogram", "region0", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let pos = |n: &str| {
        out.find(n)
            .unwrap_or_else(|| panic!("{n:?} missing in\n{out}"))
    };
    assert!(pos("lock   fpga0") < pos("staged "));
    assert!(pos("staged ") < pos("unbind platform:eth0"));
    assert!(pos("unbind platform:eth0") < pos("unbind platform:dma0"));
    assert!(pos("leak check: 4 dependent(s) down and settled") < pos("loaded"));
    assert!(pos("bind   platform:dma0") < pos("bind   platform:eth0"));
    assert!(
        out.ends_with("done: 4 dependent(s) rebound; fpga0 is operating (no error bits)\n"),
        "{out}"
    );
    assert!(fk.firmware_files().is_empty());
    assert_eq!(fk.seen().loads.len(), 1);
}

#[test]
fn a_held_manager_on_the_fake_kernel_touches_nothing() {
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let f = Files::new();
    let img = f.str("design.bin");
    std::fs::write(&img, backend_sim::sim_image(b"new logic", false)).unwrap();
    let lock = backend_linux_sysfs::ManagerLockFile::acquire(&fk.root(), "fpga0").unwrap();
    let o = run(&root, &["reprogram", "region0", &img]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("every dependent is bound as before"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("unbind"), "{}", stdout(&o));
    assert!(fk.seen().unbinds.is_empty());
    // --force cannot take over another process's lock.
    let o = run(&root, &["reprogram", "region0", &img, "--force"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    drop(lock);
    assert!(fk.firmware_files().is_empty());
}

#[test]
fn program_refuses_a_manager_whose_users_are_bound() {
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let f = Files::new();
    let img = f.str("design.bin");
    std::fs::write(&img, backend_sim::sim_image(b"new logic", false)).unwrap();
    let o = run(&root, &["program", "fpga0", &img]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("platform:dma0"), "{}", stderr(&o));
    assert!(fk.seen().loads.is_empty());
    assert!(fk.firmware_files().is_empty());
}

#[test]
fn the_machine_this_runs_on() {
    // The read commands on this machine's own /sys, read-only: whatever
    // the kernel, they must work.
    if !Path::new("/sys/class").is_dir() {
        eprintln!("no /sys here");
        return;
    }
    for args in [
        vec!["list"],
        vec!["links"],
        vec!["--json", "list"],
        vec!["--json", "links"],
    ] {
        let mut all = vec!["--backend", "sysfs"];
        all.extend_from_slice(&args);
        let o = fpgactl(&all);
        assert!(o.status.success(), "{all:?}: {}", stderr(&o));
    }
    let v = json(&["--backend", "sysfs", "list"]);
    let first = v["devices"][0]["name"].as_str().unwrap_or("").to_string();
    if !first.is_empty() {
        for cmd in ["show", "why"] {
            let o = fpgactl(&["--backend", "sysfs", cmd, &first]);
            assert!(o.status.success(), "{cmd} {first}: {}", stderr(&o));
        }
        let o = fpgactl(&["--backend", "sysfs", "order", &first, "--teardown"]);
        assert!(o.status.success(), "order {first}: {}", stderr(&o));
    }
}

/// Every read command, text and JSON, on the trees captured from real
/// kernels (two stock Debian kernels and the lab's tinyconfig kernel):
/// exit 0, and the JSON matches its schema.
#[test]
fn the_read_commands_work_on_captures_of_real_kernels() {
    for name in ["debian-6.1-q35", "debian-6.12-q35", "lab-6.12-tinyconfig"] {
        let root = fixture(name);
        let root = root.to_str().unwrap();
        let list = json(&sysfs(root, &["list"]));
        assert_schema("list", &list);
        let devices = list["devices"].as_array().unwrap();
        assert!(devices.len() > 100, "{name}: {} devices", devices.len());
        // A bound device, an unbound one, a class device.
        let pick = |f: &dyn Fn(&serde_json::Value) -> bool| {
            devices
                .iter()
                .find(|d| f(d))
                .and_then(|d| d["name"].as_str())
                .unwrap_or_else(|| panic!("{name}: no such device"))
                .to_string()
        };
        let bound = pick(&|d| d["driver"].is_string());
        let unbound = pick(&|d| d["bus"].is_string() && d["driver"].is_null());
        let class = pick(&|d| d["bus"].is_null() && d["class"].is_string());
        for dev in [&bound, &unbound, &class] {
            for (cmd, schema) in [
                (vec!["show", dev.as_str()], "show"),
                (vec!["why", dev.as_str()], "why"),
                (vec!["order", dev.as_str(), "--teardown"], "order"),
                (vec!["order", dev.as_str(), "--bringup"], "order"),
            ] {
                let v = json(&sysfs(root, &cmd));
                assert_schema(schema, &v);
                let o = run(Path::new(root), &cmd);
                assert!(o.status.success(), "{name}: {cmd:?}: {}", stderr(&o));
            }
        }
        let v = json(&sysfs(root, &["links"]));
        assert_schema("links", &v);
        for cmd in [["list"], ["links"]] {
            let o = run(Path::new(root), &cmd);
            assert!(o.status.success(), "{name}: {cmd:?}: {}", stderr(&o));
        }
    }
    // What a user sees of the stock kernels' quirks.
    let root = fixture("debian-6.1-q35");
    let o = run(&root, &["list"]);
    assert!(
        stdout(&o).starts_with("(no FPGA classes: this kernel has no FPGA support, CONFIG_FPGA)"),
        "{}",
        stdout(&o)
    );
    let o = run(&root, &["show", "0:0:0:0"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("bsg:0:0:0:0, scsi:0:0:0:0, scsi_device:0:0:0:0, scsi_disk:0:0:0:0"),
        "{}",
        stderr(&o)
    );
    let o = run(&root, &["links"]);
    assert!(
        stdout(&o).contains("ends taken from its name"),
        "{}",
        stdout(&o)
    );
}

/// A UIO quirk stays in UIO output: a map address with leading zeros
/// (any width is valid, spec `uio.md` §1.3) is read by backend-uio's one
/// grammar, and a malformed UIO attribute fails the UIO section only,
/// never `links`.
#[test]
fn a_uio_quirk_stays_in_the_uio_section() {
    let f = Files::new();
    let tree = f.copy_tree(&fixture("arm64-virt"), "tree");
    let map0 = tree.join("devices/pci0000:00/0000:00:03.0/uio/uio0/maps/map0");
    std::fs::write(map0.join("addr"), "0x0000000000fea00000\n").unwrap();
    let root = tree.to_str().unwrap();
    let v = json(&sysfs(root, &["list"]));
    assert_eq!(v["uio"]["devices"][0]["maps"][0]["addr"], 0xfea0_0000u64);
    std::fs::write(map0.join("size"), "lots\n").unwrap();
    let o = run(&tree, &["links"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&sysfs(root, &["list"]));
    assert!(
        v["uio"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("size")),
        "{}",
        v["uio"]
    );
    assert!(!v["devices"].as_array().unwrap().is_empty());
}

/// A region overlay for `node`, built with devlink-core's FDT writer.
fn region_overlay(node: &str, firmware: Option<&str>) -> Vec<u8> {
    use devlink_core::fdt::{Fdt, FdtNode};
    let mut ov = FdtNode::new("__overlay__");
    if let Some(fw) = firmware {
        ov.set_str("firmware-name", fw);
    }
    let mut dev = FdtNode::new("accel");
    dev.set_str("compatible", "lab,dt-device");
    ov.children.push(dev);
    let mut frag = FdtNode::new("fragment@0");
    frag.set_str("target-path", node);
    frag.children.push(ov);
    let mut root = FdtNode::new("");
    root.children.push(frag);
    Fdt { root }.to_bytes()
}

/// region0's parent device's `of_node` link: its device-tree node (the
/// simulator's board gives it `/soc/fpga-region0`, as of-fpga-region's
/// platform device has one).
fn region_of_node(fk: &conformance::fake_kernel::FakeKernel) -> std::path::PathBuf {
    let root = fk.path("");
    let k = backend_linux_sysfs::Kernel::new(backend_linux_sysfs::SysfsRoot::at(&root));
    let v = k.read_fpga().unwrap();
    let t = v.region_target(&v.regions[0]).unwrap();
    let topo = k.read_topology().unwrap();
    let parent = t
        .guarded
        .iter()
        .find(|g| !g.starts_with("fpga_region:"))
        .unwrap();
    let d = topo.device(topo.find(parent).unwrap());
    assert_eq!(d.fwnode.as_deref(), Some("/soc/fpga-region0"));
    root.join(&d.path).join("of_node")
}

#[test]
fn reprogram_through_an_overlay_stages_the_firmware_name_and_applies_it() {
    let fk = demo_fake_kernel();
    region_of_node(&fk);
    let root = fk.path("");
    let f = Files::new();
    let img = f.str("design.simbit");
    std::fs::write(&img, backend_sim::sim_image(b"overlay logic", false)).unwrap();
    let dtbo = f.str("region.dtbo");
    std::fs::write(
        &dtbo,
        region_overlay("/soc/fpga-region0", Some("region-design.bin")),
    )
    .unwrap();
    let o = run(&root, &["reprogram", "region0", &img, "--overlay", &dtbo]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let pos = |n: &str| {
        out.find(n)
            .unwrap_or_else(|| panic!("{n:?} missing in\n{out}"))
    };
    assert!(pos("staged region-design.bin") < pos("unbind platform:eth0"));
    assert!(pos("unbind platform:dma0") < pos("overlay fpgactl-region0-0 applied"));
    assert!(pos("overlay fpgactl-region0-0 applied") < pos("bind   platform:dma0"));
    // The kernel loaded the file the overlay names, and nothing is left
    // staged; the slot is recorded with its target for the next run.
    assert_eq!(fk.seen().loads.len(), 1);
    assert!(fk.firmware_files().is_empty(), "{:?}", fk.firmware_files());
    let order = std::fs::read_to_string(fk.path("run/lock/fpga-devlink-overlays.order")).unwrap();
    assert_eq!(order, "fpgactl-region0-0\t/soc/fpga-region0\n");
    // The image is recorded as loaded, as for a `firmware` load.
    let sha = fpga_image::sha256_hex(&std::fs::read(&img).unwrap());
    let shown = stdout(&run(&root, &["--json", "show", "fpga0"]));
    assert!(shown.contains(&sha), "{shown}");
}

#[test]
fn an_overlay_targeting_a_label_is_resolved_through_the_live_symbols() {
    use devlink_core::fdt::{Fdt, FdtNode};
    let fk = demo_fake_kernel();
    region_of_node(&fk);
    let root = fk.path("");
    // `target = <&fpga_full>`, as Xilinx's tools write it, left for the
    // kernel's resolver (`__fixups__`).
    let mut ov = FdtNode::new("__overlay__");
    ov.set_str("firmware-name", "labelled.bin");
    let mut frag = FdtNode::new("fragment@0");
    frag.set_cells("target", &[0xffff_ffff]);
    frag.children.push(ov);
    let mut fixups = FdtNode::new("__fixups__");
    fixups.set_str("fpga_full", "/fragment@0:target:0");
    let mut top = FdtNode::new("");
    top.children.extend([frag, fixups]);
    let f = Files::new();
    let dtbo = f.str("labelled.dtbo");
    std::fs::write(&dtbo, Fdt { root: top }.to_bytes()).unwrap();
    let img = f.str("design.simbit");
    std::fs::write(&img, backend_sim::sim_image(b"labelled logic", false)).unwrap();
    // No __symbols__ in the live tree (a base built without dtc -@): the
    // label cannot be placed, said before anything is touched.
    let o = run(&root, &["reprogram", "region0", &img, "--overlay", &dtbo]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("&fpga_full"), "{}", stderr(&o));
    let symbols = fk.path("firmware/devicetree/base/__symbols__");
    std::fs::create_dir_all(&symbols).unwrap();
    std::fs::write(symbols.join("fpga_full"), "/soc/fpga-region0\0").unwrap();
    let o = run(&root, &["reprogram", "region0", &img, "--overlay", &dtbo]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fk.seen().loads.len(), 1);
    let order = std::fs::read_to_string(fk.path("run/lock/fpga-devlink-overlays.order")).unwrap();
    assert_eq!(order, "fpgactl-region0-0\t/soc/fpga-region0\n");
}

#[test]
fn reprogram_overlay_mistakes_are_refused_before_anything_is_touched() {
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let f = Files::new();
    let img = f.str("design.simbit");
    std::fs::write(&img, backend_sim::sim_image(b"overlay logic", false)).unwrap();
    let dtbo = f.str("region.dtbo");
    std::fs::write(&dtbo, region_overlay("/soc/fpga-region0", Some("r.bin"))).unwrap();
    let cases: [(Vec<u8>, &str); 3] = [
        (
            region_overlay("/elsewhere", Some("r.bin")),
            "does not target region0's device-tree node /soc/fpga-region0 (it targets: /elsewhere)",
        ),
        (
            region_overlay("/soc/fpga-region0", None),
            "has no firmware-name",
        ),
        (
            b"not a device tree blob at all, only some words of text".to_vec(),
            "not 0xd00dfeed",
        ),
    ];
    for (blob, want) in cases {
        std::fs::write(&dtbo, blob).unwrap();
        let o = run(&root, &["reprogram", "region0", &img, "--overlay", &dtbo]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains(want), "{want:?} not in {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    // Nothing was unbound, loaded or staged by any of them.
    assert!(fk.seen().loads.is_empty());
    assert!(fk.firmware_files().is_empty());
    let t = backend_linux_sysfs::read_topology(&backend_linux_sysfs::SysfsRoot::at(&root)).unwrap();
    assert!(t
        .find("platform:eth0")
        .map(|i| t.device(i).driver.is_some())
        .unwrap());
    // The region already holds a programming overlay this tool did not
    // apply: the kernel would refuse the new one after the teardown, so
    // it is refused before anything.
    let live = fk.path("firmware/devicetree/base/soc/fpga-region0");
    std::fs::write(live.join("firmware-name"), "other.bin\0").unwrap();
    std::fs::write(&dtbo, region_overlay("/soc/fpga-region0", Some("r.bin"))).unwrap();
    let o = run(&root, &["reprogram", "region0", &img, "--overlay", &dtbo]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the kernel takes no second one"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    std::fs::remove_file(live.join("firmware-name")).unwrap();
    // --partial: the overlay says, not the command line.
    let o = run(
        &root,
        &[
            "reprogram",
            "region0",
            &img,
            "--overlay",
            &dtbo,
            "--partial",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(fk.seen().loads.is_empty());
    // A region with no device-tree node: an overlay cannot program it.
    std::fs::remove_file(region_of_node(&fk)).unwrap();
    std::fs::write(&dtbo, region_overlay("/soc/fpga-region0", Some("r.bin"))).unwrap();
    let o = run(&root, &["reprogram", "region0", &img, "--overlay", &dtbo]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(stderr(&o).contains("no device-tree node"), "{}", stderr(&o));
    // The simulator has no overlays: exit 8, said plainly.
    let o = fpgactl(&["reprogram", "region0", &img, "--overlay", &dtbo]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("device-tree overlays are applied by a kernel"),
        "{}",
        stderr(&o)
    );
}
