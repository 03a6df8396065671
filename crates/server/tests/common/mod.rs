//! Test harness: an app on its own fresh database (SQLite or PostgreSQL), driven through
//! `Router::oneshot`, with builders for users and admins.
#![allow(dead_code)]

pub mod browser;
pub mod process;
pub mod stripe;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mitai_server::AppState;
use mitai_server::config::{Config, ServeArgs};
use mitai_store::Backend;
use mitai_store::testing::TestDb;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub router: Router,
}

/// Runs each named async test function `fn(Backend)` once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(mitai_store::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(mitai_store::Backend::Postgres).await
                }
            )*
        }
    };
}

impl TestApp {
    /// A new app on a new database, with the test clock enabled.
    pub async fn new(backend: Backend) -> TestApp {
        let args = ServeArgs {
            test_clock: "1".into(),
            ..ServeArgs::default()
        };
        TestApp::with_args(backend, args).await
    }

    pub async fn with_args(backend: Backend, mut args: ServeArgs) -> TestApp {
        // Requests that carry `X-Forwarded-For` come from this trusted proxy (see `send`).
        if args.trusted_proxies.is_empty() {
            args.trusted_proxies = "127.0.0.1".into();
        }
        // Photos and thumbnails go to a directory of the test's own, not into the checkout.
        if args.data_dir == std::path::Path::new("data") {
            args.data_dir =
                std::env::temp_dir().join(format!("mitai-test-data-{}", uuid::Uuid::now_v7()));
        }
        let db = TestDb::new(backend).await;
        args.database_url = db.url.clone();
        let config = Config::from_args(&args).expect("test config");
        let state = AppState::new(db.store.clone(), config)
            .await
            .expect("state");
        let router = mitai_server::app(state.clone());
        TestApp { db, state, router }
    }

    /// Sends a request and returns status, headers and the raw body. A request with
    /// `X-Forwarded-For` arrives from the trusted proxy 127.0.0.1, so the header names its
    /// client; others have no peer address (as in-process calls do).
    pub async fn send(&self, mut request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        if request.headers().contains_key("x-forwarded-for") {
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
            ));
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, body)
    }

    /// Sends JSON (or nothing) with an optional bearer token; returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .expect("request");
        let (status, _, bytes) = self.send(request).await;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{uri} answered non-JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, json)
    }

    /// A page as the signed-in holder of `token` sees it.
    #[allow(dead_code)]
    pub async fn get_html(&self, uri: &str, token: &str) -> (StatusCode, String) {
        let request = Request::get(uri)
            .header(header::COOKIE, format!("mitai_session={token}"))
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = self.send(request).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, uri, token, None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    pub async fn put(&self, uri: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, uri, token, Some(body)).await
    }

    pub async fn patch(&self, uri: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, uri, token, Some(body)).await
    }

    pub async fn delete(&self, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::DELETE, uri, token, None).await
    }

    /// Registers a user, verifies the e-mail (with the token of the verification mail,
    /// through the real endpoint) and logs in; returns (token, profile id).
    pub async fn user(&self, email: &str) -> (String, String) {
        let id = self.register_user(email).await;
        self.verify(email).await;
        (self.login(email, "password123").await, id)
    }

    /// Registers and logs in a user whose e-mail is not verified; returns (token, id).
    pub async fn unverified_user(&self, email: &str) -> (String, String) {
        let id = self.register_user(email).await;
        (self.login(email, "password123").await, id)
    }

    /// Registers a user with the password `password123`; returns the profile id.
    pub async fn register_user(&self, email: &str) -> String {
        let (status, body) = self
            .post(
                "/api/auth/register",
                None,
                json!({"email": email, "password": "password123", "name": "Test"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {email}: {body}");
        body["profile"]["id"].as_str().expect("id").to_owned()
    }

    /// The token of the newest `template` mail (`verify_email`, `password_reset`,
    /// `invitation`) to `email` that is still in the outbox with its data (unsent).
    pub async fn mailed_token(&self, email: &str, template: &str) -> Option<String> {
        let outbox = self
            .db
            .store
            .outbox(None, None, 100_000)
            .await
            .expect("outbox");
        outbox
            .iter()
            .rev()
            .filter(|m| m.template == template && m.to.eq_ignore_ascii_case(email.trim()))
            .find_map(|m| m.data["token"].as_str().map(str::to_owned))
    }

    /// Verifies the e-mail of a registered user with the token of its verification mail.
    pub async fn verify(&self, email: &str) {
        let token = self
            .mailed_token(email, "verify_email")
            .await
            .unwrap_or_else(|| panic!("no verification mail to {email}"));
        let (status, body) = self
            .post("/api/auth/verify-email", None, json!({ "token": token }))
            .await;
        assert_eq!(status, StatusCode::OK, "verify {email}: {body}");
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Creates an admin (as the CLI does) and logs in; returns the token.
    pub async fn admin(&self) -> String {
        let email = "admin@example.org";
        mitai_server::service::accounts::create_user(
            &self.state,
            email,
            "adminpass1",
            Some("Admin"),
            true,
        )
        .await
        .expect("create admin");
        self.login(email, "adminpass1").await
    }

    /// Moves the test clock.
    pub async fn advance(&self, seconds: i64) -> Value {
        let (status, body) = self
            .post("/api/test/clock", None, json!({"advance_seconds": seconds}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// Helpers for tests that drive the clock, settings and restrictions.
impl TestApp {
    /// Moves the test clock to an instant (RFC 3339); it must not be in the past.
    pub async fn clock_to(&self, now: &str) -> Value {
        let (status, body) = self
            .post("/api/test/clock", None, json!({ "now": now }))
            .await;
        assert_eq!(status, StatusCode::OK, "clock to {now}: {body}");
        body
    }

    /// Sets a global setting as an admin; panics unless it is accepted.
    pub async fn set_setting(&self, admin: &str, key: &str, value: Value) -> Value {
        let (status, body) = self
            .put(
                &format!("/api/admin/settings/{key}"),
                Some(admin),
                json!({ "value": value }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "setting {key}: {body}");
        body
    }

    /// Puts the instance in `zone` as if it had always been there: stored directly, as a
    /// fresh install's setting, so no change of zone is remembered (an admin's change keeps
    /// the running period's start, DESIGN §18).
    #[allow(dead_code)]
    pub async fn zone_from_the_start(&self, zone: &str) {
        let now = self.state.now();
        self.db
            .store
            .set_setting("usage_timezone", &json!(zone), None, now)
            .await
            .expect("zone");
        self.state.registry_changed().await.expect("reload");
    }

    /// Overrides one feature's limit for a profile (no expiry).
    pub async fn restrict(&self, admin: &str, profile_id: &str, feature: &str, limit: Value) {
        let (status, body) = self
            .put(
                &format!("/api/admin/users/{profile_id}/restrictions/{feature}"),
                Some(admin),
                json!({ "limit": limit, "reason": "test" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "restrict {feature}: {body}");
    }
}

/// A small PNG made here (`width` × `height`, a colour ramp).
/// A data folder of its own (photos, thumbnails), removed at the end of the test.
pub struct DataDir(pub std::path::PathBuf);

impl DataDir {
    pub fn new() -> DataDir {
        let dir =
            std::env::temp_dir().join(format!("mitai-data-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        DataDir(dir)
    }

    /// The files in a profile's photo folder (temporary files included).
    pub fn photo_files(&self, profile: &str) -> Vec<String> {
        self.files(&self.0.join("photos").join(profile))
    }

    /// The files in a profile's thumbnail folder.
    pub fn thumb_files(&self, profile: &str) -> Vec<String> {
        self.files(&self.0.join("thumbs").join(profile))
    }

    fn files(&self, dir: &std::path::Path) -> Vec<String> {
        match std::fs::read_dir(dir) {
            Ok(dir) => {
                let mut names: Vec<String> = dir
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Uploads a small PNG through the API; expects 201 and returns the photo.
pub async fn upload_png(app: &TestApp, token: &str) -> Value {
    let boundary = "mitai-test-upload";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"me.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png(4, 3));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::post("/api/photos")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let (status, _, bytes) = app.send(request).await;
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["photo"].clone()
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 13) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}
