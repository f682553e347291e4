//! devlink-core hot paths, each beside its baseline in the same group:
//!
//! - `link_add/{forward,reverse}_chain/{n}`: adding the n-1 links of a
//!   chain, built from the supplier end (forward) or the consumer end
//!   (reverse). Baselines: `vec_push` (storing the same pairs: the floor)
//!   and `kernel_method` (the kernel's walk-and-reorder on every add,
//!   quadratic on the reverse chain; 10k only).
//! - `link_add/random_dag`: 1M links on 100k devices (10k on 1k in quick mode).
//! - `wait_removal/idle` beside an `Arc` clone+drop; `wait_removal/pending_10k`
//!   (draining 10k queued releases) beside dropping 10k boxed closures inline.
//!
//! `BENCH_QUICK=1` shrinks sizes and times so the whole set finishes fast.

use benches::{chain, devices, KernelModel};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use devlink_core::LinkFlags;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn link_add(c: &mut Criterion) {
    let sizes: &[usize] = if quick() {
        &[1_000, 10_000]
    } else {
        &[10_000, 100_000]
    };
    let mut g = c.benchmark_group("link_add");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if quick() { 2 } else { 8 }));
    g.warm_up_time(Duration::from_millis(500));
    for &n in sizes {
        g.throughput(Throughput::Elements(n as u64 - 1));
        for (name, reverse) in [("forward_chain", false), ("reverse_chain", true)] {
            let pairs = chain(n, reverse);
            g.bench_with_input(BenchmarkId::new(name, n), &pairs, |b, pairs| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (core, devs) = devices(n);
                        let start = Instant::now();
                        for &(cons, sup) in pairs {
                            let l = core
                                .link_add(
                                    &devs[cons as usize],
                                    &devs[sup as usize],
                                    LinkFlags::STATELESS,
                                )
                                .unwrap();
                            black_box(&l);
                        }
                        total += start.elapsed();
                    }
                    total
                })
            });
            g.bench_with_input(
                BenchmarkId::new(format!("{name}_vec_push"), n),
                &pairs,
                |b, pairs| {
                    b.iter(|| {
                        let mut v = Vec::new();
                        for &p in pairs {
                            v.push(black_box(p));
                        }
                        v
                    })
                },
            );
            if n <= 10_000 {
                g.bench_with_input(
                    BenchmarkId::new(format!("{name}_kernel_method"), n),
                    &pairs,
                    |b, pairs| {
                        b.iter(|| {
                            let mut k = KernelModel::new(n);
                            for &(cons, sup) in pairs {
                                assert!(k.link_add(cons, sup));
                            }
                            k
                        })
                    },
                );
            }
        }
    }
    let (nodes, edges) = if quick() {
        (1_000, 10_000)
    } else {
        (100_000, 1_000_000)
    };
    let dag = backend_sim::RandomDag::generate(nodes, edges, 1);
    g.throughput(Throughput::Elements(edges as u64));
    g.bench_function(
        BenchmarkId::new("random_dag", format!("{nodes}x{edges}")),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (core, devs) = devices(nodes);
                    let start = Instant::now();
                    for &(s, cons) in &dag.edges {
                        black_box(
                            core.link_add(
                                &devs[cons as usize],
                                &devs[s as usize],
                                LinkFlags::STATELESS,
                            )
                            .unwrap(),
                        );
                    }
                    total += start.elapsed();
                }
                total
            })
        },
    );
    g.bench_function(
        BenchmarkId::new("random_dag_vec_push", format!("{nodes}x{edges}")),
        |b| {
            b.iter(|| {
                let mut v = Vec::new();
                for &e in &dag.edges {
                    v.push(black_box(e));
                }
                v
            })
        },
    );
    g.finish();
}

fn wait_removal(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait_removal");
    g.measurement_time(Duration::from_secs(if quick() { 1 } else { 3 }));
    g.warm_up_time(Duration::from_millis(300));
    let (core, _devs) = devices(2);
    g.bench_function("idle", |b| b.iter(|| core.wait_removal().unwrap()));
    let arc = Arc::new(0u64);
    g.bench_function("idle_baseline_arc_clone", |b| {
        b.iter(|| black_box(Arc::clone(&arc)))
    });
    const PENDING: usize = 10_000;
    g.sample_size(10);
    g.throughput(Throughput::Elements(PENDING as u64));
    g.bench_function("pending_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (core, devs) = devices(PENDING + 1);
                let links: Vec<_> = (1..=PENDING)
                    .map(|i| {
                        core.link_add(&devs[i], &devs[0], LinkFlags::STATELESS)
                            .unwrap()
                    })
                    .collect();
                let hold = core.hold_removals();
                for l in &links {
                    core.link_del(l).unwrap();
                }
                assert_eq!(core.removal_queue().pending(), PENDING as u64);
                let start = Instant::now();
                drop(hold);
                core.wait_removal().unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    g.bench_function("pending_10k_baseline_inline_drop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_core, devs) = devices(PENDING + 1);
                let jobs: Vec<Box<dyn FnOnce() + Send>> = (1..=PENDING)
                    .map(|i| {
                        let (a, b) = (devs[i].clone(), devs[0].clone());
                        Box::new(move || {
                            drop(a);
                            drop(b);
                        }) as Box<dyn FnOnce() + Send>
                    })
                    .collect();
                let start = Instant::now();
                for j in jobs {
                    j();
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, link_add, wait_removal);
criterion_main!(benches);
