//! The HWICAP write path, each beside its baseline in the same run:
//!
//! - `write_path/raw_volatile_loop`: one 32-bit volatile store per word to
//!   the `WF` keyhole of a real `mmap` (a file on a tmpfs-like fixture
//!   standing in for `/dev/uio0`), no checks: the ceiling.
//! - `write_path/hwicap_fill_fifo`: the same words through the driver's
//!   write path on the same mapping: WFV read, bounds check, the register
//!   trait, then the stores. Goal: at least 0.9 of the raw loop. (Plain
//!   memory cannot clear CR.Write, so the CR handshake is measured only on
//!   the model, below.)
//! - `load/model_end_to_end`: a synthetic partial `.bit` loaded through
//!   `FpgaManager` onto the simulated HWICAP (parse, IDCODE probe, every
//!   FIFO burst, DESYNC). Reported in bytes/s beside the ICAP ceilings of
//!   spec §2.6 (400 MB/s on 7-series, 800 MB/s on UltraScale+), printed
//!   as a ratio at the end.

use backend_uio::bitstream::synthetic_partial;
use backend_uio::hwicap::{reg, Hwicap};
use backend_uio::sim::{HwicapConfig, HwicapModel, SimDeviceSpec, SimMap, SimUio};
use backend_uio::{
    raw_store_loop, HwicapManager, Mapping, Registers, Selector, UioDevice, UioRoot,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A fixture tree with one UIO device whose node is a regular file, and
/// the mapping of its map 0, with WFV preset so that one burst takes
/// every word.
fn mapped_fixture() -> (tempfile::TempDir, Mapping) {
    let dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    })
    .expect("temporary directory");
    let page = UioRoot::default().page_size();
    let size = page.max(0x1000);
    let d = dir.path().join("class/uio/uio0");
    std::fs::create_dir_all(d.join("maps/map0")).unwrap();
    std::fs::write(d.join("name"), "hwicap\n").unwrap();
    std::fs::write(d.join("version"), "devicetree\n").unwrap();
    std::fs::write(d.join("event"), "0\n").unwrap();
    std::fs::write(d.join("maps/map0/addr"), "0x0000000040200000\n").unwrap();
    std::fs::write(d.join("maps/map0/size"), format!("{size:#018x}\n")).unwrap();
    std::fs::write(d.join("maps/map0/offset"), "0x0\n").unwrap();
    std::fs::create_dir_all(dir.path().join("dev")).unwrap();
    std::fs::File::create(dir.path().join("dev/uio0"))
        .unwrap()
        .set_len(size as u64)
        .unwrap();
    let dev = UioDevice::open(&UioRoot::at(dir.path()), Selector::Number(0)).unwrap();
    let map = dev.map(0).unwrap();
    map.write32(reg::WFV, u32::MAX).unwrap();
    (dir, map)
}

fn time(reps: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed()
}

fn write_path(c: &mut Criterion) {
    let words: Vec<u32> = (0..65_536u32)
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let (_dir, map) = mapped_fixture();
    let map = Arc::new(map);
    let icap = Hwicap::new(map.clone(), "bench");
    let mut g = c.benchmark_group("write_path");
    g.throughput(Throughput::Elements(words.len() as u64));
    g.sample_size(if quick() { 10 } else { 50 });
    g.measurement_time(Duration::from_secs(if quick() { 1 } else { 4 }));
    g.bench_function("raw_volatile_loop", |b| {
        b.iter(|| assert!(raw_store_loop(&map, reg::WF, black_box(&words))))
    });
    g.bench_function("hwicap_fill_fifo", |b| {
        b.iter(|| assert_eq!(icap.fill_fifo(black_box(&words)).unwrap(), words.len()))
    });
    g.finish();
    // The ratio, measured interleaved so both see the same machine state;
    // the best round of each, which is robust to a busy machine.
    let reps = if quick() { 100 } else { 1000 };
    let (mut raw, mut drv) = (Duration::MAX, Duration::MAX);
    for _ in 0..15 {
        raw = raw.min(time(reps, || {
            assert!(raw_store_loop(&map, reg::WF, &words))
        }));
        drv = drv.min(time(reps, || {
            assert_eq!(icap.fill_fifo(&words).unwrap(), words.len())
        }));
    }
    let per_s = |d: Duration| reps as f64 * words.len() as f64 / d.as_secs_f64();
    println!(
        "write_path: raw {:.0} Mwords/s, hwicap {:.0} Mwords/s, ratio {:.3} (goal >= 0.9)",
        per_s(raw) / 1e6,
        per_s(drv) / 1e6,
        per_s(drv) / per_s(raw)
    );
}

fn load(c: &mut Criterion) {
    let frames = if quick() { 1 << 18 } else { 1 << 20 };
    let img = synthetic_partial(frames, 0x0362_D093);
    let bytes = img.bit.len();
    let sim = SimUio::new().unwrap();
    let model = Arc::new(HwicapModel::new(HwicapConfig {
        words_per_tick: 1024,
        ..HwicapConfig::default()
    }));
    let map = SimMap::new(0x4020_0000, 0x10000, 0, model.clone());
    map.log.set_enabled(false);
    sim.register(SimDeviceSpec::new("hwicap", "40200000.hwicap").with_map(map));
    let dev = Arc::new(sim.open(Selector::Name("hwicap".into())).unwrap());
    let core = devlink_core::DriverCore::new().unwrap();
    let parent = core.device("40200000.hwicap").bus("platform").create();
    block_on(core.device_add(&parent)).unwrap();
    let fpga = fpga_core::Fpga::new(&core);
    let ops = HwicapManager::new(dev, 0).unwrap();
    block_on(fpga.registrar_builtin().register_manager(
        &parent,
        fpga_core::ManagerInfo::new("hwicap", Arc::new(ops)),
    ))
    .unwrap();
    let held = fpga.mgr_get(&parent).unwrap();
    let image = bytes::Bytes::from(img.bit);
    let run = || {
        let lock = held.lock().unwrap();
        let mut info = fpga_core::ImageInfo::from_buffer(image.clone())
            .with_flags(fpga_core::ImageFlags::PARTIAL_RECONFIG);
        block_on(lock.load(&mut info)).unwrap();
    };
    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if quick() { 2 } else { 8 }));
    g.bench_function("model_end_to_end", |b| b.iter(run));
    g.finish();
    let d = time(3, run);
    let rate = 3.0 * bytes as f64 / d.as_secs_f64();
    println!(
        "load: {:.1} MB/s on the model = {:.3} of the 7-series ICAP (400 MB/s), {:.3} of UltraScale+ (800 MB/s)",
        rate / 1e6,
        rate / 400e6,
        rate / 800e6
    );
}

criterion_group!(benches, write_path, load);
criterion_main!(benches);
