//! Interfaces files never panic the reader, and writing is stable: what oxve writes reads
//! back to the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxve_net::interfaces::{check, parse, render};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = parse(text);
    let _ = check(&file);
    let once = render(&file);
    assert_eq!(render(&parse(&once)), once);
});
