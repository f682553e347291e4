//! Generated hostile inputs through every read command: random boards
//! (scenario files) and random corruptions of a real captured tree. For
//! each, `list`, `links`, `show`, `why` and `order` (text and JSON) must
//! end within the bound with an exit code from the documented set, and a
//! successful JSON report must parse.

mod common;

use common::*;
use proptest::prelude::*;
use std::time::Duration;

const DOCUMENTED: [i32; 10] = [0, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const BOUND: Duration = Duration::from_secs(30);

fn run(args: &[String]) -> Result<(), TestCaseError> {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_bounded(&argv, BOUND).map_err(TestCaseError::fail)?;
    let (code, stdout, stderr) = (r.code, r.stdout, r.stderr);
    prop_assert!(
        DOCUMENTED.contains(&code),
        "{args:?}: exit {code}: {stderr}"
    );
    prop_assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    if code == 0 && args.iter().any(|a| a == "--json") {
        prop_assert!(
            serde_json::from_str::<serde_json::Value>(&stdout).is_ok(),
            "{args:?}: not JSON"
        );
    }
    Ok(())
}

fn every_read_command(base: &[String], device: &str) -> Result<(), TestCaseError> {
    for cmd in [
        vec!["list"],
        vec!["links"],
        vec!["links", "--format", "dot"],
        vec!["show", device],
        vec!["why", device],
        vec!["order", device, "--teardown"],
        vec!["order", device, "--bringup"],
    ] {
        for json in [false, true] {
            let mut args: Vec<String> = base.to_vec();
            if json {
                args.push("--json".into());
            }
            args.extend(cmd.iter().map(|s| s.to_string()));
            run(&args)?;
        }
    }
    Ok(())
}

/// A random board: devices on two buses with random parents, links with
/// random flags (cycles and self-links included: the scenario check must
/// refuse them cleanly), drivers with random probe outcomes.
fn board() -> impl Strategy<Value = String> {
    let flags = prop::sample::subsequence(
        vec![
            "STATELESS",
            "AUTOREMOVE_CONSUMER",
            "PM_RUNTIME",
            "RPM_ACTIVE",
            "AUTOREMOVE_SUPPLIER",
            "AUTOPROBE_CONSUMER",
            "SYNC_STATE_ONLY",
            "INFERRED",
        ],
        0..3,
    );
    (
        2usize..12,
        prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 12),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                flags,
            ),
            0..14,
        ),
        prop::collection::vec(prop::sample::select(vec!["ok", "defer", "fail"]), 0..3),
    )
        .prop_map(|(n, parents, links, probe)| {
            let mut s = String::new();
            s.push_str(&format!(
                "[[driver]]\nname = \"d\"\nprobe = [{}]\n",
                probe
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            for (i, &(p, has)) in parents.iter().enumerate().take(n) {
                let bus = if i % 3 == 0 { "i2c" } else { "platform" };
                s.push_str(&format!(
                    "[[device]]\nname = \"dev{i}\"\nbus = \"{bus}\"\ncompatible = \"d\"\n"
                ));
                if has && i > 0 {
                    let j = p.index(i);
                    let pbus = if j % 3 == 0 { "i2c" } else { "platform" };
                    s.push_str(&format!("parent = \"{pbus}:dev{j}\"\n"));
                }
            }
            for (c, sup, f) in links {
                let (c, sup) = (c.index(n), sup.index(n));
                let key =
                    |i: usize| format!("{}:dev{i}", if i % 3 == 0 { "i2c" } else { "platform" });
                s.push_str(&format!(
                    "[[link]]\nconsumer = \"{}\"\nsupplier = \"{}\"\nflags = [{}]\n",
                    key(c),
                    key(sup),
                    f.iter()
                        .map(|x| format!("\"{x}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn generated_boards_through_every_read_command(text in board()) {
        let f = Files::new();
        let p = f.path("board.toml");
        std::fs::write(&p, &text).unwrap();
        let base = vec!["--scenario".to_string(), p.display().to_string()];
        every_read_command(&base, "dev1")?;
    }

    /// A captured stock-kernel tree with random attributes overwritten by
    /// random bytes, removed, or replaced by a directory.
    #[test]
    fn corrupted_real_trees_through_every_read_command(
        hits in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..40), 0u8..3), 1..6)
    ) {
        let f = Files::new();
        let tree = f.copy_tree(&fixture("debian-6.12-q35"), "tree");
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        let mut stack = vec![tree.join("devices")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let t = e.file_type().unwrap();
                if t.is_dir() {
                    stack.push(e.path());
                } else if t.is_file() {
                    files.push(e.path());
                }
            }
        }
        files.sort();
        for (i, bytes, how) in hits {
            let p = &files[i.index(files.len())];
            // An earlier hit may have made this file a directory already.
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
            match how {
                0 => std::fs::write(p, &bytes).unwrap(),
                1 => {}
                _ => std::fs::create_dir_all(p).unwrap(),
            }
        }
        let base = vec!["--backend".to_string(), "sysfs".into(), "--root".into(), tree.display().to_string()];
        every_read_command(&base, "pci:0000:00:01.0")?;
    }
}
