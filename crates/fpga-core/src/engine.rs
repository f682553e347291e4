//! The one reprogram engine: the safe sequence, written once, generic over
//! the driver-model contract ([`DriverModel`]) and over how an image gets
//! in ([`ImageLoader`]: the in-process manager for the simulator and the
//! HWICAP, the Xilinx `firmware` attribute or a configfs overlay on a live
//! kernel). Every backend runs this order:
//!
//! 1. **Acquire**: everything the load needs is taken and checked before
//!    any dependent is touched (region held and manager locked, the
//!    cross-process lock, the staged image), so a busy target is refused
//!    (`Busy`) while everything still runs.
//! 2. **Teardown**: the target's users (the dependents of the devices it
//!    guards, see [`users`]) that are bound go down, consumers first.
//! 3. **Retire**: what the old image brought in goes (overlay slots,
//!    last-first).
//! 4. **Wait**: until every link release the teardown queued has run and
//!    the driver model has settled (`wait_removal`).
//! 5. **Leak check**: no user holds more device references than before the
//!    teardown (where the backend counts references).
//! 6. **Load** and verify.
//! 7. **Release** what step 1 took, then **bring-up**: the users that were
//!    bound are bound again, suppliers first.
//!
//! Failure leaves a documented state, carried as data in
//! [`ReprogramError::left_unbound`] (never in the message alone):
//! - before the load touched the FPGA (acquire, teardown, retire, wait,
//!   leak check, or a load that failed before writing anything): the users
//!   that were taken down are bound again; `left_unbound` lists any that
//!   could not be;
//! - once the load touched the FPGA: its state is the manager's (error)
//!   state, and the users stay unbound (binding them to broken or
//!   switched-off logic would be unsafe); `left_unbound` lists them. After
//!   fixing the cause, bind them (`fpgactl bind`, or [`rebind`](devlink_core::drive::rebind)).

use crate::error::FpgaError;
use crate::observe::{Observer, Step};
use crate::state::{MgrState, MgrStatus};
use async_trait::async_trait;
use devlink_core::drive::{duration_ms, rebind_with, DriverModel, Rebound, Settle, Unbound};
use devlink_core::{DevId, Errno, ErrorKind, KindError, Topology};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What a load is aimed at, in the terms of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadTarget {
    /// What the user named (`region0`, `fpga0`).
    pub name: String,
    /// The manager that loads (`fpga0`).
    pub manager: String,
    /// Devices (`bus:name`) whose dependents use the logic being replaced:
    /// a region's parent and class device; a manager's class device and
    /// parent, and those of the regions it programs.
    pub guarded: Vec<String>,
}

/// How an image gets in: the backend half of the engine.
#[async_trait]
pub trait ImageLoader: Send + Sync {
    /// The loader's error.
    type Error: KindError;
    /// What [`acquire`](Self::acquire) took (locks, holds, a staged
    /// file); dropping it releases everything, on every path.
    type Session: Send;

    /// The target.
    fn target(&self) -> &LoadTarget;

    /// Checks every precondition without changing anything: the target
    /// exists and is free, the image is acceptable, the directories the
    /// load needs are usable. A dry run is this.
    async fn check(&self) -> Result<(), Self::Error>;

    /// Takes what the load needs (step 1); refuses a busy target.
    async fn acquire(&self, obs: &dyn Observer) -> Result<Self::Session, Self::Error>;

    /// Removes what the old image brought in (step 3). The devices it
    /// removes are returned, to wait for them to be gone.
    async fn retire(
        &self,
        _session: &mut Self::Session,
        _obs: &dyn Observer,
    ) -> Result<Vec<String>, Self::Error> {
        Ok(Vec::new())
    }

    /// Loads and verifies (step 6).
    async fn load(
        &self,
        session: &mut Self::Session,
        obs: &dyn Observer,
    ) -> Result<Loaded, LoadFailed<Self::Error>>;

    /// The manager's state and status now, for reports (`None` where they
    /// cannot be read).
    async fn state(&self) -> Option<(MgrState, MgrStatus)>;
}

/// One of two loaders, chosen at run time (a region or a manager target,
/// a `firmware` load or an overlay); both report the same error type.
#[derive(Debug)]
pub enum Either<A, B> {
    /// The first.
    Left(A),
    /// The second.
    Right(B),
}

#[async_trait]
impl<A, B> ImageLoader for Either<A, B>
where
    A: ImageLoader,
    B: ImageLoader<Error = A::Error>,
{
    type Error = A::Error;
    type Session = Either<A::Session, B::Session>;

    fn target(&self) -> &LoadTarget {
        match self {
            Either::Left(a) => a.target(),
            Either::Right(b) => b.target(),
        }
    }

    async fn check(&self) -> Result<(), Self::Error> {
        match self {
            Either::Left(a) => a.check().await,
            Either::Right(b) => b.check().await,
        }
    }

    async fn acquire(&self, obs: &dyn Observer) -> Result<Self::Session, Self::Error> {
        Ok(match self {
            Either::Left(a) => Either::Left(a.acquire(obs).await?),
            Either::Right(b) => Either::Right(b.acquire(obs).await?),
        })
    }

    async fn retire(
        &self,
        session: &mut Self::Session,
        obs: &dyn Observer,
    ) -> Result<Vec<String>, Self::Error> {
        match (self, session) {
            (Either::Left(a), Either::Left(s)) => a.retire(s, obs).await,
            (Either::Right(b), Either::Right(s)) => b.retire(s, obs).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn load(
        &self,
        session: &mut Self::Session,
        obs: &dyn Observer,
    ) -> Result<Loaded, LoadFailed<Self::Error>> {
        match (self, session) {
            (Either::Left(a), Either::Left(s)) => a.load(s, obs).await,
            (Either::Right(b), Either::Right(s)) => b.load(s, obs).await,
            // A session is only ever made by the same side's acquire.
            (Either::Left(a), Either::Right(_)) => {
                let mut fresh = a.acquire(obs).await.map_err(|error| LoadFailed {
                    error,
                    touched: false,
                })?;
                a.load(&mut fresh, obs).await
            }
            (Either::Right(b), Either::Left(_)) => {
                let mut fresh = b.acquire(obs).await.map_err(|error| LoadFailed {
                    error,
                    touched: false,
                })?;
                b.load(&mut fresh, obs).await
            }
        }
    }

    async fn state(&self) -> Option<(MgrState, MgrStatus)> {
        match self {
            Either::Left(a) => a.state().await,
            Either::Right(b) => b.state().await,
        }
    }
}

/// A successful load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The manager's state afterwards.
    pub state: MgrState,
    /// Its status bits afterwards.
    pub status: MgrStatus,
    /// Bytes handed to the manager.
    pub bytes: u64,
    /// How long the load took.
    pub elapsed: Duration,
}

/// A failed load.
#[derive(Debug)]
pub struct LoadFailed<E> {
    /// Why.
    pub error: E,
    /// Whether the FPGA may have been changed (a bridge was switched or a
    /// byte written): the users then stay down.
    pub touched: bool,
}

/// How a reprogram runs.
#[derive(Clone)]
pub struct ReprogramOptions {
    /// The bound for each wait (unbind, settle, bind).
    pub timeout: Duration,
    /// Where each change to the outside world is recorded before it is
    /// made, so that a run that dies half-way can be finished by the next
    /// one (`backend_linux_sysfs::FileJournal`). `None`: nothing outlives
    /// the process (the in-process backends).
    pub journal: Option<Arc<dyn Journal>>,
    /// Set (by a signal handler, say) to stop at the next safe point:
    /// before the load, the users taken down so far are brought back and
    /// the run fails with `EINTR`; once the load has begun it finishes,
    /// and so does the bring-up.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl std::fmt::Debug for ReprogramOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReprogramOptions")
            .field("timeout", &self.timeout)
            .field("journal", &self.journal.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl Default for ReprogramOptions {
    fn default() -> Self {
        ReprogramOptions {
            timeout: Duration::from_secs(10),
            journal: None,
            cancel: None,
        }
    }
}

impl ReprogramOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Where the engine records what it is about to change, before it
/// changes it. An error from any call stops the sequence there, as a
/// failure of that stage (what was taken down is brought back).
pub trait Journal: Send + Sync {
    /// The target is held and locked; nothing else has changed yet.
    fn begin(&self, op: &str, target: &LoadTarget) -> std::io::Result<()>;
    /// `device` (bound to `driver`, its sysfs directory at `path`) is
    /// about to be unbound.
    fn unbinding(&self, device: &str, driver: &str, path: &str) -> std::io::Result<()>;
    /// The load is about to touch the FPGA.
    fn loading(&self) -> std::io::Result<()>;
    /// The users are about to be bound again.
    fn bringing_up(&self) -> std::io::Result<()>;
    /// Nothing is left to finish: the sequence ended, either way (a failed
    /// load that left users down says so in its error).
    fn end(&self) -> std::io::Result<()>;
}

/// The step of the sequence that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Stage {
    /// Reading the driver model, or a bound user refused a plain load.
    Check,
    /// Taking the locks and holds, staging the image.
    Acquire,
    /// Taking the users down.
    Teardown,
    /// Removing the old image's overlay slots.
    Retire,
    /// Waiting for removal to finish.
    WaitRemoval,
    /// The leak check.
    LeakCheck,
    /// The load.
    Load,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Check => "the safety check",
            Stage::Acquire => "acquire",
            Stage::Teardown => "teardown",
            Stage::Retire => "removing the old overlays",
            Stage::WaitRemoval => "wait for removal",
            Stage::LeakCheck => "leak check",
            Stage::Load => "program",
        })
    }
}

/// What a successful reprogram did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReprogramReport {
    /// Users unbound, in teardown order (consumers first).
    pub unbound: Vec<Unbound>,
    /// Link releases the teardown queued (all finished before the load),
    /// where the backend counts them.
    pub releases: Option<u64>,
    /// Users bound again, suppliers first, and the ones that were not
    /// (deferred or failed probe, or gone with the old image), with why.
    pub rebound: Rebound,
    /// The load.
    pub loaded: Loaded,
}

impl ReprogramReport {
    /// `bus:name` of each user unbound, in order.
    pub fn unbound_keys(&self) -> Vec<String> {
        self.unbound.iter().map(|u| u.key.clone()).collect()
    }
}

/// Why a reprogram (or a load) stopped, and what it left behind.
#[derive(Debug, thiserror::Error)]
#[error("{op} {target}: {stage} failed: {source}; {}", left_behind(.left_unbound, .state))]
pub struct ReprogramError {
    /// `reprogram` or `program`.
    pub op: &'static str,
    /// What was being programmed.
    pub target: String,
    /// The step that failed.
    pub stage: Stage,
    /// The cause's kind.
    pub kind: ErrorKind,
    /// The cause's errno, where it has one.
    pub errno: Option<Errno>,
    /// The cause.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
    /// Users left unbound (see the module documentation for when).
    pub left_unbound: Vec<Unbound>,
    /// The manager's state afterwards, where it can be read.
    pub state: Option<MgrState>,
    /// The manager's status bits afterwards.
    pub status: MgrStatus,
}

fn left_behind(unbound: &[Unbound], state: &Option<MgrState>) -> String {
    let st = match state {
        Some(s) => format!("the FPGA manager is {s}"),
        None => "the FPGA manager's state cannot be read".to_string(),
    };
    if unbound.is_empty() {
        format!("every dependent is bound as before; {st}")
    } else {
        let keys: Vec<&str> = unbound.iter().map(|u| u.key.as_str()).collect();
        format!("left unbound: {}; {st}", keys.join(", "))
    }
}

impl ReprogramError {
    /// The cause's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The cause's errno, where it has one.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// `bus:name` of each user left unbound.
    pub fn left_unbound_keys(&self) -> Vec<String> {
        self.left_unbound.iter().map(|u| u.key.clone()).collect()
    }
}

impl KindError for ReprogramError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
    fn errno(&self) -> Option<Errno> {
        self.errno
    }
}

/// The FPGA stack itself: its class devices and the devices they hang off.
fn is_fpga_stack(topo: &Topology, id: DevId) -> bool {
    const CLASSES: [&str; 3] = ["fpga_manager", "fpga_bridge", "fpga_region"];
    let is_class = |i: DevId| {
        topo.device(i)
            .class
            .as_deref()
            .is_some_and(|c| CLASSES.contains(&c))
    };
    is_class(id) || topo.children(id).iter().any(|&c| is_class(c))
}

/// The users of `target`: every device that depends on one of its guarded
/// devices (children and consumers through ordering links, transitively),
/// except the FPGA stack itself (the manager, bridge and region class
/// devices and the devices they hang off), in bring-up order (suppliers
/// first). A guarded device that is not in the topology is an error.
pub fn users(topo: &Topology, target: &LoadTarget) -> Result<Vec<DevId>, FpgaError> {
    let mut roots = Vec::new();
    for key in &target.guarded {
        let id = topo.find(key).map_err(|e| FpgaError::Core {
            object: target.name.clone(),
            source: e.into(),
        })?;
        roots.push(id);
    }
    let mut deps = topo.dependents_of(&roots);
    deps.retain(|&d| !is_fpga_stack(topo, d));
    Ok(deps)
}

/// A link of the target's devices or users whose attributes could not be
/// read: their state cannot be trusted, so nothing is taken down.
fn unreadable_links(topo: &Topology, target: &LoadTarget, users: &[DevId]) -> Option<FpgaError> {
    let mut ids: Vec<DevId> = users.to_vec();
    ids.extend(target.guarded.iter().filter_map(|k| topo.find(k).ok()));
    let bad: Vec<String> = topo
        .links()
        .iter()
        .filter(|l| !l.readable())
        .filter(|l| {
            [l.supplier, l.consumer]
                .into_iter()
                .flatten()
                .any(|e| ids.contains(&e))
        })
        .map(|l| {
            let what: Vec<&str> = l.problems.iter().map(|p| p.message.as_str()).collect();
            format!("{} ({})", l.name, what.join("; "))
        })
        .collect();
    (!bad.is_empty()).then(|| {
        FpgaError::invalid(
            &target.name,
            format!(
                "the state of {} link(s) of its users cannot be read, so they cannot be taken down safely: {}",
                bad.len(),
                bad.join(", ")
            ),
        )
    })
}

/// The bound users of `target`, by `bus:name` (what a plain load refuses).
pub fn bound_users(topo: &Topology, target: &LoadTarget) -> Result<Vec<String>, FpgaError> {
    Ok(users(topo, target)?
        .into_iter()
        .filter(|&d| topo.device(d).is_bound())
        .map(|d| topo.device(d).key())
        .collect())
}

struct Failing<'a, L: ImageLoader> {
    op: &'static str,
    loader: &'a L,
}

impl<L: ImageLoader> Failing<'_, L> {
    async fn error(
        &self,
        stage: Stage,
        kind: ErrorKind,
        errno: Option<Errno>,
        source: Box<dyn std::error::Error + Send + Sync>,
        left_unbound: Vec<Unbound>,
    ) -> ReprogramError {
        let (state, status) = match self.loader.state().await {
            Some((s, st)) => (Some(s), st),
            None => (None, MgrStatus::empty()),
        };
        ReprogramError {
            op: self.op,
            target: self.loader.target().name.clone(),
            stage,
            kind,
            errno,
            source,
            left_unbound,
            state,
            status,
        }
    }

    async fn from<E: KindError>(
        &self,
        stage: Stage,
        e: E,
        left_unbound: Vec<Unbound>,
    ) -> ReprogramError {
        let (kind, errno) = (e.kind(), e.errno());
        self.error(stage, kind, errno, Box::new(e), left_unbound)
            .await
    }

    /// The journal could not be written: the change is not made.
    async fn io(&self, stage: Stage, e: std::io::Error, left: Vec<Unbound>) -> ReprogramError {
        let errno = e.raw_os_error().map(Errno);
        let kind = ErrorKind::of_io(&e);
        let e = std::io::Error::new(e.kind(), format!("writing the journal: {e}"));
        self.error(stage, kind, errno, Box::new(e), left).await
    }

    /// A stop was asked for (a signal): `EINTR`.
    async fn interrupted(&self, stage: Stage, left: Vec<Unbound>) -> ReprogramError {
        let e = std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted: stopped at a safe point before the load",
        );
        self.error(stage, ErrorKind::Io, Some(Errno::EINTR), Box::new(e), left)
            .await
    }
}

/// Reprograms `loader`'s target while its users are safely down, on any
/// backend. See the module documentation for the sequence and the
/// failure states.
///
/// ```
/// # use fpga_core::*;
/// # use std::sync::Arc;
/// # futures::executor::block_on(async {
/// # let core = devlink_core::DriverCore::new().unwrap();
/// # let parent = core.device("soc:fpga").bus("platform").create();
/// # core.device_add(&parent).await.unwrap();
/// # let fpga = Fpga::new(&core);
/// # let mut ops = MockFpgaManagerOps::new();
/// # ops.expect_caps().return_const(MgrCaps::WRITE);
/// # ops.expect_initial_header_size().return_const(0usize);
/// # ops.expect_skip_header().return_const(false);
/// # ops.expect_write().returning(|_, _| Ok(()));
/// # let reg = fpga.registrar_builtin();
/// # reg.register_manager(&parent, ManagerInfo::new("m", Arc::new(ops))).await.unwrap();
/// let region = reg
///     .register_region(&parent, Some(RegionInfo::new(fpga.mgr_get(&parent).unwrap())))
///     .await
///     .unwrap();
/// let loader = RegionLoader::new(&region, ImageInfo::from_buffer(vec![0u8; 64]));
/// let report = reprogram(&core, &loader, &ReprogramOptions::default(), &|step: &Step| {
///     println!("{step:?}");
/// })
/// .await
/// .unwrap();
/// assert_eq!(report.loaded.state, MgrState::Operating);
/// # });
/// ```
pub async fn reprogram<M, L>(
    model: &M,
    loader: &L,
    opts: &ReprogramOptions,
    obs: &dyn Observer,
) -> Result<ReprogramReport, ReprogramError>
where
    M: DriverModel + ?Sized,
    L: ImageLoader,
{
    let fail = Failing {
        op: "reprogram",
        loader,
    };
    // 1. Refuse a busy target before touching anything.
    let mut session = match loader.acquire(obs).await {
        Ok(s) => s,
        Err(e) => return Err(fail.from(Stage::Acquire, e, vec![]).await),
    };
    let journal = opts.journal.as_deref();
    // Every failure before the load: release, bring back what went down,
    // close the journal, report.
    macro_rules! abort {
        ($stage:expr, $err:expr, $unbound:expr) => {{
            drop(session);
            obs.step(&Step::Released);
            let left = if $unbound.is_empty() {
                Vec::new()
            } else {
                if let Some(j) = journal {
                    let _ = j.bringing_up();
                }
                bring_up(model, &$unbound, obs).await.not_bound_units()
            };
            if let Some(j) = journal {
                if left.is_empty() {
                    let _ = j.end();
                }
            }
            return Err($err($stage, left).await);
        }};
    }
    if let Some(j) = journal {
        if let Err(e) = j.begin("reprogram", loader.target()) {
            let none: Vec<Unbound> = Vec::new();
            abort!(Stage::Acquire, |st, l| fail.io(st, e, l), none);
        }
    }
    let topo = match model.topology().await {
        Ok(t) => t,
        Err(e) => {
            let none: Vec<Unbound> = Vec::new();
            abort!(Stage::Check, |st, l| fail.from(st, e, l), none);
        }
    };
    let users = match users(&topo, loader.target()) {
        Ok(u) => u,
        Err(e) => {
            let none: Vec<Unbound> = Vec::new();
            abort!(Stage::Check, |st, l| fail.from(st, e, l), none);
        }
    };
    if let Some(why) = unreadable_links(&topo, loader.target(), &users) {
        let none: Vec<Unbound> = Vec::new();
        abort!(Stage::Check, |st, l| fail.from(st, why, l), none);
    }
    let bound: Vec<DevId> = users
        .iter()
        .copied()
        .filter(|&d| topo.device(d).is_bound())
        .collect();
    let mark = model.removal_mark();

    // 2. Teardown, consumers first; each unbind journalled before it is
    // made, and a stop asked for honoured between two.
    let mut unbound: Vec<Unbound> = Vec::new();
    for &d in bound.iter().rev() {
        if opts.cancelled() {
            abort!(Stage::Teardown, |st, l| fail.interrupted(st, l), unbound);
        }
        let dev = topo.device(d);
        let key = dev.key();
        if let Some(j) = journal {
            let driver = dev.driver.as_deref().unwrap_or("");
            if let Err(e) = j.unbinding(&key, driver, &dev.path) {
                abort!(Stage::Teardown, |st, l| fail.io(st, e, l), unbound);
            }
        }
        obs.step(&Step::Unbind {
            device: key.clone(),
        });
        match model.unbind_one(&key).await {
            Ok(u) => unbound.extend(u),
            Err(e) => {
                abort!(Stage::Teardown, |st, l| fail.from(st, e, l), unbound);
            }
        }
    }

    // 3. What the old image brought in goes.
    let gone = match loader.retire(&mut session, obs).await {
        Ok(g) => g,
        Err(e) => {
            abort!(Stage::Retire, |st, l| fail.from(st, e, l), unbound);
        }
    };

    // 4. The barrier.
    let settle = Settle {
        unbound: unbound.iter().map(|u| u.key.clone()).collect(),
        gone,
        since: mark,
    };
    let waited = match model.wait_removal(&settle, opts.timeout).await {
        Ok(w) => w,
        Err(e) => {
            abort!(Stage::WaitRemoval, |st, l| fail.from(st, e, l), unbound);
        }
    };
    obs.step(&Step::WaitRemoval {
        releases: waited.releases,
        waited_ms: duration_ms(waited.waited),
    });

    // 5. No user may hold more references than before the teardown,
    // less one for each of its links the teardown deleted (a link holds
    // a reference on both its ends until its release has run). A backend
    // that shows no reference counts (a kernel's sysfs) has nothing to
    // compare: the second read, the costliest step of a live reprogram,
    // is not made.
    let counted = users.iter().any(|&d| topo.device(d).refcount.is_some());
    let after = if counted {
        match model.topology().await {
            Ok(t) => t,
            Err(e) => {
                abort!(Stage::LeakCheck, |st, l| fail.from(st, e, l), unbound);
            }
        }
    } else {
        // Not read: every user below is skipped for want of a count.
        Topology::default()
    };
    let mut compared = false;
    for &d in &users {
        let dev = topo.device(d);
        let key = dev.key();
        let now = after.get(&key).map(|i| after.device(i));
        let (Some(before), Some(now_refs)) = (dev.refcount, now.and_then(|n| n.refcount)) else {
            continue;
        };
        compared = true;
        let released = topo
            .links()
            .iter()
            .filter(|l| l.supplier == Some(d) || l.consumer == Some(d))
            .filter(|l| after.link_named(&l.name).is_none())
            .count();
        let expected = before.saturating_sub(released);
        if now_refs > expected {
            let why = FpgaError::invalid(
                &key,
                format!(
                    "holds {now_refs} references after its teardown where {expected} were expected ({before} before, {released} released with its deleted links): a driver or release kept a reference; not programming"
                ),
            );
            abort!(Stage::LeakCheck, |st, l| fail.from(st, why, l), unbound);
        }
    }
    obs.step(&Step::LeakCheck {
        devices: users.len(),
        references: compared,
    });

    // The last safe point: from here on the run finishes.
    if opts.cancelled() {
        abort!(Stage::LeakCheck, |st, l| fail.interrupted(st, l), unbound);
    }
    if let Some(j) = journal {
        if let Err(e) = j.loading() {
            abort!(Stage::Load, |st, l| fail.io(st, e, l), unbound);
        }
    }

    // 6. Load.
    let loaded = loader.load(&mut session, obs).await;
    drop(session);
    obs.step(&Step::Released);
    let loaded = match loaded {
        Ok(l) => l,
        Err(LoadFailed { error, touched }) => {
            let left = if touched {
                unbound
            } else {
                if let Some(j) = journal {
                    let _ = j.bringing_up();
                }
                bring_up(model, &unbound, obs).await.not_bound_units()
            };
            if let Some(j) = journal {
                let _ = j.end();
            }
            return Err(fail.from(Stage::Load, error, left).await);
        }
    };

    // 7. Bring-up, suppliers first.
    if let Some(j) = journal {
        let _ = j.bringing_up();
    }
    let rebound = bring_up(model, &unbound, obs).await;
    if let Some(j) = journal {
        if rebound.not_bound.is_empty() {
            let _ = j.end();
        }
    }
    Ok(ReprogramReport {
        releases: waited.releases,
        unbound,
        rebound,
        loaded,
    })
}

/// A plain load of `loader`'s target: refused (`Busy`, nothing changed)
/// while any of its users is bound, unless `force`; then acquire, load,
/// release. No dependent is touched.
pub async fn program<M, L>(
    model: &M,
    loader: &L,
    force: bool,
    obs: &dyn Observer,
) -> Result<Loaded, ReprogramError>
where
    M: DriverModel + ?Sized,
    L: ImageLoader,
{
    let fail = Failing {
        op: "program",
        loader,
    };
    if !force {
        let topo = match model.topology().await {
            Ok(t) => t,
            Err(e) => return Err(fail.from(Stage::Check, e, vec![]).await),
        };
        let bound = match bound_users(&topo, loader.target()) {
            Ok(b) => b,
            Err(e) => return Err(fail.from(Stage::Check, e, vec![]).await),
        };
        if !bound.is_empty() {
            let why = FpgaError::busy(
                &loader.target().name,
                format!(
                    "{} bound user(s) of the logic being replaced: {}",
                    bound.len(),
                    bound.join(", ")
                ),
            );
            return Err(fail.from(Stage::Check, why, vec![]).await);
        }
    }
    let mut session = match loader.acquire(obs).await {
        Ok(s) => s,
        Err(e) => return Err(fail.from(Stage::Acquire, e, vec![]).await),
    };
    let loaded = loader.load(&mut session, obs).await;
    drop(session);
    obs.step(&Step::Released);
    match loaded {
        Ok(l) => Ok(l),
        Err(LoadFailed { error, .. }) => Err(fail.from(Stage::Load, error, vec![]).await),
    }
}

async fn bring_up<M: DriverModel + ?Sized>(
    model: &M,
    unbound: &[Unbound],
    obs: &dyn Observer,
) -> Rebound {
    rebind_with(model, unbound, &|u, why| {
        obs.step(&Step::Bind {
            device: u.key.clone(),
            bound: why.is_none(),
            why: why.map(str::to_string),
        })
    })
    .await
}

trait NotBound {
    fn not_bound_units(self) -> Vec<Unbound>;
}

impl NotBound for Rebound {
    fn not_bound_units(self) -> Vec<Unbound> {
        self.not_bound.into_iter().map(|(u, _)| u).collect()
    }
}
