//! The live-kernel backend on a fake kernel: the conformance board as the
//! simulator writes it out in the kernel's sysfs layout, driven through
//! `backend-linux-sysfs` while a thread answers the writes as the kernel
//! does.

use crate::fake_kernel::FakeKernel;
use crate::{NotApplicable, Rig, BOARD};
use async_trait::async_trait;
use backend_linux_sysfs::{FirmwareLoader, Kernel, ManagerLockFile};
use backend_sim::Scenario;
use fpga_core::{FpgaView, ImageFlags};
use std::any::Any;

/// The fake-kernel rig.
pub struct SysfsRig {
    /// The fake kernel (stopped when the rig drops).
    pub fake: FakeKernel,
    kernel: Kernel,
    view: FpgaView,
    names: crate::Names,
}

impl SysfsRig {
    /// The conformance board on a fake kernel.
    pub fn new() -> SysfsRig {
        let board = futures::executor::block_on(
            Scenario::parse(BOARD)
                .expect("the conformance board parses")
                .build(),
        )
        .expect("and builds");
        let fake = FakeKernel::start(&board);
        let kernel = fake.kernel();
        let view = kernel.read_fpga().expect("the fake kernel's FPGA classes");
        SysfsRig {
            fake,
            kernel,
            view,
            names: crate::Names::standard(),
        }
    }

    fn image(good: bool) -> Vec<u8> {
        if good {
            b"GOOD image".to_vec()
        } else {
            b"BAD-CRC image".to_vec()
        }
    }
}

impl Default for SysfsRig {
    fn default() -> Self {
        SysfsRig::new()
    }
}

#[async_trait(?Send)]
impl Rig for SysfsRig {
    type Model = Kernel;
    type Loader = FirmwareLoader;

    fn name(&self) -> &'static str {
        "sysfs (fake kernel)"
    }

    fn names(&self) -> &crate::Names {
        &self.names
    }

    fn model(&self) -> &Kernel {
        &self.kernel
    }

    async fn fpga(&self) -> Result<FpgaView, String> {
        self.kernel.read_fpga().map_err(|e| e.to_string())
    }

    fn region_loader(&self, good: bool) -> FirmwareLoader {
        let target = self
            .view
            .region_target(&self.view.regions[0])
            .expect("one manager: the region's is known");
        FirmwareLoader::new(
            &self.kernel,
            target,
            Self::image(good),
            ImageFlags::empty(),
            None,
        )
    }

    fn manager_loader(&self, good: bool) -> FirmwareLoader {
        let target = self.view.manager_target(&self.view.managers[0]);
        FirmwareLoader::new(
            &self.kernel,
            target,
            Self::image(good),
            ImageFlags::empty(),
            None,
        )
    }

    fn hold_manager(&self) -> Result<Box<dyn Any>, NotApplicable> {
        // Another open file description: the same conflict as another
        // process's (flock locks are per description).
        let lock =
            ManagerLockFile::acquire(self.kernel.root(), "fpga0").map_err(|e| e.to_string())?;
        Ok(Box::new(lock))
    }

    fn leak_on_remove(&self, _device: &str) -> Result<(), NotApplicable> {
        Err("a kernel does not show device reference counts to user space".into())
    }

    fn stall_removal(&self) -> Result<(Box<dyn Any>, String), NotApplicable> {
        // A link left in a transition nothing ends.
        let name = format!("{}--{}", self.names.region_host, self.names.uart);
        self.fake.stick_link(&name, "consumer probing");
        Ok((Box::new(()), name))
    }

    fn leftovers(&self) -> Vec<String> {
        self.fake.firmware_files()
    }
}
