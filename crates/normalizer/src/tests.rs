//! API-level unit tests (the fixture and property tests live in `tests/`).

use chrono::{TimeZone, Utc};

use super::*;

fn ctx() -> SourceContext<'static> {
    SourceContext {
        source_name: "t",
        source_uri: "/vodbridge/t",
        received_at: Utc
            .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    }
}

#[test]
fn pulled_element_keeps_its_handle_even_when_it_cannot_be_normalized() {
    let bad = normalize_pulled(r#"{"EventHandle":"h-1","EventType":42}"#, &ctx());
    assert_eq!(bad.handle.as_deref(), Some("h-1"));
    assert_eq!(
        bad.result.expect_err("bad type").reason(),
        "wrong_field_type"
    );

    let not_json = normalize_pulled("{", &ctx());
    assert!(not_json.handle.is_none());
    assert_eq!(not_json.result.expect_err("not json").reason(), "not_json");

    let good = normalize_pulled(
        r#"{"EventHandle":"h-2","EventType":"FileDeleted","FileDeleteEvent":{"FileIdSet":["1"]}}"#,
        &ctx(),
    );
    assert_eq!(good.handle.as_deref(), Some("h-2"));
    let event = good.result.expect("normalizes");
    assert_eq!(event.ty, "vod.media.deleted");
    assert_eq!(event.subject.as_deref(), Some("1"));
}

#[test]
fn pull_events_elements_splits_responses_and_reports_api_errors() {
    let body = br#"{"Response":{"EventSet":[{"EventHandle":"a","EventType":"X"},{"EventHandle":"b"}],"RequestId":"r"}}"#;
    let elements = pull_events_elements(body).expect("elements");
    assert_eq!(elements.len(), 2);
    assert_eq!(elements[1].get(), r#"{"EventHandle":"b"}"#);

    assert!(
        pull_events_elements(br#"{"Response":{"EventSet":null,"RequestId":"r"}}"#)
            .expect("empty")
            .is_empty()
    );
    assert!(pull_events_elements(br#"{"Response":{"RequestId":"r"}}"#)
        .expect("empty")
        .is_empty());
    let err = pull_events_elements(
        br#"{"Response":{"Error":{"Code":"ResourceNotFound","Message":"no event"}}}"#,
    )
    .expect_err("api error");
    assert!(matches!(&err, NormalizeError::ApiError { code, .. } if code == "ResourceNotFound"));
    assert_eq!(err.reason(), "api_error");
    let err = pull_events_elements(br#"{"Response":{"EventSet":{}}}"#).expect_err("not an array");
    assert_eq!(err.reason(), "wrong_field_type");
    // The first non-null member wins, and an error wins over events wherever it appears.
    let body = br#"{"Response":{"Error":null,"EventSet":null,"EventSet":[{"EventType":"X"}],"EventSet":[]}}"#;
    assert_eq!(pull_events_elements(body).expect("elements").len(), 1);
    let body = br#"{"Response":{"EventSet":[{"EventType":"X"}],"Error":{"Code":"InternalError"}}}"#;
    let err = pull_events_elements(body).expect_err("api error");
    assert!(matches!(&err, NormalizeError::ApiError { code, .. } if code == "InternalError"));
    let err = pull_events_elements(br#"{"Response":[1]}"#).expect_err("not an object");
    assert!(matches!(err, NormalizeError::NotObject));
    // An array is not read positionally as if it were `{"Response":…}`.
    for body in [&b"[]"[..], b" [{\"EventSet\":[]}]", b"[{}]"] {
        let err = pull_events_elements(body).expect_err("not an object");
        assert_eq!(err.reason(), "not_object");
    }
    assert_eq!(
        pull_events_elements(b"[").expect_err("broken").reason(),
        "not_json"
    );
}

#[test]
fn every_error_reason_is_listed() {
    let errors = [
        normalize(Provider::Tencent, b"nope", &ctx()).expect_err("not json"),
        normalize(Provider::Tencent, b"[1]", &ctx()).expect_err("not object"),
        normalize(Provider::Volcengine, b"{}", &ctx()).expect_err("no type"),
        normalize(
            Provider::Volcengine,
            br#"{"EventType":"X","Data":[]}"#,
            &ctx(),
        )
        .expect_err("data"),
        normalize(Provider::Vodbridge, b"{}", &ctx()).expect_err("provider"),
    ];
    for e in &errors {
        assert!(
            NormalizeError::REASONS.contains(&e.reason()),
            "{}",
            e.reason()
        );
        assert!(
            e.to_string()
                .chars()
                .next()
                .is_some_and(|c| c.is_lowercase()),
            "{e}"
        );
    }
    assert_eq!(
        normalize(Provider::Tencent, b"{\"EventType\":\"  \"}", &ctx())
            .expect_err("blank")
            .reason(),
        "missing_event_type"
    );
}

#[test]
fn unmapped_types_are_forwarded_with_the_payload() {
    let body =
        br#"{"EventType":"BrandNewThing","BrandNewThingEvent":{"TaskId":"t-9","FileId":"f-9"}}"#;
    let events = normalize(Provider::Tencent, body, &ctx()).expect("normalizes");
    assert_eq!(events[0].ty, UNMAPPED_TYPE);
    assert_eq!(events[0].providertype, "BrandNewThing");
    assert_eq!(events[0].subject.as_deref(), Some("f-9"));
    assert!(events[0].data_json().ends_with(&format!(
        "\"original\":{}}}",
        std::str::from_utf8(body).expect("utf-8")
    )));
    assert!(!is_known_vendor_type(Provider::Tencent, "BrandNewThing"));
}

#[test]
fn dead_letter_ids_are_stable_hex() {
    let id = dead_letter_id("volc", b"\xff{");
    assert_eq!(id, dead_letter_id("volc", b"\xff{"));
    assert_eq!(id.len(), ID_HEX_LEN);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn payload_is_read_the_same_before_or_after_the_event_type() {
    let after = r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"7","MediaBasicInfo":{"Name":"a"}}}"#;
    let before = r#"{"FileUploadEvent":{"MediaBasicInfo":{"Name":"a"},"FileId":"7"},"EventType":"NewFileUpload"}"#;
    let a = normalize(Provider::Tencent, after.as_bytes(), &ctx()).expect("after");
    let b = normalize(Provider::Tencent, before.as_bytes(), &ctx()).expect("before");
    assert_eq!(a[0].id, b[0].id);
    assert_eq!(a[0].subject.as_deref(), Some("7"));
    let data = |e: &CanonicalEvent| {
        let mut v: serde_json::Value = serde_json::from_str(e.data.get()).expect("data");
        v["original"].take();
        v
    };
    assert_eq!(data(&a[0]), data(&b[0]));

    // A payload that its typed view rejects (a duplicate field) fails the event, not the split:
    // the handle is still there to confirm.
    let dup = normalize_pulled(
        r#"{"EventHandle":"h-3","EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1","FileId":"2"}}"#,
        &ctx(),
    );
    assert_eq!(dup.handle.as_deref(), Some("h-3"));
    assert_eq!(dup.result.expect_err("duplicate").reason(), "not_json");

    // A null first payload member is absent; a payload that is not an object is an error.
    let null_first =
        r#"{"EventType":"NewFileUpload","FileUploadEvent":null,"FileUploadEvent":{"FileId":"8"}}"#;
    let e = normalize(Provider::Tencent, null_first.as_bytes(), &ctx()).expect("second member");
    assert_eq!(e[0].subject.as_deref(), Some("8"));
    let scalar = r#"{"EventType":"NewFileUpload","FileUploadEvent":"x"}"#;
    let err = normalize(Provider::Tencent, scalar.as_bytes(), &ctx()).expect_err("not an object");
    assert_eq!(err.reason(), "wrong_field_type");
}

#[test]
fn response_members_of_a_body_follow_the_first_non_null_rule() {
    let tencent = |body: &str| normalize(Provider::Tencent, body.as_bytes(), &ctx());
    let ignored =
        r#"{"Response":null,"EventType":"FileDeleted","FileDeleteEvent":{"FileIdSet":["1"]}}"#;
    assert_eq!(tencent(ignored).expect("event")[0].ty, "vod.media.deleted");
    let second = r#"{"Response":null,"Response":{"EventSet":[{"EventType":"FileDeleted","FileDeleteEvent":{"FileIdSet":["2"]}}]}}"#;
    assert_eq!(
        tencent(second).expect("events")[0].subject.as_deref(),
        Some("2")
    );
    let not_object = tencent(r#"{"Response":[1]}"#).expect_err("not an object");
    assert!(matches!(not_object, NormalizeError::NotObject));
}

/// `depth` nested arrays around a string, e.g. `[["x"]]` for 2.
fn nested(depth: usize) -> String {
    format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn nesting_past_the_recursion_limit_is_too_deep_wherever_it_is() {
    let bodies = |depth: usize| {
        let deep = nested(depth);
        [
            (
                Provider::Tencent,
                format!(
                    r#"{{"EventType":"NewFileUpload","FileUploadEvent":{{"FileId":"1","X":{deep}}}}}"#
                ),
            ),
            (
                Provider::Tencent,
                format!(r#"{{"EventType":"SomethingNew","Extra":{deep}}}"#),
            ),
            (
                Provider::Volcengine,
                format!(r#"{{"EventType":"FileUploadComplete","Data":{{"Vid":"v1","X":{deep}}}}}"#),
            ),
            (
                Provider::Volcengine,
                format!(
                    r#"{{"EventType":"FileUploadComplete","Extra":{deep},"Data":{{"Vid":"v1"}}}}"#
                ),
            ),
        ]
    };
    // Real payloads nest a handful of levels: 90 more is still accepted and forwarded.
    for (provider, body) in bodies(90) {
        let events = normalize(provider, body.as_bytes(), &ctx())
            .unwrap_or_else(|e| panic!("{provider:?} {e}: {body:.80}"));
        assert_eq!(events.len(), 1);
    }
    for (provider, body) in bodies(5000) {
        let err = normalize(provider, body.as_bytes(), &ctx()).expect_err("too deep");
        assert!(
            matches!(err, NormalizeError::TooDeep),
            "{provider:?}: {err}"
        );
        assert_eq!(err.reason(), "too_deep");
    }
    // A syntax error short of the recursion limit is one, however deep (and brackets in
    // strings do not count).
    for provider in [Provider::Tencent, Provider::Volcengine] {
        let deep = format!("{}tru{}", "[".repeat(120), "]".repeat(120));
        let body = format!(r#"{{"EventType":"X","Q":"[[[[{{{{","A":{deep}}}"#);
        let err = normalize(provider, body.as_bytes(), &ctx()).expect_err("syntax");
        assert_eq!(err.reason(), "not_json", "{provider:?}");
        let body = format!("{{\"EventType\":\"X\",\n\"A\":{}}}", nested(200));
        let err = normalize(provider, body.as_bytes(), &ctx()).expect_err("too deep");
        assert_eq!(err.reason(), "too_deep", "{provider:?}");
    }
    let pulled = normalize_pulled(
        &format!(
            r#"{{"EventHandle":"h","EventType":"NewFileUpload","X":{}}}"#,
            nested(5000)
        ),
        &ctx(),
    );
    assert_eq!(pulled.result.expect_err("too deep").reason(), "too_deep");
}

#[test]
fn an_event_may_nest_100_levels_so_the_canonical_event_stays_readable() {
    for provider in [Provider::Tencent, Provider::Volcengine] {
        // The event object is level 1, so `nested(k)` in a member makes the event 1 + k deep.
        let body = |k: usize| {
            format!(
                r#"{{"EventType":"NewFileUpload","Data":{{"Vid":"v"}},"A":{}}}"#,
                nested(k)
            )
        };
        let events = normalize(provider, body(99).as_bytes(), &ctx()).expect("100 levels");
        // Everything downstream reads it: the structured event parses with serde_json's limit.
        let json = events[0].to_structured_json();
        serde_json::from_slice::<serde_json::Value>(&json).expect("readable event");
        let err = normalize(provider, body(100).as_bytes(), &ctx()).expect_err("101 levels");
        assert_eq!(err.reason(), "too_deep", "{provider:?}: {err}");
        // Past serde_json's own limit the reason is the same.
        let err = normalize(provider, body(127).as_bytes(), &ctx()).expect_err("too deep");
        assert_eq!(err.reason(), "too_deep", "{provider:?}: {err}");
    }
}

/// A body that was deep somewhere, but fails for another reason, is `not_json`: JSON that
/// serde_json skips or keeps raw has no depth limit, so depth alone does not explain an error.
#[test]
fn a_syntax_error_after_a_deep_member_is_not_json() {
    let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
    for provider in [Provider::Tencent, Provider::Volcengine] {
        let trailing = format!(r#"{{"EventType":"X","A":{deep}}}x"#);
        let no_comma = format!(r#"{{"EventType":"X","A":{deep} "B":1}}"#);
        let mut bad_utf8 = format!(r#"{{"EventType":"X","A":{deep},"B":""#).into_bytes();
        bad_utf8.extend_from_slice(b"\xff\"}");
        for body in [trailing.as_bytes(), no_comma.as_bytes(), &bad_utf8] {
            let err = normalize(provider, body, &ctx()).expect_err("not JSON");
            assert_eq!(err.reason(), "not_json", "{provider:?}: {err}");
        }
    }
    let pulled = normalize_pulled(
        &format!(
            r#"{{"EventHandle":"h","EventType":"NewFileUpload","FileUploadEvent":{{"X":{deep},"FileId":1e400}}}}"#
        ),
        &ctx(),
    );
    // `1e400` is out of range where a scalar is read.
    let reason = pulled.result.err().map(|e| e.reason());
    assert_eq!(reason, Some("not_json"));
}

#[test]
fn invalid_utf8_is_not_json_and_never_panics() {
    for provider in [Provider::Tencent, Provider::Volcengine] {
        let mut body = br#"{"EventType":"NewFileUpload","X":"#.to_vec();
        body.extend_from_slice(b"\"\xff\xfe\"}");
        let err = normalize(provider, &body, &ctx()).expect_err("invalid utf-8");
        assert_eq!(err.reason(), "not_json", "{provider:?}");
    }
}

/// Regression seeds found by fuzzing (fuzz/seeds/): each once broke a documented invariant.
#[test]
fn fuzz_findings_stay_fixed() {
    // An empty Volcengine `Status` reports nothing: no failure with an empty error code.
    let body = br#"{"EventType":"WorkflowComplete","Data":{"Status":"","Vid":"v1"}}"#;
    let events = normalize(Provider::Volcengine, body, &ctx()).expect("normalizes");
    let data: serde_json::Value = serde_json::from_str(events[0].data.get()).expect("data");
    assert!(data.get("error").is_none(), "{data}");
    let body = br#"{"EventType":"WorkflowComplete","Data":{"Status":"","Code":"E1","Vid":"v1"}}"#;
    let events = normalize(Provider::Volcengine, body, &ctx()).expect("normalizes");
    let data: serde_json::Value = serde_json::from_str(events[0].data.get()).expect("data");
    assert_eq!(data["error"]["code"], "E1");

    // An epoch time past year 9999 is unusable: the receive time stands in, and `time` stays
    // RFC 3339.
    let body =
        br#"{"EventType":"FileUploadComplete","EventTime":340000000000000,"Data":{"Vid":"v1"}}"#;
    let events = normalize(Provider::Volcengine, body, &ctx()).expect("normalizes");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&events[0].time).is_ok(),
        "{}",
        events[0].time
    );
    assert_eq!(events[0].time, "2024-06-01T12:00:00Z");

    // A lone surrogate in a member the id skips is refused like one anywhere else.
    for (provider, body) in [
        (Provider::Volcengine, &br#"{"RequestId":"\ud800","EventType":"FileUploadComplete","Data":{"Vid":"v1"}}"#[..]),
        (Provider::Tencent, br#"{"EventHandle":"\udc00x","EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1"}}"#),
    ] {
        let err = normalize(provider, body, &ctx()).expect_err("lone surrogate");
        assert_eq!(err.reason(), "not_json", "{provider:?}");
    }
    let pulled = normalize_pulled(
        r#"{"EventHandle":"\ud800","EventType":"NewFileUpload"}"#,
        &ctx(),
    );
    assert_eq!(
        pulled.result.expect_err("lone surrogate").reason(),
        "not_json"
    );
}

#[test]
fn a_body_is_embedded_verbatim_without_a_second_scan() {
    // The serde_json behaviour `Original::Text` relies on still holds: its text is written as
    // it is.
    let text = r#"{"a" : [1, "\u00e9"]}"#;
    let original = crate::record::Original::of_body(text);
    assert_eq!(serde_json::to_string(&original).expect("serializes"), text);
    for (provider, body) in [
        (
            Provider::Tencent,
            " \r\n{ \"EventType\" :\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\\u0031\"} }\n\t",
        ),
        (
            Provider::Volcengine,
            "\n{\"EventType\": \"WorkflowComplete\", \"Data\": {\"Vid\": \"v\\/1\"}}  ",
        ),
    ] {
        let events = normalize(provider, body.as_bytes(), &ctx()).expect("normalizes");
        let data = events[0].data_json();
        let original = body.trim_matches([' ', '\t', '\n', '\r']);
        assert!(
            data.ends_with(&format!(r#""original":{original}}}"#)),
            "{provider:?}: {data}"
        );
        let structured: serde_json::Value =
            serde_json::from_slice(&events[0].to_structured_json()).expect("valid JSON");
        assert_eq!(structured["data"]["original"]["EventType"], body_type(provider));
    }
}

fn body_type(provider: Provider) -> &'static str {
    match provider {
        Provider::Tencent => "NewFileUpload",
        _ => "WorkflowComplete",
    }
}
