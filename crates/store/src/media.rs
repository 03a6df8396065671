//! Progress photos and AI results.
//!
//! A photo's bytes live in a file that the server writes (under `MITAI_DATA_DIR`); the
//! store keeps its metadata and, in the same transaction, the spend of the `photos`
//! feature. AI calls reserve `ai_calls` before the call (an ordinary consume) and give the
//! reservation back with [`MediaStore::release_usage`] when the call fails.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{ConsumeRequest, IdempotencyKey, Result, StoredResponse};

/// The image types a photo may have (decided by content, never by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhotoType {
    Jpeg,
    Png,
    Webp,
}

impl PhotoType {
    /// The MIME type, as stored and served.
    pub fn content_type(self) -> &'static str {
        match self {
            PhotoType::Jpeg => "image/jpeg",
            PhotoType::Png => "image/png",
            PhotoType::Webp => "image/webp",
        }
    }

    /// The file name extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            PhotoType::Jpeg => "jpg",
            PhotoType::Png => "png",
            PhotoType::Webp => "webp",
        }
    }

    pub fn from_content_type(s: &str) -> Option<PhotoType> {
        match s {
            "image/jpeg" => Some(PhotoType::Jpeg),
            "image/png" => Some(PhotoType::Png),
            "image/webp" => Some(PhotoType::Webp),
            _ => None,
        }
    }
}

/// A stored photo's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub kind: PhotoType,
    pub width: u32,
    pub height: u32,
    /// Size of the stored file.
    pub bytes: i64,
    /// SHA-256 of the stored file, hex.
    pub sha256: String,
    pub taken_on: Option<NaiveDate>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A photo stored by a gated create, and the usage of its bucket after the spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPhoto {
    pub photo: Photo,
    pub used: i64,
}

/// What a gated create did.
#[derive(Debug, Clone, PartialEq)]
pub enum GatedCreate<T> {
    /// Spent and stored, in one transaction.
    Created(T),
    /// Refused: the spend would pass the cap. Nothing was written; `used` is the unchanged
    /// usage of the bucket.
    LimitReached { used: i64 },
    /// An earlier request with the same idempotency key answered this; nothing was written.
    Replayed(StoredResponse),
}

/// What kind of AI result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AiKind {
    /// One question, one answer.
    Insight,
    /// A multi-step analysis; the steps are kept with the final answer.
    Pipeline,
}

impl AiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AiKind::Insight => "insight",
            AiKind::Pipeline => "pipeline",
        }
    }

    pub fn parse(s: &str) -> Option<AiKind> {
        match s {
            "insight" => Some(AiKind::Insight),
            "pipeline" => Some(AiKind::Pipeline),
            _ => None,
        }
    }
}

/// An answer of the AI, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AiResult {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub kind: AiKind,
    pub question: Option<String>,
    pub answer: String,
    pub model: String,
    /// The steps of a pipeline run (a JSON array; empty for an insight).
    pub steps: Value,
    pub created_at: DateTime<Utc>,
}

/// Gives back units reserved by a consume of (`profile_id`, `feature_id`) in the bucket
/// `period_start`, for work that failed after the reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release<'a> {
    pub profile_id: Uuid,
    pub feature_id: &'a str,
    pub period_start: DateTime<Utc>,
    pub amount: i64,
    pub now: DateTime<Utc>,
}

/// Progress photos and AI results. Every read and delete is scoped to one profile: a row
/// of another profile is "not found".
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Spends `gate` (the `photos` feature) and stores `photo` in one transaction. With an
    /// idempotency key in `gate`, the key is claimed first (a replay writes nothing) and
    /// `respond` builds the answer stored with it. `MissingReference("profile")` for an
    /// unknown profile.
    async fn create_photo(
        &self,
        gate: &ConsumeRequest<'_>,
        photo: &Photo,
        respond: &(dyn for<'p> Fn(&'p Photo) -> StoredResponse + Send + Sync),
    ) -> Result<GatedCreate<CreatedPhoto>>;

    async fn photo(&self, profile_id: Uuid, id: Uuid) -> Result<Option<Photo>>;

    /// The profile's photos, newest first (by id), with ids below `before`, at most `limit`.
    async fn list_photos(
        &self,
        profile_id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Photo>>;

    /// Deletes the photo's row and returns it (the caller removes the file); `None` if the
    /// profile has no such photo.
    async fn delete_photo(&self, profile_id: Uuid, id: Uuid) -> Result<Option<Photo>>;

    /// Stores an AI answer. With `idempotency`, the key is claimed in the same transaction
    /// (a replay stores nothing and returns the first answer) and `respond` builds the
    /// answer stored with it.
    async fn create_ai_result(
        &self,
        result: &AiResult,
        idempotency: Option<IdempotencyKey<'_>>,
        respond: &(dyn for<'p> Fn(&'p AiResult) -> StoredResponse + Send + Sync),
    ) -> Result<GatedCreate<AiResult>>;

    async fn ai_result(&self, profile_id: Uuid, id: Uuid) -> Result<Option<AiResult>>;

    /// The profile's AI results (of one kind, or all), newest first, with ids below
    /// `before`, at most `limit`.
    async fn list_ai_results(
        &self,
        profile_id: Uuid,
        kind: Option<AiKind>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<AiResult>>;

    /// The answer stored with an idempotency key, if the key was used and answered.
    /// `IdempotencyMismatch` if it was used for another request.
    async fn stored_response(
        &self,
        profile_id: Uuid,
        key: IdempotencyKey<'_>,
    ) -> Result<Option<StoredResponse>>;

    /// Gives back reserved units in one statement: the bucket's usage falls by `amount`,
    /// never below zero. Returns the usage afterwards (0 when the bucket has no row).
    async fn release_usage(&self, release: &Release<'_>) -> Result<i64>;
}
