//! The calculator's parser: any text evaluates or fails cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = omnimcp::official::expr::evaluate(text);
    }
});
