//! Secrets: a redacting wrapper type, and the generated key files.
//!
//! On first start the platform creates `jwt.key` (session-token signing key)
//! and `master.key` (encryption key for credentials at rest) in the data
//! directory, readable by the owner only; later starts reuse them. A key
//! given by flag or environment variable takes precedence over the file.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::{ErrorKind, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;

/// A string that must never be printed. `Debug` and `Display` show
/// `[redacted]`; the value is reachable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// clap value parser.
    pub fn parse(value: &str) -> Result<Self, String> {
        Ok(Self(value.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Raw key material with a redacting `Debug`.
#[derive(Clone)]
pub struct KeyBytes(Vec<u8>);

impl KeyBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted {} bytes]", self.0.len())
    }
}

/// The platform's own keys.
#[derive(Clone, Debug)]
pub struct Keys {
    /// HMAC key for session JWTs.
    pub jwt: KeyBytes,
    /// 32-byte key that encrypts per-user credentials and webhook secrets.
    pub master: KeyBytes,
    /// Earlier master keys, kept only to open values sealed under them.
    pub retired: Vec<KeyBytes>,
}

impl Keys {
    /// Loads the keys from configuration, or from (or into) the data
    /// directory's key files.
    pub fn load(data_dir: &Path, jwt: Option<&Secret>, master: Option<&Secret>) -> anyhow::Result<Self> {
        Self::load_with_retired(data_dir, jwt, master, None)
    }

    /// As [`Keys::load`], plus retired master keys (comma-separated base64).
    pub fn load_with_retired(
        data_dir: &Path,
        jwt: Option<&Secret>,
        master: Option<&Secret>,
        retired: Option<&Secret>,
    ) -> anyhow::Result<Self> {
        let jwt = match jwt {
            Some(s) if s.expose().len() >= 32 => KeyBytes(s.expose().as_bytes().to_vec()),
            Some(_) => bail!("the JWT secret must be at least 32 bytes long"),
            None => load_or_create(&data_dir.join("jwt.key"), 64)?,
        };
        let master = match master {
            Some(s) => decode_key(s.expose()).context("the master key")?,
            None => load_or_create(&data_dir.join("master.key"), 32)?,
        };
        if master.0.len() != 32 {
            bail!("the master key must be 32 bytes (base64-encoded)");
        }
        let retired = match retired {
            Some(list) => list
                .expose()
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| decode_key(s).context("a retired master key"))
                .collect::<anyhow::Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        if retired.iter().any(|k| k.0.len() != 32) {
            bail!("retired master keys must be 32 bytes (base64-encoded)");
        }
        Ok(Self { jwt, master, retired })
    }
}

fn decode_key(text: &str) -> anyhow::Result<KeyBytes> {
    STANDARD.decode(text.trim()).map(KeyBytes).context("not valid base64")
}

/// Creates the data directory (mode 0700) if it does not exist.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Reads a base64 key file, or creates it with `len` random bytes, mode 0600.
/// `create_new` makes two processes starting at once agree on one key: the
/// loser of the race reads the winner's file.
fn load_or_create(path: &Path, len: usize) -> anyhow::Result<KeyBytes> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            let mut bytes = vec![0u8; len];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            file.write_all(STANDARD.encode(&bytes).as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new key file");
            Ok(KeyBytes(bytes))
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let mode = fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "key file is readable by others; chmod 600 it");
            }
            let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            decode_key(&text).with_context(|| format!("key file {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let s = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn key_files_are_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keys::load(dir.path(), None, None).unwrap();
        let mode = fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = Keys::load(dir.path(), None, None).unwrap();
        assert_eq!(first.jwt.expose(), second.jwt.expose());
        assert_eq!(first.master.expose(), second.master.expose());
        assert_eq!(first.master.expose().len(), 32);
        assert!(format!("{first:?}").contains("redacted"));
    }

    #[test]
    fn configured_keys_win_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let master = Secret::new(STANDARD.encode([7u8; 32]));
        let keys = Keys::load(dir.path(), Some(&Secret::new("x".repeat(40))), Some(&master)).unwrap();
        assert_eq!(keys.master.expose(), &[7u8; 32]);
        assert!(!dir.path().join("master.key").exists());
        assert!(Keys::load(dir.path(), Some(&Secret::new("short")), None).is_err());
        assert!(Keys::load(dir.path(), None, Some(&Secret::new(STANDARD.encode([1u8; 8])))).is_err());
    }
}
