//! TC3-HMAC-SHA256, Tencent Cloud API 3.0 request signing ("signature v3").
//!
//! Written from the documented algorithm (canonical request → string to sign → derived key →
//! signature); every intermediate value is exposed so the unit tests can check each step against
//! the official worked example.

use chrono::DateTime;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name at the start of the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The API service of Tencent VOD, used in the credential scope.
pub const VOD_SERVICE: &str = "vod";

/// What is signed: a `POST /` JSON request.
#[derive(Debug, Clone)]
pub struct SignRequest<'a> {
    /// `Host` header value (`vod.tencentcloudapi.com`, or `127.0.0.1:8080` for a local endpoint).
    pub host: &'a str,
    /// `Content-Type` header value, exactly as sent (e.g. `application/json`).
    pub content_type: &'a str,
    /// When set, `x-tc-action` is signed too (the official example does; it binds the action).
    pub action: Option<&'a str>,
    /// The exact body bytes.
    pub payload: &'a [u8],
    /// `X-TC-Timestamp` (Unix seconds).
    pub timestamp: i64,
    /// Service name for the credential scope (`vod`).
    pub service: &'a str,
}

/// Every intermediate and final value of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Lowercase hex SHA-256 of the body.
    pub payload_hash: String,
    /// The `;`-joined signed header names.
    pub signed_headers: String,
    /// The canonical request text.
    pub canonical_request: String,
    /// Lowercase hex SHA-256 of the canonical request.
    pub canonical_request_hash: String,
    /// UTC date (`YYYY-MM-DD`) of the timestamp.
    pub date: String,
    /// `date/service/tc3_request`.
    pub credential_scope: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// Lowercase hex of the final HMAC.
    pub signature: String,
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `msg` with `key` (raw 32-byte output).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp, as the credential scope wants it.
pub fn utc_date(timestamp: i64) -> String {
    DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `SecretDate = HMAC("TC3" + SecretKey, Date)`.
pub fn secret_date(secret_key: &str, date: &str) -> [u8; 32] {
    hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes())
}

/// `SecretService = HMAC(SecretDate, service)`.
pub fn secret_service(secret_date: &[u8; 32], service: &str) -> [u8; 32] {
    hmac_sha256(secret_date, service.as_bytes())
}

/// `SecretSigning = HMAC(SecretService, "tc3_request")`.
pub fn secret_signing(secret_service: &[u8; 32]) -> [u8; 32] {
    hmac_sha256(secret_service, b"tc3_request")
}

/// Sign `req` with `secret_key`.
pub fn sign(req: &SignRequest<'_>, secret_key: &str) -> Signature {
    let payload_hash = sha256_hex(req.payload);
    // Canonical headers: lower-cased names and values, trimmed, sorted by name.
    let mut headers = vec![
        ("content-type", req.content_type.trim().to_ascii_lowercase()),
        ("host", req.host.trim().to_ascii_lowercase()),
    ];
    if let Some(action) = req.action {
        headers.push(("x-tc-action", action.trim().to_ascii_lowercase()));
    }
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    // POST with a JSON body: URI is always `/` and the query string is empty.
    let canonical_request =
        format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let canonical_request_hash = sha256_hex(canonical_request.as_bytes());
    let date = utc_date(req.timestamp);
    let credential_scope = format!("{date}/{}/tc3_request", req.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{credential_scope}\n{canonical_request_hash}",
        req.timestamp
    );
    let key = secret_signing(&secret_service(
        &secret_date(secret_key, &date),
        req.service,
    ));
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    Signature {
        payload_hash,
        signed_headers,
        canonical_request,
        canonical_request_hash,
        date,
        credential_scope,
        string_to_sign,
        signature,
    }
}

impl Signature {
    /// The `Authorization` header value for `secret_id`.
    pub fn authorization(&self, secret_id: &str) -> String {
        format!(
            "{ALGORITHM} Credential={secret_id}/{}, SignedHeaders={}, Signature={}",
            self.credential_scope, self.signed_headers, self.signature
        )
    }
}

#[cfg(test)]
#[path = "tc3_tests.rs"]
mod tests;
