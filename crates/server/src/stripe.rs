//! A thin client of Stripe's API — only the calls shared/API.md "Payments" names — and the
//! check of a webhook's `Stripe-Signature`.
//!
//! Every call has a timeout, the pinned `Stripe-Version`, and every POST an
//! `Idempotency-Key` (given by the caller, so that a retry of the same step is the same
//! request to Stripe). Bodies are form-encoded; answers are Stripe's JSON objects.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::StripeConfig;

/// The API version whose object shapes Mitai reads.
pub const VERSION: &str = "2025-03-31.basil";

/// How old (or how far ahead) a signed webhook may be.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// What a call to Stripe can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe could not be reached, did not answer in time, or answered something that is no
    /// Stripe object.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    /// Stripe does not know the object.
    #[error("Stripe does not know {0}")]
    NotFound(String),
    /// Stripe refused the call.
    #[error("Stripe refused the call ({status}): {message}")]
    Refused { status: u16, message: String },
}

/// The client: one per server, cheap to clone.
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    key: String,
    base: String,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe").field("base", &self.base).finish()
    }
}

/// Whether `id` looks like a Stripe object id (`price_…`, `cus_…`, `sub_…`): letters, digits
/// and `_` only, so that it is safe in a path.
pub fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Stripe {
    pub fn new(config: &StripeConfig) -> Stripe {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Stripe {
            http,
            key: config.secret_key.clone(),
            base: config.api_base.clone(),
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, StripeError> {
        let response = request
            .bearer_auth(&self.key)
            .header("Stripe-Version", VERSION)
            .send()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(StripeError::NotFound(what.to_owned()));
        }
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .chars()
            .take(300)
            .collect();
        Err(StripeError::Refused {
            status: status.as_u16(),
            message,
        })
    }

    async fn get(&self, path: &str, what: &str) -> Result<Value, StripeError> {
        self.send(self.http.get(format!("{}{path}", self.base)), what)
            .await
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<Value, StripeError> {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_encode(form));
        self.send(request, path).await
    }

    /// `GET /v1/prices/{id}`.
    pub async fn price(&self, id: &str) -> Result<Value, StripeError> {
        if !is_id(id) {
            return Err(StripeError::NotFound(id.to_owned()));
        }
        self.get(&format!("/v1/prices/{id}"), id).await
    }

    /// `POST /v1/customers` for a profile; the key is derived from the profile, so that no
    /// retry, however late, makes a second customer. Answers the customer's id.
    pub async fn create_customer(
        &self,
        profile_id: uuid::Uuid,
        email: &str,
        name: &str,
    ) -> Result<String, StripeError> {
        let profile = profile_id.to_string();
        let customer = self
            .post(
                "/v1/customers",
                &[
                    ("email", email),
                    ("name", name),
                    ("metadata[profile_id]", &profile),
                ],
                &format!("customer-{profile}"),
            )
            .await?;
        object_id(&customer)
    }

    /// `POST /v1/checkout/sessions`: answers the Checkout page's URL.
    pub async fn checkout_session(
        &self,
        checkout: &Checkout<'_>,
        idempotency_key: &str,
    ) -> Result<String, StripeError> {
        let profile = checkout.profile_id.to_string();
        let price = checkout.price_id.to_string();
        let mut form = vec![
            (
                "mode",
                if checkout.subscription {
                    "subscription"
                } else {
                    "payment"
                },
            ),
            ("customer", checkout.customer),
            ("client_reference_id", &profile),
            ("line_items[0][price]", checkout.stripe_price_id),
            ("line_items[0][quantity]", "1"),
            ("success_url", checkout.success_url),
            ("cancel_url", checkout.cancel_url),
            ("metadata[profile_id]", &profile),
            ("metadata[price_id]", &price),
        ];
        if checkout.subscription {
            form.push(("subscription_data[metadata][profile_id]", &profile));
        }
        let session = self
            .post("/v1/checkout/sessions", &form, idempotency_key)
            .await?;
        session["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| StripeError::Unreachable("a checkout session without url".into()))
    }

    /// `POST /v1/billing_portal/sessions`: answers the portal's URL.
    pub async fn portal_session(
        &self,
        customer: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, StripeError> {
        let session = self
            .post(
                "/v1/billing_portal/sessions",
                &[("customer", customer), ("return_url", return_url)],
                idempotency_key,
            )
            .await?;
        session["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| StripeError::Unreachable("a portal session without url".into()))
    }

    /// `GET /v1/subscriptions/{id}` with its latest invoice.
    pub async fn subscription(&self, id: &str) -> Result<Value, StripeError> {
        if !is_id(id) {
            return Err(StripeError::NotFound(id.to_owned()));
        }
        self.get(
            &format!("/v1/subscriptions/{id}?expand[]=latest_invoice"),
            id,
        )
        .await
    }

    /// `GET /v1/invoices/{id}`.
    pub async fn invoice(&self, id: &str) -> Result<Value, StripeError> {
        if !is_id(id) {
            return Err(StripeError::NotFound(id.to_owned()));
        }
        self.get(&format!("/v1/invoices/{id}"), id).await
    }

    /// `DELETE /v1/subscriptions/{id}`: ends it now (an account being deleted).
    pub async fn cancel_subscription(&self, id: &str) -> Result<Value, StripeError> {
        if !is_id(id) {
            return Err(StripeError::NotFound(id.to_owned()));
        }
        let request = self
            .http
            .delete(format!("{}/v1/subscriptions/{id}", self.base))
            .header("Idempotency-Key", format!("cancel-{id}"));
        self.send(request, id).await
    }
}

/// What a Checkout Session sells, to whom.
pub struct Checkout<'a> {
    pub profile_id: uuid::Uuid,
    /// Mitai's price id.
    pub price_id: uuid::Uuid,
    pub stripe_price_id: &'a str,
    pub customer: &'a str,
    pub subscription: bool,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

fn object_id(object: &Value) -> Result<String, StripeError> {
    object["id"]
        .as_str()
        .filter(|id| is_id(id))
        .map(str::to_owned)
        .ok_or_else(|| StripeError::Unreachable("an object without id".into()))
}

/// `application/x-www-form-urlencoded`: letters, digits and `-_.~` as they are, `[` `]`
/// escaped like everything else.
fn form_encode(form: &[(&str, &str)]) -> String {
    fn escape(out: &mut String, s: &str) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (key, value)) in form.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape(&mut out, key);
        out.push('=');
        escape(&mut out, value);
    }
    out
}

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header, or no t= and v1= in it")]
    Malformed,
    #[error("the signature is older (or newer) than {SIGNATURE_TOLERANCE_SECS} s")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `<t>.<payload>` with the
/// endpoint's signing secret: some `v1` must match (compared in constant time) and `t` must
/// be within [`SIGNATURE_TOLERANCE_SECS`] of `now`.
pub fn verify_signature(
    header: &str,
    payload: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<[u8; 32]> = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", hex)) => {
                let mut sig = [0u8; 32];
                if hex::decode_to_slice(hex, &mut sig).is_ok() {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    let at: i64 = t.parse().map_err(|_| SignatureError::Malformed)?;
    let expected = hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", payload]);
    // Every candidate is compared whole, so that the time taken says nothing about which.
    let matched = signatures
        .iter()
        .fold(false, |found, sig| found | constant_time_eq(sig, &expected));
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now.timestamp() - at).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `t` (for tests and
/// the stand-in).
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let t = t.to_string();
    let mac = hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", payload]);
    format!("t={t},v1={}", hex::encode(mac))
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `message` parts.
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in message {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signatures_are_checked_with_several_v1_and_a_tolerance() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(body, "whsec_test", now.timestamp());
        assert_eq!(verify_signature(&good, body, "whsec_test", now), Ok(()));
        // A rolled secret: the old and the new signature, either matches.
        let v1 = good.split_once(",v1=").unwrap().1;
        let both = format!("t={},v1={},v1={v1}", now.timestamp(), "00".repeat(32));
        assert_eq!(verify_signature(&both, body, "whsec_test", now), Ok(()));
        assert_eq!(
            verify_signature(&good, b"{\"id\":\"evt_2\"}", "whsec_test", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&good, body, "whsec_other", now),
            Err(SignatureError::Mismatch)
        );
        let later = now + chrono::TimeDelta::seconds(301);
        assert_eq!(
            verify_signature(&good, body, "whsec_test", later),
            Err(SignatureError::Stale)
        );
        let early = now - chrono::TimeDelta::seconds(301);
        assert_eq!(
            verify_signature(&good, body, "whsec_test", early),
            Err(SignatureError::Stale)
        );
        for bad in ["", "t=1", "v1=ab", "t=x,v1=zz", "garbage"] {
            assert!(
                verify_signature(bad, body, "whsec_test", now).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            form_encode(&[("line_items[0][price]", "price_1"), ("email", "a+b@x.org")]),
            "line_items%5B0%5D%5Bprice%5D=price_1&email=a%2Bb%40x.org"
        );
    }

    #[test]
    fn only_plain_ids_go_into_paths() {
        assert!(is_id("price_1Nabc"));
        for bad in ["", "../x", "a/b", "a?b", "a b", "a%2F"] {
            assert!(!is_id(bad), "{bad}");
        }
    }
}
