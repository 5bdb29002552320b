//! The callback protocol's request signing: how a developer-hosted server
//! knows a request really comes from the platform, and is fresh.
//!
//! Every callback request carries three headers:
//!
//! | header | value |
//! |---|---|
//! | `x-webhook-secret` | the server's webhook secret, as issued by the deploy |
//! | `x-omnimcp-timestamp` | the time of signing, in Unix seconds |
//! | `x-omnimcp-signature` | `v1=` + lowercase hex HMAC-SHA256 of `"{timestamp}.{body}"` under the secret (the body is empty for `GET`) |
//!
//! [`verify`] checks all three: the secret and the signature are compared in
//! constant time (so the time an answer takes reveals nothing about how much
//! of a guess was right), and a timestamp further than the replay window from
//! now, in either direction, is refused, so a captured request cannot be
//! replayed later. [`crate::OmniMcp::start_local`] does this for every
//! request; the functions are public for servers built by other means.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the webhook secret.
pub const SECRET_HEADER: &str = "x-webhook-secret";
/// The header carrying the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-omnimcp-timestamp";
/// The header carrying `v1=<hex HMAC-SHA256>`.
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
    /// The signature does not match the timestamp and body.
    #[error("the signature does not match the request")]
    BadSignature,
}

/// Signs a callback request: `v1=` + lowercase hex HMAC-SHA256 of
/// `"{timestamp}.{body}"` under `secret`, the value of
/// [`SIGNATURE_HEADER`].
///
/// ```
/// use omnimcp_sdk::signature::sign;
/// let signature = sign("whsec_example", 1_700_000_000, br#"{"arguments":{}}"#);
/// assert!(signature.starts_with("v1=") && signature.len() == 3 + 64);
/// ```
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v1=");
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).expect("a nibble is a hex digit"));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).expect("a nibble is a hex digit"));
    }
    out
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
    /// The value of [`SIGNATURE_HEADER`].
    pub signature: Option<&'a str>,
}

/// Verifies a callback request against `secret`: the secret header, the
/// timestamp (within `window` of `now`, either way) and the signature over
/// the timestamp and `body`. `now` is a parameter so that tests, and
/// servers with their own clock, can pass it; use [`unix_now`] otherwise.
pub fn verify(
    secret: &str,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: u64,
    window: Duration,
) -> Result<(), Rejection> {
    let presented = headers.secret.ok_or(Rejection::MissingHeader(SECRET_HEADER))?;
    let timestamp = headers.timestamp.ok_or(Rejection::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = headers.signature.ok_or(Rejection::MissingHeader(SIGNATURE_HEADER))?;
    if !constant_time_eq(presented.as_bytes(), secret.as_bytes()) {
        return Err(Rejection::WrongSecret);
    }
    let timestamp: u64 = timestamp.trim().parse().map_err(|_| Rejection::MalformedTimestamp)?;
    let age_secs = now.abs_diff(timestamp);
    if age_secs > window.as_secs() {
        return Err(Rejection::StaleTimestamp { age_secs, window_secs: window.as_secs() });
    }
    // The expected value is computed from our secret, so comparing it with
    // what was sent must not leak how long a matching prefix is.
    let expected = sign(secret, timestamp, body);
    if !constant_time_eq(signature.trim().to_ascii_lowercase().as_bytes(), expected.as_bytes()) {
        return Err(Rejection::BadSignature);
    }
    Ok(())
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

    fn headers<'a>(secret: &'a str, timestamp: &'a str, signature: &'a str) -> SignedHeaders<'a> {
        SignedHeaders { secret: Some(secret), timestamp: Some(timestamp), signature: Some(signature) }
    }

    #[test]
    fn signature_matches_a_known_answer() {
        // The same known answer the platform's own signer is tested with
        // (Python: hmac.new(b"key", b"1.{}", sha256).hexdigest()), so the
        // two sides cannot drift apart.
        assert_eq!(sign("key", 1, b"{}"), "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
    }

    #[test]
    fn a_correctly_signed_fresh_request_passes() {
        let body = br#"{"arguments":{"city":"Paris"}}"#;
        let sig = sign(SECRET, NOW, body);
        assert_eq!(
            verify(SECRET, headers(SECRET, &NOW.to_string(), &sig), body, NOW + 10, DEFAULT_REPLAY_WINDOW),
            Ok(())
        );
        // Upper-case hex is the same signature.
        let upper = sig.to_ascii_uppercase().replacen("V1=", "v1=", 1);
        assert_eq!(verify(SECRET, headers(SECRET, &NOW.to_string(), &upper), body, NOW, DEFAULT_REPLAY_WINDOW), Ok(()));
    }

    #[test]
    fn each_missing_header_is_named() {
        let sig = sign(SECRET, NOW, b"");
        let ts = NOW.to_string();
        let cases = [
            (SignedHeaders { secret: None, timestamp: Some(&ts), signature: Some(&sig) }, SECRET_HEADER),
            (SignedHeaders { secret: Some(SECRET), timestamp: None, signature: Some(&sig) }, TIMESTAMP_HEADER),
            (SignedHeaders { secret: Some(SECRET), timestamp: Some(&ts), signature: None }, SIGNATURE_HEADER),
        ];
        for (h, name) in cases {
            assert_eq!(verify(SECRET, h, b"", NOW, DEFAULT_REPLAY_WINDOW), Err(Rejection::MissingHeader(name)));
        }
    }

    #[test]
    fn a_wrong_secret_is_refused_even_with_a_valid_signature_for_it() {
        // Whoever signs with another secret gets no further than the secret check.
        let sig = sign("whsec_other", NOW, b"");
        let err = verify(SECRET, headers("whsec_other", &NOW.to_string(), &sig), b"", NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::WrongSecret));
        // The right secret header with a signature made under another secret.
        let err = verify(SECRET, headers(SECRET, &NOW.to_string(), &sig), b"", NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::BadSignature));
    }

    #[test]
    fn a_tampered_body_or_timestamp_breaks_the_signature() {
        let sig = sign(SECRET, NOW, br#"{"arguments":{"n":1}}"#);
        let err = verify(
            SECRET,
            headers(SECRET, &NOW.to_string(), &sig),
            br#"{"arguments":{"n":2}}"#,
            NOW,
            DEFAULT_REPLAY_WINDOW,
        );
        assert_eq!(err, Err(Rejection::BadSignature));
        // Moving the timestamp (to dodge the window) invalidates it too.
        let moved = (NOW + 1).to_string();
        let err =
            verify(SECRET, headers(SECRET, &moved, &sig), br#"{"arguments":{"n":1}}"#, NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::BadSignature));
        let err = verify(SECRET, headers(SECRET, "soon", &sig), b"", NOW, DEFAULT_REPLAY_WINDOW);
        assert_eq!(err, Err(Rejection::MalformedTimestamp));
    }

    #[test]
    fn the_replay_window_bounds_both_directions() {
        let window = Duration::from_secs(300);
        let check =
            |ts: u64| verify(SECRET, headers(SECRET, &ts.to_string(), &sign(SECRET, ts, b"")), b"", NOW, window);
        assert_eq!(check(NOW - 300), Ok(()), "exactly at the limit is still fresh");
        assert_eq!(check(NOW + 300), Ok(()), "a sender whose clock runs ahead, within the limit");
        assert_eq!(check(NOW - 301), Err(Rejection::StaleTimestamp { age_secs: 301, window_secs: 300 }));
        assert_eq!(check(NOW + 3600), Err(Rejection::StaleTimestamp { age_secs: 3600, window_secs: 300 }));
        // A shorter window, configured by the server, is honoured.
        let short = verify(
            SECRET,
            headers(SECRET, &(NOW - 31).to_string(), &sign(SECRET, NOW - 31, b"")),
            b"",
            NOW,
            Duration::from_secs(30),
        );
        assert_eq!(short, Err(Rejection::StaleTimestamp { age_secs: 31, window_secs: 30 }));
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
        let sig = sign(SECRET, NOW, b"");
        let err = verify(SECRET, headers("whsec_guess", &NOW.to_string(), &sig), b"", NOW, DEFAULT_REPLAY_WINDOW)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("whsec_"), "{err}");
    }
}
