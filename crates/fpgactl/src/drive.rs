//! The commands that change bindings, written once over [`Backend`]:
//! `unbind` (a device and everything bound that depends on it, consumers
//! first; an unbound device is not an error), `bind` (a deferral is exit
//! 6 naming what it waits for), `wait-removal`.

use crate::backend::Backend;
use crate::inspect::{lookup_failure, topology};
use crate::output::Failure;
use crate::report::{BindReport, Changed, UnbindReport, WaitReport};
use devlink_core::drive::{unbind_tree, Bind, BindOutcome, Settle, WaitRemoval};
use devlink_core::ErrorKind;
use futures::executor::block_on;
use std::time::Duration;

/// `unbind DEVICE`: then waits until what the unbind set off has settled.
pub fn unbind<B: Backend>(b: &B, name: &str, timeout: Duration) -> Result<UnbindReport, Failure> {
    b.supports("unbind")?;
    let t = topology(b)?;
    let id = t.find(name).map_err(|e| lookup_failure(&e))?;
    let key = t.device(id).key();
    let mark = b.model().removal_mark();
    let down = match block_on(unbind_tree(b.model(), &key)) {
        Ok(d) => d,
        Err(p) => {
            let done: Vec<&str> = p.unbound.iter().map(|u| u.key.as_str()).collect();
            let f = Failure::from_error(&p.error);
            return Err(if done.is_empty() {
                f
            } else {
                let hint = format!("already unbound: {}", done.join(", "));
                Failure {
                    hint: Some(hint),
                    ..f
                }
            });
        }
    };
    let settle = Settle {
        unbound: down.iter().map(|u| u.key.clone()).collect(),
        gone: Vec::new(),
        since: mark,
    };
    let waited = block_on(b.model().wait_removal(&settle, timeout))?;
    Ok(UnbindReport {
        device: key,
        unbound: down
            .into_iter()
            .map(|u| Changed {
                device: u.key,
                driver: u.driver,
            })
            .collect(),
        releases: waited.releases,
    })
}

/// `bind DEVICE`.
pub fn bind<B: Backend>(b: &B, name: &str) -> Result<BindReport, Failure> {
    b.supports("bind")?;
    let t = topology(b)?;
    let id = t.find(name).map_err(|e| lookup_failure(&e))?;
    let d = t.device(id);
    let key = d.key();
    if !d.bindable() {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("{key} is a class device: class devices have no driver to bind"),
        ));
    }
    match block_on(b.model().bind(&key, None))? {
        BindOutcome::Bound { driver, was_bound } => Ok(BindReport {
            device: key,
            driver,
            was_bound,
        }),
        BindOutcome::Deferred { waiting } => {
            let w: Vec<String> = waiting.iter().map(ToString::to_string).collect();
            let message = if w.is_empty() {
                format!("{key}: probe deferred by its driver")
            } else {
                format!("{key}: probe deferred, waiting for {}", w.join(", "))
            };
            let hint = if waiting.is_empty() {
                "the driver asked to be retried later; the kernel log may say why".to_string()
            } else {
                format!("bind what it waits for first; `fpgactl why {name}` shows the chain")
            };
            Err(Failure::new(ErrorKind::Deferred, message).hint(hint))
        }
    }
}

/// The longest `--timeout` taken, a day: anything longer is a typo.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// A `--timeout SECONDS` value, checked.
pub fn timeout_arg(secs: f64) -> Result<Duration, Failure> {
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!("--timeout {secs}: give a number of seconds, 0 or more"),
        ));
    }
    let d = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
    if d > MAX_TIMEOUT {
        return Err(Failure::new(
            ErrorKind::InvalidInput,
            format!(
                "--timeout {secs}: at most {} seconds",
                MAX_TIMEOUT.as_secs()
            ),
        ));
    }
    Ok(d)
}

/// `wait-removal`.
pub fn wait_removal<B: Backend>(b: &B, timeout: Duration) -> Result<WaitReport, Failure> {
    b.supports("wait-removal")?;
    let waited = block_on(b.model().wait_removal(&Settle::default(), timeout))?;
    Ok(WaitReport {
        releases: waited.releases,
        waited_ms: devlink_core::drive::duration_ms(waited.waited),
    })
}
