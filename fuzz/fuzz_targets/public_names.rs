//! Public URIs round-trip for any original URI; public names stay within
//! MCP's 64 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omnimcp::gateway::names::{parse_public_uri, public_name, public_uri};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (uri, name) = text.split_once('\0').unwrap_or((text, "tool"));
    let public = public_uri("server", uri);
    assert_eq!(parse_public_uri(&public), Some(("server", uri.to_string())));
    let _ = parse_public_uri(text);
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        assert!(public_name("server", name).len() <= 64);
    }
});
