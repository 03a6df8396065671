//! Exports through the HTTP API, on both backends: CSV (one type and combined), JSON and a
//! zip with photos; each spends its feature, is logged, and is refused with 403 and no file.

use std::io::{Cursor, Read};
use std::sync::Arc;

use crate::common::{DataDir, TestApp, upload_png};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{Days, NaiveDate};
use mitai_access::EntryData;
use mitai_access::entries::Weight;
use mitai_server::config::ServeArgs;
use mitai_store::{Backend, ConsumeRequest, GatedCreate, NewEntry, StoredResponse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// An app with its own data folder, its admin, and a verified user (token, id).
async fn setup(backend: Backend) -> (Arc<TestApp>, DataDir, String, String, String) {
    let dir = DataDir::new();
    let args = ServeArgs {
        test_clock: "1".into(),
        data_dir: dir.0.clone(),
        ..ServeArgs::default()
    };
    let app = TestApp::with_args(backend, args).await;
    let admin = app.admin().await;
    let (token, id) = app.user("exporter@example.org").await;
    (Arc::new(app), dir, admin, token, id)
}

fn day(app: &TestApp, days_ago: u64) -> String {
    today(app)
        .checked_sub_days(Days::new(days_ago))
        .unwrap()
        .to_string()
}

fn today(app: &TestApp) -> NaiveDate {
    app.state.now().date_naive()
}

async fn create(app: &TestApp, token: &str, kind: &str, body: Value) -> Value {
    let (status, answer) = app.post(&format!("/api/{kind}"), Some(token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{kind}: {answer}");
    answer["entry"].clone()
}

async fn download(app: &TestApp, token: &str, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = app.send(request).await;
    (status, headers, bytes.to_vec())
}

async fn used(app: &TestApp, token: &str, feature: &str) -> i64 {
    let (_, body) = app
        .get(&format!("/api/me/access/{feature}"), Some(token))
        .await;
    body["used"].as_i64().unwrap()
}

fn disposition(headers: &HeaderMap) -> &str {
    headers[header::CONTENT_DISPOSITION].to_str().unwrap()
}

/// Some entries of every type; returns the weights' ids oldest first.
async fn some_data(app: &TestApp, token: &str) -> Vec<String> {
    let mut weights = Vec::new();
    for (days_ago, kg) in [(3, 81.2), (1, 80.4), (2, 80.9)] {
        let e = create(app, token, "weight",
            json!({"date": day(app, days_ago), "weight_kg": kg, "note": format!("day {days_ago}, \"ok\"")})).await;
        weights.push((days_ago, e["id"].as_str().unwrap().to_owned()));
    }
    create(
        app,
        token,
        "circumference",
        json!({"date": day(app, 1), "waist": 82.5}),
    )
    .await;
    create(
        app,
        token,
        "caliper",
        json!({"date": day(app, 1), "method": "jp3", "sex": "male",
        "age": 30, "sites": {"chest": 10, "abdomen": 20, "thigh": 15}}),
    )
    .await;
    create(
        app,
        token,
        "nutrition",
        json!({"date": day(app, 0), "kcal": 2150, "protein_g": 130,
        "carbs_g": 220, "fat_g": 71}),
    )
    .await;
    create(
        app,
        token,
        "activity",
        json!({"date": day(app, 0), "kind": "cycling", "minutes": 60}),
    )
    .await;
    weights.sort_by_key(|(days_ago, _)| std::cmp::Reverse(*days_ago));
    weights.into_iter().map(|(_, id)| id).collect()
}

/// The rows of a CSV (a small parser for the quoting the export uses).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        row.is_empty() && cell.is_empty(),
        "the CSV ends with a line break"
    );
    rows
}

/// The cell of `column` in `row`, by the header.
fn cell<'a>(rows: &'a [Vec<String>], row: usize, column: &str) -> &'a str {
    let at = rows[0]
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    &rows[row][at]
}

async fn csv_of_one_type_and_of_all(backend: Backend) {
    let (app, _dir, admin, token, _) = setup(backend).await;
    let weights = some_data(&app, &token).await;

    let (status, headers, bytes) = download(&app, &token, "/api/export/csv?type=weight").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        disposition(&headers),
        format!("attachment; filename=\"mitai-weight-{}.csv\"", today(&app))
    );
    let rows = parse_csv(std::str::from_utf8(&bytes).unwrap());
    assert_eq!(
        rows[0],
        [
            "id",
            "date",
            "weight_kg",
            "note",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(rows.len(), 4);
    let ids: Vec<&str> = (1..4).map(|r| cell(&rows, r, "id")).collect();
    assert_eq!(ids, weights, "oldest first");
    assert_eq!(
        (
            cell(&rows, 1, "date"),
            cell(&rows, 1, "weight_kg"),
            cell(&rows, 1, "note")
        ),
        (day(&app, 3).as_str(), "81.2", "day 3, \"ok\"")
    );

    let (status, headers, bytes) = download(&app, &token, "/api/export/csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        disposition(&headers),
        format!("attachment; filename=\"mitai-all-{}.csv\"", today(&app))
    );
    let rows = parse_csv(std::str::from_utf8(&bytes).unwrap());
    assert_eq!(&rows[0][..3], ["type", "id", "date"]);
    let types: Vec<&str> = (1..rows.len()).map(|r| cell(&rows, r, "type")).collect();
    assert_eq!(
        types,
        [
            "weight",
            "weight",
            "weight",
            "circumference",
            "caliper",
            "nutrition",
            "activity"
        ]
    );
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    assert_eq!(
        (cell(&rows, 4, "waist_cm"), cell(&rows, 4, "weight_kg")),
        ("82.5", "")
    );
    assert_eq!(
        (cell(&rows, 5, "body_fat_pct"), cell(&rows, 5, "chest_mm")),
        ("13.61", "10")
    );
    assert_eq!(
        (
            cell(&rows, 6, "kcal"),
            cell(&rows, 7, "kind"),
            cell(&rows, 7, "minutes")
        ),
        ("2150", "cycling", "60")
    );

    // Each download spent one unit and is in the activity log.
    assert_eq!(used(&app, &token, "export_csv").await, 2);
    let (_, log) = app
        .get("/api/admin/activity?action=export_downloaded", Some(&admin))
        .await;
    let details: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["details"])
        .collect();
    assert_eq!(
        details,
        [
            &json!({"format": "csv"}),
            &json!({"format": "csv", "type": "weight"})
        ]
    );

    let (status, _, bytes) = download(&app, &token, "/api/export/csv?type=photos").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(answer["error"]["fields"]["type"].is_string());
    assert_eq!(
        used(&app, &token, "export_csv").await,
        2,
        "a 422 spends nothing"
    );
}

async fn json_holds_everything(backend: Backend) {
    let (app, _dir, _, token, id) = setup(backend).await;
    let weights = some_data(&app, &token).await;
    let (status, headers, bytes) = download(&app, &token, "/api/export/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        disposition(&headers),
        format!("attachment; filename=\"mitai-all-{}.json\"", today(&app))
    );
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["format"], "mitai-export");
    assert_eq!(doc["profile"]["id"], id);
    assert_eq!(doc["profile"]["email"], "exporter@example.org");
    let ids: Vec<&str> = doc["weight"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, weights);
    // Entries as the API shows them.
    let (_, one) = app
        .get(&format!("/api/weight/{}", weights[0]), Some(&token))
        .await;
    assert_eq!(doc["weight"][0], one["entry"]);
    for kind in ["circumference", "caliper", "nutrition", "activity"] {
        assert_eq!(doc[kind].as_array().unwrap().len(), 1, "{kind}");
    }
    assert_eq!(doc["caliper"][0]["body_fat_pct"].as_f64(), Some(13.61));
    assert_eq!(doc["photos"], json!([]));
    assert_eq!(doc["ai_results"], json!([]));
    assert_eq!(used(&app, &token, "export_json").await, 1);
}

async fn zip_unzips_to_csvs_json_and_photos(backend: Backend) {
    let (app, _dir, _, token, _) = setup(backend).await;
    let weights = some_data(&app, &token).await;
    let photo = upload_png(&app, &token).await;
    let (status, headers, bytes) = download(&app, &token, "/api/export/zip").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/zip");
    assert_eq!(
        disposition(&headers),
        format!("attachment; filename=\"mitai-all-{}.zip\"", today(&app))
    );
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a valid zip");
    let read = |zip: &mut zip::ZipArchive<Cursor<Vec<u8>>>, name: &str| -> Vec<u8> {
        let mut out = Vec::new();
        zip.by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let photo_id = photo["id"].as_str().unwrap();
    let photo_name = format!("photos/{photo_id}.png");
    let mut names: Vec<&str> = zip.file_names().collect();
    names.sort();
    let mut expected = vec![
        "activity.csv",
        "caliper.csv",
        "circumference.csv",
        "mitai.json",
        "nutrition.csv",
        photo_name.as_str(),
        "weight.csv",
    ];
    expected.sort();
    assert_eq!(names, expected);

    let weight_csv = String::from_utf8(read(&mut zip, "weight.csv")).unwrap();
    let rows = parse_csv(&weight_csv);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (1..4).map(|r| cell(&rows, r, "id")).collect::<Vec<_>>(),
        weights
    );
    assert_eq!(cell(&rows, 2, "weight_kg"), "80.9");
    for (name, column, value) in [
        ("circumference.csv", "waist_cm", "82.5"),
        ("caliper.csv", "body_fat_pct", "13.61"),
        ("nutrition.csv", "protein_g", "130"),
        ("activity.csv", "kind", "cycling"),
    ] {
        let rows = parse_csv(std::str::from_utf8(&read(&mut zip, name)).unwrap());
        assert_eq!(rows.len(), 2, "{name}");
        assert_eq!(cell(&rows, 1, column), value, "{name}");
    }
    let doc: Value = serde_json::from_slice(&read(&mut zip, "mitai.json")).unwrap();
    assert_eq!(doc["weight"].as_array().unwrap().len(), 3);
    assert_eq!(doc["photos"][0]["id"], photo["id"]);
    assert_eq!(doc["photos"][0]["file"], photo_name);
    // The photo file is the stored one, byte for byte.
    let file = read(&mut zip, &photo_name);
    assert_eq!(
        hex::encode(Sha256::digest(&file)),
        doc["photos"][0]["sha256"].as_str().unwrap()
    );
    let (status, _, stored) = download(&app, &token, &format!("/api/photos/{photo_id}/file")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(file, stored);
    assert_eq!(used(&app, &token, "export_zip").await, 1);
}

async fn refused_exports_have_no_file(backend: Backend) {
    let (app, _dir, admin, token, id) = setup(backend).await;
    some_data(&app, &token).await;
    app.restrict(&admin, &id, "export_zip", json!(0)).await;
    app.restrict(&admin, &id, "export_csv", json!(1)).await;
    let (status, headers, bytes) = download(&app, &token, "/api/export/zip").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get(header::CONTENT_DISPOSITION).is_none());
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(answer["error"]["code"], "feature_disabled");
    assert_eq!(answer["error"]["feature"], "export_zip");

    let (status, _, _) = download(&app, &token, "/api/export/csv").await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, bytes) = download(&app, &token, "/api/export/csv?type=weight").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get(header::CONTENT_DISPOSITION).is_none());
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    let e = &answer["error"];
    assert_eq!(e["code"], "feature_limit_reached");
    assert_eq!(
        (
            e["feature"].as_str(),
            e["limit"].as_i64(),
            e["used"].as_i64()
        ),
        (Some("export_csv"), Some(1), Some(1))
    );
    assert!(e["resets_at"].is_string());
    assert_eq!(used(&app, &token, "export_csv").await, 1);
    let (_, log) = app
        .get("/api/admin/activity?action=export_downloaded", Some(&admin))
        .await;
    assert_eq!(
        log["items"].as_array().unwrap().len(),
        1,
        "only the download is logged"
    );

    let (status, _) = app.get("/api/export/json", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A HEAD (a link checker, a prefetch) spends nothing.
    let (status, _) = app
        .call(Method::HEAD, "/api/export/json", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(used(&app, &token, "export_json").await, 0);
}

/// More entries than fit in one page of the store: every one is exported once, in order.
async fn exports_page_through_large_accounts(backend: Backend) {
    let (app, _dir, _, token, id) = setup(backend).await;
    let profile = Uuid::parse_str(&id).unwrap();
    let now = app.state.now();
    let first = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let total = 1_234;
    let mut tasks = Vec::new();
    for chunk in 0..4 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..total).step_by(4) {
                let new = NewEntry {
                    id: Uuid::now_v7(),
                    profile_id: profile,
                    // Three entries a day, so pages end inside a day too.
                    date: first.checked_add_days(Days::new(i / 3)).unwrap(),
                    note: None,
                    data: EntryData::Weight(Weight {
                        weight_kg: 50.0 + (i % 100) as f64,
                    }),
                    created_at: now,
                };
                let spend = ConsumeRequest {
                    profile_id: profile,
                    feature_id: "weight",
                    period_start: now,
                    amount: 1,
                    cap: None,
                    now,
                    idempotency: None,
                    log: None,
                };
                let answer = |_: &mitai_store::Entry| StoredResponse {
                    status: 201,
                    body: Value::Null,
                };
                let r = app
                    .db
                    .store
                    .create_entry(&new, &spend, &answer)
                    .await
                    .unwrap();
                assert!(matches!(r, GatedCreate::Created(_)));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (status, _, bytes) = download(&app, &token, "/api/export/csv?type=weight").await;
    assert_eq!(status, StatusCode::OK);
    let rows = parse_csv(std::str::from_utf8(&bytes).unwrap());
    assert_eq!(rows.len() as u64, total + 1);
    let mut keys: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[1].clone(), r[0].clone()))
        .collect();
    let exported = keys.clone();
    keys.sort();
    keys.dedup();
    assert_eq!(keys, exported, "ordered by date and id, each once");

    let (status, _, bytes) = download(&app, &token, "/api/export/json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["weight"].as_array().unwrap().len() as u64, total);
}

on_both_backends!(
    csv_of_one_type_and_of_all,
    json_holds_everything,
    zip_unzips_to_csvs_json_and_photos,
    refused_exports_have_no_file,
    exports_page_through_large_accounts,
);
