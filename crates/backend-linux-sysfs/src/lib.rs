//! # backend-linux-sysfs
//!
//! Reads and drives the real kernel's device links and FPGA classes through
//! `/sys` and configfs. **Not implemented yet** (issue 4): no public API so far.
