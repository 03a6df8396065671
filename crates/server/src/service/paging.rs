//! Lists in pages: `limit` (default 50, 1–500) and an opaque `cursor` (the id of the last
//! row of the previous page).

use uuid::Uuid;

use super::{Error, Result};

/// Checks the list parameters `limit` (default 50, 1–500) and `cursor` (the id the page
/// starts after). Lists fetch `limit + 1` rows and hand them to [`next_cursor`].
pub fn page_args(limit: Option<i64>, cursor: Option<&str>) -> Result<(i64, Option<Uuid>)> {
    let limit = match limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(Error::field("limit", "must be from 1 to 500")),
    };
    let after = match cursor {
        None | Some("") => None,
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| Error::field("cursor", "is not a cursor of this list"))?,
        ),
    };
    Ok((limit, after))
}

/// Cuts rows fetched with `limit + 1` down to the page and returns the id of the page's
/// last row when more rows follow (the next page starts after it), else `None`.
pub fn next_after<R>(rows: &mut Vec<R>, limit: i64, id: impl Fn(&R) -> Uuid) -> Option<Uuid> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(id)
    } else {
        None
    }
}

/// [`next_after`] as the `next_cursor` string of a [`Page`].
pub fn next_cursor<R>(rows: &mut Vec<R>, limit: i64, id: impl Fn(&R) -> Uuid) -> Option<String> {
    next_after(rows, limit, id).map(|id| id.to_string())
}
