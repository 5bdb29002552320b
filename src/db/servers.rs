//! MCP servers as stored: the server row, its tools, resources and prompts
//! (written together, in one transaction), and the marketplace listing.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, types::Json};
use uuid::Uuid;

use super::{BeginWrite, Db, DbError, DbResult, lock_user, on_pool};
use app::domain::{HealthStatus, HostingType, ServerStatus};

/// A row of `mcp_servers`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ServerRecord {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Json<Vec<String>>,
    pub version: String,
    pub owner_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub hosting_type: HostingType,
    pub launch_spec: Option<Json<Value>>,
    pub config_schema: Option<Json<Value>>,
    pub callback_url: Option<String>,
    pub webhook_secret_enc: Option<Vec<u8>>,
    pub remote_url: Option<String>,
    pub remote_headers_enc: Option<Vec<u8>>,
    /// `oauth`: a remote server that wants each user's own OAuth token
    /// (see `oauth::remote`); `None`: no credentials.
    pub remote_auth: Option<String>,
    /// Seconds a call may go without an answer or progress (MCP servers);
    /// `None`: the platform's default.
    pub call_timeout_secs: Option<i64>,
    /// Builder: the published definition (`builder::Definition`).
    pub builder_definition: Option<Json<Value>>,
    /// Builder: the publisher's secrets, sealed to the server.
    pub builder_secrets_enc: Option<Vec<u8>>,
    #[sqlx(try_from = "String")]
    pub status: ServerStatus,
    #[sqlx(try_from = "String")]
    pub health_status: HealthStatus,
    pub last_health_check_at: Option<DateTime<Utc>>,
    pub request_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ToolRecord {
    pub name: String,
    pub description: String,
    /// Input JSON Schema.
    pub parameters: Json<Value>,
    pub output_schema: Option<Json<Value>>,
    /// What the server declared besides (see `servers::details_of`).
    pub details: Option<Json<Value>>,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ResourceRecord {
    pub uri: String,
    pub name: String,
    pub description: String,
    pub mime_type: Option<String>,
    /// `uri` is an RFC 6570 template, not one resource.
    pub template: bool,
    pub details: Option<Json<Value>>,
}

/// A skill a server serves (SEP-2640): its `SKILL.md` URI and the entry
/// as the server listed it (`uri`, `frontmatter`, `resources`, `_meta`).
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct SkillRecord {
    pub uri: String,
    pub entry: Json<Value>,
}

/// A server's items: what its tools, resources, prompts and skills are.
#[derive(Debug, Clone, Default)]
pub struct ServerItems {
    pub tools: Vec<ToolRecord>,
    pub resources: Vec<ResourceRecord>,
    pub prompts: Vec<PromptRecord>,
    pub skills: Vec<SkillRecord>,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct PromptRecord {
    pub name: String,
    pub description: String,
    pub arguments: Json<Value>,
    pub details: Option<Json<Value>>,
}

/// What a deploy writes. `webhook_secret_enc` is `Some` only when the
/// secret is new (first deploy or rotation).
#[derive(Debug, Clone)]
pub struct ServerDraft {
    /// The id to create the server with; an existing server keeps its own.
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub version: String,
    pub hosting_type: HostingType,
    pub launch_spec: Option<Value>,
    pub config_schema: Option<Value>,
    pub callback_url: Option<String>,
    pub webhook_secret_enc: Option<Vec<u8>>,
    pub remote_url: Option<String>,
    pub remote_headers_enc: Option<Vec<u8>>,
    pub remote_auth: Option<String>,
    pub call_timeout_secs: Option<i64>,
    pub builder_definition: Option<Value>,
    pub builder_secrets_enc: Option<Vec<u8>>,
    pub items: ServerItems,
}

/// The outcome of [`Db::upsert_server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    pub id: Uuid,
    pub created: bool,
}

/// Marketplace listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSort {
    /// Most requests first.
    Popular,
    /// Most recently created first.
    Newest,
}

/// A marketplace query. Text matches name and description (case-insensitive).
#[derive(Debug, Clone)]
pub struct ServerQuery {
    pub text: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub hosting_type: Option<HostingType>,
    pub sort: ServerSort,
    /// Keyset cursor: the (request count, id) of the last row seen.
    pub after: Option<(i64, Uuid)>,
    pub limit: i64,
}

/// A listed server with its install count.
#[derive(Debug, Clone, FromRow)]
pub struct ListedServer {
    #[sqlx(flatten)]
    pub server: ServerRecord,
    pub install_count: i64,
}

/// Deletes a server's tools, resources, prompts and skills inside the caller's
/// transaction. (Macros, because the two engines' transactions are
/// different types.)
macro_rules! delete_items {
    ($tx:ident, $id:expr) => {
        for sql in [
            "DELETE FROM mcp_tools WHERE server_id = $1",
            "DELETE FROM mcp_resources WHERE server_id = $1",
            "DELETE FROM mcp_prompts WHERE server_id = $1",
            "DELETE FROM mcp_skills WHERE server_id = $1",
        ] {
            sqlx::query(sql).bind($id).execute(&mut *$tx).await.map_err(DbError::classify)?;
        }
    };
}

/// Writes a server's tools, resources, prompts and skills inside the caller's
/// transaction.
macro_rules! write_items {
    ($tx:ident, $id:expr, $items:expr) => {
        for t in &$items.tools {
            sqlx::query(
                "INSERT INTO mcp_tools (id, server_id, name, description, parameters, output_schema, details)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(Uuid::now_v7())
            .bind($id)
            .bind(&t.name)
            .bind(&t.description)
            .bind(&t.parameters)
            .bind(&t.output_schema)
            .bind(&t.details)
            .execute(&mut *$tx)
            .await
            .map_err(DbError::classify)?;
        }
        for r in &$items.resources {
            sqlx::query(
                "INSERT INTO mcp_resources (id, server_id, uri, name, description, mime_type, template, details)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(Uuid::now_v7())
            .bind($id)
            .bind(&r.uri)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.mime_type)
            .bind(r.template)
            .bind(&r.details)
            .execute(&mut *$tx)
            .await
            .map_err(DbError::classify)?;
        }
        for k in &$items.skills {
            sqlx::query("INSERT INTO mcp_skills (id, server_id, uri, entry) VALUES ($1, $2, $3, $4)")
                .bind(Uuid::now_v7())
                .bind($id)
                .bind(&k.uri)
                .bind(&k.entry)
                .execute(&mut *$tx)
                .await
                .map_err(DbError::classify)?;
        }
        for p in &$items.prompts {
            sqlx::query(
                "INSERT INTO mcp_prompts (id, server_id, name, description, arguments, details)
                     VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(Uuid::now_v7())
            .bind($id)
            .bind(&p.name)
            .bind(&p.description)
            .bind(&p.arguments)
            .bind(&p.details)
            .execute(&mut *$tx)
            .await
            .map_err(DbError::classify)?;
        }
    };
}

impl Db {
    /// Replaces a server's tools, resources and prompts (when the server
    /// says its lists changed), in one transaction.
    pub async fn replace_items(&self, id: Uuid, items: &ServerItems) -> DbResult<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            delete_items!(tx, id);
            write_items!(tx, id, items);
            sqlx::query("UPDATE mcp_servers SET updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(DbError::classify)?;
            tx.commit().await.map_err(DbError::classify)
        })
    }

    /// Creates the server, or updates the caller's server of the same name
    /// (same owner), replacing its tools, resources and prompts, all in one
    /// transaction. The webhook secret changes only when the draft has one.
    pub async fn upsert_server(&self, d: &ServerDraft) -> DbResult<Upserted> {
        self.upsert_server_within(d, None).await
    }

    /// As [`Db::upsert_server`], but a new server of an owner who already
    /// has `max_owned` is refused with [`DbError::LimitReached`] (counted
    /// under the owner's lock, so concurrent deploys cannot overshoot).
    pub async fn upsert_server_within(&self, d: &ServerDraft, max_owned: Option<i64>) -> DbResult<Upserted> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            if let (Some(owner), Some(max)) = (d.owner_id, max_owned) {
                lock_user!(pool, tx, owner);
                let (owned, this): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN name = $2 THEN 1 ELSE 0 END), 0)
                     FROM mcp_servers WHERE owner_id = $1",
                )
                .bind(owner)
                .bind(&d.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(DbError::classify)?;
                if this == 0 && owned >= max {
                    return Err(DbError::LimitReached);
                }
            }
            let existing: Option<(Uuid,)> = match d.owner_id {
                Some(owner) => sqlx::query_as("SELECT id FROM mcp_servers WHERE owner_id = $1 AND name = $2")
                    .bind(owner)
                    .bind(&d.name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(DbError::classify)?,
                None => sqlx::query_as("SELECT id FROM mcp_servers WHERE owner_id IS NULL AND slug = $1")
                    .bind(&d.slug)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(DbError::classify)?,
            };
            let (id, created) = match existing {
                Some((id,)) => {
                    sqlx::query(
                        "UPDATE mcp_servers SET description = $2, category = $3, tags = $4, version = $5,
                            hosting_type = $6, launch_spec = $7, config_schema = $8, callback_url = $9,
                            webhook_secret_enc = COALESCE($10, webhook_secret_enc), remote_url = $11,
                            remote_headers_enc = $12, updated_at = $13, call_timeout_secs = $14, remote_auth = $15,
                            builder_definition = $16, builder_secrets_enc = $17
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(&d.description)
                    .bind(&d.category)
                    .bind(Json(&d.tags))
                    .bind(&d.version)
                    .bind(d.hosting_type.as_str())
                    .bind(d.launch_spec.as_ref().map(Json))
                    .bind(d.config_schema.as_ref().map(Json))
                    .bind(&d.callback_url)
                    .bind(&d.webhook_secret_enc)
                    .bind(&d.remote_url)
                    .bind(&d.remote_headers_enc)
                    .bind(now)
                    .bind(d.call_timeout_secs)
                    .bind(&d.remote_auth)
                    .bind(d.builder_definition.as_ref().map(Json))
                    .bind(&d.builder_secrets_enc)
                    .execute(&mut *tx)
                    .await
                    .map_err(DbError::classify)?;
                    delete_items!(tx, id);
                    (id, false)
                }
                None => {
                    let id = d.id;
                    sqlx::query(
                        "INSERT INTO mcp_servers (id, slug, name, description, category, tags, version, owner_id,
                            hosting_type, launch_spec, config_schema, callback_url, webhook_secret_enc, remote_url,
                            remote_headers_enc, status, health_status, request_count, created_at, updated_at,
                            call_timeout_secs, remote_auth, builder_definition, builder_secrets_enc)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                                 'active', 'unknown', 0, $16, $16, $17, $18, $19, $20)",
                    )
                    .bind(id)
                    .bind(&d.slug)
                    .bind(&d.name)
                    .bind(&d.description)
                    .bind(&d.category)
                    .bind(Json(&d.tags))
                    .bind(&d.version)
                    .bind(d.owner_id)
                    .bind(d.hosting_type.as_str())
                    .bind(d.launch_spec.as_ref().map(Json))
                    .bind(d.config_schema.as_ref().map(Json))
                    .bind(&d.callback_url)
                    .bind(&d.webhook_secret_enc)
                    .bind(&d.remote_url)
                    .bind(&d.remote_headers_enc)
                    .bind(now)
                    .bind(d.call_timeout_secs)
                    .bind(&d.remote_auth)
                    .bind(d.builder_definition.as_ref().map(Json))
                    .bind(&d.builder_secrets_enc)
                    .execute(&mut *tx)
                    .await
                    .map_err(DbError::classify)?;
                    (id, true)
                }
            };
            write_items!(tx, id, d.items);
            tx.commit().await.map_err(DbError::classify)?;
            Ok(Upserted { id, created })
        })
    }

    /// The owner's server of this name, if any.
    pub async fn server_by_owner_and_name(&self, owner_id: Uuid, name: &str) -> DbResult<Option<ServerRecord>> {
        let sql = "SELECT * FROM mcp_servers WHERE owner_id = $1 AND name = $2";
        on_pool!(self, |pool| sqlx::query_as::<_, ServerRecord>(sql)
            .bind(owner_id)
            .bind(name)
            .fetch_optional(pool)
            .await)
        .map_err(DbError::classify)
    }

    /// Active servers matching a marketplace query, one page.
    pub async fn list_servers(&self, q: &ServerQuery) -> DbResult<Vec<ListedServer>> {
        // Static SQL with optional filters (`$n IS NULL OR ...`); the only
        // dialect difference is how a JSON array is searched for a tag.
        macro_rules! listing {
            ($tag_match:literal, $order:literal) => {
                concat!(
                    "SELECT s.*, (SELECT COUNT(*) FROM user_mcp_installations i WHERE i.server_id = s.id) AS install_count
                     FROM mcp_servers s
                     WHERE s.status = 'active'
                       AND ($1 IS NULL OR LOWER(s.name) LIKE $1 ESCAPE '!' OR LOWER(s.description) LIKE $1 ESCAPE '!')
                       AND ($2 IS NULL OR s.category = $2)
                       AND ($3 IS NULL OR ", $tag_match, ")
                       AND ($4 IS NULL OR s.hosting_type = $4)
                       AND ", $order, " LIMIT $7"
                )
            };
        }
        let pattern = q.text.as_ref().map(|t| {
            let escaped = t.to_lowercase().replace('!', "!!").replace('%', "!%").replace('_', "!_");
            format!("%{escaped}%")
        });
        let (after_count, after_id) = match q.after {
            Some((c, id)) => (Some(c), Some(id)),
            None => (None, None),
        };
        macro_rules! run {
            ($pool:expr, $sql:expr) => {
                sqlx::query_as::<_, ListedServer>($sql)
                    .bind(&pattern)
                    .bind(&q.category)
                    .bind(&q.tag)
                    .bind(q.hosting_type.map(HostingType::as_str))
                    .bind(after_count)
                    .bind(after_id)
                    .bind(q.limit)
                    .fetch_all($pool)
                    .await
            };
        }
        let rows = match (self, q.sort) {
            (Db::Sqlite(pool), ServerSort::Popular) => run!(
                pool,
                listing!(
                    "EXISTS (SELECT 1 FROM json_each(s.tags) WHERE json_each.value = $3)",
                    "($5 IS NULL OR s.request_count < $5 OR (s.request_count = $5 AND s.id < $6)) ORDER BY s.request_count DESC, s.id DESC"
                )
            ),
            (Db::Sqlite(pool), ServerSort::Newest) => run!(
                pool,
                listing!(
                    "EXISTS (SELECT 1 FROM json_each(s.tags) WHERE json_each.value = $3)",
                    "($6 IS NULL OR s.id < $6) AND ($5 IS NULL OR $5 = $5) ORDER BY s.id DESC"
                )
            ),
            (Db::Postgres(pool), ServerSort::Popular) => run!(
                pool,
                listing!(
                    "s.tags ? $3::text",
                    "($5::bigint IS NULL OR s.request_count < $5 OR (s.request_count = $5 AND s.id < $6)) ORDER BY s.request_count DESC, s.id DESC"
                )
            ),
            (Db::Postgres(pool), ServerSort::Newest) => run!(
                pool,
                listing!(
                    "s.tags ? $3::text",
                    "($6::uuid IS NULL OR s.id < $6) AND ($5::bigint IS NULL OR $5 = $5) ORDER BY s.id DESC"
                )
            ),
        };
        rows.map_err(DbError::classify)
    }

    /// Every active server (for the health checker).
    pub async fn active_servers(&self) -> DbResult<Vec<ServerRecord>> {
        let sql = "SELECT * FROM mcp_servers WHERE status = 'active' ORDER BY id";
        on_pool!(self, |pool| sqlx::query_as::<_, ServerRecord>(sql).fetch_all(pool).await).map_err(DbError::classify)
    }

    /// Records a health check.
    pub async fn set_health(&self, server_id: Uuid, status: HealthStatus, at: DateTime<Utc>) -> DbResult<()> {
        let sql = "UPDATE mcp_servers SET health_status = $2, last_health_check_at = $3 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(server_id)
            .bind(status.as_str())
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(DbError::classify)
    }

    /// Whether a slug is taken.
    pub async fn slug_taken(&self, slug: &str) -> DbResult<bool> {
        let sql = "SELECT COUNT(*) FROM mcp_servers WHERE slug = $1";
        let (n,): (i64,) =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(slug).fetch_one(pool).await).map_err(DbError::classify)?;
        Ok(n > 0)
    }

    pub async fn server(&self, id: Uuid) -> DbResult<Option<ServerRecord>> {
        let sql = "SELECT * FROM mcp_servers WHERE id = $1";
        on_pool!(self, |pool| sqlx::query_as::<_, ServerRecord>(sql).bind(id).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    pub async fn server_by_slug(&self, slug: &str) -> DbResult<Option<ServerRecord>> {
        let sql = "SELECT * FROM mcp_servers WHERE slug = $1";
        on_pool!(self, |pool| sqlx::query_as::<_, ServerRecord>(sql).bind(slug).fetch_optional(pool).await)
            .map_err(DbError::classify)
    }

    pub async fn server_tools(&self, server_id: Uuid) -> DbResult<Vec<ToolRecord>> {
        let sql = "SELECT name, description, parameters, output_schema, details FROM mcp_tools WHERE server_id = $1 ORDER BY name";
        on_pool!(self, |pool| sqlx::query_as::<_, ToolRecord>(sql).bind(server_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    pub async fn server_resources(&self, server_id: Uuid) -> DbResult<Vec<ResourceRecord>> {
        let sql = "SELECT uri, name, description, mime_type, template, details FROM mcp_resources WHERE server_id = $1 ORDER BY uri";
        on_pool!(self, |pool| sqlx::query_as::<_, ResourceRecord>(sql).bind(server_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    pub async fn server_prompts(&self, server_id: Uuid) -> DbResult<Vec<PromptRecord>> {
        let sql = "SELECT name, description, arguments, details FROM mcp_prompts WHERE server_id = $1 ORDER BY name";
        on_pool!(self, |pool| sqlx::query_as::<_, PromptRecord>(sql).bind(server_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    pub async fn server_skills(&self, server_id: Uuid) -> DbResult<Vec<SkillRecord>> {
        let sql = "SELECT uri, entry FROM mcp_skills WHERE server_id = $1 ORDER BY uri";
        on_pool!(self, |pool| sqlx::query_as::<_, SkillRecord>(sql).bind(server_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    /// Replaces a server's webhook secret (rotation).
    pub async fn set_webhook_secret(&self, server_id: Uuid, sealed: &[u8]) -> DbResult<bool> {
        let sql = "UPDATE mcp_servers SET webhook_secret_enc = $2, updated_at = $3 WHERE id = $1";
        let n = on_pool!(self, |pool| sqlx::query(sql)
            .bind(server_id)
            .bind(sealed)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(DbError::classify)?;
        Ok(n == 1)
    }

    /// Every category of an active server, sorted (the marketplace filter).
    pub async fn server_categories(&self) -> DbResult<Vec<String>> {
        let sql =
            "SELECT DISTINCT category FROM mcp_servers WHERE status = 'active' AND category <> '' ORDER BY category";
        let rows: Vec<(String,)> =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await).map_err(DbError::classify)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The servers a developer owns, by name.
    pub async fn servers_of_owner(&self, owner_id: Uuid) -> DbResult<Vec<ServerRecord>> {
        let sql = "SELECT * FROM mcp_servers WHERE owner_id = $1 ORDER BY name";
        on_pool!(self, |pool| sqlx::query_as::<_, ServerRecord>(sql).bind(owner_id).fetch_all(pool).await)
            .map_err(DbError::classify)
    }
}
