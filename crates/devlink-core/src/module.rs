//! Owner modules: the user-space counterpart of `struct module` as the
//! driver model and the FPGA subsystem use it (`try_module_get`,
//! `module_put`, `delete_module`), with the states of spec `fpga.md` §4.3.
//!
//! A [`Module`] is `Live` until [`Module::unload`] succeeds, `Going` while its
//! exit hooks run (they unregister whatever the module registered), then
//! `Gone`. [`Module::try_get`] pins a `Live` module; the pin is released when
//! the returned [`ModulePin`] is dropped. Unloading a pinned module fails
//! with `Busy` and changes nothing.
//!
//! The pin count and the state share one atomic word, so "pin if live" and
//! "go if unpinned" are each a single compare-and-swap: a `try_get` racing an
//! `unload` either pins a live module (and the unload fails with `Busy`) or
//! fails (and the unload proceeds). There is no window in which a pin is
//! taken on a going module.

use crate::error::{Error, Result};
use crate::sync::{lock, Arc, AtomicUsize, Mutex, Ordering};
use std::future::Future;
use std::pin::Pin;

const GOING: usize = 1 << (usize::BITS - 1);
const GONE: usize = 1 << (usize::BITS - 2);
const COUNT: usize = !(GOING | GONE);

/// A future returned by an exit hook.
pub type ExitFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
/// Something a module's unload must undo (a driver to unregister, a manager
/// to unregister, ...).
pub type ExitHook = Box<dyn FnOnce() -> ExitFuture + Send + 'static>;

/// The state of an owner module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleState {
    /// `MODULE_STATE_LIVE`: pins may be taken.
    Live,
    /// `MODULE_STATE_GOING`: unloading; new pins fail.
    Going,
    /// Unloaded; new pins fail. (The kernel frees the module here; this
    /// object stays valid for everyone still naming it.)
    Gone,
}

impl ModuleState {
    fn name(self) -> &'static str {
        match self {
            ModuleState::Live => "live",
            ModuleState::Going => "going",
            ModuleState::Gone => "gone",
        }
    }
}

struct ModuleInner {
    name: String,
    /// Unique in the process, never reused: what a [`PinToken`] names (an
    /// address could be reused by a later module).
    id: u64,
    word: AtomicUsize,
    exits: Mutex<(u64, Vec<(u64, ExitHook)>)>,
}

/// An owner module. Cloning gives another name for the same module.
///
/// ```
/// use devlink_core::{Module, ModuleState, ErrorKind};
/// let m = Module::new("fpga_sim");
/// let pin = m.try_get().unwrap();
/// assert_eq!(m.pins(), 1);
/// // While pinned, the module cannot go away.
/// let err = futures::executor::block_on(m.unload()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Busy);
/// drop(pin);
/// futures::executor::block_on(m.unload()).unwrap();
/// assert_eq!(m.state(), ModuleState::Gone);
/// assert!(m.try_get().is_err());
/// ```
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("pins", &self.pins())
            .finish()
    }
}

impl PartialEq for Module {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
impl Eq for Module {}

impl Module {
    /// A new, live module with no pins.
    pub fn new(name: impl Into<String>) -> Module {
        Module {
            inner: Arc::new(ModuleInner {
                name: name.into(),
                id: {
                    // Not a modelled atomic: an id counter, under loom too.
                    static NEXT: std::sync::atomic::AtomicU64 =
                        std::sync::atomic::AtomicU64::new(1);
                    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                },
                word: AtomicUsize::new(0),
                exits: Mutex::new((0, Vec::new())),
            }),
        }
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current state.
    pub fn state(&self) -> ModuleState {
        let w = self.inner.word.load(Ordering::Acquire);
        if w & GONE != 0 {
            ModuleState::Gone
        } else if w & GOING != 0 {
            ModuleState::Going
        } else {
            ModuleState::Live
        }
    }

    /// Pins currently held.
    pub fn pins(&self) -> usize {
        self.inner.word.load(Ordering::Acquire) & COUNT
    }

    /// `try_module_get`: pins the module if it is live.
    pub fn try_get(&self) -> Result<ModulePin> {
        self.count_pin().map(|()| ModulePin {
            module: self.clone(),
        })
    }

    /// The pin count's one compare-and-swap: up by one unless the module
    /// is going or gone.
    fn count_pin(&self) -> Result<()> {
        let mut w = self.inner.word.load(Ordering::Acquire);
        loop {
            if w & (GOING | GONE) != 0 {
                return Err(self.not_live());
            }
            match self.inner.word.compare_exchange_weak(
                w,
                w + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => w = actual,
            }
        }
    }

    /// `try_module_get` for a holder that keeps the `Module` itself (an
    /// FPGA manager's owner): the pin is a token with no handle in it, so
    /// taking and giving it back is one atomic operation each, where a
    /// [`ModulePin`] also counts a reference to the handle. Give it back
    /// with [`unpin`](Self::unpin); a token that is dropped instead leaves
    /// the module pinned, as a leaked `ModulePin` would.
    ///
    /// ```
    /// use devlink_core::{ErrorKind, Module};
    /// let (m, other) = (Module::new("lowlevel"), Module::new("other"));
    /// let token = m.try_pin().unwrap();
    /// assert_eq!(m.pins(), 1);
    /// assert_eq!(m.begin_unload().unwrap_err().kind(), ErrorKind::Busy);
    /// other.unpin(other.try_pin().unwrap());
    /// m.unpin(token);
    /// assert_eq!((m.pins(), other.pins()), (0, 0));
    /// m.begin_unload().unwrap();
    /// assert!(m.try_pin().is_err());
    /// // A token given to the wrong module changes nothing.
    /// let stray = other.try_pin().unwrap();
    /// m.unpin(stray);
    /// assert_eq!(other.pins(), 1);
    /// ```
    pub fn try_pin(&self) -> Result<PinToken> {
        self.count_pin().map(|()| PinToken { module: self.key() })
    }

    /// `module_put` of a pin from [`try_pin`](Self::try_pin). A token of
    /// another module is not this module's to release: it changes nothing
    /// (that module stays pinned).
    pub fn unpin(&self, token: PinToken) {
        if token.module == self.key() {
            self.inner.word.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn key(&self) -> u64 {
        self.inner.id
    }

    fn not_live(&self) -> Error {
        Error::ModuleNotLive {
            module: self.inner.name.clone(),
            state: self.state().name(),
        }
    }

    /// Registers something the module's unload must undo. Hooks run in
    /// reverse order of registration. The returned id removes the hook
    /// with [`remove_exit_hook`](Self::remove_exit_hook) when the object is
    /// unregistered earlier by other means.
    pub fn add_exit_hook(&self, hook: ExitHook) -> u64 {
        let mut ex = lock(&self.inner.exits);
        ex.0 += 1;
        let id = ex.0;
        ex.1.push((id, hook));
        id
    }

    /// Removes an exit hook; returns whether it was still there.
    pub fn remove_exit_hook(&self, id: u64) -> bool {
        let mut ex = lock(&self.inner.exits);
        let before = ex.1.len();
        ex.1.retain(|(i, _)| *i != id);
        ex.1.len() != before
    }

    /// The first half of unloading: `Live` with no pins becomes `Going` in
    /// one atomic step. Fails with `Busy` (pinned) or `NoDevice` (not live)
    /// and then changes nothing.
    pub fn begin_unload(&self) -> Result<()> {
        match self
            .inner
            .word
            .compare_exchange(0, GOING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            Err(w) if w & (GOING | GONE) != 0 => Err(self.not_live()),
            Err(w) => Err(Error::ModuleBusy {
                module: self.inner.name.clone(),
                pins: w & COUNT,
            }),
        }
    }

    /// Takes the exit hooks registered so far, newest first.
    fn take_exit_hooks(&self) -> Vec<ExitHook> {
        let mut ex = lock(&self.inner.exits);
        ex.1.drain(..).rev().map(|(_, h)| h).collect()
    }

    /// Marks a `Going` module `Gone` (the second half of unloading).
    fn finish_unload(&self) {
        self.inner.word.fetch_or(GONE, Ordering::AcqRel);
    }

    /// `delete_module`: refuses with `Busy` while pinned; otherwise marks
    /// the module `Going`, runs its exit hooks (newest first) and marks it
    /// `Gone`.
    pub async fn unload(&self) -> Result<()> {
        self.begin_unload()?;
        loop {
            // A hook may register more hooks (rare); run until none are left.
            let hooks = self.take_exit_hooks();
            if hooks.is_empty() {
                break;
            }
            for hook in hooks {
                hook().await;
            }
        }
        self.finish_unload();
        Ok(())
    }
}

/// A pin from [`Module::try_pin`], given back with [`Module::unpin`].
#[must_use = "a pin token is given back with Module::unpin; dropped, the module stays pinned"]
#[derive(Debug)]
pub struct PinToken {
    module: u64,
}

/// A pin on a live module (`try_module_get`); dropping it is `module_put`.
#[must_use = "dropping the pin releases the module at once"]
pub struct ModulePin {
    module: Module,
}

impl ModulePin {
    /// The pinned module.
    pub fn module(&self) -> &Module {
        &self.module
    }
}

impl std::fmt::Debug for ModulePin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModulePin({})", self.module.name())
    }
}

impl Drop for ModulePin {
    fn drop(&mut self) {
        self.module.inner.word.fetch_sub(1, Ordering::AcqRel);
    }
}
