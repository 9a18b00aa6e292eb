//! The callback receiver through `router.oneshot(...)` (no socket), with a recording sink:
//! one test per status code and per signature rule.

mod http_support;

use std::time::Duration;

use http_support::*;
use vodbridge_core::{Provider, Secret};
use vodbridge_ingress::http::verify::{tencent_signature, volcengine_signature};
use vodbridge_ingress::http::{CallbackSource, HttpSettings, VolcengineAuth};

const VOLC_URL: &str = "https://bridge.example.com/v1/callbacks/volc";

fn tencent() -> CallbackSource {
    CallbackSource::new("tc", Provider::Tencent)
}

fn volc(keys: &[&str]) -> CallbackSource {
    let mut s = CallbackSource::new("volc", Provider::Volcengine);
    s.auth.volcengine = Some(VolcengineAuth {
        callback_url: VOLC_URL.into(),
        keys: keys.iter().map(|k| Secret::new(*k)).collect(),
    });
    s
}

fn volc_headers(key: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    let ts = ts.to_string();
    let sig = volcengine_signature(VOLC_URL, &ts, key, body.as_bytes());
    vec![
        ("X-VOD-TIMESTAMP".into(), ts),
        ("X-VOD-SIGNATURE".into(), sig),
    ]
}

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn tencent_callback_is_answered_200_after_the_sink_acknowledged() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let (status, _, body) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["events"], 1);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].ty, "vod.media.uploaded");
    assert_eq!(events[0].source, "/vodbridge/tc");
    assert_eq!(events[0].source_name, "tc");
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_callbacks_received_total",
            &[("source", "tc")]
        ),
        1.0
    );
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_events_normalized_total",
            &[("type", "vod.media.uploaded")]
        ),
        1.0
    );
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_http_requests_total",
            &[("route", "/v1/callbacks/{source}"), ("status", "200")]
        ),
        1.0
    );
}

#[tokio::test]
async fn every_sink_must_acknowledge() {
    let good = RecordingSink::new("good", Mode::Ack);
    let bad = RecordingSink::new("bad", Mode::Fail);
    let h = harness(
        vec![tencent()],
        &[good.clone(), bad.clone()],
        HttpSettings::default(),
    );
    let (status, headers, body) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_ne!(status, 200, "a failed sink must never be answered 200");
    assert_eq!(status, 503);
    assert_eq!(body["error"], "sink_failed");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_callbacks_rejected_total",
            &[("reason", "sink_failed")]
        ),
        1.0
    );
    // Once the sink recovers the vendor's retry succeeds.
    bad.set_mode(Mode::Ack);
    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(bad.events().len(), 1);
}

#[tokio::test]
async fn a_sink_slower_than_the_ack_timeout_gets_503() {
    let sink = RecordingSink::new("slow", Mode::Hang);
    let h = harness_with_timeout(
        vec![tencent()],
        &[sink],
        HttpSettings::default(),
        Duration::from_millis(100),
    );
    let (status, headers, body) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "ack_timeout");
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn volcengine_octet_stream_with_valid_signature_and_key_rotation() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![volc(&["OldKey1234", "NewKey5678"])],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    for key in ["OldKey1234", "NewKey5678"] {
        let hdrs = volc_headers(key, unix_now(), VOLC_UPLOAD);
        let (status, _, _) = send(
            &h.router,
            request("/v1/callbacks/volc", &refs(&hdrs), VOLC_UPLOAD.as_bytes()),
        )
        .await;
        assert_eq!(status, 200, "key {key}");
    }
    // Upper-case hex is accepted too.
    let mut hdrs = volc_headers("NewKey5678", unix_now(), VOLC_UPLOAD);
    hdrs[1].1 = hdrs[1].1.to_uppercase();
    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/volc", &refs(&hdrs), VOLC_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sink.events().len(), 3);
    assert_eq!(sink.events()[0].provider, Provider::Volcengine);
}

#[tokio::test]
async fn volcengine_signature_failures_are_401_and_not_kept() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![volc(&["NewKey5678"])],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    type Headers = Vec<(String, String)>;
    let cases: Vec<(&str, Headers, &str)> = vec![
        (
            "retired key",
            volc_headers("OldKey1234", unix_now(), VOLC_UPLOAD),
            "bad_signature",
        ),
        (
            "expired",
            volc_headers("NewKey5678", unix_now() - 301, VOLC_UPLOAD),
            "expired",
        ),
        (
            "from the future",
            volc_headers("NewKey5678", unix_now() + 301, VOLC_UPLOAD),
            "expired",
        ),
        (
            "other body",
            volc_headers("NewKey5678", unix_now(), "{}"),
            "bad_signature",
        ),
        ("no headers", vec![], "missing_signature"),
    ];
    for (what, hdrs, reason) in cases {
        let (status, _, body) = send(
            &h.router,
            request("/v1/callbacks/volc", &refs(&hdrs), VOLC_UPLOAD.as_bytes()),
        )
        .await;
        assert_eq!(status, 401, "{what}");
        assert_eq!(body["error"], "unauthorized", "{what}");
        assert!(
            counter(
                &h.registry,
                "vodbridge_callbacks_rejected_total",
                &[("reason", reason)]
            ) >= 1.0,
            "{what}"
        );
    }
    assert!(
        sink.batches.lock().expect("lock").is_empty(),
        "unauthenticated input is neither delivered nor dead-lettered"
    );
}

#[tokio::test]
async fn tencent_sign_and_t_in_body_query_or_headers() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let mut source = tencent();
    source.auth.tencent_sign_key = Some(Secret::new("mysignkey"));
    let h = harness(
        vec![source],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let t = (unix_now() + 600).to_string();
    let sign = tencent_signature("mysignkey", &t);
    let signed_body = TENCENT_UPLOAD.replacen('{', &format!(r#"{{"Sign":"{sign}","T":{t},"#), 1);
    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], signed_body.as_bytes()),
    )
    .await;
    assert_eq!(status, 200, "in the body");
    let uri = format!("/v1/callbacks/tc?Sign={sign}&T={t}");
    let (status, _, _) = send(&h.router, request(&uri, &[], TENCENT_UPLOAD.as_bytes())).await;
    assert_eq!(status, 200, "in the query");
    let (status, _, _) = send(
        &h.router,
        request(
            "/v1/callbacks/tc",
            &[("Sign", &sign), ("T", &t)],
            TENCENT_UPLOAD.as_bytes(),
        ),
    )
    .await;
    assert_eq!(status, 200, "in headers");
    assert_eq!(sink.events().len(), 3);

    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 401, "unsigned");
    let bad = format!(
        "/v1/callbacks/tc?Sign={}&T={t}",
        tencent_signature("otherkey", &t)
    );
    let (status, _, _) = send(&h.router, request(&bad, &[], TENCENT_UPLOAD.as_bytes())).await;
    assert_eq!(status, 401, "wrong key");
    let old_t = (unix_now() - 400).to_string();
    let expired = format!(
        "/v1/callbacks/tc?Sign={}&T={old_t}",
        tencent_signature("mysignkey", &old_t)
    );
    let (status, _, _) = send(&h.router, request(&expired, &[], TENCENT_UPLOAD.as_bytes())).await;
    assert_eq!(status, 401, "expired T");
    assert_eq!(sink.events().len(), 3);
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_callbacks_rejected_total",
            &[("reason", "expired")]
        ),
        1.0
    );
}

#[tokio::test]
async fn shared_token_as_query_or_bearer() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let mut source = tencent();
    source.auth.token = Some(Secret::new("s3cret-token"));
    let h = harness(
        vec![source],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let body = TENCENT_UPLOAD.as_bytes();
    assert_eq!(
        send(
            &h.router,
            request("/v1/callbacks/tc?token=s3cret-token", &[], body)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        send(
            &h.router,
            request(
                "/v1/callbacks/tc",
                &[("Authorization", "Bearer s3cret-token")],
                body
            )
        )
        .await
        .0,
        200
    );
    assert_eq!(
        send(
            &h.router,
            request("/v1/callbacks/tc?token=s3cret-tokem", &[], body)
        )
        .await
        .0,
        401
    );
    assert_eq!(
        send(
            &h.router,
            request(
                "/v1/callbacks/tc",
                &[("Authorization", "Bearer nope")],
                body
            )
        )
        .await
        .0,
        401
    );
    assert_eq!(
        send(&h.router, request("/v1/callbacks/tc", &[], body))
            .await
            .0,
        401
    );
    assert_eq!(sink.events().len(), 2);
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_callbacks_rejected_total",
            &[("reason", "bad_token")]
        ),
        2.0
    );
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_callbacks_rejected_total",
            &[("reason", "missing_token")]
        ),
        1.0
    );
}

#[tokio::test]
async fn unknown_source_and_route_are_404() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let (status, _, body) = send(
        &h.router,
        request("/v1/callbacks/nope", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown_source");
    let (status, _, _) = send(&h.router, request("/elsewhere", &[], b"{}")).await;
    assert_eq!(status, 404);
    assert!(sink.batches.lock().expect("lock").is_empty());
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
}

#[tokio::test]
async fn oversized_body_is_413() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let settings = HttpSettings {
        max_body_bytes: 64,
        ..HttpSettings::default()
    };
    let h = harness(vec![tencent()], std::slice::from_ref(&sink), settings);
    let (status, _, body) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "too_large");
    assert!(sink.batches.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn malformed_body_is_dead_lettered_then_400() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let raw = b"{\"EventType\": broken";
    let (status, _, body) = send(&h.router, request("/v1/callbacks/tc", &[], raw)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "malformed");
    let letters = sink.dead_letters();
    assert_eq!(letters.len(), 1);
    let (destination, event) = &letters[0];
    assert_eq!(destination, "dead/letters");
    assert_eq!(event.ty, "vodbridge.deadletter");
    let data: serde_json::Value = serde_json::from_str(event.data_json()).expect("json");
    assert_eq!(data["body"], "{\"EventType\": broken");
    assert_eq!(data["source"], "tc");
    assert_eq!(data["ingress"], "http");
    assert!(data["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(data["receivedtime"].as_str().is_some());
    assert!(sink.events().is_empty());
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_dead_letters_total",
            &[("source", "tc"), ("reason", "not_json")]
        ),
        1.0
    );
}

#[tokio::test]
async fn malformed_body_whose_dead_letter_fails_is_503() {
    let sink = RecordingSink::new("rec", Mode::Fail);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let (status, headers, body) =
        send(&h.router, request("/v1/callbacks/tc", &[], b"not json")).await;
    assert_eq!(
        status, 503,
        "the body is neither stored nor refused for good"
    );
    assert_eq!(body["error"], "dead_letter_failed");
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn unknown_vendor_type_is_forwarded_as_unmapped_and_counted() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let raw =
        br#"{"EventType":"HologramRenderComplete","HologramRenderCompleteEvent":{"TaskId":"t-1"}}"#;
    let (status, _, _) = send(&h.router, request("/v1/callbacks/tc", &[], raw)).await;
    assert_eq!(status, 200);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].ty, vodbridge_ingress::http::UNMAPPED_TYPE);
    assert_eq!(events[0].providertype, "HologramRenderComplete");
    assert_eq!(
        counter(
            &h.registry,
            "vodbridge_events_unmapped_total",
            &[("source", "tc")]
        ),
        1.0
    );
}

#[tokio::test]
async fn load_is_shed_with_503_instead_of_queued() {
    let sink = RecordingSink::new("rec", Mode::Gated);
    let settings = HttpSettings {
        max_in_flight: 1,
        ..HttpSettings::default()
    };
    let h = harness(vec![tencent()], std::slice::from_ref(&sink), settings);
    let first = tokio::spawn({
        let router = h.router.clone();
        async move {
            send(
                &router,
                request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
            )
            .await
        }
    });
    // Wait until the first request holds the only slot (it is parked in the sink).
    for _ in 0..200 {
        if counter(&h.registry, "vodbridge_callbacks_received_total", &[]) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, headers, body) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "overloaded");
    assert!(headers.contains_key("retry-after"));
    sink.gate.add_permits(1);
    let (status, _, _) = first.await.expect("join");
    assert_eq!(status, 200);
    assert_eq!(sink.events().len(), 1);
}
