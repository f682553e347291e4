//! Simulated drivers: scripted probe outcomes, virtual latency, call counts.

use devlink_core::{async_trait, Device, Driver, ProbeError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Virtual time, advanced by simulated operations instead of sleeping.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    nanos: Arc<AtomicU64>,
}

impl SimClock {
    /// A clock at zero.
    pub fn new() -> SimClock {
        SimClock::default()
    }

    /// Advances the clock.
    pub fn advance(&self, by: Duration) {
        self.nanos
            .fetch_add(by.as_nanos().min(u64::MAX as u128) as u64, Ordering::AcqRel);
    }

    /// Virtual time elapsed since creation.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

/// What one probe returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Bind.
    Ok,
    /// Return `-EPROBE_DEFER`.
    Defer,
    /// Fail.
    Fail,
}

impl std::str::FromStr for ProbeOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ok" => Ok(ProbeOutcome::Ok),
            "defer" => Ok(ProbeOutcome::Defer),
            "fail" => Ok(ProbeOutcome::Fail),
            other => Err(format!(
                "unknown probe outcome {other:?} (expected \"ok\", \"defer\" or \"fail\")"
            )),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    probes: u64,
    removes: u64,
    shutdowns: u64,
    sync_states: u64,
}

/// A simulated driver. Probes return the scripted outcomes in turn and
/// then `Ok`; each probe advances the [`SimClock`] by the latency.
///
/// ```
/// use backend_sim::{ProbeOutcome, SimClock, SimDriver};
/// let clock = SimClock::new();
/// let drv = SimDriver::new("pmic", &clock)
///     .with_outcomes([ProbeOutcome::Defer, ProbeOutcome::Ok])
///     .with_latency(std::time::Duration::from_millis(5));
/// assert_eq!(drv.probes(), 0);
/// ```
pub struct SimDriver {
    name: String,
    clock: SimClock,
    latency: Duration,
    script: Mutex<VecDeque<ProbeOutcome>>,
    sync_state: bool,
    counts: Mutex<Counts>,
    /// Fault injection: `remove` keeps a reference to these devices
    /// (a driver that forgets a `put_device`).
    leak: Mutex<Vec<String>>,
    kept: Mutex<Vec<Device>>,
}

impl std::fmt::Debug for SimDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDriver")
            .field("name", &self.name)
            .field("latency", &self.latency)
            .finish()
    }
}

impl SimDriver {
    /// A driver named `name` whose probes succeed at once.
    pub fn new(name: &str, clock: &SimClock) -> SimDriver {
        SimDriver {
            name: name.to_string(),
            clock: clock.clone(),
            latency: Duration::ZERO,
            script: Mutex::new(VecDeque::new()),
            sync_state: false,
            counts: Mutex::new(Counts::default()),
            leak: Mutex::new(Vec::new()),
            kept: Mutex::new(Vec::new()),
        }
    }

    /// Fault injection: from now on, `remove` of the device named `name`
    /// keeps a reference to it (never dropped while the driver lives),
    /// the leak a reprogram's leak check must catch.
    pub fn leak_on_remove(&self, name: &str) {
        self.leak.lock().unwrap().push(name.to_string());
    }

    /// Scripts the next probe outcomes.
    pub fn with_outcomes(self, outcomes: impl IntoIterator<Item = ProbeOutcome>) -> SimDriver {
        self.script.lock().unwrap().extend(outcomes);
        self
    }

    /// Sets the virtual probe latency.
    pub fn with_latency(mut self, latency: Duration) -> SimDriver {
        self.latency = latency;
        self
    }

    /// Gives the driver a `sync_state` callback (counted).
    pub fn with_sync_state(mut self) -> SimDriver {
        self.sync_state = true;
        self
    }

    /// Appends outcomes for later probes.
    pub fn script(&self, outcomes: impl IntoIterator<Item = ProbeOutcome>) {
        self.script.lock().unwrap().extend(outcomes);
    }

    /// Probes so far.
    pub fn probes(&self) -> u64 {
        self.counts.lock().unwrap().probes
    }

    /// Removes so far.
    pub fn removes(&self) -> u64 {
        self.counts.lock().unwrap().removes
    }

    /// `sync_state` calls so far.
    pub fn sync_states(&self) -> u64 {
        self.counts.lock().unwrap().sync_states
    }

    /// Shutdowns so far.
    pub fn shutdowns(&self) -> u64 {
        self.counts.lock().unwrap().shutdowns
    }
}

#[async_trait]
impl Driver for SimDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        self.counts.lock().unwrap().probes += 1;
        self.clock.advance(self.latency);
        let outcome = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(ProbeOutcome::Ok);
        match outcome {
            ProbeOutcome::Ok => Ok(()),
            ProbeOutcome::Defer => Err(ProbeError::Defer(format!(
                "{}: simulated deferral of {dev}",
                self.name
            ))),
            ProbeOutcome::Fail => Err(ProbeError::Failed(format!(
                "{}: simulated probe failure of {dev}",
                self.name
            ))),
        }
    }

    async fn remove(&self, dev: &Device) {
        self.counts.lock().unwrap().removes += 1;
        if self.leak.lock().unwrap().iter().any(|n| n == dev.name()) {
            self.kept.lock().unwrap().push(dev.clone());
        }
    }

    async fn shutdown(&self, _dev: &Device) {
        self.counts.lock().unwrap().shutdowns += 1;
    }

    fn has_sync_state(&self) -> bool {
        self.sync_state
    }

    fn sync_state(&self, _dev: &Device) {
        self.counts.lock().unwrap().sync_states += 1;
    }
}
