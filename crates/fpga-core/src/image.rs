//! Image info (`struct fpga_image_info`) and scatter tables.

use crate::state::ImageFlags;
use bytes::Bytes;
use devlink_core::Device;

/// An image split into segments (`struct sg_table`). Segments are
/// `Bytes`, so a table made from a buffer borrows it: no copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScatterTable {
    segments: Vec<Bytes>,
}

impl ScatterTable {
    /// A table of the given segments (empty ones are kept as given).
    pub fn new(segments: Vec<Bytes>) -> ScatterTable {
        ScatterTable { segments }
    }

    /// Splits `buf` into segments of at most `chunk` bytes, sharing its
    /// memory.
    pub fn from_buffer(buf: &Bytes, chunk: usize) -> ScatterTable {
        let chunk = chunk.max(1);
        let mut segments = Vec::with_capacity(buf.len().div_ceil(chunk));
        let mut off = 0;
        while off < buf.len() {
            let end = (off + chunk).min(buf.len());
            segments.push(buf.slice(off..end));
            off = end;
        }
        ScatterTable { segments }
    }

    /// The segments.
    pub fn segments(&self) -> &[Bytes] {
        &self.segments
    }

    /// Total bytes.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Bytes::len).sum()
    }

    /// Whether the table holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the first `n` bytes (for assembling a scattered header);
    /// `None` if the table is shorter.
    pub fn head(&self, n: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        for s in &self.segments {
            if out.len() == n {
                break;
            }
            let take = (n - out.len()).min(s.len());
            out.extend_from_slice(&s[..take]);
        }
        (out.len() == n).then_some(out)
    }

    /// Copies every byte into one buffer (tests and tools only).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for s in &self.segments {
            out.extend_from_slice(s);
        }
        out
    }
}

/// What to load and how (`struct fpga_image_info`). Exactly like the
/// kernel's, several sources may be set; `load` uses the scatter table,
/// else the buffer (if non-empty), else the firmware name.
///
/// ```
/// use fpga_core::{ImageInfo, ImageFlags};
/// let info = ImageInfo::from_buffer(vec![0xAA; 16]).with_flags(ImageFlags::PARTIAL_RECONFIG);
/// assert_eq!(info.buf.as_ref().unwrap().len(), 16);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    /// Image flags.
    pub flags: ImageFlags,
    /// Time bridges may take to enable traffic.
    pub enable_timeout_us: u32,
    /// Time bridges may take to disable traffic.
    pub disable_timeout_us: u32,
    /// Time the FPGA may take to become operational in `write_complete`.
    pub config_complete_timeout_us: u32,
    /// Image file name relative to the firmware search path.
    pub firmware_name: Option<String>,
    /// The image as a scatter table.
    pub sgt: Option<ScatterTable>,
    /// The image as one buffer.
    pub buf: Option<Bytes>,
    /// Header size: reset to the backend's `initial_header_size` at every
    /// load, then possibly changed by `parse_header`.
    pub header_size: usize,
    /// Payload size; 0 = to the end. Not reset between loads (spec §9.8).
    pub data_size: usize,
    /// Target region id (for upper layers).
    pub region_id: u32,
    /// \[xlnx\] user AES key (64 hex characters) from the sysfs `key`.
    pub key: Option<String>,
    /// \[of\] The overlay node the info was built from (device-tree
    /// layer): its `fpga-bridges` take precedence over the region's.
    pub overlay: Option<devlink_core::FwNode>,
    /// The device the info was allocated for (`fpga_image_info_alloc`):
    /// a device reference held as long as the info lives.
    pub dev: Option<Device>,
    /// What the image is, if the caller knows (not in the kernel's
    /// struct): a successful load records it as the manager's loaded image.
    pub identity: Option<crate::ImageIdentity>,
}

impl ImageInfo {
    /// `fpga_image_info_alloc(dev)`: an empty info pinning `dev`.
    pub fn alloc(dev: &Device) -> ImageInfo {
        ImageInfo {
            dev: Some(dev.clone()),
            ..ImageInfo::default()
        }
    }

    /// An info whose image is `buf` (no copy for `Vec<u8>` or `Bytes`).
    pub fn from_buffer(buf: impl Into<Bytes>) -> ImageInfo {
        ImageInfo {
            buf: Some(buf.into()),
            ..ImageInfo::default()
        }
    }

    /// An info whose image is a scatter table.
    pub fn from_table(sgt: ScatterTable) -> ImageInfo {
        ImageInfo {
            sgt: Some(sgt),
            ..ImageInfo::default()
        }
    }

    /// An info naming a firmware file.
    pub fn from_firmware(name: &str) -> ImageInfo {
        ImageInfo {
            firmware_name: Some(name.to_string()),
            ..ImageInfo::default()
        }
    }

    /// Sets the flags.
    pub fn with_flags(mut self, flags: ImageFlags) -> ImageInfo {
        self.flags = flags;
        self
    }

    /// With what the image is: a successful load records it.
    pub fn with_identity(mut self, identity: crate::ImageIdentity) -> ImageInfo {
        self.identity = Some(identity);
        self
    }

    /// The image size, when known without reading a file.
    pub fn size_hint(&self) -> Option<usize> {
        if let Some(t) = &self.sgt {
            return Some(t.len());
        }
        self.buf.as_ref().filter(|b| !b.is_empty()).map(Bytes::len)
    }
}
