//! The outbound guard: any URL text is parsed and checked without
//! panicking, and whatever it lets through is an https URL on port 443 of
//! a host that is not an internal address (no DNS: names are refused or
//! accepted before resolution, which is checked separately).
#![no_main]

use libfuzzer_sys::fuzz_target;
use omnimcp::outbound::{Outbound, OutboundPolicy, classify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(url) = reqwest::Url::parse(text) else { return };
    // Only IP literals: a name would need DNS.
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
        _ => return,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let guard = Outbound::new(OutboundPolicy::default());
    if runtime.block_on(guard.validate_url(text)).is_ok() {
        assert_eq!(url.scheme(), "https");
        assert!(classify(ip).is_none(), "{ip} was allowed");
    }
});
