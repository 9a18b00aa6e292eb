//! The fake VOD API itself: it must reject what the real API rejects, or the poller tests prove
//! nothing. Requests here are signed by the fake's independent helper or by the poller's client.

use std::time::Duration;

use serde_json::{json, Value};
use vodbridge_core::Secret;
use vodbridge_ingress::poller::{ApiError, PollConfig, VodClient};
use vodbridge_test_support::fake_vod::{sign_request, upload_event, FakeVod, FakeVodConfig};

async fn call(
    fake: &FakeVod,
    secret_id: &str,
    key: &str,
    action: &str,
    body: &Value,
    timestamp: i64,
) -> Value {
    let body = serde_json::to_vec(body).expect("json");
    let host = fake.endpoint().trim_start_matches("http://").to_owned();
    let mut request = reqwest::Client::new().post(fake.endpoint());
    for (name, value) in sign_request(secret_id, key, &host, action, &body, timestamp) {
        request = request.header(name, value);
    }
    request
        .body(body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn code(response: &Value) -> Option<&str> {
    response["Response"]["Error"]["Code"].as_str()
}

async fn fake() -> FakeVod {
    FakeVod::start(FakeVodConfig {
        hold: Duration::from_millis(100),
        visibility_timeout: Duration::from_millis(500),
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake")
}

#[tokio::test]
async fn rejects_wrong_key_unknown_id_stale_timestamp_and_bad_version() {
    let fake = fake().await;
    let (id, key) = (
        fake.config().secret_id.clone(),
        fake.config().secret_key.clone(),
    );
    let ok = call(&fake, &id, &key, "PullEvents", &json!({}), now()).await;
    assert_eq!(code(&ok), None, "{ok}");
    assert!(ok["Response"]["EventSet"].is_array());
    assert!(ok["Response"]["RequestId"].is_string());

    let wrong_key = call(&fake, &id, "not-the-key", "PullEvents", &json!({}), now()).await;
    assert_eq!(code(&wrong_key), Some("AuthFailure.SignatureFailure"));
    let unknown_id = call(&fake, "AKIDunknown", &key, "PullEvents", &json!({}), now()).await;
    assert_eq!(code(&unknown_id), Some("AuthFailure.SecretIdNotFound"));
    let stale = call(&fake, &id, &key, "PullEvents", &json!({}), now() - 301).await;
    assert_eq!(code(&stale), Some("AuthFailure.SignatureExpire"));
    let future = call(&fake, &id, &key, "PullEvents", &json!({}), now() + 301).await;
    assert_eq!(code(&future), Some("AuthFailure.SignatureExpire"));
    let unknown_action = call(&fake, &id, &key, "DescribeMediaInfos", &json!({}), now()).await;
    assert_eq!(code(&unknown_action), Some("InvalidAction"));

    let host = fake.endpoint().trim_start_matches("http://").to_owned();
    let mut request = reqwest::Client::new().post(fake.endpoint());
    for (name, value) in sign_request(&id, &key, &host, "PullEvents", b"{}", now()) {
        let value = if name == "X-TC-Version" {
            "2017-03-12".to_owned()
        } else {
            value
        };
        request = request.header(name, value);
    }
    let old_version: Value = request
        .body("{}")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(code(&old_version), Some("NoSuchVersion"));

    // A body changed after signing no longer matches the signature.
    let mut request = reqwest::Client::new().post(fake.endpoint());
    for (name, value) in sign_request(&id, &key, &host, "PullEvents", b"{}", now()) {
        request = request.header(name, value);
    }
    let tampered: Value = request
        .body(r#"{"SubAppId":1}"#)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(code(&tampered), Some("AuthFailure.SignatureFailure"));
}

#[tokio::test]
async fn serves_at_most_16_events_each_to_one_puller_and_redelivers_after_the_timeout() {
    let fake = fake().await;
    let (id, key) = (
        fake.config().secret_id.clone(),
        fake.config().secret_key.clone(),
    );
    fake.push_all((0..20).map(upload_event));

    let first = call(&fake, &id, &key, "PullEvents", &json!({}), now()).await;
    let first = first["Response"]["EventSet"]
        .as_array()
        .expect("events")
        .clone();
    assert_eq!(first.len(), 16);
    let second = call(&fake, &id, &key, "PullEvents", &json!({}), now()).await;
    let second = second["Response"]["EventSet"]
        .as_array()
        .expect("events")
        .clone();
    assert_eq!(
        second.len(),
        4,
        "in-flight events are not handed to another puller"
    );
    let handles: Vec<String> = first
        .iter()
        .chain(&second)
        .map(|e| e["EventHandle"].as_str().expect("handle").to_owned())
        .collect();

    let too_many = call(
        &fake,
        &id,
        &key,
        "ConfirmEvents",
        &json!({"EventHandles": handles}),
        now(),
    )
    .await;
    assert_eq!(
        code(&too_many),
        Some("InvalidParameterValue"),
        "more than 16 handles"
    );
    let unknown = call(
        &fake,
        &id,
        &key,
        "ConfirmEvents",
        &json!({"EventHandles": ["nope"]}),
        now(),
    )
    .await;
    assert_eq!(code(&unknown), Some("InvalidParameterValue"));
    let confirmed = call(
        &fake,
        &id,
        &key,
        "ConfirmEvents",
        &json!({"EventHandles": &handles[..16]}),
        now(),
    )
    .await;
    assert_eq!(code(&confirmed), None, "{confirmed}");
    assert_eq!(fake.confirmed(), 16);

    // The 4 unconfirmed events come back after the visibility timeout, with fresh handles; the
    // old handles are now late and refused.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let late = call(
        &fake,
        &id,
        &key,
        "ConfirmEvents",
        &json!({"EventHandles": &handles[16..]}),
        now(),
    )
    .await;
    assert_eq!(
        code(&late),
        Some("InvalidParameterValue"),
        "late confirmation"
    );
    let again = call(&fake, &id, &key, "PullEvents", &json!({}), now()).await;
    let again = again["Response"]["EventSet"]
        .as_array()
        .expect("events")
        .clone();
    assert_eq!(again.len(), 4);
    assert!(again
        .iter()
        .all(|e| !handles[16..].contains(&e["EventHandle"].as_str().expect("h").to_owned())));
    assert_eq!(
        fake.delivery_counts().iter().filter(|&&n| n == 2).count(),
        4
    );
    assert_eq!(fake.pending(), 4);
}

#[tokio::test]
async fn holds_an_empty_poll_and_enforces_the_rate_limit() {
    let fake = FakeVod::start(FakeVodConfig {
        hold: Duration::from_millis(300),
        rate_limit: 5,
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake");
    let (id, key) = (
        fake.config().secret_id.clone(),
        fake.config().secret_key.clone(),
    );
    let started = std::time::Instant::now();
    let empty = call(&fake, &id, &key, "PullEvents", &json!({}), now()).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "held until the hold time"
    );
    assert_eq!(empty["Response"]["EventSet"], json!([]));

    // A held poll returns as soon as an event arrives.
    let pusher = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.push(upload_event(1));
    };
    let empty_body = json!({});
    let (held, ()) = tokio::join!(
        call(&fake, &id, &key, "PullEvents", &empty_body, now()),
        pusher
    );
    assert_eq!(
        held["Response"]["EventSet"].as_array().map(Vec::len),
        Some(1)
    );

    let mut limited = 0;
    for _ in 0..6 {
        let r = call(
            &fake,
            &id,
            &key,
            "ConfirmEvents",
            &json!({"EventHandles": ["x"]}),
            now(),
        )
        .await;
        limited += usize::from(code(&r) == Some("RequestLimitExceeded"));
    }
    assert_eq!(limited, 1, "5 per second per action, the 6th is refused");
}

#[tokio::test]
async fn poller_client_signs_token_and_region_headers() {
    let fake = FakeVod::start(FakeVodConfig {
        token: Some("sts-token".into()),
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake");
    let mut config = PollConfig::new(
        fake.config().secret_id.clone(),
        fake.config().secret_key.clone(),
    );
    config.endpoint = fake.endpoint();
    config.region = Some("ap-guangzhou".into());
    let credentials = config.credentials().expect("credentials");
    let without_token = VodClient::new(&config, credentials).expect("client");
    let err = without_token
        .confirm_events(&["h".to_owned()])
        .await
        .expect_err("token required");
    assert!(
        matches!(&err, ApiError::Api { code, .. } if code == "AuthFailure.TokenFailure"),
        "{err:?}"
    );

    config.token = Some(Secret::new("sts-token"));
    let with_token =
        VodClient::new(&config, config.credentials().expect("credentials")).expect("client");
    fake.push(upload_event(1));
    let events = with_token.pull_events().await.expect("pull");
    assert_eq!(events.len(), 1);
    let handle: Value = serde_json::from_str(events[0].get()).expect("json");
    with_token
        .confirm_events(&[handle["EventHandle"].as_str().expect("handle").to_owned()])
        .await
        .expect("confirm");
    assert_eq!(fake.confirmed(), 1);
}
