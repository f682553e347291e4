//! SIGINT, SIGTERM and SIGHUP during `program` and `reprogram`: the first
//! asks the sequence to stop at its next safe point (before the load:
//! the users taken down so far come back; once the load has begun, it
//! and the bring-up finish), and the process exits with 128 + the signal
//! (130, 143, 129). A second one ends the process at once; what it left
//! is in the journal, and the next command that touches the manager (or
//! `fpgactl recover`) finishes it.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The handlers' shared state.
pub struct Signals {
    /// Set by the first signal: the engine's stop flag.
    pub stop: Arc<AtomicBool>,
    got: Arc<AtomicUsize>,
}

/// Installs the handlers (a failure to install leaves the default
/// behaviour: the process dies, and the journal covers that too).
pub fn install() -> Signals {
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // The order matters: the shutdown checks the flag before this
        // signal sets it, so only a second signal ends the process.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
        let _ = signal_hook::flag::register_usize(sig, got.clone(), sig as usize);
    }
    Signals { stop, got }
}

impl Signals {
    /// The signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.got.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }
}

/// The signal's name, for messages.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
