//! Changesets (device-tree overlays) and populating devices from firmware
//! nodes: the scenario of spec §6, where the removal barrier matters.
//!
//! [`Changeset::destroy`] waits for the removal queue *after* the last
//! operation that can delete links (the revert and its notifiers) and
//! *immediately before* checking node reference counts, as the kernel's
//! `of_changeset_destroy()` does since 2024 (§6.3). Unlike the kernel, it
//! refuses (and keeps the changeset intact) when an overlay node is still
//! referenced, so nothing leaks and the caller can retry; the kernel logs
//! the error and leaks the node. [`Changeset::destroy_without_barrier`]
//! keeps the pre-2024 kernel behaviour to reproduce the bug.

use crate::core::DriverCore;
use crate::device::Device;
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::fwnode::{FwNode, FwNodeWeak};
use crate::module::ExitFuture;
use std::sync::Arc;

/// A revert notifier (`OF_RECONFIG_DETACH_NODE`): called for each detached
/// node, newest first, after the revert; may remove devices and so delete
/// links.
pub type RevertNotifier = Arc<dyn Fn(FwNodeWeak) -> ExitFuture + Send + Sync + 'static>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsState {
    Built,
    Applied,
    Reverted,
    Destroyed,
}

/// A list of node attachments applied and reverted as one overlay
/// (`struct of_changeset`). Each entry holds one reference on its node.
///
/// ```
/// use devlink_core::DriverCore;
/// # futures::executor::block_on(async {
/// let core = DriverCore::new()?;
/// let mut cs = core.changeset();
/// let node = core.of_root().new_detached("fpga-region0");
/// let watch = node.downgrade();
/// cs.attach_node(node);             // the changeset owns the reference
/// cs.apply()?;
/// cs.revert().await?;
/// cs.destroy()?;                    // waits for link releases, then checks counts
/// assert!(watch.is_freed());
/// # Ok::<(), devlink_core::Error>(())
/// # }).unwrap();
/// ```
pub struct Changeset {
    core: DriverCore,
    entries: Vec<FwNode>,
    notifiers: Vec<RevertNotifier>,
    state: CsState,
}

impl std::fmt::Debug for Changeset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changeset")
            .field("entries", &self.entries)
            .field("state", &self.state)
            .finish()
    }
}

impl DriverCore {
    /// A new, empty changeset (`of_changeset_init`).
    pub fn changeset(&self) -> Changeset {
        Changeset {
            core: self.clone(),
            entries: Vec::new(),
            notifiers: Vec::new(),
            state: CsState::Built,
        }
    }
}

impl Changeset {
    /// Adds an "attach node" entry. The changeset takes over the handle's
    /// reference; the node is marked `OF_OVERLAY`.
    pub fn attach_node(&mut self, node: FwNode) {
        node.set_overlay();
        self.entries.push(node);
    }

    /// Registers a revert notifier.
    pub fn on_revert(&mut self, notifier: RevertNotifier) {
        self.notifiers.push(notifier);
    }

    /// The nodes the changeset attaches (observers).
    pub fn nodes(&self) -> Vec<FwNodeWeak> {
        self.entries.iter().map(FwNode::downgrade).collect()
    }

    fn expect(&self, want: CsState, what: &str) -> Result<()> {
        if self.state == want {
            Ok(())
        } else {
            Err(Error::ChangesetState {
                what: format!("cannot {what} a changeset that is {:?}", self.state).to_lowercase(),
            })
        }
    }

    /// `of_changeset_apply`: attaches every node, in order.
    pub fn apply(&mut self) -> Result<()> {
        self.expect(CsState::Built, "apply")?;
        for node in &self.entries {
            node.attach();
        }
        self.state = CsState::Applied;
        Ok(())
    }

    /// `of_changeset_revert` with its notifications: detaches every node,
    /// newest first, then calls the revert notifiers for each.
    pub async fn revert(&mut self) -> Result<()> {
        self.expect(CsState::Applied, "revert")?;
        for node in self.entries.iter().rev() {
            node.detach();
        }
        for node in self.entries.iter().rev() {
            for n in &self.notifiers {
                n(node.downgrade()).await;
            }
        }
        self.state = CsState::Reverted;
        Ok(())
    }

    /// The first overlay node still referenced by someone besides the
    /// changeset, newest entry first, as the kernel checks them.
    fn check(&self) -> Result<()> {
        for node in self.entries.iter().rev() {
            if node.is_overlay() && node.refcount() > 1 {
                let (path, actual) = (node.path().to_string(), node.refcount());
                self.core.diagnostics().emit(Diagnostic::OverlayRefcount {
                    path: path.clone(),
                    expected: 1,
                    actual,
                });
                return Err(Error::NodeStillReferenced {
                    path,
                    expected: 1,
                    actual,
                });
            }
        }
        Ok(())
    }

    fn release_entries(&mut self) {
        while let Some(node) = self.entries.pop() {
            node.set_free_cset();
            drop(node);
        }
        self.state = CsState::Destroyed;
    }

    /// `of_changeset_destroy`: waits for every queued link release (the
    /// barrier), then checks that no overlay node is referenced by anyone
    /// but the changeset, and only then puts the entries' references.
    ///
    /// Fails with [`Error::NodeStillReferenced`] (naming the node and both
    /// counts) and changes nothing if a node is still held; fails with
    /// [`Error::WaitFromReleaseJob`] if called from a release job.
    pub fn destroy(&mut self) -> Result<()> {
        self.expect_destroyable()?;
        self.core.wait_removal()?;
        self.check()?;
        self.release_entries();
        Ok(())
    }

    /// The `async` form of [`destroy`](Self::destroy).
    pub async fn destroy_async(&mut self) -> Result<()> {
        self.expect_destroyable()?;
        self.core.wait_removal_async().await?;
        self.check()?;
        self.release_entries();
        Ok(())
    }

    /// Like [`destroy`](Self::destroy) without the barrier: refuses if a
    /// pending link release still holds a node.
    pub fn try_destroy(&mut self) -> Result<()> {
        self.expect_destroyable()?;
        self.check()?;
        self.release_entries();
        Ok(())
    }

    fn expect_destroyable(&self) -> Result<()> {
        match self.state {
            CsState::Built | CsState::Reverted => Ok(()),
            other => Err(Error::ChangesetState {
                what: format!("cannot destroy a changeset that is {other:?}").to_lowercase(),
            }),
        }
    }

    /// The kernel's behaviour before the 2024 fix, kept to reproduce the
    /// bug: no barrier; an overlay node with more than one reference is
    /// logged ("expected refcount 1 instead of n") and not marked
    /// free-able, so its last put later logs "memory leak before free
    /// overlay changeset" and the node is never freed.
    pub fn destroy_without_barrier(mut self) {
        self.destroy_kernel_style();
    }

    fn destroy_kernel_style(&mut self) {
        while let Some(node) = self.entries.pop() {
            if node.is_overlay() && node.refcount() > 1 {
                self.core.diagnostics().emit(Diagnostic::OverlayRefcount {
                    path: node.path().to_string(),
                    expected: 1,
                    actual: node.refcount(),
                });
            } else {
                node.set_free_cset();
            }
            drop(node);
        }
        self.state = CsState::Destroyed;
    }
}

impl Drop for Changeset {
    /// A changeset dropped without `destroy` is destroyed the kernel's way
    /// (no barrier; a held node is reported and leaked, never freed early).
    fn drop(&mut self) {
        if self.state != CsState::Destroyed {
            self.destroy_kernel_style();
        }
    }
}

/// Devices created by [`DriverCore::populate`]; give them back with
/// [`DriverCore::depopulate`].
#[must_use = "depopulate the devices when done"]
pub struct Populated {
    devices: Vec<Device>,
}

impl Populated {
    /// The devices, in creation order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }
}

impl std::fmt::Debug for Populated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.devices).finish()
    }
}

impl DriverCore {
    /// `of_platform_populate`: creates and adds a `platform` device for each
    /// attached child of `parent` that has a `compatible`. Each device holds
    /// a reference on its node until it is released.
    pub async fn populate(&self, parent: &FwNode) -> Result<Populated> {
        let mut devices = Vec::new();
        for node in parent.children() {
            if node.compatible().is_none() {
                continue;
            }
            let dev = self
                .device(&node.device_name())
                .bus("platform")
                .fwnode(&node)
                .create();
            drop(node);
            if let Err(e) = self.device_add(&dev).await {
                self.depopulate(Populated { devices }).await;
                return Err(e);
            }
            devices.push(dev);
        }
        Ok(Populated { devices })
    }

    /// `of_platform_depopulate`: unregisters the devices, newest first, and
    /// drops the populate code's references. Devices still held by a
    /// pending link release stay alive until it runs.
    pub async fn depopulate(&self, populated: Populated) {
        let mut devices = populated.devices;
        while let Some(dev) = devices.pop() {
            if dev.is_registered() {
                let _ = self.device_del(&dev).await;
            }
        }
    }
}
