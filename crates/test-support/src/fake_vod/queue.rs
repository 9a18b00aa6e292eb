//! The fake's event queue: ready events, events in flight under a visibility timeout, and
//! confirmed events, with per-event delivery counts for assertions.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

pub(crate) enum EntryState {
    Ready,
    InFlight { handle: String, until: Instant },
    Confirmed,
}

pub(crate) struct Entry {
    pub(crate) content: Value,
    pub(crate) deliveries: u32,
    pub(crate) state: EntryState,
}

#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) entries: Vec<Entry>,
    ready: VecDeque<usize>,
    /// In-flight deliveries in pull order; the visibility timeout is constant, so this is also
    /// expiry order and requeueing is amortized O(1).
    in_flight: VecDeque<(Instant, usize, String)>,
    handles: HashMap<String, usize>,
    next_handle: u64,
    pub(crate) confirmed: usize,
}

impl Queue {
    pub(crate) fn push(&mut self, mut content: Value) -> usize {
        if let Some(obj) = content.as_object_mut() {
            obj.remove("EventHandle");
        }
        let index = self.entries.len();
        self.entries.push(Entry {
            content,
            deliveries: 0,
            state: EntryState::Ready,
        });
        self.ready.push_back(index);
        index
    }

    /// Make events whose visibility timeout passed pullable again; their old handles die.
    pub(crate) fn requeue_expired(&mut self, now: Instant) {
        while let Some((until, index, _)) = self.in_flight.front() {
            if *until > now {
                break;
            }
            let index = *index;
            let Some((_, _, handle)) = self.in_flight.pop_front() else {
                break;
            };
            let entry = &mut self.entries[index];
            if matches!(&entry.state, EntryState::InFlight { handle: h, .. } if *h == handle) {
                self.handles.remove(&handle);
                entry.state = EntryState::Ready;
                self.ready.push_back(index);
            }
        }
    }

    /// When the next in-flight event becomes visible again.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.in_flight.front().map(|(until, _, _)| *until)
    }

    /// Hand out up to `max` events, each with a fresh handle.
    pub(crate) fn take(&mut self, max: usize, now: Instant, visibility: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(index) = self.ready.pop_front() else {
                break;
            };
            self.next_handle += 1;
            let handle = format!("fake-handle-{}-{}", self.next_handle, rand::random::<u32>());
            let until = now + visibility;
            let entry = &mut self.entries[index];
            entry.deliveries += 1;
            entry.state = EntryState::InFlight {
                handle: handle.clone(),
                until,
            };
            let mut content = entry.content.clone();
            if let Some(obj) = content.as_object_mut() {
                obj.insert("EventHandle".to_owned(), Value::String(handle.clone()));
            }
            out.push(content);
            self.handles.insert(handle.clone(), index);
            self.in_flight.push_back((until, index, handle));
        }
        out
    }

    /// Confirm all of `handles` or none: `Err` names the first unknown or expired one.
    pub(crate) fn confirm(&mut self, handles: &[String], now: Instant) -> Result<(), String> {
        for handle in handles {
            let live = self.handles.get(handle).is_some_and(|&index| {
                matches!(&self.entries[index].state, EntryState::InFlight { handle: h, until } if h == handle && *until > now)
            });
            if !live {
                return Err(handle.clone());
            }
        }
        for handle in handles {
            if let Some(index) = self.handles.remove(handle) {
                self.entries[index].state = EntryState::Confirmed;
                self.confirmed += 1;
            }
        }
        Ok(())
    }

    pub(crate) fn in_flight_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, EntryState::InFlight { .. }))
            .count()
    }
}
