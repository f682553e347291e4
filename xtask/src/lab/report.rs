//! Parsing the guests' serial output into the lab's report: every
//! `LAB-RESULT` line by section, failures with their `LAB-DETAIL` lines,
//! and the Linux column of the conformance matrix.

use super::{tail, Res};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One parsed check.
#[derive(Debug)]
struct Check {
    ok: bool,
    reason: String,
    details: Vec<String>,
}

/// Step 8: parses the serial log into a report; `Err` if anything failed.
pub(super) fn report(text: &str, work: &Path) -> Res<String> {
    let mut checks: BTreeMap<String, Check> = BTreeMap::new();
    let mut order = Vec::new();
    let mut details: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut summary = None;
    let mut exit = None;
    for line in text.lines() {
        let Some(pos) = line.find("LAB-") else {
            continue;
        };
        let line = &line[pos..];
        if let Some(rest) = line.strip_prefix("LAB-DETAIL ") {
            let (name, d) = rest.split_once(' ').unwrap_or((rest, ""));
            details
                .entry(name.to_string())
                .or_default()
                .push(d.to_string());
        } else if let Some(rest) = line.strip_prefix("LAB-RESULT ") {
            let mut it = rest.splitn(3, ' ');
            let name = it.next().unwrap_or("").to_string();
            let verdict = it.next().unwrap_or("");
            let reason = it.next().unwrap_or("").to_string();
            let check = Check {
                ok: verdict == "ok",
                reason,
                details: details.remove(&name).unwrap_or_default(),
            };
            order.push(name.clone());
            checks.insert(name, check);
        } else if let Some(rest) = line.strip_prefix("LAB-SUMMARY ") {
            summary = Some(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("LAB-EXIT ") {
            exit = Some(rest.trim().to_string());
        }
    }
    let failed: Vec<&String> = order.iter().filter(|n| !checks[*n].ok).collect();
    let mut out = String::new();
    let _ = writeln!(out, "real-kernel lab report");
    let _ = writeln!(out, "======================");
    let mut sections: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for n in &order {
        let sec = n.split('/').next().unwrap_or(n);
        let e = sections.entry(sec).or_default();
        if checks[n].ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for (sec, (ok, bad)) in &sections {
        let _ = writeln!(out, "  {sec:<12} {ok:>3} passed  {bad:>3} failed");
    }
    let _ = writeln!(out);
    for n in &order {
        let c = &checks[n];
        let _ = writeln!(out, "  {} {n}", if c.ok { "ok  " } else { "FAIL" });
        if !c.ok {
            let _ = writeln!(out, "       {}", c.reason);
            for d in &c.details {
                let _ = writeln!(out, "       | {d}");
            }
        } else {
            // What a stock kernel showed is worth reading when it passes.
            let stock = n.starts_with("stock-");
            for d in c
                .details
                .iter()
                .filter(|d| stock || d.starts_with("documented deviations"))
            {
                let _ = writeln!(out, "       {d}");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} checks, {} failed; guest summary: {}",
        order.len(),
        failed.len(),
        summary
            .as_deref()
            .unwrap_or("(none: the guest did not finish)")
    );
    let _ = std::fs::write(work.join("report.txt"), &out);
    // The Linux column of the conformance matrix, for `conformance
    // --column` to print beside the other backends'.
    let mut tsv = String::new();
    // `conformance/<case>` on the lab kernel, `stock-NAME/conformance/<case>`
    // on a stock one.
    let case_of = |n: &str| -> Option<String> {
        n.strip_prefix("conformance/")
            .or_else(|| n.split_once("/conformance/").map(|(_, c)| c))
            .filter(|c| *c != "board")
            .map(str::to_string)
    };
    for n in &order {
        let Some(case) = case_of(n) else { continue };
        let c = &checks[n];
        let na = c.details.iter().find_map(|d| d.strip_prefix("n/a: "));
        let (verdict, why) = match (c.ok, na) {
            (true, Some(why)) => ("n/a", why.to_string()),
            (true, None) => ("ok", String::new()),
            (false, _) => ("FAIL", c.reason.clone()),
        };
        let _ = writeln!(tsv, "{case}\t{verdict}\t{}", why.replace(['\t', '\n'], " "));
    }
    let _ = std::fs::write(work.join("conformance.tsv"), &tsv);
    if order.is_empty() || summary.is_none() || exit.as_deref() != Some("0") || !failed.is_empty() {
        let why = if order.is_empty() || summary.is_none() {
            format!(
                "the guest did not finish its checks (exit {exit:?}); last serial lines:\n{}",
                tail(text, 40)
            )
        } else {
            format!("{} of {} guest checks failed", failed.len(), order.len())
        };
        return Err(format!("{out}\n{why}"));
    }
    Ok(out)
}
