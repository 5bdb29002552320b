//! API keys: `omni_` followed by 32 random bytes in unpadded base64url (48
//! characters in all). The prefix makes keys recognisable to people and to
//! secret scanners. Only the SHA-256 of a key is stored: keys carry 256 bits
//! of randomness, so a slow password hash would add nothing but latency.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "omni_";

/// How many leading characters of a key are kept for display.
const DISPLAY_LEN: usize = 12;

/// A freshly generated key. `text` is shown to the user once and then
/// dropped.
pub struct GeneratedKey {
    pub text: String,
    pub display_prefix: String,
    pub hash: [u8; 32],
}

pub fn generate() -> GeneratedKey {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    GeneratedKey { display_prefix: text[..DISPLAY_LEN].to_string(), hash: hash(&text), text }
}

pub fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Whether a bearer credential is an API key (rather than a session token).
pub fn is_api_key(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Constant-time comparison of two hashes.
pub fn hashes_match(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hashed() {
        let a = generate();
        let b = generate();
        assert!(a.text.starts_with("omni_") && a.text.len() == 48);
        assert_ne!(a.text, b.text);
        assert!(a.text.starts_with(&a.display_prefix));
        assert!(hashes_match(&a.hash, &hash(&a.text)));
        assert!(!hashes_match(&a.hash, &b.hash));
        assert!(is_api_key(&a.text) && !is_api_key("eyJhbGciOi"));
    }
}
