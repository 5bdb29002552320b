//! Session tokens: HS256 JWTs that name a user (`sub`) and a session row
//! (`sid`). A token is accepted only while its signature is valid, it has
//! not expired, and its session still exists (logging out deletes it).

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Session id (row of `sessions`).
    pub sid: Uuid,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the session token has expired; log in again")]
    Expired,
    #[error("the session token is not valid")]
    Invalid,
}

/// Issues and verifies tokens with the platform's JWT key.
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// How long a token (and its session) lives.
    pub ttl: Duration,
}

impl TokenSigner {
    pub fn new(key: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is exact: no leeway, so "expired" means expired.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key), validation, ttl }
    }

    /// A token for this session, valid for `ttl` from `now`.
    pub fn issue(&self, user: Uuid, session: Uuid, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let expires = now + self.ttl;
        let claims = Claims { sub: user, sid: session, iat: now.timestamp(), exp: expires.timestamp() };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            }
        })
    }

    /// Whether a browser token is past half its life and should be renewed.
    pub fn due_for_renewal(&self, claims: &Claims, now: DateTime<Utc>) -> bool {
        now.timestamp() - claims.iat > self.ttl.num_seconds() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_expiry_and_foreign_keys() {
        let signer = TokenSigner::new(&[1u8; 64], Duration::minutes(10));
        let (user, sid) = (Uuid::now_v7(), Uuid::now_v7());
        let (token, _) = signer.issue(user, sid, Utc::now());
        let claims = signer.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, sid));

        let (old, _) = signer.issue(user, sid, Utc::now() - Duration::hours(1));
        assert_eq!(signer.verify(&old).unwrap_err(), TokenError::Expired);

        let other = TokenSigner::new(&[2u8; 64], Duration::minutes(10));
        assert_eq!(other.verify(&token).unwrap_err(), TokenError::Invalid);
        assert_eq!(signer.verify("not.a.jwt").unwrap_err(), TokenError::Invalid);
    }
}
