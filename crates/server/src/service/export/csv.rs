//! CSV rows of the tracked data (RFC 4180: comma, `"` quoting, CRLF; UTF-8).
//!
//! One CSV per type has `id, date`, the type's columns, `note, created_at, updated_at`. The
//! combined CSV (`/api/export/csv` without `type`) has `type` first and the union of all
//! types' columns, empty where a column is not the row's type's. Column names carry their
//! unit, so names never clash across types (`chest_cm` is a circumference, `chest_mm` a
//! skinfold); `kcal` is the same quantity for nutrition and activity. Weights and lengths
//! are in the person's units, named so: `weight_kg` or `weight_lb`, `waist_cm` or
//! `waist_in` (skinfolds are millimetres in both).

use mitai_access::body::Units;
use mitai_access::caliper::Site;
use mitai_access::{EntryData, EntryKind};
use mitai_store::Entry;

/// The columns of a type between `date` and `note`.
pub fn data_columns(kind: EntryKind, units: Units) -> &'static [&'static str] {
    match (kind, units) {
        (EntryKind::Weight, Units::Metric) => &["weight_kg"],
        (EntryKind::Weight, Units::Imperial) => &["weight_lb"],
        (EntryKind::Circumference, Units::Metric) => &[
            "neck_cm", "chest_cm", "waist_cm", "hip_cm", "thigh_cm", "arm_cm", "calf_cm",
        ],
        (EntryKind::Circumference, Units::Imperial) => &[
            "neck_in", "chest_in", "waist_in", "hip_in", "thigh_in", "arm_in", "calf_in",
        ],
        (EntryKind::Caliper, _) => &[
            "method",
            "sex",
            "age",
            "chest_mm",
            "midaxillary_mm",
            "triceps_mm",
            "subscapular_mm",
            "abdomen_mm",
            "suprailiac_mm",
            "thigh_mm",
            "body_density",
            "body_fat_pct",
        ],
        (EntryKind::Nutrition, _) => &["kcal", "protein_g", "carbs_g", "fat_g"],
        (EntryKind::Activity, _) => &["kind", "minutes", "kcal"],
    }
}

/// The values of [`data_columns`], formatted (empty for none).
fn data_values(entry: &Entry, units: Units) -> Vec<String> {
    let num = |v: f64| v.to_string();
    let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
    // Converted values to a hundredth: 176.37 lb, not 176.36981…
    let converted = |v: f64| num((v * 100.0).round() / 100.0);
    match &entry.data {
        EntryData::Weight(w) => vec![match units {
            Units::Metric => num(w.weight_kg),
            Units::Imperial => converted(units.weight_from_kg(w.weight_kg)),
        }],
        EntryData::Circumference(c) => c
            .sites()
            .iter()
            .map(|(_, v)| match units {
                Units::Metric => opt(*v),
                Units::Imperial => v
                    .map(|cm| converted(units.length_from_cm(cm)))
                    .unwrap_or_default(),
            })
            .collect(),
        EntryData::Caliper(c) => {
            let mut v = vec![
                c.method.as_str().to_owned(),
                c.sex.as_str().to_owned(),
                c.age.to_string(),
            ];
            v.extend(Site::ALL.iter().map(|s| opt(c.sites.get(s).copied())));
            v.push(num(c.body_density));
            v.push(num(c.body_fat_pct));
            v
        }
        EntryData::Nutrition(n) => {
            vec![num(n.kcal), num(n.protein_g), num(n.carbs_g), num(n.fat_g)]
        }
        EntryData::Activity(a) => vec![a.kind.clone(), a.minutes.to_string(), opt(a.kcal)],
    }
}

/// The columns of the combined CSV after `type, id, date`: every type's, once, in type order.
pub fn combined_columns(units: Units) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for kind in EntryKind::ALL {
        for column in data_columns(kind, units) {
            if !all.contains(column) {
                all.push(column);
            }
        }
    }
    all
}

/// The header line of one type's CSV.
pub fn header(kind: EntryKind, units: Units) -> String {
    let mut columns = vec!["id", "date"];
    columns.extend(data_columns(kind, units));
    columns.extend(["note", "created_at", "updated_at"]);
    line(columns.iter().copied())
}

/// The header line of the combined CSV.
pub fn combined_header(units: Units) -> String {
    let mut columns = vec!["type", "id", "date"];
    columns.extend(combined_columns(units));
    columns.extend(["note", "created_at", "updated_at"]);
    line(columns.iter().copied())
}

fn common(entry: &Entry) -> [String; 4] {
    [
        entry.id.to_string(),
        entry.date.format("%Y-%m-%d").to_string(),
        entry
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        entry
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ]
}

/// Appends the entry's line of its type's CSV to `out`.
pub fn push_row(out: &mut String, entry: &Entry, units: Units) {
    let [id, date, created, updated] = common(entry);
    let data = data_values(entry, units);
    let note = entry.note.clone().unwrap_or_default();
    let cells = [id, date]
        .into_iter()
        .chain(data)
        .chain([note, created, updated]);
    out.push_str(&line(cells));
}

/// Appends the entry's line of the combined CSV to `out` (`columns` from
/// [`combined_columns`]).
pub fn push_combined_row(out: &mut String, columns: &[&str], entry: &Entry, units: Units) {
    let kind = entry.kind();
    let names = data_columns(kind, units);
    let values = data_values(entry, units);
    let [id, date, created, updated] = common(entry);
    let data = columns.iter().map(|column| {
        names
            .iter()
            .position(|n| n == column)
            .map(|i| values[i].clone())
            .unwrap_or_default()
    });
    let cells = [kind.as_str().to_owned(), id, date]
        .into_iter()
        .chain(data)
        .chain([entry.note.clone().unwrap_or_default(), created, updated]);
    out.push_str(&line(cells));
}

/// One CSV record (RFC 4180: cells quoted as needed, CRLF at the end).
pub fn line<S: AsRef<str>>(cells: impl Iterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(&mut out, cell.as_ref());
    }
    out.push_str("\r\n");
    out
}

/// Whether a spreadsheet would read the cell as a formula: it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return, and is not simply a number.
fn looks_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

/// A cell, quoted when it holds a comma, quote, line break or edge space. A cell that a
/// spreadsheet would run as a formula (CSV injection) is prefixed with `'`, which makes it
/// text: a note `=HYPERLINK(…)` opens as that text, not as a link.
fn push_cell(out: &mut String, cell: &str) {
    let neutralised;
    let cell = if looks_like_formula(cell) {
        neutralised = format!("'{cell}");
        neutralised.as_str()
    } else {
        cell
    };
    let quote =
        cell.contains([',', '"', '\n', '\r']) || cell.starts_with(' ') || cell.ends_with(' ');
    if quote {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mitai_access::entries::{Activity, Weight};
    use uuid::Uuid;

    use super::*;

    fn entry(data: EntryData, note: Option<&str>) -> Entry {
        let at = Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap();
        Entry {
            id: Uuid::nil(),
            profile_id: Uuid::nil(),
            date: "2025-03-13".parse().unwrap(),
            note: note.map(str::to_owned),
            data,
            revision: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        for (cell, written) in [
            ("=1+2", "'=1+2\r\n"),
            ("+SUM(A1)", "'+SUM(A1)\r\n"),
            ("-2+3", "'-2+3\r\n"),
            ("@cmd", "'@cmd\r\n"),
            ("\tx", "'\tx\r\n"),
            ("\rx", "\"'\rx\"\r\n"),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n",
            ),
            ("-5", "-5\r\n"),
            ("-1.5e3", "-1.5e3\r\n"),
            ("a=b", "a=b\r\n"),
        ] {
            assert_eq!(line([cell].iter()), written, "{cell:?}");
        }
    }

    #[test]
    fn rows_quote_what_needs_quoting() {
        let e = entry(
            EntryData::Weight(Weight { weight_kg: 80.5 }),
            Some("after \"cheat\" day,\nfelt heavy"),
        );
        let mut out = header(EntryKind::Weight, Units::Metric);
        push_row(&mut out, &e, Units::Metric);
        assert_eq!(
            out,
            "id,date,weight_kg,note,created_at,updated_at\r\n\
             00000000-0000-0000-0000-000000000000,2025-03-13,80.5,\
             \"after \"\"cheat\"\" day,\nfelt heavy\",\
             2025-03-14T09:30:00.000000Z,2025-03-14T09:30:00.000000Z\r\n"
        );
    }

    #[test]
    fn combined_rows_fill_their_columns() {
        let columns = combined_columns(Units::Metric);
        assert_eq!(columns.iter().filter(|c| **c == "kcal").count(), 1);
        let e = entry(
            EntryData::Activity(Activity {
                kind: "rowing".into(),
                minutes: 30,
                kcal: Some(250.0),
            }),
            None,
        );
        let mut out = String::new();
        push_combined_row(&mut out, &columns, &e, Units::Metric);
        let header = combined_header(Units::Metric);
        let names: Vec<&str> = header.trim_end().split(',').collect();
        let cells: Vec<&str> = out.trim_end().split(',').collect();
        assert_eq!(names.len(), cells.len());
        let cell = |name: &str| cells[names.iter().position(|n| *n == name).unwrap()];
        assert_eq!(
            (cell("type"), cell("kind"), cell("minutes"), cell("kcal")),
            ("activity", "rowing", "30", "250")
        );
        assert_eq!((cell("weight_kg"), cell("protein_g")), ("", ""));
    }

    #[test]
    fn imperial_columns_say_pounds_and_inches() {
        let e = entry(EntryData::Weight(Weight { weight_kg: 80.0 }), None);
        let mut out = header(EntryKind::Weight, Units::Imperial);
        push_row(&mut out, &e, Units::Imperial);
        assert!(out.starts_with("id,date,weight_lb,note,"), "{out}");
        assert!(out.contains(",176.37,"), "{out}");
        let columns = combined_columns(Units::Imperial);
        assert!(columns.contains(&"waist_in") && !columns.contains(&"waist_cm"));
        assert!(
            columns.contains(&"chest_mm"),
            "skinfolds stay in millimetres"
        );
    }
}
