//! Tracked data behind the feature gate: weight, circumference, caliper, nutrition and
//! activity entries.
//!
//! Each type has its own table (`<type>_entries`) with typed columns and the common
//! `id, profile_id, entry_date, note, revision, created_at, updated_at`. Calendar dates are
//! `DATE` on PostgreSQL and `YYYY-MM-DD` text on SQLite (both bound as `NaiveDate`, and both
//! sort as dates). Creating an entry spends one unit of its feature in the same transaction
//! ([`DataStore::create_entry`]); every other method is scoped to one profile, so an entry
//! of another profile is "not found".

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use mitai_access::caliper::{Caliper, Method, Sex, Site};
use mitai_access::entries::{Activity, Circumference, Nutrition, Weight};
pub use mitai_access::{EntryData, EntryKind};
use uuid::Uuid;

use crate::media::GatedCreate;
use crate::{ConsumeRequest, Result, StoredResponse};

/// All of a profile's weigh-ins at a glance ([`DataStore::weight_overview`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightOverview {
    pub first_date: NaiveDate,
    /// The mean of the first day's weigh-ins.
    pub first_kg: f64,
    pub lowest_kg: f64,
    pub highest_kg: f64,
    pub count: i64,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub date: NaiveDate,
    pub note: Option<String>,
    pub data: EntryData,
    /// 1 when created, +1 on every update (optimistic concurrency for updates).
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Entry {
    pub fn kind(&self) -> EntryKind {
        self.data.kind()
    }
}

/// What creating an entry needs; the type is the data's.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// UUIDv7.
    pub id: Uuid,
    pub profile_id: Uuid,
    pub date: NaiveDate,
    pub note: Option<String>,
    pub data: EntryData,
    pub created_at: DateTime<Utc>,
}

/// A created entry and the usage of its feature's bucket after the spend.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedEntry {
    pub entry: Entry,
    pub used: i64,
}

/// A replacement of an entry's date, note and data (the type stays).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryChange {
    pub profile_id: Uuid,
    pub id: Uuid,
    /// Only change the entry if it is still at this revision (`None`: whatever it is).
    pub expected_revision: Option<i64>,
    pub date: NaiveDate,
    pub note: Option<String>,
    pub data: EntryData,
    pub now: DateTime<Utc>,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryUpdate {
    Updated(Box<Entry>),
    /// The profile has no such entry of this type.
    NotFound,
    /// The entry changed since `expected_revision`; nothing was written.
    Stale,
}

/// Which way a list runs: by date, then id (UUIDv7, so creation order within a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// Where a page ends: the list goes on strictly after this (date, id) in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryCursor {
    pub date: NaiveDate,
    pub id: Uuid,
}

impl EntryCursor {
    pub fn of(entry: &Entry) -> EntryCursor {
        EntryCursor {
            date: entry.date,
            id: entry.id,
        }
    }
}

/// Which entries of one profile and type to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryQuery {
    /// Entries dated on or after this day.
    pub from: Option<NaiveDate>,
    /// Entries dated on or before this day.
    pub to: Option<NaiveDate>,
    pub after: Option<EntryCursor>,
    pub limit: i64,
    pub order: EntryOrder,
}

/// Tracked data behind the feature gate.
#[async_trait]
pub trait DataStore: Send + Sync {
    /// Creates an entry and spends `spend` (one unit of the entry's feature), in one
    /// transaction: the idempotency key (if any) is claimed first — a replay returns the
    /// stored answer and writes nothing; then the spend, which writes nothing and returns
    /// [`GatedCreate::LimitReached`] when it would pass the cap (the key is released too, so
    /// a retry is decided afresh); then the insert and, with a key, `respond`'s answer.
    /// `MissingReference("profile")` for an unknown profile.
    async fn create_entry(
        &self,
        entry: &NewEntry,
        spend: &ConsumeRequest<'_>,
        respond: &(dyn for<'e> Fn(&'e Entry) -> StoredResponse + Send + Sync),
    ) -> Result<GatedCreate<CreatedEntry>>;

    /// Creates several entries of one profile and spends `spend` (one unit per entry,
    /// `spend.amount == entries.len()`) in one transaction: all are written, or — over
    /// the cap — none ([`GatedCreate::LimitReached`]). No idempotency key (an import is
    /// one request; a resent file is a new one). Answers the entries and the bucket's
    /// usage after the spend. `MissingReference("profile")` for an unknown profile.
    async fn create_entries(
        &self,
        entries: &[NewEntry],
        spend: &ConsumeRequest<'_>,
    ) -> Result<GatedCreate<(Vec<Entry>, i64)>>;

    /// The profile's entry of this type; `None` if it has none with this id.
    async fn entry(&self, profile_id: Uuid, kind: EntryKind, id: Uuid) -> Result<Option<Entry>>;

    /// What all of a profile's weigh-ins add up to, in one row: the first day and the mean
    /// of its weigh-ins, the lowest and the highest weight, how many. `None` without any.
    async fn weight_overview(&self, profile_id: Uuid) -> Result<Option<WeightOverview>>;

    /// A page of the profile's entries of one type.
    async fn list_entries(
        &self,
        profile_id: Uuid,
        kind: EntryKind,
        query: &EntryQuery,
    ) -> Result<Vec<Entry>>;

    /// Replaces an entry's date, note and data (of the same type) and raises its revision.
    async fn update_entry(&self, change: &EntryChange) -> Result<EntryUpdate>;

    /// `false` if the profile has no such entry of this type. Spent usage stays spent.
    async fn delete_entry(&self, profile_id: Uuid, kind: EntryKind, id: Uuid) -> Result<bool>;
}

// --- the columns of each type (used by both backends) -------------------------------------

/// How a data column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Real,
    Int,
    Text,
}

/// A data column's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Real(Option<f64>),
    Int(Option<i64>),
    Text(Option<String>),
}

pub(crate) fn table(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Weight => "weight_entries",
        EntryKind::Circumference => "circumference_entries",
        EntryKind::Caliper => "caliper_entries",
        EntryKind::Nutrition => "nutrition_entries",
        EntryKind::Activity => "activity_entries",
    }
}

const CALIPER_SITE_COLUMNS: [(Site, &str); 7] = [
    (Site::Chest, "chest_mm"),
    (Site::Midaxillary, "midaxillary_mm"),
    (Site::Triceps, "triceps_mm"),
    (Site::Subscapular, "subscapular_mm"),
    (Site::Abdomen, "abdomen_mm"),
    (Site::Suprailiac, "suprailiac_mm"),
    (Site::Thigh, "thigh_mm"),
];

/// The data columns of a type, in the order of [`values`].
pub(crate) fn columns(kind: EntryKind) -> &'static [(&'static str, Ty)] {
    use Ty::*;
    match kind {
        EntryKind::Weight => &[("weight_kg", Real)],
        EntryKind::Circumference => &[
            ("neck_cm", Real),
            ("chest_cm", Real),
            ("waist_cm", Real),
            ("hip_cm", Real),
            ("thigh_cm", Real),
            ("arm_cm", Real),
            ("calf_cm", Real),
        ],
        EntryKind::Caliper => &[
            ("method", Text),
            ("sex", Text),
            ("age", Int),
            ("chest_mm", Real),
            ("midaxillary_mm", Real),
            ("triceps_mm", Real),
            ("subscapular_mm", Real),
            ("abdomen_mm", Real),
            ("suprailiac_mm", Real),
            ("thigh_mm", Real),
            ("body_density", Real),
            ("body_fat_pct", Real),
        ],
        EntryKind::Nutrition => &[
            ("kcal", Real),
            ("protein_g", Real),
            ("carbs_g", Real),
            ("fat_g", Real),
        ],
        EntryKind::Activity => &[("kind", Text), ("minutes", Int), ("kcal", Real)],
    }
}

/// The data column values of an entry, in the order of [`columns`].
pub(crate) fn values(data: &EntryData) -> Vec<Val> {
    use Val::*;
    match data {
        EntryData::Weight(w) => vec![Real(Some(w.weight_kg))],
        EntryData::Circumference(c) => c.sites().iter().map(|(_, v)| Real(*v)).collect(),
        EntryData::Caliper(c) => {
            let mut v = vec![
                Text(Some(c.method.as_str().to_owned())),
                Text(Some(c.sex.as_str().to_owned())),
                Int(Some(c.age)),
            ];
            v.extend(
                CALIPER_SITE_COLUMNS
                    .iter()
                    .map(|(site, _)| Real(c.sites.get(site).copied())),
            );
            v.push(Real(Some(c.body_density)));
            v.push(Real(Some(c.body_fat_pct)));
            v
        }
        EntryData::Nutrition(n) => vec![
            Real(Some(n.kcal)),
            Real(Some(n.protein_g)),
            Real(Some(n.carbs_g)),
            Real(Some(n.fat_g)),
        ],
        EntryData::Activity(a) => vec![
            Text(Some(a.kind.clone())),
            Int(Some(a.minutes)),
            Real(a.kcal),
        ],
    }
}

/// The entry data from its column values (in the order of [`columns`]).
pub(crate) fn data_from(kind: EntryKind, values: Vec<Val>) -> Result<EntryData, String> {
    let mut it = values.into_iter();
    let mut real = || match it.next() {
        Some(Val::Real(v)) => Ok(v),
        other => Err(format!("{kind:?}: expected a number, found {other:?}")),
    };
    let required = |v: Option<f64>| v.ok_or_else(|| format!("{kind:?}: missing value"));
    Ok(match kind {
        EntryKind::Weight => EntryData::Weight(Weight {
            weight_kg: required(real()?)?,
        }),
        EntryKind::Circumference => EntryData::Circumference(Circumference {
            neck_cm: real()?,
            chest_cm: real()?,
            waist_cm: real()?,
            hip_cm: real()?,
            thigh_cm: real()?,
            arm_cm: real()?,
            calf_cm: real()?,
        }),
        EntryKind::Nutrition => EntryData::Nutrition(Nutrition {
            kcal: required(real()?)?,
            protein_g: required(real()?)?,
            carbs_g: required(real()?)?,
            fat_g: required(real()?)?,
        }),
        EntryKind::Caliper | EntryKind::Activity => return data_with_text(kind, it.collect()),
    })
}

fn data_with_text(kind: EntryKind, values: Vec<Val>) -> Result<EntryData, String> {
    let bad = || format!("{kind:?}: malformed columns");
    let text = |v: &Val| match v {
        Val::Text(Some(s)) => Ok(s.clone()),
        _ => Err(bad()),
    };
    let int = |v: &Val| match v {
        Val::Int(Some(n)) => Ok(*n),
        _ => Err(bad()),
    };
    let real = |v: &Val| match v {
        Val::Real(x) => Ok(*x),
        _ => Err(bad()),
    };
    if kind == EntryKind::Activity {
        let [kind_, minutes, kcal] = values.as_slice() else {
            return Err(bad());
        };
        return Ok(EntryData::Activity(Activity {
            kind: text(kind_)?,
            minutes: int(minutes)?,
            kcal: real(kcal)?,
        }));
    }
    let [method, sex, age, rest @ ..] = values.as_slice() else {
        return Err(bad());
    };
    let [sites @ .., density, fat] = rest else {
        return Err(bad());
    };
    if sites.len() != CALIPER_SITE_COLUMNS.len() {
        return Err(bad());
    }
    let mut measured = std::collections::BTreeMap::new();
    for ((site, _), v) in CALIPER_SITE_COLUMNS.iter().zip(sites) {
        if let Some(mm) = real(v)? {
            measured.insert(*site, mm);
        }
    }
    Ok(EntryData::Caliper(Caliper {
        method: Method::parse(&text(method)?).ok_or_else(bad)?,
        sex: Sex::parse(&text(sex)?).ok_or_else(bad)?,
        age: int(age)?,
        sites: measured,
        body_density: real(density)?.ok_or_else(bad)?,
        body_fat_pct: real(fat)?.ok_or_else(bad)?,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn values_and_columns_agree_and_round_trip() {
        let caliper = Caliper::measure(
            "jp3",
            "female",
            28,
            &BTreeMap::from([
                ("triceps".to_owned(), 18.0),
                ("suprailiac".to_owned(), 12.0),
                ("thigh".to_owned(), 25.0),
            ]),
        )
        .unwrap();
        let samples = [
            EntryData::Weight(Weight { weight_kg: 80.5 }),
            EntryData::Circumference(Circumference {
                waist_cm: Some(82.0),
                calf_cm: Some(38.5),
                ..Default::default()
            }),
            EntryData::Caliper(caliper),
            EntryData::Nutrition(Nutrition {
                kcal: 2100.0,
                protein_g: 120.0,
                carbs_g: 200.5,
                fat_g: 70.0,
            }),
            EntryData::Activity(Activity {
                kind: "running".into(),
                minutes: 45,
                kcal: None,
            }),
        ];
        for data in samples {
            let kind = data.kind();
            let vals = values(&data);
            assert_eq!(vals.len(), columns(kind).len(), "{kind:?}");
            for (v, (name, ty)) in vals.iter().zip(columns(kind)) {
                let matches = matches!(
                    (v, ty),
                    (Val::Real(_), Ty::Real) | (Val::Int(_), Ty::Int) | (Val::Text(_), Ty::Text)
                );
                assert!(matches, "{kind:?}.{name}");
            }
            assert_eq!(data_from(kind, vals).unwrap(), data);
        }
    }
}
