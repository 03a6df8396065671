//! Exports of a profile's data: CSV, JSON and a zip of everything, each spending one unit of
//! its feature (`export_csv`, `export_json`, `export_zip`) and logged as
//! `export_downloaded`.
//!
//! Exports are streamed: a task pages through the store ([`PAGE`] entries at a time) and
//! writes into a 64 KiB pipe that the response body reads, so a large account never sits in
//! memory and a slow client slows the task down instead of filling memory. A failure after
//! the first byte aborts the response (the client sees a broken download, never a silently
//! truncated file).

pub mod csv;
mod zip;

use std::io;

use axum::body::Body;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use mitai_access::EntryKind;
use mitai_access::body::Units;
use mitai_store::{
    ConsumeResult, Consumed, Entry, EntryCursor, EntryOrder, EntryQuery, NewActivity, Profile,
    actions,
};
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::service::AppState;
use crate::service::Result;
use crate::service::access::Gate;
use crate::service::entries::kinds::view_json;

/// Entries (or photos) read from the store at a time.
pub const PAGE: i64 = 500;
/// The pipe between the export task and the response body.
const PIPE_BYTES: usize = 64 * 1024;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One type's CSV, or (`None`) all types in one CSV with a `type` column.
    Csv(Option<EntryKind>),
    /// Everything of the profile in one JSON document.
    Json,
    /// One CSV per type, the JSON document and the photo files.
    Zip,
}

impl Format {
    pub fn feature_id(self) -> &'static str {
        match self {
            Format::Csv(_) => "export_csv",
            Format::Json => "export_json",
            Format::Zip => "export_zip",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv(_) => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Zip => "application/zip",
        }
    }

    /// `mitai-<type>-<date>.<ext>`: the entry type of a one-type CSV, else `all`.
    pub fn file_name(self, now: DateTime<Utc>) -> String {
        let (what, ext) = match self {
            Format::Csv(Some(kind)) => (kind.as_str(), "csv"),
            Format::Csv(None) => ("all", "csv"),
            Format::Json => ("all", "json"),
            Format::Zip => ("all", "zip"),
        };
        format!("mitai-{what}-{}.{ext}", now.format("%Y-%m-%d"))
    }

    fn name(self) -> &'static str {
        match self {
            Format::Csv(_) => "csv",
            Format::Json => "json",
            Format::Zip => "zip",
        }
    }
}

/// A download that passed the gate: its file name and the streaming body.
pub struct Download {
    pub file_name: String,
    pub body: Body,
}

/// Spends one unit of the format's feature (403 and no body when refused), logs
/// `export_downloaded` and starts streaming.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn start(
    state: &AppState,
    profile: &Profile,
    format: Format,
    ip: Option<String>,
) -> Result<Download> {
    let gate = Gate::open(state, profile, format.feature_id(), 1, "export", ip.clone()).await?;
    let respond = |decided: Consumed| {
        gate.stored_answer(decided, |used| {
            serde_json::to_value(gate.view(used)).unwrap_or(Value::Null)
        })
    };
    match state.store.consume(&gate.request(None), &respond).await? {
        ConsumeResult::Fresh(Consumed::Spent { used }) => gate.spent(state, used).await,
        ConsumeResult::Fresh(Consumed::LimitReached { used }) => {
            return Err(gate.refused(state, used).await);
        }
        // Without a key nothing is replayed.
        ConsumeResult::Replayed(_) => {}
    }
    let mut details = json!({ "format": format.name() });
    if let Format::Csv(Some(kind)) = format {
        details["type"] = json!(kind.as_str());
    }
    let event = NewActivity::new(actions::EXPORT_DOWNLOADED, gate.now())
        .by_self(profile.id)
        .details(details)
        .ip(ip);
    crate::service::activity_log::record(state, event).await;

    let now = gate.now();
    let (state, profile) = (state.clone(), profile.clone());
    let body = stream(move |mut out| async move {
        match format {
            Format::Csv(Some(kind)) => {
                let units = crate::service::profiles::units_of(&profile);
                write_csv(&state, profile.id, kind, units, &mut out).await?;
            }
            Format::Csv(None) => {
                let units = crate::service::profiles::units_of(&profile);
                write_combined_csv(&state, profile.id, units, &mut out).await?;
            }
            Format::Json => write_json(&state, &profile, now, &mut out).await?,
            Format::Zip => zip::write_zip(&state, &profile, now, out).await?,
        }
        Ok(())
    });
    Ok(Download {
        file_name: format.file_name(now),
        body,
    })
}

/// The pipe's writing end, as the export task sees it.
pub type Pipe = tokio::io::DuplexStream;

/// A body fed by `produce`, which runs as its own task and writes into a bounded pipe.
/// When it fails, the body ends with an error instead of a clean end of file.
pub fn stream<F, Fut>(produce: F) -> Body
where
    F: FnOnce(Pipe) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (reader, writer) = tokio::io::duplex(PIPE_BYTES);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let outcome = produce(writer).await;
        if let Err(e) = &outcome {
            // A client that went away breaks the pipe: that is no server failure.
            if done_tx.is_closed() {
                tracing::info!(error = format!("{e:#}"), "export stopped: client gone");
            } else {
                tracing::error!(error = format!("{e:#}"), "export failed");
            }
        }
        let _ = done_tx.send(outcome.is_ok());
    });
    let tail = futures::stream::once(async move {
        match done_rx.await {
            Ok(true) => None,
            _ => Some(Err(io::Error::other("the export failed"))),
        }
    })
    .filter_map(|end| async move { end });
    Body::from_stream(tokio_util::io::ReaderStream::new(reader).chain(tail))
}

/// Pages through the profile's entries of one type, oldest first.
pub struct EntryPages {
    profile_id: Uuid,
    kind: EntryKind,
    after: Option<EntryCursor>,
    done: bool,
}

impl EntryPages {
    pub fn new(profile_id: Uuid, kind: EntryKind) -> EntryPages {
        EntryPages {
            profile_id,
            kind,
            after: None,
            done: false,
        }
    }

    /// The next page; `None` after the last.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn next(&mut self, state: &AppState) -> anyhow::Result<Option<Vec<Entry>>> {
        if self.done {
            return Ok(None);
        }
        let query = EntryQuery {
            from: None,
            to: None,
            after: self.after,
            limit: PAGE,
            order: EntryOrder::OldestFirst,
        };
        let page = state
            .store
            .list_entries(self.profile_id, self.kind, &query)
            .await?;
        self.done = (page.len() as i64) < PAGE;
        self.after = page.last().map(EntryCursor::of);
        Ok((!page.is_empty()).then_some(page))
    }
}

/// One type's CSV.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn write_csv<W: AsyncWrite + Unpin + Send>(
    state: &AppState,
    profile_id: Uuid,
    kind: EntryKind,
    units: Units,
    out: &mut W,
) -> anyhow::Result<()> {
    out.write_all(csv::header(kind, units).as_bytes()).await?;
    let mut pages = EntryPages::new(profile_id, kind);
    while let Some(page) = pages.next(state).await? {
        let mut chunk = String::with_capacity(page.len() * 96);
        for entry in &page {
            csv::push_row(&mut chunk, entry, units);
        }
        out.write_all(chunk.as_bytes()).await?;
    }
    Ok(())
}

/// Every type in one CSV, type by type, each oldest first.
async fn write_combined_csv<W: AsyncWrite + Unpin + Send>(
    state: &AppState,
    profile_id: Uuid,
    units: Units,
    out: &mut W,
) -> anyhow::Result<()> {
    let columns = csv::combined_columns(units);
    out.write_all(csv::combined_header(units).as_bytes())
        .await?;
    for kind in EntryKind::ALL {
        let mut pages = EntryPages::new(profile_id, kind);
        while let Some(page) = pages.next(state).await? {
            let mut chunk = String::with_capacity(page.len() * 160);
            for entry in &page {
                csv::push_combined_row(&mut chunk, &columns, entry, units);
            }
            out.write_all(chunk.as_bytes()).await?;
        }
    }
    Ok(())
}

/// Where a photo's file is in the zip export (and what the JSON document names).
pub fn photo_file_name(photo: &mitai_store::Photo) -> String {
    format!("photos/{}.{}", photo.id, photo.kind.extension())
}

/// Everything of the profile in one JSON document:
/// `{"format": "mitai-export", "version": 1, "exported_at", "profile", "weight": […],
/// "circumference": […], "caliper": […], "nutrition": […], "activity": […], "photos": […],
/// "ai_results": […]}`; entries oldest first, as the API shows them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn write_json<W: AsyncWrite + Unpin + Send>(
    state: &AppState,
    profile: &Profile,
    now: DateTime<Utc>,
    out: &mut W,
) -> anyhow::Result<()> {
    let head = json!({
        "format": "mitai-export",
        "version": 1,
        "exported_at": now.to_rfc3339_opts(SecondsFormat::Micros, true),
        "profile": {
            "id": profile.id,
            "email": profile.email,
            "name": profile.name,
            "language": profile.language,
            "created_at": profile.created_at,
        },
    });
    // The head without its closing brace; the lists follow as further members.
    let head = serde_json::to_string(&head)?;
    out.write_all(&head.as_bytes()[..head.len() - 1]).await?;
    for kind in EntryKind::ALL {
        out.write_all(format!(",\"{}\":[", kind.as_str()).as_bytes())
            .await?;
        let mut pages = EntryPages::new(profile.id, kind);
        let mut first = true;
        while let Some(page) = pages.next(state).await? {
            let mut chunk = Vec::with_capacity(page.len() * 200);
            for entry in &page {
                if !std::mem::take(&mut first) {
                    chunk.push(b',');
                }
                serde_json::to_writer(&mut chunk, &view_json(entry))?;
            }
            out.write_all(&chunk).await?;
        }
        out.write_all(b"]").await?;
    }
    write_media_json(state, profile.id, out).await?;
    out.write_all(b"}").await?;
    Ok(())
}

/// The `photos` and `ai_results` members of the JSON document, newest first.
async fn write_media_json<W: AsyncWrite + Unpin + Send>(
    state: &AppState,
    profile_id: Uuid,
    out: &mut W,
) -> anyhow::Result<()> {
    out.write_all(b",\"photos\":[").await?;
    let mut before = None;
    let mut first = true;
    loop {
        let page = state.store.list_photos(profile_id, before, PAGE).await?;
        let mut chunk = Vec::new();
        for p in &page {
            if !std::mem::take(&mut first) {
                chunk.push(b',');
            }
            let item = json!({
                "id": p.id,
                "content_type": p.kind.content_type(),
                "width": p.width,
                "height": p.height,
                "bytes": p.bytes,
                "sha256": p.sha256,
                "taken_on": p.taken_on,
                "note": p.note,
                "created_at": p.created_at,
                "file": photo_file_name(p),
            });
            serde_json::to_writer(&mut chunk, &item)?;
        }
        out.write_all(&chunk).await?;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => before = Some(last.id),
            _ => break,
        }
    }
    out.write_all(b"],\"ai_results\":[").await?;
    let mut before = None;
    let mut first = true;
    loop {
        let page = state
            .store
            .list_ai_results(profile_id, None, before, PAGE)
            .await?;
        let mut chunk = Vec::new();
        for r in &page {
            if !std::mem::take(&mut first) {
                chunk.push(b',');
            }
            let item = json!({
                "id": r.id,
                "kind": r.kind.as_str(),
                "question": r.question,
                "answer": r.answer,
                "model": r.model,
                "steps": r.steps,
                "created_at": r.created_at,
            });
            serde_json::to_writer(&mut chunk, &item)?;
        }
        out.write_all(&chunk).await?;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => before = Some(last.id),
            _ => break,
        }
    }
    out.write_all(b"]").await?;
    Ok(())
}
