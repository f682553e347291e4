//! Test support shared by the spec-behaviour tests: a scriptable driver that
//! logs every callback, gates that hold a probe open, and small builders.
#![allow(dead_code)]

use devlink_core::{Device, Driver, DriverCore, KernelCompat, Module, ProbeError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Shared call log: entries like `probe:platform:s`, `remove:platform:c`.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// Entries starting with `prefix` (e.g. "remove:").
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| e.starts_with(prefix))
            .collect()
    }
}

/// A gate a probe can wait on; `open()` lets every waiter through.
#[derive(Clone, Default)]
pub struct Gate {
    open: Arc<Mutex<bool>>,
    event: Arc<event_listener_shim::Event>,
}

/// Minimal event built on std so tests need no extra crates.
pub mod event_listener_shim {
    use std::sync::{Condvar, Mutex};
    #[derive(Default)]
    pub struct Event {
        pub m: Mutex<()>,
        pub cv: Condvar,
    }
}

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        let _g = self.event.m.lock().unwrap();
        self.event.cv.notify_all();
    }
    pub fn is_open(&self) -> bool {
        *self.open.lock().unwrap()
    }
    /// Resolves once the gate is open (polls cooperatively, so it works
    /// with `futures::executor::block_on` + `join`).
    pub async fn wait(&self) {
        struct Wait<'a>(&'a Gate);
        impl std::future::Future for Wait<'_> {
            type Output = ();
            fn poll(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<()> {
                if self.0.is_open() {
                    std::task::Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            }
        }
        Wait(self).await
    }
}

/// A driver whose probe outcomes are scripted and whose callbacks are logged.
pub struct TestDriver {
    pub name: String,
    pub log: Log,
    /// Outcomes for successive probes; when empty, probes succeed.
    pub script: Mutex<VecDeque<Result<(), ProbeError>>>,
    /// If set, probe waits for this gate before returning.
    pub gate: Mutex<Option<Gate>>,
    pub sync_state: bool,
}

impl TestDriver {
    pub fn new(name: &str, log: &Log) -> Arc<TestDriver> {
        Arc::new(TestDriver {
            name: name.to_string(),
            log: log.clone(),
            script: Mutex::new(VecDeque::new()),
            gate: Mutex::new(None),
            sync_state: false,
        })
    }
    pub fn with_sync_state(name: &str, log: &Log) -> Arc<TestDriver> {
        Arc::new(TestDriver {
            name: name.to_string(),
            log: log.clone(),
            script: Mutex::new(VecDeque::new()),
            gate: Mutex::new(None),
            sync_state: true,
        })
    }
    pub fn fail_next(&self, e: ProbeError) {
        self.script.lock().unwrap().push_back(Err(e));
    }
    pub fn gate_next(&self, g: &Gate) {
        *self.gate.lock().unwrap() = Some(g.clone());
    }
}

#[devlink_core::async_trait]
impl Driver for TestDriver {
    fn name(&self) -> &str {
        &self.name
    }
    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        self.log.push(format!("probe:{dev}"));
        let gate = self.gate.lock().unwrap().take();
        if let Some(g) = gate {
            g.wait().await;
        }
        let r = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
        self.log.push(format!("probe-done:{dev}:{}", r.is_ok()));
        r
    }
    async fn remove(&self, dev: &Device) {
        self.log.push(format!("remove:{dev}"));
    }
    async fn shutdown(&self, dev: &Device) {
        self.log.push(format!("shutdown:{dev}"));
    }
    fn has_sync_state(&self) -> bool {
        self.sync_state
    }
    fn sync_state(&self, dev: &Device) {
        self.log.push(format!("sync_state:{dev}"));
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A core plus a module and a log, with helpers to make platform devices
/// whose `compatible` is their own name (so a driver of that name binds them).
pub struct Bench {
    pub core: DriverCore,
    pub module: Module,
    pub log: Log,
}

impl Bench {
    pub fn new() -> Bench {
        Bench::with_core(DriverCore::new().unwrap())
    }
    pub fn kernel_compat() -> Bench {
        Bench::with_core(
            DriverCore::builder()
                .kernel_compat(KernelCompat::KERNEL)
                .build()
                .unwrap(),
        )
    }
    pub fn with_core(core: DriverCore) -> Bench {
        Bench {
            core,
            module: Module::new("test"),
            log: Log::default(),
        }
    }
    /// An initialised (not registered) platform device named `name`, matched
    /// by a driver named `name`.
    pub fn init(&self, name: &str) -> Device {
        self.core
            .device(name)
            .bus("platform")
            .compatible(name)
            .create()
    }
    /// A registered platform device (no driver registered for it yet, so it
    /// stays unbound until `driver(name)` is called).
    pub fn dev(&self, name: &str) -> Device {
        let d = self.init(name);
        block_on(self.core.device_add(&d)).unwrap();
        d
    }
    /// Registers a logging driver named `name` (binding a matching device).
    pub fn driver(&self, name: &str) -> Arc<TestDriver> {
        let d = TestDriver::new(name, &self.log);
        block_on(self.core.driver_register(&self.module, d.clone())).unwrap();
        d
    }
    /// A registered device bound to a fresh driver of the same name.
    pub fn bound(&self, name: &str) -> (Device, Arc<TestDriver>) {
        let d = self.dev(name);
        let drv = self.driver(name);
        assert!(d.driver_name().is_some(), "{name} should bind");
        (d, drv)
    }
}

// ----- helpers appended for spec_probe_unbind / spec_removal / spec_overlay -----

/// Resolves once `cond()` holds, yielding cooperatively in between (so the
/// other futures of a `join` make progress). Panics naming `what` if the
/// condition is still false after 10 s (a hang guard, not a timing check).
pub async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if cond() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition never became true: {what}"
        );
        yield_now().await;
    }
}

/// Yields once to the executor.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// Yields `n` times (lets every other future of a `join` run as far as it can).
pub async fn settle(n: usize) {
    for _ in 0..n {
        yield_now().await;
    }
}

/// Hook run from a driver callback, with the device.
pub type DevHook = Box<dyn Fn(&Device) + Send + Sync>;

/// A [`TestDriver`] (same log, probe script and probe gate) whose `remove`
/// can also run a hook and be held open by a gate. `remove` logs
/// `remove:<dev>`, then runs the hook, then waits for the gate.
pub struct HookDriver {
    pub base: Arc<TestDriver>,
    pub on_remove: Mutex<Option<DevHook>>,
    pub remove_gate: Mutex<Option<Gate>>,
}

impl HookDriver {
    pub fn new(name: &str, log: &Log) -> Arc<HookDriver> {
        Arc::new(HookDriver {
            base: TestDriver::new(name, log),
            on_remove: Mutex::new(None),
            remove_gate: Mutex::new(None),
        })
    }
    pub fn on_remove(&self, hook: impl Fn(&Device) + Send + Sync + 'static) {
        *self.on_remove.lock().unwrap() = Some(Box::new(hook));
    }
    pub fn gate_remove(&self, g: &Gate) {
        *self.remove_gate.lock().unwrap() = Some(g.clone());
    }
}

#[devlink_core::async_trait]
impl Driver for HookDriver {
    fn name(&self) -> &str {
        &self.base.name
    }
    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        self.base.probe(dev).await
    }
    async fn remove(&self, dev: &Device) {
        self.base.remove(dev).await;
        if let Some(h) = self.on_remove.lock().unwrap().as_ref() {
            h(dev);
        }
        let gate = self.remove_gate.lock().unwrap().take();
        if let Some(g) = gate {
            g.wait().await;
        }
    }
}

impl Bench {
    /// Registers any driver under the bench's module.
    pub fn register(&self, drv: Arc<dyn Driver>) {
        block_on(self.core.driver_register(&self.module, drv)).unwrap();
    }
    /// Registers a [`HookDriver`] named `name`.
    pub fn hook_driver(&self, name: &str) -> Arc<HookDriver> {
        let d = HookDriver::new(name, &self.log);
        self.register(d.clone());
        d
    }
    /// Registers a logging driver with a `sync_state` callback.
    pub fn sync_state_driver(&self, name: &str) -> Arc<TestDriver> {
        let d = TestDriver::with_sync_state(name, &self.log);
        self.register(d.clone());
        d
    }
    /// The sysfs `status` file of `link`, newline included.
    pub fn status(&self, link: &devlink_core::Link) -> String {
        let name = link.name().expect("link exists");
        self.core
            .topology()
            .link_named(&name)
            .and_then(|l| l.sysfs_attribute("status"))
            .expect("link directory exists")
    }
}
