//! Every UIO sysfs attribute parser on arbitrary bytes: none may panic,
//! and whatever one accepts is a single newline-terminated line.
#![no_main]

use backend_uio::attr;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = Path::new("/sys/class/uio/uio0/fuzz");
    if attr::hex(p, text).is_ok()
        || attr::event(p, text).is_ok()
        || attr::dev_numbers(p, text).is_ok()
        || attr::name(p, text).is_ok()
        || attr::text(p, text).is_ok()
        || attr::porttype(p, text).is_ok()
    {
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
    }
});
