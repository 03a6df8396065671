//! CSV import of weights on `/weight`, from the files people bring:
//!
//! - Mitai's own `date,weight_kg[,note]` (or `weight_lb`; `;` works as the separator too,
//!   for spreadsheets with the decimal comma; the header line is optional; `14.03.2026`
//!   is a date too);
//! - openScale's export: a header naming the columns (`"dateTime","weight",…,"comment"`,
//!   in any order), times as `dd.MM.yyyy HH:mm`, weights in kg;
//! - Libra's export: `#`-lines (`#Units: kg` or `lbs`, `#date;weight;weight trend;…;log`),
//!   then `2023-10-16T05:19:20.000Z;70.0;70.4;…` with the time in UTC.
//!
//! Every line is checked as a single create would be. Lines that are refused are named
//! with their number and reason, lines already there (the same day and weight, to 0.1 kg,
//! in the account or earlier in the file) are skipped, and the rest are created in one
//! transaction that spends one `weight` each — refused whole when that would pass the
//! limit. Sending the same file twice adds nothing the second time.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use mitai_access::body::Units;
use mitai_access::{EntryData, EntryKind};
use serde_json::{Map, Value, json};

use crate::service::AppState;
use crate::service::Error;
use crate::service::entries;
use crate::service::entries::kinds::WeightType;
use crate::service::profiles;
use crate::service::records::Profile;
use crate::ui::{Lang, UiResult, parse_decimal, refusal};

/// The most lines one import may hold.
pub const MAX_LINES: usize = 5_000;
/// The refused lines a report names (the count covers all of them).
pub const SHOWN_REFUSALS: usize = 20;

/// What an import did.
pub enum Imported {
    /// Lines were read: what became of them.
    Done(Report),
    /// Nothing was written: why (for the page), and the status to answer with.
    Refused(String, StatusCode),
}

/// The outcome of an import, line by line.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// Lines with a weight (not headers, comments or blank lines).
    pub read: usize,
    pub added: usize,
    /// Already there: the same day and weight.
    pub duplicates: usize,
    /// (line number, why), in file order.
    pub refused: Vec<(usize, String)>,
}

/// The file's format, found from its first lines.
#[derive(Debug, Clone, PartialEq)]
enum Format {
    /// `date,weight[,note]`, in `unit`.
    Mitai {
        separator: Option<char>,
        unit: Units,
    },
    /// Columns named by the header.
    OpenScale {
        date: usize,
        weight: usize,
        comment: Option<usize>,
    },
    /// `;`-separated, in `unit`; the note is in column `log`.
    Libra { unit: Units, log: usize },
}

/// The cells of one CSV line (RFC 4180 quotes allowed).
fn cells(line: &str, separator: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(s) = out.last_mut() {
                    s.push('"');
                }
            }
            '"' => quoted = !quoted,
            c if c == separator && !quoted => out.push(String::new()),
            c => {
                if let Some(s) = out.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The format of a file by its first non-blank line (and Libra's `#`-lines), and whether
/// that line is a header to skip.
fn format_of(lines: &[&str]) -> (Format, bool) {
    let first = lines.iter().map(|l| l.trim()).find(|l| !l.is_empty());
    let Some(first) = first else {
        return (
            Format::Mitai {
                separator: None,
                unit: Units::Metric,
            },
            false,
        );
    };
    let lower = first.to_ascii_lowercase();
    if first.starts_with('#') {
        let mut unit = Units::Metric;
        let mut log = 5;
        for line in lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| l.starts_with('#'))
        {
            let line = line.trim_start_matches('#').trim().to_ascii_lowercase();
            if let Some(u) = line.strip_prefix("units:") {
                if u.trim().starts_with("lb") {
                    unit = Units::Imperial;
                }
            } else if line.starts_with("date;") {
                log = line
                    .split(';')
                    .position(|c| c.trim() == "log")
                    .unwrap_or(log);
            }
        }
        return (Format::Libra { unit, log }, false);
    }
    if lower.contains("datetime") && lower.contains("weight") {
        let names = cells(first, ',');
        let at = |name: &str| names.iter().position(|n| n.eq_ignore_ascii_case(name));
        if let (Some(date), Some(weight)) = (at("dateTime"), at("weight")) {
            let comment = at("comment");
            return (
                Format::OpenScale {
                    date,
                    weight,
                    comment,
                },
                true,
            );
        }
    }
    let separator = if first.contains(';') { ';' } else { ',' };
    if lower.starts_with("date") {
        let unit = if lower.contains("_lb") || lower.contains("(lb") {
            Units::Imperial
        } else {
            Units::Metric
        };
        return (
            Format::Mitai {
                separator: Some(separator),
                unit,
            },
            true,
        );
    }
    (
        Format::Mitai {
            separator: None,
            unit: Units::Metric,
        },
        false,
    )
}

/// A day as the apps write it: `2026-03-14`, `14.03.2026`, either with a time
/// (`14.03.2026 07:30`), or an instant in UTC (`2026-03-14T06:30:00.000Z`), which counts
/// on its day in `tz`.
fn day(text: &str, tz: Tz) -> Option<NaiveDate> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&tz).date_naive());
    }
    for format in ["%Y-%m-%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(text, format) {
            return Some(d);
        }
    }
    for format in [
        "%d.%m.%Y %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.date());
        }
    }
    None
}

/// The JSON body of one data line in `format`, or why it is not one.
fn body(line: &str, format: &Format, tz: Tz, lang: Lang) -> Result<Value, String> {
    let (date, weight, note, unit) = match format {
        Format::Mitai { separator, unit } => {
            let separator = separator.unwrap_or(if line.contains(';') { ';' } else { ',' });
            let cells = cells(line, separator);
            if cells.len() < 2 || cells.len() > 3 {
                return Err(lang.t("import.columns").to_owned());
            }
            let note = cells.get(2).cloned();
            (cells[0].clone(), cells[1].clone(), note, *unit)
        }
        Format::OpenScale {
            date,
            weight,
            comment,
        } => {
            let cells = cells(line, ',');
            let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
            (cell(*date), cell(*weight), comment.map(cell), Units::Metric)
        }
        Format::Libra { unit, log } => {
            let cells = cells(line, ';');
            if cells.len() < 2 {
                return Err(lang.t("import.columns").to_owned());
            }
            let note = cells.get(*log).cloned();
            (cells[0].clone(), cells[1].clone(), note, *unit)
        }
    };
    let date = day(&date, tz).ok_or_else(|| lang.t("field.date").to_owned())?;
    let value = parse_decimal(&weight).ok_or_else(|| lang.t("field.number").to_owned())?;
    let kg = match unit {
        Units::Metric => value,
        Units::Imperial => (unit.weight_to_kg(value) * 10_000.0).round() / 10_000.0,
    };
    let mut body = Map::new();
    body.insert("date".into(), json!(date.format("%Y-%m-%d").to_string()));
    body.insert("weight_kg".into(), json!(kg));
    if let Some(note) = note.filter(|n| !n.is_empty()) {
        body.insert("note".into(), json!(note));
    }
    Ok(Value::Object(body))
}

/// A weigh-in as duplicates are recognised: the day and the weight to 0.1 kg.
fn key(date: NaiveDate, kg: f64) -> (NaiveDate, i64) {
    (date, (kg * 10.0).round() as i64)
}

/// Imports `file` for `profile`.
pub async fn weights(
    state: &AppState,
    profile: &Profile,
    file: &[u8],
    ip: Option<String>,
    lang: Lang,
) -> UiResult<Imported> {
    let bad = |text: String| Ok(Imported::Refused(text, StatusCode::UNPROCESSABLE_ENTITY));
    let Ok(text) = std::str::from_utf8(file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file)) else {
        return bad(lang.t("import.not_text").to_owned());
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES + 50 {
        return bad(lang.tf("import.too_many", &[&MAX_LINES.to_string()]));
    }
    let (format, header) = format_of(&lines);
    let tz = profiles::timezone_of(state, profile);
    let existing = entries::series(state, profile.id, EntryKind::Weight, None, 100_000).await?;
    let mut seen: HashSet<(NaiveDate, i64)> = existing
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Weight(w) => Some(key(e.date, w.weight_kg)),
            _ => None,
        })
        .collect();
    let mut report = Report::default();
    let mut checked = Vec::new();
    let mut header_left = header;
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if header_left {
            header_left = false;
            continue;
        }
        report.read += 1;
        if report.read > MAX_LINES {
            return bad(lang.tf("import.too_many", &[&MAX_LINES.to_string()]));
        }
        let body = match body(line, &format, tz, lang) {
            Ok(body) => body,
            Err(why) => {
                report.refused.push((number, why));
                continue;
            }
        };
        match entries::check_body::<WeightType>(state, body) {
            Ok(c) => {
                let kg = match &c.data {
                    EntryData::Weight(w) => w.weight_kg,
                    _ => f64::NAN,
                };
                if seen.insert(key(c.date, kg)) {
                    checked.push(c);
                } else {
                    report.duplicates += 1;
                }
            }
            Err(Error::Invalid { fields, .. }) => {
                let errors = crate::ui::forms::FieldErrors::from_api(lang, &fields);
                let why = errors
                    .0
                    .iter()
                    .map(|(field, why)| format!("{field}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                report.refused.push((number, why));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if report.read == 0 {
        return bad(lang.t("import.empty").to_owned());
    }
    match entries::create_batch::<WeightType>(state, profile, checked, ip).await {
        Ok(n) => {
            report.added = n;
            Ok(Imported::Done(report))
        }
        Err(e) => match refusal(state, lang, &e) {
            Some(r) => Ok(Imported::Refused(r.text, crate::ui::status_of(&e))),
            None => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    fn parse(file: &str) -> Vec<Result<Value, String>> {
        let lines: Vec<&str> = file.lines().collect();
        let (format, header) = format_of(&lines);
        lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .skip(usize::from(header))
            .map(|l| body(l, &format, berlin(), Lang::En))
            .collect()
    }

    #[test]
    fn lines_are_read_with_either_separator() {
        assert_eq!(
            cells("2026-03-01,72.5,after run", ','),
            ["2026-03-01", "72.5", "after run"]
        );
        assert_eq!(cells("01.03.2026;72,5", ';'), ["01.03.2026", "72,5"]);
        assert_eq!(
            cells(r#"2026-03-01,"72,5","a ""b"""#, ','),
            ["2026-03-01", "72,5", "a \"b\""]
        );
        assert_eq!(
            parse("14.03.2026;72,5;x"),
            [Ok(
                json!({"date": "2026-03-14", "weight_kg": 72.5, "note": "x"})
            )]
        );
        assert!(parse("2026-03-14")[0].is_err());
        assert!(parse("yesterday,70")[0].is_err());
    }

    #[test]
    fn mitai_files_in_pounds() {
        assert_eq!(
            parse("date,weight_lb,note\n2026-03-14,176.4,\n"),
            [Ok(json!({"date": "2026-03-14", "weight_kg": 80.0137}))]
        );
    }

    #[test]
    fn openscale_exports_by_their_header() {
        let file = "\"bone\",\"comment\",\"dateTime\",\"fat\",\"hip\",\"lbm\",\"muscle\",\"waist\",\"water\",\"weight\"\n\
                    1.0,\"some text\",\"01.03.2018 12:45\",2.0,3.0,4.0,5.0,6.0,7.0,80.5\n\
                    1.0,\"\",\"02.03.2018 06:10\",2.0,3.0,4.0,5.0,6.0,7.0,80.1\n";
        assert_eq!(
            parse(file),
            [
                Ok(json!({"date": "2018-03-01", "weight_kg": 80.5, "note": "some text"})),
                Ok(json!({"date": "2018-03-02", "weight_kg": 80.1})),
            ]
        );
    }

    #[test]
    fn libra_exports_with_units_and_utc_times() {
        let file = "#Version: 6\n#Units: lbs\n\n\
                    #date;weight;weight trend;body fat;body fat trend;muscle mass;muscle mass trend;log\n\
                    2023-10-16T23:19:20.000Z;154.3;155.2;11.0;11.1;56.0;56.3;late\n\
                    2023-10-18T04:12:51.000Z;154.1\n";
        let rows = parse(file);
        // 23:19 UTC is the next day in Berlin.
        assert_eq!(
            rows[0],
            Ok(json!({"date": "2023-10-17", "weight_kg": 69.9893, "note": "late"}))
        );
        assert_eq!(
            rows[1],
            Ok(json!({"date": "2023-10-18", "weight_kg": 69.8986}))
        );
        let kg = "#Version:5\n#Units:kg\n\n#date;weight;weight trend;body fat;body fat trend;log\n\
                  2008-09-07T06:00:00.000Z;84.1;83.3;15.3;15.3;This is a comment\n";
        assert_eq!(
            parse(kg),
            [Ok(
                json!({"date": "2008-09-07", "weight_kg": 84.1, "note": "This is a comment"})
            )]
        );
    }
}
