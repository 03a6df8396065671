//! Usage held in memory on a SQLite file, so that an access check reads no database.
//!
//! One process serves a SQLite file, and every usage write of that process passes through
//! here: the group-commit writer knows the value each spend left, and the few writes on
//! sqlx's connection (gated creations, idempotent consumes, releases) announce themselves.
//! So the cache can answer what a read of the file would answer, exactly:
//!
//! - A bucket being written is **busy** from before its transaction begins until after it
//!   committed or rolled back. A busy bucket is read from the database and never cached.
//! - When the write is over, the writer leaves the value it committed; a write that cannot
//!   know its result (sqlx's, or one that overlapped another) leaves the bucket uncached,
//!   and a sqlx write keeps it busy for [`AFTER_SQLX`] more, in case its commit was still
//!   finishing when the request that made it went away.
//! - A read that missed fills the cache only if no write ended since it began (the
//!   *epoch*), so a value read before a change cannot outlive it.
//!
//! Entries age out after [`crate::cache::MAX_AGE`] like the other caches, which bounds what
//! a write by another process (not announced here) can leave unseen. The cache is bounded:
//! [`crate::cache::CAPACITY`] profiles, [`PER_PROFILE`] buckets each.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cache::{CAPACITY, MAX_AGE};

/// Buckets kept per profile (features × periods still asked for).
pub(crate) const PER_PROFILE: usize = 64;
/// How long a bucket written through sqlx stays uncached after the write's guard ended.
pub(crate) const AFTER_SQLX: Duration = Duration::from_secs(1);
const SHARDS: usize = 16;

/// One usage bucket: a profile's feature in the period that starts at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket<'a> {
    pub profile_id: Uuid,
    pub feature_id: &'a str,
    pub start: DateTime<Utc>,
}

#[derive(Debug)]
enum State {
    Known {
        used: i64,
        loaded: Instant,
    },
    /// `writers` writes in progress; `dirty`: more than one overlapped, or one cannot know
    /// its result; `until`: uncached at least until then.
    Busy {
        writers: u32,
        dirty: bool,
        until: Option<Instant>,
    },
}

#[derive(Debug)]
struct Slot {
    feature_id: Box<str>,
    start: DateTime<Utc>,
    state: State,
}

impl Slot {
    fn is(&self, b: &Bucket<'_>) -> bool {
        &*self.feature_id == b.feature_id && self.start == b.start
    }

    /// Neither being written nor held uncached.
    fn idle(&self, now: Instant) -> bool {
        match self.state {
            State::Known { .. } => true,
            State::Busy { writers, until, .. } => writers == 0 && until.is_none_or(|u| u <= now),
        }
    }
}

type Shard = HashMap<Uuid, Vec<Slot>>;

/// The usage cache of one SQLite file.
#[derive(Debug)]
pub(crate) struct UsageCache {
    epoch: AtomicU64,
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for UsageCache {
    fn default() -> Self {
        UsageCache {
            epoch: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: CAPACITY.div_ceil(SHARDS),
            hasher: Default::default(),
        }
    }
}

impl UsageCache {
    fn shard(&self, profile_id: Uuid) -> std::sync::MutexGuard<'_, Shard> {
        // The shard count is a small constant, so the cast cannot truncate what matters.
        let n = (self.hasher.hash_one(profile_id) % SHARDS as u64) as usize;
        self.shards[n].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What a read that misses must capture before it asks the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The cached usage of `b`, if it is known and fresh.
    pub(crate) fn get(&self, b: &Bucket<'_>) -> Option<i64> {
        let shard = self.shard(b.profile_id);
        let slot = shard.get(&b.profile_id)?.iter().find(|s| s.is(b))?;
        match slot.state {
            State::Known { used, loaded } if loaded.elapsed() < MAX_AGE => Some(used),
            _ => None,
        }
    }

    /// Keeps `used`, read from the database by a read that began at `epoch`, unless a
    /// write ended since or is in progress.
    pub(crate) fn fill(&self, b: &Bucket<'_>, used: i64, epoch: u64) {
        let mut shard = self.shard(b.profile_id);
        // Checked under the shard's lock: a write ends by bumping the epoch and then
        // taking this lock, so either it sees this fill or this fill sees its epoch.
        if self.epoch() != epoch {
            return;
        }
        let now = Instant::now();
        if !shard.contains_key(&b.profile_id) {
            self.make_room(&mut shard, now);
        }
        let slots = shard.entry(b.profile_id).or_default();
        let known = State::Known { used, loaded: now };
        match slots.iter_mut().find(|s| s.is(b)) {
            Some(slot) if slot.idle(now) => slot.state = known,
            Some(_) => {}
            None => {
                if slots.len() >= PER_PROFILE {
                    // The oldest idle bucket goes (a past period, usually).
                    if let Some(i) = slots.iter().position(|s| s.idle(now)) {
                        slots.remove(i);
                    } else {
                        return;
                    }
                }
                slots.push(Slot {
                    feature_id: b.feature_id.into(),
                    start: b.start,
                    state: known,
                });
            }
        }
    }

    /// Drops idle profiles when the shard is full (never one with a write in progress).
    fn make_room(&self, shard: &mut Shard, now: Instant) {
        if shard.len() < self.per_shard {
            return;
        }
        shard.retain(|_, slots| {
            slots.retain(|s| match s.state {
                State::Known { loaded, .. } => loaded.elapsed() < MAX_AGE,
                _ => !s.idle(now),
            });
            !slots.is_empty()
        });
        if shard.len() >= self.per_shard {
            let evict: Vec<Uuid> = shard
                .iter()
                .filter(|(_, slots)| slots.iter().all(|s| s.idle(now)))
                .map(|(id, _)| *id)
                .take(self.per_shard / 8 + 1)
                .collect();
            for id in evict {
                shard.remove(&id);
            }
        }
    }

    /// A write of `b` is about to begin: the bucket is busy until [`Self::end`].
    pub(crate) fn begin(&self, b: &Bucket<'_>) {
        let mut shard = self.shard(b.profile_id);
        if !shard.contains_key(&b.profile_id) {
            self.make_room(&mut shard, Instant::now());
        }
        let slots = shard.entry(b.profile_id).or_default();
        match slots.iter_mut().find(|s| s.is(b)) {
            Some(slot) => {
                slot.state = match slot.state {
                    State::Known { .. } => State::Busy {
                        writers: 1,
                        dirty: false,
                        until: None,
                    },
                    State::Busy { writers, until, .. } => State::Busy {
                        writers: writers + 1,
                        // Overlapping writes: neither knows which committed last.
                        dirty: writers > 0,
                        until,
                    },
                }
            }
            None => slots.push(Slot {
                feature_id: b.feature_id.into(),
                start: b.start,
                state: State::Busy {
                    writers: 1,
                    dirty: false,
                    until: None,
                },
            }),
        }
    }

    /// Ends writes begun with [`Self::begin`], after their commit or rollback. `committed`:
    /// the value the bucket holds now, when the writer knows it; `hold`: keep the bucket
    /// uncached this long.
    pub(crate) fn end<'b>(
        &self,
        buckets: impl IntoIterator<Item = (Bucket<'b>, Option<i64>)>,
        hold: Option<Duration>,
    ) {
        // Before any bucket changes: a read that missed before now cannot fill.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now();
        for (b, committed) in buckets {
            let mut shard = self.shard(b.profile_id);
            let Some(slots) = shard.get_mut(&b.profile_id) else {
                continue;
            };
            let Some(i) = slots.iter().position(|s| s.is(&b)) else {
                continue;
            };
            let until = hold.map(|h| now + h);
            let next = match slots[i].state {
                State::Busy {
                    writers,
                    dirty,
                    until: held,
                } => {
                    let until = until.max(held).filter(|u| *u > now);
                    match (writers, committed) {
                        (1, Some(used)) if !dirty && until.is_none() => {
                            Some(State::Known { used, loaded: now })
                        }
                        (n, _) if n > 1 => Some(State::Busy {
                            writers: n - 1,
                            dirty: true,
                            until,
                        }),
                        _ => until.map(|until| State::Busy {
                            writers: 0,
                            dirty: true,
                            until: Some(until),
                        }),
                    }
                }
                // Not busy (it was dropped to make room, then filled): unknown now.
                State::Known { .. } => None,
            };
            match next {
                Some(state) => slots[i].state = state,
                None => {
                    slots.remove(i);
                }
            }
        }
    }

    /// A write of `b` on sqlx's connection: busy now, uncached until a while after the
    /// guard is dropped (see the module).
    pub(crate) fn sqlx_write(&self, b: Bucket<'_>) -> SqlxWrite<'_> {
        self.begin(&b);
        SqlxWrite {
            cache: self,
            profile_id: b.profile_id,
            feature_id: b.feature_id.to_owned(),
            start: b.start,
        }
    }
}

/// See [`UsageCache::sqlx_write`].
pub(crate) struct SqlxWrite<'c> {
    cache: &'c UsageCache,
    profile_id: Uuid,
    feature_id: String,
    start: DateTime<Utc>,
}

impl Drop for SqlxWrite<'_> {
    fn drop(&mut self) {
        let b = Bucket {
            profile_id: self.profile_id,
            feature_id: &self.feature_id,
            start: self.start,
        };
        self.cache.end([(b, None)], Some(AFTER_SQLX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(profile_id: Uuid) -> Bucket<'static> {
        Bucket {
            profile_id,
            feature_id: "f",
            start: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_read_that_began_before_a_write_ended_does_not_fill() {
        let cache = UsageCache::default();
        let b = bucket(Uuid::now_v7());
        let epoch = cache.epoch();
        cache.begin(&b);
        cache.end([(b, Some(3))], None);
        assert_eq!(
            cache.get(&b),
            Some(3),
            "the writer leaves what it committed"
        );
        cache.fill(&b, 2, epoch);
        assert_eq!(cache.get(&b), Some(3), "the older read is not kept");
    }

    #[test]
    fn a_busy_bucket_is_never_answered_nor_filled() {
        let cache = UsageCache::default();
        let b = bucket(Uuid::now_v7());
        cache.fill(&b, 1, cache.epoch());
        assert_eq!(cache.get(&b), Some(1));
        cache.begin(&b);
        assert_eq!(cache.get(&b), None);
        cache.fill(&b, 1, cache.epoch());
        assert_eq!(cache.get(&b), None);
    }

    #[test]
    fn overlapping_writes_leave_the_bucket_unknown() {
        let cache = UsageCache::default();
        let b = bucket(Uuid::now_v7());
        cache.begin(&b);
        cache.begin(&b);
        cache.end([(b, Some(5))], None);
        cache.end([(b, Some(4))], None);
        assert_eq!(cache.get(&b), None, "which commit was last is not known");
        cache.fill(&b, 6, cache.epoch());
        assert_eq!(cache.get(&b), Some(6));
    }

    #[test]
    fn a_sqlx_write_keeps_the_bucket_uncached_for_a_while() {
        let cache = UsageCache::default();
        let b = bucket(Uuid::now_v7());
        drop(cache.sqlx_write(b));
        cache.fill(&b, 1, cache.epoch());
        assert_eq!(cache.get(&b), None);
        // A write by the group-commit writer meanwhile cannot make it known either.
        cache.begin(&b);
        cache.end([(b, Some(2))], None);
        assert_eq!(cache.get(&b), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = UsageCache::default();
        for _ in 0..(CAPACITY + 5_000) {
            let b = bucket(Uuid::now_v7());
            cache.fill(&b, 1, cache.epoch());
        }
        let profiles: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum();
        assert!(profiles <= CAPACITY + SHARDS, "{profiles} profiles");
        let p = Uuid::now_v7();
        for day in 0..(PER_PROFILE as i64 + 10) {
            let start = DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default();
            let b = Bucket {
                profile_id: p,
                feature_id: "f",
                start,
            };
            cache.fill(&b, day, cache.epoch());
            assert_eq!(cache.get(&b), Some(day), "the newest bucket is kept");
        }
        let shard = cache.shard(p);
        assert!(shard.get(&p).map_or(0, Vec::len) <= PER_PROFILE);
    }
}
