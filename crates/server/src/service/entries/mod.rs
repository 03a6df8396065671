//! The tracked data: create (through the feature gate), list, get, update, delete — the
//! same for every entry type, generic over [`EntryType`].

use chrono::NaiveDate;
use mitai_access::entries::{check_date, clean_note};
use mitai_access::text::IdempotencyKey;
use mitai_access::{EntryData, EntryKind, FieldErrors};
use mitai_store::{
    CreatedEntry, Entry, EntryChange, EntryCursor, EntryOrder, EntryQuery, EntryUpdate,
    GatedCreate, NewEntry, Profile, StoredResponse,
};
use serde_json::Value;
use uuid::Uuid;

pub mod kinds;

use crate::metrics::Metrics;
use crate::service::AppState;
use crate::service::access::Gate;
use crate::service::{Error, ErrorCode, Result};
pub use kinds::{
    ActivityType, CaliperType, CircumferenceType, EntryEnvelope, EntryType, NutritionType,
    WeightType,
};

/// A body checked against every rule: the entry's date, note and data.
pub struct Checked {
    pub date: NaiveDate,
    pub note: Option<String>,
    pub data: EntryData,
}

/// Deserialises a JSON body as `T`'s input; a field that does not fit is named.
pub fn parse_input<T: EntryType>(body: Value) -> Result<T::Input> {
    serde_path_to_error::deserialize::<_, T::Input>(body).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names missing and unknown fields in its message, not in the path.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|prefix| inner.strip_prefix(prefix)?.split('`').next())
            .map(str::to_owned);
        let field = match (path.as_str(), named) {
            ("." | "", Some(name)) => name,
            ("." | "", None) => "body".to_owned(),
            (path, _) => path.to_owned(),
        };
        Error::field(&field, inner)
    })
}

/// Checks a body: the date (1900 to tomorrow), the note, and the data's ranges.
pub fn check<T: EntryType>(input: &T::Input, today: NaiveDate) -> Result<Checked> {
    let mut errors = FieldErrors::default();
    let (date, note) = T::common(input);
    let date = match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) if date.len() == 10 => {
            check_date(&mut errors, d, today);
            Some(d)
        }
        _ => {
            errors.add("date", "must be a date YYYY-MM-DD");
            None
        }
    };
    let note = clean_note(&mut errors, note);
    let data = match T::data(input) {
        Ok(data) => {
            if let Err(e) = data.check() {
                errors.merge(e);
            }
            Some(data)
        }
        Err(e) => {
            errors.merge(e);
            None
        }
    };
    match (date, data) {
        (Some(date), Some(data)) if errors.is_empty() => Ok(Checked { date, note, data }),
        _ => Err(invalid(errors)),
    }
}

fn invalid(errors: FieldErrors) -> Error {
    let fields = errors.into_map();
    let message = fields
        .iter()
        .map(|(field, why)| format!("{field}: {why}"))
        .collect::<Vec<_>>()
        .join("; ");
    Error::Invalid { message, fields }
}

/// What a create answers: a fresh entry, or the stored answer of an earlier request with
/// the same `Idempotency-Key`.
pub enum CreateAnswer<V> {
    Created(V),
    Replayed(StoredResponse),
}

/// Creates an entry: checks the body, then spends one unit of the type's feature and
/// inserts the entry in one store transaction. Over the limit → 403 and nothing written.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create<T: EntryType>(
    state: &AppState,
    profile: &Profile,
    body: Value,
    idempotency_key: Option<&IdempotencyKey>,
    ip: Option<String>,
) -> Result<CreateAnswer<T::View>> {
    let idempotency_key = idempotency_key.map(IdempotencyKey::as_str);
    let input = parse_input::<T>(body)?;
    let checked = check::<T>(&input, state.now().date_naive())?;
    // The key's fingerprint is the parsed body (fields in a fixed order), so a retry that
    // sends the same values in another layout is still the same request.
    let fingerprint = serde_json::to_string(&input).unwrap_or_default();
    let feature = T::KIND.feature_id();
    let gate = Gate::open(state, profile, feature, 1, &fingerprint, ip).await?;
    let new = NewEntry {
        id: Uuid::now_v7(),
        profile_id: profile.id,
        date: checked.date,
        note: checked.note,
        data: checked.data,
        created_at: gate.now(),
    };
    let respond = |entry: &Entry| StoredResponse {
        status: 201,
        body: serde_json::to_value(EntryEnvelope {
            entry: T::view(entry),
        })
        .unwrap_or(Value::Null),
    };
    match state
        .store
        .create_entry(&new, &gate.request(idempotency_key), &respond)
        .await
    {
        Ok(GatedCreate::Created(CreatedEntry { entry, used })) => {
            gate.spent(state, used).await;
            Ok(CreateAnswer::Created(T::view(&entry)))
        }
        Ok(GatedCreate::LimitReached { used }) => Err(gate.refused(state, used).await),
        Ok(GatedCreate::Replayed(stored)) => {
            Metrics::count(&state.metrics.consume_replayed);
            Ok(CreateAnswer::Replayed(stored))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks a JSON body of `T` as a create would (the first step of an import).
pub fn check_body<T: EntryType>(state: &AppState, body: Value) -> Result<Checked> {
    let input = parse_input::<T>(body)?;
    check::<T>(&input, state.now().date_naive())
}

/// Creates checked entries of `T` at once (a CSV import): one unit of the type's feature
/// per entry, spent and written in one transaction — all, or none when they would pass
/// the limit (403 `feature_limit_reached`, nothing written). Returns how many.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_batch<T: EntryType>(
    state: &AppState,
    profile: &Profile,
    entries: Vec<Checked>,
    ip: Option<String>,
) -> Result<usize> {
    let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    if n == 0 {
        return Ok(0);
    }
    let feature = T::KIND.feature_id();
    let gate = Gate::open(state, profile, feature, n, "import", ip).await?;
    let news: Vec<NewEntry> = entries
        .into_iter()
        .map(|c| NewEntry {
            id: Uuid::now_v7(),
            profile_id: profile.id,
            date: c.date,
            note: c.note,
            data: c.data,
            created_at: gate.now(),
        })
        .collect();
    match state
        .store
        .create_entries(&news, &gate.request(None))
        .await?
    {
        GatedCreate::Created((created, used)) => {
            gate.spent(state, used).await;
            Ok(created.len())
        }
        GatedCreate::LimitReached { used } => Err(gate.refused(state, used).await),
        GatedCreate::Replayed(_) => Ok(news.len()),
    }
}

/// The list parameters, checked.
pub struct ListArgs {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: i64,
    pub after: Option<EntryCursor>,
}

impl ListArgs {
    /// `from`/`to` as `YYYY-MM-DD`, `limit` 1–500 (default 50), `cursor` from a page.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<ListArgs> {
        let day = |field: &str, v: Option<&str>| -> Result<Option<NaiveDate>> {
            match v.filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .filter(|_| s.len() == 10)
                    .map(Some)
                    .ok_or_else(|| Error::field(field, "must be a date YYYY-MM-DD")),
            }
        };
        let limit = match limit {
            None => 50,
            Some(n) if (1..=500).contains(&n) => n,
            Some(_) => return Err(Error::field("limit", "must be from 1 to 500")),
        };
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                parse_cursor(c)
                    .ok_or_else(|| Error::field("cursor", "is not a cursor of this list"))?,
            ),
        };
        Ok(ListArgs {
            from: day("from", from)?,
            to: day("to", to)?,
            limit,
            after,
        })
    }
}

/// A list cursor: `<date>_<id>` of the last entry of the page.
pub fn cursor_of(entry: &Entry) -> String {
    format!("{}_{}", entry.date.format("%Y-%m-%d"), entry.id)
}

fn parse_cursor(c: &str) -> Option<EntryCursor> {
    let (date, id) = c.split_once('_')?;
    Some(EntryCursor {
        date: NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
        id: Uuid::parse_str(id).ok()?,
    })
}

/// A page of the profile's entries of one type, newest first (by date, then creation),
/// and the cursor of the next page.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list<T: EntryType>(
    state: &AppState,
    profile: &Profile,
    args: ListArgs,
) -> Result<(Vec<T::View>, Option<String>)> {
    let query = EntryQuery {
        from: args.from,
        to: args.to,
        after: args.after,
        limit: args.limit + 1,
        order: EntryOrder::NewestFirst,
    };
    let mut entries = state
        .store
        .list_entries(profile.id, T::KIND, &query)
        .await?;
    let next = if entries.len() as i64 > args.limit {
        entries.truncate(usize::try_from(args.limit).unwrap_or(0));
        entries.last().map(cursor_of)
    } else {
        None
    };
    Ok((entries.iter().map(T::view).collect(), next))
}

/// A page of the profile's entries of one kind as stored, newest first, from `cursor` on
/// (an unreadable cursor starts at the newest), and the cursor of the next page.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn page_of_kind(
    state: &AppState,
    profile_id: Uuid,
    kind: EntryKind,
    cursor: Option<&str>,
    size: i64,
) -> Result<(Vec<Entry>, Option<String>)> {
    let query = EntryQuery {
        from: None,
        to: None,
        after: cursor.and_then(parse_cursor),
        limit: size + 1,
        order: EntryOrder::NewestFirst,
    };
    let mut entries = state.store.list_entries(profile_id, kind, &query).await?;
    let next = if entries.len() as i64 > size {
        entries.truncate(usize::try_from(size).unwrap_or(0));
        entries.last().map(cursor_of)
    } else {
        None
    };
    Ok((entries, next))
}

/// The newest `max` entries of one kind dated on or after `from` (all dates without it),
/// oldest first: what a chart shows.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn series(
    state: &AppState,
    profile_id: Uuid,
    kind: EntryKind,
    from: Option<NaiveDate>,
    max: i64,
) -> Result<Vec<Entry>> {
    let query = EntryQuery {
        from,
        to: None,
        after: None,
        limit: max,
        order: EntryOrder::NewestFirst,
    };
    let mut entries = state.store.list_entries(profile_id, kind, &query).await?;
    entries.reverse();
    Ok(entries)
}

/// How many of the latest weigh-ins the weight summary reads: enough for the smoothed trend
/// to forget where it started (0.9¹⁵⁰ of the first weight is left), the rate and the
/// changes over a month, however often a person weighs in.
pub const RECENT_WEIGH_INS: i64 = 150;

/// A person's weigh-ins as the weight pages read them: the latest [`RECENT_WEIGH_INS`]
/// (oldest first) and what all of them add up to — two queries, however long the history.
pub struct WeightHistory {
    pub recent: Vec<Entry>,
    pub overview: Option<mitai_store::WeightOverview>,
}

impl WeightHistory {
    /// Whether `recent` holds every weigh-in since `from` (every one at all for `None`).
    pub fn covers(&self, from: Option<NaiveDate>) -> bool {
        let all = (self.recent.len() as i64) < RECENT_WEIGH_INS;
        all || matches!((from, self.recent.first()), (Some(from), Some(first)) if first.date < from)
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn weight_history(state: &AppState, profile_id: Uuid) -> Result<WeightHistory> {
    let recent = series(state, profile_id, EntryKind::Weight, None, RECENT_WEIGH_INS).await?;
    let overview = state.store.weight_overview(profile_id).await?;
    Ok(WeightHistory { recent, overview })
}

/// The profile's entry; 404 for another profile's, another type's, or none.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get<T: EntryType>(state: &AppState, profile: &Profile, id: Uuid) -> Result<Entry> {
    state
        .store
        .entry(profile.id, T::KIND, id)
        .await?
        .ok_or(Error::NotFound)
}

/// How often an update is tried again when another update came in between.
const UPDATE_ATTEMPTS: usize = 5;

/// Changes the fields named in `patch` (a JSON object; `null` clears an optional field)
/// and checks the result as a create would. Spends nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update<T: EntryType>(
    state: &AppState,
    profile: &Profile,
    id: Uuid,
    patch: Value,
) -> Result<T::View> {
    let Value::Object(patch) = patch else {
        return Err(Error::field("body", "must be a JSON object"));
    };
    for _ in 0..UPDATE_ATTEMPTS {
        let entry = get::<T>(state, profile, id).await?;
        let mut merged =
            serde_json::to_value(T::input_of(&entry)).map_err(|e| Error::Internal(e.into()))?;
        if let Value::Object(fields) = &mut merged {
            for (key, value) in &patch {
                fields.insert(key.clone(), value.clone());
            }
        }
        let input = parse_input::<T>(merged)?;
        let checked = check::<T>(&input, state.now().date_naive())?;
        let change = EntryChange {
            profile_id: profile.id,
            id,
            expected_revision: Some(entry.revision),
            date: checked.date,
            note: checked.note,
            data: checked.data,
            now: state.now(),
        };
        match state.store.update_entry(&change).await? {
            EntryUpdate::Updated(entry) => return Ok(T::view(&entry)),
            EntryUpdate::NotFound => return Err(Error::NotFound),
            // Another update came in between: merge into its result.
            EntryUpdate::Stale => continue,
        }
    }
    Err(Error::refused(
        ErrorCode::Conflict,
        "the entry is being changed by another request; try again",
    ))
}

/// Deletes the profile's entry; 404 if it has none. The spent unit stays spent.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete<T: EntryType>(state: &AppState, profile: &Profile, id: Uuid) -> Result<()> {
    if state.store.delete_entry(profile.id, T::KIND, id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}
