//! A fake Tencent VOD API (`PullEvents` / `ConfirmEvents`) that behaves as the reference
//! documents describe, for poller tests and benchmarks.
//!
//! - Verifies TC3-HMAC-SHA256 with its own code: wrong key → `AuthFailure.SignatureFailure`,
//!   unknown SecretId → `AuthFailure.SecretIdNotFound`, timestamp more than 5 min off →
//!   `AuthFailure.SignatureExpire`; requires `X-TC-Version: 2018-07-17` and a known `X-TC-Action`.
//! - `PullEvents` returns at most 16 events, each delivery with a fresh `EventHandle`, and holds an
//!   empty poll for [`FakeVodConfig::hold`] (5 s like the real API; tests use less).
//! - An event is handed to one puller at a time and comes back after
//!   [`FakeVodConfig::visibility_timeout`] (30 s documented) unless confirmed.
//! - `ConfirmEvents` rejects more than 16 handles and unknown or late handles with
//!   `InvalidParameterValue` (all-or-nothing: nothing in a rejected call is confirmed).
//! - Each action is limited to [`FakeVodConfig::rate_limit`] requests per sliding second
//!   (`RequestLimitExceeded`).
//! - Faults can be injected, and counters read back for assertions.
//!
//! Every answer is HTTP 200 with the API 3.0 envelope, as the real API does:
//! `{"Response":{"EventSet":[…],"RequestId":"…"}}` or
//! `{"Response":{"Error":{"Code":"…","Message":"…"},"RequestId":"…"}}`.

mod queue;
mod verify;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use queue::Queue;

/// The only API version the event actions accept.
pub const API_VERSION: &str = "2018-07-17";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeVodConfig {
    /// The one SecretId the fake knows.
    pub secret_id: String,
    /// Its SecretKey.
    pub secret_key: String,
    /// When set, requests must carry this `X-TC-Token` (STS credentials).
    pub token: Option<String>,
    /// How long an empty `PullEvents` is held waiting for an event (real API: 5 s).
    pub hold: Duration,
    /// How long a pulled, unconfirmed event stays invisible (real API: 30 s).
    pub visibility_timeout: Duration,
    /// Requests per second per action (real API: 100).
    pub rate_limit: u32,
    /// Largest accepted clock difference (real API: 5 min).
    pub max_skew: Duration,
    /// Answer an empty queue with `ResourceNotFound` ("no event") instead of an empty `EventSet`.
    pub empty_as_error: bool,
}

impl Default for FakeVodConfig {
    fn default() -> Self {
        Self {
            secret_id: "AKIDfakevod0000000000000000000000000".to_owned(),
            secret_key: "fakevodsecretkey0000000000000000".to_owned(),
            token: None,
            hold: Duration::from_secs(5),
            visibility_timeout: Duration::from_secs(30),
            rate_limit: 100,
            max_skew: Duration::from_secs(300),
            empty_as_error: false,
        }
    }
}

#[derive(Default)]
struct Faults {
    /// Per action: (remaining count, code) injected before normal handling.
    next: HashMap<String, VecDeque<String>>,
    /// Every request of every action fails with this code.
    always: Option<String>,
}

#[derive(Default)]
struct Counters {
    requests: HashMap<String, u64>,
    errors: HashMap<String, u64>,
    pulled_events: u64,
    max_confirm_batch: usize,
}

struct Shared {
    config: FakeVodConfig,
    queue: Mutex<Queue>,
    arrived: Notify,
    faults: Mutex<Faults>,
    counters: Mutex<Counters>,
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake VOD API on a loopback port; stopped on drop.
pub struct FakeVod {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVod {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeVod {
    /// Start the fake on a free loopback port.
    pub async fn start(config: FakeVodConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            queue: Mutex::new(Queue::default()),
            arrived: Notify::new(),
            faults: Mutex::new(Faults::default()),
            counters: Mutex::new(Counters::default()),
            windows: Mutex::new(HashMap::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/", post(handle))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:<port>`: the poller's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &FakeVodConfig {
        &self.shared.config
    }

    /// Queue one `EventContent` object (any `EventHandle` in it is replaced per delivery).
    /// Returns the event's index for [`FakeVod::deliveries`].
    pub fn push(&self, event: Value) -> usize {
        let index = lock(&self.shared.queue).push(event);
        self.shared.arrived.notify_waiters();
        index
    }

    /// Queue many events.
    pub fn push_all(&self, events: impl IntoIterator<Item = Value>) {
        {
            let mut queue = lock(&self.shared.queue);
            for event in events {
                queue.push(event);
            }
        }
        self.shared.arrived.notify_waiters();
    }

    /// The next `n` requests of `action` (`PullEvents`, `ConfirmEvents`) fail with `code`
    /// (after authentication).
    pub fn fail_next(&self, action: &str, n: usize, code: &str) {
        let mut faults = lock(&self.shared.faults);
        let queue = faults.next.entry(action.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(code.to_owned(), n));
    }

    /// Every request fails with `code` until called with `None`.
    pub fn fail_always(&self, code: Option<&str>) {
        lock(&self.shared.faults).always = code.map(str::to_owned);
    }

    /// Requests seen for `action`, including rejected ones.
    pub fn requests(&self, action: &str) -> u64 {
        lock(&self.shared.counters)
            .requests
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// Error answers given with `code`.
    pub fn errors(&self, code: &str) -> u64 {
        lock(&self.shared.counters)
            .errors
            .get(code)
            .copied()
            .unwrap_or(0)
    }

    /// Events handed out by `PullEvents`, counting redeliveries.
    pub fn pulled_events(&self) -> u64 {
        lock(&self.shared.counters).pulled_events
    }

    /// The largest number of handles seen in one accepted `ConfirmEvents`.
    pub fn max_confirm_batch(&self) -> usize {
        lock(&self.shared.counters).max_confirm_batch
    }

    /// How many times event `index` was delivered.
    pub fn deliveries(&self, index: usize) -> u32 {
        lock(&self.shared.queue)
            .entries
            .get(index)
            .map_or(0, |e| e.deliveries)
    }

    /// Delivery count of every event, in push order.
    pub fn delivery_counts(&self) -> Vec<u32> {
        lock(&self.shared.queue)
            .entries
            .iter()
            .map(|e| e.deliveries)
            .collect()
    }

    /// Whether event `index` is confirmed.
    pub fn is_confirmed(&self, index: usize) -> bool {
        lock(&self.shared.queue)
            .entries
            .get(index)
            .is_some_and(|e| matches!(e.state, queue::EntryState::Confirmed))
    }

    /// Number of confirmed events.
    pub fn confirmed(&self) -> usize {
        lock(&self.shared.queue).confirmed
    }

    /// Events not yet confirmed (ready or in flight).
    pub fn pending(&self) -> usize {
        let queue = lock(&self.shared.queue);
        queue.entries.len() - queue.confirmed
    }

    /// Events pulled and not yet confirmed nor expired.
    pub fn in_flight(&self) -> usize {
        lock(&self.shared.queue).in_flight_count()
    }

    /// Wait until `confirmed() >= n` or `timeout` passes; true when reached.
    pub async fn wait_confirmed(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.confirmed() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.confirmed() >= n
    }
}

fn request_id() -> String {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn error(shared: &Shared, code: &str, message: &str) -> Json<Value> {
    *lock(&shared.counters)
        .errors
        .entry(code.to_owned())
        .or_default() += 1;
    Json(
        json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id()}}),
    )
}

#[derive(Deserialize)]
struct ConfirmBody {
    #[serde(rename = "EventHandles")]
    event_handles: Vec<String>,
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let action = headers
        .get("x-tc-action")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    *lock(&shared.counters)
        .requests
        .entry(action.clone())
        .or_default() += 1;
    let config = &shared.config;

    let now = chrono::Utc::now().timestamp();
    let skew = i64::try_from(config.max_skew.as_secs()).unwrap_or(i64::MAX);
    if let Err((code, message)) = verify::verify(
        &headers,
        &body,
        &config.secret_id,
        &config.secret_key,
        skew,
        now,
    ) {
        return error(&shared, code, &message);
    }
    if let Some(expected) = &config.token {
        if headers.get("x-tc-token").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return error(
                &shared,
                "AuthFailure.TokenFailure",
                "Token verification failed.",
            );
        }
    }
    if headers.get("x-tc-version").and_then(|v| v.to_str().ok()) != Some(API_VERSION) {
        return error(
            &shared,
            "NoSuchVersion",
            "The requested version does not exist.",
        );
    }
    if action != "PullEvents" && action != "ConfirmEvents" {
        return error(
            &shared,
            "InvalidAction",
            "The requested action does not exist.",
        );
    }
    let injected = {
        let mut faults = lock(&shared.faults);
        faults
            .always
            .clone()
            .or_else(|| faults.next.get_mut(&action).and_then(VecDeque::pop_front))
    };
    if let Some(code) = injected {
        return error(&shared, &code, "injected fault");
    }
    if !within_rate(&shared, &action) {
        return error(
            &shared,
            "RequestLimitExceeded",
            "The number of requests exceeds the frequency limit.",
        );
    }
    if action == "PullEvents" {
        pull(&shared).await
    } else {
        confirm(&shared, &body)
    }
}

/// Sliding one-second window per action.
fn within_rate(shared: &Shared, action: &str) -> bool {
    let now = Instant::now();
    let mut windows = lock(&shared.windows);
    let window = windows.entry(action.to_owned()).or_default();
    while window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        window.pop_front();
    }
    if window.len() >= shared.config.rate_limit as usize {
        return false;
    }
    window.push_back(now);
    true
}

async fn pull(shared: &Shared) -> Json<Value> {
    let config = &shared.config;
    let give_up = Instant::now() + config.hold;
    loop {
        // Register interest before looking, so an event pushed in between is not missed.
        let arrived = shared.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let now = Instant::now();
        let (events, next_expiry) = {
            let mut queue = lock(&shared.queue);
            queue.requeue_expired(now);
            (
                queue.take(16, now, config.visibility_timeout),
                queue.next_expiry(),
            )
        };
        if !events.is_empty() {
            lock(&shared.counters).pulled_events += events.len() as u64;
            return Json(json!({"Response": {"EventSet": events, "RequestId": request_id()}}));
        }
        if now >= give_up {
            if config.empty_as_error {
                return error(shared, "ResourceNotFound", "no event");
            }
            return Json(json!({"Response": {"EventSet": [], "RequestId": request_id()}}));
        }
        let wake = next_expiry.map_or(give_up, |t| t.min(give_up));
        tokio::select! {
            _ = &mut arrived => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

fn confirm(shared: &Shared, body: &[u8]) -> Json<Value> {
    let Ok(request) = serde_json::from_slice::<ConfirmBody>(body) else {
        return error(shared, "InvalidParameter", "EventHandles is required.");
    };
    if request.event_handles.is_empty() || request.event_handles.len() > 16 {
        return error(
            shared,
            "InvalidParameterValue",
            "EventHandles must hold 1 to 16 handles.",
        );
    }
    let result = lock(&shared.queue).confirm(&request.event_handles, Instant::now());
    match result {
        Ok(()) => {
            let mut counters = lock(&shared.counters);
            counters.max_confirm_batch =
                counters.max_confirm_batch.max(request.event_handles.len());
            drop(counters);
            Json(json!({"Response": {"RequestId": request_id()}}))
        }
        Err(_) => error(
            shared,
            "InvalidParameterValue",
            "Invalid or expired EventHandle.",
        ),
    }
}

/// A realistic `NewFileUpload` `EventContent` whose FileId and name derive from `n` (distinct `n`
/// → distinct canonical ids).
pub fn upload_event(n: u64) -> Value {
    let file_id = (5_285_890_784_273_533_167u64.wrapping_add(n)).to_string();
    json!({
        "EventType": "NewFileUpload",
        "FileUploadEvent": {
            "FileId": file_id,
            "MediaBasicInfo": {
                "Name": format!("upload-{n}"),
                "Description": "",
                "CreateTime": "2024-05-06T09:49:33Z",
                "UpdateTime": "2024-05-06T09:49:33Z",
                "ExpireTime": "9999-12-31T23:59:59Z",
                "ClassId": 0,
                "ClassName": "其他",
                "ClassPath": "其他",
                "CoverUrl": "",
                "Type": "mp4",
                "MediaUrl": format!("http://125676836723.vod2.myqcloud.com/xxx/xxx/{file_id}.mp4"),
                "SourceInfo": {"SourceType": "Upload", "SourceContext": ""},
                "StorageRegion": "ap-guangzhou-2",
                "TagSet": [],
                "Vid": file_id,
                "Category": "Video",
                "Status": "Normal",
                "StorageClass": "STANDARD"
            },
            "ProcedureTaskId": "",
            "ReviewAudioVideoTaskId": "",
            "MetaData": {"Size": 7_700_180, "Container": "mov,mp4,m4a,3gp,3g2,mj2", "Bitrate": 1_024_000,
                         "Height": 480, "Width": 640, "Duration": 60.0, "Rotate": 0,
                         "VideoStreamSet": [], "AudioStreamSet": [], "VideoDuration": 60.0, "AudioDuration": 60.0, "Md5": ""}
        },
        "ProcedureStateChangeEvent": null,
        "FileDeleteEvent": null
    })
}

/// A realistic `ProcedureStateChanged` (FINISH) `EventContent` for task `n`.
pub fn procedure_event(n: u64) -> Value {
    let file_id = (5_285_890_784_246_869_930u64.wrapping_add(n)).to_string();
    json!({
        "EventType": "ProcedureStateChanged",
        "ProcedureStateChangeEvent": {
            "TaskId": format!("1256768367-Procedure-475b72f2cb177t{n}"),
            "Status": "FINISH",
            "ErrCode": 0,
            "Message": "",
            "FileId": file_id,
            "FileName": "Animal World",
            "FileUrl": "https://1256768367.vod2.myqcloud.com/xxx/xxx/xxx.mp4",
            "MetaData": {"Duration": 60, "Size": 7_700_180, "Width": 640, "Height": 480},
            "MediaProcessResultSet": [{
                "Type": "Transcode",
                "TranscodeTask": {"Status": "SUCCESS", "ErrCode": 0, "Message": "SUCCESS",
                                  "Input": {"Definition": 20},
                                  "Output": {"Url": "https://1256768367.vod2.myqcloud.com/xxx/v.f20.mp4", "Definition": 20}}
            }],
            "TasksPriority": 0,
            "TasksNotifyMode": "Finish",
            "SessionContext": "",
            "SessionId": ""
        }
    })
}

/// An element no normalizer can turn into an event (no `EventType`): a poison message.
pub fn poison_event(n: u64) -> Value {
    json!({"NotAnEvent": n, "Garbage": [1, 2, 3]})
}

/// Sign a request for the fake exactly as a client would (for tests of the fake itself and of
/// its rejections). Independent of the poller's signer on purpose.
pub fn sign_request(
    secret_id: &str,
    secret_key: &str,
    host: &str,
    action: &str,
    body: &[u8],
    timestamp: i64,
) -> Vec<(String, String)> {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let mac = |key: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let date = chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default();
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/json\nhost:{}\n\ncontent-type;host\n{}",
        host.to_lowercase(),
        hex::encode(Sha256::digest(body))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/vod/tc3_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = mac(
        &mac(&mac(format!("TC3{secret_key}").as_bytes(), &date), "vod"),
        "tc3_request",
    );
    let signature = hex::encode(mac(&key, &to_sign));
    vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "Authorization".to_owned(),
            format!("TC3-HMAC-SHA256 Credential={secret_id}/{date}/vod/tc3_request, SignedHeaders=content-type;host, Signature={signature}"),
        ),
        ("X-TC-Action".to_owned(), action.to_owned()),
        ("X-TC-Version".to_owned(), API_VERSION.to_owned()),
        ("X-TC-Timestamp".to_owned(), timestamp.to_string()),
    ]
}
