//! The hostile-input suite: scenario files, images, sysfs and UIO trees,
//! names and outputs a careless or hostile user gives. Every run must end
//! within its bound (no hang), with an exit code from the documented set
//! (never a panic's 101 or a signal), and, where the case says, with the
//! kind of error it is. Each case here failed before its fix.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The exit codes `fpgactl --help` documents.
const DOCUMENTED: [i32; 10] = [0, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/// [`common::run_bounded`], failing the case on a hang, an undocumented
/// exit code or a panic.
fn run_bounded(args: &[&str], bound: Duration) -> Ran {
    let r = common::run_bounded(args, bound).unwrap_or_else(|hang| panic!("{hang}"));
    assert!(
        DOCUMENTED.contains(&r.code),
        "{args:?}: exit {} (a panic or a signal): {}",
        r.code,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    r
}

const BOUND: Duration = Duration::from_secs(60);

fn expect(args: &[&str], code: i32, needle: &str) -> Ran {
    let r = run_bounded(args, BOUND);
    assert_eq!(r.code, code, "{args:?}: {}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(needle) || r.stdout.contains(needle),
        "{args:?}: no {needle:?} in {}{}",
        r.stdout,
        r.stderr
    );
    r
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn scenario_files_that_are_not_scenarios() {
    let f = Files::new();
    let fifo = f.path("fifo.toml");
    mkfifo(&fifo);
    let bad_utf8 = f.path("bad.toml");
    std::fs::write(&bad_utf8, b"\xff\xfe[[device]]\n").unwrap();
    for (path, needle) in [
        ("/dev/zero".to_string(), "not a regular file"),
        (fifo.to_str().unwrap().to_string(), "not a regular file"),
        (
            f.dir.path().to_str().unwrap().to_string(),
            "not a regular file",
        ),
        (bad_utf8.to_str().unwrap().to_string(), "not UTF-8"),
    ] {
        expect(&["--scenario", &path, "list"], 3, needle);
    }
    expect(
        &["--scenario", "/no/such/board.toml", "list"],
        4,
        "No such file",
    );
}

#[test]
fn images_that_are_not_images() {
    let f = Files::new();
    let fifo = f.path("fifo.img");
    mkfifo(&fifo);
    let lp = f.path("loop.img");
    std::os::unix::fs::symlink(&lp, &lp).unwrap();
    for path in [
        "/dev/zero",
        fifo.to_str().unwrap(),
        f.dir.path().to_str().unwrap(),
    ] {
        expect(
            &["program", "fpga0", path, "--force"],
            3,
            "not a regular file",
        );
    }
    let r = run_bounded(
        &["program", "fpga0", lp.to_str().unwrap(), "--force"],
        BOUND,
    );
    assert_eq!(r.code, 3, "a symlink loop is bad input: {}", r.stderr);
    // A size whose header field would wrap is refused, not written.
    expect(
        &[
            "sim-image",
            f.str("big.img").as_str(),
            "--size",
            "4294967312",
        ],
        3,
        "at most",
    );
}

#[test]
fn numbers_from_outside_never_overflow() {
    expect(&["wait-removal", "--timeout", "1e20"], 3, "at most 86400");
    expect(&["wait-removal", "--timeout=-1"], 3, "");
    expect(&["wait-removal", "--timeout", "NaN"], 3, "");
    expect(&["wait-removal", "--timeout", "inf"], 3, "");
    let f = Files::new();
    expect(
        &[
            "sim-image",
            f.str("x.img").as_str(),
            "--size",
            "18446744073709551615",
        ],
        3,
        "at most",
    );
}

#[test]
fn huge_and_deep_boards_stay_linear() {
    let f = Files::new();
    // A 100k-character name: no format width may overflow.
    let long = "n".repeat(100_000);
    let p = f.path("long.toml");
    std::fs::write(&p, format!("[[device]]\nname = \"{long}\"\n")).unwrap();
    let r = run_bounded(&["--scenario", p.to_str().unwrap(), "list"], BOUND);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&long));
    // A firmware-node path of 30k components: no recursion on depth.
    let deep = "/a".repeat(30_000);
    let p = f.path("deep.toml");
    std::fs::write(
        &p,
        format!("[[fwnode]]\npath = \"{deep}\"\n[[device]]\nname = \"x\"\nfwnode = \"{deep}\"\n"),
    )
    .unwrap();
    let r = run_bounded(&["--scenario", p.to_str().unwrap(), "show", "x"], BOUND);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 20,000 devices naming their parent by bare name, and a hub of 20,000
    // links: seconds, not minutes.
    let mut s = String::from("[[device]]\nname = \"root\"\n");
    for i in 0..20_000 {
        s.push_str(&format!("[[device]]\nname = \"b{i}\"\nparent = \"root\"\n"));
    }
    let p = f.path("bare.toml");
    std::fs::write(&p, s).unwrap();
    let r = run_bounded(&["--scenario", p.to_str().unwrap(), "list"], BOUND);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut s = String::from("[[device]]\nname = \"hub\"\n");
    for i in 0..20_000 {
        s.push_str(&format!(
            "[[device]]\nname = \"h{i}\"\n[[link]]\nconsumer = \"platform:h{i}\"\nsupplier = \"platform:hub\"\nflags = [\"STATELESS\"]\n"
        ));
    }
    let p = f.path("hub.toml");
    std::fs::write(&p, s).unwrap();
    let board = p.to_str().unwrap();
    for cmd in [
        vec!["show", "hub"],
        vec!["links"],
        vec!["order", "hub", "--teardown"],
    ] {
        let mut args = vec!["--scenario", board];
        args.extend_from_slice(&cmd);
        let r = run_bounded(&args, BOUND);
        assert_eq!(r.code, 0, "{cmd:?}: {}", r.stderr);
        eprintln!("{cmd:?} on a hub of 20000 links: {:?}", r.took);
    }
    // The in-process SVG layout has a documented limit.
    expect(
        &[
            "--scenario",
            board,
            "links",
            "--svg",
            f.str("hub.svg").as_str(),
        ],
        3,
        "--svg draws at most 120 links",
    );
}

#[test]
fn attributes_that_are_not_attributes_stay_problems_of_their_link() {
    let f = Files::new();
    let tree = f.copy_tree(&fixture("arm64-virt"), "tree");
    let link = tree.join("devices/virtual/devlink/amba:9030000.pl061--platform:gpio-keys");
    let status = link.join("status");
    let root = tree.to_str().unwrap();
    let cases: [(&str, &dyn Fn()); 3] = [
        ("a FIFO (never waited on)", &|| mkfifo(&status)),
        ("a symlink", &|| {
            std::os::unix::fs::symlink("/dev/zero", &status).unwrap()
        }),
        ("a file larger than any attribute", &|| {
            std::fs::write(&status, vec![b'x'; 200_000]).unwrap()
        }),
    ];
    for (what, make) in cases {
        std::fs::remove_file(&status).unwrap();
        make();
        let r = run_bounded(&["--backend", "sysfs", "--root", root, "links"], BOUND);
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        assert!(
            r.stdout
                .contains("amba:9030000.pl061--platform:gpio-keys    unreadable"),
            "{what}: {}",
            r.stdout
        );
    }
}

#[test]
fn closed_and_full_outputs_never_panic() {
    // A closed pipe: exit 0 quietly; a full device: exit 9.
    for args in [
        vec!["list"],
        vec!["completions", "bash"],
        vec!["--json", "links"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} | true: {}",
            stderr(&out)
        );
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(9),
            "{args:?} > /dev/full: {}",
            stderr(&out)
        );
    }
    // Errors to a closed stderr: the exit code still says what happened.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
        .args(["show", "nope"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(4));
}

#[test]
fn names_cannot_move_the_cursor_or_break_a_graph() {
    let f = Files::new();
    let p = f.path("names.toml");
    std::fs::write(
        &p,
        "[[device]]\nname = \"evil\\u001b[2J\\nname\"\n[[device]]\nname = \"quo\\\"te\"\n\
         [[device]]\nname = \"a--b\"\n[[device]]\nname = \"c\"\n\
         [[link]]\nconsumer = \"platform:c\"\nsupplier = \"platform:a--b\"\n\
         [[link]]\nconsumer = \"platform:c\"\nsupplier = \"platform:quo\\\"te\"\n",
    )
    .unwrap();
    let board = p.to_str().unwrap();
    let r = run_bounded(&["--scenario", board, "list"], BOUND);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains('\u{1b}'),
        "an escape reached the terminal"
    );
    assert!(r.stdout.contains("evil\\u{1b}[2J\\nname"), "{}", r.stdout);
    let r = run_bounded(&["--scenario", board, "links", "--format", "dot"], BOUND);
    assert!(r.stdout.contains("\"platform:quo\\\"te\""), "{}", r.stdout);
    // A name with `--` keeps its link's ends.
    let r = run_bounded(&["--scenario", board, "--json", "links"], BOUND);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let l = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["consumer"] == "platform:c" && l["supplier"] == "platform:a--b");
    assert!(l.is_some(), "{v}");
}

fn uio_tree(f: &Files, node_len: u64) -> std::path::PathBuf {
    let dir = f.copy_tree(&fixture("arm64-virt"), "tree");
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::File::create(dir.join("dev/uio0"))
        .unwrap()
        .set_len(node_len)
        .unwrap();
    dir
}

#[test]
fn uio_trees_and_nodes_that_lie() {
    let f = Files::new();
    let img = f.str("p.bit");
    let good = backend_uio::bitstream::synthetic_partial(16, 0x0362_D093).bit;
    std::fs::write(&img, &good).unwrap();
    // A device node shorter than the map it claims: mapping it would
    // fault (SIGBUS) on the first register.
    let dir = uio_tree(&f, 0);
    let root = dir.to_str().unwrap();
    let r = run_bounded(
        &[
            "--backend",
            "uio",
            "--root",
            root,
            "program",
            "uio0",
            &img,
            "--partial",
        ],
        BOUND,
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("uio0"), "{}", r.stderr);
    // A map size no machine has.
    let f = Files::new();
    let dir = uio_tree(&f, 0x10_0000);
    let root = dir.to_str().unwrap();
    let map0 = dir.join("devices/pci0000:00/0000:00:03.0/uio/uio0/maps/map0");
    std::fs::write(map0.join("size"), "0xffffffffffffffff\n").unwrap();
    for cmd in [vec!["list"], vec!["show", "uio0"]] {
        let mut args = vec!["--backend", "uio", "--root", root];
        args.extend_from_slice(&cmd);
        run_bounded(&args, BOUND);
    }
    let r = run_bounded(
        &[
            "--backend",
            "uio",
            "--root",
            root,
            "program",
            "uio0",
            &img,
            "--partial",
        ],
        BOUND,
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
}

#[test]
fn hwicap_images_are_checked_whole_before_anything_is_written() {
    let f = Files::new();
    let dir = uio_tree(&f, 0x10_0000);
    let root = dir.to_str().unwrap();
    let good = backend_uio::bitstream::synthetic_partial(16, 0x0362_D093).bit;
    let dry = |name: &str, bytes: &[u8]| {
        let p = f.str(name);
        std::fs::write(&p, bytes).unwrap();
        run_bounded(
            &[
                "--backend",
                "uio",
                "--root",
                root,
                "program",
                "uio0",
                &p,
                "--partial",
                "--dry-run",
            ],
            BOUND,
        )
    };
    let r = dry("good.bit", &good);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Cut inside its frame data.
    let r = dry("cut.bit", &good[..good.len() - 7]);
    assert_eq!(
        r.code, 3,
        "a cut bitstream passed the dry run: {}",
        r.stdout
    );
    // A simulator image is not a bitstream for the HWICAP.
    let sim = backend_sim::sim_image(&[0u8; 64], true);
    let r = dry("sim.bit", &sim);
    assert_eq!(
        r.code, 3,
        "a SIMBIT image passed the HWICAP dry run: {}",
        r.stdout
    );
    // Trailing junk is named, not ignored.
    let mut junk = good.clone();
    junk.extend(std::iter::repeat_n(0x5a, 1500));
    let r = dry("junk.bit", &junk);
    assert_eq!(
        r.code, 3,
        "1500 bytes of trailing junk passed: {}",
        r.stdout
    );
    assert!(r.stderr.contains("1500"), "{}", r.stderr);
}

#[test]
fn a_simulator_image_without_payload_is_refused() {
    let f = Files::new();
    let p = f.str("empty.img");
    std::fs::write(&p, backend_sim::sim_image(&[], false)).unwrap();
    let r = run_bounded(&["program", "fpga0", &p, "--force"], BOUND);
    assert_eq!(r.code, 3, "a zero-payload image loaded: {}", r.stdout);
}

#[test]
fn boards_and_trees_that_cannot_be_meant() {
    let f = Files::new();
    let p = f.path("two.toml");
    std::fs::write(
        &p,
        "[[device]]\nname = \"m\"\n[[fpga_manager]]\nparent = \"m\"\n[[fpga_manager]]\nparent = \"m\"\n",
    )
    .unwrap();
    expect(
        &["--scenario", p.to_str().unwrap(), "list"],
        3,
        "a second manager on the same device",
    );
    // A class entry that is a file is not "no FPGA support".
    let tree = f.copy_tree(&fixture("arm64-virt"), "tree");
    std::fs::remove_dir_all(tree.join("class/fpga_manager")).unwrap();
    std::fs::write(tree.join("class/fpga_manager"), "x").unwrap();
    let r = expect(
        &[
            "--backend",
            "sysfs",
            "--root",
            tree.to_str().unwrap(),
            "list",
        ],
        0,
        "class/fpga_manager: unexpected content \"(not a directory)\"",
    );
    assert!(!r.stdout.contains("no FPGA support"), "{}", r.stdout);
}

#[test]
fn the_bound_itself_kills_a_run_that_outlives_it() {
    // The runner every case here uses must be able to fail: a run longer
    // than its bound (any run is longer than 1 ms) is a hang.
    let e = common::run_bounded(&["demo"], Duration::from_millis(1))
        .err()
        .expect("a 1 ms bound is exceeded");
    assert!(e.contains("a hang"), "{e}");
}
