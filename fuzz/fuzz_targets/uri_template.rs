//! The URI-template matcher: any template and URI (split at the first NUL)
//! is matched without panicking, within its caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omnimcp::uri_template;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template, uri) = text.split_once('\0').unwrap_or((text, ""));
    if uri_template::is_valid(template) {
        assert!(template.len() <= uri_template::MAX_TEMPLATE);
        let _ = uri_template::matches(template, uri);
    }
});
