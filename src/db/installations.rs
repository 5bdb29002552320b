//! Installations: a user's copy of a server, with its sealed configuration.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::{BeginWrite, Db, DbError, DbResult, lock_user, on_pool};

/// A row of `user_mcp_installations`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct InstallationRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub server_id: Uuid,
    pub config_enc: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub enabled: bool,
    /// The access token of an OAuth connection to a remote MCP server,
    /// sealed to the installation (`crypto::aad::connection_access`).
    pub access_token_enc: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Db {
    /// Installs a server for a user, unless they already have
    /// `max_installations`; the count and the insert share a transaction
    /// that holds the user's lock, so concurrent installs cannot overshoot.
    /// `Ok(None)` when the limit is reached; [`DbError::Conflict`] when the
    /// server is already installed.
    pub async fn create_installation(
        &self,
        id: Uuid,
        user_id: Uuid,
        server_id: Uuid,
        config_enc: Option<&[u8]>,
        key_id: Option<&str>,
        max_installations: i64,
    ) -> DbResult<Option<InstallationRecord>> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            lock_user!(pool, tx, user_id);
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_mcp_installations WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            if count >= max_installations {
                return Ok(None);
            }
            let row = sqlx::query_as::<_, InstallationRecord>(
                "INSERT INTO user_mcp_installations (id, user_id, server_id, config_enc, key_id, enabled, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6) RETURNING *",
            )
            .bind(id)
            .bind(user_id)
            .bind(server_id)
            .bind(config_enc)
            .bind(key_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)?;
            Ok(Some(row))
        })
    }

    /// One of the user's installations (another user's looks like none).
    pub async fn installation(&self, user_id: Uuid, id: Uuid) -> DbResult<Option<InstallationRecord>> {
        let sql = "SELECT * FROM user_mcp_installations WHERE id = $1 AND user_id = $2";
        on_pool!(self, |pool| sqlx::query_as::<_, InstallationRecord>(sql)
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// The user's installation of a server, if any.
    pub async fn installation_for_server(
        &self,
        user_id: Uuid,
        server_id: Uuid,
    ) -> DbResult<Option<InstallationRecord>> {
        let sql = "SELECT * FROM user_mcp_installations WHERE user_id = $1 AND server_id = $2";
        on_pool!(self, |pool| sqlx::query_as::<_, InstallationRecord>(sql)
            .bind(user_id)
            .bind(server_id)
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// The users who installed a server (to tell them about changes).
    pub async fn installation_users(&self, server_id: Uuid) -> DbResult<Vec<Uuid>> {
        let sql = "SELECT user_id FROM user_mcp_installations WHERE server_id = $1";
        let rows: Vec<(Uuid,)> = on_pool!(self, |pool| sqlx::query_as(sql).bind(server_id).fetch_all(pool).await)
            .map_err(DbError::classify)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The user an installation belongs to.
    pub async fn installation_user(&self, id: Uuid) -> DbResult<Option<Uuid>> {
        let sql = "SELECT user_id FROM user_mcp_installations WHERE id = $1";
        let row: Option<(Uuid,)> = on_pool!(self, |pool| sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
            .map_err(DbError::classify)?;
        Ok(row.map(|r| r.0))
    }

    /// How many users have installed a server.
    pub async fn installation_count(&self, server_id: Uuid) -> DbResult<i64> {
        let sql = "SELECT COUNT(*) FROM user_mcp_installations WHERE server_id = $1";
        let (n,): (i64,) = on_pool!(self, |pool| sqlx::query_as(sql).bind(server_id).fetch_one(pool).await)
            .map_err(DbError::classify)?;
        Ok(n)
    }

    pub async fn list_installations(&self, user_id: Uuid) -> DbResult<Vec<InstallationRecord>> {
        let sql = "SELECT * FROM user_mcp_installations WHERE user_id = $1 ORDER BY created_at, id";
        on_pool!(self, |pool| sqlx::query_as::<_, InstallationRecord>(sql).bind(user_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    /// Updates config and/or enabled; `None` when the user has no such
    /// installation.
    pub async fn update_installation(
        &self,
        user_id: Uuid,
        id: Uuid,
        config: Option<(&[u8], &str)>,
        enabled: Option<bool>,
    ) -> DbResult<Option<InstallationRecord>> {
        let sql = "UPDATE user_mcp_installations
                   SET config_enc = COALESCE($3, config_enc), key_id = COALESCE($4, key_id),
                       enabled = COALESCE($5, enabled), updated_at = $6
                   WHERE id = $1 AND user_id = $2 RETURNING *";
        on_pool!(self, |pool| sqlx::query_as::<_, InstallationRecord>(sql)
            .bind(id)
            .bind(user_id)
            .bind(config.map(|c| c.0))
            .bind(config.map(|c| c.1))
            .bind(enabled)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    pub async fn delete_installation(&self, user_id: Uuid, id: Uuid) -> DbResult<bool> {
        let sql = "DELETE FROM user_mcp_installations WHERE id = $1 AND user_id = $2";
        let n = on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        Ok(n == 1)
    }
}
