//! W3C trace context through the callback receiver: a valid `traceparent` is continued, a
//! missing one starts a trace, an invalid one is ignored and counted (never a 4xx), and the
//! trace never changes an event's id.

mod http_support;

use http_support::*;
use vodbridge_core::{CanonicalEvent, Provider};
use vodbridge_ingress::http::{CallbackSource, HttpSettings};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn setup() -> (Harness, std::sync::Arc<RecordingSink>) {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![CallbackSource::new("tc", Provider::Tencent)],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    (h, sink)
}

/// The fields of a version-00 `traceparent`: trace id, parent id, flags.
fn fields(traceparent: &str) -> (String, String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00", "{traceparent}");
    let hex = |s: &str, len: usize| {
        assert_eq!(s.len(), len, "{traceparent}");
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(
            s.bytes().any(|b| b != b'0'),
            "all-zero field in {traceparent}"
        );
        s.to_owned()
    };
    (hex(parts[1], 32), hex(parts[2], 16), hex(parts[3], 2))
}

fn last_event(sink: &RecordingSink) -> CanonicalEvent {
    sink.events().pop().expect("an event")
}

fn invalid_count(h: &Harness) -> f64 {
    counter(
        &h.registry,
        "vodbridge_traceparent_invalid_total",
        &[("source", "tc")],
    )
}

#[tokio::test]
async fn a_valid_traceparent_is_continued_and_the_id_stays() {
    let (h, sink) = setup();
    let headers = [
        ("traceparent", TRACEPARENT),
        ("tracestate", "rojo=00f067aa0ba902b7"),
        ("tracestate", "congo=t61rcWkgMzE"),
    ];
    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/tc", &headers, TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    let traced = last_event(&sink);
    let traceparent = traced.traceparent.clone().expect("traceparent");
    let (trace_id, parent_id, flags) = fields(&traceparent);
    assert_eq!(trace_id, TRACE_ID);
    assert_ne!(parent_id, "00f067aa0ba902b7", "vodbridge's own step");
    assert_eq!(flags, "01");
    assert_eq!(
        traced.tracestate.as_deref(),
        Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        "both field lines, combined in order"
    );

    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    let untraced = last_event(&sink);
    assert_eq!(untraced.id, traced.id, "the trace is not part of the id");
    assert_ne!(untraced.traceparent, traced.traceparent);
    assert_eq!(invalid_count(&h), 0.0);
}

#[tokio::test]
async fn a_callback_without_one_starts_a_new_trace() {
    let (h, sink) = setup();
    let mut trace_ids = Vec::new();
    for _ in 0..2 {
        let (status, _, _) = send(
            &h.router,
            request(
                "/v1/callbacks/tc",
                &[("tracestate", "rojo=1")],
                TENCENT_UPLOAD.as_bytes(),
            ),
        )
        .await;
        assert_eq!(status, 200);
        let event = last_event(&sink);
        let (trace_id, _, flags) = fields(event.traceparent.as_deref().expect("traceparent"));
        assert_eq!(flags, "01", "sampled, so parent-based samplers keep it");
        assert_eq!(
            event.tracestate, None,
            "tracestate without traceparent is dropped"
        );
        trace_ids.push(trace_id);
    }
    assert_ne!(trace_ids[0], trace_ids[1]);
    assert_eq!(invalid_count(&h), 0.0);
}

#[tokio::test]
async fn an_invalid_traceparent_is_ignored_and_counted() {
    let (h, sink) = setup();
    assert_eq!(
        h.registry
            .gather()
            .iter()
            .filter(|f| f.name() == "vodbridge_traceparent_invalid_total")
            .map(|f| f.get_metric().len())
            .sum::<usize>(),
        1,
        "initialized for each source before any callback"
    );
    for bad in [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "not a traceparent",
    ] {
        let headers = [("traceparent", bad), ("tracestate", "rojo=1")];
        let (status, _, _) = send(
            &h.router,
            request("/v1/callbacks/tc", &headers, TENCENT_UPLOAD.as_bytes()),
        )
        .await;
        assert_eq!(status, 200, "{bad}");
        let event = last_event(&sink);
        let (trace_id, _, _) = fields(event.traceparent.as_deref().expect("traceparent"));
        assert_ne!(trace_id, TRACE_ID, "{bad}: a new trace, not the sender's");
        assert_eq!(event.tracestate, None, "{bad}");
    }
    assert_eq!(invalid_count(&h), 3.0);
}

#[tokio::test]
async fn a_dead_letter_carries_the_callbacks_trace() {
    let (h, sink) = setup();
    let (status, _, _) = send(
        &h.router,
        request(
            "/v1/callbacks/tc",
            &[("traceparent", TRACEPARENT)],
            b"{\"EventType\": broken",
        ),
    )
    .await;
    assert_eq!(status, 400);
    let letters = sink.dead_letters();
    assert_eq!(letters.len(), 1);
    let (trace_id, _, _) = fields(letters[0].1.traceparent.as_deref().expect("traceparent"));
    assert_eq!(trace_id, TRACE_ID);
}
