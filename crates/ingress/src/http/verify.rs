//! Callback authentication: Volcengine `X-VOD-SIGNATURE`, Tencent `Sign`/`T`, shared token.
//!
//! All comparisons are constant-time (`subtle`) and hex is compared case-insensitively. The
//! functions take `now` (unix seconds) so tests control the clock.

use std::collections::HashMap;

use base64::Engine as _;
use http::HeaderMap;
use md5::{Digest, Md5};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::source::{SourceAuth, VolcengineAuth};

/// Why a request was not authenticated. Reasons are a closed set (metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The shared token is absent.
    #[error("missing token")]
    MissingToken,
    /// The shared token does not match.
    #[error("bad token")]
    BadToken,
    /// A required signature or timestamp is absent or unreadable.
    #[error("missing signature or timestamp")]
    MissingSignature,
    /// The signature does not match any configured key.
    #[error("signature mismatch")]
    BadSignature,
    /// The timestamp is outside the allowed window (or the Tencent expiry has passed).
    #[error("signature expired or timestamp out of range")]
    Expired,
}

impl AuthError {
    /// Closed-set reason for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::BadToken => "bad_token",
            AuthError::MissingSignature => "missing_signature",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
        }
    }
}

/// Check every rule configured in `auth` against one request.
pub fn verify(
    auth: &SourceAuth,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &[u8],
    now: i64,
) -> Result<(), AuthError> {
    let skew = i64::try_from(auth.max_clock_skew.as_secs()).unwrap_or(i64::MAX);
    if let Some(token) = &auth.token {
        let given = query
            .get("token")
            .map(String::as_str)
            .or_else(|| bearer(headers))
            .ok_or(AuthError::MissingToken)?;
        if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            return Err(AuthError::BadToken);
        }
    }
    if let Some(volc) = &auth.volcengine {
        verify_volcengine(volc, headers, body, now, skew)?;
    }
    if let Some(key) = &auth.tencent_sign_key {
        let (sign, t) =
            tencent_sign_fields(headers, query, body).ok_or(AuthError::MissingSignature)?;
        verify_tencent(key.expose(), &sign, &t, now, skew)?;
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `hex(md5(url|ts|key|base64(body)))`, lower-case: the Volcengine callback signature.
pub fn volcengine_signature(callback_url: &str, timestamp: &str, key: &str, body: &[u8]) -> String {
    let mut md5 = Md5::new();
    md5.update(callback_url.as_bytes());
    md5.update(b"|");
    md5.update(timestamp.as_bytes());
    md5.update(b"|");
    md5.update(key.as_bytes());
    md5.update(b"|");
    md5.update(
        base64::engine::general_purpose::STANDARD
            .encode(body)
            .as_bytes(),
    );
    hex::encode(md5.finalize())
}

/// `md5_hex(SignKey + T)`, lower-case: the Tencent callback signature.
pub fn tencent_signature(sign_key: &str, t: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(sign_key.as_bytes());
    md5.update(t.as_bytes());
    hex::encode(md5.finalize())
}

fn hex_eq(given: &str, expected_lower: &str) -> bool {
    let given = given.trim().to_ascii_lowercase();
    bool::from(given.as_bytes().ct_eq(expected_lower.as_bytes()))
}

fn verify_volcengine(
    auth: &VolcengineAuth,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    skew: i64,
) -> Result<(), AuthError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let ts_text = header("x-vod-timestamp").ok_or(AuthError::MissingSignature)?;
    let signature = header("x-vod-signature").ok_or(AuthError::MissingSignature)?;
    let ts: i64 = ts_text.parse().map_err(|_| AuthError::MissingSignature)?;
    if (now - ts).abs() > skew {
        return Err(AuthError::Expired);
    }
    // Evaluate every key (no early exit), so timing does not reveal which key matched.
    let mut ok = false;
    for key in &auth.keys {
        ok |= hex_eq(
            signature,
            &volcengine_signature(&auth.callback_url, ts_text, key.expose(), body),
        );
    }
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// Verify Tencent `Sign`/`T`: the signature must match and `T` (an expiry time) not have passed.
pub fn verify_tencent(
    sign_key: &str,
    sign: &str,
    t: &str,
    now: i64,
    skew: i64,
) -> Result<(), AuthError> {
    let expiry: i64 = t.trim().parse().map_err(|_| AuthError::MissingSignature)?;
    if !hex_eq(sign, &tencent_signature(sign_key, t.trim())) {
        return Err(AuthError::BadSignature);
    }
    if now > expiry.saturating_add(skew) {
        return Err(AuthError::Expired);
    }
    Ok(())
}

/// Only the two signature fields of a Tencent body; everything else is skipped unparsed.
#[derive(Deserialize)]
struct SignFields {
    #[serde(rename = "Sign", alias = "sign", default)]
    sign: Option<String>,
    #[serde(rename = "T", alias = "t", default)]
    t: Option<NumOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Num(i64),
    Text(String),
}

/// Where Tencent puts `Sign` and `T` is not documented: look in the top-level body keys first,
/// then the query string, then headers.
fn tencent_sign_fields(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Option<(String, String)> {
    if let Ok(SignFields {
        sign: Some(sign),
        t: Some(t),
    }) = serde_json::from_slice::<SignFields>(body)
    {
        let t = match t {
            NumOrString::Num(n) => n.to_string(),
            NumOrString::Text(s) => s,
        };
        return Some((sign, t));
    }
    let from_query = |a: &str, b: &str| query.get(a).or_else(|| query.get(b)).cloned();
    if let (Some(sign), Some(t)) = (from_query("Sign", "sign"), from_query("T", "t")) {
        return Some((sign, t));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Some((header("sign")?, header("t")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vodbridge_core::Secret;

    #[test]
    fn volcengine_reference_vector() {
        let body = b"{\n\"a\":1,\n\"b\":2\n}";
        let sig = volcengine_signature(
            "https://www.example1.com/your/callback",
            "1545675780",
            "ABCDabcd1234",
            body,
        );
        assert_eq!(sig, "3161fa89a722ee715937b7af60b9ad75");
    }

    #[test]
    fn tencent_reference_vector() {
        assert_eq!(
            tencent_signature("mysignkey", "1700000600"),
            "43449e451b9f58ec45d26b7a5fa9597b"
        );
        assert_eq!(
            verify_tencent(
                "mysignkey",
                "43449E451B9F58EC45D26B7A5FA9597B",
                "1700000600",
                1_700_000_000,
                30
            ),
            Ok(())
        );
        assert_eq!(
            verify_tencent(
                "mysignkey",
                "43449e451b9f58ec45d26b7a5fa9597b",
                "1700000600",
                1_700_000_700,
                30
            ),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify_tencent(
                "other",
                "43449e451b9f58ec45d26b7a5fa9597b",
                "1700000600",
                1_700_000_000,
                30
            ),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn volcengine_window_and_rotation() {
        let auth = VolcengineAuth {
            callback_url: "https://www.example1.com/your/callback".into(),
            keys: vec![Secret::new("newkey12"), Secret::new("ABCDabcd1234")],
        };
        let body = b"{\n\"a\":1,\n\"b\":2\n}";
        let mut headers = HeaderMap::new();
        headers.insert("X-VOD-TIMESTAMP", "1545675780".parse().expect("header"));
        headers.insert(
            "X-VOD-SIGNATURE",
            "3161FA89A722EE715937B7AF60B9AD75".parse().expect("header"),
        );
        assert_eq!(
            verify_volcengine(&auth, &headers, body, 1_545_675_780 + 299, 300),
            Ok(())
        );
        assert_eq!(
            verify_volcengine(&auth, &headers, body, 1_545_675_780 - 299, 300),
            Ok(())
        );
        assert_eq!(
            verify_volcengine(&auth, &headers, body, 1_545_675_780 + 301, 300),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify_volcengine(&auth, &headers, b"{}", 1_545_675_780, 300),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn tencent_fields_from_body_query_or_headers() {
        let none = HashMap::new();
        let got = tencent_sign_fields(
            &HeaderMap::new(),
            &none,
            br#"{"EventType":"X","Sign":"ab","T":17}"#,
        );
        assert_eq!(got, Some(("ab".into(), "17".into())));
        let got = tencent_sign_fields(&HeaderMap::new(), &none, br#"{"sign":"ab","t":"17"}"#);
        assert_eq!(got, Some(("ab".into(), "17".into())));
        let query = HashMap::from([
            ("Sign".to_owned(), "cd".to_owned()),
            ("T".to_owned(), "18".to_owned()),
        ]);
        assert_eq!(
            tencent_sign_fields(&HeaderMap::new(), &query, b"not json"),
            Some(("cd".into(), "18".into()))
        );
        let mut headers = HeaderMap::new();
        headers.insert("Sign", "ef".parse().expect("header"));
        headers.insert("T", "19".parse().expect("header"));
        assert_eq!(
            tencent_sign_fields(&headers, &none, b"{}"),
            Some(("ef".into(), "19".into()))
        );
        assert_eq!(tencent_sign_fields(&HeaderMap::new(), &none, b"{}"), None);
    }
}
