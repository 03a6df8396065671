//! `/activity`: exercise entries (kind, minutes, kcal) and the weekly minutes chart. (The
//! audit trail is the *activity log*: `crate::ui::admin::activity_log`.)

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use chrono::{NaiveDate, TimeDelta};
use mitai_access::{EntryData, EntryKind};
use serde_json::{Map, json};

use super::{
    Built, ListQuery, Listing, chart_entries, common, finish, listing, number, page_of, today,
};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::entries::kinds::ActivityType;
use crate::ui::charts::{self, Frame};
use crate::ui::forms::{FieldErrors, FormData, Params};
use crate::ui::{Ctx, Lang, Member, UiResult, render_status};

page_handlers!(
    activity_page,
    activity_create,
    activity_view,
    ActivityType,
    activity_body
);

edit_handlers!(
    activity_edit_page,
    activity_edit_save,
    activity_view,
    ActivityType,
    activity_body
);

fn activity_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    body.insert("kind".into(), json!(form.get("kind")));
    match form.get("minutes").parse::<i64>() {
        Ok(m) => {
            body.insert("minutes".into(), json!(m));
        }
        Err(_) => errors.add("minutes", lang.t("field.whole_number")),
    }
    number(form, "kcal", false, lang, &mut body, &mut errors);
    finish(body, errors)
}

#[derive(Template)]
#[template(path = "ui/activity.html")]
struct ActivityPage {
    ctx: Ctx,
    list: Listing,
    /// The names of an entry's cells (kind, minutes, kcal), for narrow screens.
    columns: [&'static str; 3],
    weeks: Vec<(String, String)>,
    chart: charts::BarChart,
}

async fn activity_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<ActivityPage> {
    let lang = member.lang();
    let today = today(state, member);
    let kind = EntryKind::Activity;
    let (page, older) = page_of(state, member.profile(), kind, query.cursor.as_deref()).await?;
    // Minutes per ISO week, the last 12 weeks.
    let first_week = charts::week_start(today) - TimeDelta::weeks(11);
    let recent = chart_entries(state, member.profile(), kind, Some(first_week)).await?;
    let mut weeks: BTreeMap<NaiveDate, f64> = (0..12)
        .map(|i| (first_week + TimeDelta::weeks(i), 0.0))
        .collect();
    for e in &recent {
        if let EntryData::Activity(a) = &e.data {
            #[allow(clippy::cast_precision_loss)] // minutes of a week
            let minutes = a.minutes as f64;
            *weeks.entry(charts::week_start(e.date)).or_default() += minutes;
        }
    }
    // A week is named by its Monday's date ("8 Dec"), not by an ISO week number.
    let label = |d: &NaiveDate| lang.short_date(*d);
    Ok(ActivityPage {
        columns: [lang.t("f.kind"), lang.t("f.minutes"), "kcal"],
        ctx: member.ctx("activity", done),
        list: listing(lang, super::units(member), today, &page, older),
        weeks: weeks
            .iter()
            .rev()
            .map(|(d, m)| {
                (
                    lang.tf("activity.week_from", &[&lang.date(*d)]),
                    lang.short_number(*m, 0),
                )
            })
            .collect(),
        chart: charts::bar_chart(
            Frame::plot(),
            weeks.iter().map(|(d, m)| (label(d), *m)).collect(),
            &|v, d| lang.short_number(v, d),
        ),
    })
}
