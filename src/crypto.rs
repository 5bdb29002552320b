//! Encryption at rest for per-user credentials and webhook secrets:
//! AES-256-GCM under the platform master key.
//!
//! A sealed value is self-describing: `[version=1][key-id length][key id]
//! [12-byte nonce][ciphertext + 16-byte tag]`. Every seal draws a fresh
//! random nonce. The key id (the first 8 bytes of SHA-256 of the key, in
//! hex) lets a [`Sealer`] that holds the current key and retired ones open
//! values sealed under any of them, which is how the master key rotates:
//! new seals use the current key, old values stay readable until resealed.
//! Associated data binds a value to its place (e.g. `installation:<id>`),
//! so a ciphertext copied into another row does not open.

use std::collections::HashMap;

use aes_gcm::{
    Aes256Gcm, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the master key must be 32 bytes")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed under key {0}, which this server does not hold")]
    UnknownKey(String),
    #[error("sealed value failed authentication (tampered, or opened in the wrong place)")]
    Authentication,
}

/// Associated data: where a sealed value belongs. A value sealed for one
/// place does not open in another, so a ciphertext copied between rows is
/// useless. Every seal and open names its place through these.
pub mod aad {
    use uuid::Uuid;

    /// A server's webhook secret (`mcp_servers.webhook_secret_enc`).
    pub fn webhook_secret(server_id: Uuid) -> String {
        format!("server-webhook:{server_id}")
    }

    /// An installation's configuration (`user_mcp_installations.config_enc`).
    pub fn installation_config(installation_id: Uuid) -> String {
        format!("installation:{installation_id}")
    }

    /// The access token of an installation's OAuth connection to a remote
    /// MCP server (`user_mcp_installations.access_token_enc`).
    pub fn connection_access(installation_id: Uuid) -> String {
        format!("connection-access:{installation_id}")
    }

    /// A builder server's publisher secrets (`builder_servers.secrets_enc`
    /// and `mcp_servers.builder_secrets_enc`).
    pub fn builder_secrets(server_id: Uuid) -> String {
        format!("builder-secrets:{server_id}")
    }

    /// A server's task id, as the gateway gives it to the client of the
    /// installation whose call created the task.
    pub fn task_id(installation_id: Uuid) -> String {
        format!("task:{installation_id}")
    }
}

/// Seals and opens values under the master key (and retired keys).
pub struct Sealer {
    current: String,
    ciphers: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("current_key_id", &self.current).finish_non_exhaustive()
    }
}

/// The id of a key: 16 hex digits of its SHA-256.
pub fn key_id(key: &[u8]) -> String {
    Sha256::digest(key)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Sealer {
    /// A sealer whose new seals use `current`; `retired` keys only open.
    pub fn new(current: &[u8], retired: &[&[u8]]) -> Result<Self, CryptoError> {
        let mut ciphers = HashMap::new();
        for key in std::iter::once(&current).chain(retired.iter()) {
            if key.len() != 32 {
                return Err(CryptoError::BadKey);
            }
            ciphers.insert(key_id(key), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)));
        }
        Ok(Self { current: key_id(current), ciphers })
    }

    /// The id of the key new seals use.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let cipher = &self.ciphers[&self.current];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let id = self.current.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
        if version != VERSION || rest.len() < id_len as usize + NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (id, rest) = rest.split_at(id_len as usize);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let id = std::str::from_utf8(id).map_err(|_| CryptoError::Malformed)?;
        let cipher = self.ciphers.get(id).ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| CryptoError::Authentication)
    }

    /// An installation's sealed configuration, opened: a JSON object (an
    /// installation without one has an empty configuration).
    pub fn open_config(
        &self,
        sealed: Option<&[u8]>,
        installation_id: uuid::Uuid,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CryptoError> {
        let Some(sealed) = sealed else { return Ok(Default::default()) };
        let bytes = self.open(sealed, &aad::installation_config(installation_id))?;
        serde_json::from_slice(&bytes).map_err(|_| CryptoError::Malformed)
    }

    /// The key id a sealed value was sealed under (to find values to reseal).
    pub fn sealed_key_id(sealed: &[u8]) -> Option<&str> {
        let id_len = *sealed.get(1)? as usize;
        std::str::from_utf8(sealed.get(2..2 + id_len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces() {
        let s = Sealer::new(&[1u8; 32], &[]).unwrap();
        let a = s.seal(b"{\"token\":\"ghp_secret\"}", "installation:1");
        let b = s.seal(b"{\"token\":\"ghp_secret\"}", "installation:1");
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(!a.windows(10).any(|w| w == b"ghp_secret"), "no plaintext in the sealed value");
        assert_eq!(s.open(&a, "installation:1").unwrap(), b"{\"token\":\"ghp_secret\"}");
        assert_eq!(Sealer::sealed_key_id(&a), Some(s.current_key_id()));
    }

    #[test]
    fn wrong_place_tampering_and_unknown_keys_fail() {
        let s = Sealer::new(&[1u8; 32], &[]).unwrap();
        let sealed = s.seal(b"secret", "installation:1");
        assert_eq!(s.open(&sealed, "installation:2"), Err(CryptoError::Authentication));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(s.open(&tampered, "installation:1"), Err(CryptoError::Authentication));
        assert_eq!(s.open(&sealed[..10], "installation:1"), Err(CryptoError::Malformed));
        let other = Sealer::new(&[2u8; 32], &[]).unwrap();
        assert!(matches!(other.open(&sealed, "installation:1"), Err(CryptoError::UnknownKey(_))));
        assert_eq!(Sealer::new(&[0u8; 16], &[]).unwrap_err(), CryptoError::BadKey);
    }

    #[test]
    fn rotation_opens_old_values_and_seals_with_the_new_key() {
        let old = Sealer::new(&[1u8; 32], &[]).unwrap();
        let sealed = old.seal(b"secret", "x");
        let rotated = Sealer::new(&[2u8; 32], &[&[1u8; 32]]).unwrap();
        assert_eq!(rotated.open(&sealed, "x").unwrap(), b"secret");
        let resealed = rotated.seal(b"secret", "x");
        assert_eq!(Sealer::sealed_key_id(&resealed), Some(rotated.current_key_id()));
        assert_ne!(rotated.current_key_id(), old.current_key_id());
    }
}
