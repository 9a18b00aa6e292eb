//! Table-driven fixture test: every `tests/fixtures/<provider>/<case>.json` is normalized with a
//! fixed receive time and compared with `<case>.expected.json` beside it (a JSON array of
//! CloudEvents, or `{"error":{"reason","message"}}`). `UPDATE_FIXTURES=1` rewrites the expected
//! files; review the diff by eye before committing.
//!
//! Also checked here: a Tencent event received by callback and the same event pulled (with an
//! `EventHandle`, explicit `null`s and another key order) get the same id; a Volcengine retry
//! with a different `RequestId` gets the same id; distinct fixtures never share an id; every
//! documented vendor type has a fixture and a row in `docs/events.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use vodbridge_core::{CanonicalEvent, Provider};
use vodbridge_normalizer::{
    normalize, normalize_pulled, normalize_reference, type_mappings, SourceContext,
};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn ctx(provider: Provider) -> SourceContext<'static> {
    let (name, uri) = match provider {
        Provider::Tencent => ("tencent", "/vodbridge/tencent"),
        _ => ("volcengine", "/vodbridge/volcengine"),
    };
    SourceContext {
        source_name: name,
        source_uri: uri,
        received_at: Utc
            .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    }
}

/// `(provider, case name, input path)` for every input fixture.
fn cases() -> Vec<(Provider, String, PathBuf)> {
    let mut out = Vec::new();
    for (provider, dir) in [
        (Provider::Tencent, "tencent"),
        (Provider::Volcengine, "volcengine"),
    ] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(dir))
            .expect("fixture dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".json") && !name.ends_with(".expected.json")
            })
            .collect();
        paths.sort();
        for p in paths {
            let case = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 name")
                .to_owned();
            out.push((provider, case, p));
        }
    }
    assert!(out.len() > 60, "fixtures missing: found {}", out.len());
    out
}

fn to_value(events: &[CanonicalEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| serde_json::from_slice(&e.to_structured_json()).expect("structured json"))
            .collect(),
    )
}

fn run(provider: Provider, body: &[u8]) -> Value {
    match normalize(provider, body, &ctx(provider)) {
        Ok(events) => to_value(&events),
        Err(e) => json!({"error": {"reason": e.reason(), "message": e.to_string()}}),
    }
}

#[test]
fn fixtures_match_expected_output() {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    let mut failures = Vec::new();
    for (provider, case, path) in cases() {
        let body = std::fs::read(&path).expect("read fixture");
        let actual = run(provider, &body);
        let expected_path = path.with_extension("expected.json");
        if update {
            let text = serde_json::to_string_pretty(&actual).expect("pretty json") + "\n";
            std::fs::write(&expected_path, text).expect("write expected");
            continue;
        }
        let expected: Value = match std::fs::read(&expected_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("expected file is JSON"),
            Err(_) => {
                failures.push(format!("{case}: no {}", expected_path.display()));
                continue;
            }
        };
        if actual != expected {
            failures.push(format!(
                "{provider}/{case}: output differs\n--- expected\n{}\n--- actual\n{}",
                serde_json::to_string_pretty(&expected).unwrap_or_default(),
                serde_json::to_string_pretty(&actual).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Serialize with object keys in reverse order (serde_json sorts them), to vary key order.
fn reversed(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), reversed(v)))
                .collect();
            format!("{{{}}}", members.join(" , "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(reversed).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The pulled form of a callback body: `EventHandle` added, every other known payload key
/// spelled out as `null` (as `PullEvents` does), keys in another order.
fn as_pulled(callback: &Value, handle: &str) -> Value {
    let mut obj = callback.as_object().expect("object").clone();
    obj.remove("Sign");
    obj.remove("T");
    obj.insert("EventHandle".into(), Value::String(handle.into()));
    for m in type_mappings(Provider::Tencent) {
        for key in m.payload_keys {
            obj.entry(key.to_string()).or_insert(Value::Null);
        }
    }
    Value::Object(obj)
}

#[test]
fn callback_and_pulled_tencent_events_share_ids() {
    let tencent = ctx(Provider::Tencent);
    let mut checked = 0;
    for (provider, case, path) in cases() {
        let body = std::fs::read(&path).expect("read fixture");
        let Ok(value) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        if provider != Provider::Tencent || value.get("EventType").is_none() {
            continue;
        }
        let Ok(events) = normalize(provider, &body, &tencent) else {
            continue;
        };
        let pulled_value = as_pulled(&value, &format!("EventHandle.{case}"));
        let pulled = normalize_pulled(&reversed(&pulled_value), &tencent);
        assert_eq!(
            pulled.handle.as_deref(),
            Some(format!("EventHandle.{case}").as_str())
        );
        let pulled = pulled.result.expect("pulled form normalizes");
        assert_eq!(pulled.id, events[0].id, "{case}: pulled id differs");
        assert_eq!(pulled.ty, events[0].ty, "{case}");
        assert_eq!(pulled.outcome, events[0].outcome, "{case}");
        assert_eq!(pulled.subject, events[0].subject, "{case}");

        let response = json!({"Response": {"EventSet": [pulled_value], "RequestId": "r-1"}});
        let via_response =
            normalize(provider, response.to_string().as_bytes(), &tencent).expect("response");
        assert_eq!(via_response.len(), 1);
        assert_eq!(
            via_response[0].id, events[0].id,
            "{case}: PullEvents response id differs"
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} Tencent fixtures checked");
}

#[test]
fn volcengine_retries_share_ids_and_changes_do_not() {
    let volc = ctx(Provider::Volcengine);
    let mut checked = 0;
    for (provider, case, path) in cases() {
        if provider != Provider::Volcengine {
            continue;
        }
        let body = std::fs::read(&path).expect("read fixture");
        let Ok(events) = normalize(provider, &body, &volc) else {
            continue;
        };
        let mut retry: Value = serde_json::from_slice(&body).expect("json");
        retry["RequestId"] = Value::String(format!("retry-{case}-2"));
        let again =
            normalize(provider, reversed(&retry).as_bytes(), &volc).expect("retry normalizes");
        assert_eq!(again[0].id, events[0].id, "{case}: retry id differs");

        let mut other = retry.clone();
        other["Data"]["CallbackArgs"] = Value::String(format!("another occurrence of {case}"));
        let different =
            normalize(provider, other.to_string().as_bytes(), &volc).expect("normalizes");
        assert_ne!(
            different[0].id, events[0].id,
            "{case}: a different occurrence shares the id"
        );
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} Volcengine fixtures checked");
}

#[test]
fn fixture_ids_are_distinct_and_every_vendor_type_is_covered() {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (provider, case, path) in cases() {
        let body = std::fs::read(&path).expect("read fixture");
        let Ok(events) = normalize(provider, &body, &ctx(provider)) else {
            continue;
        };
        for e in events {
            seen.insert((provider.to_string(), e.providertype.clone()));
            if let Some(previous) = ids.insert(e.id.clone(), case.clone()) {
                // One PullEvents response fixture repeats single-event fixtures on purpose.
                // So does the signed callback (Sign/T are excluded from the id).
                let repeats =
                    |c: &str| c.starts_with("pull_events") || c.starts_with("nasty_signed");
                assert!(
                    repeats(&case) || repeats(&previous),
                    "{case} and {previous} share id {}",
                    e.id
                );
            }
        }
    }
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md"))
            .expect("docs/events.md");
    for provider in [Provider::Tencent, Provider::Volcengine] {
        for m in type_mappings(provider) {
            assert!(
                seen.contains(&(provider.to_string(), m.vendor_type.to_owned())),
                "no {provider} fixture for {}",
                m.vendor_type
            );
            let row = format!("| `{}` | `{}` |", m.vendor_type, m.canonical_type);
            assert!(docs.contains(&row), "docs/events.md lacks the row {row}");
        }
    }
}

/// Every fixture gives the same output along the plain reference path as along the fast path,
/// byte for byte (the differential property test does the same on generated inputs).
#[test]
fn the_reference_path_gives_every_fixture_the_same_output() {
    for (provider, case, path) in cases() {
        let body = std::fs::read(&path).expect("fixture");
        let structured = |r: Result<Vec<CanonicalEvent>, _>| {
            r.map(|events| {
                events
                    .iter()
                    .map(|e| e.to_structured_json())
                    .collect::<Vec<_>>()
            })
            .map_err(|e: vodbridge_normalizer::NormalizeError| (e.reason(), e.to_string()))
        };
        assert_eq!(
            structured(normalize(provider, &body, &ctx(provider))),
            structured(normalize_reference(provider, &body, &ctx(provider))),
            "{case}"
        );
    }
}
