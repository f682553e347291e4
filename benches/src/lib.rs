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
