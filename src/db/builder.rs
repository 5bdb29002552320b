//! Builder servers' drafts and published versions (`builder_servers`,
//! `builder_versions`). A draft's id is the id of the `mcp_servers` row
//! that publishing creates (written by [`Db::upsert_server_within`], like
//! every other server), so the two always name the same server.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, types::Json};
use uuid::Uuid;

use super::{BeginWrite, Db, DbError, DbResult, on_pool};

/// A builder server as its publisher edits it.
#[derive(Debug, Clone, FromRow)]
pub struct BuilderRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Json<Vec<String>>,
    /// The draft definition (`builder::Definition`).
    pub definition: Json<Value>,
    /// The publisher's secrets, a sealed JSON object.
    pub secrets_enc: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A draft with what publishing made of it.
#[derive(Debug, Clone, FromRow)]
pub struct BuilderListed {
    #[sqlx(flatten)]
    pub record: BuilderRecord,
    /// The published version, if any.
    pub published_version: Option<String>,
    /// `active` or `disabled` (unpublished) once published.
    pub published_status: Option<String>,
    pub install_count: i64,
    pub request_count: i64,
}

const LISTED: &str = "SELECT b.*, s.version AS published_version, s.status AS published_status,
        COALESCE(s.request_count, 0) AS request_count,
        (SELECT COUNT(*) FROM user_mcp_installations i WHERE i.server_id = b.id) AS install_count
     FROM builder_servers b LEFT JOIN mcp_servers s ON s.id = b.id";

impl Db {
    /// Creates a draft; [`DbError::Conflict`] when the owner has a builder
    /// server of that name.
    pub async fn create_builder(&self, r: &BuilderRecord) -> DbResult<()> {
        let sql = "INSERT INTO builder_servers (id, owner_id, name, description, category, tags, definition,
                       secrets_enc, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(r.id)
            .bind(r.owner_id)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.category)
            .bind(&r.tags)
            .bind(&r.definition)
            .bind(&r.secrets_enc)
            .bind(r.created_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(DbError::classify)
    }

    /// One of the owner's builder servers (anyone else's is `None`).
    pub async fn builder(&self, owner: Uuid, id: Uuid) -> DbResult<Option<BuilderListed>> {
        let sql = format!("{LISTED} WHERE b.id = $1 AND b.owner_id = $2");
        on_pool!(self, |pool| sqlx::query_as::<_, BuilderListed>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(owner)
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// The owner's builder servers, by name.
    pub async fn builders(&self, owner: Uuid) -> DbResult<Vec<BuilderListed>> {
        let sql = format!("{LISTED} WHERE b.owner_id = $1 ORDER BY b.name");
        on_pool!(self, |pool| sqlx::query_as::<_, BuilderListed>(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .fetch_all(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// Saves a draft's fields; `false` when it is not the owner's.
    pub async fn update_builder(&self, r: &BuilderRecord) -> DbResult<bool> {
        let sql = "UPDATE builder_servers SET name = $3, description = $4, category = $5, tags = $6,
                       definition = $7, updated_at = $8
                   WHERE id = $1 AND owner_id = $2";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(r.id)
            .bind(r.owner_id)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.category)
            .bind(&r.tags)
            .bind(&r.definition)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(DbError::classify)
    }

    /// Replaces the publisher's sealed secrets, in the draft and in the
    /// published server at once (calls use them from the next one on).
    pub async fn set_builder_secrets(&self, owner: Uuid, id: Uuid, sealed: &[u8]) -> DbResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            let changed = sqlx::query("UPDATE builder_servers SET secrets_enc = $3 WHERE id = $1 AND owner_id = $2")
                .bind(id)
                .bind(owner)
                .bind(sealed)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?
                .rows_affected()
                == 1;
            if changed {
                sqlx::query(
                    "UPDATE mcp_servers SET builder_secrets_enc = $2 WHERE id = $1 AND hosting_type = 'builder'",
                )
                .bind(id)
                .bind(sealed)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            }
            tx.commit().await.map_err(DbError::classify)?;
            Ok(changed)
        })
    }

    /// Whether this version was published before.
    pub async fn builder_version_exists(&self, id: Uuid, version: &str) -> DbResult<bool> {
        let sql = "SELECT COUNT(*) FROM builder_versions WHERE server_id = $1 AND version = $2";
        let (n,): (i64,) = on_pool!(self, |pool| sqlx::query_as(sql).bind(id).bind(version).fetch_one(pool).await)
            .map_err(DbError::classify)?;
        Ok(n > 0)
    }

    /// Records a published version and lists the server again (after an
    /// unpublish).
    pub async fn record_builder_version(&self, id: Uuid, version: &str, definition: &Value) -> DbResult<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            sqlx::query(
                "INSERT INTO builder_versions (server_id, version, definition, published_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(version)
            .bind(Json(definition))
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(DbError::classify)?;
            sqlx::query("UPDATE mcp_servers SET status = 'active' WHERE id = $1 AND hosting_type = 'builder'")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)?;
            Ok(())
        })
    }

    /// The published versions, newest first: (version, published at).
    pub async fn builder_versions(&self, id: Uuid) -> DbResult<Vec<(String, DateTime<Utc>)>> {
        let sql = "SELECT version, published_at FROM builder_versions WHERE server_id = $1 ORDER BY published_at DESC";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(id).fetch_all(pool).await).map_err(DbError::classify)
    }

    /// Takes a published builder server off the marketplace; its
    /// installations stop answering until it is published again.
    pub async fn unpublish_builder(&self, owner: Uuid, id: Uuid) -> DbResult<bool> {
        let sql = "UPDATE mcp_servers SET status = 'disabled', updated_at = $3
                   WHERE id = $1 AND owner_id = $2 AND hosting_type = 'builder'";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(owner)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(DbError::classify)
    }

    /// Deletes a builder server: its draft, versions and, once published,
    /// its server (installations go with it). `false` when it is not the
    /// owner's.
    pub async fn delete_builder(&self, owner: Uuid, id: Uuid) -> DbResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            sqlx::query("DELETE FROM mcp_servers WHERE id = $1 AND owner_id = $2 AND hosting_type = 'builder'")
                .bind(id)
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            let deleted = sqlx::query("DELETE FROM builder_servers WHERE id = $1 AND owner_id = $2")
                .bind(id)
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?
                .rows_affected()
                == 1;
            if deleted {
                tx.commit().await.map_err(DbError::classify)?;
            }
            Ok(deleted)
        })
    }
}
