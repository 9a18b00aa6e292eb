//! Consume vodbridge events from Kafka with rdkafka and decode each record with the CloudEvents
//! SDK's Kafka binding (`cloudevents::binding::rdkafka`), which reads both of vodbridge's Kafka
//! modes: binary (the default: attributes in `ce_*` headers, `data` as the value) and structured
//! (`content-type: application/cloudevents+json`, the whole event as the value).
//!
//! Prints one line per event, `media=<id> outcome=<outcome> trace=<trace id> id=<event id>`.
//!
//! ```sh
//! kafka-consumer --bootstrap-servers 127.0.0.1:29092 --topic vod.media.uploaded --count 1 --timeout 30
//! ```

use std::process::ExitCode;

use clap::Parser;
use cloudevents::binding::rdkafka::MessageExt as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use vodbridge_consumer_examples::{summary, Limits, DEFAULT_TOPIC};

/// Print vodbridge events from a Kafka topic.
#[derive(Debug, Parser)]
struct Args {
    /// Kafka bootstrap servers (the compose stack's host listener by default).
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:29092"
    )]
    bootstrap_servers: String,
    /// Topic to read; vodbridge names topics after the canonical event type.
    #[arg(long, env = "KAFKA_TOPIC", default_value = DEFAULT_TOPIC)]
    topic: String,
    /// Consumer group. A new group starts at the oldest record; an existing one where it left off.
    #[arg(long, env = "KAFKA_GROUP_ID", default_value = "vodbridge-example-rust")]
    group_id: String,
    #[command(flatten)]
    limits: Limits,
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args = Args::parse();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("group.id", &args.group_id)
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[&args.topic])?;

    let deadline = args.limits.deadline();
    let mut seen = 0;
    while !args.limits.done(seen) {
        let received = match deadline {
            Some(at) => match tokio::time::timeout_at(at, consumer.recv()).await {
                Ok(received) => received,
                Err(_elapsed) => break,
            },
            None => consumer.recv().await,
        };
        let message = received?;
        match message.to_event() {
            Ok(event) => {
                println!("{}", summary(&event));
                seen += 1;
            }
            // A record that is not a CloudEvent is reported, not fatal: the rest of the topic is
            // still worth reading.
            Err(e) => eprintln!(
                "skipping {}/{}@{}: not a CloudEvent: {e}",
                args.topic,
                rdkafka::Message::partition(&message),
                rdkafka::Message::offset(&message)
            ),
        }
    }
    if seen == 0 {
        eprintln!("no event on {} within {}s", args.topic, args.limits.timeout);
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
