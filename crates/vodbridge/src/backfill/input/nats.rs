//! A subject of a JetStream stream, read from the stream's first message.
//!
//! The stream is the one holding the subject; its last sequence when the run began is where the
//! run ends, so messages the same configuration's sinks publish meanwhile are not read. The
//! consumer is ephemeral and unacknowledged (`AckPolicy::None`): reading changes nothing on the
//! server, and every run reads the whole stream again (ids make that harmless).

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use futures::StreamExt as _;
use vodbridge_sink_nats::NatsSinkConfig;

use super::{BadRecord, Position, Record};

/// Bound on each request to the server while opening.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a batch waits for a message the stream's state says exists.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a batch waits for more messages once it has some.
const LINGER: Duration = Duration::from_millis(50);

/// The stream being read.
pub(crate) struct NatsInput {
    messages: pull::Stream,
    stream: String,
    subject: String,
    /// The stream's last sequence when the run began.
    end: u64,
    done: bool,
    total: u64,
    read: u64,
    /// The last stream sequence handed out.
    last: u64,
}

impl NatsInput {
    /// Connect with the sink's settings, find the stream holding `subject` and start reading.
    pub(crate) async fn open(
        sink: &str,
        config: &NatsSinkConfig,
        subject: &str,
    ) -> anyhow::Result<Self> {
        let opening = async {
            let client = vodbridge_sink_nats::connect_client(sink, config)
                .await
                .context("cannot connect")?;
            let js = async_nats::jetstream::new(client);
            let stream_name = js
                .stream_by_subject(subject)
                .await
                .with_context(|| format!("no JetStream stream holds subject `{subject}`"))?;
            let mut stream = js
                .get_stream(&stream_name)
                .await
                .with_context(|| format!("cannot open stream `{stream_name}`"))?;
            let end = stream
                .info()
                .await
                .with_context(|| format!("cannot read the state of stream `{stream_name}`"))?
                .state
                .last_sequence;
            let consumer = stream
                .create_consumer(pull::Config {
                    filter_subject: subject.to_owned(),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::None,
                    // Removed by the server soon after the run ends (or dies).
                    inactive_threshold: Duration::from_secs(60),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("cannot create a consumer on stream `{stream_name}`"))?;
            let pending = consumer.cached_info().num_pending;
            let messages = consumer
                .messages()
                .await
                .with_context(|| format!("cannot read stream `{stream_name}`"))?;
            anyhow::Ok((stream_name, end, pending, messages))
        };
        let (stream, end, pending, messages) = tokio::time::timeout(REQUEST_TIMEOUT * 2, opening)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:?}", REQUEST_TIMEOUT * 2))
            .and_then(|r| r)
            .with_context(|| {
                format!(
                    "nats subject `{subject}` via sink `{sink}` ({})",
                    config.url
                )
            })?;
        Ok(Self {
            messages,
            stream,
            subject: subject.to_owned(),
            end,
            done: pending == 0 || end == 0,
            total: pending,
            read: 0,
            last: 0,
        })
    }

    /// Up to `max` messages in stream order; empty once the end taken at the start is reached.
    pub(crate) async fn next_batch(&mut self, max: usize) -> anyhow::Result<Vec<Record>> {
        let mut batch = Vec::new();
        while batch.len() < max && !self.done {
            let wait = if batch.is_empty() {
                IDLE_TIMEOUT
            } else {
                LINGER
            };
            let message = match tokio::time::timeout(wait, self.messages.next()).await {
                Ok(Some(message)) => message.context("nats: cannot read")?,
                Ok(None) => anyhow::bail!("nats: the consumer of stream `{}` ended", self.stream),
                Err(_) if batch.is_empty() => anyhow::bail!(
                    "nats: no message from stream `{}` within {IDLE_TIMEOUT:?} although it held sequences up to {} when the run began (read up to {})",
                    self.stream,
                    self.end,
                    self.last
                ),
                Err(_) => break,
            };
            let info = message
                .info()
                .map_err(|e| anyhow::anyhow!("nats: message without JetStream metadata: {e}"))?;
            let (sequence, pending) = (info.stream_sequence, info.pending);
            if sequence > self.end {
                self.done = true;
                break;
            }
            self.last = sequence;
            self.read += 1;
            self.done = sequence >= self.end || pending == 0;
            let event =
                vodbridge_sink_nats::binding::decode(message.headers.as_ref(), &message.payload)
                    .map_err(|e| BadRecord::new("not_cloudevent", &e));
            batch.push(Record {
                at: Position::Sequence {
                    stream: self.stream.clone(),
                    sequence,
                },
                event,
            });
        }
        Ok(batch)
    }

    pub(crate) fn total_records(&self) -> u64 {
        self.total
    }

    pub(crate) fn records_read(&self) -> u64 {
        self.read
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "nats subject {} in stream {} ({} message(s), up to sequence {})",
            self.subject, self.stream, self.total, self.end
        )
    }
}
