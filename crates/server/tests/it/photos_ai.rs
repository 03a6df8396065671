//! Photos and AI through the HTTP API, on both backends: content checks, metadata removal,
//! size limits, exact limits under parallel uploads, privacy, deletion; AI insights and the
//! pipeline against an OpenAI-compatible server started here on loopback, with its failure
//! modes (500, timeout, malformed JSON).

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{DataDir, TestApp};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use mitai_server::config::ServeArgs;
use mitai_store::Backend;
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(
    photos_that_are_not_images_are_refused,
    photos_jpeg_location_metadata_is_removed,
    photos_jpeg_orientation_is_applied,
    photos_png_and_webp_are_accepted_without_metadata,
    photos_over_the_size_limit_are_413,
    photos_limit_is_exact_under_parallel_uploads,
    photos_are_private_to_their_owner,
    photos_delete_removes_the_file_and_lists_page,
    photos_downloads_racing_a_delete_are_whole_or_404,
    photos_idempotency_key_stores_once,
    ai_insight_spends_one_and_is_stored,
    ai_provider_failures_spend_nothing,
    ai_limit_is_enforced_before_the_provider,
    ai_without_configuration_is_unavailable,
    ai_pipeline_spends_per_step_and_releases_on_failure,
    openapi_describes_photos_and_ai,
);

// --- the app --------------------------------------------------------------------------------

/// An app with its own data folder and, if given, the AI provider at `ai_url`.
async fn app(backend: Backend, ai_url: Option<String>) -> (Arc<TestApp>, DataDir) {
    let dir = DataDir::new();
    let args = ServeArgs {
        test_clock: "1".into(),
        data_dir: dir.0.clone(),
        ai_url,
        ai_key: Some("sk-test".into()),
        ai_model: Some("test-model".into()),
        ai_timeout: "0.5".into(),
        ..ServeArgs::default()
    };
    (Arc::new(TestApp::with_args(backend, args).await), dir)
}

async fn used(app: &TestApp, token: &str, feature: &str) -> i64 {
    let (status, body) = app
        .get(&format!("/api/me/access/{feature}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["used"].as_i64().unwrap()
}

// --- uploads ------------------------------------------------------------------------------

/// A multipart upload of `file` (named `filename`, declared `content_type`) with extra text
/// fields. `content_length` sets the header as a real client would.
fn upload_request(
    token: &str,
    file: &[u8],
    filename: &str,
    content_type: &str,
    fields: &[(&str, &str)],
    key: Option<&str>,
    content_length: bool,
) -> Request<Body> {
    let boundary = "mitai-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/api/photos")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
    if content_length {
        builder = builder.header(header::CONTENT_LENGTH, body.len());
    }
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn send_json(app: &TestApp, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, bytes) = app.send(request).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

async fn upload(app: &TestApp, token: &str, file: &[u8], filename: &str) -> (StatusCode, Value) {
    let request = upload_request(token, file, filename, "image/png", &[], None, true);
    send_json(app, request).await
}

/// Uploads and expects 201; returns the photo.
async fn uploaded(app: &TestApp, token: &str, file: &[u8], filename: &str) -> Value {
    let (status, body) = upload(app, token, file, filename).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["photo"].clone()
}

async fn download(app: &TestApp, token: &str, id: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = Request::builder()
        .uri(format!("/api/photos/{id}/file"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = app.send(request).await;
    (status, headers, bytes.to_vec())
}

// --- images made here -----------------------------------------------------------------------

fn pixels(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, ((x + y) * 4) as u8])
    }))
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        ImageFormat::WebP => image
            .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
            .unwrap(),
        _ => image.write_to(&mut Cursor::new(&mut out), format).unwrap(),
    }
    out
}

/// A TIFF-structured EXIF block (little-endian) with an orientation and, if `gps`, a GPS
/// IFD with latitude and longitude.
fn exif(orientation: u16, gps: bool) -> Vec<u8> {
    fn entry(t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    }
    let ifd0_entries: u16 = if gps { 2 } else { 1 };
    let gps_ifd = 8 + 2 + 12 * u32::from(ifd0_entries) + 4;
    let rationals = gps_ifd + 2 + 12 * 4 + 4;
    let mut t = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    t.extend_from_slice(&ifd0_entries.to_le_bytes());
    let o = orientation.to_le_bytes();
    entry(&mut t, 0x0112, 3, 1, [o[0], o[1], 0, 0]);
    if gps {
        entry(&mut t, 0x8825, 4, 1, gps_ifd.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    if gps {
        t.extend_from_slice(&4u16.to_le_bytes());
        entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
        entry(&mut t, 0x0002, 5, 3, rationals.to_le_bytes());
        entry(&mut t, 0x0003, 2, 2, *b"E\0\0\0");
        entry(&mut t, 0x0004, 5, 3, (rationals + 24).to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        for (n, d) in [
            (52u32, 1u32),
            (31, 1),
            (1234, 100),
            (13, 1),
            (24, 1),
            (5678, 100),
        ] {
            t.extend_from_slice(&n.to_le_bytes());
            t.extend_from_slice(&d.to_le_bytes());
        }
    }
    t
}

/// A JPEG with an APP1 `Exif` segment inserted right after SOI.
fn jpeg_with_exif(width: u32, height: u32, orientation: u16, gps: bool) -> Vec<u8> {
    let plain = encoded(&pixels(width, height), ImageFormat::Jpeg);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&exif(orientation, gps));
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&plain[2..]);
    out
}

/// The markers of a JPEG's header segments (from SOI up to SOS).
fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    markers
}

/// The EXIF block and orientation a decoder finds in a file.
fn metadata(bytes: &[u8]) -> (Option<Vec<u8>>, image::metadata::Orientation) {
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    (
        decoder.exif_metadata().unwrap(),
        decoder.orientation().unwrap(),
    )
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG with `eXIf` (with GPS) and `tEXt` chunks after its header.
fn png_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let plain = encoded(&pixels(width, height), ImageFormat::Png);
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        c.extend_from_slice(&typed);
        c.extend_from_slice(&crc32(&typed).to_be_bytes());
        c
    };
    // Signature (8) + IHDR (25).
    let mut out = plain[..33].to_vec();
    out.extend(chunk(b"eXIf", &exif(1, true)));
    out.extend(chunk(b"tEXt", b"Location\0Berlin, 52.5N 13.4E"));
    out.extend_from_slice(&plain[33..]);
    out
}

/// An extended WebP (VP8X) with EXIF and XMP chunks around the lossless image.
fn webp_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let simple = encoded(&pixels(width, height), ImageFormat::WebP);
    let mut chunks = b"VP8X\x0a\0\0\0".to_vec();
    chunks.push(0x08 | 0x04);
    chunks.extend_from_slice(&[0, 0, 0]);
    chunks.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunks.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    chunks.extend_from_slice(&simple[12..]);
    let exif = exif(1, true);
    chunks.extend_from_slice(b"EXIF");
    chunks.extend_from_slice(&u32::try_from(exif.len()).unwrap().to_le_bytes());
    chunks.extend_from_slice(&exif);
    chunks.extend_from_slice(b"XMP \x08\0\0\0<x:gps/>");
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&u32::try_from(chunks.len() + 4).unwrap().to_le_bytes());
    file.extend_from_slice(b"WEBP");
    file.extend_from_slice(&chunks);
    file
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// --- photos -------------------------------------------------------------------------------

async fn photos_that_are_not_images_are_refused(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (token, id) = app.user("p@example.org").await;

    // Text renamed to .png and declared as image/png: refused by content.
    let (status, body) = upload(&app, &token, b"just some text, not a picture", "me.png").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    // A GIF is an image, but not one we take.
    let (status, _) = upload(
        &app,
        &token,
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "a.gif",
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // PNG magic followed by garbage: it starts like an image but does not decode.
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(&[7; 200]);
    let (status, body) = upload(&app, &token, &fake, "fake.png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");
    assert!(body["error"]["fields"]["file"].is_string(), "{body}");
    // A truncated real JPEG.
    let jpeg = encoded(&pixels(32, 32), ImageFormat::Jpeg);
    let (status, _) = upload(&app, &token, &jpeg[..jpeg.len() / 3], "cut.jpg").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // An empty file, no file at all, and a body that is not multipart.
    let (status, _) = upload(&app, &token, b"", "empty.jpg").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let request = upload_request(&token, b"", "x", "x", &[], None, true);
    let (parts, _) = request.into_parts();
    let mut request = Request::from_parts(parts, Body::from("--mitai-test-boundary-7d1f--\r\n"));
    request.headers_mut().remove(header::CONTENT_LENGTH);
    let (status, body) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"]["file"], "is required");
    let (status, body) = app.post("/api/photos", Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    // Bad text fields.
    let request = upload_request(
        &token,
        &jpeg,
        "a.jpg",
        "image/jpeg",
        &[("taken_on", "yesterday")],
        None,
        true,
    );
    let (status, body) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["taken_on"].is_string(), "{body}");
    let request = upload_request(
        &token,
        &jpeg,
        "a.jpg",
        "image/jpeg",
        &[("gps", "1")],
        None,
        true,
    );
    let (status, _) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Without a session.
    let (status, _) = send_json(
        &app,
        upload_request("nope", &jpeg, "a.jpg", "image/jpeg", &[], None, true),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The gate: switched off for the profile, and an unverified e-mail.
    let admin = app.admin().await;
    app.restrict(&admin, &id, "photos", json!(0)).await;
    let (status, body) = upload(&app, &token, &jpeg, "a.jpg").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "feature_disabled");
    let (unverified, unverified_id) = app.unverified_user("new@example.org").await;
    let (status, body) = upload(&app, &unverified, &jpeg, "a.jpg").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "email_not_verified");
    assert!(dir.photo_files(&unverified_id).is_empty());

    // Nothing was stored or spent.
    assert_eq!(used(&app, &token, "photos").await, 0);
    assert!(
        dir.photo_files(&id).is_empty(),
        "{:?}",
        dir.photo_files(&id)
    );
    let (_, list) = app.get("/api/photos", Some(&token)).await;
    assert_eq!(list["items"], json!([]));
}

async fn photos_jpeg_location_metadata_is_removed(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (token, id) = app.user("p@example.org").await;
    let original = jpeg_with_exif(40, 30, 1, true);
    // The test image really carries GPS EXIF.
    let (exif_in, _) = metadata(&original);
    assert!(exif_in.is_some_and(|e| contains(&e, &[0x25, 0x88])));
    assert!(contains(&original, b"Exif\0\0"));

    let request = upload_request(
        &token,
        &original,
        "holiday.jpg",
        "image/jpeg",
        &[("taken_on", "2025-03-01"), ("note", "  front, morning ")],
        None,
        true,
    );
    let (status, body) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let photo = &body["photo"];
    assert_eq!(photo["content_type"], "image/jpeg");
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(40), Some(30))
    );
    assert_eq!(photo["taken_on"], "2025-03-01");
    assert_eq!(photo["note"], "front, morning");
    let photo_id = photo["id"].as_str().unwrap();
    assert_eq!(photo["url"], format!("/api/photos/{photo_id}/file"));

    let (status, headers, bytes) = download(&app, &token, photo_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(photo["bytes"].as_u64(), Some(bytes.len() as u64));
    assert!(!contains(&bytes, b"Exif"), "an Exif block survived");
    assert!(!contains(&bytes, &[0x25, 0x88]) || !contains(&bytes, b"N\0\0\0"));
    let markers = jpeg_markers(&bytes);
    assert!(!markers.contains(&0xE1), "APP1 survived: {markers:x?}");
    assert!(
        markers
            .iter()
            .all(|m| !(0xE1..=0xEF).contains(m) && *m != 0xFE),
        "metadata segments survived: {markers:x?}"
    );
    let (exif_out, _) = metadata(&bytes);
    assert_eq!(exif_out, None);
    // The file on disk is the one served, under <data>/photos/<profile>/<id>.jpg.
    assert_eq!(dir.photo_files(&id), vec![format!("{photo_id}.jpg")]);
    let on_disk = std::fs::read(
        dir.0
            .join("photos")
            .join(&id)
            .join(format!("{photo_id}.jpg")),
    );
    assert_eq!(on_disk.unwrap(), bytes);
    assert_eq!(used(&app, &token, "photos").await, 1);
}

async fn photos_jpeg_orientation_is_applied(backend: Backend) {
    let (app, _dir) = app(backend, None).await;
    let (token, _) = app.user("p@example.org").await;
    // Orientation 6: the camera held sideways; shown rotated 90° clockwise.
    let original = jpeg_with_exif(48, 16, 6, false);
    assert_eq!(
        metadata(&original).1,
        image::metadata::Orientation::Rotate90
    );
    let photo = uploaded(&app, &token, &original, "side.jpg").await;
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(16), Some(48))
    );
    let (_, _, bytes) = download(&app, &token, photo["id"].as_str().unwrap()).await;
    let image = image::load_from_memory(&bytes).unwrap();
    assert_eq!((image.width(), image.height()), (16, 48));
    assert_eq!(
        metadata(&bytes).1,
        image::metadata::Orientation::NoTransforms
    );
}

async fn photos_png_and_webp_are_accepted_without_metadata(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (token, id) = app.user("p@example.org").await;

    let png = png_with_metadata(24, 12);
    assert!(metadata(&png).0.is_some(), "the test PNG carries EXIF");
    let photo = uploaded(&app, &token, &png, "p.png").await;
    assert_eq!(photo["content_type"], "image/png");
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(24), Some(12))
    );
    let (status, headers, bytes) = download(&app, &token, photo["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert!(!contains(&bytes, b"eXIf") && !contains(&bytes, b"tEXt"));
    assert!(!contains(&bytes, b"Berlin"));
    assert_eq!(
        image::load_from_memory(&bytes).unwrap().to_rgb8(),
        pixels(24, 12).to_rgb8()
    );

    // A WebP declared as something else is still a WebP.
    let webp = webp_with_metadata(20, 10);
    assert!(metadata(&webp).0.is_some(), "the test WebP carries EXIF");
    let request = upload_request(
        &token,
        &webp,
        "w.bin",
        "application/octet-stream",
        &[],
        None,
        true,
    );
    let (status, body) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let photo = &body["photo"];
    assert_eq!(photo["content_type"], "image/webp");
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(20), Some(10))
    );
    let (_, headers, bytes) = download(&app, &token, photo["id"].as_str().unwrap()).await;
    assert_eq!(headers[header::CONTENT_TYPE], "image/webp");
    assert!(!contains(&bytes, b"EXIF") && !contains(&bytes, b"XMP "));
    assert_eq!(metadata(&bytes).0, None);
    assert_eq!(
        image::load_from_memory(&bytes).unwrap().to_rgb8(),
        pixels(20, 10).to_rgb8()
    );

    // A plain lossless WebP too.
    let plain = encoded(&pixels(9, 9), ImageFormat::WebP);
    let photo = uploaded(&app, &token, &plain, "plain.webp").await;
    assert_eq!(photo["content_type"], "image/webp");

    let mut files = dir.photo_files(&id);
    files.retain(|f| !f.starts_with('.'));
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".png")));
    assert_eq!(files.iter().filter(|f| f.ends_with(".webp")).count(), 2);
    assert_eq!(used(&app, &token, "photos").await, 3);
}

async fn photos_over_the_size_limit_are_413(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let admin = app.admin().await;
    let (token, id) = app.user("p@example.org").await;
    app.set_setting(&admin, "photo_max_bytes", json!(2048))
        .await;
    let noise = DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| {
        let v = x
            .wrapping_mul(2_654_435_761)
            .wrapping_add(y.wrapping_mul(40_503)) as u8;
        image::Rgb([v, v.wrapping_mul(3), v ^ 0x5a])
    }));
    let big = encoded(&noise, ImageFormat::Png);
    assert!(big.len() > 2048, "{}", big.len());
    // Refused from the declared length, before the body is read…
    let (status, body) = upload(&app, &token, &big, "big.png").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    // …and while reading when no length is declared.
    let request = upload_request(&token, &big, "big.png", "image/png", &[], None, false);
    let (status, body) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // A small one still fits.
    let small = encoded(&pixels(8, 8), ImageFormat::Png);
    assert!(small.len() <= 2048);
    uploaded(&app, &token, &small, "small.png").await;
    assert_eq!(used(&app, &token, "photos").await, 1);
    assert_eq!(dir.photo_files(&id).len(), 1);
}

async fn photos_limit_is_exact_under_parallel_uploads(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let admin = app.admin().await;
    let (token, id) = app.user("p@example.org").await;
    app.restrict(&admin, &id, "photos", json!(3)).await;
    let jpeg = jpeg_with_exif(64, 48, 1, true);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (app, token, jpeg) = (app.clone(), token.clone(), jpeg.clone());
            tokio::spawn(async move {
                let request = upload_request(
                    &token,
                    &jpeg,
                    &format!("p{i}.jpg"),
                    "image/jpeg",
                    &[],
                    None,
                    true,
                );
                send_json(&app, request).await
            })
        })
        .collect();
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::FORBIDDEN => {
                assert_eq!(body["error"]["code"], "feature_limit_reached", "{body}");
                assert_eq!(body["error"]["limit"], 3);
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (3, 5));
    let (_, list) = app.get("/api/photos", Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    // Exactly three files, and no temporary file left behind.
    let files = dir.photo_files(&id);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.ends_with(".jpg") && !f.starts_with('.'))
    );
    assert_eq!(used(&app, &token, "photos").await, 3);
}

async fn photos_are_private_to_their_owner(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (owner, owner_id) = app.user("owner@example.org").await;
    let (other, _) = app.user("other@example.org").await;
    let photo = uploaded(
        &app,
        &owner,
        &encoded(&pixels(8, 8), ImageFormat::Png),
        "a.png",
    )
    .await;
    let id = photo["id"].as_str().unwrap();
    let (status, body) = app.get(&format!("/api/photos/{id}"), Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _, _) = download(&app, &other, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(&format!("/api/photos/{id}"), Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/photos", Some(&other)).await;
    assert_eq!(list["items"], json!([]));
    // Without a session: 401; a malformed or unknown id: 404.
    let (status, _, _) = download(&app, "nope", id).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/api/photos/not-a-uuid", Some(&owner)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = Uuid::now_v7();
    let (status, _) = app
        .get(&format!("/api/photos/{unknown}"), Some(&owner))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The owner still has it.
    let (status, body) = app.get(&format!("/api/photos/{id}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["photo"]["id"], id);
    assert_eq!(dir.photo_files(&owner_id).len(), 1);
}

async fn photos_delete_removes_the_file_and_lists_page(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (token, profile) = app.user("p@example.org").await;
    let png = encoded(&pixels(8, 8), ImageFormat::Png);
    let mut ids = Vec::new();
    for i in 0..3 {
        let photo = uploaded(&app, &token, &png, &format!("{i}.png")).await;
        ids.push(photo["id"].as_str().unwrap().to_owned());
    }
    // Newest first, two per page.
    let (status, page) = app.get("/api/photos?limit=2", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let first: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page) = app
        .get(
            &format!("/api/photos?limit=2&cursor={cursor}"),
            Some(&token),
        )
        .await;
    assert_eq!(page["items"][0]["id"], ids[0].as_str());
    assert_eq!(page["next_cursor"], Value::Null);
    let (status, _) = app.get("/api/photos?limit=0", Some(&token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let file: &Path = &dir
        .0
        .join("photos")
        .join(&profile)
        .join(format!("{}.png", ids[1]));
    assert!(file.exists());
    let (status, body) = app
        .delete(&format!("/api/photos/{}", ids[1]), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!file.exists(), "the file was not removed");
    let (status, _) = app
        .get(&format!("/api/photos/{}", ids[1]), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(&app, &token, &ids[1]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .delete(&format!("/api/photos/{}", ids[1]), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(dir.photo_files(&profile).len(), 2);
    // Deleting gives nothing back.
    assert_eq!(used(&app, &token, "photos").await, 3);
}

async fn photos_downloads_racing_a_delete_are_whole_or_404(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (token, profile) = app.user("p@example.org").await;
    let png = encoded(&pixels(8, 8), ImageFormat::Png);
    for round in 0..12 {
        let photo = uploaded(&app, &token, &png, &format!("{round}.png")).await;
        let id = photo["id"].as_str().unwrap().to_owned();
        let (_, _, whole) = download(&app, &token, &id).await;
        let mut readers = Vec::new();
        for _ in 0..6 {
            let (app, token, id) = (app.clone(), token.clone(), id.clone());
            readers.push(tokio::spawn(
                async move { download(&app, &token, &id).await },
            ));
        }
        let (status, body) = app.delete(&format!("/api/photos/{id}"), Some(&token)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        for reader in readers {
            let (status, _, bytes) = reader.await.unwrap();
            match status {
                StatusCode::OK => assert_eq!(bytes, whole, "a partial file"),
                StatusCode::NOT_FOUND => {}
                other => panic!("a download racing a delete answered {other}"),
            }
        }
    }
    // A file missing while its row is there is damage, and says so.
    let photo = uploaded(&app, &token, &png, "kept.png").await;
    let id = photo["id"].as_str().unwrap();
    std::fs::remove_file(
        dir.0
            .join("photos")
            .join(&profile)
            .join(format!("{id}.png")),
    )
    .unwrap();
    let (status, _, _) = download(&app, &token, id).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

async fn photos_idempotency_key_stores_once(backend: Backend) {
    let (app, dir) = app(backend, None).await;
    let (token, profile) = app.user("p@example.org").await;
    let png = encoded(&pixels(8, 8), ImageFormat::Png);
    let request = || {
        upload_request(
            &token,
            &png,
            "a.png",
            "image/png",
            &[],
            Some("upload-1"),
            true,
        )
    };
    let (status, first) = send_json(&app, request()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = send_json(&app, request()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first);
    assert_eq!(used(&app, &token, "photos").await, 1);
    assert_eq!(dir.photo_files(&profile).len(), 1);
    // The same key with another file is refused.
    let other = encoded(&pixels(9, 9), ImageFormat::Png);
    let request = upload_request(
        &token,
        &other,
        "b.png",
        "image/png",
        &[],
        Some("upload-1"),
        true,
    );
    let (status, body) = send_json(&app, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    assert_eq!(dir.photo_files(&profile).len(), 1);
}

// --- the AI provider ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Answer,
    Status500,
    Sleep,
    Malformed,
    NoChoices,
    /// Answers the first call, fails every later one with 500.
    FailAfterOne,
}

/// A request the provider received: its `Authorization` header and JSON body.
type Seen = (Option<String>, Value);

/// An OpenAI-compatible chat endpoint on 127.0.0.1, driven by the test.
#[derive(Clone)]
struct Provider {
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Seen>>>,
    url: String,
}

impl Provider {
    async fn start() -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let provider = Provider {
            mode: Arc::new(Mutex::new(Mode::Answer)),
            calls: Arc::new(AtomicUsize::new(0)),
            requests: Arc::new(Mutex::new(Vec::new())),
            url,
        };
        let router = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(completions))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        provider
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn completions(
    axum::extract::State(p): axum::extract::State<Provider>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let n = p.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    p.requests.lock().unwrap().push((auth, request));
    let mode = *p.mode.lock().unwrap();
    let answer = || {
        axum::Json(json!({
            "id": format!("chatcmpl-{n}"),
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("answer {n}")}, "finish_reason": "stop"}],
        }))
        .into_response()
    };
    match mode {
        Mode::Answer => answer(),
        Mode::FailAfterOne if n == 1 => answer(),
        Mode::Status500 | Mode::FailAfterOne => {
            (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke").into_response()
        }
        Mode::Sleep => {
            // Far longer than the 0.5 s timeout: only the timeout ends the call in time.
            tokio::time::sleep(Duration::from_secs(60)).await;
            answer()
        }
        Mode::Malformed => (
            [(header::CONTENT_TYPE, "application/json")],
            "{\"choices\": [{\"message\": ",
        )
            .into_response(),
        Mode::NoChoices => axum::Json(json!({"choices": []})).into_response(),
    }
}

async fn insight(app: &TestApp, token: &str, question: Option<&str>) -> (StatusCode, Value) {
    let body = match question {
        Some(q) => json!({ "question": q }),
        None => json!({}),
    };
    app.post("/api/ai/insight", Some(token), body).await
}

// --- AI -------------------------------------------------------------------------------------

async fn ai_insight_spends_one_and_is_stored(backend: Backend) {
    let provider = Provider::start().await;
    let (app, _dir) = app(backend, Some(provider.url.clone())).await;
    let (token, _) = app.user("ai@example.org").await;
    let (other, _) = app.user("other@example.org").await;
    let today = chrono::Utc::now().date_naive().to_string();
    let (status, weight) = app
        .post(
            "/api/weight",
            Some(&token),
            json!({"date": today, "weight_kg": 81.5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{weight}");

    let (status, body) = insight(&app, &token, Some("Is my weight going down?")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = &body["insight"];
    assert_eq!(stored["answer"], "answer 1");
    assert_eq!(stored["question"], "Is my weight going down?");
    assert_eq!(stored["model"], "test-model");
    assert_eq!(stored["kind"], "insight");
    assert_eq!(used(&app, &token, "ai_calls").await, 1);

    // What the provider saw: the bearer key, the model, a system and a user message with
    // the question (and the data, not the e-mail).
    let (auth, request) = provider.requests.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(request["model"], "test-model");
    assert_eq!(request["messages"][0]["role"], "system");
    let prompt = request["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("Is my weight going down?"), "{prompt}");
    assert!(!prompt.contains("ai@example.org"), "{prompt}");
    assert!(prompt.contains(&format!("{today} 81.5 kg")), "{prompt}");

    // Without a question, and with an empty body.
    let (status, body) = app
        .call(Method::POST, "/api/ai/insight", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["insight"]["question"], Value::Null);
    assert_eq!(used(&app, &token, "ai_calls").await, 2);

    // Listed, newest first, and readable by id; not by another profile.
    let (status, list) = app.get("/api/ai/insights", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["id"], stored["id"]);
    let id = stored["id"].as_str().unwrap();
    let (status, one) = app
        .get(&format!("/api/ai/insights/{id}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["insight"], *stored);
    let (status, _) = app
        .get(&format!("/api/ai/insights/{id}"), Some(&other))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/ai/insights", Some(&other)).await;
    assert_eq!(list["items"], json!([]));

    // feature_used is logged with the spend.
    let admin = app.admin().await;
    let (_, log) = app
        .get("/api/admin/activity?action=feature_used", Some(&admin))
        .await;
    let ai_uses = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["details"]["feature"] == "ai_calls")
        .count();
    assert_eq!(ai_uses, 2, "{log}");

    // A retry with the same Idempotency-Key answers as the first and spends once.
    let ask = |key: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/ai/insight")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Body::from(json!({"question": "again?"}).to_string()))
            .unwrap()
    };
    let (status, first) = send_json(&app, ask("k-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let calls = provider.calls();
    let (status, again) = send_json(&app, ask("k-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first);
    assert_eq!(
        provider.calls(),
        calls,
        "a replay does not call the provider"
    );
    assert_eq!(used(&app, &token, "ai_calls").await, 3);

    // Bad input.
    let (status, body) = insight(&app, &token, Some(&"x".repeat(1001))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post("/api/ai/insight", Some(&token), json!({"question": 3}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get("/api/ai/insights?kind=poem", Some(&token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);
}

async fn ai_provider_failures_spend_nothing(backend: Backend) {
    let provider = Provider::start().await;
    let (app, _dir) = app(backend, Some(provider.url.clone())).await;
    let (token, _) = app.user("ai@example.org").await;
    for mode in [
        Mode::Status500,
        Mode::Sleep,
        Mode::Malformed,
        Mode::NoChoices,
    ] {
        provider.set(mode);
        let before = provider.calls();
        let started = std::time::Instant::now();
        let (status, body) = insight(&app, &token, None).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{mode:?}: {body}");
        assert_eq!(body["error"]["code"], "ai_failed", "{mode:?}");
        assert_eq!(provider.calls(), before + 1, "{mode:?}");
        assert_eq!(used(&app, &token, "ai_calls").await, 0, "{mode:?} spent");
        if mode == Mode::Sleep {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the timeout did not apply"
            );
        }
    }
    let (_, list) = app.get("/api/ai/insights", Some(&token)).await;
    assert_eq!(list["items"], json!([]));
    // And it works again once the provider does.
    provider.set(Mode::Answer);
    let (status, _) = insight(&app, &token, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(used(&app, &token, "ai_calls").await, 1);
}

async fn ai_limit_is_enforced_before_the_provider(backend: Backend) {
    let provider = Provider::start().await;
    let (app, _dir) = app(backend, Some(provider.url.clone())).await;
    let admin = app.admin().await;
    let (token, id) = app.user("ai@example.org").await;
    app.restrict(&admin, &id, "ai_calls", json!(2)).await;
    for _ in 0..2 {
        let (status, body) = insight(&app, &token, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = insight(&app, &token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "feature_limit_reached");
    assert_eq!(body["error"]["limit"], 2);
    assert_eq!(body["error"]["used"], 2);
    assert_eq!(
        provider.calls(),
        2,
        "the provider was called over the limit"
    );
    // A failure at the limit's edge gives the unit back, so the last one is not lost.
    app.restrict(&admin, &id, "ai_calls", json!(3)).await;
    provider.set(Mode::Status500);
    let (status, _) = insight(&app, &token, None).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    provider.set(Mode::Answer);
    let (status, _) = insight(&app, &token, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);
    // Off entirely.
    app.restrict(&admin, &id, "ai_calls", json!(0)).await;
    let (status, body) = insight(&app, &token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "feature_disabled");
    assert_eq!(provider.calls(), 4);
}

async fn ai_without_configuration_is_unavailable(backend: Backend) {
    let (app, _dir) = app(backend, None).await;
    let (token, _) = app.user("ai@example.org").await;
    let (status, body) = insight(&app, &token, Some("hello?")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "ai_unavailable");
    let (status, body) = app
        .call(Method::POST, "/api/ai/pipeline", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "ai_unavailable");
    assert_eq!(used(&app, &token, "ai_calls").await, 0);
    assert_eq!(used(&app, &token, "ai_pipeline").await, 0);
    let (status, _) = app.get("/api/ai/insights", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn ai_pipeline_spends_per_step_and_releases_on_failure(backend: Backend) {
    let provider = Provider::start().await;
    let (app, _dir) = app(backend, Some(provider.url.clone())).await;
    let admin = app.admin().await;
    let (token, id) = app.user("ai@example.org").await;
    app.restrict(&admin, &id, "ai_pipeline", json!(null)).await;
    let run = || app.call(Method::POST, "/api/ai/pipeline", Some(&token), None);

    let (status, body) = run().await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pipeline = &body["pipeline"];
    assert_eq!(pipeline["kind"], "pipeline");
    let steps = pipeline["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["summary", "patterns", "recommendations"]);
    assert_eq!(steps[2]["answer"], "answer 3");
    assert_eq!(pipeline["answer"], "answer 3");
    assert_eq!(provider.calls(), 3);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);
    // Each step sees the answers before it.
    let last = provider.requests.lock().unwrap()[2].1.clone();
    let seen: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(seen, vec!["answer 1", "answer 2"]);
    let (_, list) = app
        .get("/api/ai/insights?kind=pipeline", Some(&token))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // A failing second step gives back every unit of the run.
    provider.calls.store(0, Ordering::SeqCst);
    provider.set(Mode::FailAfterOne);
    let (status, body) = run().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "ai_failed");
    assert_eq!(provider.calls(), 2);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);
    provider.set(Mode::Sleep);
    let (status, _) = run().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);
    provider.set(Mode::Answer);

    // Not enough calls left for every step: refused before the first call.
    app.restrict(&admin, &id, "ai_calls", json!(5)).await;
    let before = provider.calls();
    let (status, body) = run().await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "feature_limit_reached");
    assert_eq!(body["error"]["feature"], "ai_calls");
    assert_eq!(provider.calls(), before);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);

    // The pipeline switched off.
    app.restrict(&admin, &id, "ai_calls", json!(null)).await;
    app.restrict(&admin, &id, "ai_pipeline", json!(0)).await;
    let (status, body) = run().await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "feature_disabled");
    assert_eq!(body["error"]["feature"], "ai_pipeline");
    assert_eq!(provider.calls(), before);
    assert_eq!(used(&app, &token, "ai_calls").await, 3);
}

async fn openapi_describes_photos_and_ai(backend: Backend) {
    let (app, _dir) = app(backend, None).await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = &doc["paths"];
    let upload = &paths["/api/photos"]["post"];
    assert!(
        upload["requestBody"]["content"]["multipart/form-data"].is_object(),
        "{upload}"
    );
    for (path, method) in [
        ("/api/photos", "get"),
        ("/api/photos/{id}", "get"),
        ("/api/photos/{id}", "delete"),
        ("/api/photos/{id}/file", "get"),
        ("/api/ai/insight", "post"),
        ("/api/ai/pipeline", "post"),
        ("/api/ai/insights", "get"),
        ("/api/ai/insights/{id}", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    for code in ["413", "415", "422"] {
        assert!(upload["responses"][code].is_object(), "{code}");
    }
    for code in ["502", "503"] {
        assert!(
            paths["/api/ai/insight"]["post"]["responses"][code].is_object(),
            "{code}"
        );
    }
}
