//! The newest committed records, kept in memory.
//!
//! A consumer that keeps up reads what the writer just committed from here, without a database
//! query, and with the [`Attachment`] its producer left (so it need not decode the payload). A
//! consumer further behind — after an outage or a restart — reads the database instead. The
//! tail is bounded in records and in payload bytes, so its memory does not grow with a backlog.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::store::{Entry, EntryBody};

/// Most records the tail holds: a forwarder that keeps up is at most a batch or two behind, and
/// every record held also holds its attachment (the decoded event, about its payload's size).
const MAX_RECORDS: usize = 1024;
/// Most payload bytes the tail holds.
const MAX_BYTES: usize = 2 << 20;

/// An in-memory value given with a [`crate::NewRecord`] and handed back, untouched, with its
/// [`Entry`] to a consumer that reads the record while it is still in the spool's memory (never
/// stored: after a restart, or for a consumer far behind, it is absent). Typically the decoded
/// form of the payload.
#[derive(Clone)]
pub struct Attachment(Arc<dyn Any + Send + Sync>);

impl Attachment {
    /// Wrap `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// The value, when it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Attachment")
    }
}

/// Committed records, oldest first, with increasing `seq`.
#[derive(Default)]
pub(crate) struct Tail {
    entries: VecDeque<Arc<Entry>>,
    bytes: usize,
}

impl Tail {
    /// Add records just committed (their `seq` above every one held), dropping the oldest beyond
    /// the bounds.
    pub(crate) fn push(&mut self, entries: impl IntoIterator<Item = Entry>) {
        for entry in entries {
            self.bytes += payload_len(&entry);
            self.entries.push_back(Arc::new(entry));
        }
        while self.entries.len() > MAX_RECORDS || self.bytes > MAX_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= payload_len(&old),
                None => break,
            }
        }
    }

    /// The records after `position`, at most `limit`, when the tail holds every record after it
    /// (its oldest is at most `position + 1`); `None` when the database must be read.
    pub(crate) fn after(&self, position: u64, limit: usize) -> Option<Vec<Arc<Entry>>> {
        let first = self.entries.front()?;
        if first.seq > position.saturating_add(1) {
            return None;
        }
        let start = self.entries.partition_point(|e| e.seq <= position);
        if start == self.entries.len() {
            return None;
        }
        Some(self.entries.range(start..).take(limit).cloned().collect())
    }
}

fn payload_len(entry: &Entry) -> usize {
    match &entry.body {
        EntryBody::Record { payload, .. } => payload.len(),
        EntryBody::Corrupt { raw, .. } => raw.as_ref().map_or(0, Vec::len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, len: usize) -> Entry {
        Entry {
            seq,
            received_ms: 0,
            body: EntryBody::Record {
                route: None,
                source_name: "s".into(),
                payload: vec![b'x'; len],
            },
            attachment: None,
        }
    }

    fn seqs(entries: &[Arc<Entry>]) -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn serves_only_a_contiguous_continuation() {
        let mut tail = Tail::default();
        assert!(tail.after(0, 10).is_none(), "empty");
        tail.push((5..=9).map(|s| entry(s, 1)));
        assert!(tail.after(3, 10).is_none(), "record 4 is not held");
        assert_eq!(seqs(&tail.after(4, 10).expect("held")), vec![5, 6, 7, 8, 9]);
        assert_eq!(seqs(&tail.after(6, 2).expect("held")), vec![7, 8]);
        assert!(tail.after(9, 10).is_none(), "nothing after the newest");
    }

    #[test]
    fn drops_the_oldest_beyond_its_bounds() {
        let mut tail = Tail::default();
        tail.push((1..=MAX_RECORDS as u64 + 10).map(|s| entry(s, 1)));
        assert_eq!(tail.entries.len(), MAX_RECORDS);
        assert!(tail.after(5, 1).is_none());
        assert_eq!(seqs(&tail.after(10, 1).expect("held")), vec![11]);

        let mut tail = Tail::default();
        tail.push((1..=4).map(|s| entry(s, MAX_BYTES / 3)));
        assert_eq!(tail.entries.len(), 3);
        assert_eq!(tail.bytes, 3 * (MAX_BYTES / 3));
    }

    #[test]
    fn attachment_round_trips() {
        let a = Attachment::new(42u32);
        assert_eq!(a.downcast_ref::<u32>(), Some(&42));
        assert!(a.downcast_ref::<u64>().is_none());
    }
}
