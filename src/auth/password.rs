//! Password hashing with argon2id, always on the blocking thread pool: a
//! hash costs tens of milliseconds of CPU and must not stall the async
//! runtime.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

/// Hashes a password into a PHC string (argon2id, the crate's default
/// parameters: 19 MiB, 2 iterations, 1 lane, as OWASP recommends).
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

/// Checks a password against a PHC string. With `None` it verifies against a
/// fixed dummy hash and returns `false`, so an unknown email costs the same
/// time as a wrong password and timing does not reveal which accounts exist.
pub async fn verify(password: String, phc: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_string());
        let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await?
}

/// argon2id hash of a random string nobody knows, with default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$mY8rCWtpJ0s1V1BsHhJ6CbwHZ0XmTNmhDhE4qvoTyTE";

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hash_and_verify() {
        let h = super::hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!super::verify("wrong".into(), Some(h)).await.unwrap());
        assert!(!super::verify("anything".into(), None).await.unwrap());
    }
}
