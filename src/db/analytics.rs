//! Usage analytics for the pages: calls per day, per server, latency
//! percentiles, a developer's servers' traffic. Read-only queries over the
//! request log.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Db, DbError, DbResult, on_pool};
use app::domain::CallStatus;

/// One call to a developer's server, without who made it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServerCall {
    pub tool_name: Option<String>,
    pub request_type: String,
    #[sqlx(try_from = "String")]
    pub status: CallStatus,
    pub error_class: Option<String>,
    pub response_time_ms: i64,
    pub created_at: DateTime<Utc>,
}

impl Db {
    /// The user's calls and failed calls per server since `since`.
    pub async fn usage_by_server(&self, user_id: Uuid, since: DateTime<Utc>) -> DbResult<Vec<(Uuid, i64, i64)>> {
        // Timestamps compare in SQL as in `count_requests_since`.
        let sql = "SELECT server_id, COUNT(*), COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0)
                   FROM request_logs WHERE user_id = $1 AND created_at >= $2 AND server_id IS NOT NULL
                   GROUP BY server_id";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(user_id).bind(since).fetch_all(pool).await)
            .map_err(DbError::classify)
    }

    /// The user's calls and failed calls per UTC day since `since`, as
    /// `(YYYY-MM-DD, calls, errors)`, oldest first.
    pub async fn daily_usage(&self, user_id: Uuid, since: DateTime<Utc>) -> DbResult<Vec<(String, i64, i64)>> {
        // The day of a timestamp is the one dialect difference: SQLite
        // stores RFC 3339 UTC text (its first ten characters are the day),
        // PostgreSQL a TIMESTAMPTZ.
        const SQLITE: &str = "SELECT substr(created_at, 1, 10) AS day, COUNT(*),
                   COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0)
                   FROM request_logs WHERE user_id = $1 AND created_at >= $2 GROUP BY day ORDER BY day";
        const POSTGRES: &str = "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*),
                   COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0)
                   FROM request_logs WHERE user_id = $1 AND created_at >= $2 GROUP BY day ORDER BY day";
        match self {
            Db::Sqlite(pool) => sqlx::query_as(SQLITE).bind(user_id).bind(since).fetch_all(pool).await,
            Db::Postgres(pool) => sqlx::query_as(POSTGRES).bind(user_id).bind(since).fetch_all(pool).await,
        }
        .map_err(DbError::classify)
    }

    /// The response time at `rank` (0-based, fastest first) among the
    /// user's calls since `since`: percentiles without a dialect's
    /// percentile function.
    pub async fn response_time_at(&self, user_id: Uuid, since: DateTime<Utc>, rank: i64) -> DbResult<Option<i64>> {
        let sql = "SELECT response_time_ms FROM request_logs WHERE user_id = $1 AND created_at >= $2
                   ORDER BY response_time_ms LIMIT 1 OFFSET $3";
        let row: Option<(i64,)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(user_id).bind(since).bind(rank).fetch_optional(pool).await)
                .map_err(DbError::classify)?;
        Ok(row.map(|r| r.0))
    }

    /// Calls to a server from every user since `since`, and how many failed.
    pub async fn server_usage_since(&self, server_id: Uuid, since: DateTime<Utc>) -> DbResult<(i64, i64)> {
        let sql = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0)
                   FROM request_logs WHERE server_id = $1 AND created_at >= $2";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(server_id).bind(since).fetch_one(pool).await)
            .map_err(DbError::classify)
    }

    /// A server's latest calls from every user, newest first, without who
    /// made them.
    pub async fn recent_server_calls(&self, server_id: Uuid, limit: i64) -> DbResult<Vec<ServerCall>> {
        let sql = "SELECT tool_name, request_type, status, error_class, response_time_ms, created_at
                   FROM request_logs WHERE server_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(server_id).bind(limit).fetch_all(pool).await)
            .map_err(DbError::classify)
    }
}
