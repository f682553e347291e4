//! Atomics and wake-ups of the ops guard, swapped for `loom`'s under
//! `--cfg loom` so the §4.3 protocol can be model-checked
//! (`tests/loom_guard.rs`). Under loom only the guard is compiled, and a
//! waiter yields to loom's scheduler instead of parking.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Wakes async waiters when the guard's word or claim changes.
pub(crate) struct Event {
    #[cfg(not(loom))]
    inner: event_listener::Event,
}

impl Event {
    pub fn new() -> Event {
        Event {
            #[cfg(not(loom))]
            inner: event_listener::Event::new(),
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        #[cfg(not(loom))]
        self.inner.notify(usize::MAX);
    }

    /// Returns once `ready()` holds. A notification after the state change
    /// that makes `ready()` true is required (not under loom, which
    /// re-checks after yielding).
    pub async fn wait_until(&self, ready: impl Fn() -> bool) {
        loop {
            #[cfg(not(loom))]
            let listener = self.inner.listen();
            if ready() {
                return;
            }
            #[cfg(not(loom))]
            listener.await;
            #[cfg(loom)]
            loom::thread::yield_now();
        }
    }
}
