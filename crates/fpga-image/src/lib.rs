//! # fpga-image
//!
//! What an FPGA image file is, before it goes anywhere: one answer for every
//! backend. [`identify`] recognises
//!
//! - Xilinx `.bit` (the header: design, part, date, time, data length),
//! - raw Xilinx `.bin` in either byte order (found by the sync word
//!   `AA 99 55 66` or `66 55 99 AA` at a word boundary),
//! - the simulator's `SIMBIT` (see [`simbit`]),
//!
//! checks lengths and the configuration packets (a cut or padded file, a
//! file with no frame data or no closing `DESYNC` is refused), says full or
//! partial where the format tells, and hashes it. Anything else, including
//! Intel/Altera raw binary (`.rbf`, which has no signature to recognise it
//! by honestly), text and all-zero files, is an [`ImageError`] naming what
//! is wrong; a caller that knows better passes such a file on as is.
//!
//! [`to_bin`] turns a Xilinx image into the raw `.bin` a kernel driver
//! takes, in the byte order it wants.
//!
//! ```
//! use fpga_image::{identify, Format};
//! let img = fpga_image::xilinx::synthetic_partial(8, 0x0362_D093);
//! let id = identify(&img.bit).unwrap();
//! assert_eq!(id.format, Format::Bit);
//! assert_eq!(id.part.as_deref(), Some("7a35tcpg236"));
//! assert_eq!(id.payload_offset + id.payload_len, id.size);
//! // The byte-swapped .bin is the same configuration.
//! assert_eq!(identify(&img.swapped).unwrap().format, Format::SwappedBin);
//! assert!(identify(b"hello, world\n").unwrap_err().to_string().contains("text"));
//! ```

#![warn(missing_docs)]

use sha2::{Digest, Sha256};

pub mod simbit;
pub mod xilinx;

/// The result of the parsers.
pub type Result<T> = std::result::Result<T, ImageError>;

/// A malformed or unrecognised image: the field, its byte offset, and what
/// is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} at byte {offset}: {what}")]
pub struct ImageError {
    /// The field (`header magic`, `design name`, `data length`, `format`, ...).
    pub field: &'static str,
    /// Byte offset of the field in the file.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

impl ImageError {
    /// An error at `offset` in `field`.
    pub fn new(field: &'static str, offset: usize, what: impl Into<String>) -> ImageError {
        ImageError {
            field,
            offset,
            what: what.into(),
        }
    }
}

/// The recognised formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Xilinx `.bit`: a header, then big-endian configuration words.
    Bit,
    /// Xilinx raw `.bin`, big-endian words (`AA 99 55 66`).
    Bin,
    /// Xilinx raw `.bin`, every word byte-reversed (`66 55 99 AA`), as the
    /// Zynq-7000 driver takes it.
    SwappedBin,
    /// The simulator's `SIMBIT`.
    Simbit,
}

impl Format {
    /// The name shown to users and in JSON: `bit`, `bin`,
    /// `byte-swapped bin`, `simbit`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bit => "bit",
            Format::Bin => "bin",
            Format::SwappedBin => "byte-swapped bin",
            Format::Simbit => "simbit",
        }
    }

    /// A Xilinx configuration stream (`.bit` or `.bin`).
    pub fn is_xilinx(self) -> bool {
        matches!(self, Format::Bit | Format::Bin | Format::SwappedBin)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`identify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The format.
    pub format: Format,
    /// File size in bytes.
    pub size: usize,
    /// Where the configuration data starts (after any header).
    pub payload_offset: usize,
    /// Configuration data bytes.
    pub payload_len: usize,
    /// `.bit` design name (Vivado adds `;UserID=...;Version=...`).
    pub design: Option<String>,
    /// `.bit` part name.
    pub part: Option<String>,
    /// `.bit` build date.
    pub date: Option<String>,
    /// `.bit` build time.
    pub time: Option<String>,
    /// Whether it is a partial image, where the format tells: the `SIMBIT`
    /// flag; `PARTIAL=TRUE` in a `.bit` design field. `None`: not told.
    pub partial: Option<bool>,
    /// The IDCODE the stream checks the device against, if it has one.
    pub idcode: Option<u32>,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    s
}

/// Recognises and checks a whole image file (see the crate docs).
pub fn identify(bytes: &[u8]) -> Result<Image> {
    if bytes.is_empty() {
        return Err(ImageError::new("file", 0, "empty file"));
    }
    if bytes.starts_with(simbit::MAGIC) {
        return identify_simbit(bytes);
    }
    if xilinx::detect(bytes, true).is_ok() {
        return identify_xilinx(bytes);
    }
    Err(unrecognised(bytes))
}

fn identify_simbit(bytes: &[u8]) -> Result<Image> {
    let h =
        simbit::parse_sim_header(bytes).map_err(|why| ImageError::new("SIMBIT header", 0, why))?;
    let have = bytes.len() - simbit::SIM_HEADER;
    let want = usize::try_from(h.len).unwrap_or(usize::MAX);
    if have != want {
        let what = if have < want {
            format!("truncated: the header announces {want} payload bytes, the file has {have}")
        } else {
            format!(
                "{} bytes after the {want} payload bytes the header announces",
                have - want
            )
        };
        return Err(ImageError::new("payload length", 12, what));
    }
    if simbit::crc32(&bytes[simbit::SIM_HEADER..]) != h.crc {
        return Err(ImageError::new(
            "payload CRC",
            16,
            "does not match the payload",
        ));
    }
    Ok(Image {
        format: Format::Simbit,
        size: bytes.len(),
        payload_offset: simbit::SIM_HEADER,
        payload_len: have,
        design: None,
        part: None,
        date: None,
        time: None,
        partial: Some(h.partial),
        idcode: None,
        sha256: sha256_hex(bytes),
    })
}

fn identify_xilinx(bytes: &[u8]) -> Result<Image> {
    let prefix = match xilinx::scan_prefix(bytes, bytes.len())? {
        xilinx::Scan::Done(p) => p,
        xilinx::Scan::NeedMore(n) => {
            return Err(ImageError::new(
                "data",
                bytes.len(),
                format!("truncated: {n} bytes needed"),
            ))
        }
    };
    // Every check of the stream: whole words, packets, frame data, DESYNC.
    xilinx::Bitstream::parse(bytes)?;
    let format = match prefix.format {
        xilinx::Format::Bit => Format::Bit,
        xilinx::Format::Bin => Format::Bin,
        xilinx::Format::SwappedBin => Format::SwappedBin,
    };
    let h = prefix.header;
    let partial = h
        .as_ref()
        .and_then(|h| h.design.contains("PARTIAL=TRUE").then_some(true));
    Ok(Image {
        format,
        size: bytes.len(),
        payload_offset: prefix.data_offset,
        payload_len: bytes.len() - prefix.data_offset,
        design: h.as_ref().map(|h| h.design.clone()),
        part: h.as_ref().map(|h| h.part.clone()),
        date: h.as_ref().map(|h| h.date.clone()),
        time: h.as_ref().map(|h| h.time.clone()),
        partial,
        idcode: prefix.idcode,
        sha256: sha256_hex(bytes),
    })
}

/// Why a file is no image this crate knows, said as precisely as it can.
fn unrecognised(bytes: &[u8]) -> ImageError {
    let sample = &bytes[..bytes.len().min(4096)];
    if bytes.iter().all(|&b| b == 0) {
        return ImageError::new("format", 0, "every byte is zero: not an image");
    }
    let texty = sample
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace() || b >= 0x80);
    if texty && std::str::from_utf8(sample).is_ok() {
        return ImageError::new("format", 0, "text, not an FPGA image");
    }
    ImageError::new(
        "format",
        0,
        "unknown format: no Xilinx .bit header or sync word (AA 99 55 66 or 66 55 99 AA) at a \
         word boundary, no SIMBIT header (an Intel .rbf cannot be recognised by its bytes)",
    )
}

/// The byte order a kernel driver wants its raw `.bin` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordOrder {
    /// Big-endian words, `AA 99 55 66` (what the `.bit` carries).
    BigEndian,
    /// Byte-reversed words, `66 55 99 AA` (the Zynq-7000 driver).
    Swapped,
}

/// The raw `.bin` of a Xilinx image in `order`: the `.bit` header removed
/// and the words turned as needed. `None` if `image` is not a Xilinx
/// image of `bytes`. Borrowed when nothing changes.
pub fn to_bin<'a>(
    bytes: &'a [u8],
    image: &Image,
    order: WordOrder,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    use std::borrow::Cow;
    let data = bytes.get(image.payload_offset..)?;
    let swapped_now = match image.format {
        Format::Bit | Format::Bin => false,
        Format::SwappedBin => true,
        Format::Simbit => return None,
    };
    if swapped_now == (order == WordOrder::Swapped) {
        return Some(Cow::Borrowed(data));
    }
    let mut out = data.to_vec();
    for w in out.chunks_exact_mut(4) {
        w.reverse();
    }
    Some(Cow::Owned(out))
}

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
