//! Where `redrive` and `replay` read records: JSON Lines files as the file sink writes them, a
//! Kafka topic, or a JetStream stream. Every input ends: it covers what was there when the run
//! began, even when the same configuration's sinks append to it meanwhile.

mod file;
mod kafka;
mod nats;

use std::fmt;
use std::path::PathBuf;

use anyhow::Context as _;
use vodbridge_core::CanonicalEvent;

use crate::config::{Config, SinkSettings};

pub(crate) use file::FileInput;
pub(crate) use kafka::KafkaInput;
pub(crate) use nats::NatsInput;

/// `--input`: a file path, `kafka://TOPIC` or `nats://SUBJECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A JSON Lines file and its rotated siblings (`PATH.N` … `PATH.1`, oldest first).
    File(PathBuf),
    /// A Kafka topic, read with the connection of the configuration's Kafka sink.
    Kafka(String),
    /// A NATS subject in a JetStream stream, read with the configuration's NATS sink connection.
    Nats(String),
}

impl InputSpec {
    /// Parse `--input`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let named = |rest: &str, what: &str| {
            anyhow::ensure!(!rest.is_empty(), "--input {text}: the {what} is missing");
            Ok(rest.to_owned())
        };
        if let Some(topic) = text.strip_prefix("kafka://") {
            return named(topic, "topic").map(InputSpec::Kafka);
        }
        if let Some(subject) = text.strip_prefix("nats://") {
            return named(subject, "subject").map(InputSpec::Nats);
        }
        anyhow::ensure!(!text.is_empty(), "--input must not be empty");
        Ok(InputSpec::File(PathBuf::from(text)))
    }
}

/// Where a record was read, to report it and to say where a run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// Line `line` (from 1) of `path`.
    Line { path: PathBuf, line: u64 },
    /// Kafka `topic`, `partition`, `offset`.
    Offset {
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// JetStream `stream`, stream sequence `sequence`.
    Sequence { stream: String, sequence: u64 },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line { path, line } => write!(f, "{}:{line}", path.display()),
            Position::Offset {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}/{partition}@{offset}"),
            Position::Sequence { stream, sequence } => write!(f, "stream {stream} seq {sequence}"),
        }
    }
}

/// A record that is not a canonical event.
#[derive(Debug, Clone)]
pub(crate) struct BadRecord {
    /// `not_json` or `not_cloudevent`.
    pub(crate) reason: &'static str,
    /// What was wrong, for the report.
    pub(crate) detail: String,
}

impl BadRecord {
    pub(crate) fn new(reason: &'static str, error: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            reason,
            detail: vodbridge_core::ErrorChain(error).to_string(),
        }
    }
}

/// One record read.
#[derive(Debug)]
pub(crate) struct Record {
    /// Where it was read.
    pub(crate) at: Position,
    /// The event it holds, or why it holds none.
    pub(crate) event: Result<CanonicalEvent, BadRecord>,
}

/// An open input.
pub(crate) enum Input {
    File(FileInput),
    Kafka(Box<KafkaInput>),
    Nats(Box<NatsInput>),
}

impl Input {
    /// Open `spec`; Kafka and NATS inputs use the connection settings of the configuration's
    /// first sink of that type, and a Kafka input reads as consumer group `group`.
    pub(crate) async fn open(
        spec: &InputSpec,
        config: &Config,
        group: &str,
    ) -> anyhow::Result<Self> {
        match spec {
            InputSpec::File(path) => FileInput::open(path).map(Input::File),
            InputSpec::Kafka(topic) => {
                let (name, sink) = config
                    .sinks
                    .iter()
                    .find_map(|s| match &s.settings {
                        SinkSettings::Kafka(config) => Some((&s.name, config)),
                        _ => None,
                    })
                    .context("--input kafka://… needs a Kafka sink in the configuration (its connection is used)")?;
                KafkaInput::open(name, sink, topic, group)
                    .await
                    .map(|k| Input::Kafka(Box::new(k)))
            }
            InputSpec::Nats(subject) => {
                let (name, sink) = config
                    .sinks
                    .iter()
                    .find_map(|s| match &s.settings {
                        SinkSettings::Nats(config) => Some((&s.name, config)),
                        _ => None,
                    })
                    .context("--input nats://… needs a NATS sink in the configuration (its connection is used)")?;
                NatsInput::open(name, sink, subject)
                    .await
                    .map(|n| Input::Nats(Box::new(n)))
            }
        }
    }

    /// Up to `max` more records; an empty batch means the input is exhausted.
    pub(crate) async fn next_batch(&mut self, max: usize) -> anyhow::Result<Vec<Record>> {
        match self {
            Input::File(f) => f.next_batch(max),
            Input::Kafka(k) => k.next_batch(max).await,
            Input::Nats(n) => n.next_batch(max).await,
        }
    }

    /// Everything returned so far has been handled: a Kafka input commits its offsets, so a
    /// later run of the same group resumes after them.
    pub(crate) async fn commit(&mut self) -> anyhow::Result<()> {
        match self {
            Input::Kafka(k) => k.commit().await,
            Input::File(_) | Input::Nats(_) => Ok(()),
        }
    }

    /// The number of records (Kafka, JetStream) or bytes (files) the run covers, for progress.
    pub(crate) fn extent(&self) -> Extent {
        match self {
            Input::File(f) => Extent::Bytes(f.total_bytes()),
            Input::Kafka(k) => Extent::Records(k.total_records()),
            Input::Nats(n) => Extent::Records(n.total_records()),
        }
    }

    /// How far the run has come, in the unit of [`Input::extent`].
    pub(crate) fn progress(&self) -> u64 {
        match self {
            Input::File(f) => f.bytes_read(),
            Input::Kafka(k) => k.records_read(),
            Input::Nats(n) => n.records_read(),
        }
    }

    /// What is read, for the start-up line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Input::File(f) => f.describe(),
            Input::Kafka(k) => k.describe(),
            Input::Nats(n) => n.describe(),
        }
    }
}

/// The size of what a run covers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extent {
    Bytes(u64),
    Records(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds_of_input() {
        assert_eq!(
            InputSpec::parse("kafka://vodbridge.deadletter").expect("kafka"),
            InputSpec::Kafka("vodbridge.deadletter".into())
        );
        assert_eq!(
            InputSpec::parse("nats://vod.>").expect("nats"),
            InputSpec::Nats("vod.>".into())
        );
        assert_eq!(
            InputSpec::parse("/var/lib/vodbridge/deadletter.jsonl").expect("file"),
            InputSpec::File("/var/lib/vodbridge/deadletter.jsonl".into())
        );
        assert!(InputSpec::parse("kafka://").is_err());
        assert!(InputSpec::parse("nats://").is_err());
        assert!(InputSpec::parse("").is_err());
    }
}
