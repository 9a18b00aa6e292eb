//! The fake's own TC3-HMAC-SHA256 verification, written independently of the poller's signer so
//! a shared mistake cannot make both sides agree: it recomputes the signature from the request as
//! received (the `SignedHeaders` it names, the raw body bytes) and compares.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Why a request failed authentication: the API error code and message.
pub(crate) type AuthError = (&'static str, String);

struct Authorization<'a> {
    secret_id: &'a str,
    date: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let mut scope = credential?.split('/');
    let secret_id = scope.next()?;
    let date = scope.next()?;
    let service = scope.next()?;
    if scope.next()? != "tc3_request" || scope.next().is_some() {
        return None;
    }
    Some(Authorization {
        secret_id,
        date,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

fn mac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Verify the TC3 signature of a `POST /` request. `now` is the fake's clock (Unix seconds).
pub(crate) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret_id: &str,
    secret_key: &str,
    max_skew_secs: i64,
    now: i64,
) -> Result<(), AuthError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let invalid = |msg: &str| ("AuthFailure.InvalidAuthorization", msg.to_owned());
    let auth = header("authorization").ok_or_else(|| invalid("Authorization header is missing"))?;
    let auth =
        parse_authorization(auth).ok_or_else(|| invalid("Authorization header is malformed"))?;
    if auth.secret_id != secret_id {
        return Err((
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found.".to_owned(),
        ));
    }
    let timestamp: i64 = header("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ("MissingParameter", "X-TC-Timestamp is missing".to_owned()))?;
    if (now - timestamp).abs() > max_skew_secs {
        return Err((
            "AuthFailure.SignatureExpire",
            "Signature expired: timestamp too far from server time".to_owned(),
        ));
    }
    let expected_date = chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default();
    if auth.date != expected_date || auth.service != "vod" {
        return Err((
            "AuthFailure.SignatureFailure",
            "credential scope does not match".to_owned(),
        ));
    }
    if !auth.signed_headers.contains(&"content-type") || !auth.signed_headers.contains(&"host") {
        return Err(invalid("content-type and host must be signed"));
    }
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let value = header(name).ok_or_else(|| invalid("a signed header is missing"))?;
        canonical_headers.push_str(&format!(
            "{}:{}\n",
            name.to_lowercase(),
            value.trim().to_lowercase()
        ));
    }
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{}\n{}",
        auth.signed_headers.join(";"),
        hex::encode(Sha256::digest(body))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{}/{}/tc3_request\n{}",
        auth.date,
        auth.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = mac(format!("TC3{secret_key}").as_bytes(), auth.date);
    let k_service = mac(&k_date, auth.service);
    let k_signing = mac(&k_service, "tc3_request");
    let expected = hex::encode(mac(&k_signing, &to_sign));
    if expected != auth.signature {
        return Err((
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated.".to_owned(),
        ));
    }
    Ok(())
}
