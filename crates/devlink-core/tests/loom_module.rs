//! `loom` model of the owner protocol (spec fpga.md §4.3): a pin taken
//! concurrently with an unload either pins a live module (and the unload
//! fails with `Busy`) or fails (and the unload proceeds); no pin is ever
//! held on a going module, and no pin is lost.
#![cfg(loom)]

use devlink_core::{ErrorKind, Module, ModuleState};
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

/// One pin (taken and given back by `hold`, which says whether it got
/// one) racing an unload: it pins a live module and the unload fails
/// with `Busy`, or it fails and the unload proceeds; no pin is lost.
fn pin_racing_unload(hold: fn(&Module) -> bool) {
    loom::model(move || {
        let m = Module::new("owner");
        let pinned = Arc::new(AtomicBool::new(false));
        let getter = {
            let (m, pinned) = (m.clone(), Arc::clone(&pinned));
            thread::spawn(move || {
                if hold(&m) {
                    pinned.store(true, SeqCst);
                }
            })
        };
        let unloaded = match m.begin_unload() {
            Ok(()) => true,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Busy);
                false
            }
        };
        getter.join().unwrap();
        assert_eq!(m.pins(), 0, "a pin was lost");
        if unloaded {
            assert_eq!(m.state(), ModuleState::Going);
            assert!(!hold(&m), "pinned a going module");
        } else {
            assert!(pinned.load(SeqCst), "unload refused without a pin");
        }
    });
}

#[test]
fn get_racing_unload_pins_live_or_fails() {
    pin_racing_unload(|m| match m.try_get() {
        Ok(pin) => {
            // While we hold the pin the module cannot be going.
            assert_eq!(m.state(), ModuleState::Live);
            drop(pin);
            true
        }
        Err(_) => false,
    });
}

#[test]
fn token_pin_racing_unload_pins_live_or_fails() {
    pin_racing_unload(|m| match m.try_pin() {
        Ok(token) => {
            assert_eq!(m.state(), ModuleState::Live);
            m.unpin(token);
            true
        }
        Err(_) => false,
    });
}

#[test]
fn two_getters_and_an_unload() {
    loom::model(|| {
        let m = Module::new("owner");
        let spawn_getter = |m: Module| {
            thread::spawn(move || {
                if let Ok(_pin) = m.try_get() {
                    assert_eq!(m.state(), ModuleState::Live);
                }
            })
        };
        let a = spawn_getter(m.clone());
        let b = spawn_getter(m.clone());
        let _ = m.begin_unload();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(m.pins(), 0);
    });
}
