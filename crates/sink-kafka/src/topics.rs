//! Topic existence: lazy creation through the admin API (cached), or an existence check
//! through metadata (the fixed-topic check of [`crate::fixed_topic`]).
//!
//! Topics come from the template over a closed set of canonical types, so there are few of them
//! and each is created at most once per process: the first batch for a new topic pays one admin
//! round-trip, later batches only a set lookup.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tracing::info;

/// Creates missing topics and remembers which exist.
pub(crate) struct Topics {
    /// Shared so a blocking metadata request can run off the runtime threads.
    admin: Arc<AdminClient<DefaultClientContext>>,
    known: Mutex<HashSet<String>>,
    partitions: i32,
    replication_factor: i32,
    timeout: Duration,
}

/// Why a topic could not be made available.
#[derive(Debug)]
pub(crate) enum TopicError {
    /// The admin request failed (broker unreachable, timeout …).
    Request(KafkaError),
    /// The broker refused to create the topic.
    Refused(RDKafkaErrorCode),
}

impl Topics {
    /// An admin client built from the producer's connection settings.
    pub(crate) fn new(
        client_config: &ClientConfig,
        partitions: i32,
        replication_factor: i32,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            admin: Arc::new(client_config.create()?),
            known: Mutex::new(HashSet::new()),
            partitions,
            replication_factor,
            timeout,
        })
    }

    /// True when the broker's metadata lists `topic` with partitions. The admin client is built
    /// with `allow.auto.create.topics=false`, so asking does not create the topic.
    pub(crate) async fn exists(&self, topic: &str) -> Result<bool, KafkaError> {
        let admin = Arc::clone(&self.admin);
        let wanted = topic.to_owned();
        let timeout = self.timeout;
        // fetch_metadata blocks its thread for up to the timeout: keep it off the runtime workers.
        let metadata = tokio::task::spawn_blocking(move || {
            admin.inner().fetch_metadata(Some(&wanted), timeout)
        })
        .await
        .map_err(|_| KafkaError::Canceled)??;
        Ok(metadata
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known
            .lock()
            .map(|k| k.contains(topic))
            .unwrap_or(false)
    }

    /// Make sure `topic` exists, creating it when missing. "Already exists" is success.
    pub(crate) async fn ensure(&self, topic: &str) -> Result<(), TopicError> {
        if self.is_known(topic) {
            return Ok(());
        }
        let new = NewTopic::new(
            topic,
            self.partitions,
            TopicReplication::Fixed(self.replication_factor),
        );
        let opts = AdminOptions::new()
            .operation_timeout(Some(self.timeout))
            .request_timeout(Some(self.timeout));
        let results = self
            .admin
            .create_topics([&new], &opts)
            .await
            .map_err(TopicError::Request)?;
        for result in results {
            match result {
                Ok(_) => info!(topic, partitions = self.partitions, "created kafka topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(TopicError::Refused(code)),
            }
        }
        if let Ok(mut known) = self.known.lock() {
            known.insert(topic.to_owned());
        }
        Ok(())
    }
}
