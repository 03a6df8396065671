//! Accounts: registration, login, logout, and the first admin.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use mitai_access::RegistrationMode;
use mitai_store::{NewActivity, NewProfile, NewSession, Profile, Role, StoreError, actions};
use serde_json::json;
use uuid::Uuid;

use crate::auth::{self, CurrentUser, SESSION_DAYS};
use crate::error::{ApiError, ApiResult};
use crate::service::activity;
use crate::state::AppState;

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
) -> ApiResult<Registration> {
    let mut fields = std::collections::BTreeMap::new();
    if let Err(why) = auth::validate_email(email) {
        fields.insert("email".to_owned(), why);
    }
    if let Err(why) = auth::validate_password(password) {
        fields.insert("password".to_owned(), why);
    }
    let name = name.unwrap_or("").trim();
    if name.chars().count() > 100 {
        fields.insert(
            "name".to_owned(),
            "must be at most 100 characters".to_owned(),
        );
    }
    let language = language.unwrap_or("en");
    if !matches!(language, "de" | "en") {
        fields.insert("language".to_owned(), "must be de or en".to_owned());
    }
    if !fields.is_empty() {
        return Err(ApiError::Invalid {
            message: "some fields are invalid".into(),
            fields,
        });
    }
    Ok(Registration {
        email: email.trim().to_owned(),
        password: password.to_owned(),
        name: name.to_owned(),
        language: language.to_owned(),
    })
}

/// Self-registration. New profiles get the default tier and, when configured, a trial.
/// `ip` is the client's, for the activity log.
pub async fn register(state: &AppState, r: Registration, ip: Option<String>) -> ApiResult<Profile> {
    let registry = state.registry();
    let settings = &registry.settings;
    if settings.registration_mode != RegistrationMode::Open {
        return Err(ApiError::refused(
            StatusCode::FORBIDDEN,
            "registration_closed",
            "registration is not open",
        ));
    }
    let now = state.now();
    let trial_ends_at =
        (settings.trial_days > 0).then(|| now + TimeDelta::days(settings.trial_days));
    let profile = create(
        state,
        r,
        Role::User,
        &settings.default_tier,
        trial_ends_at,
        false,
        now,
    )
    .await?;
    let details = json!({
        "email": profile.email,
        "tier": profile.tier,
        "trial_ends_at": profile.trial_ends_at,
        "language": profile.language,
    });
    activity::record(
        state,
        NewActivity::new(actions::REGISTER, now)
            .by_self(profile.id)
            .details(details)
            .ip(ip),
    )
    .await;
    Ok(profile)
}

async fn create(
    state: &AppState,
    r: Registration,
    role: Role,
    tier: &str,
    trial_ends_at: Option<DateTime<Utc>>,
    email_verified: bool,
    now: DateTime<Utc>,
) -> ApiResult<Profile> {
    let password_hash = auth::hash_password(r.password).await?;
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
        Err(StoreError::Conflict(_)) => Err(ApiError::refused(
            StatusCode::CONFLICT,
            "email_taken",
            "an account with this e-mail exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A new session: the token to hand out (only its hash is stored) and its expiry.
pub struct Login {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub profile: Profile,
}

/// Signs in. Every attempt is logged: `login`, or `login_failed` with the reason (about
/// the account, when the e-mail names one).
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    user_agent: Option<String>,
    ip: Option<String>,
) -> ApiResult<Login> {
    let found = state.store.credentials(email).await?;
    let (profile, hash) = match found {
        Some((profile, hash)) => (Some(profile), Some(hash)),
        None => (None, None),
    };
    let ok = auth::verify_password(password.to_owned(), hash).await?;
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
            let event = failed(profile.map(|p| p.id), "invalid_credentials");
            activity::record(state, event).await;
            return Err(ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong e-mail or password",
            ));
        }
    };
    if profile.disabled {
        activity::record(state, failed(Some(profile.id), "account_disabled")).await;
        return Err(ApiError::refused(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled",
        ));
    }
    let now = state.now();
    let token = auth::new_token();
    let expires_at = now + TimeDelta::days(SESSION_DAYS);
    state
        .store
        .create_session(&NewSession {
            token_hash: auth::token_hash(&token),
            profile_id: profile.id,
            created_at: now,
            expires_at,
            user_agent: user_agent.map(|ua| ua.chars().take(300).collect()),
        })
        .await?;
    activity::record(
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
pub async fn logout(state: &AppState, user: &CurrentUser, ip: Option<String>) -> ApiResult<()> {
    state.store.delete_session(&user.token_hash).await?;
    activity::record(
        state,
        NewActivity::new(actions::LOGOUT, state.now())
            .by_self(user.profile.id)
            .ip(ip),
    )
    .await;
    Ok(())
}

/// Creates a user from the CLI or the environment (no registration-mode check, verified).
pub async fn create_user(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    admin: bool,
) -> ApiResult<Profile> {
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
pub async fn ensure_admin(state: &AppState) -> anyhow::Result<bool> {
    let Some((email, password)) = state.config.admin.clone() else {
        return Ok(false);
    };
    if state.store.admin_exists().await? {
        return Ok(false);
    }
    if let Some((existing, _)) = state.store.credentials(&email).await? {
        // The address exists as a user: promote it rather than fail.
        let patch = mitai_store::ProfilePatch {
            role: Some(Role::Admin),
            disabled: Some(false),
            ..Default::default()
        };
        state
            .store
            .update_profile(existing.id, &patch, state.now())
            .await?;
        tracing::info!(email = %email, "promoted existing profile to admin");
        return Ok(true);
    }
    create_user(state, &email, &password, Some("Admin"), true)
        .await
        .map_err(|e| anyhow::anyhow!("creating the admin {email} failed: {e}"))?;
    tracing::info!(email = %email, "created admin");
    Ok(true)
}
