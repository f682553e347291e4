//! What `identify` says of the files users have: each format, each way a
//! file goes wrong, and the conversion to a kernel's `.bin`.

use fpga_image::simbit::sim_image;
use fpga_image::xilinx::{bit_file, synthetic_partial, synthetic_words, SYNTHETIC_DESIGN};
use fpga_image::{identify, sha256_hex, to_bin, Format, WordOrder};
use proptest::prelude::*;

const IDCODE: u32 = 0x0362_D093;

#[test]
fn a_bit_file_gives_its_header_fields() {
    let img = synthetic_partial(16, IDCODE);
    let id = identify(&img.bit).unwrap();
    assert_eq!(id.format, Format::Bit);
    assert_eq!(id.design.as_deref(), Some(SYNTHETIC_DESIGN));
    assert_eq!(id.part.as_deref(), Some("7a35tcpg236"));
    assert!(id.date.is_some() && id.time.is_some());
    assert_eq!(id.payload_len, img.words.len() * 4);
    assert_eq!(id.payload_offset + id.payload_len, img.bit.len());
    assert_eq!(id.idcode, Some(IDCODE));
    assert_eq!(
        id.partial, None,
        "no PARTIAL=TRUE in the design field: not told"
    );
    assert_eq!(id.sha256, sha256_hex(&img.bit));
}

#[test]
fn partial_is_read_from_the_design_field() {
    let words = synthetic_words(4, IDCODE);
    let bit = bit_file(
        &words,
        "rp0;PARTIAL=TRUE;Version=2023.2",
        "xc7z020",
        "2026/12/01",
        "10:00:00",
    );
    assert_eq!(identify(&bit).unwrap().partial, Some(true));
}

#[test]
fn bins_in_both_byte_orders() {
    let img = synthetic_partial(16, IDCODE);
    let bin = identify(&img.bin).unwrap();
    let swapped = identify(&img.swapped).unwrap();
    assert_eq!(
        (bin.format, swapped.format),
        (Format::Bin, Format::SwappedBin)
    );
    assert_eq!((bin.payload_offset, swapped.payload_offset), (0, 0));
    assert_eq!(bin.part, None);
    assert_eq!(bin.idcode, Some(IDCODE));
    assert_eq!(swapped.idcode, Some(IDCODE));
}

#[test]
fn conversion_to_the_bin_a_driver_takes() {
    let img = synthetic_partial(16, IDCODE);
    for (file, fmt) in [
        (&img.bit, Format::Bit),
        (&img.bin, Format::Bin),
        (&img.swapped, Format::SwappedBin),
    ] {
        let id = identify(file).unwrap();
        assert_eq!(id.format, fmt);
        let be = to_bin(file, &id, WordOrder::BigEndian).unwrap();
        let sw = to_bin(file, &id, WordOrder::Swapped).unwrap();
        assert_eq!(&*be, &img.bin[..], "{fmt} to big-endian");
        assert_eq!(&*sw, &img.swapped[..], "{fmt} to swapped");
        // And the results are images of their own format.
        assert_eq!(identify(&be).unwrap().format, Format::Bin);
        assert_eq!(identify(&sw).unwrap().format, Format::SwappedBin);
    }
    let sim = sim_image(&[1, 2, 3], false);
    assert!(to_bin(&sim, &identify(&sim).unwrap(), WordOrder::BigEndian).is_none());
}

#[test]
fn simbit_images() {
    let img = sim_image(&[9; 100], true);
    let id = identify(&img).unwrap();
    assert_eq!(id.format, Format::Simbit);
    assert_eq!((id.payload_offset, id.payload_len), (24, 100));
    assert_eq!(id.partial, Some(true));
    let e = identify(&img[..img.len() - 1]).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let mut bad = img.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(identify(&bad).unwrap_err().to_string().contains("CRC"));
    let mut long = img;
    long.push(0);
    assert!(identify(&long).unwrap_err().to_string().contains("after"));
}

#[test]
fn what_is_not_an_image_is_named() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "empty file"),
        (&[0u8; 4096], "every byte is zero"),
        (b"#!/bin/sh\necho not a bitstream\n", "text"),
        (
            &[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0xff],
            "unknown format",
        ),
        // An Intel raw binary starts with padding and no signature.
        (&[0xFF; 64], "unknown format"),
    ];
    for (bytes, want) in cases {
        let e = identify(bytes).unwrap_err();
        assert!(e.to_string().contains(want), "{bytes:?}: {e}");
    }
}

#[test]
fn a_cut_bit_file_is_refused_at_every_length() {
    let img = synthetic_partial(8, IDCODE);
    for cut in 1..img.bit.len() {
        let e = identify(&img.bit[..cut]).unwrap_err();
        assert!(e.offset <= cut, "cut {cut}: {e}");
    }
    // A .bin has no length field: a cut is found by the stream itself
    // (packets, frame data, the closing DESYNC). Only the NOOPs after
    // DESYNC (16 bytes here) can go unnoticed, and they carry nothing.
    for cut in (4..img.bin.len() - 16).step_by(4) {
        assert!(identify(&img.bin[..cut]).is_err(), "bin cut at {cut}");
    }
    assert!(identify(&img.bin[..img.bin.len() - 16]).is_ok());
}

#[test]
fn sha256_known_answer() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = identify(&bytes);
    }

    #[test]
    fn never_panics_on_a_mutated_image(
        at in 0usize..4096,
        value in any::<u8>(),
        cut in 0usize..4096,
        which in 0usize..4,
    ) {
        let img = synthetic_partial(8, IDCODE);
        let mut f = match which {
            0 => img.bit,
            1 => img.bin,
            2 => img.swapped,
            _ => sim_image(&[7; 40], false),
        };
        if !f.is_empty() {
            let i = at % f.len();
            f[i] = value;
            f.truncate(cut.max(1).min(f.len()));
        }
        if let Ok(id) = identify(&f) {
            prop_assert_eq!(id.size, f.len());
            prop_assert!(id.payload_offset <= f.len());
        }
    }
}
