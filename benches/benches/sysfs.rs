//! Scanning a generated sysfs tree of 10,000 device links with
//! `backend-linux-sysfs`, beside the obvious `std::fs` reading of the same
//! files (`sysfs/scan_10k_std_fs`). The system calls per attribute read
//! are counted exactly in `memory.rs` (they do not need timing).

use backend_linux_sysfs::{read_topology, SysfsRoot};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    benches::sysfs_tree(dir.path(), 10_000).expect("generate the tree");
    let root = SysfsRoot::at(dir.path());
    assert_eq!(read_topology(&root).expect("scan").links().len(), 10_000);
    let mut g = c.benchmark_group("sysfs");
    g.sample_size(10);
    if std::env::var_os("BENCH_QUICK").is_some() {
        g.measurement_time(Duration::from_secs(3));
    }
    g.bench_function("scan_10k", |b| {
        b.iter(|| read_topology(&root).expect("scan").links().len())
    });
    g.bench_function("scan_10k_std_fs", |b| {
        b.iter(|| benches::std_fs_scan(dir.path()))
    });
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
