//! Malformed requests against every endpoint family: each answers a 4xx in the API's error
//! shape (never a 5xx), with the specific codes of API.md where it names one, and a refused
//! request changes nothing.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use mitai_store::Backend;
use serde_json::{Value, json};

const USER_EMAIL: &str = "malformed@example.org";
const JSON: &str = "application/json";
const ONE_MIB: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
enum Who {
    Anon,
    User,
    Admin,
}

enum Payload {
    Empty,
    Json(Value),
    Raw(Vec<u8>),
}

/// One request and what must come back. `{user}` in the URI is the test user's id,
/// `{rand}` a random UUID.
struct Case {
    name: String,
    method: Method,
    uri: String,
    who: Who,
    headers: Vec<(HeaderName, Vec<u8>)>,
    content_type: Option<&'static str>,
    payload: Payload,
    status: Option<u16>,
    code: Option<&'static str>,
    field: Option<&'static str>,
}

fn case(name: impl Into<String>, method: &str, uri: &str, who: Who) -> Case {
    Case {
        name: name.into(),
        method: Method::from_bytes(method.as_bytes()).expect("method"),
        uri: uri.to_owned(),
        who,
        headers: Vec::new(),
        content_type: None,
        payload: Payload::Empty,
        status: None,
        code: None,
        field: None,
    }
}

impl Case {
    fn json(mut self, body: Value) -> Case {
        self.payload = Payload::Json(body);
        self.content_type = Some(JSON);
        self
    }
    fn raw(mut self, bytes: impl Into<Vec<u8>>) -> Case {
        self.payload = Payload::Raw(bytes.into());
        self.content_type = Some(JSON);
        self
    }
    fn ctype(mut self, content_type: Option<&'static str>) -> Case {
        self.content_type = content_type;
        self
    }
    fn header(mut self, name: HeaderName, value: impl Into<Vec<u8>>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    fn want(mut self, status: u16, code: &'static str) -> Case {
        self.status = Some(status);
        self.code = Some(code);
        self
    }
    fn invalid(self) -> Case {
        self.want(422, "invalid_input")
    }
    fn field(mut self, field: &'static str) -> Case {
        self.field = Some(field);
        self.invalid()
    }
    fn not_found(self) -> Case {
        self.want(404, "not_found")
    }
}

/// The bodies that are wrong before any field is read, for a JSON endpoint.
fn broken_bodies(family: &str, method: &str, uri: &str, who: Who, valid: Value) -> Vec<Case> {
    let name = |what: &str| format!("{family}: {what}");
    // A NUL goes into the first text field of the valid body (or an extra field).
    let nul_field = valid
        .as_object()
        .and_then(|o| o.iter().find(|(_, v)| v.is_string()))
        .map_or_else(|| "name".to_owned(), |(k, _)| k.clone());
    let mut cases = vec![
        case(name("truncated JSON"), method, uri, who)
            .raw(&br#"{"a": "#[..])
            .field("body"),
        case(name("trailing comma"), method, uri, who)
            .raw(&br#"{"a": 1,}"#[..])
            .field("body"),
        case(name("single quotes"), method, uri, who)
            .raw(&b"{'a': 1}"[..])
            .field("body"),
        case(name("raw bytes ff fe"), method, uri, who)
            .raw(&b"\xff\xfe"[..])
            .field("body"),
        case(name("invalid UTF-8 in a string"), method, uri, who)
            .raw(&b"{\"a\": \"\xff\xfe\"}"[..])
            .invalid(),
        case(name("byte order mark"), method, uri, who)
            .raw([&b"\xef\xbb\xbf"[..], valid.to_string().as_bytes()].concat())
            .invalid(),
        case(name("nested 10000 deep"), method, uri, who)
            .raw("[".repeat(10_000))
            .invalid(),
        case(name("body is an array"), method, uri, who)
            .json(json!([valid.clone()]))
            .invalid(),
        case(name("body is null"), method, uri, who)
            .json(Value::Null)
            .invalid(),
        case(name("body is a number"), method, uri, who)
            .json(json!(42))
            .invalid(),
        case(name("body is a string"), method, uri, who)
            .json(json!("{}"))
            .invalid(),
        case(name("valid body without content type"), method, uri, who)
            .json(valid.clone())
            .ctype(None)
            .want(415, "unsupported_media_type"),
        case(name("valid body as text/plain"), method, uri, who)
            .json(valid.clone())
            .ctype(Some("text/plain"))
            .want(415, "unsupported_media_type"),
        case(name("valid body as form"), method, uri, who)
            .json(valid.clone())
            .ctype(Some("application/x-www-form-urlencoded"))
            .want(415, "unsupported_media_type"),
        case(name("content type with bytes ff"), method, uri, who)
            .json(valid.clone())
            .header(header::CONTENT_TYPE, &b"application/json\xff"[..])
            .ctype(None)
            .want(415, "unsupported_media_type"),
        case(name("unknown field"), method, uri, who)
            .json(with(&valid, "unexpected_field", json!(1)))
            .invalid(),
        case(name(&format!("NUL in {nul_field}")), method, uri, who)
            .json(with(&valid, &nul_field, json!("nul \u{0} inside")))
            .field("body"),
    ];
    // An empty body means "amount 1" for consume; everywhere else it is malformed.
    if !uri.ends_with("/consume") {
        cases.push(
            case(name("empty body"), method, uri, who)
                .raw(Vec::new())
                .field("body"),
        );
        cases.push(
            case(name("no body, no content type"), method, uri, who)
                .want(415, "unsupported_media_type"),
        );
    }
    cases
}

/// `base` with `field` set to `value` (or removed when `value` is the marker `"<absent>"`).
fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut body = base.clone();
    if value == json!("<absent>") {
        body.as_object_mut().expect("object").remove(field);
    } else {
        body[field] = value;
    }
    body
}

/// Each `(field, value)` replaces one field of a valid body; all must be refused with 422.
fn bad_fields(
    family: &str,
    method: &str,
    uri: &str,
    who: Who,
    base: &Value,
    bad: Vec<(&'static str, Value)>,
) -> Vec<Case> {
    bad.into_iter()
        .map(|(field, value)| {
            case(format!("{family}: {field} = {value}"), method, uri, who)
                .json(with(base, field, value))
                .invalid()
        })
        .collect()
}

fn absent() -> Value {
    json!("<absent>")
}

fn long(n: usize) -> Value {
    json!("x".repeat(n))
}

/// Numbers that no integer field of the API takes.
fn bad_numbers() -> Vec<Value> {
    vec![
        json!(-1),
        serde_json::from_str("1e30").expect("1e30"),
        serde_json::from_str("9223372036854775808").expect("2^63"),
        serde_json::from_str("-9223372036854775809").expect("-2^63-1"),
        json!(1.5),
        json!("5"),
        json!(true),
        json!([5]),
        json!({"n": 5}),
    ]
}

fn numbers(field: &'static str) -> Vec<(&'static str, Value)> {
    bad_numbers().into_iter().map(|v| (field, v)).collect()
}

fn cases() -> Vec<Case> {
    use Who::{Admin, Anon, User};
    let mut all = Vec::new();

    // --- Accounts -------------------------------------------------------------------
    let register = json!({"email": "new@example.org", "password": "password123", "name": "N"});
    all.extend(broken_bodies(
        "register",
        "POST",
        "/api/auth/register",
        Anon,
        register.clone(),
    ));
    all.extend(bad_fields(
        "register",
        "POST",
        "/api/auth/register",
        Anon,
        &register,
        vec![
            ("email", json!(42)),
            ("email", Value::Null),
            ("email", json!([])),
            ("email", json!({})),
            ("email", json!("")),
            ("email", json!("not-an-email")),
            ("email", json!("nul\u{0}@example.org")),
            ("email", json!(format!("{}@example.org", "x".repeat(300)))),
            ("email", absent()),
            ("password", json!(12345678)),
            ("password", Value::Null),
            ("password", json!(["password123"])),
            ("password", json!("short")),
            ("password", long(129)),
            ("password", absent()),
            ("name", json!(42)),
            ("name", json!(["N"])),
            ("name", long(101)),
            ("language", json!(42)),
            ("language", json!("fr")),
            ("language", json!("")),
            ("invitation_token", json!(42)),
            ("role", json!("admin")),
        ],
    ));
    let login = json!({"email": USER_EMAIL, "password": "password123"});
    all.extend(broken_bodies(
        "login",
        "POST",
        "/api/auth/login",
        Anon,
        login.clone(),
    ));
    all.extend(bad_fields(
        "login",
        "POST",
        "/api/auth/login",
        Anon,
        &login,
        vec![
            ("email", json!(42)),
            ("email", Value::Null),
            ("email", json!([USER_EMAIL])),
            ("email", absent()),
            ("password", json!(12345678)),
            ("password", Value::Null),
            ("password", json!({})),
            ("password", absent()),
        ],
    ));
    all.push(
        case("login: e-mail with NUL", "POST", "/api/auth/login", Anon)
            .json(json!({"email": "nul\u{0}@example.org", "password": "password123"})),
    );
    all.push(
        case("login: unknown account", "POST", "/api/auth/login", Anon)
            .json(json!({"email": "nobody@example.org", "password": "password123"}))
            .want(401, "invalid_credentials"),
    );
    for (what, value) in [
        ("empty bearer", &b"Bearer "[..]),
        ("bearer without space", b"Bearer"),
        ("basic scheme", b"Basic dXNlcjpwYXNzd29yZA=="),
        ("unknown token", b"Bearer 0123456789abcdef"),
        ("token with bytes ff fe", b"Bearer \xff\xfe"),
        ("token with NUL escape", b"Bearer %00"),
    ] {
        for (route, method, uri) in [
            ("logout", "POST", "/api/auth/logout"),
            ("me", "GET", "/api/me"),
            ("access", "GET", "/api/me/access"),
            ("access one", "GET", "/api/me/access/weight"),
            ("consume", "POST", "/api/me/access/weight/consume"),
        ] {
            all.push(
                case(format!("{route}: {what}"), method, uri, Anon)
                    .header(header::AUTHORIZATION, value)
                    .want(401, "unauthenticated"),
            );
        }
    }
    all.push(
        case("me: long bearer token", "GET", "/api/me", Anon)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", "a".repeat(10_000)),
            )
            .want(401, "unauthenticated"),
    );
    all.push(
        case("me: garbage session cookie", "GET", "/api/me", Anon)
            .header(header::COOKIE, &b"mitai_session=\xff; other=1"[..])
            .want(401, "unauthenticated"),
    );
    all.push(
        case(
            "logout: no token, broken body",
            "POST",
            "/api/auth/logout",
            Anon,
        )
        .raw(&b"{"[..])
        .want(401, "unauthenticated"),
    );

    // --- Access and consume ---------------------------------------------------------
    for (what, uri) in [
        ("unknown feature", "/api/me/access/nope"),
        ("upper-case feature", "/api/me/access/WEIGHT"),
        ("feature %ff", "/api/me/access/%ff"),
        ("feature %ff%fe", "/api/me/access/%ff%fe"),
        ("feature %00", "/api/me/access/%00"),
        ("feature %2F", "/api/me/access/weight%2Fx"),
    ] {
        all.push(case(format!("access one: {what}"), "GET", uri, User).not_found());
        all.push(
            case(
                format!("consume: {what}"),
                "POST",
                &format!("{uri}/consume"),
                User,
            )
            .json(json!({"amount": 1}))
            .not_found(),
        );
    }
    all.push(
        case(
            "access one: 10000-character feature",
            "GET",
            &format!("/api/me/access/{}", "a".repeat(10_000)),
            User,
        )
        .not_found(),
    );
    let consume = "/api/me/access/weight/consume";
    all.extend(broken_bodies(
        "consume",
        "POST",
        consume,
        User,
        json!({"amount": 1}),
    ));
    let mut amounts = numbers("amount");
    amounts.extend([
        ("amount", json!(0)),
        ("amount", json!(-5)),
        ("amount", json!(1_000_000_000_000_i64)),
        ("amount", json!(1_000_001)),
        ("amount", json!(i64::MIN)),
    ]);
    all.extend(bad_fields(
        "consume",
        "POST",
        consume,
        User,
        &json!({"amount": 1}),
        amounts,
    ));
    for (what, key) in [
        ("too long", "k".repeat(201).into_bytes()),
        ("with a space", b"a b".to_vec()),
        ("empty", Vec::new()),
        ("bytes ff fe", b"\xff\xfe".to_vec()),
        ("a tab", b"a\tb".to_vec()),
    ] {
        all.push(
            case(
                format!("consume: Idempotency-Key {what}"),
                "POST",
                consume,
                User,
            )
            .json(json!({"amount": 1}))
            .header(HeaderName::from_static("idempotency-key"), key)
            .field("Idempotency-Key"),
        );
    }
    all.push(
        case(
            "consume: whitespace body as text/plain",
            "POST",
            consume,
            User,
        )
        .raw(&b"  x "[..])
        .ctype(Some("text/plain"))
        .want(415, "unsupported_media_type"),
    );

    // --- Admin: features -------------------------------------------------------------
    let feature = json!({"id": "new_feature", "name": "New", "kind": "count",
        "reset_period": "monthly"});
    all.extend(broken_bodies(
        "create feature",
        "POST",
        "/api/admin/features",
        Admin,
        feature.clone(),
    ));
    let mut feature_fields = vec![
        ("name", json!("")),
        ("name", json!("   ")),
        ("name", json!(42)),
        ("name", long(101)),
        ("description", json!(42)),
        ("description", long(1001)),
        ("category", json!([])),
        ("category", long(51)),
        ("unit", json!(5)),
        ("unit", long(51)),
        ("kind", json!("gauge")),
        ("kind", json!(1)),
        ("reset_period", json!("hourly")),
        ("reset_period", json!("")),
        ("reset_period", json!({})),
        ("active", json!("yes")),
        ("active", json!(1)),
        ("sort_order", json!(2_147_483_648_i64)),
        ("sort_order", json!("1")),
        ("sort_order", json!(1.5)),
        ("default_limit", json!(1_000_000_000_001_i64)),
    ];
    feature_fields.extend(numbers("default_limit"));
    let mut create_feature = feature_fields.clone();
    create_feature.extend([
        ("id", json!("Bad Id")),
        ("id", json!("")),
        ("id", json!("1abc")),
        ("id", json!(42)),
        ("id", Value::Null),
        ("id", long(65)),
        ("id", absent()),
        ("kind", absent()),
        ("kind", Value::Null),
        ("reset_period", absent()),
        ("name", absent()),
        ("name", Value::Null),
    ]);
    all.extend(bad_fields(
        "create feature",
        "POST",
        "/api/admin/features",
        Admin,
        &feature,
        create_feature,
    ));
    all.push(
        case(
            "create feature: id taken",
            "POST",
            "/api/admin/features",
            Admin,
        )
        .json(with(&feature, "id", json!("weight")))
        .want(409, "id_taken"),
    );
    let weight = "/api/admin/features/weight";
    all.extend(broken_bodies(
        "patch feature",
        "PATCH",
        weight,
        Admin,
        json!({"description": "changed"}),
    ));
    feature_fields.extend([("id", json!("weight2")), ("kind", json!("count "))]);
    all.extend(bad_fields(
        "patch feature",
        "PATCH",
        weight,
        Admin,
        &json!({"description": "changed", "sort_order": 99}),
        feature_fields,
    ));
    for (what, uri) in [
        ("unknown", "/api/admin/features/nope"),
        ("%ff", "/api/admin/features/%ff"),
        ("%00", "/api/admin/features/%00"),
    ] {
        all.push(case(format!("get feature: {what}"), "GET", uri, Admin).not_found());
        all.push(
            case(format!("patch feature: {what}"), "PATCH", uri, Admin)
                .json(json!({"description": "changed"}))
                .not_found(),
        );
    }

    // --- Admin: tiers ----------------------------------------------------------------
    let tier = json!({"id": "gold", "name": "Gold", "rank": 15});
    all.extend(broken_bodies(
        "create tier",
        "POST",
        "/api/admin/tiers",
        Admin,
        tier.clone(),
    ));
    let mut tier_fields = numbers("rank");
    tier_fields.retain(|(_, v)| v != &json!(-1));
    tier_fields.extend([
        ("rank", json!(1_000_001)),
        ("rank", json!(-1_000_001)),
        ("rank", json!(2_147_483_648_i64)),
        ("name", json!("")),
        ("name", json!(42)),
        ("name", long(101)),
        ("description", long(1001)),
        ("active", json!("no")),
        ("sort_order", json!("x")),
    ]);
    let mut create_tier = tier_fields.clone();
    create_tier.extend([
        ("id", json!("Gold!")),
        ("id", json!(42)),
        ("id", absent()),
        ("rank", absent()),
        ("rank", Value::Null),
    ]);
    all.extend(bad_fields(
        "create tier",
        "POST",
        "/api/admin/tiers",
        Admin,
        &tier,
        create_tier,
    ));
    all.push(
        case("create tier: id taken", "POST", "/api/admin/tiers", Admin)
            .json(with(&tier, "id", json!("free")))
            .want(409, "id_taken"),
    );
    all.extend(broken_bodies(
        "patch tier",
        "PATCH",
        "/api/admin/tiers/free",
        Admin,
        json!({"description": "changed"}),
    ));
    all.extend(bad_fields(
        "patch tier",
        "PATCH",
        "/api/admin/tiers/free",
        Admin,
        &json!({"description": "changed"}),
        tier_fields,
    ));
    all.push(
        case(
            "patch tier: deactivate the default tier",
            "PATCH",
            "/api/admin/tiers/free",
            Admin,
        )
        .json(json!({"active": false, "description": "changed"}))
        .want(409, "tier_in_use"),
    );
    for (what, uri) in [
        ("unknown", "/api/admin/tiers/nope"),
        ("%ff", "/api/admin/tiers/%ff"),
    ] {
        all.push(case(format!("get tier: {what}"), "GET", uri, Admin).not_found());
        all.push(
            case(format!("patch tier: {what}"), "PATCH", uri, Admin)
                .json(json!({"description": "changed"}))
                .not_found(),
        );
    }

    // --- Admin: tier limits ----------------------------------------------------------
    let cell = "/api/admin/tier-limits/free/weight";
    all.extend(broken_bodies(
        "tier limit",
        "PUT",
        cell,
        Admin,
        json!({"limit": 5}),
    ));
    let mut limits = numbers("limit");
    limits.extend([("limit", json!(1_000_000_000_001_i64))]);
    all.extend(bad_fields(
        "tier limit",
        "PUT",
        cell,
        Admin,
        &json!({"limit": 5}),
        limits.clone(),
    ));
    all.push(
        case("tier limit: limit missing", "PUT", cell, Admin)
            .json(json!({}))
            .field("limit"),
    );
    for (what, path) in [
        ("unknown tier", "nope/weight"),
        ("unknown feature", "free/nope"),
        ("tier %ff", "%ff/weight"),
        ("feature %ff", "free/%ff"),
        ("feature %00", "free/%00"),
    ] {
        let uri = format!("/api/admin/tier-limits/{path}");
        all.push(
            case(format!("tier limit put: {what}"), "PUT", &uri, Admin)
                .json(json!({"limit": 5}))
                .not_found(),
        );
        all.push(case(format!("tier limit delete: {what}"), "DELETE", &uri, Admin).not_found());
    }

    // --- Admin: users ----------------------------------------------------------------
    for query in [
        "limit=abc",
        "limit=0",
        "limit=-1",
        "limit=501",
        "limit=1e3",
        "limit=9223372036854775808",
        "cursor=not-a-cursor",
        "cursor=%ff",
        "query=%00",
        "query=a%00b",
    ] {
        all.push(
            case(
                format!("list users: {query}"),
                "GET",
                &format!("/api/admin/users?{query}"),
                Admin,
            )
            .invalid(),
        );
    }
    all.push(
        case(
            "list users: 201-character query",
            "GET",
            &format!("/api/admin/users?query={}", "q".repeat(201)),
            Admin,
        )
        .field("query"),
    );
    for (what, id) in [
        ("random UUID", "{rand}"),
        ("not a UUID", "not-a-uuid"),
        ("number", "123"),
        ("%ff", "%ff"),
        ("UUID with %00", "00000000-0000-0000-0000-00000000000%00"),
    ] {
        let uri = format!("/api/admin/users/{id}");
        all.push(case(format!("get user: {what}"), "GET", &uri, Admin).not_found());
        all.push(
            case(format!("patch user: {what}"), "PATCH", &uri, Admin)
                .json(json!({"disabled": true}))
                .not_found(),
        );
        all.push(
            case(
                format!("user access: {what}"),
                "GET",
                &format!("{uri}/access"),
                Admin,
            )
            .not_found(),
        );
        all.push(
            case(
                format!("put restriction: {what}"),
                "PUT",
                &format!("{uri}/restrictions/weight"),
                Admin,
            )
            .json(json!({"limit": 5, "reason": "r"}))
            .not_found(),
        );
        all.push(
            case(
                format!("delete restriction: {what}"),
                "DELETE",
                &format!("{uri}/restrictions/weight"),
                Admin,
            )
            .not_found(),
        );
    }
    let user = "/api/admin/users/{user}";
    all.extend(broken_bodies(
        "patch user",
        "PATCH",
        user,
        Admin,
        json!({"disabled": false}),
    ));
    all.push(
        case("patch user: unknown tier", "PATCH", user, Admin)
            .json(json!({"tier": "nope"}))
            .field("tier"),
    );
    all.push(
        case("patch user: unknown role", "PATCH", user, Admin)
            .json(json!({"role": "root"}))
            .field("role"),
    );
    all.extend(bad_fields(
        "patch user",
        "PATCH",
        user,
        Admin,
        &json!({"disabled": false}),
        vec![
            ("tier", json!(42)),
            ("tier", json!(["basic"])),
            ("role", json!(1)),
            ("role", json!("ADMIN")),
            ("disabled", json!("yes")),
            ("disabled", json!(1)),
            ("trial_ends_at", json!("tomorrow")),
            ("trial_ends_at", json!(42)),
            ("trial_ends_at", json!("2030-13-01T00:00:00Z")),
            ("trial_ends_at", json!("2030-01-01")),
            ("trial_ends_at", json!("+10000-01-01T00:00:00Z")),
            ("trial_ends_at", json!("+262143-12-31T23:59:59Z")),
            ("trial_ends_at", json!("-5000-01-01T00:00:00Z")),
            ("email", json!("other@example.org")),
            ("password", json!("password123")),
        ],
    ));
    let restriction = "/api/admin/users/{user}/restrictions/weight";
    let valid_restriction = json!({"limit": 5, "reason": "testing"});
    all.extend(broken_bodies(
        "put restriction",
        "PUT",
        restriction,
        Admin,
        valid_restriction.clone(),
    ));
    let mut restriction_fields = limits;
    restriction_fields.extend([
        ("reason", absent()),
        ("reason", json!(42)),
        ("reason", Value::Null),
        ("reason", long(501)),
        ("valid_until", json!("soon")),
        ("valid_until", json!(42)),
        ("valid_until", json!("2000-01-01T00:00:00Z")),
        ("valid_until", json!("+10000-01-01T00:00:00Z")),
        ("valid_until", json!("+262143-12-31T23:59:59Z")),
    ]);
    all.extend(bad_fields(
        "put restriction",
        "PUT",
        restriction,
        Admin,
        &valid_restriction,
        restriction_fields,
    ));
    all.push(
        case("put restriction: limit missing", "PUT", restriction, Admin)
            .json(json!({"reason": "testing"}))
            .field("limit"),
    );
    all.push(
        case(
            "put restriction: valid_until in the past",
            "PUT",
            restriction,
            Admin,
        )
        .json(with(
            &valid_restriction,
            "valid_until",
            json!("2000-01-01T00:00:00Z"),
        ))
        .field("valid_until"),
    );
    for (what, feature) in [("unknown", "nope"), ("%ff", "%ff"), ("%00", "%00")] {
        let uri = format!("/api/admin/users/{{user}}/restrictions/{feature}");
        all.push(
            case(
                format!("put restriction: {what} feature"),
                "PUT",
                &uri,
                Admin,
            )
            .json(valid_restriction.clone())
            .not_found(),
        );
        all.push(
            case(
                format!("delete restriction: {what} feature"),
                "DELETE",
                &uri,
                Admin,
            )
            .not_found(),
        );
    }
    all.push(case("delete restriction: none set", "DELETE", restriction, Admin).not_found());

    // --- Admin: settings -------------------------------------------------------------
    let setting = "/api/admin/settings/trial_days";
    all.extend(broken_bodies(
        "put setting",
        "PUT",
        setting,
        Admin,
        json!({"value": 14}),
    ));
    all.push(
        case("put setting: value missing", "PUT", setting, Admin)
            .json(json!({}))
            .invalid(),
    );
    for (what, key) in [
        ("unknown key", "nope"),
        ("key %ff", "%ff"),
        ("key %00", "%00"),
        ("upper-case key", "TRIAL_DAYS"),
    ] {
        all.push(
            case(
                format!("put setting: {what}"),
                "PUT",
                &format!("/api/admin/settings/{key}"),
                Admin,
            )
            .json(json!({"value": 14}))
            .not_found(),
        );
    }

    // --- Admin: grants ----------------------------------------------------------------
    let grants = "/api/admin/users/{user}/grants";
    let grant = json!({"tier": "basic", "days": 7});
    all.extend(broken_bodies(
        "create grant",
        "POST",
        grants,
        Admin,
        grant.clone(),
    ));
    let mut days = numbers("days");
    days.extend([
        ("days", json!(0)),
        ("days", json!(i64::MAX)),
        ("days", json!(i64::MIN)),
        ("days", json!(100_000_000)),
        ("tier", json!("nope")),
        ("tier", json!(42)),
        ("tier", Value::Null),
        ("tier", absent()),
        ("starts_at", json!("2030-01-01T00:00:00Z")),
    ]);
    all.extend(bad_fields(
        "create grant",
        "POST",
        grants,
        Admin,
        &grant,
        days,
    ));
    let fixed = json!({"tier": "basic", "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-02-01T00:00:00Z"});
    all.extend(bad_fields(
        "create fixed grant",
        "POST",
        grants,
        Admin,
        &fixed,
        vec![
            ("ends_at", json!("2029-01-01T00:00:00Z")),
            ("ends_at", json!("2030-01-01T00:00:00Z")),
            ("ends_at", json!("+10000-01-01T00:00:00Z")),
            ("ends_at", json!("+262143-12-31T23:59:59Z")),
            ("starts_at", json!("-5000-01-01T00:00:00Z")),
            ("starts_at", json!("soon")),
            ("ends_at", absent()),
            ("ends_at", json!(42)),
        ],
    ));
    for (what, id) in [
        ("random UUID", "{rand}"),
        ("not a UUID", "xyz"),
        ("%ff", "%ff"),
    ] {
        all.push(
            case(
                format!("create grant: user {what}"),
                "POST",
                &format!("/api/admin/users/{id}/grants"),
                Admin,
            )
            .json(grant.clone())
            .not_found(),
        );
        all.push(
            case(
                format!("list grants: user {what}"),
                "GET",
                &format!("/api/admin/users/{id}/grants"),
                Admin,
            )
            .not_found(),
        );
        let uri = format!("/api/admin/grants/{id}");
        all.push(
            case(
                format!("pause grant: {what}"),
                "POST",
                &format!("{uri}/pause"),
                Admin,
            )
            .json(json!({"reason": "r"}))
            .not_found(),
        );
        all.push(
            case(
                format!("resume grant: {what}"),
                "POST",
                &format!("{uri}/resume"),
                Admin,
            )
            .not_found(),
        );
        all.push(case(format!("revoke grant: {what}"), "DELETE", &uri, Admin).not_found());
    }
    let pause = "/api/admin/grants/{rand}/pause";
    all.extend(broken_bodies(
        "pause grant",
        "POST",
        pause,
        Admin,
        json!({"reason": "r"}),
    ));
    all.extend(bad_fields(
        "pause grant",
        "POST",
        pause,
        Admin,
        &json!({"reason": "r"}),
        vec![
            ("reason", json!(42)),
            ("reason", Value::Null),
            ("reason", absent()),
            ("reason", json!("")),
        ],
    ));

    // --- Admin: coupons ---------------------------------------------------------------
    let coupons = "/api/admin/coupons";
    let coupon = json!({"kind": "single_use", "tier": "basic", "duration_days": 7});
    all.extend(broken_bodies(
        "create coupon",
        "POST",
        coupons,
        Admin,
        coupon.clone(),
    ));
    let mut coupon_fields = numbers("duration_days");
    coupon_fields.extend([
        ("duration_days", json!(0)),
        ("duration_days", json!(3651)),
        ("duration_days", json!(2_147_483_648_i64)),
        ("duration_days", absent()),
        ("kind", json!("gold")),
        ("kind", json!(42)),
        ("kind", absent()),
        ("tier", json!("nope")),
        ("tier", absent()),
        ("code", json!("")),
        ("code", json!("ÄÖÜ")),
        ("code", long(1000)),
        ("code", json!(42)),
        ("max_redemptions", json!(0)),
        ("max_redemptions", json!(-1)),
        ("max_redemptions", json!(2)),
        ("max_redemptions", json!(2_147_483_648_i64)),
        ("campaign", long(501)),
        ("note", long(501)),
        ("valid_from", json!("soon")),
        ("valid_until", json!(42)),
        ("valid_until", json!("+10000-01-01T00:00:00Z")),
        ("valid_from", json!("-5000-01-01T00:00:00Z")),
    ]);
    all.extend(bad_fields(
        "create coupon",
        "POST",
        coupons,
        Admin,
        &coupon,
        coupon_fields,
    ));
    all.extend(bad_fields(
        "create period coupon",
        "POST",
        coupons,
        Admin,
        &json!({"kind": "period", "tier": "basic", "period_ends_at": "2099-01-01T00:00:00Z"}),
        vec![
            ("period_ends_at", json!("2000-01-01T00:00:00Z")),
            ("period_ends_at", json!("+10000-01-01T00:00:00Z")),
            ("period_ends_at", json!("+262143-12-31T23:59:59Z")),
            ("period_ends_at", absent()),
            ("duration_days", json!(7)),
        ],
    ));
    let batch = "/api/admin/coupons/batch";
    let valid_batch = json!({"count": 2, "kind": "single_use", "tier": "basic",
        "duration_days": 7, "campaign": "malformed"});
    all.extend(broken_bodies(
        "coupon batch",
        "POST",
        batch,
        Admin,
        valid_batch.clone(),
    ));
    let mut batch_fields = numbers("count");
    batch_fields.extend([
        ("count", json!(0)),
        ("count", json!(10_001)),
        ("count", absent()),
        ("kind", json!("period")),
        ("campaign", json!("")),
        ("campaign", json!("   ")),
        ("campaign", absent()),
        ("campaign", long(501)),
        ("duration_days", json!(0)),
        ("valid_until", json!("+10000-01-01T00:00:00Z")),
    ]);
    all.extend(bad_fields(
        "coupon batch",
        "POST",
        batch,
        Admin,
        &valid_batch,
        batch_fields,
    ));
    all.extend(broken_bodies(
        "patch coupon",
        "PATCH",
        "/api/admin/coupons/{rand}",
        Admin,
        json!({"note": "n"}),
    ));
    for query in ["limit=0", "limit=x", "cursor=nope", "campaign=%00"] {
        all.push(case(
            format!("list coupons: {query}"),
            "GET",
            &format!("{coupons}?{query}"),
            Admin,
        ));
    }
    for query in ["", "?campaign=%00", "?other=1"] {
        all.push(case(
            format!("export coupons: {query:?}"),
            "GET",
            &format!("{coupons}/export.csv{query}"),
            Admin,
        ));
    }
    for (what, id) in [
        ("random UUID", "{rand}"),
        ("not a UUID", "xyz"),
        ("%ff", "%ff"),
    ] {
        let uri = format!("{coupons}/{id}");
        all.push(case(format!("get coupon: {what}"), "GET", &uri, Admin).not_found());
        all.push(
            case(format!("patch coupon: {what}"), "PATCH", &uri, Admin)
                .json(json!({"note": "n"}))
                .not_found(),
        );
        all.push(
            case(
                format!("coupon redemptions: {what}"),
                "GET",
                &format!("{uri}/redemptions"),
                Admin,
            )
            .not_found(),
        );
    }

    // --- Admin: activity, stats, mail ----------------------------------------------------
    for query in [
        "/api/admin/activity?profile_id=xyz",
        "/api/admin/activity?profile_id=%00",
        "/api/admin/activity?action=%00",
        "/api/admin/activity?action=Login",
        "/api/admin/activity?since=yesterday",
        "/api/admin/activity?since=%2B10000-01-01T00:00:00Z",
        "/api/admin/activity?limit=0",
        "/api/admin/activity?limit=1e30",
        "/api/admin/activity?cursor=%ff",
        "/api/admin/mail?status=lost",
        "/api/admin/mail?status=%00",
        "/api/admin/mail?limit=-1",
        "/api/admin/mail?cursor=nope",
    ] {
        all.push(case(format!("admin list: {query}"), "GET", query, Admin).invalid());
    }
    for (what, id) in [
        ("random UUID", "{rand}"),
        ("not a UUID", "xyz"),
        ("%ff", "%ff"),
    ] {
        let uri = format!("/api/admin/users/{id}/stats");
        all.push(case(format!("user stats: {what}"), "GET", &uri, Admin).not_found());
    }

    // --- Redeeming and own grants ------------------------------------------------------
    let redeem = "/api/coupons/redeem";
    all.extend(broken_bodies(
        "redeem",
        "POST",
        redeem,
        User,
        json!({"code": "NOPE"}),
    ));
    all.extend(bad_fields(
        "redeem",
        "POST",
        redeem,
        User,
        &json!({"code": "NOPE"}),
        vec![
            ("code", json!(42)),
            ("code", Value::Null),
            ("code", json!(["NOPE"])),
            ("code", absent()),
        ],
    ));
    for (what, code) in [
        ("unknown", json!("NOPE-NOPE")),
        ("empty", json!("")),
        ("long", long(10_000)),
        ("emoji", json!("🎟️")),
    ] {
        all.push(
            case(format!("redeem: {what} code"), "POST", redeem, User).json(json!({"code": code})),
        );
    }
    all.push(
        case("redeem: anonymous", "POST", redeem, Anon)
            .json(json!({"code": "NOPE"}))
            .want(401, "unauthenticated"),
    );
    all.push(
        case("my grants: anonymous", "GET", "/api/me/grants", Anon).want(401, "unauthenticated"),
    );
    all.push(
        case("my grants: POST", "POST", "/api/me/grants", User).want(405, "method_not_allowed"),
    );

    // --- Test clock ------------------------------------------------------------------
    let clock = "/api/test/clock";
    all.extend(broken_bodies(
        "clock",
        "POST",
        clock,
        Anon,
        json!({"advance_seconds": 0}),
    ));
    let mut clock_fields = numbers("advance_seconds");
    clock_fields.extend([
        ("advance_seconds", json!(i64::MAX)),
        ("advance_seconds", json!(100 * 366 * 86_400_i64 + 1)),
        ("advance_seconds", Value::Null),
        ("now", json!("yesterday")),
        ("now", json!("2000-01-01T00:00:00Z")),
        ("now", json!("+10000-01-01T00:00:00Z")),
        ("now", json!("+262143-12-31T23:59:59Z")),
        ("now", json!(42)),
    ]);
    all.extend(bad_fields(
        "clock",
        "POST",
        clock,
        Anon,
        &json!({"advance_seconds": 0}),
        clock_fields,
    ));
    all.push(
        case("clock: both fields", "POST", clock, Anon)
            .json(json!({"advance_seconds": 0, "now": "2999-01-01T00:00:00Z"}))
            .field("body"),
    );
    all.push(
        case("clock: neither field", "POST", clock, Anon)
            .json(json!({}))
            .field("body"),
    );

    // --- Unknown routes and wrong methods --------------------------------------------
    // (Paths outside `/api` are the web UI's: its 404 is a page, tested in tests/ui.rs.)
    for (who, uri) in [
        (Anon, "/api/nope"),
        (User, "/api/me/"),
        (User, "/api/me/access/weight/consume/more"),
        (Admin, "/api/admin/nope"),
        (Admin, "/api/admin/users/{user}/nope"),
        (Anon, "/api/test/nope"),
        (Anon, "/api/%ff"),
    ] {
        all.push(case(format!("unknown route GET {uri}"), "GET", uri, who).not_found());
        all.push(
            case(format!("unknown route POST {uri}"), "POST", uri, who)
                .json(json!({}))
                .not_found(),
        );
    }
    // Deleting one's account: a body that is not the password changes nothing.
    for (what, body, status, code) in [
        ("no password", json!({}), 422, "invalid_input"),
        ("a number", json!({"password": 5}), 422, "invalid_input"),
        (
            "another field",
            json!({"password": "x", "force": true}),
            422,
            "invalid_input",
        ),
        (
            "the wrong password",
            json!({"password": "not-it-at-all"}),
            403,
            "invalid_credentials",
        ),
    ] {
        all.push(
            case(format!("delete account: {what}"), "DELETE", "/api/me", User)
                .json(body)
                .want(status, code),
        );
    }
    for (who, method, uri) in [
        (Anon, "GET", "/api/auth/register"),
        (Anon, "PUT", "/api/auth/login"),
        (User, "GET", "/api/auth/logout"),
        (User, "PUT", "/api/me"),
        (User, "POST", "/api/me"),
        (User, "PUT", "/api/me/access"),
        (User, "DELETE", "/api/me/access/weight"),
        (User, "GET", "/api/me/access/weight/consume"),
        (Admin, "DELETE", "/api/admin/features/weight"),
        (Admin, "PUT", "/api/admin/features"),
        (Admin, "DELETE", "/api/admin/tiers/free"),
        (Admin, "POST", "/api/admin/tier-limits"),
        (Admin, "GET", "/api/admin/tier-limits/free/weight"),
        (Admin, "POST", "/api/admin/users"),
        (Admin, "POST", "/api/admin/users/{user}"),
        (Admin, "PATCH", "/api/admin/settings"),
        (Admin, "DELETE", "/api/admin/settings/trial_days"),
        (Anon, "GET", "/api/test/clock"),
    ] {
        all.push(
            case(format!("wrong method {method} {uri}"), method, uri, who)
                .want(405, "method_not_allowed"),
        );
    }
    all
}

struct Ctx {
    user_token: String,
    user_id: String,
    admin_token: String,
}

/// Sends one case; returns a description of what is wrong with the answer, if anything.
async fn check(app: &TestApp, ctx: &Ctx, c: &Case) -> Option<String> {
    let uri = c
        .uri
        .replace("{user}", &ctx.user_id)
        .replace("{rand}", &uuid::Uuid::new_v4().to_string());
    let mut builder = Request::builder().method(c.method.clone()).uri(&uri);
    match c.who {
        Who::Anon => {}
        Who::User => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", ctx.user_token))
        }
        Who::Admin => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", ctx.admin_token))
        }
    }
    if let Some(content_type) = c.content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    for (name, value) in &c.headers {
        builder = builder.header(name, HeaderValue::from_bytes(value).expect("header value"));
    }
    let body = match &c.payload {
        Payload::Empty => Body::empty(),
        Payload::Json(value) => Body::from(value.to_string()),
        Payload::Raw(bytes) => Body::from(bytes.clone()),
    };
    let (status, _, bytes) = app.send(builder.body(body).expect("request")).await;
    let text = String::from_utf8_lossy(&bytes);
    let fail = |why: String| {
        Some(format!(
            "[{}] {} {uri}: {why} — {status} {text}",
            c.name, c.method
        ))
    };
    if !status.is_client_error() {
        return fail("expected a 4xx".into());
    }
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return fail("the body is not JSON".into());
    };
    let Some(code) = body["error"]["code"].as_str() else {
        return fail("no error.code".into());
    };
    if !body["error"]["message"].is_string() {
        return fail("no error.message".into());
    }
    let specific = match status.as_u16() {
        405 => Some("method_not_allowed"),
        415 => Some("unsupported_media_type"),
        401 => Some("unauthenticated").filter(|_| code != "invalid_credentials"),
        _ => None,
    };
    if let Some(expected) = specific.filter(|e| *e != code) {
        return fail(format!("a {status} must have code {expected}"));
    }
    let has_fields = body["error"]["fields"]
        .as_object()
        .is_some_and(|f| !f.is_empty());
    if code == "invalid_input" && !has_fields {
        return fail("invalid_input without error.fields".into());
    }
    if let Some(expected) = c.status.filter(|s| *s != status.as_u16()) {
        return fail(format!("expected status {expected}"));
    }
    if let Some(expected) = c.code.filter(|e| *e != code) {
        return fail(format!("expected code {expected}"));
    }
    if let Some(field) = c.field.filter(|f| !body["error"]["fields"][*f].is_string()) {
        return fail(format!("expected error.fields.{field}"));
    }
    None
}

/// What the refused requests must not have changed.
async fn snapshot(app: &TestApp, ctx: &Ctx) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for uri in [
        "/api/admin/features",
        "/api/admin/tiers",
        "/api/admin/tier-limits",
        "/api/admin/settings",
        "/api/admin/users?limit=500",
        "/api/admin/users/{user}",
        "/api/admin/users/{user}/grants",
        "/api/admin/coupons?limit=500",
    ] {
        let uri = uri.replace("{user}", &ctx.user_id);
        let (status, body) = app.get(&uri, Some(&ctx.admin_token)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        out.push((uri, body));
    }
    let (status, body) = app.get("/api/me/access", Some(&ctx.user_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    out.push(("/api/me/access".into(), body));
    out
}

async fn malformed_requests_get_a_4xx_and_change_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin_token = app.admin().await;
    let (user_token, user_id) = app.user(USER_EMAIL).await;
    let ctx = Ctx {
        user_token,
        user_id,
        admin_token,
    };
    let before = snapshot(&app, &ctx).await;
    let clock_before = app.advance(0).await["now"].clone();

    let cases = cases();
    assert!(cases.len() > 300, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        failures.extend(check(&app, &ctx, c).await);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing changed: no feature, tier, limit, setting, user or usage; no session ended.
    let after = snapshot(&app, &ctx).await;
    for ((uri, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(was, is, "{uri} changed through refused requests");
    }
    let (_, access) = app
        .get("/api/me/access/weight", Some(&ctx.user_token))
        .await;
    assert_eq!(access["used"], 0, "refused consumes spent: {access}");
    let clock_after = app.advance(0).await["now"].clone();
    let moved = chrono::DateTime::parse_from_rfc3339(clock_after.as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(clock_before.as_str().unwrap()).unwrap();
    assert!(
        moved < chrono::TimeDelta::minutes(10),
        "a refused clock request moved the clock by {moved}"
    );
}

/// Bodies over 1 MiB are refused with 413 in the error shape, on every body-reading route.
async fn oversized_bodies_get_413(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (user, user_id) = app.user(USER_EMAIL).await;
    let big = |field: &str| {
        let mut body = format!(r#"{{"{field}": ""#).into_bytes();
        body.resize(ONE_MIB + 16, b'x');
        body.extend_from_slice(br#""}"#);
        body
    };
    let user_uri = format!("/api/admin/users/{user_id}");
    let restriction_uri = format!("{user_uri}/restrictions/weight");
    let routes: [(&str, &str, Option<&String>, &str, Method); 12] = [
        (
            "register",
            "/api/auth/register",
            None,
            "email",
            Method::POST,
        ),
        ("login", "/api/auth/login", None, "email", Method::POST),
        (
            "consume",
            "/api/me/access/weight/consume",
            Some(&user),
            "amount",
            Method::POST,
        ),
        (
            "create feature",
            "/api/admin/features",
            Some(&admin),
            "name",
            Method::POST,
        ),
        (
            "patch feature",
            "/api/admin/features/weight",
            Some(&admin),
            "name",
            Method::PATCH,
        ),
        (
            "create tier",
            "/api/admin/tiers",
            Some(&admin),
            "name",
            Method::POST,
        ),
        (
            "patch tier",
            "/api/admin/tiers/free",
            Some(&admin),
            "name",
            Method::PATCH,
        ),
        (
            "tier limit",
            "/api/admin/tier-limits/free/weight",
            Some(&admin),
            "limit",
            Method::PUT,
        ),
        ("patch user", &user_uri, Some(&admin), "tier", Method::PATCH),
        (
            "restriction",
            &restriction_uri,
            Some(&admin),
            "reason",
            Method::PUT,
        ),
        (
            "setting",
            "/api/admin/settings/mail_from",
            Some(&admin),
            "value",
            Method::PUT,
        ),
        ("clock", "/api/test/clock", None, "now", Method::POST),
    ];
    let mut failures = Vec::new();
    for (name, uri, token, field, method) in routes {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::CONTENT_TYPE, JSON);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, _, bytes) = app
            .send(builder.body(Body::from(big(field))).unwrap())
            .await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != StatusCode::PAYLOAD_TOO_LARGE || !body["error"]["code"].is_string() {
            failures.push(format!(
                "[{name}] {method} {uri}: expected 413 with error.code — {status} {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (_, access) = app.get("/api/me/access/weight", Some(&user)).await;
    assert_eq!(access["used"], 0, "{access}");
}

/// A value that does not fit its key is refused with 422 `invalid_input` naming `value`,
/// and the old value stays.
async fn refused_settings_keep_the_old_value(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (status, body) = app
        .put(
            "/api/admin/settings/usage_timezone",
            Some(&admin),
            json!({"value": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "Europe/Berlin");

    let big = |s: &str| -> Value { serde_json::from_str(s).unwrap() };
    let table: Vec<(&str, Value)> = vec![
        ("usage_timezone", json!("Mars/Olympus")),
        ("usage_timezone", json!("")),
        ("usage_timezone", json!(42)),
        ("usage_timezone", Value::Null),
        ("usage_timezone", json!(["UTC"])),
        ("usage_timezone", json!({"name": "UTC"})),
        ("usage_timezone", json!("Europe/Berlin\u{0}")),
        ("usage_timezone", json!("../../etc/passwd")),
        ("usage_timezone", json!("x".repeat(10_000))),
        ("usage_timezone", json!("+02:00")),
        ("trial_days", json!("14")),
        ("trial_days", json!(-1)),
        ("trial_days", json!(3651)),
        ("trial_days", json!(1.5)),
        ("trial_days", big("1e30")),
        ("trial_days", big("9223372036854775808")),
        ("trial_days", Value::Null),
        ("trial_days", json!(true)),
        ("registration_mode", json!("sometimes")),
        ("registration_mode", json!("OPEN")),
        ("registration_mode", Value::Null),
        ("registration_mode", json!(1)),
        ("require_email_verification", json!("yes")),
        ("require_email_verification", json!(1)),
        ("users_can_invite", json!("true")),
        ("default_tier", json!("nope")),
        ("default_tier", json!(42)),
        ("trial_tier", json!("nope")),
        ("trial_tier", Value::Null),
        ("wellpass_grace_days", json!(32)),
        ("photo_max_bytes", json!(1)),
        ("photo_max_bytes", big("1e30")),
        ("reminder_lead_days", json!(-1)),
        ("mail_from", json!("no at sign")),
        ("mail_from", json!("")),
        ("mail_from", json!(42)),
        ("mail_from", json!("Mitai <a@b.org>\u{0}")),
        (
            "mail_from",
            json!("Mitai <a@b.org>\r\nBcc: victim@example.org"),
        ),
        ("base_url", json!("ftp://example.org")),
        ("base_url", json!("http://exa mple.org")),
        ("base_url", json!("http://example.org/\u{0}")),
        ("base_url", json!(42)),
    ];
    for (key, value) in table {
        let what = format!("PUT setting {key} = {value}");
        let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
        let find = |list: &Value| {
            list["items"]
                .as_array()
                .and_then(|items| items.iter().find(|s| s["key"] == key).cloned())
                .unwrap_or_else(|| panic!("{what}: {key} missing from {list}"))
        };
        let old = find(&list);
        let (status, body) = app
            .put(
                &format!("/api/admin/settings/{key}"),
                Some(&admin),
                json!({ "value": value }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input", "{what}: {body}");
        // A NUL anywhere in a body is refused before the value is looked at.
        let field = if value.to_string().contains("\\u0000") {
            "body"
        } else {
            "value"
        };
        assert!(body["error"]["fields"][field].is_string(), "{what}: {body}");
        let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
        assert_eq!(find(&list), old, "{what}: the old value must stay");
    }
    let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
    let tz = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "usage_timezone")
        .unwrap();
    assert_eq!(tz["value"], "Europe/Berlin", "{list}");
}

on_both_backends!(
    malformed_requests_get_a_4xx_and_change_nothing,
    oversized_bodies_get_413,
    refused_settings_keep_the_old_value,
);
