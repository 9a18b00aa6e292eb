//! Properties of the normalizer on arbitrary input: it never panics (arbitrary bytes, arbitrary
//! JSON, and arbitrary JSON inside known Tencent/Volcengine envelopes so the typed paths run),
//! ids are deterministic, ids do not depend on key order or on `null` members, and the fast path
//! and the plain reference path give byte-identical output.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};
use vodbridge_core::Provider;
use vodbridge_normalizer::{
    normalize, normalize_pulled, normalize_pulled_reference, normalize_reference,
    pull_events_elements, type_mappings, PulledEvent, SourceContext,
};

fn ctx() -> SourceContext<'static> {
    SourceContext {
        source_name: "prop",
        source_uri: "/vodbridge/prop",
        received_at: Utc
            .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    }
}

/// Keys vendors use, so generated objects hit the fields the mappers read.
const KEYS: &[&str] = &[
    "FileId",
    "TaskId",
    "Status",
    "ErrCode",
    "ErrCodeExt",
    "Message",
    "Input",
    "Output",
    "MetaData",
    "Size",
    "Duration",
    "MediaBasicInfo",
    "SourceInfo",
    "SessionContext",
    "FileInfoSet",
    "FileIdSet",
    "SubTaskSet",
    "MediaProcessResultSet",
    "TranscodeTask",
    "Vid",
    "Mid",
    "Code",
    "RunId",
    "SpaceName",
    "CallbackArgs",
    "Extra",
    "Control",
    "Meta",
    "EventTime",
    "x",
    "",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        "[0-9]{1,20}".prop_map(Value::String),
        Just(Value::String(
            "2022-10-25 11:12:13.502796743 +0800 CST m=+50034.619039680".into()
        )),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(KEYS).prop_map(str::to_owned),
                    inner.clone()
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            prop::collection::vec(("[a-zA-Z]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A Tencent event of a known (or unknown) type with an arbitrary payload.
fn arb_tencent_event() -> impl Strategy<Value = Value> {
    let types: Vec<(&'static str, &'static str)> = type_mappings(Provider::Tencent)
        .iter()
        .map(|m| (m.vendor_type, m.payload_keys[0]))
        .chain([("SomethingNew", "SomethingNewEvent")])
        .collect();
    (prop::sample::select(types), arb_json(), arb_json()).prop_map(|((ty, key), payload, extra)| {
        let mut obj = Map::new();
        obj.insert("EventType".into(), Value::String(ty.into()));
        obj.insert(key.into(), payload);
        obj.insert("Extra".into(), extra);
        Value::Object(obj)
    })
}

/// A Volcengine callback of a known (or unknown) type with arbitrary data.
fn arb_volc_event() -> impl Strategy<Value = Value> {
    let types: Vec<&'static str> = type_mappings(Provider::Volcengine)
        .iter()
        .map(|m| m.vendor_type)
        .chain(["SomethingNew"])
        .collect();
    (
        prop::sample::select(types),
        arb_json(),
        arb_json(),
        any::<Option<i64>>(),
    )
        .prop_map(|(ty, data, time, code)| {
            let mut obj = Map::new();
            obj.insert("RequestId".into(), Value::String("r".into()));
            obj.insert("EventType".into(), Value::String(ty.into()));
            obj.insert("EventTime".into(), time);
            obj.insert("Data".into(), data);
            if let Some(code) = code {
                obj.insert("ErrorCode".into(), Value::from(code));
            }
            Value::Object(obj)
        })
}

/// The same JSON with object keys reversed, `null` members added and whitespace changed.
fn shuffled_with_nulls(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut members: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{} : {}", Value::String(k.clone()), shuffled_with_nulls(v)))
                .collect();
            members.push("\"zz_added_null\": null".into());
            format!("{{ {} }}", members.join(",\n"))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(shuffled_with_nulls)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// JSON whitespace drawn from `seed` (a linear congruential generator's state).
fn ws(seed: &mut u64) -> &'static str {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ["", "", " ", "\n", "\t ", "\r\n  "][(*seed >> 33) as usize % 6]
}

/// `v` as JSON text with whitespace drawn from `seed` around every token, and some strings
/// (keys too) spelled with `\u` escapes.
fn spaced(v: &Value, seed: &mut u64) -> String {
    fn string(s: &str, seed: &mut u64) -> String {
        let text = Value::String(s.to_owned()).to_string();
        // Now and then (one string in 36), so that most elements' first keys have none.
        if ws(seed) != "\t " || ws(seed) != "\t " {
            text
        } else {
            text.replace('e', "\\u0065")
        }
    }
    match v {
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    let (a, b, c) = (ws(seed), ws(seed), ws(seed));
                    format!("{a}{}{b}:{c}{}", string(k, seed), spaced(v, seed))
                })
                .collect();
            format!("{{{}{}}}", members.join(","), ws(seed))
        }
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| format!("{}{}", ws(seed), spaced(i, seed)))
                .collect();
            format!("[{}{}]", items.join(","), ws(seed))
        }
        Value::String(s) => string(s, seed),
        other => other.to_string(),
    }
}

/// What `normalize` gives: every event's structured JSON, or the error's reason and text.
type Outcome = Result<Vec<Vec<u8>>, (&'static str, String)>;

fn outcome(
    result: Result<Vec<vodbridge_core::CanonicalEvent>, vodbridge_normalizer::NormalizeError>,
) -> Outcome {
    result
        .map(|events| events.iter().map(|e| e.to_structured_json()).collect())
        .map_err(|e| (e.reason(), e.to_string()))
}

fn pulled_outcome(pulled: PulledEvent) -> (Option<String>, Outcome) {
    (pulled.handle, outcome(pulled.result.map(|e| vec![e])))
}

/// Inputs for the differential test: arbitrary bytes, arbitrary JSON, Tencent events (v3 and
/// legacy v2) and Volcengine callbacks spelled with varied whitespace, escapes, key order and
/// `null` members, and `PullEvents` responses of such events.
fn arb_input() -> impl Strategy<Value = Vec<u8>> {
    let legacy = (arb_tencent_event(), arb_json()).prop_map(|(v, data)| {
        let ty = v["EventType"].clone();
        serde_json::json!({"version": "4.0", "eventType": ty, "data": data})
    });
    let event = prop_oneof![
        4 => arb_tencent_event(),
        2 => arb_volc_event(),
        1 => legacy,
        1 => arb_json(),
    ];
    let spelled = (event, any::<u64>(), any::<bool>()).prop_map(|(v, seed, reorder)| {
        let mut seed = seed;
        if reorder {
            shuffled_with_nulls(&v)
        } else {
            spaced(&v, &mut seed)
        }
    });
    let response =
        (prop::collection::vec(spelled.clone(), 0..4), any::<u64>()).prop_map(|(events, seed)| {
            let mut seed = seed;
            let set: Vec<String> = events
                .iter()
                .map(|e| format!("{}{e}{}", ws(&mut seed), ws(&mut seed)))
                .collect();
            format!(
                "{{\"Response\":{{\"EventSet\":[{}],\"RequestId\":\"r\"}}{}}}",
                set.join(","),
                ws(&mut seed)
            )
        });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..64),
        6 => spelled.prop_map(String::into_bytes),
        3 => response.prop_map(String::into_bytes),
    ]
}

fn ids(provider: Provider, body: &[u8]) -> Option<Vec<String>> {
    normalize(provider, body, &ctx())
        .ok()
        .map(|events| events.into_iter().map(|e| e.id).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = normalize(Provider::Tencent, &bytes, &ctx());
        let _ = normalize(Provider::Volcengine, &bytes, &ctx());
        let _ = normalize(Provider::Vodbridge, &bytes, &ctx());
        let _ = normalize_pulled(&String::from_utf8_lossy(&bytes), &ctx());
    }

    #[test]
    fn arbitrary_json_never_panics_and_ids_are_deterministic(v in arb_json()) {
        let body = v.to_string();
        for provider in [Provider::Tencent, Provider::Volcengine] {
            prop_assert_eq!(ids(provider, body.as_bytes()), ids(provider, body.as_bytes()));
        }
        let _ = normalize_pulled(&body, &ctx());
    }

    #[test]
    fn tencent_events_ids_ignore_key_order_and_nulls(v in arb_tencent_event()) {
        let body = v.to_string();
        let first = normalize(Provider::Tencent, body.as_bytes(), &ctx());
        let again = ids(Provider::Tencent, body.as_bytes());
        prop_assert_eq!(first.as_ref().ok().map(|e| e.iter().map(|e| e.id.clone()).collect::<Vec<_>>()), again);
        if let Ok(events) = first {
            let pulled = normalize_pulled(&shuffled_with_nulls(&v), &ctx());
            let pulled = pulled.result.expect("reordered event normalizes too");
            prop_assert_eq!(&pulled.id, &events[0].id);
            prop_assert_eq!(&pulled.ty, &events[0].ty);
            // The original is embedded byte for byte.
            let embedded = format!("\"original\":{}", body);
            prop_assert!(events[0].data_json().contains(&embedded));
        }
    }

    #[test]
    fn a_pull_response_normalizes_like_its_elements_one_by_one(
        events in prop::collection::vec(prop_oneof![7 => arb_tencent_event(), 1 => arb_json()], 0..5),
        seed in any::<u64>(),
    ) {
        let mut seed = seed;
        let set: Vec<String> = events
            .iter()
            .map(|e| format!("{}{}", ws(&mut seed), spaced(e, &mut seed)))
            .collect();
        let body = format!(
            "{{\"Response\" :{{\"EventSet\":[{}\n],\"RequestId\":\"r\"}}}}",
            set.join(",")
        );
        let whole: Outcome = normalize(Provider::Tencent, body.as_bytes(), &ctx())
            .map(|events| events.iter().map(|e| e.to_structured_json()).collect())
            .map_err(|e| (e.reason(), e.to_string()));
        let elements = pull_events_elements(body.as_bytes()).expect("a well-formed response");
        prop_assert_eq!(elements.len(), events.len());
        let one_by_one: Outcome = elements
            .iter()
            .map(|element| normalize_pulled(element.get(), &ctx()).result)
            .map(|r| r.map(|e| e.to_structured_json()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (e.reason(), e.to_string()));
        prop_assert_eq!(&whole, &one_by_one);
        if let Ok(structured) = whole {
            for (event, element) in structured.iter().zip(&elements) {
                // Each element's original is embedded byte for byte.
                let embedded = format!("\"original\":{}", element.get());
                prop_assert!(String::from_utf8_lossy(event).contains(&embedded));
            }
        }
    }

    #[test]
    fn the_fast_path_and_the_reference_path_agree(input in arb_input()) {
        for provider in [Provider::Tencent, Provider::Volcengine, Provider::Vodbridge] {
            prop_assert_eq!(
                outcome(normalize(provider, &input, &ctx())),
                outcome(normalize_reference(provider, &input, &ctx())),
                "{:?}", provider
            );
        }
        if let Ok(text) = std::str::from_utf8(&input) {
            prop_assert_eq!(
                pulled_outcome(normalize_pulled(text, &ctx())),
                pulled_outcome(normalize_pulled_reference(text, &ctx()))
            );
        }
    }

    #[test]
    fn volcengine_ids_ignore_key_order_nulls_and_request_id(v in arb_volc_event()) {
        let body = v.to_string();
        let first = ids(Provider::Volcengine, body.as_bytes());
        prop_assert_eq!(&first, &ids(Provider::Volcengine, body.as_bytes()));
        if first.is_some() {
            let mut retry = v.clone();
            retry["RequestId"] = Value::String("another".into());
            prop_assert_eq!(&first, &ids(Provider::Volcengine, shuffled_with_nulls(&retry).as_bytes()));
        }
    }
}
