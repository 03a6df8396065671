//! Body fat from skinfolds: Jackson–Pollock body density and Siri's equation.
//!
//! - Jackson & Pollock (1978), men, and Jackson, Pollock & Ward (1980), women: body density
//!   from the sum of 3 or 7 skinfolds (mm) and age (years), quadratic in the sum.
//! - Siri (1961): body fat % = 495 / density − 450.
//!
//! | method | sex | sites |
//! |---|---|---|
//! | `jp3` | male | chest, abdomen, thigh |
//! | `jp3` | female | triceps, suprailiac, thigh |
//! | `jp7` | both | chest, midaxillary, triceps, subscapular, abdomen, suprailiac, thigh |

use std::collections::BTreeMap;

use crate::entries::FieldErrors;

/// Which Jackson–Pollock equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Jp3,
    Jp7,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Jp3 => "jp3",
            Method::Jp7 => "jp7",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "jp3" => Some(Method::Jp3),
            "jp7" => Some(Method::Jp7),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    pub fn parse(s: &str) -> Option<Sex> {
        match s {
            "male" => Some(Sex::Male),
            "female" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// A skinfold site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Site {
    Chest,
    Midaxillary,
    Triceps,
    Subscapular,
    Abdomen,
    Suprailiac,
    Thigh,
}

impl Site {
    /// Every site, in the order of the 7-site protocol.
    pub const ALL: [Site; 7] = [
        Site::Chest,
        Site::Midaxillary,
        Site::Triceps,
        Site::Subscapular,
        Site::Abdomen,
        Site::Suprailiac,
        Site::Thigh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Site::Chest => "chest",
            Site::Midaxillary => "midaxillary",
            Site::Triceps => "triceps",
            Site::Subscapular => "subscapular",
            Site::Abdomen => "abdomen",
            Site::Suprailiac => "suprailiac",
            Site::Thigh => "thigh",
        }
    }

    pub fn parse(s: &str) -> Option<Site> {
        Site::ALL.into_iter().find(|site| site.as_str() == s)
    }
}

/// The sites a method measures, for a sex.
pub fn sites(method: Method, sex: Sex) -> &'static [Site] {
    match (method, sex) {
        (Method::Jp3, Sex::Male) => &[Site::Chest, Site::Abdomen, Site::Thigh],
        (Method::Jp3, Sex::Female) => &[Site::Triceps, Site::Suprailiac, Site::Thigh],
        (Method::Jp7, _) => &Site::ALL,
    }
}

/// Body density (g/cm³) by the Jackson–Pollock equation, from the sum of the method's
/// skinfolds in mm and the age in years.
pub fn body_density(method: Method, sex: Sex, sum_mm: f64, age: f64) -> f64 {
    let s = sum_mm;
    match (method, sex) {
        (Method::Jp3, Sex::Male) => 1.10938 - 0.0008267 * s + 0.0000016 * s * s - 0.0002574 * age,
        (Method::Jp3, Sex::Female) => {
            1.0994921 - 0.0009929 * s + 0.0000023 * s * s - 0.0001392 * age
        }
        (Method::Jp7, Sex::Male) => 1.112 - 0.00043499 * s + 0.00000055 * s * s - 0.00028826 * age,
        (Method::Jp7, Sex::Female) => {
            1.097 - 0.00046971 * s + 0.00000056 * s * s - 0.00012828 * age
        }
    }
}

/// Siri's equation: body fat in percent of body mass from body density.
pub fn siri_body_fat_pct(density: f64) -> f64 {
    495.0 / density - 450.0
}

/// Plausible ages (years) and skinfolds (mm) for a measurement.
pub const AGE_RANGE: (i64, i64) = (10, 120);
pub const SKINFOLD_RANGE_MM: (f64, f64) = (1.0, 100.0);

/// A validated skinfold measurement and its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Caliper {
    pub method: Method,
    pub sex: Sex,
    pub age: i64,
    /// Exactly the method's sites, in mm.
    pub sites: BTreeMap<Site, f64>,
    /// g/cm³, rounded to 5 decimals.
    pub body_density: f64,
    /// Percent, rounded to 2 decimals (computed from the unrounded density).
    pub body_fat_pct: f64,
}

impl Caliper {
    /// Checks a measurement and computes its result. Errors name the field: `method`,
    /// `sex`, `age`, `sites` (a site missing or not measured by the method) or
    /// `sites.<site>` (a value out of range).
    pub fn measure(
        method: &str,
        sex: &str,
        age: i64,
        measured: &BTreeMap<String, f64>,
    ) -> Result<Caliper, FieldErrors> {
        let mut errors = FieldErrors::default();
        let method_ = Method::parse(method);
        if method_.is_none() {
            errors.add("method", "must be jp3 or jp7");
        }
        let sex_ = Sex::parse(sex);
        if sex_.is_none() {
            errors.add("sex", "must be male or female");
        }
        if !(AGE_RANGE.0..=AGE_RANGE.1).contains(&age) {
            errors.add(
                "age",
                format!("must be from {} to {} years", AGE_RANGE.0, AGE_RANGE.1),
            );
        }
        let (Some(method), Some(sex)) = (method_, sex_) else {
            return Err(errors);
        };
        let wanted = sites(method, sex);
        let names = |list: &[Site]| {
            list.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut values = BTreeMap::new();
        let mut extra = Vec::new();
        for (name, &mm) in measured {
            match Site::parse(name).filter(|s| wanted.contains(s)) {
                Some(site) => {
                    if !(SKINFOLD_RANGE_MM.0..=SKINFOLD_RANGE_MM.1).contains(&mm) {
                        errors.add(
                            &format!("sites.{name}"),
                            format!(
                                "must be from {} to {} mm",
                                SKINFOLD_RANGE_MM.0, SKINFOLD_RANGE_MM.1
                            ),
                        );
                    }
                    values.insert(site, mm);
                }
                None => extra.push(name.as_str()),
            }
        }
        let missing: Vec<Site> = wanted
            .iter()
            .copied()
            .filter(|s| !values.contains_key(s))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let mut why = format!(
                "{} {} measures exactly: {}",
                method.as_str(),
                sex.as_str(),
                names(wanted)
            );
            if !missing.is_empty() {
                why.push_str(&format!("; missing: {}", names(&missing)));
            }
            if !extra.is_empty() {
                why.push_str(&format!("; not measured: {}", extra.join(", ")));
            }
            errors.add("sites", why);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let sum: f64 = values.values().sum();
        let density = body_density(method, sex, sum, age as f64);
        let fat = siri_body_fat_pct(density);
        if !(fat > 0.0 && fat < 100.0) {
            errors.add(
                "sites",
                format!("these skinfolds give an impossible body fat of {fat:.1} %"),
            );
            return Err(errors);
        }
        Ok(Caliper {
            method,
            sex,
            age,
            sites: values,
            body_density: round(density, 5),
            body_fat_pct: round(fat, 2),
        })
    }
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    // Expected values worked by hand from the published equations:
    // jp3 male, chest 10 + abdomen 20 + thigh 15 = 45 mm, 30 years:
    //   D = 1.10938 − 0.0008267·45 + 0.0000016·45² − 0.0002574·30
    //     = 1.10938 − 0.0372015 + 0.00324 − 0.007722 = 1.0676965
    //   %BF = 495 / 1.0676965 − 450 = 13.6149
    #[test]
    fn jp3_male_by_hand() {
        let c = Caliper::measure(
            "jp3",
            "male",
            30,
            &measured(&[("chest", 10.0), ("abdomen", 20.0), ("thigh", 15.0)]),
        )
        .unwrap();
        assert_eq!(c.body_density, 1.0677);
        assert_eq!(c.body_fat_pct, 13.61);
        assert!((body_density(Method::Jp3, Sex::Male, 45.0, 30.0) - 1.0676965).abs() < 1e-12);
    }

    // jp3 female, triceps 18 + suprailiac 12 + thigh 25 = 55 mm, 28 years:
    //   D = 1.0994921 − 0.0009929·55 + 0.0000023·55² − 0.0001392·28
    //     = 1.0994921 − 0.0546095 + 0.0069575 − 0.0038976 = 1.0479425
    //   %BF = 495 / 1.0479425 − 450 = 22.3542
    #[test]
    fn jp3_female_by_hand() {
        let c = Caliper::measure(
            "jp3",
            "female",
            28,
            &measured(&[("triceps", 18.0), ("suprailiac", 12.0), ("thigh", 25.0)]),
        )
        .unwrap();
        assert!((body_density(Method::Jp3, Sex::Female, 55.0, 28.0) - 1.0479425).abs() < 1e-12);
        assert_eq!(c.body_density, 1.04794);
        assert_eq!(c.body_fat_pct, 22.35);
    }

    // jp7 male, 8 + 10 + 9 + 12 + 18 + 11 + 14 = 82 mm, 40 years:
    //   D = 1.112 − 0.00043499·82 + 0.00000055·82² − 0.00028826·40
    //     = 1.112 − 0.03566918 + 0.0036982 − 0.0115304 = 1.06849862
    //   %BF = 495 / 1.06849862 − 450 = 13.2669
    // jp7 female, 10 + 12 + 16 + 14 + 22 + 15 + 24 = 113 mm, 35 years:
    //   D = 1.097 − 0.00046971·113 + 0.00000056·113² − 0.00012828·35
    //     = 1.097 − 0.05307723 + 0.00715064 − 0.0044898 = 1.04658361
    //   %BF = 495 / 1.04658361 − 450 = 22.9675
    #[test]
    fn jp7_by_hand() {
        let male = Caliper::measure(
            "jp7",
            "male",
            40,
            &measured(&[
                ("chest", 8.0),
                ("midaxillary", 10.0),
                ("triceps", 9.0),
                ("subscapular", 12.0),
                ("abdomen", 18.0),
                ("suprailiac", 11.0),
                ("thigh", 14.0),
            ]),
        )
        .unwrap();
        assert_eq!((male.body_density, male.body_fat_pct), (1.0685, 13.27));
        let female = Caliper::measure(
            "jp7",
            "female",
            35,
            &measured(&[
                ("chest", 10.0),
                ("midaxillary", 12.0),
                ("triceps", 16.0),
                ("subscapular", 14.0),
                ("abdomen", 22.0),
                ("suprailiac", 15.0),
                ("thigh", 24.0),
            ]),
        )
        .unwrap();
        assert_eq!((female.body_density, female.body_fat_pct), (1.04658, 22.97));
    }

    #[test]
    fn siri_equation() {
        assert!((siri_body_fat_pct(1.1) - 0.0).abs() < 1e-9);
        assert!((siri_body_fat_pct(1.0) - 45.0).abs() < 1e-9);
    }

    #[test]
    fn missing_and_extra_sites_are_named() {
        let e = Caliper::measure(
            "jp3",
            "male",
            30,
            &measured(&[("chest", 10.0), ("abdomen", 20.0), ("triceps", 5.0)]),
        )
        .unwrap_err();
        let why = e.get("sites").unwrap();
        assert!(why.contains("missing: thigh"), "{why}");
        assert!(why.contains("not measured: triceps"), "{why}");

        let e = Caliper::measure("jp7", "female", 30, &measured(&[("chest", 10.0)])).unwrap_err();
        assert!(e.get("sites").unwrap().contains("missing: midaxillary"));

        let e = Caliper::measure("jp3", "male", 30, &measured(&[("knee", 10.0)])).unwrap_err();
        assert!(e.get("sites").unwrap().contains("not measured: knee"));
    }

    #[test]
    fn bad_method_sex_age_and_values_are_named() {
        let e = Caliper::measure("jp4", "other", 5, &BTreeMap::new()).unwrap_err();
        assert!(e.get("method").is_some() && e.get("sex").is_some() && e.get("age").is_some());
        let e = Caliper::measure(
            "jp3",
            "male",
            30,
            &measured(&[("chest", 0.0), ("abdomen", 20.0), ("thigh", 150.0)]),
        )
        .unwrap_err();
        assert!(e.get("sites.chest").is_some() && e.get("sites.thigh").is_some());
        assert!(e.get("sites.abdomen").is_none());
    }

    #[test]
    fn impossible_results_are_refused() {
        // Very thin skinfolds at a young age give a density above 1.1, i.e. negative fat.
        let e = Caliper::measure(
            "jp3",
            "male",
            18,
            &measured(&[("chest", 1.0), ("abdomen", 1.0), ("thigh", 1.0)]),
        )
        .unwrap_err();
        assert!(e.get("sites").unwrap().contains("impossible"));
    }
}
