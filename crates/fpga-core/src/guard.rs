//! The ops guard of spec `fpga.md` §4.3, shared by managers, bridges and
//! regions: one atomic word holding an `UNREGISTERED` bit and the number of
//! backend ops in flight, plus the owner.
//!
//! - `pin` (the second half of every `get`): fail with `ENODEV` if
//!   unregistered (the owner is not touched), else pin the owner or fail
//!   with `ENODEV`. A `get` that read the word before `unregister` set the
//!   bit is ordered before the unregister: it gets a handle whose ops fail
//!   from then on, exactly like a holder that got it earlier. The owner
//!   cannot be pinned once its unload has begun (`Module::try_pin` and
//!   `begin_unload` are one compare-and-swap each), so no pin is ever
//!   taken on a going owner.
//! - `enter` (before every backend op): a compare-and-swap that fails with
//!   `ENODEV` once the bit is set, else counts the op in flight until the
//!   returned ticket drops.
//! - `unregister`: sets the bit, then waits until no op is in flight. It
//!   never waits for a *holder*. So no backend op starts after the bit is
//!   set, and none is running when `unregister` returns.

use crate::error::{FpgaError, Result};
use crate::sync::{AtomicU8, AtomicUsize, Event, Ordering};
use devlink_core::{Module, PinToken};

const UNREGISTERED: usize = 1 << (usize::BITS - 1);
const INFLIGHT: usize = !UNREGISTERED;
const CLAIM_NONE: u8 = 0;
const CLAIM_RUNNING: u8 = 1;
const CLAIM_DONE: u8 = 2;

/// The ops guard of one manager, bridge or region (see the module docs).
pub struct OpsGuard {
    word: AtomicUsize,
    /// Unregister progress: `CLAIM_NONE`, `CLAIM_RUNNING`, `CLAIM_DONE`.
    claim: AtomicU8,
    event: Event,
    owner: Option<Module>,
    /// The owner's exit hook that unregisters this object.
    exit_hook: std::sync::Mutex<Option<u64>>,
}

/// One backend op in flight; dropping it ends the op.
pub struct OpTicket<'a> {
    guard: &'a OpsGuard,
}

impl Drop for OpTicket<'_> {
    fn drop(&mut self) {
        let before = self.guard.word.fetch_sub(1, Ordering::AcqRel);
        if before == UNREGISTERED | 1 {
            // The last op in flight after unregister began: wake it.
            self.guard.event.notify_all();
        }
    }
}

impl OpsGuard {
    /// A registered object's guard, owned by `owner` (`None`: built in).
    pub fn new(owner: Option<Module>) -> OpsGuard {
        OpsGuard {
            word: AtomicUsize::new(0),
            claim: AtomicU8::new(CLAIM_NONE),
            event: Event::new(),
            owner,
            exit_hook: std::sync::Mutex::new(None),
        }
    }

    /// Whether unregister has begun.
    pub fn is_unregistered(&self) -> bool {
        self.word.load(Ordering::Acquire) & UNREGISTERED != 0
    }

    /// Pins the owner unless the object is unregistered. The pin is a
    /// token (the guard keeps the owner), given back with [`Self::unpin`].
    pub fn pin(&self, object: &str) -> Result<Option<PinToken>> {
        if self.is_unregistered() {
            return Err(FpgaError::nodev(object, "unregistered"));
        }
        match &self.owner {
            None => Ok(None),
            Some(m) => m.try_pin().map(Some).map_err(|_| {
                FpgaError::nodev(
                    object,
                    format!(
                        "owner module {} cannot be pinned ({:?})",
                        m.name(),
                        m.state()
                    ),
                )
            }),
        }
    }

    /// Gives back a pin from [`Self::pin`] (`module_put`).
    pub fn unpin(&self, pin: Option<PinToken>) {
        if let (Some(token), Some(m)) = (pin, &self.owner) {
            m.unpin(token);
        }
    }

    /// Admits one backend op.
    pub fn enter(&self, object: &str) -> Result<OpTicket<'_>> {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            if w & UNREGISTERED != 0 {
                return Err(FpgaError::nodev(
                    object,
                    "unregistered; its backend ops are no longer called",
                ));
            }
            match self
                .word
                .compare_exchange_weak(w, w + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(OpTicket { guard: self }),
                Err(actual) => w = actual,
            }
        }
    }

    /// Claims the whole unregister sequence (remove hook, flag, removal):
    /// true for the first caller only. An explicit unregister racing the
    /// owner's unload must not run the remove hook twice, and the loser
    /// must not return before the winner is done ([`Self::wait_done`]).
    pub fn claim(&self) -> bool {
        self.claim
            .compare_exchange(
                CLAIM_NONE,
                CLAIM_RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Ends the claimed unregister sequence and wakes [`Self::wait_done`].
    pub fn done(&self) {
        self.claim.store(CLAIM_DONE, Ordering::Release);
        self.event.notify_all();
    }

    /// Waits until the claimed unregister sequence has ended.
    pub async fn wait_done(&self) {
        self.event
            .wait_until(|| self.claim.load(Ordering::Acquire) == CLAIM_DONE)
            .await;
    }

    /// Remembers the owner's exit hook for this object.
    pub fn set_exit_hook(&self, id: Option<u64>) {
        *self.exit_hook.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }

    /// Once the unregister sequence is done, the owner's unload no longer
    /// needs to run it. (Forgetting the hook earlier would let a racing
    /// unload mark the owner gone while the unregister still runs.)
    fn forget_exit_hook(&self) {
        let hook = self
            .exit_hook
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let (Some(hook), Some(owner)) = (hook, &self.owner) {
            owner.remove_exit_hook(hook);
        }
    }

    /// The whole unregister sequence of spec §4.3, run once however many
    /// callers race (an explicit unregister and the owner's unload): the
    /// remove hook (through the guard), then the flag and the wait for ops
    /// in flight, then `detach` (out of lookups and sysfs). A caller that
    /// loses the race returns only once the winner is done.
    pub async fn unregister_once<R, D>(&self, object: &str, remove: Option<R>, detach: D)
    where
        R: std::future::Future<Output = ()>,
        D: std::future::Future<Output = ()>,
    {
        if !self.claim() {
            self.wait_done().await;
            return;
        }
        if let Some(remove) = remove {
            if let Ok(_t) = self.enter(object) {
                remove.await;
            }
        }
        self.unregister().await;
        detach.await;
        self.done();
        // Only now: an owner unload racing an explicit unregister runs the
        // hook, loses the claim and waits, so it cannot finish first. (On
        // the unload path the hook is already taken; this does nothing.)
        self.forget_exit_hook();
    }

    /// Marks the object unregistered and waits for ops in flight. Returns
    /// false if it already was.
    pub async fn unregister(&self) -> bool {
        if self.word.fetch_or(UNREGISTERED, Ordering::AcqRel) & UNREGISTERED != 0 {
            return false;
        }
        self.event
            .wait_until(|| self.word.load(Ordering::Acquire) & INFLIGHT == 0)
            .await;
        true
    }
}
