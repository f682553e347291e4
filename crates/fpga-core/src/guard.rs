//! The ops guard of spec `fpga.md` §4.3, shared by managers, bridges and
//! regions: a short-held mutex over `{unregistered}` plus the owner, and a
//! count of backend ops in flight.
//!
//! - `pin` (the second half of every `get`): under the guard, fail with
//!   `ENODEV` if unregistered (the owner is not touched), else pin the owner
//!   or fail with `ENODEV`.
//! - `enter` (before every backend op): fail with `ENODEV` if unregistered,
//!   else count the op in flight until the returned ticket drops.
//! - `unregister`: set the flag, then wait until no op is in flight. It
//!   never waits for a *holder*: handles stay valid, their ops just fail.
//!   So no backend op starts after `unregister` has set the flag, and none
//!   is running when it returns.

use crate::error::{FpgaError, Result};
use crate::fpga::lock;
use devlink_core::{Module, ModulePin};
use std::sync::Mutex;

#[derive(Default)]
struct GuardState {
    unregistered: bool,
    inflight: usize,
}

pub(crate) struct OpsGuard {
    state: Mutex<GuardState>,
    event: event_listener::Event,
    owner: Option<Module>,
}

pub(crate) struct OpTicket<'a> {
    guard: &'a OpsGuard,
}

impl Drop for OpTicket<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.guard.state);
        st.inflight -= 1;
        let idle = st.inflight == 0;
        drop(st);
        if idle {
            self.guard.event.notify(usize::MAX);
        }
    }
}

impl OpsGuard {
    pub fn new(owner: Option<Module>) -> OpsGuard {
        OpsGuard {
            state: Mutex::new(GuardState::default()),
            event: event_listener::Event::new(),
            owner,
        }
    }

    pub fn owner(&self) -> Option<&Module> {
        self.owner.as_ref()
    }

    pub fn is_unregistered(&self) -> bool {
        lock(&self.state).unregistered
    }

    /// Pins the owner unless the object is unregistered.
    pub fn pin(&self, object: &str) -> Result<Option<ModulePin>> {
        let st = lock(&self.state);
        if st.unregistered {
            return Err(FpgaError::nodev(object, "unregistered"));
        }
        let pin = match &self.owner {
            None => None,
            Some(m) => Some(m.try_get().map_err(|_| {
                FpgaError::nodev(
                    object,
                    format!(
                        "owner module {} cannot be pinned ({:?})",
                        m.name(),
                        m.state()
                    ),
                )
            })?),
        };
        drop(st);
        Ok(pin)
    }

    /// Admits one backend op.
    pub fn enter(&self, object: &str) -> Result<OpTicket<'_>> {
        let mut st = lock(&self.state);
        if st.unregistered {
            return Err(FpgaError::nodev(
                object,
                "unregistered; its backend ops are no longer called",
            ));
        }
        st.inflight += 1;
        Ok(OpTicket { guard: self })
    }

    /// Marks the object unregistered and waits for ops in flight. Returns
    /// false if it already was.
    pub async fn unregister(&self) -> bool {
        {
            let mut st = lock(&self.state);
            if st.unregistered {
                return false;
            }
            st.unregistered = true;
        }
        loop {
            let listener = {
                let st = lock(&self.state);
                if st.inflight == 0 {
                    return true;
                }
                self.event.listen()
            };
            listener.await;
        }
    }
}
