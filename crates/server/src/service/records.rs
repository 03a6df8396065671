//! The records the service functions read and return, as the store keeps them: a profile,
//! an entry, a photo, a grant, an AI answer, the stored answer of an idempotent request.
//! The pages and the API name them from here; the store itself is reachable only from the
//! service functions.

pub use mitai_store::coupons::{Grant, GrantSpan};
pub use mitai_store::{
    AiKind, AiResult, Entry, Photo, Profile, Role, StoredResponse, WeightOverview,
};
