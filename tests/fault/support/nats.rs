//! Read a whole JetStream stream back into a [`Ledger`], with an ephemeral consumer that
//! starts at the first message and acknowledges nothing (the stream is left as it was).

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;

use crate::ledger::Ledger;

/// The stream [`bridge_config`] has the bridge create, and the subjects its events go to.
const STREAM: &str = "VOD";
const FILTER: &str = "vod.>";
/// Time allowed to read the whole stream back.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Every event in the bridge's stream at `url`, recorded in `ledger` by media id
/// (`data.media.id` of the structured CloudEvent) and CloudEvents id. Reads until the number of
/// messages on the event subjects when the read starts has arrived, or [`READ_TIMEOUT`]. Returns
/// how many messages were read.
pub async fn read_stream(url: &str, ledger: &Ledger) -> u64 {
    let deadline = Instant::now() + READ_TIMEOUT;
    let client = async_nats::connect(url).await.expect("reader connects");
    let js = jetstream::new(client);
    let stream = js.get_stream(STREAM).await.expect("stream exists");
    let mut consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: FILTER.to_owned(),
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    // Messages on the event subjects when the consumer was made: the target of the read.
    let total = consumer.info().await.expect("consumer info").num_pending;
    let mut read = 0u64;
    while read < total && Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        while let Some(msg) = batch.next().await {
            let msg = msg.expect("message");
            let event: serde_json::Value =
                serde_json::from_slice(&msg.payload).expect("structured CloudEvent");
            let key = event["data"]["media"]["id"].as_str().unwrap_or_default();
            let id = event["id"].as_str().expect("CloudEvents id");
            ledger.delivered(key, id);
            read += 1;
        }
    }
    read
}

/// A bridge configuration for the fault tests: one Tencent callback source without
/// authentication, one JetStream sink on `nats_url` that keeps the `VOD` stream on `vod.>` (and dead letters on
/// `deadletter.vod`).
/// `server` holds extra `[server]` lines (`ack_timeout`, `max_in_flight`, …); an `ack_timeout`
/// of 2 s applies when it names none.
pub fn bridge_config(listen: u16, admin: u16, nats_url: &str, server: &str) -> String {
    let ack_timeout = if server.contains("ack_timeout") {
        ""
    } else {
        "ack_timeout = \"2s\""
    };
    let sinks = crate::nats_sink_toml(nats_url);
    format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
shutdown_timeout = "2s"
{ack_timeout}
{server}

[log]
level = "info"

[[sources]]
name = "tencent"
provider = "tencent"
{sinks}
"#
    )
}
