//! Consume vodbridge events from NATS JetStream with async-nats and decode each message with the
//! CloudEvents SDK's NATS binding (`cloudevents::binding::nats`), which reads structured mode:
//! the whole event as JSON in the payload, vodbridge's default for NATS sinks.
//!
//! An ordered consumer (ephemeral, no acknowledgements, redelivered from where it stopped if the
//! connection drops) reads the stream that holds the subject from its first message, so events
//! published before the consumer started are printed too.
//!
//! Prints one line per event, `media=<id> outcome=<outcome> trace=<trace id> id=<event id>`.
//!
//! ```sh
//! nats-consumer --server nats://127.0.0.1:4222 --subject vod.media.uploaded --count 1 --timeout 30
//! ```

use std::process::ExitCode;

use async_nats::jetstream::{self, consumer};
use clap::Parser;
use cloudevents::binding::nats::MessageExt as _;
use futures::StreamExt as _;
use vodbridge_consumer_examples::{summary, Limits, DEFAULT_TOPIC};

/// Print vodbridge events from a NATS JetStream subject.
#[derive(Debug, Parser)]
struct Args {
    /// NATS server URL.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    server: String,
    /// Subject to read; vodbridge publishes each event on its canonical type.
    #[arg(long, env = "NATS_SUBJECT", default_value = DEFAULT_TOPIC)]
    subject: String,
    /// JetStream stream holding the subject (default: looked up by subject).
    #[arg(long, env = "NATS_STREAM")]
    stream: Option<String>,
    #[command(flatten)]
    limits: Limits,
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args = Args::parse();
    let js = jetstream::new(async_nats::connect(&args.server).await?);
    let stream_name = match &args.stream {
        Some(name) => name.clone(),
        None => js.stream_by_subject(args.subject.clone()).await?,
    };
    let stream = js.get_stream(&stream_name).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: args.subject.clone(),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;

    let deadline = args.limits.deadline();
    let mut seen = 0;
    while !args.limits.done(seen) {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, messages.next()).await {
                Ok(next) => next,
                Err(_elapsed) => break,
            },
            None => messages.next().await,
        };
        let Some(message) = next else { break };
        let message = message?;
        match message.message.to_event() {
            Ok(event) => {
                println!("{}", summary(&event));
                seen += 1;
            }
            // A message that is not a structured CloudEvent is reported, not fatal.
            Err(e) => eprintln!("skipping a message on {}: {e}", message.subject),
        }
    }
    if seen == 0 {
        eprintln!(
            "no event on {} (stream {stream_name}) within {}s",
            args.subject, args.limits.timeout
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
