//! The transcripts in the README and the user guide are claims: each
//! `$ fpgactl …` line in them is run here (in document order, in one
//! directory, so `sim-image top.bin` makes the file the next example
//! loads), and every output line shown must appear in what the command
//! prints, in order. `...` stands for lines left out; durations may
//! differ. Real-system examples run on the committed arm64-virt fixture
//! (`--root`); examples that need root (`sudo`) are not run.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn normalise(line: &str) -> String {
    // "8 ms", "41.0ms", "(0 ms)" are wall-clock figures.
    let mut out = String::new();
    let mut rest = line.trim_end();
    while let Some(i) = rest.find("ms") {
        let head = &rest[..i];
        let digits = head.trim_end_matches(' ');
        let number = digits.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        if number.len() < digits.len() {
            out.push_str(number);
            out.push_str("Nms");
        } else {
            out.push_str(&rest[..i + 2]);
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

/// Each fenced block of `doc` with its info string.
fn blocks(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(l) = lines.next() {
        if let Some(info) = l.strip_prefix("```") {
            let mut body = String::new();
            for b in lines.by_ref() {
                if b.starts_with("```") {
                    break;
                }
                body.push_str(b);
                body.push('\n');
            }
            out.push((info.to_string(), body));
        }
    }
    out
}

/// Checks that `expected` lines appear in `actual`, in order.
fn in_order(what: &str, expected: &[&str], actual: &str) {
    let actual: Vec<String> = actual.lines().map(normalise).collect();
    let mut at = 0;
    for e in expected {
        if e.contains("...") || e.contains('…') || e.trim().is_empty() {
            continue;
        }
        let e = normalise(e);
        match actual[at..].iter().position(|a| *a == e) {
            Some(i) => at += i + 1,
            None => panic!(
                "{what}: the documented line\n  {e:?}\nis not printed (after line {at}):\n{}",
                actual.join("\n")
            ),
        }
    }
}

fn run_in(dir: &Path, args: &[String]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_fpgactl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run fpgactl");
    format!("{}{}", stdout(&o), stderr(&o))
}

/// Runs every `$ fpgactl` example of `doc`; returns how many ran.
fn check_doc(name: &str, doc: &str) -> usize {
    let f = Files::new();
    let dir = f.dir.path();
    let root = fixture("arm64-virt");
    let mut ran = 0;
    for (info, body) in blocks(doc) {
        if info == "toml" {
            if let Some(rest) = body.strip_prefix("# ") {
                let (file, _) = rest.split_once('\n').unwrap();
                std::fs::write(dir.join(file.trim()), &body).unwrap();
            }
            continue;
        }
        if info != "text" {
            continue;
        }
        let mut lines = body.lines().peekable();
        while let Some(l) = lines.next() {
            let Some(cmd) = l.strip_prefix("$ fpgactl ") else {
                continue;
            };
            let mut expected = Vec::new();
            while let Some(next) = lines.peek() {
                if next.starts_with("$ ") {
                    break;
                }
                expected.push(*next);
                lines.next();
            }
            let mut args: Vec<String> = Vec::new();
            for w in cmd.split_whitespace() {
                args.push(w.to_string());
                if args.len() >= 2 && args[args.len() - 2] == "--backend" && w != "sim" {
                    args.push("--root".into());
                    args.push(root.display().to_string());
                }
            }
            let out = run_in(dir, &args);
            in_order(&format!("{name}: $ fpgactl {cmd}"), &expected, &out);
            ran += 1;
        }
    }
    ran
}

#[test]
fn the_user_guide_examples_are_what_fpgactl_prints() {
    let doc = std::fs::read_to_string(manifest().join("../../docs/user-guide.md")).unwrap();
    let ran = check_doc("docs/user-guide.md", &doc);
    assert!(ran >= 12, "only {ran} examples ran");
}

#[test]
fn the_readme_demo_transcript_is_what_demo_prints() {
    let doc = std::fs::read_to_string(manifest().join("../../README.md")).unwrap();
    let (_, transcript) = blocks(&doc)
        .into_iter()
        .find(|(info, body)| info == "text" && body.starts_with("== Board"))
        .expect("the README shows the demo");
    let expected: Vec<&str> = transcript.lines().collect();
    in_order("README.md demo", &expected, &ok(&["demo"]));
}

#[test]
fn a_wrong_line_is_caught() {
    let r = std::panic::catch_unwind(|| {
        in_order(
            "x",
            &["   unbind platform:eth0", "   unbind i2c:0-0048"],
            &ok(&["demo"]),
        )
    });
    assert!(r.is_err(), "lines out of order must fail");
    assert_eq!(normalise("done after 8 ms"), "done after Nms");
    assert_eq!(normalise("Done in 41.0ms: x"), "Done in Nms: x");
    assert_eq!(normalise("(0 ms)"), "(Nms)");
}
