//! # fpga-core
//!
//! The Linux FPGA subsystem (managers, bridges, regions) in user space, on
//! top of `devlink-core`. **Not implemented yet** (issue 3): this crate has no
//! public API so far, so nothing can mistake it for working code.
