//! Read-only questions about the graph: who depends on a device, and in
//! which order to take dependents down and bring them back.

use crate::core::DriverCore;
use crate::device::Device;
use crate::graph::Graph;

impl Graph {
    /// Registered devices that depend on `d` through children and
    /// non-sync-state-only links, transitively (not `d` itself), in order.
    fn dependents(&self, d: u32) -> Vec<u32> {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![d];
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            let node = self.node(n);
            let next = node.children.iter().copied().chain(
                node.consumers
                    .iter()
                    .map(|&li| self.link(li))
                    .filter(|l| !l.flags.is_sync_state_only())
                    .map(|l| l.consumer.idx()),
            );
            for m in next {
                if seen.insert(m) && self.node(m).registered {
                    out.push(m);
                    stack.push(m);
                }
            }
        }
        out.sort_by_key(|&i| self.node(i).ord);
        out
    }
}

impl DriverCore {
    /// Every registered device that depends on `dev` (its children and its
    /// consumers through links that are not sync-state-only, transitively),
    /// suppliers first: the bring-up order. Reverse it for the teardown
    /// order (consumers first).
    ///
    /// ```
    /// use devlink_core::{DriverCore, LinkFlags};
    /// # futures::executor::block_on(async {
    /// let core = DriverCore::new()?;
    /// let region = core.device("region0").bus("platform").create();
    /// let dma = core.device("dma0").bus("platform").create();
    /// let eth = core.device("eth0").bus("platform").create();
    /// for d in [&region, &dma, &eth] { core.device_add(d).await?; }
    /// core.link_add(&eth, &dma, LinkFlags::empty())?;
    /// core.link_add(&dma, &region, LinkFlags::empty())?;
    /// let names: Vec<_> = core.dependents(&region).iter().map(|d| d.name().to_string()).collect();
    /// assert_eq!(names, ["dma0", "eth0"]);
    /// # Ok::<(), devlink_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn dependents(&self, dev: &Device) -> Vec<Device> {
        let g = self.shared().graph();
        g.dependents(dev.idx())
            .into_iter()
            .filter_map(|i| g.handle(i))
            .collect()
    }
}
