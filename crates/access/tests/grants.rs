//! The grant timeline (DESIGN §5): properties, a brute-force oracle, and the scenarios of the
//! design.

use chrono::{DateTime, TimeDelta, Utc};
use mitai_access::grants::{Grant, GrantKind, GrantStatus, Pause, Timeline, timeline};
use mitai_access::{Registry, Settings, sample_registry};
use proptest::prelude::*;
use proptest::{option, sample};
use uuid::Uuid;

const H: i64 = 3600;
const D: i64 = 86_400;
const TIERS: [&str; 3] = ["free", "basic", "premium"];

fn registry() -> Registry {
    sample_registry(Settings::default())
}

/// 2026-01-01T00:00:00Z plus `secs`.
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600 + secs, 0).unwrap()
}

fn day(d: i64) -> DateTime<Utc> {
    t(d * D)
}

fn rank(reg: &Registry, tier: &str) -> Option<i32> {
    reg.tier_by_id(tier).map(|t| t.rank)
}

fn eff_rank(reg: &Registry, tl: &Timeline, at: DateTime<Utc>) -> i32 {
    reg.tier(tl.effective_tier_at(reg, at)).rank
}

// ---------------------------------------------------------------------------------------
// Strategies

/// A profile: base tier, trial, grants and `now`, all as data.
#[derive(Debug, Clone)]
struct Profile {
    base: &'static str,
    trial: Option<(&'static str, DateTime<Utc>)>,
    grants: Vec<Grant>,
    now: DateTime<Utc>,
}

impl Profile {
    fn timeline(&self, reg: &Registry) -> Timeline {
        timeline(reg, self.base, self.trial, &self.grants, self.now)
    }
}

/// Seconds in `[0, max_hours h]`: whole hours when `aligned`, else also arbitrary seconds.
fn secs(aligned: bool, max_hours: i64) -> BoxedStrategy<i64> {
    let hours = (0..=max_hours).prop_map(|h| h * H);
    if aligned {
        hours.boxed()
    } else {
        prop_oneof![hours, 0..=max_hours * H].boxed()
    }
}

fn grant(aligned: bool) -> impl Strategy<Value = Grant> {
    let kind = prop_oneof![
        (secs(aligned, 2400), secs(aligned, 1440)).prop_map(|(s, len)| GrantKind::Fixed {
            starts_at: t(s),
            ends_at: t(s + len),
        }),
        secs(aligned, 1440).prop_map(|seconds| GrantKind::Duration { seconds }),
    ];
    (
        any::<u128>(),
        sample::select(TIERS.to_vec()),
        secs(aligned, 2400),
        kind,
        option::weighted(0.2, secs(aligned, 2400)),
        prop::collection::vec((secs(aligned, 1000), secs(aligned, 500)), 0..=2),
        any::<bool>(),
    )
        .prop_map(|(id, tier, created, kind, revoke, pauses, open_last)| {
            let mut cursor = created;
            let mut ps = Vec::new();
            for (k, (gap, len)) in pauses.iter().enumerate() {
                let from = cursor + gap;
                let to = if k + 1 == pauses.len() && open_last {
                    None
                } else {
                    Some(from + len)
                };
                ps.push(Pause {
                    from: t(from),
                    to: to.map(t),
                });
                cursor = to.unwrap_or(from);
            }
            Grant {
                id: Uuid::from_u128(id),
                tier_id: tier.to_owned(),
                kind,
                created_at: t(created),
                revoked_at: revoke.map(|r| t(created + r)),
                pauses: ps,
            }
        })
}

fn profile(aligned: bool, max_grants: usize) -> impl Strategy<Value = Profile> {
    (
        sample::select(vec!["free", "basic"]),
        option::of((sample::select(TIERS.to_vec()), secs(aligned, 2400))),
        prop::collection::vec(grant(aligned), 0..=max_grants),
        secs(aligned, 3000),
    )
        .prop_map(|(base, trial, grants, now)| Profile {
            base,
            trial: trial.map(|(tier, ends)| (tier, t(ends))),
            grants,
            now: t(now),
        })
}

/// Every instant at which the effective tier or a grant's state can change, plus a point
/// inside each piece between them: checking these checks every instant.
fn instants(p: &Profile, timelines: &[&Timeline]) -> Vec<DateTime<Utc>> {
    let mut v = vec![p.now];
    v.extend(p.trial.map(|(_, e)| e));
    for g in &p.grants {
        v.push(g.created_at);
        v.extend(g.revoked_at);
        if let GrantKind::Fixed { starts_at, ends_at } = g.kind {
            v.extend([starts_at, ends_at]);
        }
        for pause in &g.pauses {
            v.push(pause.from);
            v.extend(pause.to);
        }
    }
    for tl in timelines {
        for i in 0..tl.states().len() {
            for s in tl.runs(i) {
                v.extend([s.start, s.end]);
            }
        }
    }
    v.sort();
    v.dedup();
    let mids: Vec<_> = v
        .windows(2)
        .map(|w| w[0] + (w[1] - w[0]) / 2)
        .chain(v.first().map(|f| *f - TimeDelta::seconds(1)))
        .chain(v.last().map(|l| *l + TimeDelta::seconds(1)))
        .collect();
    v.extend(mids);
    v.sort();
    v.dedup();
    v
}

// ---------------------------------------------------------------------------------------
// A brute-force oracle: when every instant of the data is a whole hour, the sources of access
// are constant within each hour, so stepping hour by hour and applying the rule of DESIGN §5
// literally gives the exact timeline.

struct Oracle {
    start_h: i64,
    /// `running[k]`: the grants running during hour `start_h + k`.
    running: Vec<Vec<usize>>,
    /// Per grant: the instant its time ran out, if it did.
    used_up_at: Vec<Option<DateTime<Utc>>>,
    /// Per grant: the hours it ran before `now`.
    ran_before_now: Vec<i64>,
}

fn hours(d: DateTime<Utc>) -> i64 {
    (d - t(0)).num_seconds().div_euclid(H)
}

fn oracle(reg: &Registry, p: &Profile) -> Oracle {
    let paused = |g: &Grant, at: DateTime<Utc>| {
        g.pauses
            .iter()
            .any(|x| x.from <= at && x.to.is_none_or(|to| at < to))
    };
    let available = |g: &Grant, at: DateTime<Utc>| {
        g.created_at <= at && !paused(g, at) && g.revoked_at.is_none_or(|r| at < r)
    };
    let mut left: Vec<i64> = p
        .grants
        .iter()
        .map(|g| match g.kind {
            GrantKind::Duration { seconds } => seconds / H,
            GrantKind::Fixed { .. } => 0,
        })
        .collect();
    let start_h = p
        .grants
        .iter()
        .map(|g| hours(g.created_at))
        .min()
        .unwrap_or(0);
    let last_h = instants(p, &[]).last().map(|l| hours(*l)).unwrap_or(0);
    let end_h = last_h + left.iter().sum::<i64>() + 2;
    let now_h = hours(p.now);
    let mut running = Vec::new();
    let mut used_up_at = vec![None; p.grants.len()];
    let mut ran_before_now = vec![0; p.grants.len()];
    for h in start_h..end_h {
        let at = t(h * H);
        let mut others = rank(reg, p.base);
        if let Some((tier, ends)) = p.trial
            && at < ends
        {
            others = others.max(rank(reg, tier));
        }
        let mut run = Vec::new();
        for (i, g) in p.grants.iter().enumerate() {
            if let GrantKind::Fixed { starts_at, ends_at } = g.kind
                && starts_at <= at
                && at < ends_at
                && available(g, at)
            {
                run.push(i);
                others = others.max(rank(reg, &g.tier_id));
            }
        }
        let mut best: Option<usize> = None;
        for (i, g) in p.grants.iter().enumerate() {
            let GrantKind::Duration { .. } = g.kind else {
                continue;
            };
            if left[i] == 0 || rank(reg, &g.tier_id).is_none() || !available(g, at) {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let (gb, ri, rb) = (
                        &p.grants[b],
                        rank(reg, &g.tier_id),
                        rank(reg, &p.grants[b].tier_id),
                    );
                    ri > rb
                        || (ri == rb
                            && (g.created_at < gb.created_at
                                || (g.created_at == gb.created_at && g.id < gb.id)))
                }
            };
            if better {
                best = Some(i);
            }
        }
        if let Some(b) = best
            && rank(reg, &p.grants[b].tier_id) > others
        {
            left[b] -= 1;
            if h < now_h {
                ran_before_now[b] += 1;
            }
            if left[b] == 0 {
                used_up_at[b] = Some(t((h + 1) * H));
            }
            run.push(b);
        }
        run.sort();
        running.push(run);
    }
    Oracle {
        start_h,
        running,
        used_up_at,
        ran_before_now,
    }
}

impl Oracle {
    fn running_at(&self, at: DateTime<Utc>) -> Vec<usize> {
        let k = hours(at) - self.start_h;
        if k < 0 {
            return Vec::new();
        }
        self.running.get(k as usize).cloned().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The sweep agrees with a literal hour-by-hour simulation of the rule: which grants run
    /// at every instant, and every status, remaining time, start and projected end at `now`.
    #[test]
    fn agrees_with_brute_force(p in profile(true, 6)) {
        let reg = registry();
        let tl = p.timeline(&reg);
        let o = oracle(&reg, &p);
        for at in instants(&p, &[&tl]) {
            let mut got = tl.running_at(at);
            got.sort();
            prop_assert_eq!(got, o.running_at(at), "running at {}", at);
        }
        for (i, g) in p.grants.iter().enumerate() {
            let st = tl.state(i);
            let revoked = g.revoked_at.is_some_and(|r| r <= p.now);
            let paused = g.is_paused_at(p.now);
            let first_run = o.running.iter().position(|r| r.contains(&i))
                .map(|k| t((o.start_h + k as i64) * H));
            let running = o.running_at(p.now).contains(&i);
            match g.kind {
                GrantKind::Duration { seconds } => {
                    let left = seconds - o.ran_before_now[i] * H;
                    prop_assert_eq!(st.remaining_seconds, Some(left));
                    let expected = if revoked {
                        GrantStatus::Revoked
                    } else if left == 0 {
                        GrantStatus::Expired
                    } else if paused {
                        GrantStatus::PausedAdmin
                    } else if running {
                        GrantStatus::Running
                    } else if first_run.is_some_and(|f| f < p.now) {
                        GrantStatus::PausedStacking
                    } else {
                        GrantStatus::Waiting
                    };
                    prop_assert_eq!(st.status, expected);
                    let ends = if seconds == 0 { Some(g.created_at) } else { o.used_up_at[i] };
                    prop_assert_eq!(st.ends_at, ends.or(g.revoked_at));
                }
                GrantKind::Fixed { ends_at, .. } => {
                    prop_assert_eq!(st.remaining_seconds, None);
                    let expected = if revoked {
                        GrantStatus::Revoked
                    } else if p.now >= ends_at {
                        GrantStatus::Expired
                    } else if paused {
                        GrantStatus::PausedAdmin
                    } else if running {
                        GrantStatus::Running
                    } else {
                        GrantStatus::Waiting
                    };
                    prop_assert_eq!(st.status, expected);
                    prop_assert_eq!(st.ends_at, Some(g.revoked_at.map_or(ends_at, |r| r.min(ends_at))));
                }
            }
            prop_assert_eq!(st.first_run_at, first_run);
            prop_assert_eq!(st.started_at, first_run.filter(|f| *f <= p.now));
        }
    }

    /// 1. A duration grant never runs longer than its duration, and once it is used up (or
    /// shown expired) it ran exactly its duration.
    #[test]
    fn duration_never_exceeded(p in profile(false, 6)) {
        let reg = registry();
        let tl = p.timeline(&reg);
        for (i, g) in p.grants.iter().enumerate() {
            let Some(duration) = g.duration() else { continue };
            prop_assert!(tl.ran_total(i) <= duration);
            let ran = tl.ran_before(i, p.now);
            prop_assert!(ran <= duration);
            prop_assert_eq!(tl.state(i).remaining, Some(duration - ran));
            if tl.state(i).status == GrantStatus::Expired {
                prop_assert_eq!(ran, duration);
                prop_assert_eq!(tl.state(i).remaining_seconds, Some(0));
            }
            // Used up within the projection: it ran its whole duration, ending at `ends_at`.
            if tl.ran_total(i) == duration && duration > TimeDelta::zero() {
                prop_assert_eq!(tl.state(i).ends_at, tl.runs(i).last().map(|s| s.end));
            }
            // It runs only while it exists, is not paused and not revoked.
            for s in tl.runs(i) {
                prop_assert!(s.start < s.end);
                prop_assert!(g.created_at <= s.start);
                prop_assert!(g.revoked_at.is_none_or(|r| s.end <= r));
                for pause in &g.pauses {
                    prop_assert!(
                        pause.to.is_some_and(|to| to <= s.start) || s.end <= pause.from
                            || pause.to.is_some_and(|to| to <= pause.from),
                        "run {:?} overlaps pause {:?}", s, pause
                    );
                }
            }
        }
    }

    /// 2. Adding a grant never lowers the effective tier at any instant.
    #[test]
    fn adding_a_grant_never_lowers_the_tier(p in profile(false, 5), extra in grant(false)) {
        let reg = registry();
        let before = p.timeline(&reg);
        let mut q = p.clone();
        q.grants.push(extra);
        let after = q.timeline(&reg);
        let horizon = before.horizon().min(after.horizon());
        for at in instants(&q, &[&before, &after]) {
            if at >= horizon {
                continue;
            }
            prop_assert!(
                eff_rank(&reg, &after, at) >= eff_rank(&reg, &before, at),
                "tier lowered at {}", at
            );
        }
    }

    /// 2b. The same with the new grant inserted anywhere in the input: order does not matter.
    #[test]
    fn input_order_does_not_matter(p in profile(false, 6), rot in 0usize..6) {
        let reg = registry();
        let a = p.timeline(&reg);
        let mut q = p.clone();
        if !q.grants.is_empty() {
            let k = rot % q.grants.len();
            q.grants.rotate_left(k);
        }
        let b = q.timeline(&reg);
        for g in &p.grants {
            let i = p.grants.iter().position(|x| x == g).unwrap();
            let j = q.grants.iter().position(|x| x == g).unwrap();
            prop_assert_eq!(a.state(i), b.state(j));
            prop_assert_eq!(a.runs(i), b.runs(j));
        }
    }

    /// 3. A grant that covers t, still has time, is not admin-paused and not revoked never
    /// leaves the profile below its tier at t.
    #[test]
    fn an_available_grant_keeps_its_tier(p in profile(false, 6)) {
        let reg = registry();
        let tl = p.timeline(&reg);
        for at in instants(&p, &[&tl]) {
            if at >= tl.horizon() {
                continue;
            }
            let eff = eff_rank(&reg, &tl, at);
            for (i, g) in p.grants.iter().enumerate() {
                let Some(r) = rank(&reg, &g.tier_id) else { continue };
                let has_time = match g.kind {
                    GrantKind::Fixed { starts_at, ends_at } => starts_at <= at && at < ends_at,
                    GrantKind::Duration { .. } => {
                        tl.remaining_at(i, at).is_some_and(|x| x > TimeDelta::zero())
                    }
                };
                if has_time && g.is_available_at(at) {
                    prop_assert!(eff >= r, "grant {} ({}) left the profile at rank {} at {}",
                        i, g.tier_id, eff, at);
                }
            }
        }
    }

    /// 4. An admin pause costs no time: the remaining time at the end of a pause equals the
    /// remaining time at its start, and the grant does not run in between.
    #[test]
    fn pause_keeps_remaining_time(p in profile(false, 6)) {
        let reg = registry();
        let tl = p.timeline(&reg);
        for (i, g) in p.grants.iter().enumerate() {
            for pause in &g.pauses {
                let Some(to) = pause.to else { continue };
                if to < pause.from {
                    continue;
                }
                if let Some(at_start) = tl.remaining_at(i, pause.from) {
                    prop_assert_eq!(tl.remaining_at(i, to), Some(at_start));
                }
                prop_assert_eq!(tl.ran_before(i, to), tl.ran_before(i, pause.from));
            }
        }
    }

    /// 4b. Pausing the only grant for L, from inside its run, pushes its end by exactly L and
    /// leaves its remaining time at resumption as it was at the pause.
    #[test]
    fn pause_shifts_the_end(
        seconds in 1i64..60 * D,
        from_frac in 0.0f64..1.0,
        len in 0i64..60 * D,
        now_after in 0i64..120 * D,
    ) {
        let reg = registry();
        let from_off = ((seconds as f64) * from_frac) as i64;
        let g = Grant {
            id: Uuid::from_u128(1),
            tier_id: "premium".into(),
            kind: GrantKind::Duration { seconds },
            created_at: t(0),
            revoked_at: None,
            pauses: vec![Pause { from: t(from_off), to: Some(t(from_off + len)) }],
        };
        let now = t(now_after);
        let tl = timeline(&reg, "free", None, std::slice::from_ref(&g), now);
        prop_assert_eq!(tl.state(0).ends_at, Some(t(seconds + len)));
        prop_assert_eq!(
            tl.remaining_at(0, t(from_off + len)),
            Some(TimeDelta::seconds(seconds - from_off))
        );
        let mut unpaused = g.clone();
        unpaused.pauses.clear();
        let plain = timeline(&reg, "free", None, &[unpaused], now);
        prop_assert_eq!(plain.state(0).ends_at, Some(t(seconds)));
    }

    /// 5. At every instant at most one duration grant runs.
    #[test]
    fn at_most_one_duration_grant_runs(p in profile(false, 6)) {
        let reg = registry();
        let tl = p.timeline(&reg);
        for at in instants(&p, &[&tl]) {
            let n = tl
                .running_at(at)
                .into_iter()
                .filter(|&i| p.grants[i].duration().is_some())
                .count();
            prop_assert!(n <= 1, "{} duration grants run at {}", n, at);
        }
        // The run spans of different duration grants are disjoint.
        let spans: Vec<_> = p.grants.iter().enumerate()
            .filter(|(_, g)| g.duration().is_some())
            .flat_map(|(i, _)| tl.runs(i).iter().map(move |s| (i, *s)))
            .collect();
        for (a, sa) in &spans {
            for (b, sb) in &spans {
                if a != b {
                    prop_assert!(sa.end <= sb.start || sb.end <= sa.start);
                }
            }
        }
    }

    /// The state at `now` agrees with `running_at(now)` and the effective tier.
    #[test]
    fn now_is_consistent(p in profile(false, 6)) {
        let reg = registry();
        let tl = p.timeline(&reg);
        let running = tl.running_at(p.now);
        for (i, st) in tl.states().iter().enumerate() {
            prop_assert_eq!(st.status == GrantStatus::Running, running.contains(&i));
            prop_assert_eq!(st.id, p.grants[i].id);
        }
        let mut tiers = tl.running_tiers_at_now();
        tiers.sort();
        let mut expected: Vec<&str> = running.iter().map(|&i| p.grants[i].tier_id.as_str()).collect();
        expected.sort();
        prop_assert_eq!(tiers, expected);
        prop_assert_eq!(
            tl.effective_tier(&reg),
            reg.effective_tier(p.base, p.trial, tl.running_tiers_at_now(), p.now)
        );
        // The past does not depend on `now`: a timeline built later agrees up to `now`.
        let later = timeline(&reg, p.base, p.trial, &p.grants, p.now + TimeDelta::days(30));
        for at in instants(&p, &[&tl]) {
            if at <= p.now {
                prop_assert_eq!(tl.running_at(at), later.running_at(at));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios of DESIGN §5

fn duration(n: u128, tier: &str, days: i64, created: i64) -> Grant {
    Grant {
        id: Uuid::from_u128(n),
        tier_id: tier.into(),
        kind: GrantKind::Duration { seconds: days * D },
        created_at: day(created),
        revoked_at: None,
        pauses: Vec::new(),
    }
}

fn fixed(n: u128, tier: &str, from: i64, to: i64, created: i64) -> Grant {
    Grant {
        id: Uuid::from_u128(n),
        tier_id: tier.into(),
        kind: GrantKind::Fixed {
            starts_at: day(from),
            ends_at: day(to),
        },
        created_at: day(created),
        revoked_at: None,
        pauses: Vec::new(),
    }
}

fn tier_at(reg: &Registry, tl: &Timeline, d: i64) -> String {
    reg.tier(tl.effective_tier_at(reg, day(d))).id.clone()
}

fn statuses(tl: &Timeline) -> Vec<GrantStatus> {
    tl.states().iter().map(|s| s.status).collect()
}

#[test]
fn two_premium_codes_give_sixty_days_in_a_row() {
    let reg = registry();
    let grants = [duration(1, "premium", 30, 0), duration(2, "premium", 30, 1)];
    let tl = timeline(&reg, "free", None, &grants, day(10));
    assert_eq!(statuses(&tl), [GrantStatus::Running, GrantStatus::Waiting]);
    assert_eq!(tl.state(0).remaining_seconds, Some(20 * D));
    assert_eq!(tl.state(1).remaining_seconds, Some(30 * D));
    assert_eq!(tl.state(0).started_at, Some(day(0)));
    assert_eq!(tl.state(1).started_at, None);
    assert_eq!(tl.state(0).ends_at, Some(day(30)));
    assert_eq!(tl.state(1).first_run_at, Some(day(30)));
    assert_eq!(tl.state(1).ends_at, Some(day(60)));
    assert_eq!(tl.running_tiers_at_now(), ["premium"]);

    let tl = timeline(&reg, "free", None, &grants, day(40));
    assert_eq!(statuses(&tl), [GrantStatus::Expired, GrantStatus::Running]);
    assert_eq!(tl.state(0).remaining_seconds, Some(0));
    assert_eq!(tl.state(1).remaining_seconds, Some(20 * D));
    assert_eq!(tl.state(1).started_at, Some(day(30)));
    // The second starts exactly when the first ends.
    assert_eq!(tl.runs(0).last().unwrap().end, tl.runs(1)[0].start);
    assert_eq!(tl.running_at(day(30) - TimeDelta::nanoseconds(1)), [0]);
    assert_eq!(tl.running_at(day(30)), [1]);
    for d in 0..60 {
        assert_eq!(tier_at(&reg, &tl, d), "premium", "day {d}");
    }
    assert_eq!(tier_at(&reg, &tl, 60), "free");
    let tl = timeline(&reg, "free", None, &grants, day(60));
    assert_eq!(statuses(&tl), [GrantStatus::Expired, GrantStatus::Expired]);
}

#[test]
fn premium_code_during_premium_wellpass_starts_when_it_ends() {
    let reg = registry();
    let grants = [
        fixed(1, "premium", 0, 31, 0),
        duration(2, "premium", 30, 5),
        duration(3, "basic", 10, 6),
    ];
    let tl = timeline(&reg, "free", None, &grants, day(10));
    assert_eq!(
        statuses(&tl),
        [
            GrantStatus::Running,
            GrantStatus::Waiting,
            GrantStatus::Waiting
        ]
    );
    assert_eq!(tl.state(1).remaining_seconds, Some(30 * D));
    assert_eq!(tl.state(1).ends_at, Some(day(61)));
    assert_eq!(tl.state(2).ends_at, Some(day(71)));
    assert_eq!(tl.state(0).ends_at, Some(day(31)));

    let tl = timeline(&reg, "free", None, &grants, day(31));
    assert_eq!(
        statuses(&tl),
        [
            GrantStatus::Expired,
            GrantStatus::Running,
            GrantStatus::Waiting
        ]
    );
    assert_eq!(tl.state(1).started_at, Some(day(31)));
    assert_eq!(tier_at(&reg, &tl, 45), "premium");
    assert_eq!(tier_at(&reg, &tl, 65), "basic");
    assert_eq!(tier_at(&reg, &tl, 71), "free");
}

#[test]
fn basic_code_waits_behind_a_running_premium_code() {
    let reg = registry();
    let grants = [duration(1, "premium", 30, 0), duration(2, "basic", 10, 5)];
    let tl = timeline(&reg, "free", None, &grants, day(10));
    assert_eq!(statuses(&tl), [GrantStatus::Running, GrantStatus::Waiting]);
    assert_eq!(tl.state(1).remaining_seconds, Some(10 * D));
    assert_eq!(tl.state(1).ends_at, Some(day(40)));
    assert_eq!(tier_at(&reg, &tl, 10), "premium");

    let tl = timeline(&reg, "free", None, &grants, day(35));
    assert_eq!(statuses(&tl), [GrantStatus::Expired, GrantStatus::Running]);
    assert_eq!(tl.state(1).started_at, Some(day(30)));
    assert_eq!(tl.state(1).remaining_seconds, Some(5 * D));
    assert_eq!(tl.effective_tier(&reg), reg.tier_idx("basic").unwrap());
}

#[test]
fn a_higher_code_interrupts_a_running_lower_one() {
    let reg = registry();
    let grants = [duration(1, "basic", 10, 0), duration(2, "premium", 10, 5)];
    let tl = timeline(&reg, "free", None, &grants, day(7));
    assert_eq!(
        statuses(&tl),
        [GrantStatus::PausedStacking, GrantStatus::Running]
    );
    assert_eq!(tl.state(0).remaining_seconds, Some(5 * D));
    assert_eq!(tl.state(0).started_at, Some(day(0)));
    assert_eq!(tl.state(0).ends_at, Some(day(20)));
    assert_eq!(tl.state(1).ends_at, Some(day(15)));
}

#[test]
fn admin_pause_of_twenty_days_keeps_the_remaining_time() {
    let reg = registry();
    let mut g = duration(1, "premium", 30, 0);
    g.pauses.push(Pause {
        from: day(10),
        to: Some(day(30)),
    });
    let grants = [g];
    let tl = timeline(&reg, "free", None, &grants, day(20));
    assert_eq!(statuses(&tl), [GrantStatus::PausedAdmin]);
    assert_eq!(tl.state(0).remaining_seconds, Some(20 * D));
    assert_eq!(tl.state(0).ends_at, Some(day(50)));
    assert_eq!(tier_at(&reg, &tl, 20), "free");

    let tl = timeline(&reg, "free", None, &grants, day(35));
    assert_eq!(statuses(&tl), [GrantStatus::Running]);
    assert_eq!(tl.state(0).remaining_seconds, Some(15 * D));
    assert_eq!(tl.remaining_at(0, day(30)), Some(TimeDelta::days(20)));
    assert_eq!(tl.state(0).ends_at, Some(day(50)));

    // Still paused, indefinitely: no projected end, time kept.
    let mut g = duration(1, "premium", 30, 0);
    g.pauses.push(Pause {
        from: day(10),
        to: None,
    });
    let tl = timeline(&reg, "free", None, &[g], day(400));
    assert_eq!(statuses(&tl), [GrantStatus::PausedAdmin]);
    assert_eq!(tl.state(0).remaining_seconds, Some(20 * D));
    assert_eq!(tl.state(0).ends_at, None);
}

#[test]
fn paused_fixed_grant_is_not_extended() {
    let reg = registry();
    let mut g = fixed(1, "premium", 0, 30, 0);
    g.pauses.push(Pause {
        from: day(10),
        to: Some(day(20)),
    });
    let grants = [g];
    let tl = timeline(&reg, "free", None, &grants, day(15));
    assert_eq!(statuses(&tl), [GrantStatus::PausedAdmin]);
    assert_eq!(tl.state(0).ends_at, Some(day(30)));
    assert_eq!(tier_at(&reg, &tl, 15), "free");
    let tl = timeline(&reg, "free", None, &grants, day(25));
    assert_eq!(statuses(&tl), [GrantStatus::Running]);
    let tl = timeline(&reg, "free", None, &grants, day(30));
    assert_eq!(statuses(&tl), [GrantStatus::Expired]);
}

#[test]
fn fixed_grant_before_its_window_waits() {
    let reg = registry();
    let grants = [fixed(1, "premium", 10, 20, 0)];
    let tl = timeline(&reg, "free", None, &grants, day(5));
    assert_eq!(statuses(&tl), [GrantStatus::Waiting]);
    assert_eq!(tl.state(0).first_run_at, Some(day(10)));
    assert_eq!(tl.state(0).started_at, None);
    assert_eq!(tl.state(0).remaining_seconds, None);
}

#[test]
fn revoke_ends_access() {
    let reg = registry();
    let mut g = duration(1, "premium", 30, 0);
    g.revoked_at = Some(day(10));
    let mut f = fixed(3, "premium", 0, 30, 0);
    f.revoked_at = Some(day(5));
    let grants = [g, duration(2, "basic", 10, 1), f];
    let tl = timeline(&reg, "free", None, &grants, day(12));
    assert_eq!(
        statuses(&tl),
        [
            GrantStatus::Revoked,
            GrantStatus::Running,
            GrantStatus::Revoked
        ]
    );
    assert_eq!(tl.state(0).ends_at, Some(day(10)));
    assert_eq!(tl.state(2).ends_at, Some(day(5)));
    assert_eq!(tl.state(1).started_at, Some(day(10)));
    assert_eq!(tl.state(1).ends_at, Some(day(20)));
    assert_eq!(tl.running_tiers_at_now(), ["basic"]);
    assert_eq!(tier_at(&reg, &tl, 9), "premium");
    assert_eq!(tier_at(&reg, &tl, 12), "basic");
    assert_eq!(tier_at(&reg, &tl, 20), "free");
}

#[test]
fn trial_holds_back_codes_of_no_higher_tier() {
    let reg = registry();
    let grants = [duration(1, "premium", 30, 0), duration(2, "basic", 5, 0)];
    // A premium trial until day 14: the premium code starts when the trial ends.
    let tl = timeline(&reg, "free", Some(("premium", day(14))), &grants, day(3));
    assert_eq!(statuses(&tl), [GrantStatus::Waiting, GrantStatus::Waiting]);
    assert_eq!(tl.state(0).ends_at, Some(day(44)));
    assert_eq!(tl.state(1).ends_at, Some(day(49)));
    // A basic trial: the premium code runs over it.
    let tl = timeline(&reg, "free", Some(("basic", day(14))), &grants, day(3));
    assert_eq!(statuses(&tl), [GrantStatus::Running, GrantStatus::Waiting]);
    assert_eq!(tl.state(0).ends_at, Some(day(30)));
    // The base tier also holds back codes of no higher tier.
    let tl = timeline(&reg, "basic", None, &grants, day(3));
    assert_eq!(statuses(&tl), [GrantStatus::Running, GrantStatus::Waiting]);
    assert_eq!(tl.state(1).ends_at, None);
}

#[test]
fn projected_end_follows_seconds_not_days() {
    let reg = registry();
    let g = Grant {
        id: Uuid::from_u128(1),
        tier_id: "premium".into(),
        kind: GrantKind::Duration { seconds: 90 },
        created_at: t(0) + TimeDelta::milliseconds(500),
        revoked_at: None,
        pauses: Vec::new(),
    };
    let tl = timeline(&reg, "free", None, &[g], t(30));
    assert_eq!(tl.state(0).status, GrantStatus::Running);
    // 60.5 s left: shown rounded up, exact in `remaining`.
    assert_eq!(tl.state(0).remaining_seconds, Some(61));
    assert_eq!(tl.state(0).remaining, Some(TimeDelta::milliseconds(60_500)));
    assert_eq!(
        tl.state(0).ends_at,
        Some(t(90) + TimeDelta::milliseconds(500))
    );
}

#[test]
fn status_names() {
    for st in GrantStatus::ALL {
        assert_eq!(GrantStatus::parse(st.as_str()), Some(st));
        assert_eq!(
            serde_json::to_value(st).unwrap(),
            serde_json::Value::String(st.as_str().into())
        );
    }
}
