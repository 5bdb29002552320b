//! Short-lived caches for what every MCP request reads: the caller's API
//! key (with its user), the user's installations, and tiers. Without them
//! each `tools/call` cost four database round trips before reaching the
//! upstream (the benchmark measured it; see `benches/gateway.rs`).
//!
//! Correctness does not rest on the time limit: every change made through
//! this process (revoking a key, installing, uninstalling, enabling,
//! disabling, editing a config) removes the affected entries at once. The
//! time limit bounds how long a change made elsewhere (`omnimcp admin` in
//! another process, another instance) takes to be seen: [`ACCOUNT_TTL`].

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use uuid::Uuid;

use crate::db::{ApiKey, InstallationRecord, Tier, User};

/// How long an entry is trusted without asking the database again.
pub const ACCOUNT_TTL: Duration = Duration::from_secs(5);
/// Entries kept per cache before expired ones are swept (and, if the cache
/// is still full, all of them): a bound, not a tuning knob.
const MAX_ENTRIES: usize = 100_000;

/// A map whose entries expire.
pub struct TtlCache<K, V> {
    entries: RwLock<HashMap<K, (Instant, V)>>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self { entries: RwLock::new(HashMap::new()), ttl }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.read().expect("cache lock");
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.write().expect("cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        self.entries.write().expect("cache lock").remove(key);
    }

    /// Removes every entry the predicate matches.
    pub fn remove_where(&self, matches: impl Fn(&K, &V) -> bool) {
        self.entries.write().expect("cache lock").retain(|k, (_, v)| !matches(k, v));
    }

    pub fn clear(&self) {
        self.entries.write().expect("cache lock").clear();
    }
}

/// The caches the request path reads.
pub struct Caches {
    /// SHA-256 of an API key -> the key and its user.
    pub api_keys: TtlCache<[u8; 32], Arc<(ApiKey, User)>>,
    /// User id -> that user's installations.
    pub installations: TtlCache<Uuid, Arc<Vec<Arc<InstallationRecord>>>>,
    /// Tier id -> the tier.
    pub tiers: TtlCache<String, Arc<Tier>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            api_keys: TtlCache::new(ACCOUNT_TTL),
            installations: TtlCache::new(ACCOUNT_TTL),
            tiers: TtlCache::new(ACCOUNT_TTL),
        }
    }
}

impl Caches {
    /// Forgets everything about a user (a revoked key, a changed role or
    /// tier, a change to their installations).
    pub fn forget_user(&self, user: Uuid) {
        self.api_keys.remove_where(|_, v| v.1.id == user);
        self.installations.remove(&user);
    }

    /// Forgets everything (after changes made behind the platform's back,
    /// such as tests editing tiers directly).
    pub fn clear(&self) {
        self.api_keys.clear();
        self.installations.clear();
        self.tiers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.put(1, "a");
        cache.put(2, "b");
        assert_eq!(cache.get(&1), Some("a"));
        cache.remove(&1);
        assert_eq!(cache.get(&1), None);
        cache.remove_where(|_, v| *v == "b");
        assert_eq!(cache.get(&2), None);
        cache.put(3, "c");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&3), None, "expired");
    }
}
