//! Bitstream files (spec `uio.md` §2.4–§2.5): the Xilinx image parsers of
//! [`fpga_image::xilinx`], the one module every backend and fpgactl use,
//! re-exported here under the name this crate has always used. Their
//! [`ImageError`](fpga_image::ImageError) becomes
//! [`UioError::Bitstream`](crate::UioError::Bitstream).

pub use fpga_image::xilinx::*;
