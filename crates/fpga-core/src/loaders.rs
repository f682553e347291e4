//! The in-process [`ImageLoader`]s: an image into a region through its
//! manager with the bridges gated (§6.4), or straight through a manager.
//! Any [`FpgaManagerOps`](crate::FpgaManagerOps) backend loads this way:
//! the simulator, the AXI HWICAP, the Xilinx `firmware` attribute's ops.

use crate::engine::{ImageLoader, LoadFailed, LoadTarget, Loaded};
use crate::error::{FpgaError, Result};
use crate::image::ImageInfo;
use crate::manager::{FpgaManager, ManagerLock};
use crate::observe::{Observer, Step};
use crate::region::{FpgaRegion, RegionHold};
use crate::state::{MgrState, MgrStatus};
use async_trait::async_trait;
use std::time::Instant;

/// Loads an image into a region: hold the region, lock its manager, put
/// the bridges the previous program kept, then (in `load`) get and
/// disable the bridges, load, enable them.
pub struct RegionLoader {
    region: FpgaRegion,
    image: ImageInfo,
    target: LoadTarget,
}

impl RegionLoader {
    /// Loads `image` into `region`.
    pub fn new(region: &FpgaRegion, image: ImageInfo) -> RegionLoader {
        let mut guarded = vec![region.device().to_string()];
        guarded.push(region.parent().to_string());
        RegionLoader {
            target: LoadTarget {
                name: region.device().name().to_string(),
                manager: region.manager().device().name().to_string(),
                guarded,
            },
            region: region.clone(),
            image,
        }
    }

    /// The region.
    pub fn region(&self) -> &FpgaRegion {
        &self.region
    }
}

async fn loaded_now(mgr: &FpgaManager, bytes: u64, started: Instant) -> Loaded {
    Loaded {
        state: mgr.state(),
        status: status_of(mgr).await,
        bytes,
        elapsed: started.elapsed(),
    }
}

/// The manager's status bits (empty where they cannot be read).
async fn status_of(mgr: &FpgaManager) -> MgrStatus {
    mgr.status().await.unwrap_or_else(|_| MgrStatus::empty())
}

#[async_trait]
impl ImageLoader for RegionLoader {
    type Error = FpgaError;
    type Session = Option<(RegionHold, ManagerLock)>;

    fn target(&self) -> &LoadTarget {
        &self.target
    }

    async fn check(&self) -> Result<()> {
        if self.region.is_held() {
            return Err(FpgaError::busy(
                self.region.device().name(),
                "region is already in use",
            ));
        }
        let mgr = self.region.manager().manager();
        if mgr.is_locked() {
            return Err(FpgaError::busy(mgr.device().name(), "manager is locked"));
        }
        Ok(())
    }

    async fn acquire(&self, obs: &dyn Observer) -> Result<Self::Session> {
        let (hold, lock) = self.region.acquire(obs)?;
        // The new image replaces the old one: bridges still held from the
        // previous program (§6.4 keeps them) are put. A static list stays.
        if self.region.has_get_bridges() {
            self.region.put_bridges();
        }
        Ok(Some((hold, lock)))
    }

    async fn load(
        &self,
        session: &mut Self::Session,
        obs: &dyn Observer,
    ) -> std::result::Result<Loaded, LoadFailed<FpgaError>> {
        let Some((hold, lock)) = session.take() else {
            return Err(LoadFailed {
                error: FpgaError::invalid(self.region.device().name(), "loaded twice"),
                touched: false,
            });
        };
        let started = Instant::now();
        let bytes = self.image.size_hint().unwrap_or(0) as u64;
        self.region.set_info(Some(self.image.clone()));
        let (result, touched) = self.region.program_locked(hold, lock, obs).await;
        self.region.set_info(None);
        let mgr = self.region.manager().manager();
        match result {
            Ok(()) => Ok(loaded_now(&mgr, bytes, started).await),
            Err(error) => Err(LoadFailed { error, touched }),
        }
    }

    async fn state(&self) -> Option<(MgrState, MgrStatus)> {
        let mgr = self.region.manager().manager();
        Some((mgr.state(), status_of(&mgr).await))
    }
}

/// Loads an image straight through a manager (`fpga_mgr_load`), no
/// region and no bridges.
pub struct ManagerLoader {
    mgr: FpgaManager,
    image: ImageInfo,
    target: LoadTarget,
}

impl ManagerLoader {
    /// Loads `image` through `mgr`; `guarded` are the devices whose users
    /// must be down first (its regions' parents and class devices; the
    /// manager's own are added).
    pub fn new(mgr: &FpgaManager, image: ImageInfo, mut guarded: Vec<String>) -> ManagerLoader {
        for d in [mgr.device().to_string(), mgr.parent().to_string()] {
            if !guarded.contains(&d) {
                guarded.push(d);
            }
        }
        ManagerLoader {
            target: LoadTarget {
                name: mgr.device().name().to_string(),
                manager: mgr.device().name().to_string(),
                guarded,
            },
            mgr: mgr.clone(),
            image,
        }
    }
}

#[async_trait]
impl ImageLoader for ManagerLoader {
    type Error = FpgaError;
    type Session = Option<ManagerLock>;

    fn target(&self) -> &LoadTarget {
        &self.target
    }

    async fn check(&self) -> Result<()> {
        if self.mgr.is_locked() {
            return Err(FpgaError::busy(
                self.mgr.device().name(),
                "manager is locked",
            ));
        }
        Ok(())
    }

    async fn acquire(&self, obs: &dyn Observer) -> Result<Self::Session> {
        let lock = self.mgr.get()?.lock()?;
        obs.step(&Step::ManagerLocked {
            manager: self.mgr.device().name().to_string(),
        });
        Ok(Some(lock))
    }

    async fn load(
        &self,
        session: &mut Self::Session,
        obs: &dyn Observer,
    ) -> std::result::Result<Loaded, LoadFailed<FpgaError>> {
        let Some(lock) = session.as_ref() else {
            return Err(LoadFailed {
                error: FpgaError::invalid(self.mgr.device().name(), "not acquired"),
                touched: false,
            });
        };
        let started = Instant::now();
        let mut info = self.image.clone();
        let bytes = info.size_hint().unwrap_or(0) as u64;
        let progress = |written, total| obs.step(&Step::Loading { written, total });
        match lock.load_with_progress(&mut info, &progress).await {
            Ok(()) => {
                obs.step(&Step::Loaded {
                    state: self.mgr.state(),
                });
                Ok(loaded_now(&self.mgr, bytes, started).await)
            }
            // A load that got as far as the manager may have changed the
            // FPGA.
            Err(error) => Err(LoadFailed {
                touched: !matches!(error, FpgaError::Invalid { .. }),
                error,
            }),
        }
    }

    async fn state(&self) -> Option<(MgrState, MgrStatus)> {
        Some((self.mgr.state(), status_of(&self.mgr).await))
    }
}
