//! The tracked data behind the feature gate (DESIGN §9): what an entry of each type holds
//! and which values are plausible. Each entry type is the registry feature of the same name.
//!
//! Plausible ranges (inclusive):
//!
//! | field | range |
//! |---|---|
//! | `date` (every type) | 1900-01-01 to tomorrow (UTC), so that every time zone can enter its today |
//! | `note` (every type) | at most 1000 characters; blank means none |
//! | weight `weight_kg` | 20–500 |
//! | circumference `*_cm` (at least one of neck, chest, waist, hip, thigh, arm, calf) | 5–300 |
//! | caliper `age`, sites | 10–120 years, 1–100 mm (see [`crate::caliper`]) |
//! | nutrition `kcal` | 0–20000; `protein_g`, `carbs_g`, `fat_g` 0–2000 |
//! | activity `kind` | 1–100 characters; `minutes` 1–1440; `kcal` 0–20000 |

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use crate::text::{ActivityKind, Note, TextError};

pub use crate::caliper::Caliper;

/// Why each named field is invalid (field → reason), for a 422 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, why: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| why.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every error of `other`.
    pub fn merge(&mut self, other: FieldErrors) {
        for (field, why) in other.0 {
            self.0.entry(field).or_insert(why);
        }
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

/// The five entry types; each is also the id of the feature its creation spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    Weight,
    Circumference,
    Caliper,
    Nutrition,
    Activity,
}

impl EntryKind {
    pub const ALL: [EntryKind; 5] = [
        EntryKind::Weight,
        EntryKind::Circumference,
        EntryKind::Caliper,
        EntryKind::Nutrition,
        EntryKind::Activity,
    ];

    /// The type's name: its path (`/api/<name>`) and the id of its feature.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Weight => "weight",
            EntryKind::Circumference => "circumference",
            EntryKind::Caliper => "caliper",
            EntryKind::Nutrition => "nutrition",
            EntryKind::Activity => "activity",
        }
    }

    pub fn feature_id(self) -> &'static str {
        self.as_str()
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    pub weight_kg: f64,
}

/// Body circumferences in cm; at least one is measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Circumference {
    pub neck_cm: Option<f64>,
    pub chest_cm: Option<f64>,
    pub waist_cm: Option<f64>,
    pub hip_cm: Option<f64>,
    pub thigh_cm: Option<f64>,
    pub arm_cm: Option<f64>,
    pub calf_cm: Option<f64>,
}

impl Circumference {
    /// The sites with their names as fields are named in the API (`neck`, `chest`, …).
    pub fn sites(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("neck", self.neck_cm),
            ("chest", self.chest_cm),
            ("waist", self.waist_cm),
            ("hip", self.hip_cm),
            ("thigh", self.thigh_cm),
            ("arm", self.arm_cm),
            ("calf", self.calf_cm),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Nutrition {
    pub kcal: f64,
    pub protein_g: f64,
    pub carbs_g: f64,
    pub fat_g: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// What was done (`running`, `yoga`, …), free text, trimmed.
    pub kind: String,
    pub minutes: i64,
    pub kcal: Option<f64>,
}

/// What an entry holds besides its date and note.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryData {
    Weight(Weight),
    Circumference(Circumference),
    Caliper(Caliper),
    Nutrition(Nutrition),
    Activity(Activity),
}

impl EntryData {
    pub fn kind(&self) -> EntryKind {
        match self {
            EntryData::Weight(_) => EntryKind::Weight,
            EntryData::Circumference(_) => EntryKind::Circumference,
            EntryData::Caliper(_) => EntryKind::Caliper,
            EntryData::Nutrition(_) => EntryKind::Nutrition,
            EntryData::Activity(_) => EntryKind::Activity,
        }
    }

    /// Checks every value against its plausible range; errors name the fields.
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        match self {
            EntryData::Weight(w) => range(&mut e, "weight_kg", w.weight_kg, 20.0, 500.0, "kg"),
            EntryData::Circumference(c) => {
                let mut any = false;
                for (name, value) in c.sites() {
                    if let Some(cm) = value {
                        any = true;
                        range(&mut e, name, cm, 5.0, 300.0, "cm");
                    }
                }
                if !any {
                    e.add(
                        "body",
                        "measure at least one of neck, chest, waist, hip, thigh, arm, calf",
                    );
                }
            }
            // A caliper entry is only made by `Caliper::measure`, which checks it.
            EntryData::Caliper(_) => {}
            EntryData::Nutrition(n) => {
                range(&mut e, "kcal", n.kcal, 0.0, 20000.0, "kcal");
                range(&mut e, "protein_g", n.protein_g, 0.0, 2000.0, "g");
                range(&mut e, "carbs_g", n.carbs_g, 0.0, 2000.0, "g");
                range(&mut e, "fat_g", n.fat_g, 0.0, 2000.0, "g");
            }
            EntryData::Activity(a) => {
                match ActivityKind::parse(&a.kind) {
                    Ok(kind) if kind.as_str() == a.kind => {}
                    Ok(_) | Err(TextError::Missing | TextError::TooLong { .. }) => {
                        e.add("kind", "must be 1 to 100 characters (trimmed)");
                    }
                    Err(why) => e.add("kind", why.to_string()),
                }
                if !(1..=1440).contains(&a.minutes) {
                    e.add("minutes", "must be from 1 to 1440");
                }
                if let Some(kcal) = a.kcal {
                    range(&mut e, "kcal", kcal, 0.0, 20000.0, "kcal");
                }
            }
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

fn range(e: &mut FieldErrors, field: &str, value: f64, min: f64, max: f64, unit: &str) {
    if !(value.is_finite() && (min..=max).contains(&value)) {
        e.add(field, format!("must be from {min} to {max} {unit}"));
    }
}

/// The earliest date an entry may have.
pub const FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("1900-01-01 is a date"),
};

/// Checks an entry's date: from 1900-01-01 to the day after `today` (UTC), so that a
/// profile east of UTC can enter its own today.
pub fn check_date(errors: &mut FieldErrors, date: NaiveDate, today: NaiveDate) {
    let latest = today.checked_add_days(Days::new(1)).unwrap_or(today);
    if date < FIRST_DATE || date > latest {
        errors.add("date", format!("must be from {FIRST_DATE} to {latest}"));
    }
}

/// A note as stored: a [`Note`] (trimmed, at most 1000 characters, no control characters
/// but line breaks and tabs), blank → none. Refused → an error on `note`.
pub fn clean_note(errors: &mut FieldErrors, note: Option<&str>) -> Option<String> {
    match Note::parse_optional(note.unwrap_or("")) {
        Ok(note) => note.map(String::from),
        Err(why) => {
            errors.add("note", why.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn dates_from_1900_to_tomorrow() {
        let today = day("2025-03-14");
        for (date, ok) in [
            ("1899-12-31", false),
            ("1900-01-01", true),
            ("2025-03-14", true),
            ("2025-03-15", true),
            ("2025-03-16", false),
        ] {
            let mut e = FieldErrors::default();
            check_date(&mut e, day(date), today);
            assert_eq!(e.is_empty(), ok, "{date}");
            if !ok {
                assert!(e.get("date").is_some());
            }
        }
    }

    #[test]
    fn weight_range() {
        for (kg, ok) in [
            (19.9, false),
            (20.0, true),
            (80.5, true),
            (500.0, true),
            (500.1, false),
        ] {
            let r = EntryData::Weight(Weight { weight_kg: kg }).check();
            assert_eq!(r.is_ok(), ok, "{kg}");
            if let Err(e) = r {
                assert!(e.get("weight_kg").is_some());
            }
        }
        let nan = EntryData::Weight(Weight {
            weight_kg: f64::NAN,
        })
        .check();
        assert!(nan.is_err());
    }

    #[test]
    fn circumference_needs_one_site_in_range() {
        let none = EntryData::Circumference(Circumference::default()).check();
        assert!(none.unwrap_err().get("body").is_some());
        let waist = Circumference {
            waist_cm: Some(82.0),
            ..Default::default()
        };
        assert!(EntryData::Circumference(waist).check().is_ok());
        let bad = Circumference {
            neck_cm: Some(2.0),
            calf_cm: Some(301.0),
            hip_cm: Some(100.0),
            ..Default::default()
        };
        let e = EntryData::Circumference(bad).check().unwrap_err();
        assert!(e.get("neck").is_some() && e.get("calf").is_some() && e.get("hip").is_none());
    }

    #[test]
    fn nutrition_and_activity_ranges() {
        let n = Nutrition {
            kcal: 2200.0,
            protein_g: 120.0,
            carbs_g: 250.0,
            fat_g: 70.0,
        };
        assert!(EntryData::Nutrition(n.clone()).check().is_ok());
        let e = EntryData::Nutrition(Nutrition {
            kcal: -1.0,
            fat_g: 2001.0,
            ..n
        })
        .check()
        .unwrap_err();
        assert!(e.get("kcal").is_some() && e.get("fat_g").is_some() && e.get("carbs_g").is_none());

        let a = Activity {
            kind: "running".into(),
            minutes: 45,
            kcal: Some(500.0),
        };
        assert!(EntryData::Activity(a.clone()).check().is_ok());
        let e = EntryData::Activity(Activity {
            kind: " ".into(),
            minutes: 0,
            kcal: Some(20001.0),
        })
        .check()
        .unwrap_err();
        assert!(e.get("kind").is_some() && e.get("minutes").is_some() && e.get("kcal").is_some());
        let long = EntryData::Activity(Activity { minutes: 1441, ..a });
        assert!(long.check().unwrap_err().get("minutes").is_some());
    }

    #[test]
    fn notes_are_trimmed_and_limited() {
        let mut e = FieldErrors::default();
        assert_eq!(clean_note(&mut e, Some("  ")), None);
        assert_eq!(clean_note(&mut e, Some(" ok ")), Some("ok".into()));
        assert!(e.is_empty());
        clean_note(&mut e, Some(&"x".repeat(1001)));
        assert!(e.get("note").is_some());
    }

    #[test]
    fn kinds_are_features() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.feature_id(), kind.as_str());
        }
        assert_eq!(EntryKind::parse("photos"), None);
    }
}
