//! Images as users have them, on every backend: a Xilinx `.bit`, a
//! byte-swapped `.bin`, a truncated file and a text file each get the
//! right treatment, one check (fpga-image) behind all three; `fpgactl
//! image` says what a file is and what `program` would do with it.

mod common;

use common::*;
use fpga_image::xilinx::synthetic_partial;
use std::path::Path;

const IDCODE: u32 = 0x0362_D093;

/// The four files, written into `f`: (bit, swapped bin, truncated bit, text).
fn files(f: &Files) -> (String, String, String, String) {
    let img = synthetic_partial(16, IDCODE);
    let bit = f.str("design.bit");
    std::fs::write(&bit, &img.bit).unwrap();
    let swapped = f.str("design.bit.bin");
    std::fs::write(&swapped, &img.swapped).unwrap();
    let cut = f.str("cut.bit");
    std::fs::write(&cut, &img.bit[..img.bit.len() - 10]).unwrap();
    let text = f.str("notes.txt");
    std::fs::write(&text, "this is the README, not the bitstream\n").unwrap();
    (bit, swapped, cut, text)
}

fn on_sysfs(root: &Path, args: &[&str]) -> std::process::Output {
    fpgactl(&sysfs(root.to_str().unwrap(), args))
}

#[test]
fn image_describes_each_format() {
    let f = Files::new();
    let (bit, swapped, cut, text) = files(&f);
    let j = json(&["image", &bit]);
    assert_eq!(j["format"], "bit");
    assert_eq!(j["part"], "7a35tcpg236");
    assert_eq!(j["design"], fpga_image::xilinx::SYNTHETIC_DESIGN);
    assert_eq!(j["idcode"], "0x0362d093");
    assert_eq!(j["partial"], serde_json::Value::Null, "a .bit does not say");
    let want = fpga_image::sha256_hex(&std::fs::read(&bit).unwrap());
    assert_eq!(j["sha256"], want.as_str());
    // On the simulator it would be refused, and `image` says why.
    assert_eq!(j["loadable"], false);
    assert!(j["plan"].as_str().unwrap().contains("SIMBIT"), "{j}");
    let j = json(&["image", &swapped]);
    assert_eq!(
        (j["format"].as_str(), j["payload_offset"].as_u64()),
        (Some("byte-swapped bin"), Some(0))
    );
    let sim = f.image("sim.img", 64, true);
    let j = json(&["image", &sim]);
    assert_eq!(
        (j["format"].as_str(), j["partial"].as_bool()),
        (Some("simbit"), Some(true))
    );
    assert_eq!(j["loadable"], true);
    fails(&["image", &cut], 3, "data length");
    fails(&["image", &text], 3, "text, not an FPGA image");
    let out = ok(&["image", &bit]);
    assert!(out.contains("part          7a35tcpg236"), "{out}");
    assert!(out.contains("program (sim): refused: "), "{out}");
}

#[test]
fn the_simulator_refuses_every_xilinx_or_broken_file() {
    let f = Files::new();
    let (bit, swapped, cut, text) = files(&f);
    fails(
        &["program", "fpga0", &bit, "--force"],
        3,
        "Xilinx bit image; the simulator loads SIMBIT",
    );
    fails(
        &["program", "fpga0", &swapped, "--force"],
        3,
        "byte-swapped bin image",
    );
    fails(&["program", "fpga0", &cut, "--force"], 3, "data length");
    let o = fails(
        &["program", "fpga0", &text, "--force"],
        3,
        "text, not an FPGA image",
    );
    assert!(stderr(&o).contains("--raw"), "{}", stderr(&o));
    // --raw passes it on: the simulated manager refuses it itself.
    fails(
        &["program", "fpga0", &text, "--force", "--raw"],
        3,
        "SIMBIT",
    );
}

#[test]
fn the_live_kernel_gets_a_bin_in_the_order_its_driver_takes() {
    let f = Files::new();
    let (bit, swapped, cut, text) = files(&f);
    let img = synthetic_partial(16, IDCODE);
    let fk = demo_fake_kernel();
    let root = fk.path("");

    // A .bit: its header removed, big-endian words (not a Zynq-7000).
    let o = on_sysfs(&root, &["--json", "program", "fpga0", &bit, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let conv = j["image"]["converted"].as_str().unwrap();
    assert!(conv.contains(".bit header removed"), "{conv}");
    assert_eq!(j["image"]["format"], "bit");
    assert_eq!(
        fk.seen().loads.last().unwrap().2,
        img.bin,
        "the kernel got the .bin"
    );

    // And the plain output says so (the user guide's example line).
    let o = on_sysfs(&root, &["program", "fpga0", &bit, "--force"]);
    let header = fpga_image::identify(&img.bit).unwrap().payload_offset;
    let line = format!("image: staged as a .bin: the {header}-byte .bit header removed");
    assert!(stdout(&o).contains(&line), "{}", stdout(&o));
    let guide = std::fs::read_to_string(manifest().join("../../docs/user-guide.md")).unwrap();
    assert!(
        guide.contains(&line),
        "the user guide's example is {line:?}"
    );

    // A byte-swapped .bin: turned to big-endian.
    let o = on_sysfs(&root, &["program", "fpga0", &swapped, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fk.seen().loads.last().unwrap().2, img.bin);

    // A Zynq-7000 manager takes byte-swapped words: a .bit and a .bin
    // both arrive swapped, and a swapped .bin arrives untouched.
    std::fs::write(
        fk.path("class/fpga_manager/fpga0/name"),
        "Xilinx Zynq FPGA Manager\n",
    )
    .unwrap();
    for (file, converted) in [(&bit, true), (&swapped, false)] {
        let o = on_sysfs(&root, &["--json", "program", "fpga0", file, "--force"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            j["image"]["converted"].is_string(),
            converted,
            "{file}: {j}"
        );
        assert_eq!(fk.seen().loads.last().unwrap().2, img.swapped, "{file}");
    }
    let loads = fk.seen().loads.len();

    // Broken and unknown files never reach the kernel.
    let o = on_sysfs(&root, &["program", "fpga0", &cut, "--force"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = on_sysfs(&root, &["program", "fpga0", &text, "--force"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("text, not an FPGA image"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fk.seen().loads.len(), loads, "nothing was written");
    assert!(fk.firmware_files().is_empty(), "{:?}", fk.firmware_files());

    // --raw: the user knows better; passed as it is.
    let o = on_sysfs(&root, &["program", "fpga0", &text, "--force", "--raw"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fk.seen().loads.last().unwrap().2,
        std::fs::read(&text).unwrap()
    );
}

#[test]
fn the_hwicap_takes_xilinx_files_and_refuses_the_rest() {
    let f = Files::new();
    let (bit, swapped, cut, text) = files(&f);
    let dir = f.copy_tree(&fixture("arm64-virt"), "tree");
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::File::create(dir.join("dev/uio0"))
        .unwrap()
        .set_len(0x10_0000)
        .unwrap();
    let root = dir.to_str().unwrap();
    for file in [&bit, &swapped] {
        let o = fpgactl(&uio(
            root,
            &["program", "uio0", file, "--partial", "--dry-run"],
        ));
        assert!(o.status.success(), "{file}: {}", stderr(&o));
    }
    for (file, why) in [(&cut, "data length"), (&text, "text, not an FPGA image")] {
        let o = fpgactl(&uio(root, &["program", "uio0", file, "--partial"]));
        assert_eq!(o.status.code(), Some(3), "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{file}: {}", stderr(&o));
    }
    let sim = f.image("sim.img", 64, true);
    let o = fpgactl(&uio(root, &["program", "uio0", &sim, "--partial"]));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("loads Xilinx .bit and .bin"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_loaded_image_is_recorded_shown_and_skipped_if_unchanged_on_a_kernel() {
    let f = Files::new();
    let fk = demo_fake_kernel();
    let root = fk.path("");
    let good = f.str("good.img");
    std::fs::write(&good, backend_sim::sim_image(b"GOOD image", false)).unwrap();
    let sha = fpga_image::sha256_hex(&std::fs::read(&good).unwrap());
    let show = |root: &Path| -> serde_json::Value {
        let o = on_sysfs(root, &["--json", "show", "fpga0"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        j["manager"].clone()
    };
    assert_eq!(show(&root)["loaded_image"], serde_json::Value::Null);

    let o = on_sysfs(&root, &["program", "fpga0", &good, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = show(&root);
    assert_eq!(m["loaded_image"]["sha256"], sha.as_str(), "{m}");
    assert_eq!(m["loaded_image"]["file"], good.as_str());
    assert!(
        m["loaded_image"]["by"]
            .as_str()
            .unwrap()
            .starts_with("fpgactl["),
        "{m}"
    );
    let text = stdout(&on_sysfs(&root, &["show", "fpga0"]));
    assert!(
        text.contains(&format!("  image     {good} (sha256 {sha})")),
        "{text}"
    );
    let list = stdout(&on_sysfs(&root, &["list"]));
    assert!(
        list.contains(&format!(
            "image                   {good} (sha256 {})",
            &sha[..12]
        )),
        "{list}"
    );

    // The same image again with --if-changed: nothing is done.
    let loads = fk.seen().loads.len();
    let o = on_sysfs(
        &root,
        &["program", "fpga0", &good, "--force", "--if-changed"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("unchanged: fpga0 already has"),
        "{}",
        stdout(&o)
    );
    assert_eq!(fk.seen().loads.len(), loads, "no load");
    // Other flags are another load.
    let partial = f.str("partial.img");
    std::fs::write(&partial, backend_sim::sim_image(b"GOOD image", true)).unwrap();
    let o = on_sysfs(
        &root,
        &[
            "program",
            "fpga0",
            &partial,
            "--force",
            "--partial",
            "--if-changed",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fk.seen().loads.len(), loads + 1);
    let o = on_sysfs(
        &root,
        &["program", "fpga0", &good, "--force", "--if-changed"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fk.seen().loads.len(), loads + 2);

    // A failed load forgets the record.
    let bad = f.str("bad.img");
    std::fs::write(&bad, backend_sim::sim_image(b"a BAD-CRC image", false)).unwrap();
    let o = on_sysfs(&root, &["program", "fpga0", &bad, "--force"]);
    assert!(!o.status.success());
    let m = show(&root);
    assert_eq!(m["loaded_image"], serde_json::Value::Null, "{m}");
    assert!(m["loaded_unknown"].is_null(), "{m}");

    // Another tool loads through `firmware` directly (as fpgautil does):
    // the record no longer stands, whether the state changed or not.
    for (content, changed) in [
        (&b"GOOD other"[..], "`firmware` was written"),
        (b"BAD-CRC", "the manager is write error"),
    ] {
        let o = on_sysfs(&root, &["program", "fpga0", &good, "--force"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(show(&root)["loaded_image"].is_object());
        std::fs::write(fk.path("lib/firmware/other.bin"), content).unwrap();
        std::fs::write(fk.path("class/fpga_manager/fpga0/firmware"), "other.bin").unwrap();
        let m = show(&root);
        assert_eq!(m["loaded_image"], serde_json::Value::Null, "{m}");
        let why = m["loaded_unknown"].as_str().unwrap();
        assert!(
            why.starts_with("loaded outside this tool") && why.contains(changed),
            "{why}"
        );
        std::fs::remove_file(fk.path("lib/firmware/other.bin")).unwrap();
    }
}
