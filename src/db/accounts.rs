//! Users, subscription tiers, login sessions and API keys.

use chrono::{DateTime, Duration, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::{BeginWrite, Db, DbError, DbResult, lock_user, on_pool};

/// A subscription tier and its limits (rows of `subscription_tiers`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Tier {
    pub id: String,
    pub name: String,
    pub requests_per_minute: i64,
    pub requests_per_month: i64,
    pub max_installations: i64,
    /// Whether the tier may deploy MCP servers.
    pub can_publish: bool,
    pub sort_order: i64,
    /// Servers a user may publish.
    pub max_servers: i64,
}

/// A user account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
    /// Id of the user's [`Tier`].
    pub subscription_tier: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// A user with the password hash, only for logging in.
#[derive(Debug, Clone, FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
}

/// An API key's metadata; the key itself is never stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The key's first characters, to recognise it in lists.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// What the key may reach; `None`: everything its owner installed.
    pub scope: Option<sqlx::types::Json<KeyScope>>,
}

/// A key's reach (a "virtual server"). Each list, when present, is an
/// allow-list; both must pass.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyScope {
    /// Installation ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installations: Option<Vec<Uuid>>,
    /// Public tool names (`slug.tool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// With exactly one installation: `/mcp` shows that server's own tool,
    /// prompt and resource names, without the `slug.` prefix (for clients
    /// that connect one server, and the conformance suite).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unprefixed: bool,
}

/// What `create_api_key` stores.
pub struct NewApiKey<'a> {
    pub scope: Option<&'a KeyScope>,
    pub user_id: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    /// SHA-256 of the full key.
    pub key_hash: &'a [u8],
}

/// The roles a user can have.
pub const ROLES: [&str; 2] = ["user", "admin"];

/// `last_used_at` is written at most this often per key, so a busy key does
/// not turn every call into a database write.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// The columns of [`User`], spliced into queries at compile time.
macro_rules! user_columns {
    () => {
        "id, email, role, subscription_tier, created_at"
    };
}

impl Db {
    /// Every tier, cheapest first.
    pub async fn list_tiers(&self) -> DbResult<Vec<Tier>> {
        let sql = "SELECT * FROM subscription_tiers ORDER BY sort_order";
        on_pool!(self, |pool| sqlx::query_as::<_, Tier>(sql).fetch_all(pool).await).map_err(DbError::classify)
    }

    pub async fn tier(&self, id: &str) -> DbResult<Option<Tier>> {
        let sql = "SELECT * FROM subscription_tiers WHERE id = $1";
        on_pool!(self, |pool| sqlx::query_as::<_, Tier>(sql).bind(id).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    /// Creates or replaces a tier (administration; tests).
    pub async fn upsert_tier(&self, t: &Tier) -> DbResult<()> {
        let sql =
            "INSERT INTO subscription_tiers (id, name, requests_per_minute, requests_per_month, max_installations,
                       can_publish, sort_order, max_servers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (id) DO UPDATE SET name = $2, requests_per_minute = $3, requests_per_month = $4,
                       max_installations = $5, can_publish = $6, sort_order = $7, max_servers = $8";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(&t.id)
            .bind(&t.name)
            .bind(t.requests_per_minute)
            .bind(t.requests_per_month)
            .bind(t.max_installations)
            .bind(t.can_publish)
            .bind(t.sort_order)
            .bind(t.max_servers)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(DbError::classify)
    }

    /// Creates a user on the free tier. The first user ever created becomes
    /// the administrator; the check and the insert are one statement.
    /// Fails with [`DbError::Conflict`] when the email is taken.
    pub async fn create_user(&self, email: &str, password_hash: &str) -> DbResult<User> {
        let sql = concat!(
            "INSERT INTO users (id, email, password_hash, role, subscription_tier, created_at, updated_at)
             SELECT $1, $2, $3,
                    CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'user' ELSE 'admin' END,
                    'free', $4, $4
             RETURNING ",
            user_columns!()
        );
        let now = Utc::now();
        // Serialized, so two concurrent first registrations cannot both see
        // an empty table and both become admin.
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            if let Some(lock) = pool.serializing_statement() {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let user = sqlx::query_as::<_, User>(sql)
                .bind(Uuid::now_v7())
                .bind(email)
                .bind(password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<User, sqlx::Error>(user)
        }
        .await)
        .map_err(DbError::classify)
    }

    pub async fn user_by_id(&self, id: Uuid) -> DbResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, User>(sql).bind(id).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    pub async fn user_by_email(&self, email: &str) -> DbResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, User>(sql).bind(email).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    /// The user and password hash for a (normalised) email address.
    pub async fn credentials_by_email(&self, email: &str) -> DbResult<Option<Credentials>> {
        let sql = concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE email = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, Credentials>(sql).bind(email).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> DbResult<Vec<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users ORDER BY created_at, id");
        on_pool!(self, |pool| sqlx::query_as::<_, User>(sql).fetch_all(pool).await).map_err(DbError::classify)
    }

    /// Changes a user's role and/or tier. `None` when the user does not
    /// exist; [`DbError::MissingReference`] for an unknown tier. The caller
    /// checks that the role is one of [`ROLES`] (the schema checks too).
    pub async fn update_user(&self, id: Uuid, role: Option<&str>, tier: Option<&str>) -> DbResult<Option<User>> {
        let sql = concat!(
            "UPDATE users SET role = COALESCE($2, role), subscription_tier = COALESCE($3, subscription_tier),
                              updated_at = $4
             WHERE id = $1 RETURNING ",
            user_columns!()
        );
        on_pool!(self, |pool| sqlx::query_as::<_, User>(sql)
            .bind(id)
            .bind(role)
            .bind(tier)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// Replaces a user's password hash and ends all of their sessions, in
    /// one transaction.
    pub async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> DbResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            let updated = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?
                .rows_affected();
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)?;
            Ok(updated == 1)
        })
    }

    // ---- sessions -------------------------------------------------------

    /// Records a new login session and returns its id.
    pub async fn create_session(&self, user_id: Uuid, expires_at: DateTime<Utc>) -> DbResult<Uuid> {
        let id = Uuid::now_v7();
        let sql = "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(user_id)
            .bind(Utc::now())
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        Ok(id)
    }

    /// The user of a live session: `None` when the session was ended or has
    /// expired.
    pub async fn session_user(&self, session_id: Uuid) -> DbResult<Option<User>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            expires_at: DateTime<Utc>,
        }
        let sql = "SELECT u.id, u.email, u.role, u.subscription_tier, u.created_at, s.expires_at
                   FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1";
        let row = on_pool!(self, |pool| sqlx::query_as::<_, Row>(sql).bind(session_id).fetch_optional(pool).await)
            .map_err(DbError::classify)?;
        // Expiry is compared in Rust: SQLite stores timestamps as text.
        Ok(row.filter(|r| r.expires_at > Utc::now()).map(|r| r.user))
    }

    /// Moves a live session's expiry (renewal while in use).
    pub async fn extend_session(&self, session_id: Uuid, expires_at: DateTime<Utc>) -> DbResult<bool> {
        let sql = "UPDATE sessions SET expires_at = $2 WHERE id = $1";
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(session_id)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        Ok(done == 1)
    }

    /// Ends a session (log out). `false` when there was none.
    pub async fn delete_session(&self, session_id: Uuid) -> DbResult<bool> {
        let sql = "DELETE FROM sessions WHERE id = $1";
        let done =
            on_pool!(self, |pool| sqlx::query(sql).bind(session_id).execute(pool).await.map(|r| r.rows_affected()))
                .map_err(DbError::classify)?;
        Ok(done == 1)
    }

    /// Deletes sessions that expired before `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> DbResult<u64> {
        let sql = "DELETE FROM sessions WHERE expires_at < $1";
        let done = on_pool!(self, |pool| sqlx::query(sql).bind(now).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(DbError::classify)?;
        Ok(done)
    }

    // ---- API keys -------------------------------------------------------

    /// Creates a key, unless the user already has `max_live` keys that are
    /// not revoked ([`DbError::LimitReached`]); counted under the user's
    /// lock, so concurrent requests cannot overshoot.
    pub async fn create_api_key(&self, key: NewApiKey<'_>, max_live: i64) -> DbResult<ApiKey> {
        let sql = "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, scope)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   RETURNING id, user_id, name, prefix, created_at, last_used_at, scope";
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            lock_user!(pool, tx, key.user_id);
            let (live,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(key.user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(DbError::classify)?;
            if live >= max_live {
                return Err(DbError::LimitReached);
            }
            let created = sqlx::query_as::<_, ApiKey>(sql)
                .bind(Uuid::now_v7())
                .bind(key.user_id)
                .bind(key.name)
                .bind(key.prefix)
                .bind(key.key_hash)
                .bind(Utc::now())
                .bind(key.scope.map(sqlx::types::Json))
                .fetch_one(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)?;
            Ok(created)
        })
    }

    /// The user's keys that are not revoked, newest first.
    pub async fn list_api_keys(&self, user_id: Uuid) -> DbResult<Vec<ApiKey>> {
        let sql = "SELECT id, user_id, name, prefix, created_at, last_used_at, scope FROM api_keys
                   WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC";
        on_pool!(self, |pool| sqlx::query_as::<_, ApiKey>(sql).bind(user_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    /// Revokes one of the user's keys. `false` when the user has no such
    /// live key (another user's key id looks exactly like an unknown one).
    pub async fn revoke_api_key(&self, user_id: Uuid, key_id: Uuid) -> DbResult<bool> {
        let sql = "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL";
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(key_id)
            .bind(user_id)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        Ok(done == 1)
    }

    /// Revokes every live key of the user; returns their ids.
    pub async fn revoke_all_api_keys(&self, user_id: Uuid) -> DbResult<Vec<Uuid>> {
        let sql = "UPDATE api_keys SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id";
        let rows: Vec<(Uuid,)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(user_id).bind(Utc::now()).fetch_all(pool).await)
                .map_err(DbError::classify)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Resolves a live (unrevoked) key by the SHA-256 of its text, and
    /// records its use. Returns the key with its stored hash, so the caller
    /// can compare in constant time, and its owner.
    pub async fn api_key_by_hash(&self, key_hash: &[u8]) -> DbResult<Option<(ApiKey, Vec<u8>, User)>> {
        #[derive(FromRow)]
        struct Row {
            key_id: Uuid,
            key_name: String,
            prefix: String,
            key_created_at: DateTime<Utc>,
            last_used_at: Option<DateTime<Utc>>,
            scope: Option<sqlx::types::Json<KeyScope>>,
            key_hash: Vec<u8>,
            #[sqlx(flatten)]
            user: User,
        }
        let sql = "SELECT k.id AS key_id, k.name AS key_name, k.prefix, k.created_at AS key_created_at,
                          k.last_used_at, k.scope, k.key_hash,
                          u.id, u.email, u.role, u.subscription_tier, u.created_at
                   FROM api_keys k JOIN users u ON u.id = k.user_id
                   WHERE k.key_hash = $1 AND k.revoked_at IS NULL";
        let Some(row) = on_pool!(self, |pool| sqlx::query_as::<_, Row>(sql).bind(key_hash).fetch_optional(pool).await)
            .map_err(DbError::classify)?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let stale = row.last_used_at.is_none_or(|t| now - t >= LAST_USED_RESOLUTION);
        let last_used_at = if stale {
            let sql = "UPDATE api_keys SET last_used_at = $2 WHERE id = $1";
            on_pool!(self, |pool| sqlx::query(sql)
                .bind(row.key_id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))
            .map_err(DbError::classify)?;
            Some(now)
        } else {
            row.last_used_at
        };
        let key = ApiKey {
            id: row.key_id,
            user_id: row.user.id,
            name: row.key_name,
            prefix: row.prefix,
            created_at: row.key_created_at,
            last_used_at,
            scope: row.scope,
        };
        Ok(Some((key, row.key_hash, row.user)))
    }
}
