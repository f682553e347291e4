//! Every attribute parser on arbitrary bytes: none may panic, and whatever
//! one accepts must be a single newline-terminated line (or, for
//! `status`, lines).
#![no_main]

use backend_linux_sysfs::parse;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = Path::new("/sys/fuzz");
    if parse::link_status(p, text).is_ok()
        || parse::auto_remove_on(p, text).is_ok()
        || parse::bool01(p, text).is_ok()
        || parse::mgr_state(p, text).is_ok()
        || parse::bridge_state(p, text).is_ok()
        || parse::compat_id(p, text).is_ok()
        || parse::name(p, text).is_ok()
    {
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
    }
    if parse::mgr_status(p, text).is_ok() {
        assert!(text.is_empty() || text.ends_with('\n'));
    }
});
