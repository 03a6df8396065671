//! The grant timeline, the "stacking logic" (DESIGN §5).
//!
//! A profile's access comes from its base tier, its trial (while `t < trial_ends_at`) and its
//! access grants. [`timeline`] sweeps the time axis once over the profile's grants and decides
//! which grants *run* at every instant:
//!
//! - A **fixed** grant runs whenever `starts_at <= t < ends_at`, `created_at <= t`, it is not
//!   admin-paused at `t` and not revoked at `t` (`t < revoked_at`). It cannot be saved up and
//!   is not extended by a pause.
//! - A **duration** grant holds an amount of access time that is spent only while it runs. At
//!   each instant, among the duration grants that still have time left, were created at or
//!   before `t`, are not admin-paused and not revoked at `t`, the one with the highest tier
//!   rank (ties: earliest `created_at`, then smallest id) runs — but only if its rank is
//!   strictly higher than every other source of access at `t` (base tier, active trial,
//!   running fixed grants). Otherwise no duration grant runs at `t`; they wait and lose no
//!   time.
//!
//! Between two consecutive *boundaries* (creations, fixed windows, pause starts and ends,
//! revocations, the trial end, and the instants at which the running duration grant runs out)
//! the set of sources is constant, so the sweep is exact to the nanosecond and needs no
//! sampling. The sweep goes on past `now` as a projection that assumes nothing changes after
//! `now` (no new grants, pauses, resumptions or revocations beyond the data given), up to
//! [`PROJECTION_HORIZON`] after the last known boundary.
//!
//! A grant whose tier the registry does not know is no source of access: a fixed one still
//! runs by its calendar but raises nothing; a duration one never runs (and so keeps its time).
//! Statuses are derived from the sweep, so they never depend on a job having run.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::registry::{Registry, TierIdx};

/// How far the projection looks beyond the last known boundary (and beyond `now`).
/// A duration grant that would not run out before it has no projected end.
pub const PROJECTION_HORIZON: TimeDelta = TimeDelta::days(100 * 366);

/// An admin pause of a grant: `[from, to)`, `to: None` while still paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pause {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

impl Pause {
    /// Whether the grant is paused at `t` by this pause.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && self.to.is_none_or(|to| t < to)
    }
}

/// What a grant gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantKind {
    /// Access during the calendar window `[starts_at, ends_at)`.
    Fixed {
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// `seconds` of access time, spent only while the grant runs.
    Duration { seconds: i64 },
}

impl GrantKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            GrantKind::Fixed { .. } => "fixed",
            GrantKind::Duration { .. } => "duration",
        }
    }
}

/// One access grant of a profile, with its admin pauses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub id: Uuid,
    pub tier_id: String,
    pub kind: GrantKind,
    pub created_at: DateTime<Utc>,
    /// The grant gives nothing from this instant on.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Admin pauses; they should not overlap (overlapping ones are tolerated).
    pub pauses: Vec<Pause>,
}

impl Grant {
    /// Whether an admin pause covers `t`.
    pub fn is_paused_at(&self, t: DateTime<Utc>) -> bool {
        self.pauses.iter().any(|p| p.covers(t))
    }

    /// Whether the grant is revoked at `t` (`revoked_at <= t`).
    pub fn is_revoked_at(&self, t: DateTime<Utc>) -> bool {
        self.revoked_at.is_some_and(|r| r <= t)
    }

    /// Whether the grant exists, is not paused and not revoked at `t`.
    pub fn is_available_at(&self, t: DateTime<Utc>) -> bool {
        self.created_at <= t && !self.is_paused_at(t) && !self.is_revoked_at(t)
    }

    /// The access time of a duration grant (negative durations count as none).
    pub fn duration(&self) -> Option<TimeDelta> {
        match self.kind {
            GrantKind::Fixed { .. } => None,
            GrantKind::Duration { seconds } => Some(seconds_to_delta(seconds)),
        }
    }

    /// Whether a fixed grant runs at `t` (its window covers `t` and it is available).
    /// Always false for a duration grant, whose running depends on the other grants.
    pub fn fixed_runs_at(&self, t: DateTime<Utc>) -> bool {
        match self.kind {
            GrantKind::Fixed { starts_at, ends_at } => {
                starts_at <= t && t < ends_at && self.is_available_at(t)
            }
            GrantKind::Duration { .. } => false,
        }
    }

    /// Every instant at which something about this grant alone changes.
    fn boundaries(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let window = match self.kind {
            GrantKind::Fixed { starts_at, ends_at } => [Some(starts_at), Some(ends_at)],
            GrantKind::Duration { .. } => [None, None],
        };
        [Some(self.created_at), self.revoked_at]
            .into_iter()
            .chain(window)
            .chain(self.pauses.iter().flat_map(|p| [Some(p.from), p.to]))
            .flatten()
    }
}

/// Operations on the timeline that payments (DESIGN §13) and partners' memberships need
/// beyond pause, resume and revoke: a fixed grant's end moved later, cut at an instant, and
/// a tier switched from an instant on. Each answers the grant(s) afterwards; a duration
/// grant is not changed by them (its time is its own).
pub mod ops {
    use super::*;

    /// The grant's end moved to `until` when that is later (never earlier: see [`cut`]).
    pub fn extended(grant: &Grant, until: DateTime<Utc>) -> Grant {
        let mut g = grant.clone();
        if let GrantKind::Fixed { starts_at, ends_at } = g.kind {
            g.kind = GrantKind::Fixed {
                starts_at,
                ends_at: ends_at.max(until),
            };
        }
        g
    }

    /// The grant cut at `at` (a past or present instant, or a future one): it gives nothing
    /// from `at` on. Never before its start; never later than it ended already.
    pub fn cut(grant: &Grant, at: DateTime<Utc>) -> Grant {
        let mut g = grant.clone();
        if let GrantKind::Fixed { starts_at, ends_at } = g.kind {
            g.kind = GrantKind::Fixed {
                starts_at,
                ends_at: ends_at.min(at).max(starts_at),
            };
        }
        g
    }

    /// The grant's tier switched to `tier` from `at` on: the grant cut at `at`, and a new
    /// grant `id` of `tier` from `at` to the old end (`None` when nothing is left of it).
    pub fn switched(
        grant: &Grant,
        at: DateTime<Utc>,
        tier: &str,
        id: Uuid,
    ) -> (Grant, Option<Grant>) {
        let before = cut(grant, at);
        let after = match grant.kind {
            GrantKind::Fixed { starts_at, ends_at } if at.max(starts_at) < ends_at => Some(Grant {
                id,
                tier_id: tier.to_owned(),
                kind: GrantKind::Fixed {
                    starts_at: at.max(starts_at),
                    ends_at,
                },
                created_at: grant.created_at.max(at),
                revoked_at: grant.revoked_at,
                pauses: Vec::new(),
            }),
            _ => None,
        };
        (before, after)
    }

    /// Until when a subscription gives access: the end of its latest paid period plus the
    /// grace, cut at its end when it ended (no grace after a chosen end), never before the
    /// first paid period's start.
    pub fn paid_access_end(
        paid_from: DateTime<Utc>,
        paid_until: DateTime<Utc>,
        grace: TimeDelta,
        ended_at: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let end = paid_until + grace;
        ended_at.map_or(end, |ended| end.min(ended)).max(paid_from)
    }
}

/// The status of a grant at `now`, as shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Gives access now.
    Running,
    /// Held back (by stacking, or a fixed window that has not begun) and has never run.
    Waiting,
    /// Held back by stacking after it has run before.
    PausedStacking,
    /// Paused by an admin.
    PausedAdmin,
    /// Fixed: past its window. Duration: no time left.
    Expired,
    /// Revoked by an admin.
    Revoked,
}

impl GrantStatus {
    pub const ALL: [GrantStatus; 6] = [
        GrantStatus::Running,
        GrantStatus::Waiting,
        GrantStatus::PausedStacking,
        GrantStatus::PausedAdmin,
        GrantStatus::Expired,
        GrantStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Running => "running",
            GrantStatus::Waiting => "waiting",
            GrantStatus::PausedStacking => "paused_stacking",
            GrantStatus::PausedAdmin => "paused_admin",
            GrantStatus::Expired => "expired",
            GrantStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A half-open span of time `[start, end)` during which a grant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    pub fn len(&self) -> TimeDelta {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The length of the part of this span before `t`.
    fn len_before(&self, t: DateTime<Utc>) -> TimeDelta {
        if t <= self.start {
            TimeDelta::zero()
        } else {
            self.end.min(t) - self.start
        }
    }
}

/// What the timeline says about one grant at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantState {
    pub id: Uuid,
    pub tier_id: String,
    pub status: GrantStatus,
    /// Duration grants: the access time left at `now`, in whole seconds rounded up (so it is
    /// 0 exactly when the grant is used up). `None` for fixed grants.
    pub remaining_seconds: Option<i64>,
    /// Duration grants: the exact access time left at `now`.
    pub remaining: Option<TimeDelta>,
    /// The first instant the grant ran, if it ran at or before `now`.
    pub started_at: Option<DateTime<Utc>>,
    /// The first instant the grant runs, actual or projected (`None`: never, within the
    /// projection).
    pub first_run_at: Option<DateTime<Utc>>,
    /// From this instant on the grant gives nothing. Fixed: `ends_at` (or `revoked_at` when
    /// earlier). Duration: the instant its time runs out — actual, or projected assuming
    /// nothing changes after `now` — or `revoked_at` when revoked first; `None` when it would
    /// not run out (e.g. admin-paused indefinitely, or held back beyond the horizon).
    pub ends_at: Option<DateTime<Utc>>,
}

/// The grant timeline of one profile; see the module documentation.
#[derive(Debug, Clone)]
pub struct Timeline {
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    base_tier: String,
    trial: Option<(String, DateTime<Utc>)>,
    states: Vec<GrantState>,
    /// Per grant (input order): the spans during which it runs, sorted, disjoint and not
    /// touching (adjacent spans are merged). Actual up to `now`, projected after.
    runs: Vec<Vec<Span>>,
    /// Per grant: the total access time of a duration grant.
    durations: Vec<Option<TimeDelta>>,
}

/// Builds the grant timeline of a profile with base tier `base_tier`, the trial
/// `(trial_tier, trial_ends_at)` if any, and `grants`, as seen at `now`.
pub fn timeline(
    registry: &Registry,
    base_tier: &str,
    trial: Option<(&str, DateTime<Utc>)>,
    grants: &[Grant],
    now: DateTime<Utc>,
) -> Timeline {
    let rank = |id: &str| registry.tier_by_id(id).map(|t| t.rank);
    let ranks: Vec<Option<i32>> = grants.iter().map(|g| rank(&g.tier_id)).collect();
    let base_rank = rank(base_tier);
    let trial_rank = trial.and_then(|(id, _)| rank(id));
    let durations: Vec<Option<TimeDelta>> = grants.iter().map(Grant::duration).collect();

    let mut events: Vec<DateTime<Utc>> = grants.iter().flat_map(Grant::boundaries).collect();
    events.push(now);
    events.extend(trial.map(|(_, ends)| ends));
    events.sort_unstable();
    events.dedup();
    let last = events.last().copied().unwrap_or(now);
    let horizon = last
        .checked_add_signed(PROJECTION_HORIZON)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);

    let mut remaining: Vec<TimeDelta> = durations
        .iter()
        .map(|d| d.unwrap_or(TimeDelta::zero()))
        .collect();
    let mut runs: Vec<Vec<Span>> = vec![Vec::new(); grants.len()];

    // Nothing runs before the first grant exists.
    let mut t = match grants.iter().map(|g| g.created_at).min() {
        Some(first) => first,
        None => horizon,
    };
    let mut next = events.partition_point(|e| *e <= t);
    while t < horizon {
        let next_event = events.get(next).copied().unwrap_or(horizon).min(horizon);

        // Sources other than duration grants.
        let mut others = base_rank;
        if trial.is_some_and(|(_, ends)| t < ends) {
            others = others.max(trial_rank);
        }
        let mut fixed_running = Vec::new();
        for (i, g) in grants.iter().enumerate() {
            if g.fixed_runs_at(t) {
                fixed_running.push(i);
                others = others.max(ranks[i]);
            }
        }

        // The duration grant first in line, if any.
        let best = grants
            .iter()
            .enumerate()
            .filter(|&(i, g)| {
                durations[i].is_some()
                    && ranks[i].is_some()
                    && remaining[i] > TimeDelta::zero()
                    && g.is_available_at(t)
            })
            .min_by(|&(i, a), &(j, b)| {
                ranks[j]
                    .cmp(&ranks[i])
                    .then(a.created_at.cmp(&b.created_at))
                    .then(a.id.cmp(&b.id))
            })
            .map(|(i, _)| i)
            .filter(|&i| ranks[i] > others);

        let mut end = next_event;
        if let Some(d) = best {
            if let Some(run_out) = t.checked_add_signed(remaining[d]) {
                end = end.min(run_out);
            }
            remaining[d] -= end - t;
            push_run(&mut runs[d], t, end);
        }
        for i in fixed_running {
            push_run(&mut runs[i], t, end);
        }

        t = end;
        while next < events.len() && events[next] <= t {
            next += 1;
        }
    }

    let mut tl = Timeline {
        now,
        horizon,
        base_tier: base_tier.to_owned(),
        trial: trial.map(|(id, ends)| (id.to_owned(), ends)),
        states: Vec::with_capacity(grants.len()),
        runs,
        durations,
    };
    tl.states = grants
        .iter()
        .enumerate()
        .map(|(i, g)| tl.state_of(i, g))
        .collect();
    tl
}

fn push_run(runs: &mut Vec<Span>, start: DateTime<Utc>, end: DateTime<Utc>) {
    if end <= start {
        return;
    }
    match runs.last_mut() {
        Some(last) if last.end == start => last.end = end,
        _ => runs.push(Span { start, end }),
    }
}

fn seconds_to_delta(seconds: i64) -> TimeDelta {
    if seconds <= 0 {
        TimeDelta::zero()
    } else {
        TimeDelta::try_seconds(seconds).unwrap_or(TimeDelta::MAX)
    }
}

/// Whole seconds, rounded up.
fn ceil_seconds(d: TimeDelta) -> i64 {
    let s = d.num_seconds();
    if d > TimeDelta::seconds(s) { s + 1 } else { s }
}

impl Timeline {
    fn state_of(&self, i: usize, g: &Grant) -> GrantState {
        let now = self.now;
        let runs = &self.runs[i];
        let remaining = self.remaining_at(i, now);
        let expired = match g.kind {
            GrantKind::Fixed { ends_at, .. } => now >= ends_at,
            GrantKind::Duration { .. } => remaining.is_some_and(|r| r <= TimeDelta::zero()),
        };
        let status = if g.is_revoked_at(now) {
            GrantStatus::Revoked
        } else if expired {
            GrantStatus::Expired
        } else if g.is_paused_at(now) {
            GrantStatus::PausedAdmin
        } else if runs.iter().any(|s| s.contains(now)) {
            GrantStatus::Running
        } else if runs.first().is_some_and(|s| s.start < now) {
            GrantStatus::PausedStacking
        } else {
            GrantStatus::Waiting
        };
        let first_run_at = runs.first().map(|s| s.start);
        let ends_at = match (g.kind, self.durations[i]) {
            (GrantKind::Fixed { ends_at, .. }, _) => {
                Some(g.revoked_at.map_or(ends_at, |r| r.min(ends_at)))
            }
            (GrantKind::Duration { .. }, duration) => {
                let duration = duration.unwrap_or(TimeDelta::zero());
                let used_up = if duration <= TimeDelta::zero() {
                    Some(g.created_at)
                } else if self.ran_total(i) >= duration {
                    runs.last().map(|s| s.end)
                } else {
                    None
                };
                used_up.or(g.revoked_at)
            }
        };
        GrantState {
            id: g.id,
            tier_id: g.tier_id.clone(),
            status,
            remaining_seconds: remaining.map(ceil_seconds),
            remaining,
            started_at: first_run_at.filter(|s| *s <= now),
            first_run_at,
            ends_at,
        }
    }

    /// The instant the timeline was built for.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The end of the projection: nothing is known to run at or after it.
    pub fn horizon(&self) -> DateTime<Utc> {
        self.horizon
    }

    /// The state of every grant at `now`, in input order.
    pub fn states(&self) -> &[GrantState] {
        &self.states
    }

    /// The state of grant `i` (input order) at `now`.
    pub fn state(&self, i: usize) -> &GrantState {
        &self.states[i]
    }

    /// The spans during which grant `i` runs: actual up to `now`, projected after.
    pub fn runs(&self, i: usize) -> &[Span] {
        &self.runs[i]
    }

    /// The indices (input order) of the grants running at `t`. For `t > now` this is the
    /// projection that assumes nothing changes after `now`.
    pub fn running_at(&self, t: DateTime<Utc>) -> Vec<usize> {
        (0..self.runs.len())
            .filter(|&i| self.runs[i].iter().any(|s| s.contains(t)))
            .collect()
    }

    /// The tier ids of the grants running at `t`.
    pub fn running_tiers_at(&self, t: DateTime<Utc>) -> Vec<&str> {
        self.running_at(t)
            .into_iter()
            .map(|i| self.states[i].tier_id.as_str())
            .collect()
    }

    /// The tier ids of the grants running at `now`, for [`Registry::effective_tier`].
    pub fn running_tiers_at_now(&self) -> Vec<&str> {
        self.running_tiers_at(self.now)
    }

    /// How long grant `i` ran before `t`.
    pub fn ran_before(&self, i: usize, t: DateTime<Utc>) -> TimeDelta {
        self.runs[i]
            .iter()
            .map(|s| s.len_before(t))
            .fold(TimeDelta::zero(), |a, b| a + b)
    }

    /// How long grant `i` runs in all (actual and projected).
    pub fn ran_total(&self, i: usize) -> TimeDelta {
        self.runs[i]
            .iter()
            .map(Span::len)
            .fold(TimeDelta::zero(), |a, b| a + b)
    }

    /// The access time a duration grant has left at `t`; `None` for a fixed grant.
    pub fn remaining_at(&self, i: usize, t: DateTime<Utc>) -> Option<TimeDelta> {
        self.durations[i].map(|d| (d - self.ran_before(i, t)).max(TimeDelta::zero()))
    }

    /// The effective tier at `t`: base tier, trial while active, and the grants running at
    /// `t` (projected for `t > now`).
    pub fn effective_tier_at(&self, registry: &Registry, t: DateTime<Utc>) -> TierIdx {
        registry.effective_tier(
            &self.base_tier,
            self.trial.as_ref().map(|(id, ends)| (id.as_str(), *ends)),
            self.running_tiers_at(t),
            t,
        )
    }

    /// The instants in `(from, until]` at which the timeline may change the effective tier:
    /// the trial's end and each grant's (actual or projected) start and end, in order.
    pub fn changes_within(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out: Vec<DateTime<Utc>> = self
            .trial
            .iter()
            .map(|(_, ends)| *ends)
            .chain(self.runs.iter().flatten().flat_map(|s| [s.start, s.end]))
            .filter(|t| *t > from && *t <= until)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The effective tier at `now`.
    pub fn effective_tier(&self, registry: &Registry) -> TierIdx {
        self.effective_tier_at(registry, self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Settings, sample_registry};

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::days(days)
    }

    fn grant(n: u128, tier: &str, kind: GrantKind, created: i64) -> Grant {
        Grant {
            id: Uuid::from_u128(n),
            tier_id: tier.into(),
            kind,
            created_at: at(created),
            revoked_at: None,
            pauses: Vec::new(),
        }
    }

    #[test]
    fn no_grants() {
        let reg = sample_registry(Settings::default());
        let tl = timeline(&reg, "free", None, &[], at(0));
        assert!(tl.states().is_empty());
        assert!(tl.running_tiers_at_now().is_empty());
        assert_eq!(reg.tier(tl.effective_tier(&reg)).id, "free");
    }

    #[test]
    fn huge_duration_does_not_overflow() {
        let reg = sample_registry(Settings::default());
        let g = grant(1, "premium", GrantKind::Duration { seconds: i64::MAX }, 0);
        let tl = timeline(&reg, "free", None, &[g], at(10));
        let st = tl.state(0);
        assert_eq!(st.status, GrantStatus::Running);
        assert_eq!(st.ends_at, None);
        assert!(st.remaining_seconds.unwrap() > 0);
    }

    fn fixed(n: u128, tier: &str, from: i64, to: i64) -> Grant {
        grant(
            n,
            tier,
            GrantKind::Fixed {
                starts_at: at(from),
                ends_at: at(to),
            },
            from,
        )
    }

    #[test]
    fn an_extended_grant_runs_longer_and_never_shorter() {
        let reg = sample_registry(Settings::default());
        let g = ops::extended(&fixed(1, "premium", 0, 30), at(60));
        let tl = timeline(&reg, "free", None, std::slice::from_ref(&g), at(45));
        assert_eq!(tl.state(0).status, GrantStatus::Running);
        assert_eq!(tl.state(0).ends_at, Some(at(60)));
        assert_eq!(
            ops::extended(&g, at(40)),
            g,
            "an earlier end changes nothing"
        );
        let d = grant(2, "premium", GrantKind::Duration { seconds: 60 }, 0);
        assert_eq!(ops::extended(&d, at(90)), d);
    }

    #[test]
    fn a_cut_grant_gives_nothing_from_the_cut_on() {
        let reg = sample_registry(Settings::default());
        // Cut at a past instant: the timeline ends there, now is after it.
        let g = ops::cut(&fixed(1, "premium", 0, 30), at(10));
        let tl = timeline(&reg, "free", None, std::slice::from_ref(&g), at(20));
        assert_eq!(tl.state(0).status, GrantStatus::Expired);
        assert_eq!(
            tl.runs(0),
            &[Span {
                start: at(0),
                end: at(10)
            }]
        );
        // Never before its start, never later than its end.
        assert_eq!(
            ops::cut(&g, at(-5)).kind,
            GrantKind::Fixed {
                starts_at: at(0),
                ends_at: at(0)
            }
        );
        assert_eq!(ops::cut(&g, at(50)), g);
    }

    #[test]
    fn a_switched_grant_changes_tier_at_the_instant() {
        let reg = sample_registry(Settings::default());
        let g = fixed(1, "basic", 0, 30);
        let (before, after) = ops::switched(&g, at(10), "premium", Uuid::from_u128(2));
        let after = after.unwrap();
        let grants = [before, after];
        let tl = timeline(&reg, "free", None, &grants, at(20));
        assert_eq!(tl.running_tiers_at(at(5)), vec!["basic"]);
        assert_eq!(tl.running_tiers_at(at(15)), vec!["premium"]);
        assert_eq!(tl.state(1).ends_at, Some(at(30)));
        // Switched after its end: nothing goes on.
        assert!(
            ops::switched(&g, at(40), "premium", Uuid::from_u128(3))
                .1
                .is_none()
        );
    }

    #[test]
    fn paid_access_runs_to_the_paid_end_plus_grace_unless_it_ended() {
        let grace = TimeDelta::days(3);
        assert_eq!(ops::paid_access_end(at(0), at(30), grace, None), at(33));
        assert_eq!(
            ops::paid_access_end(at(0), at(30), grace, Some(at(30))),
            at(30)
        );
        assert_eq!(
            ops::paid_access_end(at(0), at(30), grace, Some(at(10))),
            at(10)
        );
        assert_eq!(
            ops::paid_access_end(at(5), at(30), grace, Some(at(1))),
            at(5)
        );
    }

    #[test]
    fn unknown_tier_never_runs() {
        let reg = sample_registry(Settings::default());
        let g = grant(1, "gold", GrantKind::Duration { seconds: 86_400 }, 0);
        let tl = timeline(&reg, "free", None, &[g], at(10));
        assert_eq!(tl.state(0).status, GrantStatus::Waiting);
        assert_eq!(tl.state(0).remaining_seconds, Some(86_400));
    }
}
