//! API-level unit tests (the fixture and property tests live in `tests/`).

use chrono::TimeZone;

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
    assert_eq!(
        pull_events_elements(b"[]")
            .expect_err("no response")
            .reason(),
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
