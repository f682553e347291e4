//! The engine's journal and stop flag, on the simulator: what is recorded
//! before each change, what a failing journal stops, and where a stop
//! asked for takes effect.

use conformance::{Rig, SimRig};
use devlink_core::drive::ReadTopology;
use devlink_core::Errno;
use fpga_core::{reprogram, Journal, LoadTarget, ReprogramOptions, Stage};
use futures::executor::block_on;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    /// Fail the n-th `unbinding` (1-based).
    fail_unbinding: Option<usize>,
}

impl Journal for Recorder {
    fn begin(&self, op: &str, target: &LoadTarget) -> std::io::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("begin {op} {}", target.name));
        Ok(())
    }
    fn unbinding(&self, device: &str, _driver: &str, _path: &str) -> std::io::Result<()> {
        let mut c = self.calls.lock().unwrap();
        let n = c.iter().filter(|x| x.starts_with("unbinding")).count() + 1;
        if self.fail_unbinding == Some(n) {
            return Err(std::io::Error::other("disk full"));
        }
        c.push(format!("unbinding {device}"));
        Ok(())
    }
    fn loading(&self) -> std::io::Result<()> {
        self.calls.lock().unwrap().push("loading".into());
        Ok(())
    }
    fn bringing_up(&self) -> std::io::Result<()> {
        self.calls.lock().unwrap().push("bringing_up".into());
        Ok(())
    }
    fn end(&self) -> std::io::Result<()> {
        self.calls.lock().unwrap().push("end".into());
        Ok(())
    }
}

fn all_users_bound(r: &SimRig) -> bool {
    let t = block_on(ReadTopology::topology(r.model())).unwrap();
    r.names()
        .users()
        .iter()
        .all(|u| t.named(u).unwrap().is_bound())
}

#[test]
fn every_change_is_journalled_before_it_is_made() {
    let r = SimRig::new();
    let j = Arc::new(Recorder::default());
    let opts = ReprogramOptions {
        journal: Some(j.clone()),
        ..ReprogramOptions::default()
    };
    let rep = block_on(reprogram(
        r.model(),
        &r.region_loader(true),
        &opts,
        &fpga_core::ignore,
    ))
    .unwrap();
    let calls = j.calls.lock().unwrap().clone();
    assert_eq!(calls[0], "begin reprogram region0");
    let unbinding: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("unbinding"))
        .collect();
    assert_eq!(unbinding.len(), rep.unbound.len());
    let tail: Vec<&str> = calls[1 + unbinding.len()..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(tail, ["loading", "bringing_up", "end"]);
    // In teardown order: the journal's order is the unbinds' order.
    for (c, u) in unbinding.iter().zip(&rep.unbound) {
        assert_eq!(**c, format!("unbinding {}", u.key));
    }
}

#[test]
fn a_journal_that_cannot_be_written_stops_the_teardown_and_brings_back_what_went_down() {
    let r = SimRig::new();
    let j = Arc::new(Recorder {
        fail_unbinding: Some(3),
        ..Recorder::default()
    });
    let opts = ReprogramOptions {
        journal: Some(j.clone()),
        ..ReprogramOptions::default()
    };
    let e = block_on(reprogram(
        r.model(),
        &r.region_loader(true),
        &opts,
        &fpga_core::ignore,
    ))
    .unwrap_err();
    assert_eq!(e.stage, Stage::Teardown, "{e}");
    assert!(
        e.to_string().contains("writing the journal: disk full"),
        "{e}"
    );
    assert!(e.left_unbound.is_empty(), "{e}");
    assert!(all_users_bound(&r));
    let calls = j.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("unbinding")).count(),
        2
    );
    assert_eq!(calls.last().map(String::as_str), Some("end"));
    assert!(!calls.iter().any(|c| c == "loading"));
}

#[test]
fn a_stop_asked_for_before_the_load_brings_everything_back_with_eintr() {
    let r = SimRig::new();
    let stop = Arc::new(AtomicBool::new(true));
    let opts = ReprogramOptions {
        cancel: Some(stop),
        ..ReprogramOptions::default()
    };
    let e = block_on(reprogram(
        r.model(),
        &r.region_loader(true),
        &opts,
        &fpga_core::ignore,
    ))
    .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINTR), "{e}");
    assert_eq!(e.stage, Stage::Teardown);
    assert!(e.left_unbound.is_empty());
    assert!(all_users_bound(&r));
}
