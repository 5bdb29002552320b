//! Storage of OmniMCP's OAuth authorization server ([`crate::oauth`]):
//! clients, grants (one user's consent to one client), authorization codes
//! and tokens. Codes and tokens are stored as SHA-256 hashes only.
//!
//! Single use is enforced by the database, not by a read then a write:
//! a code or a refresh token is spent by an `UPDATE ... WHERE used_at IS
//! NULL`, so of two concurrent redemptions exactly one wins, and the loser
//! is told the credential was already used (which revokes the grant).

use chrono::{DateTime, Duration, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{BeginWrite, Db, DbError, DbResult, KeyScope, User, on_pool};

/// A client application, however it was identified.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OAuthClient {
    pub client_id: String,
    /// `registered` (RFC 7591), `preregistered` (by an administrator) or
    /// `metadata_document` (the client id is the document's URL).
    pub kind: String,
    pub name: String,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub redirect_uris: Json<Vec<String>>,
    /// SHA-256 of a confidential client's secret.
    pub secret_hash: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub fetched_at: Option<DateTime<Utc>>,
}

/// One user's consent to one client.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OAuthGrant {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    /// Space-separated OAuth scopes.
    pub scopes: String,
    /// What its tokens reach; `None`: everything the user installed.
    pub reach: Option<Json<KeyScope>>,
    pub resource: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A grant as the user's settings list it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectedApp {
    #[sqlx(flatten)]
    pub grant: OAuthGrant,
    pub client_name: String,
    pub client_kind: String,
    pub client_uri: Option<String>,
}

/// What a new grant and its first code hold.
pub struct NewAuthorization<'a> {
    pub user_id: Uuid,
    pub client_id: &'a str,
    pub scopes: &'a str,
    pub reach: Option<&'a KeyScope>,
    pub resource: &'a str,
    pub code_hash: &'a [u8],
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub code_expires_at: DateTime<Utc>,
}

/// A redeemed authorization code: what the token request must match.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RedeemedCode {
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub grant: OAuthGrant,
}

/// The outcome of spending a single-use credential (a code or a refresh
/// token).
#[derive(Debug)]
pub enum Spent<T> {
    /// It was live and is now spent.
    Fresh(T),
    /// It had been spent before: a replay. The grant it belongs to.
    Replayed(Uuid),
    /// Unknown, or its grant is revoked.
    Unknown,
}

/// A live access token's grant and user.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub grant: OAuthGrant,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// A connection whose access token is about to expire.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueConnection {
    pub installation_id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub refresh_enc: Vec<u8>,
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// Where a remote MCP server's connection is refreshed: its authorization
/// server, token endpoint, granted scope and resource indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamGrant {
    pub issuer: String,
    pub token_url: String,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// OmniMCP's registration with an authorization server of a remote MCP
/// server (`upstream_oauth_clients`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UpstreamClient {
    pub issuer: String,
    pub client_id: String,
    pub secret_enc: Option<Vec<u8>>,
    pub key_id: String,
    pub auth_method: String,
    pub redirect_uri: String,
}

/// `last_used_at` of a grant is written at most this often.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// The columns of [`OAuthGrant`] (table alias `g`), spliced into queries
/// at compile time.
macro_rules! grant_columns {
    () => {
        "g.id, g.user_id, g.client_id, g.scopes, g.reach, g.resource, g.created_at, g.last_used_at, g.revoked_at"
    };
}

impl Db {
    /// Stores a client; a metadata document's client is replaced by its
    /// newer fetch.
    pub async fn save_oauth_client(&self, client: &OAuthClient) -> DbResult<()> {
        let sql = "INSERT INTO oauth_clients
                       (client_id, kind, name, logo_uri, client_uri, redirect_uris, secret_hash, created_at, fetched_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (client_id) DO UPDATE SET
                       name = excluded.name, logo_uri = excluded.logo_uri, client_uri = excluded.client_uri,
                       redirect_uris = excluded.redirect_uris, fetched_at = excluded.fetched_at
                   WHERE oauth_clients.kind = 'metadata_document'";
        let affected = on_pool!(self, |pool| sqlx::query(sql)
            .bind(&client.client_id)
            .bind(&client.kind)
            .bind(&client.name)
            .bind(&client.logo_uri)
            .bind(&client.client_uri)
            .bind(&client.redirect_uris)
            .bind(&client.secret_hash)
            .bind(client.created_at)
            .bind(client.fetched_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        if affected == 0 {
            return Err(DbError::Conflict);
        }
        Ok(())
    }

    pub async fn oauth_client(&self, client_id: &str) -> DbResult<Option<OAuthClient>> {
        let sql = "SELECT * FROM oauth_clients WHERE client_id = $1";
        on_pool!(self, |pool| sqlx::query_as::<_, OAuthClient>(sql).bind(client_id).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    /// Records a user's consent and the authorization code that carries it
    /// to the client, in one transaction.
    pub async fn create_authorization(&self, new: &NewAuthorization<'_>) -> DbResult<Uuid> {
        let id = Uuid::now_v7();
        let now = Utc::now();
        let grant = "INSERT INTO oauth_grants (id, user_id, client_id, scopes, reach, resource, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let code = "INSERT INTO oauth_codes (code_hash, grant_id, redirect_uri, code_challenge, expires_at)
                    VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            sqlx::query(grant)
                .bind(id)
                .bind(new.user_id)
                .bind(new.client_id)
                .bind(new.scopes)
                .bind(new.reach.map(Json))
                .bind(new.resource)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            sqlx::query(code)
                .bind(new.code_hash)
                .bind(id)
                .bind(new.redirect_uri)
                .bind(new.code_challenge)
                .bind(new.code_expires_at)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)?;
            Ok(id)
        })
    }

    /// Spends an authorization code (see the module docs).
    pub async fn redeem_oauth_code(&self, code_hash: &[u8]) -> DbResult<Spent<RedeemedCode>> {
        let spend = "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL";
        let spent = on_pool!(self, |pool| sqlx::query(spend)
            .bind(code_hash)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        let sql = concat!(
            "SELECT c.redirect_uri, c.code_challenge, c.expires_at, ",
            grant_columns!(),
            "
             FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id
             WHERE c.code_hash = $1 AND g.revoked_at IS NULL"
        );
        let row =
            on_pool!(self, |pool| sqlx::query_as::<_, RedeemedCode>(sql).bind(code_hash).fetch_optional(pool).await)
                .map_err(DbError::classify)?;
        Ok(match (row, spent) {
            (None, _) => Spent::Unknown,
            (Some(row), 1) => Spent::Fresh(row),
            (Some(row), _) => Spent::Replayed(row.grant.id),
        })
    }

    /// Stores a new access token and refresh token for a grant.
    pub async fn store_oauth_tokens(
        &self,
        grant_id: Uuid,
        access: (&[u8], DateTime<Utc>),
        refresh: (&[u8], DateTime<Utc>),
    ) -> DbResult<()> {
        let sql = "INSERT INTO oauth_tokens (token_hash, grant_id, kind, expires_at) VALUES
                   ($1, $2, 'access', $3), ($4, $2, 'refresh', $5)";
        let purge = "DELETE FROM oauth_tokens WHERE grant_id = $1 AND expires_at < $2";
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            // Expired tokens of the grant go as new ones arrive, so a grant
            // in use holds a bounded number of rows.
            sqlx::query(purge).bind(grant_id).bind(Utc::now()).execute(&mut *tx).await.map_err(DbError::classify)?;
            sqlx::query(sql)
                .bind(access.0)
                .bind(grant_id)
                .bind(access.1)
                .bind(refresh.0)
                .bind(refresh.1)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)?;
            Ok(())
        })
    }

    /// Spends a refresh token (see the module docs). An expired one is
    /// [`Spent::Unknown`].
    pub async fn spend_refresh_token(&self, token_hash: &[u8]) -> DbResult<Spent<OAuthGrant>> {
        let now = Utc::now();
        let spend = "UPDATE oauth_tokens SET used_at = $2
                     WHERE token_hash = $1 AND kind = 'refresh' AND used_at IS NULL AND expires_at > $2";
        let spent = on_pool!(self, |pool| sqlx::query(spend)
            .bind(token_hash)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        #[derive(sqlx::FromRow)]
        struct Row {
            expires_at: DateTime<Utc>,
            #[sqlx(flatten)]
            grant: OAuthGrant,
        }
        let sql = concat!(
            "SELECT t.expires_at, ",
            grant_columns!(),
            "
             FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
             WHERE t.token_hash = $1 AND t.kind = 'refresh' AND g.revoked_at IS NULL"
        );
        let row = on_pool!(self, |pool| sqlx::query_as::<_, Row>(sql).bind(token_hash).fetch_optional(pool).await)
            .map_err(DbError::classify)?;
        Ok(match (row, spent) {
            (None, _) => Spent::Unknown,
            (Some(row), 1) => Spent::Fresh(row.grant),
            (Some(row), _) if row.expires_at <= now => Spent::Unknown,
            (Some(row), _) => Spent::Replayed(row.grant.id),
        })
    }

    /// The live grant and user behind an access token, if it is one and
    /// its grant stands (expiry is the caller's to check). Notes the
    /// grant's use, at most once a minute.
    pub async fn oauth_access(&self, token_hash: &[u8]) -> DbResult<Option<AccessGrant>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            token_expires_at: DateTime<Utc>,
            #[sqlx(flatten)]
            grant: OAuthGrant,
            email: String,
            role: String,
            subscription_tier: String,
            user_created_at: DateTime<Utc>,
        }
        let sql = concat!(
            "SELECT t.expires_at AS token_expires_at, ",
            grant_columns!(),
            ",
                    u.email, u.role, u.subscription_tier, u.created_at AS user_created_at
             FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id JOIN users u ON u.id = g.user_id
             WHERE t.token_hash = $1 AND t.kind = 'access' AND g.revoked_at IS NULL"
        );
        let Some(row) =
            on_pool!(self, |pool| sqlx::query_as::<_, Row>(sql).bind(token_hash).fetch_optional(pool).await)
                .map_err(DbError::classify)?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let mut grant = row.grant;
        if grant.last_used_at.is_none_or(|t| now - t >= LAST_USED_RESOLUTION) {
            let sql = "UPDATE oauth_grants SET last_used_at = $2 WHERE id = $1";
            on_pool!(self, |pool| sqlx::query(sql).bind(grant.id).bind(now).execute(pool).await.map(|_| ()))
                .map_err(DbError::classify)?;
            grant.last_used_at = Some(now);
        }
        let user = User {
            id: grant.user_id,
            email: row.email,
            role: row.role,
            subscription_tier: row.subscription_tier,
            created_at: row.user_created_at,
        };
        Ok(Some(AccessGrant { grant, expires_at: row.token_expires_at, user }))
    }

    /// The grant a token (access or refresh) belongs to, if it is known.
    pub async fn oauth_token_grant(&self, token_hash: &[u8]) -> DbResult<Option<(Uuid, String, String)>> {
        let sql = "SELECT t.grant_id, t.kind, g.client_id FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
                   WHERE t.token_hash = $1";
        on_pool!(self, |pool| sqlx::query_as::<_, (Uuid, String, String)>(sql)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// Ends one access token.
    pub async fn delete_oauth_token(&self, token_hash: &[u8]) -> DbResult<()> {
        let sql = "DELETE FROM oauth_tokens WHERE token_hash = $1";
        on_pool!(self, |pool| sqlx::query(sql).bind(token_hash).execute(pool).await.map(|_| ()))
            .map_err(DbError::classify)?;
        Ok(())
    }

    /// Revokes a grant and deletes its codes and tokens; `user`, when
    /// given, must own it. The grant's user when a live grant was revoked.
    pub async fn revoke_oauth_grant(&self, grant_id: Uuid, user: Option<Uuid>) -> DbResult<Option<Uuid>> {
        let revoke = "UPDATE oauth_grants SET revoked_at = $3
                      WHERE id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR user_id = $2)
                      RETURNING user_id";
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            let revoked: Option<(Uuid,)> = sqlx::query_as(revoke)
                .bind(grant_id)
                .bind(user)
                .bind(Utc::now())
                .fetch_optional(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            if revoked.is_some() {
                for sql in
                    ["DELETE FROM oauth_tokens WHERE grant_id = $1", "DELETE FROM oauth_codes WHERE grant_id = $1"]
                {
                    sqlx::query(sql).bind(grant_id).execute(&mut *tx).await.map_err(DbError::classify)?;
                }
            }
            tx.commit().await.map_err(DbError::classify)?;
            Ok(revoked.map(|r| r.0))
        })
    }

    /// The user's live grants, newest first.
    pub async fn connected_apps(&self, user: Uuid) -> DbResult<Vec<ConnectedApp>> {
        let sql = concat!(
            "SELECT ",
            grant_columns!(),
            ", c.name AS client_name, c.kind AS client_kind, c.client_uri
             FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id
             WHERE g.user_id = $1 AND g.revoked_at IS NULL
             ORDER BY g.created_at DESC"
        );
        on_pool!(self, |pool| sqlx::query_as::<_, ConnectedApp>(sql).bind(user).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    /// Forgets dynamically registered clients created before `before` that
    /// no user ever authorized: registration is open to anyone, so the
    /// abandoned ones must not pile up. The number forgotten.
    pub async fn forget_unused_clients(&self, before: DateTime<Utc>) -> DbResult<u64> {
        let sql = "DELETE FROM oauth_clients WHERE kind = 'registered' AND created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = oauth_clients.client_id)";
        on_pool!(self, |pool| sqlx::query(sql).bind(before).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(DbError::classify)
    }

    // ---- connections to providers (OmniMCP as an OAuth client) ----------

    /// Records (or replaces) an installation's connection.
    pub async fn save_connection(
        &self,
        installation: Uuid,
        provider: &str,
        refresh_enc: Option<&[u8]>,
        key_id: &str,
        expires_at: Option<DateTime<Utc>>,
        upstream: Option<&UpstreamGrant>,
    ) -> DbResult<()> {
        let sql = "INSERT INTO installation_connections (installation_id, provider, refresh_enc, key_id, expires_at,
                       updated_at, issuer, token_url, scope, resource)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   ON CONFLICT (installation_id) DO UPDATE SET provider = excluded.provider,
                       refresh_enc = excluded.refresh_enc, key_id = excluded.key_id,
                       expires_at = excluded.expires_at, updated_at = excluded.updated_at,
                       issuer = excluded.issuer, token_url = excluded.token_url, scope = excluded.scope,
                       resource = excluded.resource";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(installation)
            .bind(provider)
            .bind(refresh_enc)
            .bind(key_id)
            .bind(expires_at)
            .bind(Utc::now())
            .bind(upstream.map(|u| &u.issuer))
            .bind(upstream.map(|u| &u.token_url))
            .bind(upstream.and_then(|u| u.scope.as_ref()))
            .bind(upstream.and_then(|u| u.resource.as_ref()))
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(DbError::classify)
    }

    /// Connections with a refresh token whose access token expires before
    /// `before`.
    pub async fn connections_due(&self, before: DateTime<Utc>) -> DbResult<Vec<DueConnection>> {
        let sql = "SELECT c.installation_id, i.user_id, c.provider, c.refresh_enc, c.issuer, c.token_url, c.scope,
                          c.resource
                   FROM installation_connections c JOIN user_mcp_installations i ON i.id = c.installation_id
                   WHERE c.refresh_enc IS NOT NULL AND c.expires_at IS NOT NULL AND c.expires_at < $1";
        on_pool!(self, |pool| sqlx::query_as::<_, DueConnection>(sql).bind(before).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    /// The provider an installation is connected to, if any.
    pub async fn connection_provider(&self, installation: Uuid) -> DbResult<Option<String>> {
        let sql = "SELECT provider FROM installation_connections WHERE installation_id = $1";
        let row: Option<(String,)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(installation).fetch_optional(pool).await)
                .map_err(DbError::classify)?;
        Ok(row.map(|r| r.0))
    }

    /// The issuer and sealed refresh token of an installation's connection
    /// to a remote MCP server, if it has one.
    pub async fn remote_connection(&self, installation: Uuid) -> DbResult<Option<(String, Option<Vec<u8>>)>> {
        let sql = "SELECT issuer, refresh_enc FROM installation_connections
                   WHERE installation_id = $1 AND issuer IS NOT NULL";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(installation).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    /// Sets (or, with `None`, removes) the sealed access token of an
    /// installation's connection to a remote MCP server.
    pub async fn set_access_token(&self, installation: Uuid, sealed: Option<&[u8]>) -> DbResult<()> {
        let sql = "UPDATE user_mcp_installations SET access_token_enc = $1, updated_at = $2 WHERE id = $3";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(sealed)
            .bind(Utc::now())
            .bind(installation)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(DbError::classify)
    }

    /// OmniMCP's registration with an authorization server, if it made one.
    pub async fn upstream_client(&self, issuer: &str) -> DbResult<Option<UpstreamClient>> {
        let sql = "SELECT issuer, client_id, secret_enc, key_id, auth_method, redirect_uri
                   FROM upstream_oauth_clients WHERE issuer = $1";
        on_pool!(self, |pool| sqlx::query_as::<_, UpstreamClient>(sql).bind(issuer).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    /// Records (or replaces) a registration with an authorization server.
    pub async fn save_upstream_client(&self, client: &UpstreamClient) -> DbResult<()> {
        let sql =
            "INSERT INTO upstream_oauth_clients (issuer, client_id, secret_enc, key_id, auth_method, redirect_uri,
                       created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (issuer) DO UPDATE SET client_id = excluded.client_id,
                       secret_enc = excluded.secret_enc, key_id = excluded.key_id,
                       auth_method = excluded.auth_method, redirect_uri = excluded.redirect_uri,
                       created_at = excluded.created_at";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(&client.issuer)
            .bind(&client.client_id)
            .bind(&client.secret_enc)
            .bind(&client.key_id)
            .bind(&client.auth_method)
            .bind(&client.redirect_uri)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(DbError::classify)
    }
}
