//! The bitstream parser on arbitrary bytes: no input may panic; whatever
//! parses must decode to the same words in any chunking, and a prefix scan
//! of it must agree with the whole-file parse.
#![no_main]

use backend_uio::bitstream::{scan_prefix, Bitstream, Scan, WordStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size for the streaming decoder.
    let Some((&chunk, file)) = data.split_first() else {
        return;
    };
    for cut in [0, file.len() / 3, file.len() / 2, file.len()] {
        let _ = scan_prefix(&file[..cut], file.len());
    }
    let Ok(parsed) = Bitstream::parse(file) else {
        return;
    };
    let Ok(Scan::Done(p)) = scan_prefix(file, file.len()) else {
        panic!("parse succeeded but the prefix scan did not");
    };
    assert_eq!(p.format, parsed.format);
    let mut ws = WordStream::new(p.format, p.data_offset);
    let mut words = Vec::new();
    for c in file.chunks(usize::from(chunk).max(1)) {
        ws.push(c, &mut words);
    }
    ws.finish().expect("a parsed file ends on a word boundary");
    assert_eq!(words, parsed.words);
});
