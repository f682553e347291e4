//! # backend-uio
//!
//! Register-level device and FPGA access through `/dev/uioN` (spec
//! `uio.md`): discovery of UIO devices under a configurable sysfs root,
//! `open` by number, name or parent with an exclusive advisory lock,
//! maps and `mmap` with the run-time page size, a safe bounds-checked
//! 32-bit register API, interrupts (enable, disable, blocking and async
//! wait), UIO devices as driver-core devices that a region reprogram tears
//! down and re-resolves, and the Xilinx AXI HWICAP as an `fpga-core`
//! manager driver with a PR-decoupler bridge. A simulator (`sim`, feature `sim`) with
//! a fake sysfs tree, the kernel's descriptor semantics and a HWICAP
//! register model runs all of it without hardware.
//!
//! Who calls it: `fpgactl`, applications driving user-space hardware, and
//! tests. What it never does: reach into another backend, spawn async
//! tasks (the async wait uses one helper thread per wait), or use
//! `unsafe` outside `src/sys.rs` (`mmap`/`munmap` and volatile accesses).
//!
//! The first thing a user touches: open a device and read a register.
//!
//! ```
//! use backend_uio::sim::{SimDeviceSpec, SimUio};
//! use backend_uio::{Registers, Selector};
//!
//! // On a real system: UioDevice::open(&UioRoot::default(), Selector::Name(...)).
//! let sim = SimUio::new()?;
//! sim.register(SimDeviceSpec::new("accel", "a0000000.accel").with_ram_map(0xa000_0000, 0x1000));
//! let dev = sim.open(Selector::Name("accel".into()))?;
//! assert_eq!(dev.maps()[0].addr, 0xa000_0000);
//! let regs = dev.map(0)?;
//! regs.write32(0x0, 0x1234)?;
//! assert_eq!(regs.read32(0x0)?, 0x1234);
//! assert!(regs.read32(0x1000).is_err()); // outside the map: no access
//! # Ok::<(), backend_uio::UioError>(())
//! ```

#![warn(missing_docs)]

pub mod attr;
pub mod bitstream;
mod device;
mod discover;
mod driver;
mod error;
pub mod hwicap;
mod manager;
mod port;
mod regs;
mod root;
#[cfg(feature = "sim")]
pub mod sim;
mod sys;

pub use device::{IrqEvent, UioDevice};
pub use discover::{
    read_event, read_info, read_maps, resolve, scan, Identity, MapInfo, PortInfo, Selector,
    UioInfo, MAX_MAPS,
};
pub use driver::{BoundUio, RealUio, UioDriver, UioEvent, UioProvider};
pub use error::{errno, errno_name, Result, UioError};
pub use manager::{errno_of, HwicapManager, PlatformCheck, PrDecoupler, INITIAL_HEADER};
pub use port::Readiness;
pub use regs::{Mapping, Registers};
pub use root::UioRoot;
#[doc(hidden)]
pub use sys::raw_store_loop;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
