//! Accounts in the browser: sign in and out, registration (open, invite-only, closed;
//! invitation links), forgotten passwords, the pages of the e-mailed links, the language
//! switch, and `/account` (name, language, password, sessions, exports, invitations).

use crate::service::records::Role;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use mitai_access::RegistrationMode;
use mitai_access::body::Units;
use mitai_access::text::Name;
use serde::Deserialize;

use super::forms::{FieldErrors, FormData, Params, safe_next};
use super::{
    Ctx, Lang, Member, UiError, UiResult, Visitor, parse_decimal, refusal, render, render_status,
};
use crate::http::auth::{self, SESSION_DAYS};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::export::Format;
use crate::service::profiles::{OwnProfileChange, OwnProfilePatch};
use crate::service::{Error, ErrorCode};
use crate::service::{accounts, invitations, passwords, profiles, verification};

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    next: Option<String>,
    token: Option<String>,
    invitation: Option<String>,
    done: Option<String>,
}

fn token_from(q: &PageQuery, field: fn(&PageQuery) -> Option<&String>) -> String {
    field(q)
        .cloned()
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .unwrap_or_default()
}

// --- sign in ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    ctx: Ctx,
    email: String,
    next: String,
    error: Option<String>,
}

pub async fn login_page(visitor: Visitor, Params(query): Params<PageQuery>) -> UiResult {
    let next = safe_next(&token_from(&query, |q| q.next.as_ref())).to_owned();
    if visitor.user.is_some() {
        return Ok(super::see_other(&next));
    }
    let done = query.done.clone();
    render(&LoginPage {
        ctx: visitor.ctx("login", done.as_deref()),
        email: String::new(),
        next,
        error: None,
    })
}

pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: FormData,
) -> UiResult {
    let email = form.get("email").to_owned();
    let next = safe_next(form.get("next")).to_owned();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lang = visitor.lang;
    let refused = |status: StatusCode, error: String| {
        render_status(
            status,
            &LoginPage {
                ctx: visitor.ctx("login", None),
                email: email.clone(),
                next: next.clone(),
                error: Some(error),
            },
        )
    };
    match accounts::login(&state, &email, form.raw("password"), user_agent, ip).await {
        Ok(login) => {
            let mut response = super::see_other(&next);
            response.headers_mut().insert(
                header::SET_COOKIE,
                auth::session_cookie(&state, &login.token, SESSION_DAYS * 86_400),
            );
            Ok(response)
        }
        Err(Error::RateLimited { retry_after_secs }) => refused(
            StatusCode::TOO_MANY_REQUESTS,
            lang.tf("login.rate_limited", &[&minutes(retry_after_secs)]),
        ),
        Err(e) if e.code() == ErrorCode::AccountDisabled => {
            refused(StatusCode::FORBIDDEN, lang.t("login.disabled").into())
        }
        Err(e) if e.code() == ErrorCode::InvalidCredentials => {
            refused(StatusCode::UNAUTHORIZED, lang.t("login.wrong").into())
        }
        // Not an address at all (control characters, far too long).
        Err(Error::Invalid { .. }) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang.t("field.email").into(),
        ),
        Err(e) => Err(e.into()),
    }
}

fn minutes(secs: u64) -> String {
    secs.div_ceil(60).max(1).to_string()
}

pub async fn logout(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    accounts::logout(&state, &member.user, ip).await?;
    Ok(signed_out(&state, "/login?done=signed_out"))
}

/// 303 to `path` with the session cookie cleared.
fn signed_out(state: &AppState, path: &str) -> Response {
    let mut response = super::see_other(path);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, auth::session_cookie(state, "", 0));
    response
}

// --- language -----------------------------------------------------------------------------

/// `POST /language` (`language`, `next`): the `mitai_lang` cookie, and the profile's
/// language when signed in.
pub async fn set_language(
    State(state): State<AppState>,
    visitor: Visitor,
    form: FormData,
) -> UiResult {
    let lang = Lang::parse(form.get("language")).unwrap_or(visitor.lang);
    if let Some(user) = &visitor.user {
        form.check_csrf(user)?;
        let change = profiles::OwnProfileChange {
            language: Some(lang.code().to_owned()),
            ..Default::default()
        };
        profiles::change_own_profile(&state, &user.profile, change).await?;
    }
    let mut response = super::see_other(safe_next(form.get("next")));
    let cookie = format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        super::i18n::LANG_COOKIE,
        lang.code()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

// --- registration -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/register.html")]
struct RegisterPage {
    ctx: Ctx,
    open: bool,
    invited: bool,
    invitation: String,
    email: String,
    /// The person's name (not `name`: the field macro's own parameter is called that).
    person_name: String,
    language: String,
    errors: FieldErrors,
    error: Option<String>,
    done: Option<String>,
}

impl RegisterPage {
    fn new(ctx: Ctx) -> RegisterPage {
        let language = ctx.lang.code().to_owned();
        RegisterPage {
            ctx,
            open: true,
            invited: false,
            invitation: String::new(),
            email: String::new(),
            person_name: String::new(),
            language,
            errors: FieldErrors::default(),
            error: None,
            done: None,
        }
    }
}

/// The registration page: open, or only with an invitation, or closed (said so).
async fn registration(state: &AppState, visitor: &Visitor, invitation: &str) -> UiResult {
    let mut page = RegisterPage::new(visitor.ctx("register", None));
    let lang = visitor.lang;
    let mode = state.registry().settings.registration_mode;
    if !invitation.is_empty() {
        let found = invitations::find(state, invitation).await?;
        match found {
            Some(invite) if mode != RegistrationMode::Closed => {
                page.invited = true;
                page.invitation = invitation.to_owned();
                page.email = invite.email;
            }
            Some(_) => {
                page.open = false;
                page.error = Some(lang.t("register.closed").into());
            }
            None => {
                page.open = false;
                page.error = Some(lang.t("register.bad_invitation").into());
                return render_status(StatusCode::BAD_REQUEST, &page);
            }
        }
        return render(&page);
    }
    match mode {
        RegistrationMode::Open => {}
        RegistrationMode::InviteOnly => {
            page.open = false;
            page.error = Some(lang.t("register.invite_only").into());
        }
        RegistrationMode::Closed => {
            page.open = false;
            page.error = Some(lang.t("register.closed").into());
        }
    }
    render(&page)
}

pub async fn register_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Params(query): Params<PageQuery>,
) -> UiResult {
    let invitation = token_from(&query, |q| q.invitation.as_ref());
    registration(&state, &visitor, &invitation).await
}

/// `/invitation?token=`, the link of an invitation mail: the registration form with it.
pub async fn invitation_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Params(query): Params<PageQuery>,
) -> UiResult {
    let token = token_from(&query, |q| q.token.as_ref());
    if token.is_empty() {
        let mut page = RegisterPage::new(visitor.ctx("register", None));
        page.open = false;
        page.error = Some(visitor.lang.t("register.bad_invitation").into());
        return render_status(StatusCode::BAD_REQUEST, &page);
    }
    registration(&state, &visitor, &token).await
}

pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    let lang = visitor.lang;
    let mut page = RegisterPage::new(visitor.ctx("register", None));
    page.email = form.get("email").to_owned();
    page.person_name = form.get("name").to_owned();
    page.language = Lang::parse(form.get("language"))
        .unwrap_or(lang)
        .code()
        .to_owned();
    page.invitation = form.get("invitation").to_owned();
    page.invited = !page.invitation.is_empty();
    let checked = accounts::check_registration(
        &page.email,
        form.raw("password"),
        Some(&page.person_name),
        Some(&page.language),
    );
    let registration = match checked {
        Ok(r) => r,
        Err(Error::Invalid { fields, .. }) => {
            page.errors = FieldErrors::from_api(lang, &fields);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return Err(e.into()),
    };
    let invitation = (!page.invitation.is_empty()).then_some(page.invitation.as_str());
    match accounts::register(&state, registration, invitation, ip).await {
        Ok(profile) => {
            page.done = Some(if profile.email_verified {
                lang.t("register.ready").into()
            } else {
                lang.tf("register.check_mail", &[&profile.email])
            });
            render_status(StatusCode::CREATED, &page)
        }
        Err(e) => {
            let status = super::status_of(&e);
            match e.code() {
                ErrorCode::EmailTaken => page.errors.add("email", lang.t("register.taken")),
                ErrorCode::RegistrationClosed => {
                    page.open = false;
                    page.error = Some(lang.t("register.closed").into());
                }
                ErrorCode::InvalidToken => {
                    page.error = Some(lang.t("register.bad_invitation").into());
                }
                ErrorCode::RateLimited => {
                    page.error = Some(lang.t("error.rate_limited_text").into())
                }
                _ => return Err(e.into()),
            }
            render_status(status, &page)
        }
    }
}

// --- forgotten password and the e-mailed links --------------------------------------------

/// A page with one small form (or none): forgotten password, the verification and reset
/// links.
#[derive(Template)]
#[template(path = "ui/simple_form.html")]
struct SimpleForm {
    ctx: Ctx,
    title: &'static str,
    intro: Option<&'static str>,
    status: Option<&'static str>,
    error: Option<&'static str>,
    show_form: bool,
    action: &'static str,
    hidden: Vec<(&'static str, String)>,
    fields: Vec<Field>,
    submit: &'static str,
    links: Vec<(&'static str, &'static str)>,
}

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub autocomplete: &'static str,
}

impl SimpleForm {
    fn new(ctx: Ctx, title: &'static str, action: &'static str, submit: &'static str) -> Self {
        SimpleForm {
            ctx,
            title,
            intro: None,
            status: None,
            error: None,
            show_form: true,
            action,
            hidden: Vec::new(),
            fields: Vec::new(),
            submit,
            links: Vec::new(),
        }
    }
}

fn forgot_form(visitor: &Visitor) -> SimpleForm {
    let lang = visitor.lang;
    let mut page = SimpleForm::new(
        visitor.ctx("login", None),
        lang.t("forgot.title"),
        "/forgot-password",
        lang.t("forgot.submit"),
    );
    page.intro = Some(lang.t("forgot.intro"));
    page.fields.push(Field {
        name: "email",
        label: lang.t("f.email"),
        kind: "email",
        value: String::new(),
        error: None,
        autocomplete: "email",
    });
    page.links.push(("/login", lang.t("login.title")));
    page
}

pub async fn forgot_page(visitor: Visitor) -> UiResult {
    render(&forgot_form(&visitor))
}

pub async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    // The same answer whether the address has an account or not, and whether this
    // request was one too many (then simply no mail goes out).
    match passwords::request_reset(&state, form.raw("email"), ip).await {
        Ok(()) | Err(Error::RateLimited { .. }) => {}
        Err(Error::Invalid { fields, .. }) => {
            // Not an address at all: said at the field.
            let mut page = forgot_form(&visitor);
            let errors = FieldErrors::from_api(visitor.lang, &fields);
            for f in &mut page.fields {
                f.error = errors.get(f.name).map(str::to_owned);
            }
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return Err(e.into()),
    }
    let mut page = forgot_form(&visitor);
    page.show_form = false;
    page.intro = None;
    page.status = Some(visitor.lang.t("forgot.sent"));
    render(&page)
}

pub async fn verify_page(visitor: Visitor, Params(query): Params<PageQuery>) -> UiResult {
    let lang = visitor.lang;
    let token = token_from(&query, |q| q.token.as_ref());
    let mut page = SimpleForm::new(
        visitor.ctx("", None),
        lang.t("verify.title"),
        "/verify-email",
        lang.t("verify.submit"),
    );
    if token.is_empty() {
        page.show_form = false;
        page.error = Some(lang.t("verify.invalid"));
        return render_status(StatusCode::BAD_REQUEST, &page);
    }
    page.intro = Some(lang.t("verify.intro"));
    page.hidden.push(("token", token));
    render(&page)
}

pub async fn verify(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    let lang = visitor.lang;
    let mut page = SimpleForm::new(
        visitor.ctx("", None),
        lang.t("verify.title"),
        "/verify-email",
        lang.t("verify.submit"),
    );
    page.show_form = false;
    match verification::verify_email(&state, form.get("token"), ip).await {
        Ok(_) => {
            page.status = Some(lang.t("verify.done"));
            page.links.push(if visitor.user.is_some() {
                ("/", lang.t("nav.dashboard"))
            } else {
                ("/login", lang.t("login.title"))
            });
            render(&page)
        }
        Err(e) if e.code() == ErrorCode::InvalidToken => {
            page.error = Some(lang.t("verify.invalid"));
            render_status(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

fn reset_form(visitor: &Visitor, token: String) -> SimpleForm {
    let lang = visitor.lang;
    let mut page = SimpleForm::new(
        visitor.ctx("login", None),
        lang.t("reset.title"),
        "/reset-password",
        lang.t("reset.submit"),
    );
    page.hidden.push(("token", token));
    page.fields.push(Field {
        name: "password",
        label: lang.t("f.new_password"),
        kind: "password",
        value: String::new(),
        error: None,
        autocomplete: "new-password",
    });
    page
}

pub async fn reset_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Params(query): Params<PageQuery>,
) -> UiResult {
    let token = token_from(&query, |q| q.token.as_ref());
    let usable = passwords::reset_link_usable(&state, &token).await?;
    let mut page = reset_form(&visitor, token);
    if !usable {
        page.show_form = false;
        page.error = Some(visitor.lang.t("reset.invalid"));
        page.links
            .push(("/forgot-password", visitor.lang.t("forgot.title")));
        return render_status(StatusCode::BAD_REQUEST, &page);
    }
    render(&page)
}

pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    let lang = visitor.lang;
    let mut page = reset_form(&visitor, form.get("token").to_owned());
    match passwords::confirm_reset(&state, form.get("token"), form.raw("password"), ip).await {
        Ok(_) => {
            page.show_form = false;
            page.status = Some(lang.t("reset.done"));
            page.links.push(("/login", lang.t("login.title")));
            render(&page)
        }
        Err(Error::Invalid { fields, .. }) => {
            let errors = FieldErrors::from_api(lang, &fields);
            page.fields[0].error = errors.get("password").map(str::to_owned);
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) if e.code() == ErrorCode::InvalidToken => {
            page.show_form = false;
            page.error = Some(lang.t("reset.invalid"));
            page.links
                .push(("/forgot-password", lang.t("forgot.title")));
            render_status(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

// --- /account -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/account.html")]
struct AccountPage {
    ctx: Ctx,
    /// The person's name (not `name`: the field macro's own parameter is called that).
    person_name: String,
    language: String,
    /// The facts, as the form shows them (in the profile's units).
    body: BodyForm,
    email: String,
    verified: bool,
    can_invite: bool,
    invite_email: String,
    exports: Vec<ExportButton>,
    reminder: ReminderForm,
    errors: FieldErrors,
    refusal: Option<super::Refusal>,
}

/// The weigh-in reminder as the account form shows it.
pub struct ReminderForm {
    /// (value, label, checked) for each weekday, Monday first.
    pub days: Vec<(&'static str, &'static str, bool)>,
    /// `HH:MM` or empty.
    pub time: String,
    /// The time zone the time is in.
    pub zone: String,
}

impl ReminderForm {
    fn of(lang: Lang, state: &AppState, profile: &crate::service::records::Profile) -> Self {
        let bits = profile.body.reminder_days;
        ReminderForm {
            days: mitai_access::body::WEEKDAYS
                .iter()
                .enumerate()
                .map(|(i, d)| (*d, lang.t(&format!("day.{d}")), bits & (1 << i) != 0))
                .collect(),
            time: profile.body.reminder_time.clone().unwrap_or_default(),
            zone: profiles::timezone_of(state, profile).name().to_owned(),
        }
    }
}

/// The body facts as the account form shows and takes them: lengths and weights in the
/// profile's units, the fields named by their unit (`height_cm` / `height_in`,
/// `goal_weight_kg` / `goal_weight_lb`).
pub struct BodyForm {
    pub imperial: bool,
    pub height: String,
    pub birth_date: String,
    pub sex: String,
    pub timezone: String,
    pub goal_weight: String,
}

impl BodyForm {
    fn of(lang: Lang, profile: &crate::service::records::Profile) -> BodyForm {
        let units = profiles::units_of(profile);
        let body = &profile.body;
        let decimal = |v: f64| lang.short_number(v, 1);
        BodyForm {
            imperial: units == Units::Imperial,
            height: body
                .height_cm
                .map(|cm| decimal(units.length_from_cm(cm)))
                .unwrap_or_default(),
            birth_date: body.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            sex: body.sex.clone().unwrap_or_default(),
            timezone: body.timezone.clone().unwrap_or_default(),
            goal_weight: body
                .goal_weight_kg
                .map(|kg| decimal(units.weight_from_kg(kg)))
                .unwrap_or_default(),
        }
    }

    /// The names of the fields in these units.
    pub fn height_field(&self) -> &'static str {
        if self.imperial {
            "height_in"
        } else {
            "height_cm"
        }
    }

    pub fn goal_field(&self) -> &'static str {
        if self.imperial {
            "goal_weight_lb"
        } else {
            "goal_weight_kg"
        }
    }
}

/// The facts of a posted account form as the API's patch (metric), or the field that is
/// not a number. An empty field clears its fact.
fn body_patch(form: &FormData) -> Result<OwnProfilePatch, &'static str> {
    let number = |metric: &'static str,
                  imperial: &'static str,
                  to_metric: fn(f64) -> f64|
     -> Result<Option<Option<f64>>, &'static str> {
        for (name, convert) in [(metric, None), (imperial, Some(to_metric))] {
            let text = form.get(name);
            if form.0.iter().any(|(k, _)| k == name) {
                if text.is_empty() {
                    return Ok(Some(None));
                }
                let value = parse_decimal(text).ok_or(name)?;
                return Ok(Some(Some(convert.map_or(value, |c| c(value)))));
            }
        }
        Ok(None)
    };
    let optional = |name: &str| {
        form.0
            .iter()
            .any(|(k, _)| k == name)
            .then(|| Some(form.get(name).to_owned()).filter(|v| !v.is_empty()))
    };
    Ok(OwnProfilePatch {
        height_cm: number("height_cm", "height_in", |v| {
            Units::Imperial.length_to_cm(v)
        })?,
        goal_weight_kg: number("goal_weight_kg", "goal_weight_lb", |v| {
            Units::Imperial.weight_to_kg(v)
        })?,
        birth_date: optional("birth_date"),
        sex: optional("sex"),
        timezone: optional("timezone"),
        units: optional("units").flatten(),
        ..Default::default()
    })
}

/// A download of the account page: enabled, or disabled with the reason beside it.
pub struct ExportButton {
    pub kind: &'static str,
    pub label: &'static str,
    /// Why it cannot be used now (off in the plan, used up until …, e-mail not verified).
    pub why: Option<String>,
}

/// The three downloads, each as the profile's plan allows it now.
async fn export_buttons(state: &AppState, member: &Member) -> UiResult<Vec<ExportButton>> {
    let lang = member.lang();
    let profile = member.profile();
    let (_, views) = crate::service::access::access_list(state, profile).await?;
    let unverified =
        state.registry().settings.require_email_verification && !profile.email_verified;
    let tz = state.registry().settings.usage_timezone;
    Ok([("csv", "CSV"), ("json", "JSON"), ("zip", "ZIP")]
        .into_iter()
        .map(|(kind, label)| {
            let access = views.iter().find(|v| v.feature == format!("export_{kind}"));
            let why = match access {
                _ if unverified => Some(lang.t("account.export_unverified").to_owned()),
                Some(a) if !a.enabled => Some(lang.t("account.export_off").to_owned()),
                Some(a) if a.remaining == Some(0) => Some(match a.resets_at {
                    Some(t) => lang.tf("account.export_used_up", &[&lang.datetime(t, tz)]),
                    None => lang.t("account.export_used_up_never").to_owned(),
                }),
                _ => None,
            };
            ExportButton { kind, label, why }
        })
        .collect())
}

async fn account_page_for(
    member: &Member,
    state: &AppState,
    done: Option<&str>,
) -> UiResult<AccountPage> {
    let profile = member.profile();
    Ok(AccountPage {
        ctx: member.ctx("account", done),
        person_name: profile.name.clone(),
        language: profile.language.clone(),
        body: BodyForm::of(member.lang(), profile),
        email: profile.email.clone(),
        verified: profile.email_verified,
        can_invite: profile.role == Role::Admin || state.registry().settings.users_can_invite,
        invite_email: String::new(),
        exports: export_buttons(state, member).await?,
        reminder: ReminderForm::of(member.lang(), state, profile),
        errors: FieldErrors::default(),
        refusal: None,
    })
}

pub async fn account_page(
    State(state): State<AppState>,
    member: Member,
    Params(query): Params<PageQuery>,
) -> UiResult {
    let done = query.done.clone();
    render(&account_page_for(&member, &state, done.as_deref()).await?)
}

pub async fn save_profile(
    State(state): State<AppState>,
    member: Member,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let mut page = account_page_for(&member, &state, None).await?;
    page.person_name = form.get("name").to_owned();
    let name = Name::parse_or_empty(form.raw("name"));
    let language = Lang::parse(form.get("language"));
    if let Err(why) = &name {
        page.errors.add("name", FieldErrors::reason(lang, why));
    }
    if language.is_none() {
        page.errors.add("language", lang.t("field.invalid"));
    }
    // The facts as typed, kept on the page if it comes back with a message.
    page.body.height = form.get(page.body.height_field()).to_owned();
    page.body.goal_weight = form.get(page.body.goal_field()).to_owned();
    page.body.birth_date = form.get("birth_date").to_owned();
    page.body.sex = form.get("sex").to_owned();
    page.body.timezone = form.get("timezone").to_owned();
    let patch = match body_patch(&form) {
        Ok(patch) => Some(patch),
        Err(field) => {
            page.errors.add(field, lang.t("field.number"));
            None
        }
    };
    let (Ok(name), Some(language), Some(mut patch), true) =
        (name, language, patch, page.errors.is_empty())
    else {
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    patch.name = Some(name.into());
    patch.language = Some(language.code().to_owned());
    let change = match OwnProfileChange::check(patch, state.now().date_naive()) {
        Ok(change) => change,
        Err(Error::Invalid { fields, .. }) => {
            page.errors = FieldErrors::from_api(lang, &fields);
            // A metric field's refusal shows at the field the form has.
            for (metric, shown) in [
                ("height_cm", page.body.height_field()),
                ("goal_weight_kg", page.body.goal_field()),
            ] {
                if let Some(why) = page.errors.get(metric).map(str::to_owned) {
                    page.errors.add(shown, why);
                }
            }
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return Err(e.into()),
    };
    profiles::change_own_profile(&state, member.profile(), change).await?;
    Ok(super::see_other("/account?done=saved"))
}

pub async fn change_password(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let result = passwords::change(
        &state,
        &member.user,
        form.raw("current_password"),
        form.raw("new_password"),
        ip,
    )
    .await;
    let mut page = account_page_for(&member, &state, None).await?;
    match result {
        Ok(()) => return Ok(super::see_other("/account?done=password_changed")),
        Err(Error::Invalid { fields, .. }) => {
            page.errors = FieldErrors::from_api(lang, &fields);
        }
        Err(e) if e.code() == ErrorCode::WrongPassword => {
            page.errors
                .add("current_password", lang.t("account.wrong_password"));
        }
        Err(Error::RateLimited { retry_after_secs }) => {
            page.errors.add(
                "current_password",
                lang.tf("login.rate_limited", &[&minutes(retry_after_secs)]),
            );
        }
        Err(e) => return Err(e.into()),
    }
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The account page with the refusal of a gate or limit; other errors are error pages.
fn refused(state: &AppState, member: &Member, mut page: AccountPage, e: Error) -> UiResult {
    match refusal(state, member.lang(), &e) {
        Some(r) => {
            page.refusal = Some(r);
            render_status(super::status_of(&e), &page)
        }
        None => Err(e.into()),
    }
}

/// `POST /account/verification`: a new confirmation link for an unconfirmed address.
pub async fn resend_verification(
    State(state): State<AppState>,
    member: Member,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    match verification::resend(&state, member.profile()).await {
        Ok(()) => Ok(super::see_other("/account?done=verification_sent")),
        Err(e) if e.code() == ErrorCode::AlreadyVerified => Ok(super::see_other("/account")),
        Err(e) => refused(
            &state,
            &member,
            account_page_for(&member, &state, None).await?,
            e,
        ),
    }
}

pub async fn logout_everywhere(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    accounts::logout_all(&state, &member.user, ip).await?;
    Ok(signed_out(&state, "/login?done=signed_out_everywhere"))
}

/// `POST /account/reminder` (`reminder_days`, one per checked weekday, and
/// `reminder_time`): no day or no time switches the reminder off.
pub async fn save_reminder(
    State(state): State<AppState>,
    member: Member,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let days: Vec<String> = form
        .0
        .iter()
        .filter(|(k, _)| k == "reminder_days")
        .map(|(_, v)| v.clone())
        .collect();
    let time = form.get("reminder_time").trim().to_owned();
    let off = days.is_empty() || time.is_empty();
    let patch = OwnProfilePatch {
        reminder_days: Some(if off { Vec::new() } else { days }),
        reminder_time: Some((!off).then_some(time)),
        ..OwnProfilePatch::default()
    };
    match OwnProfileChange::check(patch, state.now().date_naive()) {
        Ok(change) => {
            profiles::change_own_profile(&state, member.profile(), change).await?;
            Ok(super::see_other("/account?done=saved"))
        }
        Err(Error::Invalid { fields, .. }) => {
            let mut page = account_page_for(&member, &state, None).await?;
            page.errors = FieldErrors::from_api(lang, &fields);
            page.reminder.time = form.get("reminder_time").to_owned();
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/delete` (`password`): the account and its data are deleted and the
/// person is signed out; a wrong password (or the last admin) comes back to the page.
pub async fn delete_account(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let result = accounts::delete_own(&state, &member.user, form.raw("password"), ip).await;
    let why = match result {
        Ok(()) => return Ok(signed_out(&state, "/login?done=account_deleted")),
        Err(Error::NotConfirmed) => lang.t("account.delete_wrong_password").to_owned(),
        Err(e) if e.code() == ErrorCode::LastAdmin => {
            lang.t("account.delete_last_admin").to_owned()
        }
        Err(Error::RateLimited { retry_after_secs }) => {
            lang.tf("login.rate_limited", &[&minutes(retry_after_secs)])
        }
        Err(e) => return Err(e.into()),
    };
    let mut page = account_page_for(&member, &state, None).await?;
    page.errors.add("password", why);
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

pub async fn invite(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let mut page = account_page_for(&member, &state, None).await?;
    page.invite_email = form.get("email").to_owned();
    match invitations::invite(&state, member.profile(), form.get("email"), None, ip).await {
        Ok(_) => Ok(super::see_other("/account?done=invited")),
        Err(Error::Invalid { fields, .. }) => {
            page.errors = FieldErrors::from_api(lang, &fields);
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => refused(&state, &member, page, e),
    }
}

/// `POST /account/export/{csv,json,zip}`: the download, which spends its feature; a
/// refusal is shown on the account page.
pub async fn export(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    Path(kind): Path<String>,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let format = match kind.as_str() {
        "csv" => Format::Csv(None),
        "json" => Format::Json,
        "zip" => Format::Zip,
        _ => return Err(UiError::NotFound),
    };
    match crate::service::export::start(&state, member.profile(), format, ip).await {
        Ok(download) => Ok(crate::http::download::attachment(download, format)?),
        Err(e) => refused(
            &state,
            &member,
            account_page_for(&member, &state, None).await?,
            e,
        ),
    }
}
