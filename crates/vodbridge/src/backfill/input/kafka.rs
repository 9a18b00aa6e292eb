//! A Kafka topic, read with its own consumer group.
//!
//! Each partition is read from the group's committed offset (the earliest offset for a new
//! group) up to the high watermark taken when the run began: records the same configuration's
//! sinks add during the run are left for the next one. Partitions are assigned explicitly, not
//! subscribed, so a run does not wait for a group rebalance; offsets are committed to the group
//! after each handled batch, so a run that is stopped or fails resumes where it left off.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use vodbridge_sink_kafka::KafkaSinkConfig;

use super::{BadRecord, Position, Record};

/// Bound on each metadata, watermark and offset request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a batch waits for a record that the watermarks say exists.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a batch waits for more records once it has some.
const LINGER: Duration = Duration::from_millis(50);

/// One partition's progress.
#[derive(Debug, Clone, Copy)]
struct Partition {
    /// Where the run began in it.
    start: i64,
    /// The next offset to hand out, and to commit.
    next: i64,
    /// The high watermark when the run began: the run ends at it.
    end: i64,
    /// librdkafka said the fetch reached the partition's end before `next` did: the offsets
    /// left below `end` hold no record (a transaction marker, a compacted tail). `next` is not
    /// moved, since that end was the fetched replica's, which may lag the leader's `end`; a
    /// later run re-reads the markers and ends at once.
    finished: bool,
}

impl Partition {
    /// Offsets behind this run in the partition (all of them once it finished).
    fn progress(&self) -> u64 {
        let at = if self.finished { self.end } else { self.next };
        u64::try_from(at.min(self.end) - self.start).unwrap_or(0)
    }
}

/// The topic being read.
pub(crate) struct KafkaInput {
    consumer: StreamConsumer,
    topic: String,
    group: String,
    partitions: BTreeMap<i32, Partition>,
    /// Offsets between the starts and the ends: an upper bound on the records to read.
    total: u64,
}

impl KafkaInput {
    /// Connect as `group`, find each partition's start and end, and assign them.
    pub(crate) async fn open(
        sink: &str,
        config: &KafkaSinkConfig,
        topic: &str,
        group: &str,
    ) -> anyhow::Result<Self> {
        let mut client = ClientConfig::new();
        // The sink's own librdkafka settings (security, SASL, …) first, so the reader connects
        // the way the sink does; the consumer's essentials cannot be overridden.
        for (key, value) in &config.librdkafka {
            client.set(key, value);
        }
        client
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // The end of a partition is told, not inferred from offsets: a transaction's commit
            // marker or a compacted tail holds an offset below the high watermark that no record
            // ever arrives at.
            .set("enable.partition.eof", "true")
            .set("client.id", format!("vodbridge-{group}"));
        let consumer: StreamConsumer = client
            .create()
            .with_context(|| format!("sink `{sink}`: cannot create a Kafka consumer"))?;
        let topic = topic.to_owned();
        let partitions = tokio::task::block_in_place(|| start_and_end(&consumer, &topic))
            .with_context(|| {
                format!(
                    "kafka topic `{topic}` via sink `{sink}` ({})",
                    config.brokers
                )
            })?;
        let mut assignment = TopicPartitionList::new();
        for (&partition, p) in partitions.iter().filter(|(_, p)| p.next < p.end) {
            assignment
                .add_partition_offset(&topic, partition, Offset::Offset(p.next))
                .context("kafka: cannot build the assignment")?;
        }
        consumer
            .assign(&assignment)
            .with_context(|| format!("kafka: cannot assign the partitions of `{topic}`"))?;
        let total = partitions
            .values()
            .map(|p| u64::try_from(p.end - p.start).unwrap_or(0))
            .sum();
        Ok(Self {
            consumer,
            topic,
            group: group.to_owned(),
            partitions,
            total,
        })
    }

    fn done(&self) -> bool {
        self.partitions
            .values()
            .all(|p| p.finished || p.next >= p.end)
    }

    /// Up to `max` records in offset order per partition; empty once every partition reached
    /// its end.
    pub(crate) async fn next_batch(&mut self, max: usize) -> anyhow::Result<Vec<Record>> {
        let mut batch = Vec::new();
        while batch.len() < max && !self.done() {
            let wait = if batch.is_empty() {
                IDLE_TIMEOUT
            } else {
                LINGER
            };
            let message = match tokio::time::timeout(wait, self.consumer.recv()).await {
                Ok(Ok(message)) => message,
                // librdkafka queues this behind the partition's last records: what the fetched
                // replica held was delivered.
                Ok(Err(KafkaError::PartitionEOF(partition))) => {
                    if let Some(p) = self.partitions.get_mut(&partition) {
                        p.finished = true;
                    }
                    continue;
                }
                Ok(Err(e)) => return Err(e).context("kafka: cannot read"),
                Err(_) if batch.is_empty() => anyhow::bail!(
                    "kafka: no record from `{}` within {IDLE_TIMEOUT:?} although {} offset(s) remain below the watermarks taken at the start",
                    self.topic,
                    self.remaining()
                ),
                Err(_) => break,
            };
            let (partition, offset) = (message.partition(), message.offset());
            let Some(p) = self.partitions.get_mut(&partition) else {
                continue;
            };
            // Past the end taken at the start (appended during the run): everything below it
            // was delivered, whatever offsets it skipped.
            if offset >= p.end {
                p.next = p.end;
                continue;
            }
            // Seen already.
            if offset < p.next {
                continue;
            }
            p.next = offset + 1;
            let event = vodbridge_sink_kafka::message::decode(message.headers(), message.payload())
                .map_err(|e| {
                    let reason = match e {
                        vodbridge_sink_kafka::message::DecodeError::NoValue => "not_json",
                        vodbridge_sink_kafka::message::DecodeError::Invalid(_) => "not_cloudevent",
                    };
                    BadRecord::new(reason, &e)
                });
            batch.push(Record {
                at: Position::Offset {
                    topic: self.topic.clone(),
                    partition,
                    offset,
                },
                event,
            });
        }
        Ok(batch)
    }

    /// Offsets not yet behind the run.
    fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.records_read())
    }

    /// Commit the next offset of every partition to the group.
    pub(crate) async fn commit(&mut self) -> anyhow::Result<()> {
        let mut offsets = TopicPartitionList::new();
        for (&partition, p) in &self.partitions {
            offsets
                .add_partition_offset(&self.topic, partition, Offset::Offset(p.next))
                .context("kafka: cannot build the offsets to commit")?;
        }
        tokio::task::block_in_place(|| self.consumer.commit(&offsets, CommitMode::Sync))
            .with_context(|| format!("kafka: cannot commit the offsets of group `{}`", self.group))
    }

    /// Offsets to read through (records, plus markers and gaps).
    pub(crate) fn total_records(&self) -> u64 {
        self.total
    }

    /// Offsets behind the run.
    pub(crate) fn records_read(&self) -> u64 {
        self.partitions.values().map(Partition::progress).sum()
    }

    pub(crate) fn describe(&self) -> String {
        let ranges: Vec<String> = self
            .partitions
            .iter()
            .map(|(partition, p)| format!("{partition}:{}..{}", p.next, p.end))
            .collect();
        format!(
            "kafka topic {} as group {} ({} offset(s); partition:from..to {})",
            self.topic,
            self.group,
            self.total,
            ranges.join(" ")
        )
    }
}

/// Each partition's start (the group's committed offset, else the low watermark) and end (the
/// high watermark now).
fn start_and_end(
    consumer: &StreamConsumer,
    topic: &str,
) -> anyhow::Result<BTreeMap<i32, Partition>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .context("cannot fetch metadata")?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        anyhow::bail!("the broker does not know the topic");
    };
    if let Some(error) = found.error() {
        anyhow::bail!(
            "the broker reports the topic as {:?}",
            rdkafka::types::RDKafkaErrorCode::from(error)
        );
    }
    let mut query = TopicPartitionList::new();
    for p in found.partitions() {
        query.add_partition(topic, p.id());
    }
    let committed = consumer
        .committed_offsets(query, REQUEST_TIMEOUT)
        .context("cannot fetch the group's committed offsets")?;
    let mut partitions = BTreeMap::new();
    for p in found.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), REQUEST_TIMEOUT)
            .with_context(|| format!("cannot fetch the watermarks of partition {}", p.id()))?;
        let next = match committed.find_partition(topic, p.id()).map(|e| e.offset()) {
            Some(Offset::Offset(n)) => n.clamp(low, high),
            _ => low,
        };
        partitions.insert(
            p.id(),
            Partition {
                start: next,
                next,
                end: high,
                finished: false,
            },
        );
    }
    Ok(partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(start: i64, next: i64, end: i64, finished: bool) -> Partition {
        Partition {
            start,
            next,
            end,
            finished,
        }
    }

    #[test]
    fn progress_counts_offsets_and_a_finished_partition_whole() {
        assert_eq!(partition(10, 10, 20, false).progress(), 0);
        assert_eq!(partition(10, 15, 20, false).progress(), 5);
        // Ended by librdkafka's signal with a marker at 19: all of it is behind the run, while
        // `next` (what is committed) stays at the first offset not read.
        let ended = partition(10, 19, 20, true);
        assert_eq!(ended.progress(), 10);
        assert_eq!(ended.next, 19);
        // A committed start on a marker, the end already reached by the group.
        assert_eq!(partition(20, 20, 20, false).progress(), 0);
    }
}
