//! The zip export: `<type>.csv` for each entry type, `mitai.json` (the JSON export) and
//! `photos/<id>.<ext>` for each photo. Entries are written as streams (sizes and checksums
//! in data descriptors after the data), so nothing is seeked and nothing is held whole:
//! CSVs and JSON are deflated as they are produced, photos (already compressed) are stored.

use async_zip::base::write::{EntryStreamWriter, ZipFileWriter};
use async_zip::{Compression, ZipDateTime, ZipDateTimeBuilder, ZipEntryBuilder};
use chrono::{DateTime, Datelike, Timelike, Utc};
use mitai_access::EntryKind;
use mitai_store::Profile;
use tokio_util::compat::{Compat, FuturesAsyncWriteCompatExt};

use super::{PAGE, Pipe, photo_file_name, write_csv, write_json};
use crate::service::AppState;

type Zip = ZipFileWriter<Compat<Pipe>>;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn write_zip(
    state: &AppState,
    profile: &Profile,
    now: DateTime<Utc>,
    out: Pipe,
) -> anyhow::Result<()> {
    let mut zip = ZipFileWriter::with_tokio(out);
    let stamp = zip_time(now);
    for kind in EntryKind::ALL {
        let name = format!("{}.csv", kind.as_str());
        let mut entry = open_entry(&mut zip, name, Compression::Deflate, stamp).await?;
        let units = crate::service::profiles::units_of(profile);
        write_csv(state, profile.id, kind, units, &mut entry).await?;
        entry.into_inner().close().await?;
    }
    let mut entry = open_entry(&mut zip, "mitai.json".into(), Compression::Deflate, stamp).await?;
    write_json(state, profile, now, &mut entry).await?;
    entry.into_inner().close().await?;
    add_photo_files(state, profile, &mut zip, stamp).await?;
    zip.close().await?;
    Ok(())
}

/// Starts a streamed entry and returns it as a tokio writer.
async fn open_entry(
    zip: &mut Zip,
    name: String,
    compression: Compression,
    stamp: ZipDateTime,
) -> anyhow::Result<Compat<EntryStreamWriter<'_, Compat<Pipe>>>> {
    let builder = ZipEntryBuilder::new(name.into(), compression)
        .last_modification_date(stamp)
        .unix_permissions(0o644);
    Ok(zip.write_entry_stream(builder).await?.compat_write())
}

/// Adds every photo file of the profile as `photos/<id>.<ext>`, newest first, one file
/// open at a time.
async fn add_photo_files(
    state: &AppState,
    profile: &Profile,
    zip: &mut Zip,
    stamp: ZipDateTime,
) -> anyhow::Result<()> {
    let mut before = None;
    loop {
        let page = state.store.list_photos(profile.id, before, PAGE).await?;
        for photo in &page {
            let path = crate::service::photos::path(state, photo);
            let mut file = match tokio::fs::File::open(&path).await {
                Ok(file) => file,
                // Deleted since the page was read: the export holds what is there.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && state.store.photo(profile.id, photo.id).await?.is_none() =>
                {
                    continue;
                }
                Err(e) => {
                    anyhow::bail!("photo file {} cannot be opened: {e}", path.display())
                }
            };
            let mut entry =
                open_entry(zip, photo_file_name(photo), Compression::Stored, stamp).await?;
            tokio::io::copy(&mut file, &mut entry).await?;
            entry.into_inner().close().await?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => before = Some(last.id),
            _ => return Ok(()),
        }
    }
}

/// The export instant in the zip's (local, two-second) time format, as UTC.
fn zip_time(now: DateTime<Utc>) -> ZipDateTime {
    ZipDateTimeBuilder::new()
        .year(now.year())
        .month(now.month())
        .day(now.day())
        .hour(now.hour())
        .minute(now.minute())
        .second(now.second())
        .build()
}
