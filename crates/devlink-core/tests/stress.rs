//! Stress: several threads add, delete and remove links and wait for
//! removal at once, on one driver core. At the end every device's reference
//! count is back where it started, every link is gone and every release
//! ran. Not timed: it asserts state, never speed.

mod common;
use common::block_on;
use devlink_core::{DriverCore, LinkFlags};
use std::sync::Arc;

/// SplitMix64: a tiny deterministic generator so each thread's sequence is
/// reproducible from its seed. (backend-sim has the same generator behind
/// `RandomDag`; devlink-core must not depend on a backend, so this test
/// keeps its own eight lines.)
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn concurrent_add_delete_wait_leaves_every_count_as_it_was() {
    const DEVICES: usize = 24;
    const THREADS: usize = 4;
    const OPS: usize = 25_000;
    let core = DriverCore::new().unwrap();
    let devices: Arc<Vec<_>> = Arc::new(
        (0..DEVICES)
            .map(|i| {
                let d = core.device(&format!("d{i}")).bus("platform").create();
                block_on(core.device_add(&d)).unwrap();
                d
            })
            .collect(),
    );
    let before: Vec<usize> = devices.iter().map(|d| d.refcount()).collect();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (core, devices) = (core.clone(), Arc::clone(&devices));
            std::thread::spawn(move || {
                let mut rng = Rng(t as u64 + 1);
                let mut mine = Vec::new();
                for _ in 0..OPS {
                    match rng.below(10) {
                        0..=4 => {
                            let (c, s) = (rng.below(DEVICES), rng.below(DEVICES));
                            let flags = if rng.below(2) == 0 {
                                LinkFlags::STATELESS
                            } else {
                                LinkFlags::STATELESS | LinkFlags::PM_RUNTIME
                            };
                            // Cycles and self-links are rejected; that is fine.
                            if let Ok(l) = core.link_add(&devices[c], &devices[s], flags) {
                                mine.push(l);
                            }
                        }
                        5..=7 if !mine.is_empty() => {
                            let l = mine.swap_remove(rng.below(mine.len()));
                            // Another thread may have dropped the last
                            // reference already only if it added it too;
                            // every add here is stateless, so each del
                            // matches one add of ours.
                            core.link_del(&l).unwrap();
                        }
                        8 => core.wait_removal().unwrap(),
                        _ => {
                            let d = &devices[rng.below(DEVICES)];
                            let _ = d.refcount();
                        }
                    }
                }
                for l in mine {
                    core.link_del(&l).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(core.link_count(), 0, "every add was matched by a del");
    core.wait_removal().unwrap();
    let after: Vec<usize> = devices.iter().map(|d| d.refcount()).collect();
    assert_eq!(before, after, "device reference counts changed");
    let (submitted, completed) = core.removal_queue().counters();
    assert_eq!(submitted, completed);
    assert!(submitted > 0);
    for d in devices.iter() {
        assert_eq!(
            d.runtime_pm().links_count,
            0,
            "{d}: runtime-PM link count leaked"
        );
    }
}

#[test]
fn concurrent_device_churn_releases_every_device() {
    const THREADS: usize = 3;
    const ROUNDS: usize = 1_000;
    let core = DriverCore::new().unwrap();
    let hub = core.device("hub").bus("platform").create();
    block_on(core.device_add(&hub)).unwrap();
    let released = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (core, hub, released) = (core.clone(), hub.clone(), Arc::clone(&released));
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    let r = Arc::clone(&released);
                    let d = core
                        .device(&format!("t{t}-{i}"))
                        .bus("platform")
                        .on_release(move |_| {
                            r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        })
                        .create();
                    block_on(core.device_add(&d)).unwrap();
                    core.link_add(&d, &hub, LinkFlags::empty()).unwrap();
                    block_on(core.device_del(&d)).unwrap();
                    drop(d);
                    if i % 50 == 0 {
                        core.wait_removal().unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    core.wait_removal().unwrap();
    assert_eq!(
        released.load(std::sync::atomic::Ordering::SeqCst),
        THREADS * ROUNDS,
        "every deleted device was released once its link release ran"
    );
    assert_eq!(core.link_count(), 0);
    assert_eq!(hub.refcount(), 2, "hub: our handle + its registration");
}
