//! The JSON shapes of the tracked data: for each entry type its body (create, and what a
//! PATCH merges into) and its view, tied together by [`EntryType`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use mitai_access::caliper::Caliper;
use mitai_access::entries::{Activity, Circumference, Nutrition, Weight};
use mitai_access::{EntryData, EntryKind, FieldErrors};
use mitai_store::Entry;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One entry type of the API: its body, its view and how they map to the stored data.
pub trait EntryType: Send + Sync + 'static {
    const KIND: EntryKind;
    /// The body of a create; a PATCH is merged into the stored entry's body.
    type Input: DeserializeOwned + Serialize + Send + Sync;
    type View: Serialize + ToSchema + Send;

    /// The date (`YYYY-MM-DD`, unchecked) and note of a body.
    fn common(input: &Self::Input) -> (&str, Option<&str>);
    /// The data of a body, before its ranges are checked; errors name the fields.
    fn data(input: &Self::Input) -> Result<EntryData, FieldErrors>;
    /// The body that would create this entry.
    fn input_of(entry: &Entry) -> Self::Input;
    fn view(entry: &Entry) -> Self::View;
}

/// `{"entry": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryEnvelope<T: ToSchema> {
    pub entry: T,
}

fn date_of(entry: &Entry) -> String {
    entry.date.format("%Y-%m-%d").to_string()
}

/// Parts every entry type shares, in every view.
macro_rules! view_common {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Serialize, ToSchema)]
        pub struct $name {
            pub id: Uuid,
            /// The calendar day of the entry.
            #[schema(value_type = String, format = Date, example = "2025-03-14")]
            pub date: NaiveDate,
            $($(#[$fmeta])* pub $field: $ty,)*
            pub note: Option<String>,
            pub created_at: DateTime<Utc>,
            pub updated_at: DateTime<Utc>,
        }
    };
}

// --- weight -------------------------------------------------------------------------------

pub struct WeightType;

/// A body weight: `{date, weight_kg, note?}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightInput {
    /// `YYYY-MM-DD`, from 1900-01-01 to tomorrow.
    #[schema(example = "2025-03-14")]
    pub date: String,
    /// 20–500.
    #[schema(example = 80.5)]
    pub weight_kg: f64,
    /// At most 1000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

view_common!(
    /// A weight entry.
    WeightView { pub weight_kg: f64, }
);

impl EntryType for WeightType {
    const KIND: EntryKind = EntryKind::Weight;
    type Input = WeightInput;
    type View = WeightView;

    fn common(i: &WeightInput) -> (&str, Option<&str>) {
        (&i.date, i.note.as_deref())
    }

    fn data(i: &WeightInput) -> Result<EntryData, FieldErrors> {
        Ok(EntryData::Weight(Weight {
            weight_kg: i.weight_kg,
        }))
    }

    fn input_of(e: &Entry) -> WeightInput {
        let EntryData::Weight(w) = &e.data else {
            unreachable!("a weight entry")
        };
        WeightInput {
            date: date_of(e),
            weight_kg: w.weight_kg,
            note: e.note.clone(),
        }
    }

    fn view(e: &Entry) -> WeightView {
        let i = Self::input_of(e);
        WeightView {
            id: e.id,
            date: e.date,
            weight_kg: i.weight_kg,
            note: i.note,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

// --- circumference ------------------------------------------------------------------------

pub struct CircumferenceType;

/// Body circumferences in cm (5–300 each), at least one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CircumferenceInput {
    #[schema(example = "2025-03-14")]
    pub date: String,
    #[serde(default)]
    pub neck: Option<f64>,
    #[serde(default)]
    pub chest: Option<f64>,
    #[serde(default)]
    #[schema(example = 82.5)]
    pub waist: Option<f64>,
    #[serde(default)]
    pub hip: Option<f64>,
    #[serde(default)]
    pub thigh: Option<f64>,
    #[serde(default)]
    pub arm: Option<f64>,
    #[serde(default)]
    pub calf: Option<f64>,
    #[serde(default)]
    pub note: Option<String>,
}

view_common!(
    /// A circumference entry (cm; `null` where not measured).
    CircumferenceView {
        pub neck: Option<f64>,
        pub chest: Option<f64>,
        pub waist: Option<f64>,
        pub hip: Option<f64>,
        pub thigh: Option<f64>,
        pub arm: Option<f64>,
        pub calf: Option<f64>,
    }
);

impl EntryType for CircumferenceType {
    const KIND: EntryKind = EntryKind::Circumference;
    type Input = CircumferenceInput;
    type View = CircumferenceView;

    fn common(i: &CircumferenceInput) -> (&str, Option<&str>) {
        (&i.date, i.note.as_deref())
    }

    fn data(i: &CircumferenceInput) -> Result<EntryData, FieldErrors> {
        Ok(EntryData::Circumference(Circumference {
            neck_cm: i.neck,
            chest_cm: i.chest,
            waist_cm: i.waist,
            hip_cm: i.hip,
            thigh_cm: i.thigh,
            arm_cm: i.arm,
            calf_cm: i.calf,
        }))
    }

    fn input_of(e: &Entry) -> CircumferenceInput {
        let EntryData::Circumference(c) = &e.data else {
            unreachable!("a circumference entry")
        };
        CircumferenceInput {
            date: date_of(e),
            neck: c.neck_cm,
            chest: c.chest_cm,
            waist: c.waist_cm,
            hip: c.hip_cm,
            thigh: c.thigh_cm,
            arm: c.arm_cm,
            calf: c.calf_cm,
            note: e.note.clone(),
        }
    }

    fn view(e: &Entry) -> CircumferenceView {
        let i = Self::input_of(e);
        CircumferenceView {
            id: e.id,
            date: e.date,
            neck: i.neck,
            chest: i.chest,
            waist: i.waist,
            hip: i.hip,
            thigh: i.thigh,
            arm: i.arm,
            calf: i.calf,
            note: i.note,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

// --- caliper ------------------------------------------------------------------------------

pub struct CaliperType;

/// Skinfolds in mm (1–100) at exactly the method's sites — jp3 male: chest, abdomen,
/// thigh; jp3 female: triceps, suprailiac, thigh; jp7: chest, midaxillary, triceps,
/// subscapular, abdomen, suprailiac, thigh.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaliperInput {
    #[schema(example = "2025-03-14")]
    pub date: String,
    /// `jp3` or `jp7`.
    #[schema(example = "jp3")]
    pub method: String,
    /// `male` or `female`.
    #[schema(example = "male")]
    pub sex: String,
    /// Years, 10–120.
    #[schema(example = 30)]
    pub age: i64,
    /// Site → mm.
    #[schema(example = json!({"chest": 10.0, "abdomen": 20.0, "thigh": 15.0}))]
    pub sites: BTreeMap<String, f64>,
    #[serde(default)]
    pub note: Option<String>,
}

view_common!(
    /// A skinfold measurement with its Jackson–Pollock density and Siri body fat.
    CaliperView {
        /// `jp3` or `jp7`.
        pub method: String,
        /// `male` or `female`.
        pub sex: String,
        pub age: i64,
        /// Site → mm.
        pub sites: BTreeMap<String, f64>,
        /// Jackson–Pollock body density, g/cm³ (5 decimals).
        pub body_density: f64,
        /// Siri: 495 / density − 450 (2 decimals).
        pub body_fat_pct: f64,
    }
);

impl EntryType for CaliperType {
    const KIND: EntryKind = EntryKind::Caliper;
    type Input = CaliperInput;
    type View = CaliperView;

    fn common(i: &CaliperInput) -> (&str, Option<&str>) {
        (&i.date, i.note.as_deref())
    }

    fn data(i: &CaliperInput) -> Result<EntryData, FieldErrors> {
        Caliper::measure(&i.method, &i.sex, i.age, &i.sites).map(EntryData::Caliper)
    }

    fn input_of(e: &Entry) -> CaliperInput {
        let EntryData::Caliper(c) = &e.data else {
            unreachable!("a caliper entry")
        };
        CaliperInput {
            date: date_of(e),
            method: c.method.as_str().to_owned(),
            sex: c.sex.as_str().to_owned(),
            age: c.age,
            sites: c
                .sites
                .iter()
                .map(|(site, mm)| (site.as_str().to_owned(), *mm))
                .collect(),
            note: e.note.clone(),
        }
    }

    fn view(e: &Entry) -> CaliperView {
        let EntryData::Caliper(c) = &e.data else {
            unreachable!("a caliper entry")
        };
        let i = Self::input_of(e);
        CaliperView {
            id: e.id,
            date: e.date,
            method: i.method,
            sex: i.sex,
            age: i.age,
            sites: i.sites,
            body_density: c.body_density,
            body_fat_pct: c.body_fat_pct,
            note: i.note,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

// --- nutrition ----------------------------------------------------------------------------

pub struct NutritionType;

/// What was eaten on a day: kcal 0–20000, macros 0–2000 g each.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NutritionInput {
    #[schema(example = "2025-03-14")]
    pub date: String,
    #[schema(example = 2150)]
    pub kcal: f64,
    pub protein_g: f64,
    pub carbs_g: f64,
    pub fat_g: f64,
    #[serde(default)]
    pub note: Option<String>,
}

view_common!(
    /// A nutrition entry.
    NutritionView {
        pub kcal: f64,
        pub protein_g: f64,
        pub carbs_g: f64,
        pub fat_g: f64,
    }
);

impl EntryType for NutritionType {
    const KIND: EntryKind = EntryKind::Nutrition;
    type Input = NutritionInput;
    type View = NutritionView;

    fn common(i: &NutritionInput) -> (&str, Option<&str>) {
        (&i.date, i.note.as_deref())
    }

    fn data(i: &NutritionInput) -> Result<EntryData, FieldErrors> {
        Ok(EntryData::Nutrition(Nutrition {
            kcal: i.kcal,
            protein_g: i.protein_g,
            carbs_g: i.carbs_g,
            fat_g: i.fat_g,
        }))
    }

    fn input_of(e: &Entry) -> NutritionInput {
        let EntryData::Nutrition(n) = &e.data else {
            unreachable!("a nutrition entry")
        };
        NutritionInput {
            date: date_of(e),
            kcal: n.kcal,
            protein_g: n.protein_g,
            carbs_g: n.carbs_g,
            fat_g: n.fat_g,
            note: e.note.clone(),
        }
    }

    fn view(e: &Entry) -> NutritionView {
        let i = Self::input_of(e);
        NutritionView {
            id: e.id,
            date: e.date,
            kcal: i.kcal,
            protein_g: i.protein_g,
            carbs_g: i.carbs_g,
            fat_g: i.fat_g,
            note: i.note,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

// --- activity -----------------------------------------------------------------------------

pub struct ActivityType;

/// A workout or other activity: kind (1–100 characters), minutes 1–1440, kcal 0–20000.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    #[schema(example = "2025-03-14")]
    pub date: String,
    #[schema(example = "running")]
    pub kind: String,
    #[schema(example = 45)]
    pub minutes: i64,
    #[serde(default)]
    pub kcal: Option<f64>,
    #[serde(default)]
    pub note: Option<String>,
}

view_common!(
    /// An activity entry.
    ActivityView {
        pub kind: String,
        pub minutes: i64,
        pub kcal: Option<f64>,
    }
);

impl EntryType for ActivityType {
    const KIND: EntryKind = EntryKind::Activity;
    type Input = ActivityInput;
    type View = ActivityView;

    fn common(i: &ActivityInput) -> (&str, Option<&str>) {
        (&i.date, i.note.as_deref())
    }

    fn data(i: &ActivityInput) -> Result<EntryData, FieldErrors> {
        Ok(EntryData::Activity(Activity {
            kind: i.kind.trim().to_owned(),
            minutes: i.minutes,
            kcal: i.kcal,
        }))
    }

    fn input_of(e: &Entry) -> ActivityInput {
        let EntryData::Activity(a) = &e.data else {
            unreachable!("an activity entry")
        };
        ActivityInput {
            date: date_of(e),
            kind: a.kind.clone(),
            minutes: a.minutes,
            kcal: a.kcal,
            note: e.note.clone(),
        }
    }

    fn view(e: &Entry) -> ActivityView {
        let i = Self::input_of(e);
        ActivityView {
            id: e.id,
            date: e.date,
            kind: i.kind,
            minutes: i.minutes,
            kcal: i.kcal,
            note: i.note,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// The view of any entry as JSON (exports walk the types at run time).
pub fn view_json(entry: &Entry) -> serde_json::Value {
    fn json<T: EntryType>(e: &Entry) -> serde_json::Value {
        serde_json::to_value(T::view(e)).unwrap_or(serde_json::Value::Null)
    }
    match entry.kind() {
        EntryKind::Weight => json::<WeightType>(entry),
        EntryKind::Circumference => json::<CircumferenceType>(entry),
        EntryKind::Caliper => json::<CaliperType>(entry),
        EntryKind::Nutrition => json::<NutritionType>(entry),
        EntryKind::Activity => json::<ActivityType>(entry),
    }
}
