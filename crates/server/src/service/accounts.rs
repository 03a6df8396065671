//! Accounts: registration, login, logout, the verification gate, and the first admin.

use crate::service::AppState;
use crate::service::activity_log;
use crate::service::credentials;
use crate::service::rate_limit::{self, Limit};
use crate::service::sessions::{CurrentUser, SESSION_DAYS};
use crate::service::{Error, ErrorCode, Result, field};
use chrono::{DateTime, TimeDelta, Utc};
use mitai_access::RegistrationMode;
use mitai_access::text::{Email, Name};
use mitai_store::{
    NewAccountToken, NewActivity, NewMail, NewProfile, NewRegistration, NewSession, Profile,
    RegisterOutcome, Role, StoreError, TokenKind, actions,
};
use serde_json::json;
use uuid::Uuid;

/// How long an e-mailed verification link works.
pub const VERIFY_TTL: TimeDelta = TimeDelta::hours(48);

/// Failed logins allowed per account (e-mail address, known or not) in one window.
pub const LOGIN_FAILURES_PER_ACCOUNT: i64 = 10;

/// Failed logins allowed per client IP in one window (looser: many people may share one
/// address).
pub const LOGIN_FAILURES_PER_IP: i64 = 100;

/// The window of the login limits.
pub const LOGIN_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Registrations attempted per client IP in one window (each attempt counts, whatever
/// its outcome); loopback clients are not limited.
pub const REGISTRATIONS_PER_IP: i64 = 20;

pub const REGISTRATION_WINDOW: TimeDelta = TimeDelta::hours(1);

/// 400 `invalid_token`: an e-mailed token that is unknown, used or expired.
pub fn invalid_token() -> Error {
    Error::refused(ErrorCode::InvalidToken, "this link is not valid (any more)")
}

/// The gate of gated features and redemption: with `require_email_verification` on, a
/// profile whose e-mail is not verified is refused with 403 `email_not_verified`.
pub fn require_verified(state: &AppState, profile: &Profile) -> Result<()> {
    if profile.email_verified || !state.registry().settings.require_email_verification {
        return Ok(());
    }
    Err(Error::refused(
        ErrorCode::EmailNotVerified,
        "confirm your e-mail address first (see the mail we sent you)",
    ))
}

/// The limits on failed password checks for `email` (and `ip`, when known). Login and
/// password change share them, so a stolen session cannot guess the password faster.
pub fn password_limits(email: &str, ip: Option<&str>) -> Vec<Limit> {
    let mut limits = vec![Limit::new(
        rate_limit::key("login:account", &mitai_store::normalize_email(email)),
        LOGIN_FAILURES_PER_ACCOUNT,
        LOGIN_WINDOW,
    )];
    if let Some(ip) = ip {
        limits.push(Limit::new(
            rate_limit::key("login:ip", ip),
            LOGIN_FAILURES_PER_IP,
            LOGIN_WINDOW,
        ));
    }
    limits
}

/// What registration asks for.
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: String,
    pub password: String,
    pub name: String,
    pub language: String,
}

/// Checks and normalises registration input; every bad field is named.
pub fn check_registration(
    email: &str,
    password: &str,
    name: Option<&str>,
    language: Option<&str>,
) -> Result<Registration> {
    let mut fields = std::collections::BTreeMap::new();
    if let Err(why) = credentials::validate_email(email) {
        fields.insert("email".to_owned(), why);
    }
    if let Err(why) = credentials::validate_password(password) {
        fields.insert("password".to_owned(), why);
    }
    let name = match Name::parse_or_empty(name.unwrap_or("")) {
        Ok(name) => name.into(),
        Err(why) => {
            fields.insert("name".to_owned(), why.to_string());
            String::new()
        }
    };
    let language = language.unwrap_or("en");
    if !matches!(language, "de" | "en") {
        fields.insert("language".to_owned(), "must be de or en".to_owned());
    }
    if !fields.is_empty() {
        return Err(Error::Invalid {
            message: "some fields are invalid".into(),
            fields,
        });
    }
    Ok(Registration {
        email: email.trim().to_owned(),
        password: password.to_owned(),
        name,
        language: language.to_owned(),
    })
}

/// Self-registration. New profiles get the default tier and, when configured, a trial.
///
/// Without an invitation the profile is unverified, and its verification token, the
/// `verify_email` mail and the `register` event commit with it. With an invitation token
/// (which also opens `invite_only`, but not `closed`) the invitation is used in the same
/// transaction; the profile is then verified and `invited_by` the inviter, and no
/// verification mail is sent. `ip` is the client's, for the activity log.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn register(
    state: &AppState,
    r: Registration,
    invitation_token: Option<&str>,
    ip: Option<String>,
) -> Result<Profile> {
    let registry = state.registry();
    let settings = &registry.settings;
    let open = match settings.registration_mode {
        RegistrationMode::Open => true,
        RegistrationMode::InviteOnly => invitation_token.is_some(),
        RegistrationMode::Closed => false,
    };
    if !open {
        return Err(Error::refused(
            ErrorCode::RegistrationClosed,
            "registration is not open",
        ));
    }
    // A client on this machine is not limited per IP: scripts and load tests on the host
    // register many accounts, and behind a local proxy that is not trusted
    // (`MITAI_TRUSTED_PROXIES`) every client would share its loopback address, so that one
    // of them could close registration for all.
    let remote = ip.as_deref().filter(|ip| {
        !ip.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
    });
    if let Some(ip) = remote {
        // Counted before anything is looked up or hashed.
        let limit = Limit::new(
            rate_limit::key("register:ip", ip),
            REGISTRATIONS_PER_IP,
            REGISTRATION_WINDOW,
        );
        rate_limit::take(state, &[limit]).await?;
    }
    let now = state.now();
    let invitation = invitation_token.map(credentials::token_hash);
    if let Some(hash) = &invitation {
        // A cheap look first, so a bad link costs no password hashing; the store decides.
        let found = state.store.invitation(hash, now).await?;
        let matches = found.is_some_and(|i| {
            mitai_store::normalize_email(&i.email) == mitai_store::normalize_email(&r.email)
        });
        if !matches {
            return Err(invalid_token());
        }
    }
    let trial_ends_at =
        (settings.trial_days > 0).then(|| now + TimeDelta::days(settings.trial_days));
    let profile = NewProfile {
        id: Uuid::now_v7(),
        email: r.email,
        password_hash: credentials::hash_password(r.password).await?,
        name: r.name,
        role: Role::User,
        tier: settings.default_tier.clone(),
        trial_ends_at,
        email_verified: false,
        invited_by: None,
        language: r.language,
        created_at: now,
    };
    let (token, mail) = if invitation.is_none() {
        let (token, mail) = verification(&profile.email, &profile.name, &profile.language, now);
        (Some(token.for_profile(profile.id)), Some(mail))
    } else {
        (None, None)
    };
    let details = json!({
        "email": profile.email.trim(),
        "tier": profile.tier,
        "trial_ends_at": profile.trial_ends_at,
        "language": profile.language,
        "invited": invitation.is_some(),
    });
    let activity = NewActivity::new(actions::REGISTER, now)
        .by_self(profile.id)
        .details(details)
        .ip(ip);
    let registration = NewRegistration {
        profile,
        invitation,
        token,
        mail,
        activity: Some(activity),
    };
    let how = if registration.invitation.is_some() {
        "invitation"
    } else {
        "open"
    };
    match state.store.register(&registration).await? {
        RegisterOutcome::Registered(profile) => {
            crate::service::notifications::raise(
                state,
                "user_registered",
                profile.id.to_string(),
                json!({"email": profile.email, "name": profile.name, "how": how}),
                format!("/admin/users/{}", profile.id),
            );
            Ok(*profile)
        }
        RegisterOutcome::EmailTaken => Err(email_taken()),
        RegisterOutcome::InvalidInvitation => Err(invalid_token()),
    }
}

fn email_taken() -> Error {
    Error::refused(ErrorCode::EmailTaken, "an account with this e-mail exists")
}

/// A verification token (to be stored for a profile) and the mail that carries it.
pub struct PendingToken {
    token_hash: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl PendingToken {
    pub fn for_profile(self, profile_id: Uuid) -> NewAccountToken {
        NewAccountToken {
            token_hash: self.token_hash,
            kind: TokenKind::VerifyEmail,
            profile_id,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A new verification token for `email` and its `verify_email` mail.
pub fn verification(
    email: &str,
    name: &str,
    language: &str,
    now: DateTime<Utc>,
) -> (PendingToken, NewMail) {
    let token = credentials::new_token();
    let mail = NewMail::new(
        email.trim(),
        "verify_email",
        language,
        json!({ "name": name, "token": token }),
        now,
    );
    let pending = PendingToken {
        token_hash: credentials::token_hash(&token),
        created_at: now,
        expires_at: now + VERIFY_TTL,
    };
    (pending, mail)
}

async fn create(
    state: &AppState,
    r: Registration,
    role: Role,
    tier: &str,
    trial_ends_at: Option<DateTime<Utc>>,
    email_verified: bool,
    now: DateTime<Utc>,
) -> Result<Profile> {
    let password_hash = credentials::hash_password(r.password).await?;
    let new = NewProfile {
        id: Uuid::now_v7(),
        email: r.email,
        password_hash,
        name: r.name,
        role,
        tier: tier.to_owned(),
        trial_ends_at,
        email_verified,
        invited_by: None,
        language: r.language,
        created_at: now,
    };
    match state.store.create_profile(&new).await {
        Ok(profile) => Ok(profile),
        Err(StoreError::Conflict(_)) => Err(email_taken()),
        Err(e) => Err(e.into()),
    }
}

/// A new session: the token to hand out (only its hash is stored) and its expiry.
pub struct Login {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub profile: Profile,
}

/// Signs in. Every checked attempt is logged: `login`, or `login_failed` with the reason
/// (about the account, when the e-mail names one). Attempts are limited per account and
/// per IP ([`password_limits`]): each is counted *before* the password is checked, so
/// parallel guesses cannot pass the limit, and beyond it the password is not even checked
/// (429 `rate_limited`). A correct password is refunded: successful logins never count.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    user_agent: Option<String>,
    ip: Option<String>,
) -> Result<Login> {
    // A text that cannot be an address is refused before it is counted or logged.
    let email = field("email", Email::parse(email))?;
    let email = email.as_str();
    let limits = password_limits(email, ip.as_deref());
    let attempt = rate_limit::reserve(state, &limits).await?;
    let found = state.store.credentials(email).await?;
    let (profile, hash) = match found {
        Some((profile, hash)) => (Some(profile), Some(hash)),
        None => (None, None),
    };
    let ok = credentials::verify_password(password.to_owned(), hash).await?;
    let failed = |profile: Option<Uuid>, reason: &str| {
        let email: String = mitai_store::normalize_email(email)
            .chars()
            .take(254)
            .collect();
        NewActivity::new(actions::LOGIN_FAILED, state.now())
            .profile(profile)
            .details(json!({ "email": email, "reason": reason }))
            .ip(ip.clone())
    };
    let profile = match profile {
        Some(profile) if ok => profile,
        profile => {
            let event = failed(
                profile.map(|p| p.id),
                ErrorCode::InvalidCredentials.as_str(),
            );
            activity_log::record(state, event).await;
            // The wrong guess stays counted.
            return Err(Error::refused(
                ErrorCode::InvalidCredentials,
                "wrong e-mail or password",
            ));
        }
    };
    attempt.refund(state).await;
    if profile.disabled {
        let reason = ErrorCode::AccountDisabled.as_str();
        activity_log::record(state, failed(Some(profile.id), reason)).await;
        return Err(Error::refused(
            ErrorCode::AccountDisabled,
            "this account is disabled",
        ));
    }
    let now = state.now();
    let token = credentials::new_token();
    let expires_at = now + TimeDelta::days(SESSION_DAYS);
    state
        .store
        .create_session(&NewSession {
            token_hash: credentials::token_hash(&token),
            profile_id: profile.id,
            created_at: now,
            expires_at,
            user_agent: user_agent.map(|ua| ua.chars().take(300).collect()),
        })
        .await?;
    activity_log::record(
        state,
        NewActivity::new(actions::LOGIN, now)
            .by_self(profile.id)
            .ip(ip),
    )
    .await;
    Ok(Login {
        token,
        expires_at,
        profile,
    })
}

/// Ends the session of `user` (logout).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn logout(state: &AppState, user: &CurrentUser, ip: Option<String>) -> Result<()> {
    state.store.delete_session(&user.token_hash).await?;
    activity_log::record(
        state,
        NewActivity::new(actions::LOGOUT, state.now())
            .by_self(user.profile.id)
            .ip(ip),
    )
    .await;
    Ok(())
}

/// Ends every session of `user`'s profile, this one included (logout everywhere).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn logout_all(state: &AppState, user: &CurrentUser, ip: Option<String>) -> Result<()> {
    let ended = state.store.delete_sessions(user.profile.id, None).await?;
    activity_log::record(
        state,
        NewActivity::new(actions::LOGOUT, state.now())
            .by_self(user.profile.id)
            .details(json!({ "all": true, "sessions": ended }))
            .ip(ip),
    )
    .await;
    Ok(())
}

/// Deletes the signed-in person's account once their password confirms it (403
/// `invalid_credentials` otherwise; wrong passwords count against the login limits of the
/// account). See [`delete`] for what goes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_own(
    state: &AppState,
    user: &CurrentUser,
    password: &str,
    ip: Option<String>,
) -> Result<()> {
    let profile = &user.profile;
    let limits = password_limits(&profile.email, ip.as_deref());
    let attempt = rate_limit::reserve(state, &limits).await?;
    let Some((_, hash)) = state.store.credentials(&profile.email).await? else {
        attempt.refund(state).await;
        return Err(Error::Unauthenticated);
    };
    if !credentials::verify_password(password.to_owned(), Some(hash)).await? {
        // A wrong password stays counted.
        return Err(Error::NotConfirmed);
    }
    attempt.refund(state).await;
    delete(state, profile.id, None, ip).await
}

/// Deletes an account and what is the person's (DESIGN §18): the profile, its entries,
/// photos (the files too), AI results, grants and redemptions, sessions and tokens, usage
/// and statistics, mail waiting for them. The activity log keeps its events without the
/// person (no profile, no e-mail, no address); coupons keep their count of redemptions.
/// `admin` is who deleted it (`None`: the person). 404 if there is no such account, 409
/// `last_admin` for the last active admin. A running subscription is cancelled at Stripe
/// first. Logs `account_deleted`, about nobody.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    state: &AppState,
    id: Uuid,
    admin: Option<Uuid>,
    ip: Option<String>,
) -> Result<()> {
    // A running subscription is cancelled at Stripe first, so nobody pays for an account
    // that is gone (502 `billing_failed`, nothing deleted, when Stripe fails).
    crate::service::billing::cancel_subscriptions_of(state, id).await?;
    let photos = state
        .store
        .delete_profile(id)
        .await?
        .ok_or(Error::NotFound)?;
    crate::service::photos::remove_files_of(state, id, &photos).await;
    let by = if admin.is_some() { "admin" } else { "self" };
    activity_log::record(
        state,
        NewActivity::new(actions::ACCOUNT_DELETED, state.now())
            // An admin deleting their own account is gone from the log as well.
            .actor(admin.filter(|a| *a != id))
            .details(json!({ "by": by, "photos": photos.len() }))
            .ip(ip),
    )
    .await;
    Ok(())
}

/// Creates a user from the CLI or the environment (no registration-mode check, verified).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_user(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    admin: bool,
) -> Result<Profile> {
    let r = check_registration(email, password, name, None)?;
    let registry = state.registry();
    let now = state.now();
    let role = if admin { Role::Admin } else { Role::User };
    let profile = create(
        state,
        r,
        role,
        &registry.settings.default_tier,
        None,
        true,
        now,
    )
    .await?;
    let mut patch = mitai_store::ProfilePatch::default();
    if admin {
        // Admins run the instance; give them the top tier so the gate never blocks them.
        patch.tier = registry
            .tiers()
            .iter()
            .filter(|t| t.active)
            .max_by_key(|t| t.rank)
            .map(|t| t.id.clone());
    }
    let profile = if patch.is_empty() {
        profile
    } else {
        state
            .store
            .update_profile(profile.id, &patch, now)
            .await?
            .unwrap_or(profile)
    };
    Ok(profile)
}

/// Creates the admin named by `MITAI_ADMIN_EMAIL`/`MITAI_ADMIN_PASSWORD` if no admin
/// exists yet. Returns whether one was created.
///
/// An existing profile is never promoted by the environment: whoever registered that
/// address first (perhaps not the operator, perhaps never verified) would become admin.
/// If the address names a profile that is not an admin, start-up is refused with a line
/// that says how to do it on purpose.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ensure_admin(state: &AppState) -> anyhow::Result<bool> {
    let Some((email, password)) = state.config.admin.clone() else {
        return Ok(false);
    };
    if let Some((existing, _)) = state.store.credentials(&email).await? {
        if existing.role == Role::Admin {
            return Ok(false);
        }
        anyhow::bail!(
            "MITAI_ADMIN_EMAIL {email} belongs to an existing profile that is not an admin, and \
             it is never promoted automatically; make it an admin with \
             `mitai user set-role --email {email} --role admin`, or name a new address \
             (or create one with `mitai user create --admin`)"
        );
    }
    if state.store.admin_exists().await? {
        return Ok(false);
    }
    create_user(state, &email, &password, Some("Admin"), true)
        .await
        .map_err(|e| anyhow::anyhow!("creating the admin {email} failed: {e}"))?;
    tracing::info!(email = %email, "created admin");
    Ok(true)
}

/// Sets the role of the profile with `email` (the CLI's `mitai user set-role`). An admin
/// made this way also counts as verified (the operator vouches for it). Refused when it
/// would leave no enabled admin.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_role(state: &AppState, email: &str, role: Role) -> anyhow::Result<Profile> {
    let Some((profile, _)) = state.store.credentials(email).await? else {
        anyhow::bail!("no user with e-mail {email}");
    };
    let patch = mitai_store::ProfilePatch {
        role: Some(role),
        // An admin made by the operator counts as verified (the operator vouches).
        email_verified: (role == Role::Admin).then_some(true),
        ..Default::default()
    };
    let now = state.now();
    let updated = match state.store.update_profile(profile.id, &patch, now).await {
        Ok(Some(updated)) => updated,
        Ok(None) => anyhow::bail!("no user with e-mail {email}"),
        Err(StoreError::LastAdmin) => {
            anyhow::bail!("{email} is the only enabled admin; make another admin first")
        }
        Err(e) => return Err(e.into()),
    };
    let event = NewActivity::new(actions::ROLE_CHANGED, now)
        .profile(Some(profile.id))
        .details(json!({
            "before": {"role": profile.role.as_str()},
            "after": {"role": role.as_str()},
            "via": "cli",
        }));
    activity_log::record(state, event).await;
    Ok(updated)
}

/// Sets the password of the profile with `email` (the CLI's `mitai user set-password`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_password(
    state: &AppState,
    email: &str,
    password: String,
) -> anyhow::Result<Profile> {
    let Some((profile, _)) = state.store.credentials(email).await? else {
        anyhow::bail!("no user with e-mail {email}");
    };
    credentials::validate_password(&password).map_err(|why| anyhow::anyhow!("password {why}"))?;
    let hash = credentials::hash_password(password).await?;
    state
        .store
        .set_password(profile.id, &hash, state.now())
        .await?;
    Ok(profile)
}
