//! [`FpgaView`]: the FPGA classes as every backend shows them (the
//! managers, bridges and regions of `/sys/class/fpga_*`), beside the
//! driver model's [`Topology`](devlink_core::Topology), and the loads'
//! targets derived from it.

use crate::engine::LoadTarget;
use crate::fpga::Fpga;
use crate::state::{CompatId, MgrState, MgrStatus};
use async_trait::async_trait;
use devlink_core::drive::ErrorType;

/// `/sys/class/fpga_manager/<dev>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ManagerView {
    /// `fpga<N>`.
    pub dev: String,
    /// `name`: what the low-level driver calls itself.
    pub name: String,
    /// The parent device, `bus:name`.
    pub parent: Option<String>,
    /// `state`.
    pub state: MgrState,
    /// `status`, where the manager has the attribute.
    pub status: Option<MgrStatus>,
    /// `compat_id`, where the manager has one.
    pub compat_id: Option<CompatId>,
    /// Who holds the manager's lock, as far as can be told (`None`: free).
    pub locked_by: Option<String>,
    /// Whether user space can load through it (a Xilinx `firmware`
    /// attribute on a kernel; always on the in-process backends).
    pub loadable: bool,
    /// Why a load could not take the lock even though nobody holds it
    /// (the live kernel's lock directory missing, say).
    pub lock_problem: Option<String>,
    /// The image the last load through this library recorded, while the
    /// record still matches what the manager says.
    pub loaded: Option<crate::LoadedImage>,
    /// Why what is loaded is not known to be [`loaded`](Self::loaded): the
    /// manager changed since the record ("loaded outside this tool"), or
    /// no record was kept.
    pub loaded_unknown: Option<String>,
}

/// `/sys/class/fpga_bridge/<dev>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BridgeView {
    /// `br<N>`.
    pub dev: String,
    /// `name`.
    pub name: String,
    /// The parent device, `bus:name`.
    pub parent: Option<String>,
    /// `state`: whether traffic passes (`None`: unreadable).
    pub enabled: Option<bool>,
    /// Whether a region holds it (`None` where the backend cannot tell).
    pub held: Option<bool>,
}

/// `/sys/class/fpga_region/<dev>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RegionView {
    /// `region<N>`.
    pub dev: String,
    /// The parent device, `bus:name`: the device the logic's users hang
    /// off or link to.
    pub parent: Option<String>,
    /// The manager that programs it (`fpga<N>`), where known (a kernel
    /// does not show it in sysfs; it is known when there is one manager).
    pub manager: Option<String>,
    /// The bridges it holds now.
    pub bridges: Vec<String>,
    /// `compat_id`.
    pub compat_id: Option<CompatId>,
    /// Whether someone holds it (`None` where the backend cannot tell).
    pub held: Option<bool>,
}

/// The FPGA classes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FpgaView {
    /// Whether the system has FPGA support at all (a kernel built without
    /// `CONFIG_FPGA` has no `fpga_*` class).
    pub supported: bool,
    /// Managers, by id.
    pub managers: Vec<ManagerView>,
    /// Bridges, by id.
    pub bridges: Vec<BridgeView>,
    /// Regions, by id.
    pub regions: Vec<RegionView>,
}

fn bare<'a>(name: &'a str, class: &str) -> &'a str {
    name.strip_prefix(class)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or(name)
}

impl FpgaView {
    /// The manager `fpga<N>` (or `fpga_manager:fpga<N>`).
    pub fn manager(&self, name: &str) -> Option<&ManagerView> {
        let n = bare(name, "fpga_manager");
        self.managers.iter().find(|m| m.dev == n)
    }

    /// The bridge `br<N>` (or `fpga_bridge:br<N>`).
    pub fn bridge(&self, name: &str) -> Option<&BridgeView> {
        let n = bare(name, "fpga_bridge");
        self.bridges.iter().find(|b| b.dev == n)
    }

    /// The region `region<N>` (or `fpga_region:region<N>`).
    pub fn region(&self, name: &str) -> Option<&RegionView> {
        let n = bare(name, "fpga_region");
        self.regions.iter().find(|r| r.dev == n)
    }

    /// The regions `manager` programs.
    pub fn regions_of(&self, manager: &str) -> Vec<&RegionView> {
        self.regions
            .iter()
            .filter(|r| r.manager.as_deref() == Some(manager))
            .collect()
    }

    /// The target of a load into `region`: guarded are its class device
    /// and its parent. `None` without a known manager.
    pub fn region_target(&self, region: &RegionView) -> Option<LoadTarget> {
        let mut guarded = vec![format!("fpga_region:{}", region.dev)];
        guarded.extend(region.parent.clone());
        Some(LoadTarget {
            name: region.dev.clone(),
            manager: region.manager.clone()?,
            guarded,
        })
    }

    /// The target of a load straight through `manager`: guarded are its
    /// class device and parent, and those of every region it programs.
    pub fn manager_target(&self, manager: &ManagerView) -> LoadTarget {
        let mut guarded = vec![format!("fpga_manager:{}", manager.dev)];
        guarded.extend(manager.parent.clone());
        for r in self.regions_of(&manager.dev) {
            guarded.push(format!("fpga_region:{}", r.dev));
            guarded.extend(r.parent.clone());
        }
        LoadTarget {
            name: manager.dev.clone(),
            manager: manager.dev.clone(),
            guarded,
        }
    }
}

impl FpgaView {
    /// Writes the classes' attribute files into the class device
    /// directories that [`Topology::write_sysfs`] made under `root`
    /// (`class/fpga_manager/<dev>/name`, `state`, `status`;
    /// `fpga_bridge/<dev>/name`, `state`; `fpga_region/<dev>/compat_id`),
    /// in the kernel's formats, so a simulated board reads back as a
    /// kernel's.
    ///
    /// [`Topology::write_sysfs`]: devlink_core::Topology::write_sysfs
    pub fn write_sysfs(&self, root: &std::path::Path) -> std::io::Result<()> {
        let write = |class: &str, dev: &str, file: &str, text: &str| {
            let dir = root.join("class").join(class).join(dev);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(file), text)
        };
        for m in &self.managers {
            write("fpga_manager", &m.dev, "name", &format!("{}\n", m.name))?;
            write(
                "fpga_manager",
                &m.dev,
                "state",
                &format!("{}\n", m.state.sysfs()),
            )?;
            if let Some(st) = m.status {
                write("fpga_manager", &m.dev, "status", &st.sysfs())?;
            }
        }
        for b in &self.bridges {
            write("fpga_bridge", &b.dev, "name", &format!("{}\n", b.name))?;
            if let Some(on) = b.enabled {
                let st = if on { "enabled\n" } else { "disabled\n" };
                write("fpga_bridge", &b.dev, "state", st)?;
            }
        }
        for r in &self.regions {
            if let Some(id) = r.compat_id {
                write("fpga_region", &r.dev, "compat_id", &id.sysfs())?;
            }
        }
        Ok(())
    }
}

/// Reads the FPGA classes as they are now.
#[async_trait]
pub trait ReadFpga: ErrorType + Send + Sync {
    /// A snapshot of managers, bridges and regions.
    async fn fpga_view(&self) -> Result<FpgaView, Self::Error>;
}

impl ErrorType for Fpga {
    type Error = crate::FpgaError;
}

#[async_trait]
impl ReadFpga for Fpga {
    async fn fpga_view(&self) -> Result<FpgaView, crate::FpgaError> {
        let mut v = FpgaView {
            supported: true,
            ..FpgaView::default()
        };
        for m in self.managers() {
            v.managers.push(ManagerView {
                dev: m.device().name().to_string(),
                name: m.name().to_string(),
                parent: Some(m.parent().to_string()),
                state: m.state(),
                status: m.status().await.ok(),
                compat_id: m.compat_id(),
                locked_by: m.is_locked().then(|| "this process".to_string()),
                loadable: true,
                lock_problem: None,
                loaded: m.loaded_image(),
                loaded_unknown: None,
            });
        }
        for b in self.bridges() {
            let enabled = b
                .sysfs_state()
                .await
                .ok()
                .map(|s| s.trim_end() == "enabled");
            v.bridges.push(BridgeView {
                dev: b.device().name().to_string(),
                name: b.name().to_string(),
                parent: b.device().parent().map(|p| p.to_string()),
                enabled,
                held: Some(b.is_held()),
            });
        }
        for r in self.regions() {
            v.regions.push(RegionView {
                dev: r.device().name().to_string(),
                parent: Some(r.parent().to_string()),
                manager: Some(r.manager().device().name().to_string()),
                bridges: r
                    .bridges()
                    .iter()
                    .map(|b| b.device().name().to_string())
                    .collect(),
                compat_id: r.compat_id(),
                held: Some(r.is_held()),
            });
        }
        Ok(v)
    }
}
