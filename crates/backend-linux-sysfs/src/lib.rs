//! # backend-linux-sysfs
//!
//! The real kernel's driver model, read through `/sys`: devices with bus,
//! driver, parent and firmware node; every `/sys/class/devlink` entry with
//! all its attributes and its `supplier`/`consumer` ends;
//! `waiting_for_supplier`; the FPGA manager, bridge and region classes.
//! Strings map to the enums the core crates use, and an unknown string is
//! an error naming the file and the text, never a panic or a silent
//! default. Every path hangs off a [`SysfsRoot`], so tests run on fixture
//! trees and the same code runs on a real machine.
//!
//! ```
//! use backend_linux_sysfs::{Snapshot, SysfsRoot};
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::create_dir_all(dir.path().join("class/devlink")).unwrap();
//! let snap = Snapshot::read(&SysfsRoot::at(dir.path())).unwrap();
//! for link in snap.links.values() {
//!     println!("{} is {}", link.name, link.status);
//! }
//! ```
//!
//! Not yet: driving (bind/unbind through the bus's files, the removal
//! wait), the Xilinx `firmware` manager ops, configfs overlays.

#![warn(missing_docs)]

mod attr;
mod error;
mod query;
mod root;
mod scan;

pub use attr::AutoRemove;
pub use error::{Result, SysfsError};
pub use query::Missing;
pub use root::SysfsRoot;
pub use scan::{Snapshot, SysBridge, SysDevice, SysLink, SysManager, SysRegion};

/// The attribute parsers, public for fuzzing and for tools that read one
/// file at a time.
pub mod parse {
    pub use crate::attr::{
        auto_remove_on, bool01, bridge_state, compat_id, link_status, mgr_state, mgr_status, name,
        one_line,
    };
}
