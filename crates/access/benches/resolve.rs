//! How long one limit resolution takes (the in-memory part of every gated request).

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use mitai_access::{Access, RestrictionRule, Settings, sample_registry};

fn resolve(c: &mut Criterion) {
    let settings = Settings {
        usage_timezone: chrono_tz::Europe::Berlin,
        ..Settings::default()
    };
    let registry = sample_registry(settings);
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap();
    let restriction = RestrictionRule {
        limit: Some(3),
        valid_until: None,
    };

    c.bench_function(
        "resolve limit (by feature id, tier from base + trial)",
        |b| {
            b.iter(|| {
                let r = black_box(&registry);
                let f = r.feature_idx(black_box("weight")).unwrap();
                let t = r.effective_tier("free", Some(("premium", now)), [], now);
                r.resolve(f, t, None, black_box(now))
            })
        },
    );
    c.bench_function("resolve limit with a user restriction", |b| {
        b.iter(|| {
            let r = black_box(&registry);
            let f = r.feature_idx(black_box("weight")).unwrap();
            let t = r.effective_tier("basic", None, [], now);
            r.resolve(f, t, Some(black_box(&restriction)), black_box(now))
        })
    });
    c.bench_function(
        "full <access> view incl. period boundaries (Europe/Berlin)",
        |b| {
            b.iter(|| {
                let r = black_box(&registry);
                let f = r.feature_idx(black_box("weight")).unwrap();
                let t = r.effective_tier("free", None, [], now);
                let resolved = r.resolve(f, t, None, now);
                let period = r.period(f, black_box(now));
                Access::new(r, f, resolved, period, black_box(7))
            })
        },
    );
}

criterion_group!(benches, resolve);
criterion_main!(benches);
