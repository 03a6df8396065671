//! Completing the OpenAPI document with the answers every route shares.
//!
//! Handlers document their own outcomes; the refusals that come from the layers around
//! them (authentication, the admin guard, the cross-origin guard, body and parameter
//! extraction, the request timeout, a database outage) are the same for every route of a
//! kind, so they are added here from what the route declares — its security, its
//! parameters, its body — and the document lists every status code a route can answer.

use serde_json::{Map, Value, json};

use crate::service::ErrorCode;

/// The refusals added to an operation, by status: (status, the codes it carries).
fn shared_refusals(path: &str, method: &str, operation: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(u16, Vec<ErrorCode>)> = Vec::new();
    let mut add = |code: ErrorCode| {
        let status = code.http_status();
        match out.iter_mut().find(|(s, _)| *s == status) {
            Some((_, codes)) => {
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            None => out.push((status, vec![code])),
        }
    };
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if secured {
        add(ErrorCode::Unauthenticated);
    }
    if path.starts_with("/api/admin/") {
        add(ErrorCode::Forbidden);
    }
    let changes_state = method != "get" || path.starts_with("/api/export/");
    if changes_state {
        // The cross-origin guard (crate::http::csrf).
        add(ErrorCode::Forbidden);
    }
    let parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let located = |place: &str| {
        parameters
            .iter()
            .any(|p| p.get("in").and_then(Value::as_str) == Some(place))
    };
    if located("path") {
        add(ErrorCode::NotFound);
    }
    if located("query") || located("header") {
        add(ErrorCode::InvalidInput);
    }
    if operation.get("requestBody").is_some() {
        add(ErrorCode::BadRequest);
        add(ErrorCode::PayloadTooLarge);
        add(ErrorCode::UnsupportedMediaType);
        add(ErrorCode::InvalidInput);
    }
    add(ErrorCode::Timeout);
    if path.starts_with("/api/") || path == "/readyz" {
        add(ErrorCode::Unavailable);
    }
    out.into_iter()
        .map(|(status, codes)| {
            let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            (status.to_string(), codes.join(", "))
        })
        .collect()
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds the shared refusals to every operation of `doc` (an OpenAPI document as JSON).
/// A status the route documents itself keeps its own description, with the shared codes
/// appended.
pub fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            let refusals = shared_refusals(path, method, operation);
            let responses = operation.as_object_mut().map(|o| {
                o.entry("responses")
                    .or_insert_with(|| Value::Object(Map::new()))
            });
            let Some(Value::Object(responses)) = responses else {
                continue;
            };
            for (status, codes) in refusals {
                match responses.get_mut(&status) {
                    None => {
                        responses.insert(status, error_response(&codes));
                    }
                    Some(existing) => {
                        let has_body = existing.get("content").is_some();
                        let description = existing
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned();
                        let missing: Vec<&str> = codes
                            .split(", ")
                            .filter(|c| !description.contains(c))
                            .collect();
                        if !missing.is_empty() {
                            let joined = if description.is_empty() {
                                missing.join(", ")
                            } else {
                                format!("{description}; also {}", missing.join(", "))
                            };
                            existing["description"] = json!(joined);
                        }
                        if !has_body {
                            existing["content"] = error_response("")["content"].clone();
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_follow_what_the_route_declares() {
        let op = json!({
            "security": [{"bearer": []}],
            "parameters": [{"name": "id", "in": "path"}, {"name": "limit", "in": "query"}],
            "requestBody": {"content": {"application/json": {}}},
            "responses": {"200": {"description": "ok"}, "404": {"description": "not_found (also another profile's)", "content": {}}}
        });
        let mut doc = json!({"paths": {"/api/admin/things/{id}": {"patch": op}}});
        complete(&mut doc);
        let r = &doc["paths"]["/api/admin/things/{id}"]["patch"]["responses"];
        for status in [
            "200", "400", "401", "403", "404", "408", "413", "415", "422", "503",
        ] {
            assert!(r[status].is_object(), "{status}: {r}");
        }
        assert_eq!(
            r["404"]["description"],
            "not_found (also another profile's)"
        );
        assert_eq!(r["403"]["description"], "forbidden");

        let mut doc =
            json!({"paths": {"/healthz": {"get": {"responses": {"200": {"description": "up"}}}}}});
        complete(&mut doc);
        let r = doc["paths"]["/healthz"]["get"]["responses"]
            .as_object()
            .unwrap();
        assert_eq!(r.keys().collect::<Vec<_>>(), ["200", "408"]);
    }
}
