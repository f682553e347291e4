//! [`DriverCore`]: one driver model as a value, with its removal worker.

use crate::device::DeviceBuilder;
use crate::diag::Diagnostics;
use crate::error::{Error, Result};
use crate::fwnode::FwNode;
use crate::graph::{CoreConfig, Graph, KernelCompat};
use crate::removal::{RemovalHold, RemovalQueue};
use crate::{FwDevlinkMode, Module};
use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

std::thread_local! {
    static GRAPH_LOCK_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Panics with a clear message instead of deadlocking when something that
/// needs the graph lock (a device release) runs while this thread holds it.
pub(crate) fn assert_graph_unlocked(what: &str) {
    let depth = GRAPH_LOCK_DEPTH.with(Cell::get);
    assert!(
        depth == 0,
        "devlink-core bug: {what} was dropped while the driver-core lock is held"
    );
}

/// The graph lock held by this thread; tracks the depth for the check above.
pub(crate) struct GraphGuard<'a> {
    guard: MutexGuard<'a, Graph>,
}

impl std::ops::Deref for GraphGuard<'_> {
    type Target = Graph;
    fn deref(&self) -> &Graph {
        &self.guard
    }
}

impl std::ops::DerefMut for GraphGuard<'_> {
    fn deref_mut(&mut self) -> &mut Graph {
        &mut self.guard
    }
}

impl Drop for GraphGuard<'_> {
    fn drop(&mut self) {
        GRAPH_LOCK_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// State shared by the core and every device handle.
pub(crate) struct Shared {
    graph: Mutex<Graph>,
    pub(crate) queue: Arc<RemovalQueue>,
    pub(crate) diag: Arc<Diagnostics>,
    /// Signalled whenever a device lock is released or a probe finishes.
    pub(crate) dd_event: event_listener::Event,
    owner: OnceLock<Weak<CoreOwner>>,
    pub(crate) of_root: FwNode,
}

impl Shared {
    pub(crate) fn graph(&self) -> GraphGuard<'_> {
        let guard = match self.graph.lock() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        GRAPH_LOCK_DEPTH.with(|d| d.set(d.get() + 1));
        GraphGuard { guard }
    }

    pub(crate) fn owner(&self) -> Option<DriverCore> {
        self.owner
            .get()
            .and_then(Weak::upgrade)
            .map(|owner| DriverCore { owner })
    }

    pub(crate) fn notify(&self) {
        self.dd_event.notify(usize::MAX);
    }
}

pub(crate) struct CoreOwner {
    pub(crate) shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for CoreOwner {
    fn drop(&mut self) {
        // Finish queued releases, then stop the worker. Releases queued
        // later (devices outliving the core) run on the deleting thread.
        self.shared.queue.close();
        if let Some(worker) = self.worker.lock().ok().and_then(|mut w| w.take()) {
            if worker.thread().id() != std::thread::current().id() {
                let _ = worker.join();
            }
        }
    }
}

/// Spawns the removal worker. The default uses a named OS thread; tests
/// inject failures through [`DriverCoreBuilder::spawn_worker_with`].
pub type WorkerSpawner =
    Box<dyn FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>>>;

/// Configures and creates a [`DriverCore`].
pub struct DriverCoreBuilder {
    config: CoreConfig,
    diag: Option<Arc<Diagnostics>>,
    spawner: Option<WorkerSpawner>,
}

impl DriverCoreBuilder {
    /// fw_devlink mode (default `rpm`, as the kernel's).
    pub fn fw_devlink(mut self, mode: FwDevlinkMode) -> Self {
        self.config.fw_devlink = mode;
        self
    }

    /// Which kernel quirks to reproduce (default: none; see
    /// [`KernelCompat::KERNEL`] for the kernel's exact behaviour).
    pub fn kernel_compat(mut self, compat: KernelCompat) -> Self {
        self.config.compat = compat;
        self
    }

    /// Where diagnostics go (default: a new log, see
    /// [`DriverCore::diagnostics`]).
    pub fn diagnostics(mut self, diag: Arc<Diagnostics>) -> Self {
        self.diag = Some(diag);
        self
    }

    /// Replaces how the removal worker thread is started.
    pub fn spawn_worker_with(
        mut self,
        spawner: impl FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>> + 'static,
    ) -> Self {
        self.spawner = Some(Box::new(spawner));
        self
    }

    /// Creates the core and starts its removal worker (`devices_init`). If
    /// the worker cannot be started, nothing of the core remains and the
    /// error has kind `OutOfMemory` (spec §5.7).
    pub fn build(self) -> Result<DriverCore> {
        let diag = self.diag.unwrap_or_default();
        let queue = RemovalQueue::new();
        let shared = Arc::new(Shared {
            graph: Mutex::new(Graph::new(
                self.config,
                Arc::clone(&queue),
                Arc::clone(&diag),
            )),
            queue: Arc::clone(&queue),
            diag: Arc::clone(&diag),
            dd_event: event_listener::Event::new(),
            owner: OnceLock::new(),
            of_root: FwNode::new_root(Some(Arc::clone(&diag))),
        });
        let spawner = self.spawner.unwrap_or_else(|| {
            Box::new(|f| {
                std::thread::Builder::new()
                    .name("device_link_wq".into())
                    .spawn(f)
            })
        });
        let worker_queue = Arc::clone(&queue);
        let worker = match spawner(Box::new(move || worker_queue.run_worker())) {
            Ok(w) => w,
            Err(source) => {
                // Unwind: the queue never ran; dropping `shared` frees the
                // graph and the firmware root in reverse order of creation.
                queue.close();
                drop(shared);
                return Err(Error::WorkerSpawn { source });
            }
        };
        let owner = Arc::new(CoreOwner {
            shared,
            worker: Mutex::new(Some(worker)),
        });
        let _ = owner.shared.owner.set(Arc::downgrade(&owner));
        Ok(DriverCore { owner })
    }
}

/// One driver model: devices, drivers, links, firmware nodes and the
/// removal queue. Several can live in one process. Cloning gives another
/// handle to the same model; when the last handle goes, the removal worker
/// finishes what is queued and stops.
///
/// ```
/// use devlink_core::{DriverCore, LinkFlags, LinkState};
/// # futures::executor::block_on(async {
/// let core = DriverCore::new()?;
/// let pmic = core.device("soc:pmic").bus("platform").create();
/// let sensor = core.device("1-0050").bus("i2c").create();
/// core.device_add(&pmic).await?;
/// core.device_add(&sensor).await?;
///
/// // The sensor depends on the PMIC (device_link_add(consumer, supplier, flags)).
/// let link = core.link_add(&sensor, &pmic, LinkFlags::empty())?;
/// assert_eq!(link.name()?, "platform:soc:pmic--i2c:1-0050");
/// assert_eq!(link.state()?, LinkState::Dormant);
///
/// // Deleting the consumer deletes the link; its release runs on the
/// // removal worker, and wait_removal is the barrier.
/// core.device_del(&sensor).await?;
/// core.wait_removal()?;
/// # Ok::<(), devlink_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct DriverCore {
    pub(crate) owner: Arc<CoreOwner>,
}

impl std::fmt::Debug for DriverCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.shared().graph();
        f.debug_struct("DriverCore")
            .field("devices", &g.order.len())
            .field("links", &g.live_links)
            .finish()
    }
}

impl DriverCore {
    /// A core with the default configuration.
    pub fn new() -> Result<DriverCore> {
        DriverCore::builder().build()
    }

    /// A builder for a configured core.
    pub fn builder() -> DriverCoreBuilder {
        DriverCoreBuilder {
            config: CoreConfig::default(),
            diag: None,
            spawner: None,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    /// Starts building a device named `name`.
    pub fn device(&self, name: &str) -> DeviceBuilder {
        DeviceBuilder::new(Arc::clone(self.shared()), name)
    }

    /// A new owner module (convenience for [`Module::new`]).
    pub fn module(&self, name: &str) -> Module {
        Module::new(name)
    }

    /// The root of this core's firmware-node tree (`/`).
    pub fn of_root(&self) -> FwNode {
        self.shared().of_root.clone()
    }

    /// The diagnostics log (kernel WARNs and OF errors).
    pub fn diagnostics(&self) -> &Arc<Diagnostics> {
        &self.shared().diag
    }

    /// The removal queue (`device_link_wq`).
    pub fn removal_queue(&self) -> &Arc<RemovalQueue> {
        &self.shared().queue
    }

    /// `device_link_wait_removal()`: blocks until every link release queued
    /// before the call has finished (spec §5.6). Fails instead of
    /// deadlocking when called from a release job.
    pub fn wait_removal(&self) -> Result<()> {
        self.shared().queue.flush()
    }

    /// The `async` form of [`wait_removal`](Self::wait_removal).
    pub async fn wait_removal_async(&self) -> Result<()> {
        self.shared().queue.flush_async().await
    }

    /// [`wait_removal`](Self::wait_removal) with a limit; returns whether
    /// everything queued before the call finished in time.
    pub fn wait_removal_timeout(&self, timeout: Duration) -> Result<bool> {
        self.shared().queue.flush_timeout(timeout)
    }

    /// Holds link releases back while the guard lives (tests, simulators).
    pub fn hold_removals(&self) -> RemovalHold {
        self.shared().queue.hold()
    }

    /// Number of live links.
    pub fn link_count(&self) -> usize {
        self.shared().graph().live_links
    }

    /// Turns best-effort probing on or off (`wait_for_init_devices_probe`,
    /// spec §4.1 step 3).
    pub fn set_best_effort(&self, on: bool) {
        self.shared().graph().best_effort = on;
    }

    /// The configuration in force.
    pub fn config(&self) -> CoreConfig {
        self.shared().graph().config
    }
}
