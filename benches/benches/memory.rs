//! Bytes per link, counted with a counting global allocator: live heap
//! bytes after adding the links of a random DAG, minus live bytes before,
//! divided by the number of links. Baseline in the same run: a `Vec` of
//! the same `(u32, u32)` pairs (8 bytes a pair plus growth). Goal: at most
//! 128 bytes a link (the kernel spends several hundred on a link and its
//! sysfs device).
//!
//! Prints the figures and writes `target/bench-results/memory.json`.
//! `BENCH_QUICK=1` uses a smaller graph.

use devlink_core::LinkFlags;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only
// counts sizes; layouts are passed through as given.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    // Criterion passes its own flags (e.g. --bench); ignore them.
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let (nodes, edges) = if quick {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    let dag = backend_sim::RandomDag::generate(nodes, edges, 1);
    let (core, devs) = benches::devices(nodes);
    let before = live();
    let links: Vec<_> = dag
        .edges
        .iter()
        .map(|&(s, c)| {
            core.link_add(&devs[c as usize], &devs[s as usize], LinkFlags::STATELESS)
                .unwrap()
        })
        .collect();
    let with_handles = live();
    drop(links);
    let after = live();
    let per_link = (after - before) as f64 / edges as f64;
    let per_handle = (with_handles - after) as f64 / edges as f64;

    let before = live();
    let pairs: Vec<(u32, u32)> = dag.edges.to_vec();
    let baseline = (live() - before) as f64 / edges as f64;
    drop(pairs);

    println!("memory/bytes_per_link          {per_link:8.1} B  ({edges} links on {nodes} devices; goal <= 128)");
    println!(
        "memory/bytes_per_link_handle   {per_handle:8.1} B  (a Link handle kept by the caller)"
    );
    println!(
        "memory/baseline_vec_pair       {baseline:8.1} B  (Vec<(u32, u32)> of the same edges)"
    );
    // System calls per sysfs attribute read, counted exactly on a
    // generated tree of 10,000 links (backend-linux-sysfs counts every
    // call it makes; its tests check the count against the kernel's).
    let tree = tempfile::tempdir().expect("tempdir");
    benches::sysfs_tree(tree.path(), 10_000).expect("generate the tree");
    let before = backend_linux_sysfs::syscalls();
    let snap = backend_linux_sysfs::read_topology(&backend_linux_sysfs::SysfsRoot::at(tree.path()))
        .expect("scan");
    let n = backend_linux_sysfs::syscalls().since(&before);
    let per_attr = (n.attr_reads + n.read) as f64 / n.attr_reads as f64;
    let per_attr_close = (2 * n.attr_reads + n.read) as f64 / n.attr_reads as f64;
    let per_link_calls = n.total() as f64 / snap.links().len() as f64;
    println!("memory/sysfs_syscalls_per_attr {per_attr:8.2}    (open + read per attribute; {per_attr_close:.2} with close; goal <= 2)");
    println!("memory/sysfs_syscalls_per_link {per_link_calls:8.2}    (every call of the scan, per link; stat calls: {})", n.stat);
    let json = format!(
        "{{\"bytes_per_link\": {per_link:.2}, \"bytes_per_link_handle\": {per_handle:.2}, \
         \"baseline_vec_pair\": {baseline:.2}, \"links\": {edges}, \"devices\": {nodes}, \
         \"sysfs_syscalls_per_attr\": {per_attr:.3}, \"sysfs_syscalls_per_attr_with_close\": {per_attr_close:.3}, \
         \"sysfs_syscalls_per_link\": {per_link_calls:.3}, \"sysfs_stat_calls\": {}}}\n",
        n.stat
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("memory.json"), json);
    }
    drop(core);
}
