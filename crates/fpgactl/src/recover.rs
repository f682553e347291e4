//! `recover`, and the recovery every `program`/`reprogram` runs first: an
//! earlier run of the same manager that died half-way (its journal says
//! what it took down) is finished, and images staged by processes that
//! are gone are removed. See `backend_linux_sysfs::recover` for what is
//! done at each stage.

use crate::backend::Backend;
use crate::output::{err_line, esc, Failure};
use crate::report::{NotRebound, RecoverReport, RecoveredRow};

/// The report row of one recovery.
pub fn row(r: &backend_linux_sysfs::Recovered) -> RecoveredRow {
    use backend_linux_sysfs::JournalStage;
    let i = &r.interrupted;
    RecoveredRow {
        manager: i.manager.clone(),
        target: i.target.clone(),
        pid: i.pid,
        stage: match i.stage {
            JournalStage::Teardown => "teardown",
            JournalStage::Loading => "loading",
            JournalStage::BringUp => "bringup",
        }
        .to_string(),
        rebound: r.rebound.bound.iter().map(|u| u.key.clone()).collect(),
        not_rebound: r
            .rebound
            .not_bound
            .iter()
            .map(|(u, why)| NotRebound {
                device: u.key.clone(),
                why: why.clone(),
            })
            .collect(),
        left_down: r.left_down.clone(),
    }
}

/// `fpgactl recover [MANAGER] [--force]`.
pub fn recover<B: Backend>(
    b: &mut B,
    manager: Option<&str>,
    force: bool,
) -> Result<RecoverReport, Failure> {
    b.recover(manager, force)
}

/// Before a load through `manager`: finishes what an interrupted run
/// left, saying so on standard error. Returns what it did.
pub fn before_load<B: Backend>(b: &mut B, manager: &str) -> Result<Vec<RecoveredRow>, Failure> {
    let r = b.recover(Some(manager), false)?;
    for n in &r.removed_staged {
        err_line(format_args!(
            "fpgactl: removed {}, staged by a process that is gone",
            esc(n)
        ));
    }
    for row in &r.recovered {
        err_line(format_args!(
            "fpgactl: an earlier {} of {} (pid {}) was interrupted at its {}; {}",
            "reprogram",
            esc(&row.target),
            row.pid,
            row.stage,
            match &row.left_down {
                Some(why) => format!("its users stay down: {why}"),
                None => format!("bound again: {}", list(&row.rebound)),
            }
        ));
    }
    Ok(r.recovered)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nothing was down".to_string()
    } else {
        v.join(", ")
    }
}
