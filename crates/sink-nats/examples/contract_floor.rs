//! The least work that publishes what the NATS sink must publish: the `scripts/bench/nats.sh`
//! reference handler (read the body, publish it to JetStream, await the PubAck) changed only in
//! the message it sends, which is the bridge's message for the same callback — a structured
//! CloudEvent with the body embedded as `data.original` (within 1 % of the bridge's size),
//! `Content-Type: application/cloudevents+json` and a fresh `Nats-Msg-Id`, on
//! `vod.media.uploaded` in a stream bound to `vod.>` and configured like the benchmark's.
//!
//! It does none of the bridge's own work: no JSON parsing, no mapping, no id hashing, no
//! signature check, no metrics. Beside the reference it shows what the issue's message contract
//! costs on a shared machine; beside the bridge, what the bridge's own work costs.
//!
//! ```text
//! FLOOR_LISTEN=127.0.0.1:18081 NATS_URL=127.0.0.1:4222 FLOOR_EVENT=event.json \
//!     cargo run --release -p vodbridge-sink-nats --example contract_floor
//! ```
//!
//! `FLOOR_EVENT` is one structured event as `vodbridge normalize` prints it for the benchmark's
//! fixture; everything before its `"original":` member is the envelope the handler puts around
//! each request body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use vodbridge_sink_nats::binding::{MSG_ID_HEADER, STRUCTURED_CONTENT_TYPE};

const MSG_ID: HeaderName = HeaderName::from_static(MSG_ID_HEADER);
const CONTENT_TYPE: HeaderName = HeaderName::from_static("Content-Type");

struct Floor {
    js: jetstream::Context,
    /// The event's JSON up to and including `"original":`.
    prefix: Vec<u8>,
    /// Makes every message id unique within one process.
    next_id: AtomicU64,
    /// Makes message ids unique across processes sharing one server (the start time).
    run: u64,
}

async fn handle(State(floor): State<Arc<Floor>>, body: Bytes) -> StatusCode {
    let mut payload = Vec::with_capacity(floor.prefix.len() + body.len() + 2);
    payload.extend_from_slice(&floor.prefix);
    payload.extend_from_slice(&body);
    payload.extend_from_slice(b"}}");
    let n = floor.next_id.fetch_add(1, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    // 32 hex digits, the length of the bridge's event ids.
    headers.insert(
        MSG_ID,
        HeaderValue::from(format!("{:016x}{n:016x}", floor.run)),
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from(STRUCTURED_CONTENT_TYPE));
    match floor
        .js
        .publish_with_headers("vod.media.uploaded", headers, payload.into())
        .await
    {
        Ok(ack) => match ack.await {
            Ok(_) => StatusCode::OK,
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        },
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() {
    let listen = std::env::var("FLOOR_LISTEN").unwrap_or_else(|_| "127.0.0.1:18081".into());
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "127.0.0.1:4222".into());
    let event_path = std::env::var("FLOOR_EVENT").expect("FLOOR_EVENT: a normalized event file");
    let event = std::fs::read(&event_path).expect("read FLOOR_EVENT");
    let marker = b"\"original\":";
    let end = event
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the event has data.original")
        + marker.len();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64;

    let client = async_nats::connect(url).await.expect("connect to NATS");
    let js = jetstream::new(client);
    // The benchmark's stream for the bridge; created here too when the floor runs first.
    js.get_or_create_stream(stream::Config {
        name: "VOD".into(),
        subjects: vec!["vod.>".into(), "deadletter.>".into()],
        max_age: std::time::Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .expect("create stream VOD");
    let floor = Arc::new(Floor {
        js,
        prefix: event[..end].to_vec(),
        next_id: AtomicU64::new(0),
        run,
    });
    let app = Router::new().route("/", post(handle)).with_state(floor);
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
