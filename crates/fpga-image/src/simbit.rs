//! The simulator's image format, `SIMBIT`: a 24-byte header (magic
//! `SIMBIT01`, flags as a little-endian `u32` with bit 0 = partial, the
//! payload length and the payload's CRC-32, both little-endian `u32`, then
//! the sync word `AA 99 55 66`), then the payload.

/// Header length of a `SIMBIT` image.
pub const SIM_HEADER: usize = 24;
pub(crate) const MAGIC: &[u8; 8] = b"SIMBIT01";
const SYNC: [u8; 4] = [0xAA, 0x99, 0x55, 0x66];

/// CRC-32 (IEEE 802.3, reflected), bitwise with a 256-entry table.
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0xFFFF_FFFF, data) ^ 0xFFFF_FFFF
}

fn crc32_table() -> &'static [u32; 256] {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    })
}

/// Continues a CRC-32 (start from `0xFFFF_FFFF`, finish by xor with it).
pub fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    let t = crc32_table();
    for &b in data {
        crc = t[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc
}

/// Builds a `SIMBIT` image around `payload`.
///
/// ```
/// let img = fpga_image::simbit::sim_image(&[1, 2, 3], false);
/// assert_eq!(&img[..8], b"SIMBIT01");
/// assert_eq!(img.len(), fpga_image::simbit::SIM_HEADER + 3);
/// ```
pub fn sim_image(payload: &[u8], partial: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(SIM_HEADER + payload.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&u32::from(partial).to_le_bytes());
    v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    v.extend_from_slice(&crc32(payload).to_le_bytes());
    v.extend_from_slice(&SYNC);
    v.extend_from_slice(payload);
    v
}

/// A parsed `SIMBIT` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimHeader {
    /// Partial image.
    pub partial: bool,
    /// Payload bytes.
    pub len: u32,
    /// CRC-32 of the payload.
    pub crc: u32,
}

/// Parses a `SIMBIT` header; the error says what is wrong.
pub fn parse_sim_header(buf: &[u8]) -> Result<SimHeader, String> {
    if buf.len() < SIM_HEADER {
        return Err(format!(
            "header truncated: {} of {SIM_HEADER} bytes",
            buf.len()
        ));
    }
    if &buf[..8] != MAGIC {
        return Err("bad magic (not a SIMBIT image)".into());
    }
    if buf[20..24] != SYNC {
        return Err("sync word AA995566 missing".into());
    }
    let word = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
    let flags = word(8);
    if flags & !1 != 0 {
        return Err(format!("unknown header flags {flags:#x}"));
    }
    let len = word(12);
    if len == 0 {
        return Err("no payload (length 0): nothing to configure".into());
    }
    Ok(SimHeader {
        partial: flags & 1 != 0,
        len,
        crc: word(16),
    })
}
