//! What every request reads, kept in memory: sessions by token hash and each profile's
//! access facts (restrictions; grants with their pauses).
//!
//! Every entry carries the cache's *generation* at the moment its read began. A change to
//! anything cached bumps the generation after it committed (on this instance at once; on
//! other PostgreSQL instances when the `mitai_access` notification of the change's own
//! transaction arrives), and an entry of an older generation is never answered again. A
//! read that began before a change therefore cannot leave an entry that outlives it.
//! Entries also age out after [`MAX_AGE`], which bounds how long a change made where no
//! notification reaches (a `mitai user` command on a served SQLite file) can go unseen.
//!
//! The cache is bounded: a fixed number of entries per kind, and a profile with more than
//! [`MAX_GRANTS`] grants is read from the database every time instead.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::coupons::Grant;
use crate::{Restriction, Session};

/// How long an entry is answered at most, even without a change being announced.
pub const MAX_AGE: Duration = Duration::from_secs(5);
/// Entries per kind (sessions, restrictions, grants).
pub const CAPACITY: usize = 16_384;
/// Profiles with more grants than this are not cached.
pub const MAX_GRANTS: usize = 256;
const SHARDS: usize = 16;

struct Stamped<V> {
    value: V,
    generation: u64,
    loaded: Instant,
}

/// A bounded map split into shards, each behind its own lock.
struct Bounded<K, V> {
    shards: Vec<Mutex<HashMap<K, Stamped<V>>>>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl<K: Hash + Eq + Clone, V: Clone> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Bounded {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: Default::default(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<HashMap<K, Stamped<V>>> {
        // The shard count is a small constant, so the cast cannot truncate what matters.
        let n = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        &self.shards[n]
    }

    fn get<Q>(&self, key: &Q, generation: u64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        let entry = shard.get(key)?;
        if entry.generation == generation && entry.loaded.elapsed() < MAX_AGE {
            return Some(entry.value.clone());
        }
        shard.remove(key);
        None
    }

    fn put(&self, key: K, value: V, generation: u64) {
        let mut shard = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, e| e.generation == generation && e.loaded.elapsed() < MAX_AGE);
            if shard.len() >= self.per_shard {
                // Still full of live entries: make room for an eighth of the shard.
                let evict: Vec<K> = shard.keys().take(self.per_shard / 8 + 1).cloned().collect();
                for k in evict {
                    shard.remove(&k);
                }
            }
        }
        shard.insert(
            key,
            Stamped {
                value,
                generation,
                loaded: Instant::now(),
            },
        );
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

/// The store's cache of sessions and access facts.
pub struct Cache {
    generation: AtomicU64,
    sessions: Bounded<String, Session>,
    restrictions: Bounded<Uuid, Vec<Restriction>>,
    grants: Bounded<Uuid, Vec<Grant>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("generation", &self.generation())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            generation: AtomicU64::new(0),
            sessions: Bounded::new(CAPACITY),
            restrictions: Bounded::new(CAPACITY),
            grants: Bounded::new(CAPACITY),
        }
    }
}

impl Cache {
    /// The generation a read must capture *before* it asks the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Something cached changed (and has committed): every entry is outdated.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Held by a store method that writes something cached: when the method returns
    /// (after its commit, or its rollback) every entry is outdated.
    pub fn on_change(&self) -> ChangeGuard<'_> {
        ChangeGuard(self)
    }

    pub fn session(&self, token_hash: &str) -> Option<Session> {
        self.sessions.get(token_hash, self.generation())
    }

    pub fn put_session(&self, token_hash: &str, session: &Session, generation: u64) {
        self.sessions
            .put(token_hash.to_owned(), session.clone(), generation);
    }

    pub fn restrictions(&self, profile_id: Uuid) -> Option<Vec<Restriction>> {
        self.restrictions.get(&profile_id, self.generation())
    }

    pub fn put_restrictions(&self, profile_id: Uuid, r: &[Restriction], generation: u64) {
        self.restrictions.put(profile_id, r.to_vec(), generation);
    }

    pub fn grants(&self, profile_id: Uuid) -> Option<Vec<Grant>> {
        self.grants.get(&profile_id, self.generation())
    }

    pub fn put_grants(&self, profile_id: Uuid, grants: &[Grant], generation: u64) {
        if grants.len() <= MAX_GRANTS {
            self.grants.put(profile_id, grants.to_vec(), generation);
        }
    }
}

/// See [`Cache::on_change`].
pub struct ChangeGuard<'a>(&'a Cache);

impl Drop for ChangeGuard<'_> {
    fn drop(&mut self) {
        self.0.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_outdates_entries_read_before_it() {
        let map: Bounded<u32, &str> = Bounded::new(64);
        let before = 0;
        map.put(1, "old", before);
        assert_eq!(map.get(&1, before), Some("old"));
        // A read that began before the change stored its answer after it: never answered.
        assert_eq!(map.get(&1, before + 1), None);
        assert_eq!(map.get(&1, before), None, "the outdated entry is gone");
    }

    #[test]
    fn stays_bounded() {
        let map: Bounded<u32, u32> = Bounded::new(SHARDS * 8);
        for i in 0..10_000 {
            map.put(i, i, 0);
        }
        assert!(map.len() <= SHARDS * 8, "{} entries", map.len());
        // The newest entry is always kept.
        assert_eq!(map.get(&9_999, 0), Some(9_999));
    }
}
