//! The Kafka sink: send every message of a batch, then await every delivery report.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureRecord, Producer};
use tracing::{debug, info, warn};
use vodbridge_core::{
    BindingMode, CanonicalEvent, DestinationTemplate, Sink, SinkError, SinkErrorKind, SinkHealth,
    TypeFilter,
};

use crate::classify::{classify, sink_error};
use crate::error::{KafkaSinkError, Result};
use crate::fixed_topic::FixedTopic;
use crate::message::encode;
use crate::metrics::Metrics;
use crate::producer::ProducerSlot;
use crate::topics::{TopicError, Topics};
use crate::KafkaSinkConfig;

/// Build a Kafka sink for the binary: [`connect`], behind the [`Sink`] trait. Every sink crate
/// exports a `build` of this shape (name, its configuration, the metrics registry).
pub async fn build(
    name: String,
    config: KafkaSinkConfig,
    registry: &prometheus::Registry,
) -> Result<Arc<dyn Sink>, KafkaSinkError> {
    Ok(Arc::new(connect(name, config, registry).await?))
}

/// How long to wait before re-offering a message to a full producer queue.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

/// A Kafka sink: an idempotent `acks=all` producer shared by every batch.
///
/// Cloning is cheap and shares the producer.
#[derive(Clone)]
pub struct KafkaSink {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    producer: ProducerSlot,
    template: DestinationTemplate,
    filter: TypeFilter,
    mode: BindingMode,
    /// Present when `create_topics` is on or the template is fixed (start-up check).
    topics: Option<Topics>,
    /// The fixed topic's check, when the template is fixed (it needs `topics`).
    fixed_topic: Option<FixedTopic>,
    create_topics: bool,
    message_timeout: Duration,
    metadata_timeout: Duration,
    metrics: Metrics,
}

/// The librdkafka settings every vodbridge producer uses, before the pass-through overrides.
fn client_config(name: &str, config: &KafkaSinkConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.brokers)
        .set("client.id", format!("vodbridge-{name}"));
    for (key, value) in &config.librdkafka {
        cc.set(key, value);
    }
    cc
}

fn producer_config(name: &str, config: &KafkaSinkConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.brokers)
        .set("client.id", format!("vodbridge-{name}"))
        // Acknowledged means written to every in-sync replica; idempotence keeps librdkafka's
        // own retries from duplicating or reordering messages within a partition.
        .set("acks", "all")
        .set("enable.idempotence", config.idempotence.to_string())
        .set("linger.ms", config.linger.as_millis().to_string())
        .set("compression.type", &config.compression)
        // Bounds one message's whole life (queueing + retries): a dead broker surfaces as an
        // error before the receiver's acknowledgement timeout.
        .set(
            "message.timeout.ms",
            config.message_timeout.as_millis().to_string(),
        );
    // Pass-through settings come last so operators can override any default above.
    for (key, value) in &config.librdkafka {
        cc.set(key, value);
    }
    cc
}

fn validate(config: &KafkaSinkConfig) -> Result<()> {
    if config.partitions < 1 {
        return Err(KafkaSinkError::Config(format!(
            "partitions must be at least 1, got {}",
            config.partitions
        )));
    }
    if config.replication_factor < 1 {
        return Err(KafkaSinkError::Config(format!(
            "replication_factor must be at least 1, got {}",
            config.replication_factor
        )));
    }
    if config.message_timeout <= config.linger {
        return Err(KafkaSinkError::Config(
            "message_timeout must be longer than linger".to_owned(),
        ));
    }
    Ok(())
}

/// Build a Kafka sink named `name`, register its metrics on `registry`, and, for a fixed topic
/// template, make sure that topic exists (creating it when `create_topics` is on).
///
/// Returns within about `metadata_timeout` whether or not the broker is reachable: the producer
/// connects lazily, and a fixed-topic check the broker does not answer is deferred (WARN) to the
/// first publish or health check after it comes up. Fails for invalid configuration, and when
/// the broker answers that a fixed topic is missing (`create_topics` off) or refuses to create it.
pub async fn connect(
    name: String,
    config: KafkaSinkConfig,
    registry: &prometheus::Registry,
) -> Result<KafkaSink, KafkaSinkError> {
    validate(&config)?;
    let template = DestinationTemplate::parse(&config.topic).map_err(KafkaSinkError::Template)?;
    let topics = if config.create_topics || template.is_fixed() {
        let mut admin_config = client_config(&name, &config);
        // A metadata check must see missing topics as missing, not create them as a side effect.
        admin_config.set("allow.auto.create.topics", "false");
        Some(
            Topics::new(
                &admin_config,
                config.partitions,
                config.replication_factor,
                config.metadata_timeout,
            )
            .map_err(KafkaSinkError::Client)?,
        )
    } else {
        None
    };
    let metrics = Metrics::register(&name, registry).map_err(KafkaSinkError::Metrics)?;
    let producer = ProducerSlot::new(
        producer_config(&name, &config),
        config.message_timeout,
        config.metadata_timeout,
        metrics.producer_replaced.clone(),
    )
    .map_err(KafkaSinkError::Client)?;
    let fixed_topic = match (&topics, template.is_fixed()) {
        (Some(topics), true) => Some(
            FixedTopic::at_start(
                &name,
                topics,
                &config.topic,
                config.create_topics,
                config.metadata_timeout,
                &config.brokers,
            )
            .await?,
        ),
        _ => None,
    };
    let sink = KafkaSink {
        inner: Arc::new(Inner {
            filter: TypeFilter::new(&config.types),
            mode: config.mode,
            create_topics: config.create_topics,
            message_timeout: config.message_timeout,
            metadata_timeout: config.metadata_timeout,
            name,
            producer,
            template,
            topics,
            fixed_topic,
            metrics,
        }),
    };
    info!(sink = %sink.inner.name, brokers = %config.brokers, topic = %config.topic, mode = ?config.mode, idempotence = config.idempotence, "kafka sink ready");
    Ok(sink)
}

impl KafkaSink {
    /// Messages queued in librdkafka or awaiting a broker response (`in_flight_count()`).
    pub fn queue_depth(&self) -> i32 {
        self.inner.producer.get().in_flight_count()
    }

    /// `Ok` when there is no fixed topic or its check has passed (running it when due).
    async fn fixed_topic_ready(&self) -> Result<(), (crate::fixed_topic::CheckError, &str)> {
        let inner = &*self.inner;
        match (&inner.fixed_topic, &inner.topics) {
            (Some(fixed), Some(topics)) => fixed
                .ensure(&inner.name, topics)
                .await
                .map_err(|e| (e, fixed.topic())),
            _ => Ok(()),
        }
    }

    /// Produce `(event, topic)` pairs: enqueue all in order, then await every delivery report.
    async fn produce(&self, items: Vec<(&CanonicalEvent, Cow<'_, str>)>) -> Result<(), SinkError> {
        let inner = &*self.inner;
        if items.is_empty() {
            return Ok(());
        }
        if inner.create_topics {
            self.ensure_topics(&items).await?;
        }
        let producer = inner.producer.get();
        let mut pending = Vec::with_capacity(items.len());
        let mut enqueue_error = None;
        for (event, topic) in &items {
            let encoded = encode(event, inner.mode);
            let mut record = FutureRecord::to(topic)
                .key(event.partitionkey.as_str())
                .payload(&encoded.payload)
                .headers(encoded.headers);
            let started = Instant::now();
            // Enqueue synchronously, one after another, so one media's events enter the
            // partition queue in batch order; a full queue is waited out, bounded by the
            // message timeout like the rest of the delivery.
            let delivery = loop {
                match producer.send_result(record) {
                    Ok(delivery) => break Ok(delivery),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if started.elapsed() < inner.message_timeout =>
                    {
                        record = back;
                        tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                    }
                    Err((error, _)) => break Err(error),
                }
            };
            match delivery {
                Ok(delivery) => pending.push(async move { (delivery.await, started.elapsed()) }),
                Err(error) => {
                    enqueue_error = Some(error);
                    break;
                }
            }
        }
        let sent = pending.len();
        inner.metrics.in_flight.add(sent as i64);
        let reports = join_all(pending).await;
        inner.metrics.in_flight.sub(sent as i64);
        inner
            .metrics
            .queue_depth
            .set(i64::from(producer.in_flight_count()));

        let mut failures: Vec<KafkaError> = Vec::new();
        if let Some(error) = enqueue_error {
            let (_, reason) = classify(&error);
            // Messages never enqueued count as failed too: the batch is not acknowledged.
            inner
                .metrics
                .failed
                .with_label_values(&[reason])
                .inc_by((items.len() - sent) as u64);
            failures.push(error);
        }
        for (report, elapsed) in reports {
            let error = match report {
                Ok(Ok(_delivery)) => {
                    inner.metrics.produced.inc();
                    inner
                        .metrics
                        .delivery_seconds
                        .observe(elapsed.as_secs_f64());
                    continue;
                }
                Ok(Err((error, _message))) => error,
                Err(_canceled) => KafkaError::Canceled,
            };
            let (_, reason) = classify(&error);
            inner.metrics.failed.with_label_values(&[reason]).inc();
            failures.push(error);
        }
        if failures.is_empty() {
            debug!(sink = %inner.name, messages = items.len(), "batch acknowledged");
            return Ok(());
        }
        let timed_out = failures
            .iter()
            .any(|e| matches!(classify(e).1, "timeout" | "fatal"));
        inner
            .producer
            .after_failure(&inner.name, &producer, timed_out)
            .await;
        // A permanent failure wins: retrying the batch cannot help, the caller dead-letters it.
        let worst = failures
            .iter()
            .find(|e| classify(e).0 == SinkErrorKind::Permanent)
            .unwrap_or(&failures[0]);
        let context = format!(
            "{} of {} messages not acknowledged",
            failures.len(),
            items.len()
        );
        Err(sink_error(&inner.name, worst, &context))
    }

    async fn ensure_topics(
        &self,
        items: &[(&CanonicalEvent, Cow<'_, str>)],
    ) -> Result<(), SinkError> {
        let Some(topics) = &self.inner.topics else {
            return Ok(());
        };
        let mut seen: Vec<&str> = Vec::new();
        for (_, topic) in items {
            if seen.contains(&topic.as_ref()) {
                continue;
            }
            seen.push(topic);
            topics.ensure(topic).await.map_err(|e| {
                let name = &self.inner.name;
                match e {
                    TopicError::Request(e) => {
                        sink_error(name, &e, &format!("cannot create topic `{topic}`"))
                    }
                    TopicError::Refused(code) => {
                        let e = KafkaError::AdminOp(code);
                        sink_error(
                            name,
                            &e,
                            &format!("broker refused to create topic `{topic}`"),
                        )
                    }
                }
            })?;
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for KafkaSink {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn publish(&self, events: &[CanonicalEvent]) -> Result<(), SinkError> {
        let inner = &*self.inner;
        let items: Vec<_> = events
            .iter()
            .filter(|e| inner.filter.accepts(&e.ty))
            .map(|e| (e, Cow::Owned(inner.template.render(e))))
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        // A fixed topic not checked at start-up (broker unreachable then) is checked before the
        // first delivery, as start-up would have; until it passes nothing is produced.
        if let Err((error, topic)) = self.fixed_topic_ready().await {
            let error = error.sink_error(&inner.name, topic);
            inner
                .metrics
                .failed
                .with_label_values(&[error.reason])
                .inc_by(items.len() as u64);
            return Err(error);
        }
        self.produce(items).await
    }

    async fn publish_to(
        &self,
        destination: &str,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        self.produce(
            events
                .iter()
                .map(|e| (e, Cow::Borrowed(destination)))
                .collect(),
        )
        .await
    }

    async fn health(&self) -> SinkHealth {
        let producer = self.inner.producer.get();
        let timeout = self.inner.metadata_timeout;
        self.inner
            .metrics
            .queue_depth
            .set(i64::from(producer.in_flight_count()));
        if let Some((code, reason)) = producer.client().fatal_error() {
            return SinkHealth::Unhealthy(format!("producer fatal error {code}: {reason}"));
        }
        // fetch_metadata blocks its thread for up to the timeout: keep it off the runtime workers.
        let result = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, timeout)
                .map(|m| m.brokers().len())
        })
        .await;
        match result {
            Ok(Ok(brokers)) if brokers > 0 => match self.fixed_topic_ready().await {
                Ok(()) => SinkHealth::Healthy,
                Err((error, topic)) => SinkHealth::Unhealthy(error.describe(topic)),
            },
            Ok(Ok(_)) => SinkHealth::Unhealthy("broker metadata lists no brokers".to_owned()),
            Ok(Err(error)) => SinkHealth::Unhealthy(format!("broker metadata: {error}")),
            Err(error) => SinkHealth::Unhealthy(format!("metadata task failed: {error}")),
        }
    }

    async fn flush(&self, deadline: Duration) -> Result<(), SinkError> {
        let producer = self.inner.producer.get();
        let result = tokio::task::spawn_blocking(move || producer.flush(deadline)).await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                warn!(sink = %self.inner.name, %error, queued = self.queue_depth(), "flush did not finish");
                Err(sink_error(&self.inner.name, &error, "flush"))
            }
            Err(error) => Err(SinkError::retriable(
                &self.inner.name,
                "other",
                format!("flush task failed: {error}"),
            )
            .with_source(error)),
        }
    }
}
