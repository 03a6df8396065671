//! The application as one router: the API (with its OpenAPI document and docs page), the web
//! pages and their assets, and what every request passes through — request ids, tracing,
//! timeouts, the cross-site guard, metrics, panics answered as errors — with the API's 404 or
//! the pages' 404 for everything else.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::service::{AppState, Error, ErrorCode};

/// The middleware of every route, in one layer (each layer of a router is a boxed service
/// cloned for every request), outermost first:
///
/// - request and response bodies that make no progress for `MITAI_IDLE_TIMEOUT` end
///   ([`crate::serve::IdleTimeout`]);
/// - a request must be answered within `MITAI_REQUEST_TIMEOUT` (reading its body
///   included), else 408 `timeout`. The AI routes may take as long as their provider calls
///   (three for the pipeline). A streamed answer (an export) is answered as soon as it
///   starts; its body is bounded by the idle timeout instead;
/// - cross-site writes are refused ([`crate::http::csrf::refused`]);
/// - every other response is counted by status in the metrics, and carries the session
///   cookie again when the request renewed it ([`crate::http::auth::RenewedCookie`]).
pub async fn every_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let idle = state.config.limits.idle_timeout;
    let mut request = request.map(|body| crate::serve::IdleTimeout::wrap(body, idle));
    let mut limit = state.config.limits.request_timeout;
    if request.uri().path().starts_with("/api/ai/")
        && let Some(ai) = &state.config.ai
    {
        limit = limit.max(ai.timeout * 3 + std::time::Duration::from_secs(10));
    }
    let answer = async {
        if crate::http::csrf::refused(&state, &request) {
            return cross_site_refusal(&request);
        }
        // A request that meets a connection the database ended (a restart, a failover) is
        // sent once more, on a fresh connection, when that does it once: a read, or a write
        // none of whose work could have been kept (see `health::Attempt`) and whose body
        // was read whole and is small.
        let replay = Replay::of(&mut request);
        let deaths = crate::service::health::connections_lost();
        let renewed = crate::http::auth::RenewedCookie::offer(&mut request);
        let (mut response, attempt) =
            crate::service::health::watch(next.clone().run(request)).await;
        if let Some(replay) = replay
            && response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE
            && crate::service::health::connections_lost() != deaths
            && (replay.reads() || attempt.may_run_again())
            && let Some(mut again) = replay.request()
        {
            let renewed_again = crate::http::auth::RenewedCookie::offer(&mut again);
            response = next.run(again).await;
            renewed_again.apply(&mut response);
        }
        state.metrics.count_response(response.status().as_u16());
        renewed.apply(&mut response);
        response
    };
    let response = match tokio::time::timeout(limit, answer).await {
        Ok(response) => response,
        Err(_) => Error::refused(
            crate::api::error::ErrorCode::Timeout,
            "the request took too long",
        )
        .into_response(),
    };
    response.map(|body| crate::serve::IdleTimeout::wrap_answer(body, idle))
}

/// The answer to a cross-site write: the 403 page in the visitor's language for a form of the
/// web pages, the API's 403 `forbidden` for the API.
fn cross_site_refusal(request: &Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return Error::refused(
            ErrorCode::Forbidden,
            "requests from other sites may not change anything here",
        )
        .into_response();
    }
    let visitor = crate::ui::Visitor {
        user: None,
        lang: crate::ui::Lang::of_request(None, request.headers()),
        here: "/".into(),
    };
    crate::ui::error_page(&visitor, axum::http::StatusCode::FORBIDDEN)
}

/// Request ids: unique in this process (a counter) and across processes (a random
/// prefix), in the UUID format, without asking the operating system for randomness
/// each time.
#[derive(Clone, Copy)]
struct RequestIds;

impl tower_http::request_id::MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        static PREFIX: std::sync::LazyLock<u64> =
            std::sync::LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&PREFIX.to_be_bytes());
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        axum::http::HeaderValue::from_str(&id.hyphenated().to_string())
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// Nothing at this path: the API's 404 under `/api`, the UI's 404 page elsewhere.
async fn fallback(
    uri: axum::http::Uri,
    visitor: Result<crate::ui::Visitor, crate::ui::UiError>,
) -> Response {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        Error::NotFound.into_response()
    } else {
        crate::ui::not_found(visitor).await
    }
}

async fn method_not_allowed() -> Error {
    Error::refused(
        ErrorCode::MethodNotAllowed,
        "this method is not allowed here",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    Error::Internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// What a request needs to be sent again: its method, address, headers and extensions
/// (the client's address, the route's parameters — this runs after routing) and, for a
/// request with a body, the body as the handler read it ([`Tape`]).
struct Replay {
    method: axum::http::Method,
    uri: axum::http::Uri,
    version: axum::http::Version,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    reads: bool,
    /// `None`: no body.
    body: Option<Arc<Mutex<Tape>>>,
}

impl Replay {
    /// `None` for a body larger than [`Tape::MOST`] (an upload): it is not kept.
    fn of(request: &mut Request) -> Option<Replay> {
        use axum::http::Method;
        use hyper::body::Body as _;
        let reads = request.method() == Method::GET || request.method() == Method::HEAD;
        let body = if reads || request.body().size_hint().exact() == Some(0) {
            None
        } else {
            let declared = request.body().size_hint().upper();
            if declared.is_none_or(|n| n > Tape::MOST as u64) {
                return None;
            }
            let tape = Arc::new(Mutex::new(Tape::default()));
            let body = std::mem::take(request.body_mut());
            *request.body_mut() = axum::body::Body::new(Recording {
                inner: body,
                tape: tape.clone(),
            });
            Some(tape)
        };
        Some(Replay {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            extensions: request.extensions().clone(),
            reads,
            body,
        })
    }

    fn reads(&self) -> bool {
        self.reads
    }

    /// The request once more; `None` when its body was not read whole.
    fn request(self) -> Option<Request> {
        let body = match self.body {
            None => axum::body::Body::empty(),
            Some(tape) => {
                let tape =
                    std::mem::take(&mut *tape.lock().unwrap_or_else(PoisonError::into_inner));
                if !tape.whole {
                    return None;
                }
                axum::body::Body::from(tape.bytes)
            }
        };
        let mut request = Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        *request.extensions_mut() = self.extensions;
        Some(request)
    }
}

/// A request's body as the handler read it.
#[derive(Default)]
struct Tape {
    bytes: Vec<u8>,
    /// More than [`Tape::MOST`] came: not kept.
    over: bool,
    /// Read to its end without an error, and kept.
    whole: bool,
}

impl Tape {
    /// The largest body kept for sending a request again: the API's and the forms' bodies
    /// are far smaller; uploads are not sent again.
    const MOST: usize = 64 * 1024;
}

/// A body that keeps a copy of what is read from it on its [`Tape`].
struct Recording {
    inner: axum::body::Body,
    tape: Arc<Mutex<Tape>>,
}

impl hyper::body::Body for Recording {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if let std::task::Poll::Ready(frame) = &frame {
            let mut tape = this.tape.lock().unwrap_or_else(PoisonError::into_inner);
            match frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        if tape.bytes.len() + data.len() <= Tape::MOST {
                            tape.bytes.extend_from_slice(data);
                        } else {
                            tape.over = true;
                        }
                    }
                }
                Some(Err(_)) => tape.over = true,
                None => tape.whole = !tape.over,
            }
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The complete application: API, docs, error shape for everything, tracing, request ids.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = crate::api::routes(&state);
    let router = router
        .merge(SwaggerUi::new("/api/docs").external_url_unchecked("/api/openapi.json", openapi))
        // The web UI: HTML, not API, so outside the OpenAPI document.
        .merge(crate::ui::router(&state))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            every_request,
        ));
    // One layer of a stack (the first is outermost), so one boxed service per route.
    router.with_state(state).layer(
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("-", |p| p.as_str());
                    let id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), route, request_id = id)
                }),
            )
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(DefaultBodyLimit::max(1024 * 1024)),
    )
}
