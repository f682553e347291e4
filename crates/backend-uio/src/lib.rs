//! # backend-uio
//!
//! Register-level device and FPGA access through `/dev/uioN`. **Not
//! implemented yet** (issue 5): no public API so far.
