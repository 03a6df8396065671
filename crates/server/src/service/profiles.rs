//! A profile as its owner and admins see it, and what a person may change of their own.

use chrono::{DateTime, Utc};
use mitai_access::text::Name;
use mitai_store::{Profile, ProfilePatch};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Error, Result};

/// A profile as shown to its owner and to admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
    /// The base tier.
    pub tier: String,
    /// The highest tier the profile has right now (base, trial, grants).
    pub effective_tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub email_verified: bool,
    /// `de` or `en`.
    pub language: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl ProfileView {
    /// The view of a profile whose effective tier is `effective_tier`.
    pub fn new(profile: &Profile, effective_tier: String) -> ProfileView {
        ProfileView {
            id: profile.id,
            email: profile.email.clone(),
            name: profile.name.clone(),
            role: profile.role.as_str().to_owned(),
            tier: profile.tier.clone(),
            effective_tier,
            trial_ends_at: profile.trial_ends_at,
            email_verified: profile.email_verified,
            language: profile.language.clone(),
            disabled: profile.disabled,
            created_at: profile.created_at,
        }
    }
}

/// What a person may change of their own profile.
#[derive(Debug, Default)]
pub struct OwnProfileChange {
    pub name: Option<Name>,
    /// `de` or `en`.
    pub language: Option<String>,
}

/// Changes the signed-in person's name and language.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn change_own_profile(
    state: &AppState,
    profile: &Profile,
    change: OwnProfileChange,
) -> Result<Profile> {
    if let Some(language) = &change.language
        && !matches!(language.as_str(), "de" | "en")
    {
        return Err(Error::field("language", "must be de or en"));
    }
    let patch = ProfilePatch {
        name: change.name.map(String::from),
        language: change.language,
        ..Default::default()
    };
    state
        .store
        .update_profile(profile.id, &patch, state.now())
        .await?
        .ok_or(Error::Unauthenticated)
}
