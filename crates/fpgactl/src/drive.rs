//! Commands that change bindings: `unbind`, `bind`, `wait-removal`.

use crate::board::find_device;
use crate::outln;
use crate::output::{print_json, Failure};
use backend_sim::Board;
use devlink_core::ErrorKind;
use futures::executor::block_on;
use serde_json::json;
use std::time::Duration;

type Snapshot = Vec<(String, String, Option<String>)>;

fn snapshot(board: &Board) -> Snapshot {
    board
        .core
        .devices()
        .iter()
        .map(|d| (d.to_string(), d.state().to_string(), d.driver_name()))
        .collect()
}

/// Prints (or returns as JSON) the devices whose state or driver changed.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<serde_json::Value> {
    after
        .iter()
        .filter_map(|(name, state, driver)| {
            let old = before.iter().find(|(n, _, _)| n == name);
            match old {
                Some((_, s, d)) if s == state && d == driver => None,
                _ => Some(json!({
                    "device": name,
                    "was": old.map(|(_, s, _)| s.clone()),
                    "now": state,
                    "driver": driver,
                })),
            }
        })
        .collect()
}

fn report(verb: &str, device: &str, changed: &[serde_json::Value], as_json: bool) {
    if as_json {
        print_json(&json!({"action": verb, "device": device, "changed": changed}));
        return;
    }
    if changed.is_empty() {
        outln!("{verb} {device}: nothing changed");
        return;
    }
    outln!("{verb} {device}: {} device(s) changed", changed.len());
    for c in changed {
        outln!(
            "  {:<28} {} -> {}",
            c["device"].as_str().unwrap_or("?"),
            c["was"].as_str().unwrap_or("(new)"),
            c["now"].as_str().unwrap_or("?")
        );
    }
}

/// `unbind DEVICE`.
pub fn unbind(board: &Board, name: &str, as_json: bool) -> Result<(), Failure> {
    let d = find_device(board, name)?;
    if d.driver_name().is_none() {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("{d} is not bound to a driver"),
        )
        .hint(format!("`fpgactl why {name}` says why")));
    }
    let before = snapshot(board);
    block_on(board.core.unbind(&d)).map_err(Failure::from)?;
    board.core.wait_removal().map_err(Failure::from)?;
    report(
        "unbind",
        &d.to_string(),
        &changes(&before, &snapshot(board)),
        as_json,
    );
    Ok(())
}

/// `bind DEVICE`.
pub fn bind(board: &Board, name: &str, as_json: bool) -> Result<(), Failure> {
    let d = find_device(board, name)?;
    if let Some(drv) = d.driver_name() {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("{d} is already bound to {drv}"),
        ));
    }
    let before = snapshot(board);
    let result = block_on(board.core.bind(&d));
    let changed = changes(&before, &snapshot(board));
    match result {
        Ok(()) if d.driver_name().is_some() => {
            report("bind", &d.to_string(), &changed, as_json);
            Ok(())
        }
        Ok(()) => Err(Failure::new(
            ErrorKind::Deferred,
            format!("{d} did not bind (state {})", d.state()),
        )
        .hint(format!("`fpgactl why {name}` lists what it waits for"))),
        Err(e) => {
            Err(Failure::from(e).hint(format!("`fpgactl why {name}` lists what it waits for")))
        }
    }
}

/// `wait-removal --timeout SECONDS`.
pub fn wait_removal(board: &Board, timeout: f64, as_json: bool) -> Result<(), Failure> {
    if !(timeout.is_finite() && timeout >= 0.0) {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("--timeout {timeout}: give a number of seconds, 0 or more"),
        ));
    }
    let pending = board.core.removal_queue().pending();
    let done = board
        .core
        .wait_removal_timeout(Duration::from_secs_f64(timeout))
        .map_err(Failure::from)?;
    if !done {
        return Err(Failure::new(
            ErrorKind::Timeout,
            format!(
                "link releases still pending after {timeout} s ({} queued)",
                board.core.removal_queue().pending()
            ),
        )
        .hint("a release callback may be stuck; retry with a longer --timeout"));
    }
    if as_json {
        print_json(&json!({"waited_for": pending, "pending": 0}));
    } else {
        outln!("no link release pending (waited for {pending})");
    }
    Ok(())
}
