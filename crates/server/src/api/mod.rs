//! The JSON API: one file per group of endpoints, each with its handlers and the shapes only
//! the API has (envelopes, query parameters); [`routes`] assembles them with the OpenAPI
//! document that describes them. Handlers parse the request, call a service function and
//! answer its result; a service error answers as `{"error": …}` ([`error`]).

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::service::AppState;
use crate::service::profiles::ProfileView;

mod access;
pub mod admin;
mod ai;
mod auth;
pub mod billing;
pub mod coupons;
pub mod entries;
pub mod error;
pub mod export;
mod health;
mod idempotency;
mod invitations;
pub mod openapi;
mod passwords;
pub mod photos;
mod test_clock;
mod verification;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mitai", description = "Body tracking with a subscription, coupon and feature-access system."),
    modifiers(&BearerAuth),
    tags((name = "accounts"), (name = "access"), (name = "coupons"),
         (name = "data", description = "Tracked data: each create spends 1 of its feature"),
         (name = "photos", description = "Progress photos: each upload spends 1 `photos`"),
         (name = "ai", description = "AI insights: each call spends `ai_calls`"),
         (name = "billing", description = "Payments through Stripe (off without its keys)"),
         (name = "admin"), (name = "health"),
         (name = "test", description = "Only with MITAI_TEST_CLOCK=1"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// All routes with their OpenAPI description (test routes only when enabled).
pub fn api(state: &AppState) -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .nest(
            "/api/auth",
            OpenApiRouter::new()
                .routes(routes!(auth::register))
                .routes(routes!(auth::login))
                .routes(routes!(auth::logout))
                .routes(routes!(auth::logout_all))
                .routes(routes!(verification::verify_email))
                .routes(routes!(verification::resend_verification))
                .routes(routes!(passwords::password_reset))
                .routes(routes!(passwords::password_reset_confirm)),
        )
        .nest(
            "/api",
            OpenApiRouter::new()
                .routes(routes!(auth::me, auth::change_me, auth::delete_me))
                .routes(routes!(passwords::change_password))
                .routes(routes!(invitations::create))
                .routes(routes!(access::list))
                .routes(routes!(access::one))
                .routes(routes!(access::consume))
                .routes(routes!(coupons::redeem))
                .routes(routes!(coupons::my_grants))
                .routes(routes!(billing::prices))
                .routes(routes!(billing::checkout))
                .routes(routes!(billing::portal))
                .routes(routes!(billing::mine))
                .routes(routes!(billing::webhook))
                .merge(entries::router())
                .merge(export::router())
                .merge(photos::router())
                .merge(ai::router()),
        )
        .nest("/api/admin", admin::router(state));
    if state.config.test_clock {
        router = router.nest(
            "/api/test",
            OpenApiRouter::new()
                .routes(routes!(test_clock::clock))
                .routes(routes!(test_clock::run_jobs)),
        );
    }
    router
}

/// The OpenAPI document of the routes this server really serves, completed with the
/// refusals every route shares ([`openapi::complete`]).
pub fn openapi(state: &AppState) -> serde_json::Value {
    completed(&api(state).split_for_parts().1)
}

/// The API's routes, and the OpenAPI document that describes them.
pub fn routes(state: &AppState) -> (axum::Router<AppState>, serde_json::Value) {
    let (router, doc) = api(state).split_for_parts();
    (router, completed(&doc))
}

fn completed(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut json = serde_json::to_value(doc).unwrap_or_default();
    openapi::complete(&mut json);
    json
}

/// `{"profile": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileEnvelope {
    pub profile: ProfileView,
}

/// The bytes of a file (an image, an archive), as the OpenAPI document describes them.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// A page of a list: `{"items": […], "next_cursor": "…" | null}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// List parameters: `limit` (default 50, max 500) and `cursor`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Free-text filter, where the list supports one.
    pub query: Option<String>,
}
