//! CSV import of weights on `/weight`: `date,weight_kg[,note]` per line (`;` works as the
//! separator too, for spreadsheets that use the decimal comma), an optional header line.
//! Every line is checked as a single create would be; the first bad one is named by its
//! line number and nothing is written. Then all lines are created in one transaction that
//! spends one `weight` each — refused whole when that would pass the limit.

use crate::service::records::Profile;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use crate::service::AppState;
use crate::service::Error;
use crate::service::entries;
use crate::service::entries::kinds::WeightType;
use crate::ui::{Lang, UiResult, parse_decimal, refusal};

/// The most lines one import may hold.
pub const MAX_LINES: usize = 5_000;

/// What an import did.
pub enum Imported {
    /// This many entries were created.
    Done(usize),
    /// Nothing was written: why (for the page), and the status to answer with.
    Refused(String, StatusCode),
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

/// A day as people write it in a CSV: `2026-03-14` or `14.03.2026`.
fn day(text: &str) -> Option<String> {
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .ok()?;
    Some(d.format("%Y-%m-%d").to_string())
}

/// The JSON body of one line, or why it is not one.
fn body(line: &str, lang: Lang) -> Result<Value, String> {
    let separator = if line.contains(';') { ';' } else { ',' };
    let cells = cells(line, separator);
    if cells.len() < 2 || cells.len() > 3 {
        return Err(lang.t("import.columns").to_owned());
    }
    let date = day(&cells[0]).ok_or_else(|| lang.t("field.date").to_owned())?;
    let kg = parse_decimal(&cells[1]).ok_or_else(|| lang.t("field.number").to_owned())?;
    let mut body = Map::new();
    body.insert("date".into(), json!(date));
    body.insert("weight_kg".into(), json!(kg));
    if let Some(note) = cells.get(2).filter(|n| !n.is_empty()) {
        body.insert("note".into(), json!(note));
    }
    Ok(Value::Object(body))
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
    let mut checked = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = (i + 1).to_string();
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("date")) {
            continue;
        }
        if checked.len() == MAX_LINES {
            return bad(lang.tf("import.too_many", &[&MAX_LINES.to_string()]));
        }
        let why = match body(line, lang) {
            Ok(body) => match entries::check_body::<WeightType>(state, body) {
                Ok(c) => {
                    checked.push(c);
                    continue;
                }
                Err(Error::Invalid { fields, .. }) => {
                    let errors = crate::ui::forms::FieldErrors::from_api(lang, &fields);
                    errors
                        .0
                        .iter()
                        .map(|(field, why)| format!("{field}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
                Err(e) => return Err(e.into()),
            },
            Err(why) => why,
        };
        return bad(lang.tf("import.bad_line", &[&number, &why]));
    }
    if checked.is_empty() {
        return bad(lang.t("import.empty").to_owned());
    }
    match entries::create_batch::<WeightType>(state, profile, checked, ip).await {
        Ok(n) => Ok(Imported::Done(n)),
        Err(e) => match refusal(state, lang, &e) {
            Some(r) => Ok(Imported::Refused(r.text, crate::ui::status_of(&e))),
            None => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let b = body("14.03.2026;72,5;x", Lang::De).unwrap();
        assert_eq!(
            b,
            json!({"date": "2026-03-14", "weight_kg": 72.5, "note": "x"})
        );
        assert!(body("2026-03-14", Lang::En).is_err());
        assert!(body("yesterday,70", Lang::En).is_err());
    }
}
