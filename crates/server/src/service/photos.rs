//! Progress photos: checked and cleaned by content, stored as files under
//! `<MITAI_DATA_DIR>/photos/<profile>/<id>.<ext>` with their metadata in the database.
//!
//! The file is written first (temporary name, fsync, rename, fsync of the folder), then the
//! spend of `photos` and the metadata row commit in one transaction. When the store refuses
//! (limit reached, an idempotent replay, an error) the file is removed again, so a refused
//! upload leaves nothing behind and spends nothing.

use mitai_access::text::IdempotencyKey;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use mitai_access::text::Note;
use mitai_store::{GatedCreate, Photo, Profile, StoredResponse};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::imaging::{self, Rejected};
use crate::metrics::Metrics;
use crate::service::AppState;
use crate::service::access::Gate;
use crate::service::{Error, ErrorCode, Result};

/// The feature every upload spends.
pub const FEATURE: &str = "photos";

/// Image decodes running at once: one per core.
static DECODES: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    tokio::sync::Semaphore::new(cores)
});

/// A photo as uploaded.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub file: Vec<u8>,
    pub taken_on: Option<NaiveDate>,
    pub note: Option<Note>,
}

/// What an upload did.
#[derive(Debug)]
pub enum Uploaded {
    Created(Photo),
    /// The answer of an earlier upload with the same `Idempotency-Key`.
    Replayed(StoredResponse),
}

/// The folder of a profile's photos.
pub fn folder(state: &AppState, profile_id: Uuid) -> PathBuf {
    state
        .config
        .data_dir
        .join("photos")
        .join(profile_id.to_string())
}

/// Where a photo's file is.
pub fn path(state: &AppState, photo: &Photo) -> PathBuf {
    folder(state, photo.profile_id).join(format!("{}.{}", photo.id, photo.kind.extension()))
}

/// Where a photo's thumbnail is: a JPEG made once per photo, under
/// `<MITAI_DATA_DIR>/thumbs/<profile>/` (derived data: it is made again when missing).
pub fn thumb_path(state: &AppState, photo: &Photo) -> PathBuf {
    state
        .config
        .data_dir
        .join("thumbs")
        .join(photo.profile_id.to_string())
        .join(format!("{}.jpg", photo.id))
}

/// The thumbnail of the profile's photo: made from the stored file the first time it is
/// asked for (photos are given one at upload too) and kept next to it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn thumbnail(state: &AppState, profile_id: Uuid, id: Uuid) -> Result<Vec<u8>> {
    let photo = get(state, profile_id, id).await?;
    let thumb = thumb_path(state, &photo);
    if let Ok(bytes) = tokio::fs::read(&thumb).await {
        return Ok(bytes);
    }
    let stored = match tokio::fs::read(path(state, &photo)).await {
        Ok(stored) => stored,
        Err(e) => return Err(vanished_or_damaged(state, &photo, e).await),
    };
    let bytes = make_thumbnail(stored).await?;
    write_atomically(thumb, bytes.clone()).await?;
    // A delete that ran meanwhile removed the file before this wrote the thumbnail.
    if state.store.photo(profile_id, id).await?.is_none() {
        remove_file(&thumb_path(state, &photo)).await;
        return Err(Error::NotFound);
    }
    Ok(bytes)
}

/// The error for a photo whose file cannot be opened. A delete removes the row first and
/// the file after it, so a missing file whose row is gone too is a photo deleted while it
/// was being read: not found. A missing file whose row is still there is damage.
pub async fn vanished_or_damaged(state: &AppState, photo: &Photo, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        match state.store.photo(photo.profile_id, photo.id).await {
            Ok(None) => return Error::NotFound,
            Ok(Some(_)) => {}
            Err(e) => return Error::from(e),
        }
    }
    anyhow::anyhow!(
        "photo file {} cannot be opened: {e}",
        path(state, photo).display()
    )
    .into()
}

async fn make_thumbnail(stored: Vec<u8>) -> Result<Vec<u8>> {
    let _permit = DECODES.acquire().await.map_err(anyhow::Error::from)?;
    tokio::task::spawn_blocking(move || imaging::thumbnail(&stored))
        .await
        .map_err(|e| anyhow::anyhow!("thumbnail task failed: {e}"))?
        .map_err(|e| anyhow::anyhow!("a stored photo does not decode: {e}").into())
}

/// The fingerprint of an upload for idempotency keys: the same file, date and note.
pub fn fingerprint(upload: &Upload) -> String {
    hex::encode(Sha256::digest(format!(
        "photo\n{}\n{}\n{}",
        hex::encode(Sha256::digest(&upload.file)),
        upload.taken_on.map(|d| d.to_string()).unwrap_or_default(),
        upload.note.as_ref().map_or("", Note::as_str),
    )))
}

/// Checks, cleans and stores an upload; `profile` spends one `photos` unit.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    state: &AppState,
    profile: &Profile,
    upload: Upload,
    idempotency_key: Option<&IdempotencyKey>,
    ip: Option<String>,
    respond: &(dyn for<'p> Fn(&'p Photo) -> StoredResponse + Send + Sync),
) -> Result<Uploaded> {
    let idempotency_key = idempotency_key.map(IdempotencyKey::as_str);
    let gate = Gate::open(state, profile, FEATURE, 1, &fingerprint(&upload), ip).await?;
    let profile_id = profile.id;
    // A retry of an answered upload is answered at once, without touching the image.
    if let Some(key) = gate.request(idempotency_key).idempotency
        && let Some(stored) = state
            .store
            .stored_response(profile_id, key)
            .await
            .map_err(Error::from)?
    {
        Metrics::count(&state.metrics.consume_replayed);
        return Ok(Uploaded::Replayed(stored));
    }

    // No decoding for a profile that could not store the photo anyway.
    gate.ensure_room(state).await?;
    let file = upload.file;
    let cleaned = {
        // A few decodes at a time: parallel uploads queue instead of multiplying memory.
        let _permit = DECODES.acquire().await.map_err(anyhow::Error::from)?;
        tokio::task::spawn_blocking(move || imaging::clean(&file))
            .await
            .map_err(|e| anyhow::anyhow!("image task failed: {e}"))?
            .map_err(rejected)?
    };
    let photo = Photo {
        id: Uuid::now_v7(),
        profile_id,
        kind: cleaned.kind,
        width: cleaned.width,
        height: cleaned.height,
        bytes: i64::try_from(cleaned.bytes.len()).unwrap_or(i64::MAX),
        sha256: hex::encode(Sha256::digest(&cleaned.bytes)),
        taken_on: upload.taken_on,
        note: upload.note.map(String::from),
        created_at: gate.now(),
    };
    let target = path(state, &photo);
    write_atomically(target.clone(), cleaned.bytes).await?;

    let outcome = state
        .store
        .create_photo(&gate.request(idempotency_key), &photo, respond)
        .await;
    let created = match outcome {
        Ok(GatedCreate::Created(created)) => created,
        Ok(GatedCreate::LimitReached { used }) => {
            remove_file(&target).await;
            return Err(gate.refused(state, used).await);
        }
        Ok(GatedCreate::Replayed(stored)) => {
            remove_file(&target).await;
            Metrics::count(&state.metrics.consume_replayed);
            return Ok(Uploaded::Replayed(stored));
        }
        Err(e) => {
            remove_file(&target).await;
            return Err(Error::from(e));
        }
    };
    gate.spent(state, created.used).await;
    // The thumbnail for grids; a failure here only means it is made when first shown.
    if let Err(e) = thumbnail(state, profile_id, created.photo.id).await {
        tracing::warn!(error = %e, "thumbnail not made at upload");
    }
    Ok(Uploaded::Created(created.photo))
}

/// A page of the profile's photos, newest first: ids below `before`, `limit` at most.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    profile_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Photo>> {
    Ok(state.store.list_photos(profile_id, before, limit).await?)
}

/// The profile's photo; 404 for a photo of another profile or none.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(state: &AppState, profile_id: Uuid, id: Uuid) -> Result<Photo> {
    state
        .store
        .photo(profile_id, id)
        .await?
        .ok_or(Error::NotFound)
}

/// The profile's photo and its file, opened for reading (downloads and exports).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open(
    state: &AppState,
    profile_id: Uuid,
    id: Uuid,
) -> Result<(Photo, tokio::fs::File)> {
    let photo = get(state, profile_id, id).await?;
    match tokio::fs::File::open(path(state, &photo)).await {
        Ok(file) => Ok((photo, file)),
        Err(e) => Err(vanished_or_damaged(state, &photo, e).await),
    }
}

/// Deletes the profile's photo and its file; 404 for a photo of another profile or none.
/// Spent usage stays spent.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(state: &AppState, profile_id: Uuid, id: Uuid) -> Result<Photo> {
    let photo = state
        .store
        .delete_photo(profile_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    remove_file(&path(state, &photo)).await;
    remove_file(&thumb_path(state, &photo)).await;
    Ok(photo)
}

/// Removes the files of a deleted profile: each photo and thumbnail named, then the
/// profile's folders with whatever else is in them (a file left over from a crash).
pub async fn remove_files_of(state: &AppState, profile_id: Uuid, photos: &[Photo]) {
    for photo in photos {
        remove_file(&path(state, photo)).await;
        remove_file(&thumb_path(state, photo)).await;
    }
    let thumbs = state
        .config
        .data_dir
        .join("thumbs")
        .join(profile_id.to_string());
    for dir in [folder(state, profile_id), thumbs] {
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(error = %e, dir = %dir.display(), "photo folder not removed"),
        }
    }
}

fn rejected(r: Rejected) -> Error {
    match r {
        Rejected::UnsupportedType => Error::refused(ErrorCode::UnsupportedMediaType, r.to_string()),
        Rejected::Corrupt(_) | Rejected::TooLarge => Error::field("file", r.to_string()),
    }
}

/// Writes `bytes` to `target` so that readers see the whole file or none: a temporary file
/// in the same folder, fsync, rename over the target, fsync of the folder.
async fn write_atomically(target: PathBuf, bytes: Vec<u8>) -> Result<()> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let dir = target
            .parent()
            .ok_or_else(|| std::io::Error::other("a photo path has a folder"))?;
        std::fs::create_dir_all(dir)?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| std::io::Error::other("a photo path has a file name"))?;
        let temp = dir.join(format!(".{name}.tmp"));
        let written = (|| {
            let mut file = std::fs::File::create_new(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temp, &target)
        })();
        if written.is_err() {
            std::fs::remove_file(&temp).ok();
        }
        written?;
        // The rename itself survives a crash only once the folder is synced.
        std::fs::File::open(dir)?.sync_all()
    })
    .await
    .map_err(|e| anyhow::anyhow!("file task failed: {e}"))?
    .map_err(|e| anyhow::anyhow!("cannot store photo file: {e}").into())
}

/// Removes a photo file; a file that is already gone is fine, other failures are logged.
async fn remove_file(file: &Path) {
    match tokio::fs::remove_file(file).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!(error = %e, file = %file.display(), "photo file not removed"),
    }
}
