//! Bad input at the HTTP receiver: wrong content types, invalid UTF-8, deeply nested JSON and
//! slow clients. Each gets a clear 4xx (or, for headers that never finish, a closed
//! connection), nothing is forwarded, whatever an authenticated sender sent is dead-lettered,
//! and the metrics count it. The slow-client cases run over real sockets through
//! [`vodbridge_ingress::http::serve`], the server loop the binary uses.

mod http_support;

use std::time::Duration;

use http_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use vodbridge_core::Provider;
use vodbridge_ingress::http::{serve, CallbackSource, ConnectionMetrics, HttpSettings};

fn tencent() -> CallbackSource {
    CallbackSource::new("tc", Provider::Tencent)
}

fn with_content_type(content_type: &str, body: &[u8]) -> http::Request<axum::body::Body> {
    let mut req = request("/v1/callbacks/tc", &[], body);
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_str(content_type).expect("header value"),
    );
    req
}

#[tokio::test]
async fn callback_content_types_are_accepted_leniently() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/octet-stream",
        "text/plain",
        "text/json",
        "application/cloudevents+json",
    ] {
        let (status, _, body) =
            send(&h.router, with_content_type(ct, TENCENT_UPLOAD.as_bytes())).await;
        assert_eq!(status, 200, "{ct}: {body}");
    }
    // No Content-Type at all is accepted too (Tencent documents none for normal callbacks).
    let mut req = request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes());
    req.headers_mut().remove(http::header::CONTENT_TYPE);
    let (status, _, _) = send(&h.router, req).await;
    assert_eq!(status, 200);
    assert_eq!(sink.events().len(), 8);
    assert!(sink.dead_letters().is_empty());
}

#[tokio::test]
async fn wrong_content_types_are_415_dead_lettered_and_counted() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let refused = [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/html",
        "application/xml",
        "image/png",
    ];
    for ct in refused {
        // A valid callback body: the content type alone decides.
        let (status, headers, body) =
            send(&h.router, with_content_type(ct, TENCENT_UPLOAD.as_bytes())).await;
        assert_eq!(status, 415, "{ct}");
        assert_eq!(body["error"], "unsupported_media_type", "{ct}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(ct.split(';').next().unwrap_or_default())),
            "{ct}: {body}"
        );
        assert!(
            !headers.contains_key("retry-after"),
            "{ct}: retrying cannot help"
        );
    }
    assert!(sink.events().is_empty(), "nothing is forwarded");
    let letters = sink.dead_letters();
    assert_eq!(letters.len(), refused.len(), "every refused body is kept");
    let data: serde_json::Value = serde_json::from_str(letters[0].1.data_json()).expect("json");
    assert_eq!(data["body"], TENCENT_UPLOAD);
    assert!(data["reason"]
        .as_str()
        .is_some_and(|r| r.contains("content type")));
    let counted = |family| {
        counter(
            &h.registry,
            family,
            &[("source", "tc"), ("reason", "unsupported_media_type")],
        )
    };
    assert_eq!(
        counted("vodbridge_callbacks_rejected_total"),
        refused.len() as f64
    );
    assert_eq!(
        counted("vodbridge_dead_letters_total"),
        refused.len() as f64
    );
}

#[tokio::test]
async fn invalid_utf8_and_deep_nesting_are_400_dead_lettered_and_counted() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![tencent()],
        std::slice::from_ref(&sink),
        HttpSettings::default(),
    );
    let mut not_utf8 = br#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":""#.to_vec();
    not_utf8.extend_from_slice(b"\xc3\x28\"}}");
    let depth = 10_000;
    let deep = format!(
        r#"{{"EventType":"NewFileUpload","FileUploadEvent":{{"FileId":"1","X":{}0{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for (body, reason) in [
        (not_utf8.clone(), "not_json"),
        (deep.clone().into_bytes(), "too_deep"),
    ] {
        let (status, _, json) = send(&h.router, request("/v1/callbacks/tc", &[], &body)).await;
        assert_eq!(status, 400, "{reason}");
        assert_eq!(json["error"], "malformed", "{reason}");
        assert_eq!(
            counter(
                &h.registry,
                "vodbridge_dead_letters_total",
                &[("source", "tc"), ("reason", reason)]
            ),
            1.0,
            "{reason}"
        );
    }
    assert!(sink.events().is_empty());
    let letters = sink.dead_letters();
    assert_eq!(letters.len(), 2);
    // Kept byte for byte, invalid UTF-8 included (base64 in the record).
    let data: serde_json::Value = serde_json::from_str(letters[0].1.data_json()).expect("json");
    let kept = base64_decode(data["bodybase64"].as_str().expect("bodybase64"));
    assert_eq!(kept, not_utf8);
    let data: serde_json::Value = serde_json::from_str(letters[1].1.data_json()).expect("json");
    assert_eq!(
        base64_decode(data["bodybase64"].as_str().expect("b64")),
        deep.as_bytes()
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// The receiver behind a real socket with short slow-client limits.
struct Served {
    addr: std::net::SocketAddr,
    registry: prometheus::Registry,
    sink: std::sync::Arc<RecordingSink>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const BODY_TIMEOUT: Duration = Duration::from_millis(300);

async fn served() -> Served {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let settings = HttpSettings {
        body_timeout: BODY_TIMEOUT,
        ..HttpSettings::default()
    };
    let h = harness(vec![tencent()], std::slice::from_ref(&sink), settings);
    let metrics = ConnectionMetrics::register(&h.registry).expect("metrics");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(
        "callbacks",
        listener,
        h.router,
        HEADER_TIMEOUT,
        metrics,
        shutdown.clone(),
    ));
    Served {
        addr,
        registry: h.registry,
        sink,
        shutdown,
        task,
    }
}

/// Everything the server sends until it closes the connection (bounded by `limit`).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_and_counted() {
    let s = served().await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    let head = format!(
        "POST /v1/callbacks/tc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        TENCENT_UPLOAD.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    // Half the body, then nothing.
    stream
        .write_all(&TENCENT_UPLOAD.as_bytes()[..TENCENT_UPLOAD.len() / 2])
        .await
        .expect("write part");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(BODY_TIMEOUT * 10, stream.read(&mut buf))
        .await
        .expect("answered before the test gives up")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(s.sink.batches.lock().expect("lock").is_empty());
    assert_eq!(
        counter(
            &s.registry,
            "vodbridge_callbacks_rejected_total",
            &[("source", "tc"), ("reason", "body_timeout")]
        ),
        1.0
    );
    s.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .expect("server stops")
        .expect("join")
        .expect("serve");
}

#[tokio::test]
async fn headers_that_never_finish_close_the_connection_and_are_counted() {
    let s = served().await;
    // A well-behaved client on another connection is served meanwhile.
    let mut slow = TcpStream::connect(s.addr).await.expect("connect");
    slow.write_all(b"POST /v1/callbacks/tc HTTP/1.1\r\nHost: x\r\nX-Drip: ")
        .await
        .expect("write");
    let ok = reqwest::Client::new()
        .post(format!("http://{}/v1/callbacks/tc", s.addr))
        .header("content-type", "application/json")
        .body(TENCENT_UPLOAD)
        .send()
        .await
        .expect("fast client answered");
    assert_eq!(ok.status(), 200);
    let rest = read_until_closed(&mut slow, HEADER_TIMEOUT * 10).await;
    assert!(
        !rest.starts_with("HTTP/1.1 2"),
        "no request was processed for the slow client: {rest}"
    );
    assert_eq!(
        counter(
            &s.registry,
            "vodbridge_http_connection_errors_total",
            &[("listener", "callbacks"), ("reason", "header_timeout")]
        ),
        1.0
    );
    assert_eq!(s.sink.events().len(), 1, "only the fast client's event");
    s.shutdown.cancel();
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let s = served().await;
    s.sink.set_mode(Mode::Gated);
    let url = format!("http://{}/v1/callbacks/tc", s.addr);
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .body(TENCENT_UPLOAD)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // Wait until the request is inside the sink, then shut down and release it.
    while counter(&s.registry, "vodbridge_callbacks_received_total", &[]) < 1.0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(s.addr).await.is_err(),
        "no longer accepting"
    );
    s.sink.gate.add_permits(1);
    assert_eq!(pending.await.expect("join").expect("answered"), 200);
    tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .expect("server stops once the request is done")
        .expect("join")
        .expect("serve");
}
