//! Xilinx configuration images (spec `uio.md` §2.4–§2.5): the `.bit`
//! header, raw and byte-swapped `.bin`, format detection, packet
//! constants, a streaming byte-to-word decoder, and the synthetic partial
//! image the tests use. Every parser takes outside input: none panics, and
//! every error names the field and its byte offset.

use crate::{ImageError, Result};

/// The sync word.
pub const SYNC_WORD: u32 = 0xAA99_5566;

/// Configuration packet constants (7-series numbering).
pub mod packet {
    /// Opcode NOP.
    pub const OP_NOP: u32 = 0;
    /// Opcode read.
    pub const OP_READ: u32 = 1;
    /// Opcode write.
    pub const OP_WRITE: u32 = 2;
    /// Register CRC.
    pub const REG_CRC: u32 = 0;
    /// Register FAR.
    pub const REG_FAR: u32 = 1;
    /// Register FDRI (frame data in).
    pub const REG_FDRI: u32 = 2;
    /// Register FDRO (frame data out).
    pub const REG_FDRO: u32 = 3;
    /// Register CMD.
    pub const REG_CMD: u32 = 4;
    /// Register STAT.
    pub const REG_STAT: u32 = 7;
    /// Register IDCODE.
    pub const REG_IDCODE: u32 = 12;
    /// CMD WCFG.
    pub const CMD_WCFG: u32 = 1;
    /// CMD RCRC.
    pub const CMD_RCRC: u32 = 7;
    /// CMD DESYNC.
    pub const CMD_DESYNC: u32 = 13;
    /// Type-1 NOOP.
    pub const NOOP: u32 = 0x2000_0000;
    /// Dummy/pad word.
    pub const DUMMY: u32 = 0xFFFF_FFFF;
    /// The CRC word the tools emit when CRC checking is off.
    pub const CRC_DISABLED: u32 = 0x0000_DEFC;
    /// Bus-width detection words.
    pub const BUS_WIDTH: [u32; 2] = [0x0000_00BB, 0x1122_0044];

    /// A type-1 header.
    pub const fn type1(op: u32, reg: u32, count: u32) -> u32 {
        (1 << 29) | ((op & 3) << 27) | ((reg & 0x3FFF) << 13) | (count & 0x7FF)
    }

    /// A type-2 header.
    pub const fn type2(op: u32, count: u32) -> u32 {
        (2 << 29) | ((op & 3) << 27) | (count & 0x07FF_FFFF)
    }

    /// The DESYNC sequence: leaves the port ready for the next sync.
    pub const DESYNC: [u32; 4] = [type1(OP_WRITE, REG_CMD, 1), CMD_DESYNC, NOOP, NOOP];
}

/// How the file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.bit`: key/length header, then big-endian words.
    Bit,
    /// `.bin`: big-endian words only.
    Bin,
    /// Byte-swapped `.bin` (every word byte-reversed; `*.bit.bin`).
    SwappedBin,
}

/// The `.bit` header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitHeader {
    /// Key `a`: design name (with Vivado's `;UserID=...;Version=...`).
    pub design: String,
    /// Key `b`: part name.
    pub part: String,
    /// Key `c`: build date.
    pub date: String,
    /// Key `d`: build time.
    pub time: String,
    /// Key `e`: length of the configuration data.
    pub data_len: usize,
    /// Byte offset of the configuration data.
    pub data_offset: usize,
}

/// A parse that may need more bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan<T> {
    /// Parsed.
    Done(T),
    /// The prefix is too short: give at least this many bytes.
    NeedMore(usize),
}

const BIT_MAGIC: [u8; 13] = [
    0, 9, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0, 0, 1,
];

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    complete: bool,
}

enum Short {
    Need(usize),
    Bad(ImageError),
}

impl From<ImageError> for Short {
    fn from(e: ImageError) -> Short {
        Short::Bad(e)
    }
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, field: &'static str) -> std::result::Result<&[u8], Short> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| Short::Bad(ImageError::new(field, self.pos, "length overflows")))?;
        if end > self.buf.len() {
            return Err(if self.complete {
                Short::Bad(ImageError::new(
                    field,
                    self.pos,
                    format!("file ends after {} bytes, {n} more needed", self.buf.len()),
                ))
            } else {
                Short::Need(end)
            });
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self, field: &'static str) -> std::result::Result<usize, Short> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn string(&mut self, key: u8, field: &'static str) -> std::result::Result<String, Short> {
        let at = self.pos;
        let k = self.take(1, field)?[0];
        if k != key {
            return Err(Short::Bad(ImageError::new(
                field,
                at,
                format!("key {:?} expected, found byte {k:#04x}", key as char),
            )));
        }
        let n = self.u16(field)?;
        let at = self.pos;
        let s = self.take(n, field)?;
        match s.split_last() {
            Some((0, body)) if !body.contains(&0) => Ok(String::from_utf8_lossy(body).into_owned()),
            _ => Err(Short::Bad(ImageError::new(
                field,
                at,
                "string is not NUL-terminated (its length must include the NUL)",
            ))),
        }
    }
}

/// Parses the `.bit` header at the start of `buf`. With `total` (the
/// file's full length) the data length is checked against it: `e` must be
/// exactly the bytes that remain, a multiple of 4. Without it (`buf` is a
/// prefix), [`Scan::NeedMore`] asks for more bytes.
pub fn parse_bit_header(buf: &[u8], total: Option<usize>) -> Result<Scan<BitHeader>> {
    let complete = total.is_some_and(|t| t <= buf.len());
    let mut c = Cursor {
        buf,
        pos: 0,
        complete,
    };
    let r = (|| -> std::result::Result<BitHeader, Short> {
        let magic = c.take(BIT_MAGIC.len(), "header magic")?;
        if magic != BIT_MAGIC {
            return Err(Short::Bad(ImageError::new(
                "header magic",
                0,
                "not 00 09 0F F0 0F F0 0F F0 0F F0 00 00 01",
            )));
        }
        let design = c.string(b'a', "design name")?;
        let part = c.string(b'b', "part name")?;
        let date = c.string(b'c', "build date")?;
        let time = c.string(b'd', "build time")?;
        let at = c.pos;
        let k = c.take(1, "data length")?[0];
        if k != b'e' {
            return Err(Short::Bad(ImageError::new(
                "data length",
                at,
                format!("key 'e' expected, found byte {k:#04x}"),
            )));
        }
        let b = c.take(4, "data length")?;
        let data_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let data_offset = c.pos;
        if let Some(total) = total {
            let remaining = total.saturating_sub(data_offset);
            if data_len != remaining {
                let what = if data_len > remaining {
                    format!("says {data_len} bytes of data, the file has {remaining} (truncated)")
                } else {
                    format!(
                        "says {data_len} bytes of data, {} trailing bytes follow",
                        remaining - data_len
                    )
                };
                return Err(Short::Bad(ImageError::new("data length", at, what)));
            }
            if data_len % 4 != 0 {
                return Err(Short::Bad(ImageError::new(
                    "data length",
                    at,
                    format!("{data_len} is not a multiple of 4"),
                )));
            }
        }
        Ok(BitHeader {
            design,
            part,
            date,
            time,
            data_len,
            data_offset,
        })
    })();
    match r {
        Ok(h) => Ok(Scan::Done(h)),
        Err(Short::Need(n)) => Ok(Scan::NeedMore(n)),
        Err(Short::Bad(e)) => Err(e),
    }
}

/// Detects the format (the order is part of the API, spec §2.5): a `.bit`
/// magic first; else the first 4-byte-aligned sync word decides between
/// big-endian and swapped `.bin`. `NeedMore` if `buf` is a prefix without
/// either yet.
pub fn detect(buf: &[u8], complete: bool) -> Result<Scan<Format>> {
    if buf.len() >= 4 && buf[..4] == BIT_MAGIC[..4] {
        return Ok(Scan::Done(Format::Bit));
    }
    if buf.len() < 4 && !complete {
        return Ok(Scan::NeedMore(4));
    }
    for w in buf.chunks_exact(4) {
        match w {
            [0xAA, 0x99, 0x55, 0x66] => return Ok(Scan::Done(Format::Bin)),
            [0x66, 0x55, 0x99, 0xAA] => return Ok(Scan::Done(Format::SwappedBin)),
            _ => {}
        }
    }
    if complete {
        Err(ImageError::new(
            "sync word",
            0,
            "no sync word (AA 99 55 66 or 66 55 99 AA) at a 4-byte boundary",
        ))
    } else {
        Ok(Scan::NeedMore(buf.len().max(64) * 2))
    }
}

/// What the start of an image says, enough to check it before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// The format.
    pub format: Format,
    /// The `.bit` header, if any.
    pub header: Option<BitHeader>,
    /// Where the configuration words start.
    pub data_offset: usize,
    /// The IDCODE the stream writes before its frame data, if any.
    pub idcode: Option<u32>,
    /// Bytes of the image that were needed to find all this.
    pub scanned: usize,
}

/// Scans the start of an image of `total` bytes (`buf` may be all of it or
/// a prefix): format, header, data length rules, and the IDCODE packet
/// (looked for up to the first frame-data write).
pub fn scan_prefix(buf: &[u8], total: usize) -> Result<Scan<Prefix>> {
    let complete = buf.len() >= total;
    let buf = &buf[..buf.len().min(total)];
    let format = match detect(buf, complete)? {
        Scan::Done(f) => f,
        Scan::NeedMore(n) => return Ok(Scan::NeedMore(n.min(total))),
    };
    let (header, data_offset) = if format == Format::Bit {
        match parse_bit_header(buf, Some(total))? {
            Scan::Done(h) => {
                let off = h.data_offset;
                (Some(h), off)
            }
            Scan::NeedMore(n) => return Ok(Scan::NeedMore(n.min(total))),
        }
    } else {
        if total % 4 != 0 {
            return Err(ImageError::new(
                "file length",
                total,
                format!("{total} bytes is not a multiple of 4"),
            ));
        }
        (None, 0)
    };
    let swapped = format == Format::SwappedBin;
    let word = |i: usize| -> Option<u32> {
        let b = buf.get(data_offset + 4 * i..data_offset + 4 * i + 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if swapped {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    // Walk the packets after the sync word until IDCODE or frame data.
    let mut i = 0usize;
    let mut synced = false;
    let mut last_reg = 0;
    let idcode = loop {
        let Some(w) = word(i) else {
            if complete || data_offset + 4 * i >= total {
                break None;
            }
            return Ok(Scan::NeedMore((data_offset + 4 * i + 256).min(total)));
        };
        i += 1;
        if !synced {
            synced = w == SYNC_WORD;
            continue;
        }
        let (op, reg, count) = match w >> 29 {
            1 => ((w >> 27) & 3, (w >> 13) & 0x3FFF, (w & 0x7FF) as usize),
            2 => ((w >> 27) & 3, last_reg, (w & 0x07FF_FFFF) as usize),
            _ => break None,
        };
        last_reg = reg;
        if op == packet::OP_WRITE && reg == packet::REG_IDCODE && count == 1 {
            match word(i) {
                Some(id) => break Some(id),
                None if complete => break None,
                None => return Ok(Scan::NeedMore((data_offset + 4 * i + 4).min(total))),
            }
        }
        if op == packet::OP_WRITE && reg == packet::REG_FDRI && count > 0 {
            break None;
        }
        if op == packet::OP_WRITE {
            i = i.saturating_add(count);
        }
    };
    Ok(Scan::Done(Prefix {
        format,
        header,
        data_offset,
        idcode,
        scanned: (data_offset + 4 * i).min(total),
    }))
}

/// Turns file bytes into configuration words in any chunking, carrying up
/// to 3 bytes between chunks, after skipping the header bytes.
#[derive(Debug, Clone)]
pub struct WordStream {
    swapped: bool,
    skip: usize,
    carry: [u8; 4],
    carry_len: usize,
    bytes: u64,
}

impl WordStream {
    /// A decoder for `format` whose words start at byte `data_offset`.
    pub fn new(format: Format, data_offset: usize) -> WordStream {
        WordStream {
            swapped: format == Format::SwappedBin,
            skip: data_offset,
            carry: [0; 4],
            carry_len: 0,
            bytes: 0,
        }
    }

    fn word(&self, b: [u8; 4]) -> u32 {
        if self.swapped {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    /// Appends the words completed by `chunk` to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<u32>) {
        self.bytes += chunk.len() as u64;
        if self.skip > 0 {
            let s = self.skip.min(chunk.len());
            chunk = &chunk[s..];
            self.skip -= s;
        }
        if self.carry_len > 0 {
            let take = (4 - self.carry_len).min(chunk.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&chunk[..take]);
            self.carry_len += take;
            chunk = &chunk[take..];
            if self.carry_len < 4 {
                return;
            }
            out.push(self.word(self.carry));
            self.carry_len = 0;
        }
        let mut words = chunk.chunks_exact(4);
        out.extend(words.by_ref().map(|b| self.word([b[0], b[1], b[2], b[3]])));
        let rest = words.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
    }

    /// Bytes pushed so far (header included).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Fails if a partial word is left over.
    pub fn finish(&self) -> Result<()> {
        if self.carry_len != 0 || self.skip != 0 {
            return Err(ImageError::new(
                "data",
                self.bytes as usize,
                format!("image ends inside a word ({} stray bytes)", self.carry_len),
            ));
        }
        Ok(())
    }
}

/// A whole image, parsed: every check of §2.5, then its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitstream {
    /// The format.
    pub format: Format,
    /// The `.bit` header, if any.
    pub header: Option<BitHeader>,
    /// The configuration words.
    pub words: Vec<u32>,
}

impl Bitstream {
    /// Parses a complete file.
    ///
    /// ```
    /// use fpga_image::xilinx::{synthetic_partial, Bitstream, Format};
    /// let img = synthetic_partial(8, 0x0362_D093);
    /// let b = Bitstream::parse(&img.bit).unwrap();
    /// assert_eq!(b.format, Format::Bit);
    /// assert_eq!(b.header.unwrap().part, "7a35tcpg236");
    /// assert_eq!(b.words, Bitstream::parse(&img.swapped).unwrap().words);
    /// ```
    pub fn parse(file: &[u8]) -> Result<Bitstream> {
        let p = match scan_prefix(file, file.len())? {
            Scan::Done(p) => p,
            Scan::NeedMore(n) => {
                return Err(ImageError::new(
                    "data",
                    file.len(),
                    format!("truncated: {n} bytes needed"),
                ))
            }
        };
        let mut ws = WordStream::new(p.format, p.data_offset);
        let mut words = Vec::with_capacity(file.len() / 4);
        ws.push(file, &mut words);
        ws.finish()?;
        check_packets(&words, p.data_offset)?;
        Ok(Bitstream {
            format: p.format,
            header: p.header,
            words,
        })
    }
}

/// Checks the whole packet stream before anything reaches a register:
/// after the sync word every word is a type-1 or type-2 packet header
/// whose payload is all there; frame data (an FDRI write) is present; the
/// stream ends with DESYNC, after which only NOOPs may follow. `base` is
/// the file offset of `words[0]`, for the errors.
pub fn check_packets(words: &[u32], base: usize) -> Result<()> {
    use packet::*;
    let at = |i: usize| base + 4 * i;
    let Some(sync) = words.iter().position(|&w| w == SYNC_WORD) else {
        return Err(ImageError::new("sync word", base, "no sync word"));
    };
    let mut i = sync + 1;
    let mut last_reg = None;
    let mut frames = false;
    let mut desync = None;
    while i < words.len() {
        let w = words[i];
        if desync.is_some() {
            if w != NOOP {
                let rest = 4 * (words.len() - i);
                return Err(ImageError::new(
                    "trailing data",
                    at(i),
                    format!("{rest} bytes after the DESYNC command that are not NOOPs (is the file cut from a larger one?)"),
                ));
            }
            i += 1;
            continue;
        }
        let (op, reg, count) = match w >> 29 {
            1 => (
                (w >> 27) & 3,
                Some((w >> 13) & 0x3FFF),
                (w & 0x7FF) as usize,
            ),
            2 => match last_reg {
                Some(r) => ((w >> 27) & 3, Some(r), (w & 0x07FF_FFFF) as usize),
                None => {
                    return Err(ImageError::new(
                        "packet",
                        at(i),
                        format!("type-2 packet {w:#010x} with no type-1 packet before it"),
                    ))
                }
            },
            _ => {
                return Err(ImageError::new(
                    "packet",
                    at(i),
                    format!("{w:#010x} is not a configuration packet (type 1 or 2)"),
                ))
            }
        };
        last_reg = reg;
        let payload = if op == OP_WRITE { count } else { 0 };
        let end = i + 1 + payload;
        if end > words.len() {
            return Err(ImageError::new(
                "packet",
                at(i),
                format!(
                    "a write of {payload} words, {} of them missing: the file is cut",
                    end - words.len()
                ),
            ));
        }
        if op == OP_WRITE && reg == Some(REG_FDRI) && payload > 0 {
            frames = true;
        }
        if op == OP_WRITE && reg == Some(REG_CMD) && payload == 1 && words[i + 1] == CMD_DESYNC {
            desync = Some(i);
        }
        i = end;
    }
    if !frames {
        return Err(ImageError::new(
            "frame data",
            at(words.len()),
            "no frame data (FDRI write): nothing would be configured",
        ));
    }
    if desync.is_none() {
        return Err(ImageError::new(
            "end",
            at(words.len()),
            "the stream does not end with DESYNC: the file is cut",
        ));
    }
    Ok(())
}

/// The synthetic partial image of spec §2.5, in its three file forms.
#[derive(Debug, Clone)]
pub struct SyntheticImage {
    /// The configuration words.
    pub words: Vec<u32>,
    /// As `.bit`.
    pub bit: Vec<u8>,
    /// As big-endian `.bin`.
    pub bin: Vec<u8>,
    /// As byte-swapped `.bin`.
    pub swapped: Vec<u8>,
    /// The number of FDRI words (`n`).
    pub frames: usize,
}

/// The design name of the synthetic image.
pub const SYNTHETIC_DESIGN: &str = "rp0_rm1;UserID=0XFFFFFFFF;Version=2023.2";

/// The configuration words of the synthetic image with `n` FDRI words.
pub fn synthetic_words(n: usize, idcode: u32) -> Vec<u32> {
    use packet::*;
    let mut w = vec![DUMMY; 8];
    w.extend(BUS_WIDTH);
    w.extend([DUMMY, DUMMY, SYNC_WORD, NOOP]);
    w.extend([type1(OP_WRITE, REG_CMD, 1), CMD_RCRC]);
    w.extend([type1(OP_WRITE, REG_IDCODE, 1), idcode]);
    w.extend([type1(OP_WRITE, REG_FAR, 1), 0x0040_0000]);
    w.extend([type1(OP_WRITE, REG_CMD, 1), CMD_WCFG]);
    w.extend([type1(OP_WRITE, REG_FDRI, 0), type2(OP_WRITE, n as u32)]);
    w.extend((0..n as u32).map(|i| i.wrapping_mul(0x9E37_79B9)));
    w.extend([type1(OP_WRITE, REG_CRC, 1), CRC_DISABLED]);
    w.extend([type1(OP_WRITE, REG_CMD, 1), CMD_DESYNC]);
    w.extend([NOOP; 4]);
    w
}

fn push_string(out: &mut Vec<u8>, key: u8, s: &str) {
    out.push(key);
    out.extend(((s.len() + 1) as u16).to_be_bytes());
    out.extend(s.as_bytes());
    out.push(0);
}

/// A `.bit` file around `words`.
pub fn bit_file(words: &[u32], design: &str, part: &str, date: &str, time: &str) -> Vec<u8> {
    let mut out = BIT_MAGIC.to_vec();
    push_string(&mut out, b'a', design);
    push_string(&mut out, b'b', part);
    push_string(&mut out, b'c', date);
    push_string(&mut out, b'd', time);
    out.push(b'e');
    out.extend(((words.len() * 4) as u32).to_be_bytes());
    out.extend(words.iter().flat_map(|w| w.to_be_bytes()));
    out
}

/// The synthetic partial image of §2.5 with `n` frame-data words.
pub fn synthetic_partial(n: usize, idcode: u32) -> SyntheticImage {
    let words = synthetic_words(n, idcode);
    SyntheticImage {
        bit: bit_file(
            &words,
            SYNTHETIC_DESIGN,
            "7a35tcpg236",
            "2024/01/31",
            "12:00:00",
        ),
        bin: words.iter().flat_map(|w| w.to_be_bytes()).collect(),
        swapped: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
        words,
        frames: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No input makes the parsers panic.
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
            let _ = Bitstream::parse(&data);
            let cut = cut.min(data.len());
            let _ = scan_prefix(&data[..cut], data.len());
            let _ = parse_bit_header(&data[..cut], None);
            let _ = detect(&data[..cut], false);
        }

        /// A valid image parses whatever its header strings; every
        /// truncation of it is an error, never a panic or a success.
        #[test]
        fn header_round_trips_and_truncation_fails(
            design in "[a-z0-9_;=.]{1,40}", part in "[a-z0-9]{1,12}", n in 1usize..16, cut in 0usize..200,
        ) {
            let words = synthetic_words(n, 0x0362_D093);
            let file = bit_file(&words, &design, &part, "2024/01/31", "12:00:00");
            let b = Bitstream::parse(&file).unwrap();
            let h = b.header.unwrap();
            prop_assert_eq!(h.design, design);
            prop_assert_eq!(h.part, part);
            prop_assert_eq!(b.words, words);
            let cut = cut.min(file.len() - 1);
            prop_assert!(Bitstream::parse(&file[..cut]).is_err());
        }

        /// Any chunking gives the same words.
        #[test]
        fn stream_chunking_is_invisible(n in 0usize..64, chunk in 1usize..40) {
            let img = synthetic_partial(n, 0x0362_D093);
            for file in [&img.bit, &img.bin, &img.swapped] {
                let p = match scan_prefix(file, file.len()).unwrap() { Scan::Done(p) => p, Scan::NeedMore(_) => unreachable!() };
                let mut ws = WordStream::new(p.format, p.data_offset);
                let mut out = Vec::new();
                for c in file.chunks(chunk) { ws.push(c, &mut out); }
                ws.finish().unwrap();
                prop_assert_eq!(&out, &img.words);
            }
        }
    }
}
