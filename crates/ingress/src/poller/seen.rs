//! Bounded memory of recently pulled canonical ids, to count redeliveries.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Remembers the last `capacity` ids (as 64-bit hashes: a rare collision only miscounts a metric).
#[derive(Debug)]
pub(crate) struct SeenIds {
    capacity: usize,
    order: VecDeque<u64>,
    set: HashSet<u64>,
}

impl SeenIds {
    /// Remember at most `capacity` ids.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    /// Record `id`; true when it was already remembered (the event came back).
    pub(crate) fn check_and_insert(&mut self, id: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        let key = hasher.finish();
        if self.set.contains(&key) {
            return true;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(key);
        self.set.insert(key);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_repeats_and_forgets_oldest() {
        let mut seen = SeenIds::new(2);
        assert!(!seen.check_and_insert("a"));
        assert!(seen.check_and_insert("a"));
        assert!(!seen.check_and_insert("b"));
        assert!(!seen.check_and_insert("c"));
        assert!(!seen.check_and_insert("a"), "a was evicted");
    }
}
