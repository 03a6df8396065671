//! `/admin/users`: search, and a user's page that answers "why does this user have this
//! limit" for every feature — switched off, a personal limit, the tier by base tier, trial
//! or which grant, or the default — with personal limits, the grants on their timeline
//! (pause, resume, revoke, add), the profile's fields, recent activity and figures.

use crate::service::records::Grant;
use askama::Template;
use axum::extract::{Path, State};
use mitai_access::grants::GrantStatus;
use uuid::Uuid;

use super::{Admin, FormState, day_end, day_start, end_day_text, optional_number, tier_ids};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::Error;
use crate::service::admin::activity_log::ActivityParams;
use crate::service::admin::grants::{NewGrantBody, PauseBody};
use crate::service::admin::users::{ProfileOrder, RestrictionBody, UserPatch, UserQuery};
use crate::service::admin::{activity_log, grants as admin_grants, stats, users};
use crate::service::grants;
use crate::service::records::Role;
use crate::ui::charts::Timeline;
use crate::ui::forms::{FormData, Params, url_encode};
use crate::ui::plan::{GrantRow, feature_name, grant_timeline, tier_name};
use crate::ui::{Ctx, Lang, UiError, UiResult, render, render_status, see_other};

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    query: Option<String>,
    plan: Option<String>,
    role: Option<String>,
    status: Option<String>,
    trial_ending: Option<String>,
    at_limit: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

/// A filter's value, if one is given.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListQuery {
    /// The service's question. Unknown choices filter nothing.
    fn question(&self) -> UserQuery {
        UserQuery {
            query: given(&self.query).map(str::to_owned),
            plan: given(&self.plan).map(str::to_owned),
            role: given(&self.role).and_then(Role::parse),
            disabled: match given(&self.status) {
                Some("disabled") => Some(true),
                Some("enabled") => Some(false),
                _ => None,
            },
            trial_ending: given(&self.trial_ending) == Some("1"),
            at_limit: given(&self.at_limit) == Some("1"),
            order: match given(&self.sort) {
                Some("newest") => ProfileOrder::Newest,
                Some("email") => ProfileOrder::Email,
                _ => ProfileOrder::Oldest,
            },
        }
    }

    /// The filters as a query string (without a cursor), for links that keep them.
    fn params(&self) -> String {
        let pairs = [
            ("query", &self.query),
            ("plan", &self.plan),
            ("role", &self.role),
            ("status", &self.status),
            ("trial_ending", &self.trial_ending),
            ("at_limit", &self.at_limit),
            ("sort", &self.sort),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref()
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("{k}={}", url_encode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    fn value(v: &Option<String>) -> String {
        v.clone().unwrap_or_default()
    }
}

/// A profile in the list.
pub struct Row {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub tier: String,
    pub role: String,
    pub status: &'static str,
    pub trial: String,
}

#[derive(Template)]
#[template(path = "ui/admin/users.html")]
struct UsersPage {
    ctx: Ctx,
    query: String,
    /// (value, words, selected) of each filter's choices.
    plans: Vec<(String, String, bool)>,
    roles: Vec<(&'static str, &'static str, bool)>,
    statuses: Vec<(&'static str, &'static str, bool)>,
    sorts: Vec<(&'static str, &'static str, bool)>,
    trial_ending: bool,
    at_limit: bool,
    csv: String,
    items: Vec<Row>,
    next: Option<String>,
}

/// Profiles per page of the list.
const PAGE: i64 = 100;

pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<ListQuery>,
) -> UiResult {
    let lang = admin.lang();
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let question = q.question();
    let (items, next) = users::find(&state, &question, PAGE, q.cursor.clone()).await?;
    let params = q.params();
    let choose = |v: &Option<String>, options: &[(&'static str, &'static str)]| {
        let current = ListQuery::value(v);
        options
            .iter()
            .map(|(value, key)| (*value, lang.t(key), current == *value))
            .collect::<Vec<_>>()
    };
    let plan = ListQuery::value(&q.plan);
    render(&UsersPage {
        ctx: admin.ctx(q.done.as_deref()),
        plans: registry
            .tiers()
            .iter()
            .map(|t| {
                (
                    t.id.clone(),
                    tier_name(lang, &registry, &t.id),
                    plan == t.id,
                )
            })
            .collect(),
        roles: choose(
            &q.role,
            &[
                ("", "admin.any"),
                ("user", "value.user"),
                ("admin", "value.admin"),
            ],
        ),
        statuses: choose(
            &q.status,
            &[
                ("", "admin.any"),
                ("enabled", "admin.enabled"),
                ("disabled", "admin.disabled"),
            ],
        ),
        sorts: choose(
            &q.sort,
            &[
                ("", "admin.sort_oldest"),
                ("newest", "admin.sort_newest"),
                ("email", "admin.sort_email"),
            ],
        ),
        trial_ending: question.trial_ending,
        at_limit: question.at_limit,
        csv: format!("/admin/users/export.csv?{params}"),
        items: items
            .into_iter()
            .map(|p| Row {
                tier: tier_name(lang, &registry, &p.effective_tier),
                status: lang.t(if p.disabled {
                    "admin.disabled"
                } else {
                    "admin.enabled"
                }),
                trial: p
                    .trial_ends_at
                    .filter(|t| *t > state.now())
                    .map(|t| lang.datetime(t, tz))
                    .unwrap_or_default(),
                id: p.id,
                email: p.email,
                role: lang.t(&format!("value.{}", p.role)).to_owned(),
                name: p.name,
            })
            .collect(),
        next: next.map(|c| format!("/admin/users?{params}&cursor={}", url_encode(&c))),
        query: ListQuery::value(&q.query),
    })
}

/// `GET /admin/users/export.csv`: the filtered list, every page of it.
pub async fn export(
    State(state): State<AppState>,
    _admin: Admin,
    Params(q): Params<ListQuery>,
) -> UiResult {
    use axum::http::header;
    use axum::response::IntoResponse;
    let csv = users::export_csv(&state, &q.question()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"users.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// One feature on the user's page: the limit now, and why.
pub struct FeatureRow {
    pub id: String,
    pub name: String,
    pub limit: String,
    pub used: String,
    pub why: String,
    pub enabled: bool,
    /// The personal limit in words ("12", "unlimited", "off"); empty without one.
    pub personal_words: String,
    /// The form's values: the number, the choice (`number`, `unlimited`, `off`), the
    /// reason and the last day.
    pub personal: String,
    pub choice: &'static str,
    pub reason: String,
    pub until: String,
    pub has_personal: bool,
    /// The form is open: being edited, refused or awaiting confirmation.
    pub open: bool,
    pub error: Option<String>,
    /// A generous choice waits for confirmation: what it gives, in words.
    pub confirm: Option<String>,
}

/// A grant with what an admin may do with it now.
pub struct GrantItem {
    pub id: Uuid,
    pub tier: String,
    pub status: &'static str,
    pub status_key: &'static str,
    pub source: String,
    pub detail: String,
    pub can_pause: bool,
    pub can_resume: bool,
    pub can_revoke: bool,
}

#[derive(Template)]
#[template(path = "ui/admin/user.html")]
struct UserPage {
    ctx: Ctx,
    id: Uuid,
    email: String,
    effective_tier: String,
    tier_ids: String,
    profile: FormState,
    grant: FormState,
    error: Option<String>,
    features: Vec<FeatureRow>,
    grants: Vec<GrantItem>,
    timeline: Timeline,
    stats: Vec<(&'static str, String)>,
    activity: Vec<(String, String, String)>,
    /// Payments (when they are on): the subscription in words and the payments.
    billing: Option<UserBilling>,
}

pub struct UserBilling {
    pub state: Option<String>,
    pub payments: Vec<crate::ui::billing::PaymentRow>,
}

fn user_id(id: &str) -> UiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| UiError::NotFound)
}

/// Why the tier of `profile` is what it is: base tier, trial, or which running grant.
fn tier_reason(
    lang: Lang,
    state: &AppState,
    profile: &crate::service::records::Profile,
    tier: &str,
    running: &[&Grant],
) -> String {
    let registry = state.registry();
    let name = tier_name(lang, &registry, tier);
    if let Some(g) = running.iter().find(|g| g.tier_id == tier) {
        let which = g
            .coupon_code
            .clone()
            .unwrap_or_else(|| lang.t("plan.from_admin").to_owned());
        return lang.tf("admin.why_tier_grant", &[&name, &which]);
    }
    let in_trial = profile.trial_ends_at.is_some_and(|e| e > state.now());
    if in_trial && registry.settings.trial_tier == tier && profile.tier != tier {
        return lang.tf("admin.why_tier_trial", &[&name]);
    }
    lang.tf("admin.why_tier_base", &[&name])
}

async fn user_page(
    state: &AppState,
    admin: &Admin,
    id: Uuid,
    done: Option<&str>,
) -> UiResult<UserPage> {
    let lang = admin.lang();
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let profile = users::load(state, id).await?;
    let access = users::access(state, id).await?;
    let restrictions = users::restrictions(state, id).await?;
    let list = crate::service::grants::of_profile(state, id).await?;
    let now = state.now();
    let (rows, timeline, running) = grant_timeline(lang, &registry, &profile, &list, now);
    let running_grants: Vec<&Grant> = running.iter().map(|&i| &list[i]).collect();
    let tier_why = tier_reason(
        lang,
        state,
        &profile,
        &access.effective_tier,
        &running_grants,
    );
    let timeline_states = grants::profile_timeline(&registry, &profile, &list, now);
    let features = access
        .features
        .iter()
        .map(|a| {
            let r = restrictions.iter().find(|r| r.feature_id == a.feature);
            let why = match a.source.as_str() {
                "feature_inactive" => lang.t("admin.why_inactive").to_owned(),
                "user_restriction" => {
                    let r = r.map(|r| r.reason.clone()).unwrap_or_default();
                    match restrictions
                        .iter()
                        .find(|x| x.feature_id == a.feature)
                        .and_then(|x| x.valid_until)
                    {
                        Some(until) => {
                            lang.tf("admin.why_personal_until", &[&r, &lang.datetime(until, tz)])
                        }
                        None => lang.tf("admin.why_personal", &[&r]),
                    }
                }
                "tier_limit" => tier_why.clone(),
                _ => lang.t("admin.why_default").to_owned(),
            };
            FeatureRow {
                id: a.feature.clone(),
                name: feature_name(lang, &registry, &a.feature),
                limit: match (a.enabled, a.limit) {
                    (false, _) => lang.t("plan.off").to_owned(),
                    (true, None) => lang.t("plan.unlimited").to_owned(),
                    (true, Some(n)) => lang.number(n as f64, 0),
                },
                used: lang.number(a.used as f64, 0),
                why,
                enabled: a.enabled,
                personal_words: r
                    .map(|r| match r.limit {
                        None => lang.t("plan.unlimited").to_owned(),
                        Some(0) => lang.t("plan.off").to_owned(),
                        Some(n) => lang.number(n as f64, 0),
                    })
                    .unwrap_or_default(),
                personal: r
                    .and_then(|r| r.limit.filter(|n| *n > 0))
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                choice: match r.map(|r| r.limit) {
                    Some(None) => "unlimited",
                    Some(Some(0)) => "off",
                    _ => "number",
                },
                reason: r.map(|r| r.reason.clone()).unwrap_or_default(),
                until: end_day_text(r.and_then(|r| r.valid_until), tz),
                has_personal: r.is_some(),
                open: false,
                error: None,
                confirm: None,
            }
        })
        .collect();
    let grant_items = list
        .iter()
        .zip(rows)
        .enumerate()
        .rev()
        .map(|(i, (g, row)): (usize, (&Grant, GrantRow))| {
            let status = timeline_states.state(i).status;
            let live = !matches!(status, GrantStatus::Expired | GrantStatus::Revoked);
            GrantItem {
                id: g.id,
                can_pause: live && status != GrantStatus::PausedAdmin,
                can_resume: status == GrantStatus::PausedAdmin,
                can_revoke: status != GrantStatus::Revoked,
                tier: row.tier,
                status: row.status,
                status_key: row.status_key,
                source: row.source,
                detail: row.detail,
            }
        })
        .collect();
    let user_stats = stats::user(state, id).await?;
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| lang.datetime(t, tz))
            .unwrap_or_else(|| "–".into())
    };
    let (recent, _) = activity_log::list(
        state,
        &ActivityParams {
            profile_id: Some(id.to_string()),
            action: None,
            since: None,
            limit: Some("15".into()),
            cursor: None,
        },
    )
    .await?;
    let billing = if crate::service::billing::enabled(state) {
        let view = crate::service::billing::billing_of(state, id).await?;
        Some(UserBilling {
            state: crate::ui::billing::subscription_words(lang, &registry, &view).map(|(w, _)| w),
            payments: crate::ui::billing::payment_rows(lang, &registry, &view),
        })
    } else {
        None
    };
    Ok(UserPage {
        billing,
        ctx: admin.ctx(done),
        id,
        email: profile.email.clone(),
        effective_tier: tier_name(lang, &registry, &access.effective_tier),
        tier_ids: tier_ids(state),
        profile: FormState::default()
            .with("tier", profile.tier.clone())
            .with("role", profile.role.as_str())
            .with("trial_ends_at", end_day_text(profile.trial_ends_at, tz))
            .with("disabled", if profile.disabled { "1" } else { "0" }),
        grant: FormState::default()
            .with("tier", registry.settings.trial_tier.clone())
            .with("days", "30"),
        error: None,
        features,
        grants: grant_items,
        timeline,
        stats: vec![
            (
                lang.t("admin.stat_created"),
                lang.datetime(profile.created_at, tz),
            ),
            (lang.t("admin.stat_logins"), user_stats.logins.to_string()),
            (
                lang.t("admin.stat_last_login"),
                when(user_stats.last_login_at),
            ),
            (
                lang.t("admin.stat_last_active"),
                when(user_stats.last_active_at),
            ),
            (
                lang.t("admin.stat_redemptions"),
                user_stats.redemptions.to_string(),
            ),
        ],
        activity: recent
            .into_iter()
            .map(|e| {
                (
                    lang.datetime(e.created_at, tz),
                    super::activity_log::action_words(lang, &e.action),
                    super::activity_log::summary(lang, &registry, tz, &e.details),
                )
            })
            .collect(),
    })
}

pub async fn detail(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Params(q): Params<ListQuery>,
) -> UiResult {
    render(&user_page(&state, &admin, user_id(&id)?, q.done.as_deref()).await?)
}

/// The user's page again with a refusal (a field message or a general one).
async fn refused(state: &AppState, admin: &Admin, id: Uuid, e: Error) -> UiResult {
    let status = crate::ui::status_of(&e);
    let mut form = FormState::default();
    form.refused(admin.lang(), e)?;
    let mut page = user_page(state, admin, id, None).await?;
    page.error = form
        .general
        .or_else(|| form.errors.0.values().next().cloned());
    render_status(status, &page)
}

pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = user_id(&id)?;
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let mut errors = crate::ui::forms::FieldErrors::default();
    let trial = day_end(&form, "trial_ends_at", tz, lang, &mut errors);
    if !errors.is_empty() {
        return refused(
            &state,
            &admin,
            id,
            Error::Invalid {
                message: String::new(),
                fields: errors.0,
            },
        )
        .await;
    }
    let patch = UserPatch {
        tier: Some(form.get("tier").to_owned()),
        role: Some(form.get("role").to_owned()),
        disabled: Some(form.get("disabled") == "1"),
        trial_ends_at: Some(trial),
    };
    match users::update(&state, admin.profile(), ip, id, patch).await {
        Ok(_) => Ok(see_other(&format!("/admin/users/{id}?done=saved"))),
        Err(e) => refused(&state, &admin, id, e).await,
    }
}

pub async fn add_grant(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = user_id(&id)?;
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let mut errors = crate::ui::forms::FieldErrors::default();
    let starts_at = day_start(&form, "starts_at", tz, lang, &mut errors);
    let ends_at = day_end(&form, "ends_at", tz, lang, &mut errors);
    // A window when both days are given; else the days of access time.
    let days = if starts_at.is_some() || ends_at.is_some() {
        None
    } else {
        optional_number(&form, "days", lang, &mut errors)
    };
    if !errors.is_empty() {
        return refused(
            &state,
            &admin,
            id,
            Error::Invalid {
                message: String::new(),
                fields: errors.0,
            },
        )
        .await;
    }
    let body = NewGrantBody {
        tier: form.get("tier").to_owned(),
        days,
        starts_at,
        ends_at,
    };
    match admin_grants::create(&state, admin.profile(), ip, id, body).await {
        Ok(_) => Ok(see_other(&format!("/admin/users/{id}?done=grant_added"))),
        Err(e) => refused(&state, &admin, id, e).await,
    }
}

/// `POST /admin/users/{id}/restrictions/{feature}`: `do=set` (`limit`, `reason`,
/// `valid_until`) or `do=clear`.
pub async fn restriction(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path((id, feature)): Path<(String, String)>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = user_id(&id)?;
    let lang = admin.lang();
    if form.get("do") == "clear" {
        return match users::clear_restriction(&state, admin.profile(), ip, id, &feature).await {
            Ok(()) | Err(Error::NotFound) => Ok(see_other(&format!(
                "/admin/users/{id}?done=restriction_cleared"
            ))),
            Err(e) => refused(&state, &admin, id, e).await,
        };
    }
    let registry = state.registry();
    if registry.feature_by_id(&feature).is_none() {
        return Err(Error::NotFound.into());
    }
    let tz = registry.settings.usage_timezone;
    let mut errors = crate::ui::forms::FieldErrors::default();
    let valid_until = day_end(&form, "valid_until", tz, lang, &mut errors);
    // The choice is explicit: a number, unlimited or off. An empty number is not
    // "unlimited" — that took a click on "Set" to give away unlimited use.
    let choice = match form.get("choice") {
        "unlimited" => "unlimited",
        "off" => "off",
        _ => "number",
    };
    let limit = match choice {
        "unlimited" => None,
        "off" => Some(0),
        _ => match form.get("limit").trim() {
            "" => {
                errors.add("limit", lang.t("admin.limit_choose"));
                None
            }
            text => match text.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    errors.add("limit", lang.t("field.whole_number"));
                    None
                }
            },
        },
    };
    let reason = form.get("reason").trim();
    if reason.is_empty() {
        errors.add("reason", lang.t("admin.reason_required"));
    }
    let again = |error: Option<String>, confirm: Option<String>| RestrictionForm {
        feature: feature.clone(),
        choice,
        limit: form.get("limit").to_owned(),
        reason: form.get("reason").to_owned(),
        until: form.get("valid_until").to_owned(),
        error,
        confirm,
    };
    if !errors.is_empty() {
        let why = errors.0.values().cloned().collect::<Vec<_>>().join(" ");
        return restriction_again(&state, &admin, id, again(Some(why), None)).await;
    }
    // More than the person's plan gives is confirmed first, saying what it gives.
    if form.get("confirm") != "1"
        && let Some(words) = generous(&state, lang, id, &feature, limit).await?
    {
        return restriction_again(&state, &admin, id, again(None, Some(words))).await;
    }
    let body = RestrictionBody {
        limit: Some(limit),
        reason: reason.to_owned(),
        valid_until,
    };
    match users::set_restriction(&state, admin.profile(), ip, id, &feature, body).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/users/{id}?done=restriction_set"
        ))),
        Err(e) => refused(&state, &admin, id, e).await,
    }
}

/// A personal-limit form sent back: its values, and a refusal or a question.
struct RestrictionForm {
    feature: String,
    choice: &'static str,
    limit: String,
    reason: String,
    until: String,
    error: Option<String>,
    confirm: Option<String>,
}

/// The user's page with one personal-limit form open again: refused (422) or asking to
/// confirm a generous choice (200).
async fn restriction_again(
    state: &AppState,
    admin: &Admin,
    id: Uuid,
    form: RestrictionForm,
) -> UiResult {
    let mut page = user_page(state, admin, id, None).await?;
    let status = if form.error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    if let Some(row) = page.features.iter_mut().find(|f| f.id == form.feature) {
        row.open = true;
        row.choice = form.choice;
        row.personal = form.limit;
        row.reason = form.reason;
        row.until = form.until;
        row.error = form.error;
        row.confirm = form.confirm;
    }
    render_status(status, &page)
}

/// What a personal limit gives, in words, when it is more than the person's plan gives
/// (unlimited, or a higher number); `None` when it is not more.
async fn generous(
    state: &AppState,
    lang: Lang,
    id: Uuid,
    feature: &str,
    limit: Option<i64>,
) -> Result<Option<String>, UiError> {
    let registry = state.registry();
    let access = users::access(state, id).await?;
    let plan = registry
        .feature_idx(feature)
        .map(|f| {
            let tier = registry.tier_idx(&access.effective_tier);
            tier.and_then(|t| registry.tier_limit(t, f))
                .unwrap_or(registry.feature(f).default_limit)
        })
        .unwrap_or(Some(0));
    let name = feature_name(lang, &registry, feature);
    Ok(match (plan, limit) {
        (Some(_), None) => Some(lang.tf("admin.confirm_unlimited", &[&name])),
        (Some(p), Some(n)) if n > p => Some(lang.tf(
            "admin.confirm_more",
            &[&name, &lang.number(n as f64, 0), &lang.number(p as f64, 0)],
        )),
        _ => None,
    })
}

/// `POST /admin/grants/{id}/{pause|resume|revoke}` (`user`: the page to come back to).
pub async fn change_grant(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path((grant, change)): Path<(String, String)>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let grant = user_id(&grant)?;
    let user = user_id(form.get("user"))?;
    let done = match change.as_str() {
        "pause" => {
            let body = PauseBody {
                reason: form.get("reason").to_owned(),
            };
            admin_grants::pause(&state, admin.profile(), ip, grant, body)
                .await
                .map(drop)
        }
        "resume" => admin_grants::resume(&state, admin.profile(), ip, grant)
            .await
            .map(drop),
        "revoke" => admin_grants::revoke(&state, admin.profile(), ip, grant).await,
        _ => return Err(UiError::NotFound),
    };
    match done {
        Ok(()) => Ok(see_other(&format!(
            "/admin/users/{user}?done=grant_changed"
        ))),
        Err(e) => refused(&state, &admin, user, e).await,
    }
}
