//! Tier limits on calls: a per-user token bucket for requests per minute,
//! and a monthly quota counted in memory (seeded from the request log the
//! first time a user calls in a month). A second bucket per user, of twice
//! the tier's rate, meters what is not a call but still costs us: opening
//! sessions, listing, and calls that name nothing the caller can reach
//! ([`Limiter::check_control`]); it never touches the monthly quota.
//! In memory for one instance; a later issue moves this state behind Redis
//! with the same interface.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{Db, DbResult, Tier, month_start};

/// The verdict on one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Allowed: what remains of the minute's budget.
    Allowed { limit: i64, remaining: i64, reset_secs: u64 },
    /// Over the per-minute rate: retry after this many seconds.
    RateLimited { limit: i64, retry_after_secs: u64 },
    /// Over the monthly quota: retry when the month turns.
    QuotaExceeded { limit: i64, retry_after_secs: u64 },
}

struct Bucket {
    tokens: f64,
    /// The capacity the bucket was last filled to: a tier change (upgrade)
    /// adds the difference at once instead of waiting for refill.
    capacity: f64,
    updated: Instant,
}

struct Quota {
    month: DateTime<Utc>,
    used: i64,
}

/// Token buckets per user.
#[derive(Default)]
struct Buckets(Mutex<HashMap<Uuid, Bucket>>);

impl Buckets {
    /// Takes one token from a bucket of `capacity` tokens refilled evenly
    /// over `period`: `Ok((remaining, seconds until full))` or
    /// `Err(seconds until one)`.
    fn take(&self, user: Uuid, capacity: i64, period: Duration) -> Result<(i64, u64), u64> {
        let capacity = capacity.max(1) as f64;
        let rate = capacity / period.as_secs_f64();
        // The std lock is held only here, never across an await.
        let mut buckets = self.0.lock().expect("limiter lock");
        let bucket = buckets.entry(user).or_insert(Bucket { tokens: capacity, capacity, updated: Instant::now() });
        if bucket.capacity != capacity {
            bucket.tokens += (capacity - bucket.capacity).max(0.0);
            bucket.capacity = capacity;
        }
        let elapsed = bucket.updated.elapsed().as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = Instant::now();
        if bucket.tokens < 1.0 {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        } else {
            bucket.tokens -= 1.0;
            Ok((bucket.tokens.floor() as i64, ((capacity - bucket.tokens) / rate).ceil() as u64))
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// Deploys (new servers and redeploys) one user may make in an hour: each
/// one discovers the server and schedules its health checks.
pub const DEPLOYS_PER_HOUR: i64 = 30;

#[derive(Default)]
pub struct Limiter {
    buckets: Buckets,
    control: Buckets,
    deploys: Buckets,
    quotas: tokio::sync::Mutex<HashMap<Uuid, Quota>>,
}

impl Limiter {
    /// Takes one call from the user's budgets, or says why not.
    pub async fn check(&self, db: &Db, user: Uuid, tier: &Tier) -> DbResult<Decision> {
        let now = Utc::now();
        // Monthly quota first (it is the one that does not refill soon).
        let month = month_start(now);
        let next_month = month_start(month + chrono::Duration::days(32));
        {
            let mut quotas = self.quotas.lock().await;
            let quota = match quotas.get_mut(&user) {
                Some(q) if q.month == month => q,
                _ => {
                    let used = db.count_requests_since(user, month).await?;
                    quotas.insert(user, Quota { month, used });
                    quotas.get_mut(&user).expect("just inserted")
                }
            };
            if quota.used >= tier.requests_per_month {
                let retry = (next_month - now).num_seconds().max(1) as u64;
                return Ok(Decision::QuotaExceeded { limit: tier.requests_per_month, retry_after_secs: retry });
            }
            // Counted now, so concurrent calls cannot overshoot.
            quota.used += 1;
        }

        let (remaining, reset_secs) = match self.buckets.take(user, tier.requests_per_minute, MINUTE) {
            Ok(t) => t,
            Err(retry_after_secs) => {
                // The refused call does not use quota.
                if let Some(q) = self.quotas.lock().await.get_mut(&user) {
                    q.used -= 1;
                }
                return Ok(Decision::RateLimited { limit: tier.requests_per_minute, retry_after_secs });
            }
        };
        Ok(Decision::Allowed { limit: tier.requests_per_minute, remaining, reset_secs })
    }

    /// The control budget a request that is not a call takes from (see the
    /// module docs): twice the tier's calls per minute.
    pub fn control_limit(tier: &Tier) -> i64 {
        tier.requests_per_minute.saturating_mul(2).max(1)
    }

    /// Takes one request from the user's control budget: `Err(seconds)`
    /// until the next one is allowed.
    pub fn check_control(&self, user: Uuid, tier: &Tier) -> Result<(), u64> {
        self.control.take(user, Self::control_limit(tier), MINUTE).map(|_| ())
    }

    /// Takes one deploy from the user's [`DEPLOYS_PER_HOUR`]: `Err(seconds)`
    /// until the next one is allowed.
    pub fn check_deploy(&self, user: Uuid) -> Result<(), u64> {
        self.deploys.take(user, DEPLOYS_PER_HOUR, Duration::from_secs(3600)).map(|_| ())
    }
}
