//! The two languages of the UI: choosing one, looking up messages, and writing numbers and
//! dates the way each language does (`72,5 kg` and `31.12.2026` in German).

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::messages;

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

/// The cookie the language switch sets for visitors who are not signed in.
pub const LANG_COOKIE: &str = "mitai_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// The language of a request: the profile's when signed in, else the `mitai_lang`
    /// cookie, else the first of German or English in `Accept-Language`, else English.
    pub fn of_request(profile_language: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(lang) = profile_language.and_then(Lang::parse) {
            return lang;
        }
        if let Some(lang) = cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
            return lang;
        }
        Lang::of_accept_language(headers)
    }

    /// German or English, whichever `Accept-Language` names first (by order; weights
    /// are rarely used to rank these two), else English.
    pub fn of_accept_language(headers: &HeaderMap) -> Lang {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut ranked: Vec<(f32, usize, Lang)> = accept
            .split(',')
            .enumerate()
            .filter_map(|(i, range)| {
                let mut parts = range.split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let primary = tag.split('-').next()?;
                Some((q, i, Lang::parse(primary)?))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map_or(Lang::En, |r| r.2)
    }

    /// The message `key` in this language (English, then the key itself, when missing —
    /// a test keeps both tables complete).
    pub fn t(self, key: &str) -> &'static str {
        messages::lookup(self, key)
            .or_else(|| messages::lookup(Lang::En, key))
            .unwrap_or("")
    }

    /// The message `key` if this language (or English) has it.
    pub fn try_t(self, key: &str) -> Option<&'static str> {
        messages::lookup(self, key).or_else(|| messages::lookup(Lang::En, key))
    }

    /// The message `key` with `{0}`, `{1}`, … replaced by `args`.
    pub fn tf(self, key: &str, args: &[&str]) -> String {
        let mut out = self.t(key).to_owned();
        for (i, arg) in args.iter().enumerate() {
            out = out.replace(&format!("{{{i}}}"), arg);
        }
        out
    }

    /// A number with `decimals` places, the language's decimal mark and thousands
    /// grouping from 10,000 on (`12.345,6` / `12,345.6`).
    pub fn number(self, value: f64, decimals: usize) -> String {
        if !value.is_finite() {
            return "–".into();
        }
        let text = format!("{:.*}", decimals, value.abs());
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let (group, mark) = match self {
            Lang::En => (',', '.'),
            Lang::De => ('.', ','),
        };
        let mut grouped = String::new();
        if int.len() > 4 {
            for (i, c) in int.chars().enumerate() {
                if i > 0 && (int.len() - i).is_multiple_of(3) {
                    grouped.push(group);
                }
                grouped.push(c);
            }
        } else {
            grouped.push_str(int);
        }
        let negative = value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
        let sign = if negative { "−" } else { "" };
        if frac.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}{mark}{frac}")
        }
    }

    /// A number with up to `decimals` places, trailing zeros dropped (`72,5`, `80`).
    pub fn short_number(self, value: f64, decimals: usize) -> String {
        let full = self.number(value, decimals);
        let mark = if self == Lang::De { ',' } else { '.' };
        if full.contains(mark) {
            full.trim_end_matches('0').trim_end_matches(mark).to_owned()
        } else {
            full
        }
    }

    /// A calendar day: `31.12.2026` / `31 Dec 2026`.
    pub fn date(self, d: NaiveDate) -> String {
        match self {
            Lang::De => d.format("%d.%m.%Y").to_string(),
            Lang::En => format!(
                "{} {} {}",
                d.day(),
                messages::MONTHS_EN[d.month0() as usize],
                d.year()
            ),
        }
    }

    /// A short day for chart axes: `31.12.` / `31 Dec`.
    pub fn short_date(self, d: NaiveDate) -> String {
        match self {
            Lang::De => d.format("%d.%m.").to_string(),
            Lang::En => format!("{} {}", d.day(), messages::MONTHS_EN[d.month0() as usize]),
        }
    }

    /// An instant in the time zone `tz`: `31.12.2026, 14:05` / `31 Dec 2026, 14:05`.
    pub fn datetime(self, t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        let local = t.with_timezone(&tz);
        format!(
            "{}, {}",
            self.date(local.date_naive()),
            local.format("%H:%M")
        )
    }
}

/// Parses a decimal number as people type it: `72.5`, `72,5`, ` 72 `.
pub fn parse_decimal(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || t.len() > 32 {
        return None;
    }
    let normalised = if t.contains(',') && !t.contains('.') {
        t.replace(',', ".")
    } else {
        t.to_owned()
    };
    normalised.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_language_comes_from_profile_cookie_header_in_that_order() {
        let h = headers(&[
            ("cookie", "a=b; mitai_lang=de"),
            ("accept-language", "en-US"),
        ]);
        assert_eq!(Lang::of_request(Some("en"), &h), Lang::En);
        assert_eq!(Lang::of_request(None, &h), Lang::De);
        let h = headers(&[("accept-language", "fr-FR, de;q=0.8, en;q=0.5")]);
        assert_eq!(Lang::of_request(None, &h), Lang::De);
        let h = headers(&[("accept-language", "en;q=0.4, de;q=0.9")]);
        assert_eq!(Lang::of_request(None, &h), Lang::De);
        let h = headers(&[("accept-language", "fr")]);
        assert_eq!(Lang::of_request(None, &h), Lang::En);
        assert_eq!(Lang::of_request(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn numbers_and_dates_follow_the_language() {
        assert_eq!(Lang::De.number(72.5, 1), "72,5");
        assert_eq!(Lang::En.number(72.5, 1), "72.5");
        assert_eq!(Lang::De.number(12345.67, 1), "12.345,7");
        assert_eq!(Lang::En.number(1234.0, 0), "1234");
        assert_eq!(Lang::En.number(-0.04, 1), "0.0");
        assert_eq!(Lang::De.number(-1.5, 1), "−1,5");
        assert_eq!(Lang::De.short_number(80.0, 1), "80");
        assert_eq!(Lang::De.short_number(72.50, 2), "72,5");
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(Lang::De.date(d), "31.12.2026");
        assert_eq!(Lang::En.date(d), "31 Dec 2026");
    }

    #[test]
    fn decimals_accept_a_comma() {
        assert_eq!(parse_decimal("72,5"), Some(72.5));
        assert_eq!(parse_decimal(" 72.5 "), Some(72.5));
        assert_eq!(parse_decimal("80"), Some(80.0));
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("7x"), None);
        assert_eq!(parse_decimal("NaN"), None);
        assert_eq!(parse_decimal("inf"), None);
    }
}
