//! fpga-core hot paths, each beside its baseline in the same group:
//!
//! - `load/buffer_64MiB`: a 64 MiB buffer image into a simulated manager
//!   whose `write` copies into a preallocated sink (CRC off), beside
//!   `memcpy_64MiB` of the same bytes into a preallocated buffer.
//!   Goal: ≥ 0.95 of memcpy.
//! - `load/scatter_4KiB_64MiB`: the same image as a table of 4 KiB
//!   segments (chunked `write`). Goal: ≥ 0.85 of memcpy.
//! - `get/manager_get_put` beside `get/arc_clone_drop`, and both with two
//!   threads at once. Goal: ≤ 2× uncontended. `get/two_counts_floor` is
//!   the least any get + put must do: a reference-count increment and a
//!   pin compare-and-swap on two cache lines, and their two decrements.
//! - `reprogram/100_dependents`: a full reprogram of a region with 100
//!   bound dependents on a zero-latency simulator (report per dependent).

use backend_sim::{sim_image, SimClock, SimFpgaManager};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use devlink_core::{Device, DriverCore, LinkFlags, Module};
use fpga_core::{Fpga, ImageInfo, ManagerInfo, RegionInfo, ScatterTable};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

struct Setup {
    _core: DriverCore,
    fpga: Fpga,
    parent: Device,
    _module: Module,
}

fn setup(sim: SimFpgaManager) -> Setup {
    let core = DriverCore::new().unwrap();
    let parent = core.device("soc:fpga").bus("platform").create();
    block_on(core.device_add(&parent)).unwrap();
    let fpga = Fpga::new(&core);
    let module = Module::new("bench");
    block_on(
        fpga.registrar(&module)
            .register_manager(&parent, ManagerInfo::new("bench", Arc::new(sim))),
    )
    .unwrap();
    Setup {
        _core: core,
        fpga,
        parent,
        _module: module,
    }
}

fn load(c: &mut Criterion) {
    let size: usize = if quick() { 16 << 20 } else { 64 << 20 };
    let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
    let image = Bytes::from(sim_image(&payload, false));
    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(if quick() { 10 } else { 20 });
    g.measurement_time(Duration::from_secs(if quick() { 2 } else { 6 }));
    let label = format!("{}MiB", size >> 20);

    let mut sink = vec![0u8; size];
    g.bench_function(format!("memcpy_{label}"), |b| {
        b.iter(|| {
            sink.copy_from_slice(black_box(&payload));
            black_box(&sink);
        })
    });

    let s = setup(
        SimFpgaManager::new(&SimClock::new(), 0)
            .without_crc()
            .with_sink(size),
    );
    let held = s.fpga.mgr_get(&s.parent).unwrap();
    let lock = held.lock().unwrap();
    g.bench_function(format!("buffer_{label}"), |b| {
        b.iter(|| {
            let mut info = ImageInfo::from_buffer(image.clone());
            block_on(lock.load(&mut info)).unwrap();
        })
    });
    let table = ScatterTable::from_buffer(&image, 4096);
    g.bench_function(format!("scatter_4KiB_{label}"), |b| {
        b.iter_batched(
            || ImageInfo::from_table(table.clone()),
            |mut info| block_on(lock.load(&mut info)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn get(c: &mut Criterion) {
    let s = setup(SimFpgaManager::new(&SimClock::new(), 0));
    let arc = Arc::new(0u64);
    let mut g = c.benchmark_group("get");
    g.measurement_time(Duration::from_secs(if quick() { 1 } else { 3 }));
    g.bench_function("manager_get_put", |b| {
        b.iter(|| drop(black_box(s.fpga.mgr_get(&s.parent).unwrap())))
    });
    g.bench_function("arc_clone_drop", |b| {
        b.iter(|| drop(black_box(Arc::clone(&arc))))
    });
    let floor = (Floor::default(), Floor::default());
    g.bench_function("two_counts_floor", |b| {
        b.iter(|| {
            let (dev, pin) = black_box(&floor);
            dev.0.fetch_add(1, Ordering::Relaxed);
            let mut n = pin.0.load(Ordering::Acquire);
            while let Err(v) =
                pin.0
                    .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                n = v;
            }
            pin.0.fetch_sub(1, Ordering::AcqRel);
            dev.0.fetch_sub(1, Ordering::Release);
        })
    });
    // Two threads at once: time per operation on the measuring thread while
    // a second thread does the same in a loop.
    let two = |op: Arc<dyn Fn() + Send + Sync>| {
        move |b: &mut criterion::Bencher| {
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let other = {
                let (op, stop) = (Arc::clone(&op), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        op();
                    }
                })
            };
            b.iter(|| op());
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            other.join().unwrap();
        }
    };
    let (fpga, parent) = (s.fpga.clone(), s.parent.clone());
    g.bench_function(
        "manager_get_put_2threads",
        two(Arc::new(move || {
            drop(black_box(fpga.mgr_get(&parent).unwrap()))
        })),
    );
    let arc2 = Arc::clone(&arc);
    g.bench_function(
        "arc_clone_drop_2threads",
        two(Arc::new(move || drop(black_box(Arc::clone(&arc2))))),
    );
    g.finish();
}

/// One counter alone on its cache line.
#[derive(Default)]
#[repr(align(128))]
struct Floor(AtomicUsize);

struct Nop(String);
#[devlink_core::async_trait]
impl devlink_core::Driver for Nop {
    fn name(&self) -> &str {
        &self.0
    }
    async fn probe(&self, _: &Device) -> Result<(), devlink_core::ProbeError> {
        Ok(())
    }
}

fn reprogram_bench(c: &mut Criterion) {
    const DEPS: usize = 100;
    let s = setup(SimFpgaManager::new(&SimClock::new(), 0));
    let core = s._core.clone();
    let region = block_on(s.fpga.registrar_builtin().register_region(
        &s.parent,
        Some(RegionInfo::new(s.fpga.mgr_get(&s.parent).unwrap())),
    ))
    .unwrap();
    let module = Module::new("deps");
    // The region's parent is the supplier the dependents link to: bind it.
    block_on(core.driver_register(&module, Arc::new(Nop("parent".into())))).unwrap();
    block_on(core.force_bind(&s.parent, "parent")).unwrap();
    block_on(core.driver_register(&module, Arc::new(Nop("dep".into())))).unwrap();
    let deps: Vec<Device> = (0..DEPS)
        .map(|i| {
            let d = core
                .device(&format!("dep{i}"))
                .bus("platform")
                .compatible("dep")
                .create();
            block_on(core.device_add(&d)).unwrap();
            core.link_add(&d, &s.parent, LinkFlags::empty()).unwrap();
            d
        })
        .collect();
    assert!(deps.iter().all(|d| d.driver_name().is_some()));
    let image = Bytes::from(sim_image(&[0u8; 256], false));
    let mut g = c.benchmark_group("reprogram");
    g.throughput(Throughput::Elements(DEPS as u64));
    g.measurement_time(Duration::from_secs(if quick() { 2 } else { 5 }));
    g.bench_function("100_dependents", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let r =
                    block_on(region.reprogram(ImageInfo::from_buffer(image.clone()), &|_: &_| {}));
                assert_eq!(r.unwrap().rebound.bound.len(), DEPS);
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, load, get, reprogram_bench);
criterion_main!(benches);
