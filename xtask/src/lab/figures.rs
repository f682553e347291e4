//! The lab's measured figures (`LAB-FIGURE <id> <value> <unit>` lines of
//! the guest): what a user waits for on a real kernel, the reprogram
//! downtime beside a plain script and the removal wait's latency. Written
//! to `target/lab/figures.json`; `cargo xtask lab --record` appends them
//! to `docs/benchmarks/lab-history.jsonl`, whose last line `cargo xtask
//! bench` shows beside the benchmark figures.

use serde_json::{json, Value};
use std::path::Path;

/// Whether a value meets its goal.
type Met = fn(f64) -> bool;

/// The goals, by figure id: `(id, goal text, met?)`.
pub const GOALS: &[(&str, &str, Met)] = &[
    ("downtime/ratio", "<= 1.2x the plain script", |v| v <= 1.2),
    ("wait_latency/median", "< 1 ms", |v| v < 1.0),
];

/// The figures of a serial log, in order: `(id, value, unit)`.
pub fn parse(text: &str) -> Vec<(String, f64, String)> {
    text.lines()
        .filter_map(|l| {
            let l = &l[l.find("LAB-FIGURE ")?..];
            let mut it = l.strip_prefix("LAB-FIGURE ")?.split_whitespace();
            let id = it.next()?.to_string();
            let value: f64 = it.next()?.parse().ok()?;
            let unit = it.next().unwrap_or("").to_string();
            value.is_finite().then_some((id, value, unit))
        })
        .collect()
}

/// The kernel release the guest booted (`LAB-BOOT kernel <release> ...`).
pub fn kernel(text: &str) -> String {
    text.lines()
        .find_map(|l| {
            let l = &l[l.find("LAB-BOOT kernel ")?..];
            l.strip_prefix("LAB-BOOT kernel ")?
                .split_whitespace()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// One record: date, commit, kernel, and each figure with its goal.
pub fn record(text: &str, date: &str, commit: &str) -> Value {
    let figures: Vec<Value> = parse(text)
        .into_iter()
        .map(|(id, value, unit)| {
            let goal = GOALS.iter().find(|(g, _, _)| *g == id);
            json!({
                "id": id,
                "value": value,
                "unit": unit,
                "goal": goal.map(|(_, t, _)| *t),
                "met": goal.map(|(_, _, f)| f(value)),
            })
        })
        .collect();
    json!({
        "date": date,
        "commit": commit,
        "kernel": kernel(text),
        "figures": figures,
    })
}

/// The last record of the history file, if any.
pub fn last_recorded(history: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(history).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str(l).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_kernel_and_goals() {
        let log = "noise\nLAB-BOOT kernel 6.12.117 up after 1.0s\n\
                   x LAB-FIGURE downtime/ratio 3.1 x\nLAB-FIGURE bad\n\
                   LAB-FIGURE wait_latency/median 0.5 ms\nLAB-FIGURE nan NaN ms\n";
        let f = parse(log);
        assert_eq!(f.len(), 2);
        let r = record(log, "2026-12-01T00:00:00Z", "abc");
        assert_eq!(r["kernel"], "6.12.117");
        assert_eq!(r["figures"][0]["met"], false);
        assert_eq!(r["figures"][1]["met"], true);
        let h =
            std::env::temp_dir().join(format!("xtask-lab-figures-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&h);
        assert!(last_recorded(&h).is_none());
        std::fs::write(&h, format!("{r}\n{}\n\n", json!({"date": "later"}))).unwrap();
        assert_eq!(last_recorded(&h).unwrap()["date"], "later");
        let _ = std::fs::remove_file(&h);
    }
}
