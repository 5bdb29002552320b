//! The request log: one row per call (never its arguments), written in
//! batches, and the monthly count the quota starts from.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::{BeginWrite, Db, DbError, DbResult, on_pool};
use app::domain::CallStatus;

/// One request-log row (never argument values).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLog {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub server_id: Option<Uuid>,
    pub tool_name: Option<String>,
    pub request_type: String,
    pub status: CallStatus,
    pub error_class: Option<String>,
    pub response_time_ms: i64,
    pub created_at: DateTime<Utc>,
}

/// The first instant of the calendar month (UTC) `t` falls in.
pub fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0).single().expect("first of the month exists")
}

/// Request-log rows written by one `INSERT` statement.
const LOG_ROWS_PER_STATEMENT: usize = 100;

impl Db {
    /// Writes a batch of request logs and adds each server's calls to its
    /// request count, in one transaction.
    pub async fn insert_request_logs(&self, rows: &[RequestLog]) -> DbResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut per_server: std::collections::BTreeMap<Uuid, i64> = Default::default();
        for r in rows {
            if let Some(s) = r.server_id {
                *per_server.entry(s).or_default() += 1;
            }
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(DbError::classify)?;
            // A server deleted since its calls were made (a builder server
            // its publisher deleted) keeps its calls in the log, unattributed
            // as the foreign key's ON DELETE SET NULL leaves older ones: a
            // row naming it would fail the whole batch, everyone's rows with it.
            let mut rows = std::borrow::Cow::Borrowed(rows);
            if !per_server.is_empty() {
                let mut query = sqlx::QueryBuilder::new("SELECT id FROM mcp_servers WHERE id IN (");
                let mut ids = query.separated(", ");
                for id in per_server.keys() {
                    ids.push_bind(*id);
                }
                ids.push_unseparated(")");
                let existing: Vec<(Uuid,)> =
                    query.build_query_as().fetch_all(&mut *tx).await.map_err(DbError::classify)?;
                let existing: std::collections::HashSet<Uuid> = existing.into_iter().map(|(id,)| id).collect();
                if existing.len() < per_server.len() {
                    per_server.retain(|id, _| existing.contains(id));
                    for r in rows.to_mut().iter_mut() {
                        if r.server_id.is_some_and(|id| !existing.contains(&id)) {
                            r.server_id = None;
                        }
                    }
                }
            }
            // Many rows per statement: one round trip to the database per
            // chunk, not per call (the benchmark's gateway CPU per call
            // counted them). 9 parameters a row stays far under both
            // engines' limits.
            for chunk in rows.chunks(LOG_ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO request_logs (id, user_id, server_id, tool_name, request_type, status, error_class,
                        response_time_ms, created_at) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(r.id)
                        .push_bind(r.user_id)
                        .push_bind(r.server_id)
                        .push_bind(&r.tool_name)
                        .push_bind(&r.request_type)
                        .push_bind(r.status.as_str())
                        .push_bind(&r.error_class)
                        .push_bind(r.response_time_ms)
                        .push_bind(r.created_at);
                });
                insert.build().execute(&mut *tx).await.map_err(DbError::classify)?;
            }
            for (server, n) in &per_server {
                sqlx::query("UPDATE mcp_servers SET request_count = request_count + $2 WHERE id = $1")
                    .bind(server)
                    .bind(n)
                    .execute(&mut *tx)
                    .await
                    .map_err(DbError::classify)?;
            }
            tx.commit().await.map_err(DbError::classify)?;
            Ok(())
        })
    }

    /// The user's request logs, newest first.
    pub async fn recent_request_logs(&self, user_id: Uuid, limit: i64) -> DbResult<Vec<RequestLog>> {
        #[derive(FromRow)]
        struct Row {
            id: Uuid,
            user_id: Option<Uuid>,
            server_id: Option<Uuid>,
            tool_name: Option<String>,
            request_type: String,
            #[sqlx(try_from = "String")]
            status: CallStatus,
            error_class: Option<String>,
            response_time_ms: i64,
            created_at: DateTime<Utc>,
        }
        let sql = "SELECT * FROM request_logs WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
        let rows = on_pool!(self, |pool| sqlx::query_as::<_, Row>(sql).bind(user_id).bind(limit).fetch_all(pool).await)
            .map_err(DbError::classify)?;
        Ok(rows
            .into_iter()
            .map(|r| RequestLog {
                id: r.id,
                user_id: r.user_id,
                server_id: r.server_id,
                tool_name: r.tool_name,
                request_type: r.request_type,
                status: r.status,
                error_class: r.error_class,
                response_time_ms: r.response_time_ms,
                created_at: r.created_at,
            })
            .collect())
    }

    /// How many requests the user has made since `since` (for the monthly
    /// quota, read once per user and then counted in memory).
    pub async fn count_requests_since(&self, user_id: Uuid, since: DateTime<Utc>) -> DbResult<i64> {
        // Compared in SQL so the count stays cheap: PostgreSQL compares
        // TIMESTAMPTZ; SQLite compares RFC 3339 UTC text written by one
        // encoder, whose lexical order is time order.
        let sql = "SELECT COUNT(*) FROM request_logs WHERE user_id = $1 AND created_at >= $2";
        let (n,): (i64,) = on_pool!(self, |pool| sqlx::query_as(sql).bind(user_id).bind(since).fetch_one(pool).await)
            .map_err(DbError::classify)?;
        Ok(n)
    }
}
