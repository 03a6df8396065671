//! `/measurements`: circumferences in cm, a small chart per site, the change since the
//! first entry.

use askama::Template;
use axum::extract::State;
use chrono::NaiveDate;
use mitai_access::body::Units;
use mitai_access::{EntryData, EntryKind};
use serde_json::Map;

use super::{
    Built, ListQuery, Listing, chart_entries, common, finish, listing, measure, page_of, today,
};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::entries::kinds::CircumferenceType;
use crate::ui::charts::{self, Frame, LineChart};
use crate::ui::forms::{FieldErrors, FormData, Params};
use crate::ui::{Ctx, Lang, Member, UiResult, render_status};

page_handlers!(
    measurements_page,
    measurements_create,
    measurements_view,
    CircumferenceType,
    circumference_body
);

edit_handlers!(
    measurements_edit_page,
    measurements_edit_save,
    measurements_view,
    CircumferenceType,
    circumference_body
);

pub(super) const SITES_CM: [&str; 7] = ["neck", "chest", "waist", "hip", "thigh", "arm", "calf"];

fn circumference_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    for site in SITES_CM {
        measure(
            form,
            site,
            &format!("{site}_in"),
            |inches| Units::Imperial.length_to_cm(inches),
            false,
            lang,
            &mut body,
            &mut errors,
        );
    }
    if errors.is_empty() && !SITES_CM.iter().any(|s| body.contains_key(*s)) {
        let first = if form.0.iter().any(|(k, _)| k == "neck_in") {
            "neck_in"
        } else {
            "neck"
        };
        errors.add(first, lang.t("measurements.one_site"));
    }
    finish(body, errors)
}

#[derive(Template)]
#[template(path = "ui/measurements.html")]
struct MeasurementsPage {
    ctx: Ctx,
    list: Listing,
    /// Each site's field (in the person's units: `waist` or `waist_in`) and name.
    sites: Vec<(String, &'static str)>,
    length_unit: &'static str,
    charts: Vec<SiteChart>,
}

pub struct SiteChart {
    pub label: &'static str,
    pub chart: LineChart,
    pub latest: String,
    pub change: String,
}

async fn measurements_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<MeasurementsPage> {
    let lang = member.lang();
    let units = super::units(member);
    let unit = units.length_unit();
    let kind = EntryKind::Circumference;
    let (page, older) = page_of(state, member.profile(), kind, query.cursor.as_deref()).await?;
    let entries = chart_entries(state, member.profile(), kind, None).await?;
    let mut site_charts = Vec::new();
    for site in SITES_CM {
        let points: Vec<(NaiveDate, f64)> = entries
            .iter()
            .filter_map(|e| match &e.data {
                EntryData::Circumference(c) => {
                    site_value(c, site).map(|cm| (e.date, units.length_from_cm(cm)))
                }
                _ => None,
            })
            .collect();
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        let delta = last.1 - first.1;
        let change = if points.len() < 2 {
            String::new()
        } else {
            let sign = if delta > 0.0 { "+" } else { "" };
            format!("{sign}{} {unit}", lang.number(delta, 1))
        };
        site_charts.push(SiteChart {
            label: lang.t(&format!("site.{site}")),
            latest: format!("{} {unit}", lang.number(last.1, 1)),
            change,
            chart: charts::line_chart(
                Frame::plot(),
                vec![("raw".into(), lang.t(&format!("site.{site}")).into(), points)],
                &|v, d| lang.number(v, d),
                &|d| lang.short_date(d),
            ),
        });
    }
    Ok(MeasurementsPage {
        ctx: member.ctx("measurements", done),
        list: listing(lang, units, today(state, member), &page, older),
        sites: SITES_CM
            .iter()
            .map(|s| {
                let field = super::form_name(kind, units, s).unwrap_or_else(|| (*s).to_owned());
                (field, lang.t(&format!("site.{s}")))
            })
            .collect(),
        length_unit: unit,
        charts: site_charts,
    })
}

fn site_value(c: &mitai_access::entries::Circumference, site: &str) -> Option<f64> {
    match site {
        "neck" => c.neck_cm,
        "chest" => c.chest_cm,
        "waist" => c.waist_cm,
        "hip" => c.hip_cm,
        "thigh" => c.thigh_cm,
        "arm" => c.arm_cm,
        "calf" => c.calf_cm,
        _ => None,
    }
}
