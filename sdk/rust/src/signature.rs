//! The callback protocol's request signing: how a developer-hosted server
//! knows a request really comes from the platform, and is fresh.
//!
//! Every callback request carries four headers:
//!
//! | header | value |
//! |---|---|
//! | `x-webhook-secret` | the server's webhook secret, as issued by the deploy |
//! | `x-omnimcp-timestamp` | the time of signing, in Unix seconds |
//! | `x-omnimcp-request-id` | 32 random lowercase hex digits, new for every request |
//! | `x-omnimcp-signature` | `v1=<hex>,v2=<hex>,v3=<hex>`: lowercase hex HMAC-SHA256 under the secret of `"{timestamp}.{body}"` (v1), `"{timestamp}.{METHOD}.{path and query}.{body}"` (v2) and `"{timestamp}.{request id}.{METHOD}.{path and query}.{body}"` (v3); the body is empty for `GET` |
//!
//! [`verify`] checks them: the secret and the signature are compared in
//! constant time (so the time an answer takes reveals nothing about how much
//! of a guess was right), and a timestamp further than the replay window from
//! now, in either direction, is refused, so a captured request cannot be
//! replayed later. Of the signature only `v3` counts: it covers the method,
//! the route and the request id, so a signed `POST /tools/a` cannot be
//! replayed against `/tools/b`, and, with a [`ReplayGuard`] remembering the
//! ids it accepted, not even against `/tools/a` within the window (two
//! identical calls in the same second still differ by their ids). `v1` and
//! `v2` are still sent for receivers written before `v3`; a header without
//! `v3` is refused. The path is the one the platform sent, so a proxy in
//! front of the receiver must not rewrite it.
//! [`crate::OmniMcp::start_local`] does all this for every request; the
//! functions are public for servers built by other means.

use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the webhook secret.
pub const SECRET_HEADER: &str = "x-webhook-secret";
/// The header carrying the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-omnimcp-timestamp";
/// The header carrying the request's unique id (32 lowercase hex digits).
pub const REQUEST_ID_HEADER: &str = "x-omnimcp-request-id";
/// The header carrying `v1=<hex>,v2=<hex>,v3=<hex>` (HMAC-SHA256).
pub const SIGNATURE_HEADER: &str = "x-omnimcp-signature";

/// How far a request's timestamp may be from the receiver's clock, unless
/// configured otherwise: five minutes, as the platform documents.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(300);

/// Why a request was refused. The messages name what was wrong without
/// echoing any secret material, so they are safe to log and to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// One of the three headers is absent (or not visible ASCII).
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `x-webhook-secret` is not this server's secret.
    #[error("the webhook secret does not match")]
    WrongSecret,
    /// The timestamp is not a number of seconds.
    #[error("the timestamp is not a number of seconds")]
    MalformedTimestamp,
    /// The timestamp is outside the replay window.
    #[error("the timestamp is {age_secs} s away from this server's clock (the limit is {window_secs} s)")]
    StaleTimestamp {
        /// How far the timestamp is from now, in seconds (either direction).
        age_secs: u64,
        /// The configured replay window, in seconds.
        window_secs: u64,
    },
    /// The signature does not match the timestamp, method, path and body.
    #[error("the signature does not match the request")]
    BadSignature,
    /// The request id is not 32 lowercase hex digits.
    #[error("the request id is not 32 lowercase hex digits")]
    MalformedRequestId,
    /// The signature header has no `v3=` part.
    #[error("the signature has no v3= part (the request id, method and path must be signed)")]
    NoV3Signature,
    /// A request with this id was accepted before, within the window (or
    /// the [`ReplayGuard`] is full).
    #[error("this request was already received (or too many arrived within the window)")]
    Replayed,
}

/// Hex HMAC-SHA256 under `secret` of the parts joined by `.`.
fn mac(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(b".");
        }
        mac.update(part);
    }
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).expect("a nibble is a hex digit"));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).expect("a nibble is a hex digit"));
    }
    out
}

/// The `v3` signature alone: lowercase hex HMAC-SHA256 under `secret` of
/// `"{timestamp}.{request_id}.{method}.{path_and_query}.{body}"`.
/// `path_and_query` is the request target as sent (`/tools/add`,
/// `/resources?uri=...`), percent-encoding untouched.
pub fn sign_v3(
    secret: &str,
    timestamp: u64,
    request_id: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    let ts = timestamp.to_string();
    mac(secret, &[ts.as_bytes(), request_id.as_bytes(), method.as_bytes(), path_and_query.as_bytes(), body])
}

/// Signs a callback request the way the platform does: the value of
/// [`SIGNATURE_HEADER`], `v1=<hex>,v2=<hex>,v3=<hex>`.
///
/// ```
/// use omnimcp_sdk::signature::sign;
/// let id = "0123456789abcdef0123456789abcdef";
/// let signature = sign("whsec_example", 1_700_000_000, id, "POST", "/tools/add", br#"{"arguments":{}}"#);
/// assert!(signature.starts_with("v1=") && signature.contains(",v3="));
/// ```
pub fn sign(secret: &str, timestamp: u64, request_id: &str, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let v1 = mac(secret, &[ts.as_bytes(), body]);
    let v2 = mac(secret, &[ts.as_bytes(), method.as_bytes(), path_and_query.as_bytes(), body]);
    let v3 = sign_v3(secret, timestamp, request_id, method, path_and_query, body);
    format!("v1={v1},v2={v2},v3={v3}")
}

/// Remembers the request ids of accepted requests for as long as their
/// timestamps are inside the replay window, so each is accepted once. At
/// most `capacity` ids are kept: past that a request is refused (ids leave
/// as their window closes), bounding memory under a flood instead of
/// forgetting ids early. The default, 100,000, holds a sustained 333
/// requests a second with the 5-minute window.
///
/// Ids are forgotten in arrival order (each accept drops only those at the
/// front whose window has closed), so an accept costs O(1) amortised
/// however many ids are held.
#[derive(Debug)]
pub struct ReplayGuard {
    seen: Mutex<Seen>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<String>,
    /// `(until, id)` in arrival order.
    order: VecDeque<(u64, String)>,
}

impl ReplayGuard {
    /// A guard keeping at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self { seen: Mutex::default(), capacity }
    }

    /// Records `id` (signed at `timestamp`) until `timestamp + window`;
    /// [`Rejection::Replayed`] if it was seen, or no room is left.
    pub fn accept(&self, id: &str, timestamp: u64, now: u64, window: Duration) -> Result<(), Rejection> {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while seen.order.front().is_some_and(|(until, _)| *until < now) {
            if let Some((_, old)) = seen.order.pop_front() {
                seen.ids.remove(&old);
            }
        }
        if seen.ids.contains(id) || seen.ids.len() >= self.capacity {
            return Err(Rejection::Replayed);
        }
        seen.ids.insert(id.to_string());
        seen.order.push_back((timestamp.saturating_add(window.as_secs()), id.to_string()));
        Ok(())
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).ids.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for ReplayGuard {
    /// 100,000 ids.
    fn default() -> Self {
        Self::new(100_000)
    }
}

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The three header values of a request, as received (`None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'a> {
    /// The value of [`SECRET_HEADER`].
    pub secret: Option<&'a str>,
    /// The value of [`TIMESTAMP_HEADER`].
    pub timestamp: Option<&'a str>,
    /// The value of [`REQUEST_ID_HEADER`].
    pub request_id: Option<&'a str>,
    /// The value of [`SIGNATURE_HEADER`].
    pub signature: Option<&'a str>,
}

/// The part of a request the signature covers besides the timestamp.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method, upper case (`POST`, `GET`).
    pub method: &'a str,
    /// The request target as received: the path and, if any, `?` and the
    /// query, percent-encoding untouched.
    pub path_and_query: &'a str,
    /// The raw body (empty for `GET`).
    pub body: &'a [u8],
}

/// Verifies a callback request against `secret`: the secret header, the
/// timestamp (within `window` of `now`, either way), the request id's form
/// and the `v3` signature over the timestamp, request id, method, path and
/// body. `now` is a parameter so that tests, and servers with their own
/// clock, can pass it; use [`unix_now`] otherwise. [`verify_once`] also
/// refuses a replay.
pub fn verify(
    secret: &str,
    headers: SignedHeaders<'_>,
    request: SignedRequest<'_>,
    now: u64,
    window: Duration,
) -> Result<(), Rejection> {
    let presented = headers.secret.ok_or(Rejection::MissingHeader(SECRET_HEADER))?;
    let timestamp = headers.timestamp.ok_or(Rejection::MissingHeader(TIMESTAMP_HEADER))?;
    let request_id = headers.request_id.ok_or(Rejection::MissingHeader(REQUEST_ID_HEADER))?;
    let signature = headers.signature.ok_or(Rejection::MissingHeader(SIGNATURE_HEADER))?;
    if !constant_time_eq(presented.as_bytes(), secret.as_bytes()) {
        return Err(Rejection::WrongSecret);
    }
    let timestamp: u64 = timestamp.trim().parse().map_err(|_| Rejection::MalformedTimestamp)?;
    let age_secs = now.abs_diff(timestamp);
    if age_secs > window.as_secs() {
        return Err(Rejection::StaleTimestamp { age_secs, window_secs: window.as_secs() });
    }
    if request_id.len() != 32 || !request_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Rejection::MalformedRequestId);
    }
    // The expected value is computed from our secret, so comparing it with
    // what was sent must not leak how long a matching prefix is.
    let presented = signature
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(scheme, _)| scheme.eq_ignore_ascii_case("v3"))
        .map(|(_, hex)| hex.to_ascii_lowercase())
        .ok_or(Rejection::NoV3Signature)?;
    let expected = sign_v3(secret, timestamp, request_id, request.method, request.path_and_query, request.body);
    if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return Err(Rejection::BadSignature);
    }
    Ok(())
}

/// [`verify`], then the request id is recorded in `guard`: the same
/// request sent again within the window is refused
/// ([`Rejection::Replayed`]). Only a request that proved itself takes a
/// place in the guard.
pub fn verify_once(
    secret: &str,
    headers: SignedHeaders<'_>,
    request: SignedRequest<'_>,
    now: u64,
    window: Duration,
    guard: &ReplayGuard,
) -> Result<(), Rejection> {
    verify(secret, headers, request, now, window)?;
    let (Some(id), Some(timestamp)) = (headers.request_id, headers.timestamp.and_then(|t| t.trim().parse().ok()))
    else {
        return Err(Rejection::MalformedRequestId);
    };
    guard.accept(id, timestamp, now, window)
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const NOW: u64 = 1_700_000_000;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn headers<'a>(secret: &'a str, timestamp: &'a str, signature: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            secret: Some(secret),
            timestamp: Some(timestamp),
            request_id: Some(ID),
            signature: Some(signature),
        }
    }

    /// A `POST /tools/t` with this body.
    fn post(body: &[u8]) -> SignedRequest<'_> {
        SignedRequest { method: "POST", path_and_query: "/tools/t", body }
    }

    fn sign_post(secret: &str, ts: u64, body: &[u8]) -> String {
        sign(secret, ts, ID, "POST", "/tools/t", body)
    }

    #[test]
    fn signature_matches_a_known_answer() {
        // The same known answers the platform's own signer is tested with
        // (Python: hmac.new(b"key", b"1.{}", sha256).hexdigest(),
        // b"1.POST./tools/t.{}" and b"1.<ID>.POST./tools/t.{}"), so the
        // two sides cannot drift apart.
        assert_eq!(
            sign("key", 1, ID, "POST", "/tools/t", b"{}"),
            "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224,\
             v2=e0aac4628fcce824870dfdbf88fd0632e91c82cfd0c002e96252b8e8eaa7fab8,\
             v3=5aa2aa4861b38d7bdf3f0bdc20347e2f94d6443bb959bbfee16dcc970294f8e2"
        );
    }

    #[test]
    fn a_signature_for_one_route_is_refused_on_another() {
        let ts = NOW.to_string();
        let sig = sign(SECRET, NOW, ID, "POST", "/tools/read", b"{}");
        let on = |method, path_and_query| {
            verify(
                SECRET,
                headers(SECRET, &ts, &sig),
                SignedRequest { method, path_and_query, body: b"{}" },
                NOW,
                DEFAULT_REPLAY_WINDOW,
            )
        };
        assert_eq!(on("POST", "/tools/read"), Ok(()));
        assert_eq!(on("POST", "/tools/delete"), Err(Rejection::BadSignature), "another tool");
        assert_eq!(on("POST", "/prompts/read"), Err(Rejection::BadSignature), "another kind");
        assert_eq!(on("PUT", "/tools/read"), Err(Rejection::BadSignature), "another method");
        assert_eq!(on("POST", "/tools/read?x=1"), Err(Rejection::BadSignature), "the query counts");
        // Without v3 (the request id unsigned) it is not enough.
        let v1_v2 = sig.split(",v3=").next().unwrap().to_string();
        let err = verify(SECRET, headers(SECRET, &ts, &v1_v2), post(b"{}"), NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::NoV3Signature));
    }

    #[test]
    fn a_correctly_signed_fresh_request_passes() {
        let body = br#"{"arguments":{"city":"Paris"}}"#;
        let sig = sign_post(SECRET, NOW, body);
        assert_eq!(
            verify(SECRET, headers(SECRET, &NOW.to_string(), &sig), post(body), NOW + 10, DEFAULT_REPLAY_WINDOW),
            Ok(())
        );
        // Upper-case hex is the same signature, and so is v3 alone.
        let upper = sig.to_ascii_uppercase();
        assert_eq!(
            verify(SECRET, headers(SECRET, &NOW.to_string(), &upper), post(body), NOW, DEFAULT_REPLAY_WINDOW),
            Ok(())
        );
        let v3 = format!("v3={}", sign_v3(SECRET, NOW, ID, "POST", "/tools/t", body));
        assert_eq!(
            verify(SECRET, headers(SECRET, &NOW.to_string(), &v3), post(body), NOW, DEFAULT_REPLAY_WINDOW),
            Ok(())
        );
    }

    #[test]
    fn each_missing_header_is_named() {
        let sig = sign_post(SECRET, NOW, b"");
        let ts = NOW.to_string();
        let full = headers(SECRET, &ts, &sig);
        let cases = [
            (SignedHeaders { secret: None, ..full }, SECRET_HEADER),
            (SignedHeaders { timestamp: None, ..full }, TIMESTAMP_HEADER),
            (SignedHeaders { request_id: None, ..full }, REQUEST_ID_HEADER),
            (SignedHeaders { signature: None, ..full }, SIGNATURE_HEADER),
        ];
        for (h, name) in cases {
            assert_eq!(verify(SECRET, h, post(b""), NOW, DEFAULT_REPLAY_WINDOW), Err(Rejection::MissingHeader(name)));
        }
    }

    #[test]
    fn a_wrong_secret_is_refused_even_with_a_valid_signature_for_it() {
        // Whoever signs with another secret gets no further than the secret check.
        let sig = sign_post("whsec_other", NOW, b"");
        let err = verify(SECRET, headers("whsec_other", &NOW.to_string(), &sig), post(b""), NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::WrongSecret));
        // The right secret header with a signature made under another secret.
        let err = verify(SECRET, headers(SECRET, &NOW.to_string(), &sig), post(b""), NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::BadSignature));
    }

    #[test]
    fn a_tampered_body_or_timestamp_breaks_the_signature() {
        let sig = sign_post(SECRET, NOW, br#"{"arguments":{"n":1}}"#);
        let err = verify(
            SECRET,
            headers(SECRET, &NOW.to_string(), &sig),
            post(br#"{"arguments":{"n":2}}"#),
            NOW,
            DEFAULT_REPLAY_WINDOW,
        );
        assert_eq!(err, Err(Rejection::BadSignature));
        // Moving the timestamp (to dodge the window) invalidates it too.
        let moved = (NOW + 1).to_string();
        let err = verify(
            SECRET,
            headers(SECRET, &moved, &sig),
            post(br#"{"arguments":{"n":1}}"#),
            NOW,
            DEFAULT_REPLAY_WINDOW,
        );
        assert_eq!(err, Err(Rejection::BadSignature));
        let err = verify(SECRET, headers(SECRET, "soon", &sig), post(b""), NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::MalformedTimestamp));
    }

    #[test]
    fn the_replay_window_bounds_both_directions() {
        let window = Duration::from_secs(300);
        let check = |ts: u64| {
            verify(SECRET, headers(SECRET, &ts.to_string(), &sign_post(SECRET, ts, b"")), post(b""), NOW, window)
        };
        assert_eq!(check(NOW - 300), Ok(()), "exactly at the limit is still fresh");
        assert_eq!(check(NOW + 300), Ok(()), "a sender whose clock runs ahead, within the limit");
        assert_eq!(check(NOW - 301), Err(Rejection::StaleTimestamp { age_secs: 301, window_secs: 300 }));
        assert_eq!(check(NOW + 3600), Err(Rejection::StaleTimestamp { age_secs: 3600, window_secs: 300 }));
        // A shorter window, configured by the server, is honoured.
        let short = verify(
            SECRET,
            headers(SECRET, &(NOW - 31).to_string(), &sign_post(SECRET, NOW - 31, b"")),
            post(b""),
            NOW,
            Duration::from_secs(30),
        );
        assert_eq!(short, Err(Rejection::StaleTimestamp { age_secs: 31, window_secs: 30 }));
    }

    #[test]
    fn a_replay_is_refused_within_the_window_and_a_new_id_is_not() {
        let guard = ReplayGuard::default();
        let ts = NOW.to_string();
        let sig = sign_post(SECRET, NOW, b"{}");
        let once =
            |now| verify_once(SECRET, headers(SECRET, &ts, &sig), post(b"{}"), now, DEFAULT_REPLAY_WINDOW, &guard);
        assert_eq!(once(NOW), Ok(()));
        assert_eq!(once(NOW + 1), Err(Rejection::Replayed), "the same request again");
        // The same call again, as the platform sends it: its own id.
        let other = "fedcba9876543210fedcba9876543210";
        let sig2 = sign(SECRET, NOW, other, "POST", "/tools/t", b"{}");
        let h = SignedHeaders { request_id: Some(other), ..headers(SECRET, &ts, &sig2) };
        assert_eq!(verify_once(SECRET, h, post(b"{}"), NOW, DEFAULT_REPLAY_WINDOW, &guard), Ok(()));
        // A forged request takes no place in the guard.
        let forged =
            SignedHeaders { request_id: Some("00000000000000000000000000000000"), ..headers(SECRET, &ts, &sig) };
        assert_eq!(
            verify_once(SECRET, forged, post(b"{}"), NOW, DEFAULT_REPLAY_WINDOW, &guard),
            Err(Rejection::BadSignature)
        );
        assert_eq!(guard.len(), 2);
        // Ids leave once their window has closed; a full guard refuses.
        let small = ReplayGuard::new(1);
        assert_eq!(small.accept("a", NOW, NOW, DEFAULT_REPLAY_WINDOW), Ok(()));
        assert_eq!(small.accept("b", NOW, NOW, DEFAULT_REPLAY_WINDOW), Err(Rejection::Replayed));
        assert_eq!(small.accept("b", NOW, NOW + 301, DEFAULT_REPLAY_WINDOW), Ok(()));
        // A request id that is not 32 hex digits is refused.
        let bad = SignedHeaders { request_id: Some("not-hex"), ..headers(SECRET, &ts, &sig) };
        assert_eq!(verify(SECRET, bad, post(b"{}"), NOW, DEFAULT_REPLAY_WINDOW), Err(Rejection::MalformedRequestId));
    }

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"whsec_abc", b"whsec_abc"));
        assert!(!constant_time_eq(b"whsec_abc", b"whsec_abd"));
        assert!(!constant_time_eq(b"whsec_abc", b"whsec_ab"), "a prefix is not equal");
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn rejections_never_echo_secrets() {
        let sig = sign_post(SECRET, NOW, b"");
        let err = verify(SECRET, headers("whsec_guess", &NOW.to_string(), &sig), post(b""), NOW, DEFAULT_REPLAY_WINDOW)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("whsec_"), "{err}");
    }
}
