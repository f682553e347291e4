//! Shared helpers for the benchmarks: building device sets, and a model of
//! the kernel's own link-add method to measure against.

use devlink_core::{Device, DriverCore};

/// A core with `n` registered platform devices `d0..d{n-1}`, registered in
/// index order.
pub fn devices(n: usize) -> (DriverCore, Vec<Device>) {
    let core = DriverCore::new().expect("driver core");
    let devs = (0..n)
        .map(|i| {
            let d = core.device(&format!("d{i}")).bus("platform").create();
            futures::executor::block_on(core.device_add(&d)).expect("device_add");
            d
        })
        .collect();
    (core, devs)
}

/// The link pairs `(consumer, supplier)` of a chain `d0 -> d1 -> ... ->
/// d{n-1}` (each device supplies the next), in the order they are added.
/// `reverse` builds it from the consumer end, the kernel's quadratic case.
pub fn chain(n: usize, reverse: bool) -> Vec<(u32, u32)> {
    let mut pairs: Vec<(u32, u32)> = (0..n as u32 - 1).map(|i| (i + 1, i)).collect();
    if reverse {
        pairs.reverse();
    }
    pairs
}

/// The kernel's method, reduced to its cost: on every add,
/// `device_is_dependent` walks the consumer's whole consumer subgraph, and
/// `device_reorder_to_tail` moves the consumer and everything that depends
/// on it to the tail of a linked list. Used as the benchmark baseline.
pub struct KernelModel {
    consumers: Vec<Vec<u32>>,
    prev: Vec<u32>,
    next: Vec<u32>,
    tail: u32,
    stack: Vec<u32>,
}

const NIL: u32 = u32::MAX;

impl KernelModel {
    /// `n` devices in a list in index order.
    pub fn new(n: usize) -> KernelModel {
        let n32 = n as u32;
        KernelModel {
            consumers: vec![Vec::new(); n],
            prev: (0..n32).map(|i| if i == 0 { NIL } else { i - 1 }).collect(),
            next: (0..n32)
                .map(|i| if i + 1 == n32 { NIL } else { i + 1 })
                .collect(),
            tail: n32 - 1,
            stack: Vec::new(),
        }
    }

    fn is_dependent(&mut self, dev: u32, target: u32) -> bool {
        self.stack.clear();
        self.stack.push(dev);
        while let Some(d) = self.stack.pop() {
            if d == target {
                return true;
            }
            self.stack.extend_from_slice(&self.consumers[d as usize]);
        }
        false
    }

    fn move_to_tail(&mut self, d: u32) {
        if self.tail == d {
            return;
        }
        let (p, n) = (self.prev[d as usize], self.next[d as usize]);
        if p != NIL {
            self.next[p as usize] = n;
        }
        if n != NIL {
            self.prev[n as usize] = p;
        }
        self.prev[d as usize] = self.tail;
        self.next[d as usize] = NIL;
        self.next[self.tail as usize] = d;
        self.tail = d;
    }

    fn reorder_to_tail(&mut self, dev: u32) {
        let mut stack = vec![dev];
        while let Some(d) = stack.pop() {
            self.move_to_tail(d);
            stack.extend(self.consumers[d as usize].iter().rev());
        }
    }

    /// `device_link_add(consumer, supplier)`; false if it would close a loop.
    pub fn link_add(&mut self, consumer: u32, supplier: u32) -> bool {
        if self.is_dependent(consumer, supplier) {
            return false;
        }
        self.consumers[supplier as usize].push(consumer);
        self.reorder_to_tail(consumer);
        true
    }
}

/// Writes a sysfs tree with a chain of `links` device links over
/// `links + 1` bound platform devices `d0..`, in the kernel's layout
/// (`devices/platform/dN`, `devices/virtual/devlink/<link>` with its four
/// attributes and two symlinks, `class/devlink` and `bus/platform`
/// entries, `driver` links).
pub fn sysfs_tree(root: &std::path::Path, links: usize) -> std::io::Result<()> {
    use std::fs;
    use std::os::unix::fs::symlink;
    let drv = root.join("bus/platform/drivers/bench-drv");
    fs::create_dir_all(&drv)?;
    fs::create_dir_all(root.join("bus/platform/devices"))?;
    fs::create_dir_all(root.join("class/devlink"))?;
    for i in 0..=links {
        let d = root.join(format!("devices/platform/d{i}"));
        fs::create_dir_all(&d)?;
        symlink(
            format!("../../../devices/platform/d{i}"),
            root.join(format!("bus/platform/devices/d{i}")),
        )?;
        symlink("../../../bus/platform/drivers/bench-drv", d.join("driver"))?;
        fs::write(d.join("waiting_for_supplier"), "0\n")?;
    }
    for i in 0..links {
        let name = format!("platform:d{i}--platform:d{}", i + 1);
        let l = root.join("devices/virtual/devlink").join(&name);
        fs::create_dir_all(&l)?;
        fs::write(l.join("status"), "active\n")?;
        fs::write(l.join("auto_remove_on"), "consumer unbind\n")?;
        fs::write(l.join("runtime_pm"), "0\n")?;
        fs::write(l.join("sync_state_only"), "0\n")?;
        symlink(format!("../../../platform/d{i}"), l.join("supplier"))?;
        symlink(format!("../../../platform/d{}", i + 1), l.join("consumer"))?;
        symlink(
            format!("../../devices/virtual/devlink/{name}"),
            root.join("class/devlink").join(&name),
        )?;
    }
    Ok(())
}

/// The obvious way to read the same information with `std::fs`: for
/// each device and link, canonicalise the symlinks and `read_to_string`
/// each attribute. The baseline of the sysfs scan. Returns a checksum so
/// nothing is optimised away.
pub fn std_fs_scan(root: &std::path::Path) -> usize {
    use std::fs;
    let mut sum = 0;
    for e in fs::read_dir(root.join("bus/platform/devices"))
        .into_iter()
        .flatten()
    {
        let Ok(e) = e else { continue };
        let Ok(dir) = fs::canonicalize(e.path()) else {
            continue;
        };
        if let Ok(t) = fs::read_link(dir.join("driver")) {
            sum += t.as_os_str().len();
        }
        if let Ok(t) = fs::read_to_string(dir.join("waiting_for_supplier")) {
            sum += t.len();
        }
    }
    for e in fs::read_dir(root.join("class/devlink"))
        .into_iter()
        .flatten()
    {
        let Ok(e) = e else { continue };
        let Ok(dir) = fs::canonicalize(e.path()) else {
            continue;
        };
        for a in ["status", "auto_remove_on", "runtime_pm", "sync_state_only"] {
            sum += fs::read_to_string(dir.join(a))
                .map(|t| t.trim().len())
                .unwrap_or(0);
        }
        for s in ["supplier", "consumer"] {
            if let Ok(p) = fs::canonicalize(dir.join(s)) {
                sum += p.as_os_str().len();
            }
        }
    }
    sum
}
