//! A person's own facts, which the tracking pages use: height (for the BMI), birth date and
//! sex (to prefill the caliper form), time zone, the units they enter and read in, and a
//! goal weight. Stored metric; each kind refuses what cannot be true.
//!
//! | fact | allowed |
//! |---|---|
//! | height | 50–272 cm |
//! | birth date | 1900-01-01 to 10 years before today |
//! | sex | `male`, `female` |
//! | time zone | an IANA name (`Europe/Berlin`) |
//! | units | `metric` (kg, cm) or `imperial` (lb, in) |
//! | goal weight | 20–500 kg |
//! | daily targets | 500–10,000 kcal; protein, carbs, fat 0–1,000 g |
//! | weigh-in reminder | weekdays (`mon` … `sun`) and a local time `HH:MM` |

use std::fmt;

use chrono::{Months, NaiveDate};
use chrono_tz::Tz;

/// Kilograms in a pound (exactly, by definition).
pub const KG_PER_LB: f64 = 0.453_592_37;
/// Centimetres in an inch (exactly, by definition).
pub const CM_PER_IN: f64 = 2.54;

/// Why a fact was refused; the words are the API's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn within(value: f64, min: f64, max: f64, unit: &str) -> Result<f64, Refused> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Refused(format!("must be from {min} to {max} {unit}")))
    }
}

/// A height in centimetres, 50–272.
pub fn height_cm(value: f64) -> Result<f64, Refused> {
    within(value, 50.0, 272.0, "cm")
}

/// A goal weight in kilograms, 20–500 (the plausible range of a weight entry).
pub fn goal_weight_kg(value: f64) -> Result<f64, Refused> {
    within(value, 20.0, 500.0, "kg")
}

/// A daily energy target, 500–10,000 kcal.
pub fn kcal_target(value: f64) -> Result<f64, Refused> {
    within(value, 500.0, 10_000.0, "kcal")
}

/// A daily target of one macronutrient, 0–1,000 g.
pub fn grams_target(value: f64) -> Result<f64, Refused> {
    within(value, 0.0, 1_000.0, "g")
}

/// The weekdays' names, Monday first: the bit of day `i` is `1 << i`.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Weekday names (`mon` … `sun`, any case, each once or more) as the reminder's bits.
pub fn weekdays(names: &[String]) -> Result<i32, Refused> {
    names.iter().try_fold(0, |bits, name| {
        let name = name.trim().to_ascii_lowercase();
        WEEKDAYS
            .iter()
            .position(|d| *d == name)
            .map(|i| bits | (1 << i))
            .ok_or_else(|| Refused("must be weekdays: mon, tue, wed, thu, fri, sat, sun".into()))
    })
}

/// The weekday names of reminder bits, Monday first.
pub fn weekday_names(bits: i32) -> Vec<&'static str> {
    WEEKDAYS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, d)| *d)
        .collect()
}

/// A time of day `HH:MM` (24 hours), normalised to two digits each.
pub fn time_of_day(text: &str) -> Result<String, Refused> {
    chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map(|t| t.format("%H:%M").to_string())
        .map_err(|_| Refused("must be a time HH:MM".into()))
}

/// A birth date from 1900-01-01 to ten years before `today`.
pub fn birth_date(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, Refused> {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    let last = today.checked_sub_months(Months::new(120)).unwrap_or(today);
    if (first..=last).contains(&date) {
        Ok(date)
    } else {
        Err(Refused(format!("must be from {first} to {last}")))
    }
}

/// The whole years from `birth` to `today` (0 before the first birthday).
pub fn age(birth: NaiveDate, today: NaiveDate) -> u32 {
    today.years_since(birth).unwrap_or(0)
}

/// An IANA time zone name.
pub fn timezone(name: &str) -> Result<Tz, Refused> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| Refused("must be a time zone such as Europe/Berlin".into()))
}

/// The units a person enters and reads values in; values are stored metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Units {
    /// Kilograms and centimetres.
    #[default]
    Metric,
    /// Pounds and inches.
    Imperial,
}

impl Units {
    pub fn as_str(self) -> &'static str {
        match self {
            Units::Metric => "metric",
            Units::Imperial => "imperial",
        }
    }

    pub fn parse(s: &str) -> Result<Units, Refused> {
        match s.trim() {
            "metric" => Ok(Units::Metric),
            "imperial" => Ok(Units::Imperial),
            _ => Err(Refused("must be metric or imperial".into())),
        }
    }

    /// A weight in this system from kilograms.
    pub fn weight_from_kg(self, kg: f64) -> f64 {
        match self {
            Units::Metric => kg,
            Units::Imperial => kg / KG_PER_LB,
        }
    }

    /// Kilograms from a weight in this system.
    pub fn weight_to_kg(self, value: f64) -> f64 {
        match self {
            Units::Metric => value,
            Units::Imperial => value * KG_PER_LB,
        }
    }

    /// A length in this system from centimetres.
    pub fn length_from_cm(self, cm: f64) -> f64 {
        match self {
            Units::Metric => cm,
            Units::Imperial => cm / CM_PER_IN,
        }
    }

    /// Centimetres from a length in this system.
    pub fn length_to_cm(self, value: f64) -> f64 {
        match self {
            Units::Metric => value,
            Units::Imperial => value * CM_PER_IN,
        }
    }

    /// The weight unit's symbol: `kg` or `lb`.
    pub fn weight_unit(self) -> &'static str {
        match self {
            Units::Metric => "kg",
            Units::Imperial => "lb",
        }
    }

    /// The length unit's symbol: `cm` or `in`.
    pub fn length_unit(self) -> &'static str {
        match self {
            Units::Metric => "cm",
            Units::Imperial => "in",
        }
    }
}

/// The body-mass index from a weight and a height (kg / m²), if both are plausible.
pub fn bmi(weight_kg: f64, height_cm: f64) -> Option<f64> {
    let m = height_cm / 100.0;
    (weight_kg.is_finite() && m.is_finite() && m > 0.0 && weight_kg > 0.0)
        .then(|| weight_kg / (m * m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_days_and_times() {
        let days =
            |names: &[&str]| weekdays(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(days(&["mon", "Wed", "sun", "mon"]), Ok(1 | 4 | 64));
        assert_eq!(days(&[]), Ok(0));
        assert!(days(&["monday"]).is_err());
        assert_eq!(weekday_names(1 | 4 | 64), ["mon", "wed", "sun"]);
        assert_eq!(time_of_day("7:05"), Ok("07:05".into()));
        assert!(time_of_day("25:00").is_err() && time_of_day("07:00:00").is_err());
        assert!(kcal_target(400.0).is_err() && grams_target(-1.0).is_err());
        assert_eq!(grams_target(0.0), Ok(0.0));
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn facts_in_their_ranges() {
        assert_eq!(height_cm(180.0), Ok(180.0));
        for bad in [49.9, 272.1, f64::NAN, f64::INFINITY] {
            assert!(height_cm(bad).is_err(), "{bad}");
        }
        assert!(goal_weight_kg(19.9).is_err() && goal_weight_kg(75.0).is_ok());
        let today = d(2026, 12, 6);
        assert!(birth_date(d(1980, 5, 17), today).is_ok());
        assert!(birth_date(d(2016, 12, 6), today).is_ok(), "ten today");
        assert!(birth_date(d(2016, 12, 7), today).is_err());
        assert!(birth_date(d(1899, 12, 31), today).is_err());
        assert_eq!(age(d(1980, 12, 7), today), 45);
        assert_eq!(age(d(1980, 12, 6), today), 46);
        assert!(timezone("Europe/Berlin").is_ok() && timezone("Mars/Olympus").is_err());
        assert_eq!(Units::parse("imperial"), Ok(Units::Imperial));
        assert!(Units::parse("stones").is_err());
    }

    #[test]
    fn units_convert_both_ways() {
        let lb = Units::Imperial.weight_from_kg(100.0);
        assert!((lb - 220.462_262).abs() < 1e-6, "{lb}");
        assert!((Units::Imperial.weight_to_kg(lb) - 100.0).abs() < 1e-9);
        assert!((Units::Imperial.length_from_cm(254.0) - 100.0).abs() < 1e-9);
        assert_eq!(Units::Metric.weight_from_kg(80.0), 80.0);
        let bmi = bmi(80.0, 180.0).unwrap();
        assert!((bmi - 24.691).abs() < 1e-3, "{bmi}");
        assert_eq!(super::bmi(80.0, 0.0), None);
    }
}
