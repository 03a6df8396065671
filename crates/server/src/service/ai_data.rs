//! The data an AI prompt is built from: the profile's recent entries of every type, as
//! compact text lines (no name, no e-mail: the provider sees measurements only).

use chrono::{Datelike, TimeDelta};
use mitai_access::{EntryData, EntryKind};
use mitai_store::{Entry, EntryOrder, EntryQuery, Profile};

use crate::service::AppState;
use crate::service::Result;

/// How far back the prompt looks.
pub const DAYS: i64 = 90;
/// The most entries of one type in a prompt.
pub const PER_TYPE: i64 = 30;

/// The profile's entries of the last [`DAYS`] days, newest first, at most [`PER_TYPE`] of
/// each type.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn recent(state: &AppState, profile: &Profile) -> Result<String> {
    let today = state.now().date_naive();
    let query = EntryQuery {
        from: Some(today - TimeDelta::days(DAYS)),
        to: None,
        after: None,
        limit: PER_TYPE,
        order: EntryOrder::NewestFirst,
    };
    let mut text = format!(
        "Today is {today} ({}). The person's measurements of the last {DAYS} days, newest \
         first:",
        today.weekday()
    );
    let mut any = false;
    for kind in EntryKind::ALL {
        let entries = state.store.list_entries(profile.id, kind, &query).await?;
        if entries.is_empty() {
            continue;
        }
        any = true;
        text.push_str(&format!("\n\n{}:", kind.as_str()));
        for entry in &entries {
            text.push_str("\n- ");
            text.push_str(&line(entry));
        }
    }
    if !any {
        text.push_str("\n\n(none recorded yet)");
    }
    Ok(text)
}

/// One entry as a line: the date, the values and the note.
pub fn line(entry: &Entry) -> String {
    let values = match &entry.data {
        EntryData::Weight(w) => format!("{:.1} kg", w.weight_kg),
        EntryData::Circumference(c) => c
            .sites()
            .iter()
            .filter_map(|(site, cm)| cm.map(|cm| format!("{site} {cm:.1} cm")))
            .collect::<Vec<_>>()
            .join(", "),
        EntryData::Caliper(c) => format!(
            "body fat {:.1} % ({}, {}, age {})",
            c.body_fat_pct,
            c.method.as_str(),
            c.sex.as_str(),
            c.age
        ),
        EntryData::Nutrition(n) => format!(
            "{:.0} kcal, protein {:.0} g, carbs {:.0} g, fat {:.0} g",
            n.kcal, n.protein_g, n.carbs_g, n.fat_g
        ),
        EntryData::Activity(a) => match a.kcal {
            Some(kcal) => format!("{} {} min, {kcal:.0} kcal", a.kind, a.minutes),
            None => format!("{} {} min", a.kind, a.minutes),
        },
    };
    match entry.note.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(note) => format!("{} {values} (note: {})", entry.date, note.trim()),
        None => format!("{} {values}", entry.date),
    }
}
