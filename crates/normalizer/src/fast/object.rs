//! The id's canonical form of a split event object, assembled from its members: for the
//! Tencent member split, which has read each member already.

use serde::de::DeserializeSeed;
use sha2::{Digest, Sha256};
use vodbridge_core::Provider;

use crate::ids::{
    key_start, push_entry, short_hex, write_str, Canon, Entry, Scratch, TAG_OBJ, TAG_OBJ_END,
};

/// The canonical form of an event object assembled member by member, for a caller that splits
/// the object itself (the Tencent member split): the result is byte for byte what [`crate::ids::event_id`]
/// computes from the whole object, without parsing the members the caller already wrote.
///
/// The members are hashed where they lie, in key order, rather than copied into one buffer in
/// that order: a member whose value the caller has written already (the teed payload, the bulk
/// of an event) is not copied at all.
pub(crate) struct ObjectWriter<'x> {
    /// The members written here (keys, and values not written elsewhere), in input order.
    out: Vec<u8>,
    /// The members' entries (at the bottom of the stack), and working memory for raw values.
    scratch: Scratch,
    sorted: bool,
    exclude: &'x [&'x str],
    /// The member whose value was written by the caller: its entry's start, and the value.
    external: Option<(usize, &'x [u8])>,
}

impl<'x> ObjectWriter<'x> {
    /// An object whose top-level members named in `exclude` are left out; `capacity` is a hint
    /// (the canonical form is about as long as the JSON text).
    pub(crate) fn new(capacity: usize, exclude: &'x [&'x str]) -> Self {
        ObjectWriter {
            out: Vec::with_capacity(capacity),
            scratch: Scratch::new(),
            sorted: true,
            exclude,
            external: None,
        }
    }

    /// The next member in input order, its value raw JSON text (decoded even when excluded or
    /// `null`, so that a bad escape fails here as it would in [`crate::ids::event_id`]).
    pub(crate) fn raw_member(&mut self, key: &str, value: &str) -> Result<(), serde_json::Error> {
        if value == "null" {
            // Dropped like every `null` member, and nothing in it to decode: a pulled event spells
            // out every other payload member as `null`, dozens per event.
            return Ok(());
        }
        let start = self.out.len();
        write_str(&mut self.out, key);
        let key_end = self.out.len();
        let mut de = serde_json::Deserializer::from_str(value);
        let null = Canon {
            out: &mut self.out,
            scratch: &mut self.scratch,
            depth: 2,
            exclude: &[],
        }
        .deserialize(&mut de)?;
        de.end()?;
        self.member_written(key, start, key_end, null);
        Ok(())
    }

    /// The next member in input order, its value's canonical form already written (by [`super::tee`]
    /// at depth 2); `null` values are passed too, and dropped here like in [`crate::ids::event_id`].
    pub(crate) fn canonical_member(&mut self, key: &str, value: &'x [u8], null: bool) {
        let start = self.out.len();
        write_str(&mut self.out, key);
        let key_end = self.out.len();
        if self.external.is_none() {
            if !self.member_written(key, start, key_end, null) {
                self.external = Some((start, value));
            }
        } else {
            self.out.extend_from_slice(value);
            self.member_written(key, start, key_end, null);
        }
    }

    /// Record the member written from `start` (dropped when `null` or excluded: returns whether).
    fn member_written(&mut self, key: &str, start: usize, key_end: usize, null: bool) -> bool {
        if null || self.exclude.contains(&key) {
            self.out.truncate(start);
            return true;
        }
        let entry = Entry {
            start,
            key_start: key_start(&self.out, start, key_end),
            key_end,
            end: self.out.len(),
        };
        push_entry(&self.out, &mut self.scratch, 0, entry, &mut self.sorted);
        false
    }

    /// The id of the object written so far: its members hashed in key order, where they lie.
    pub(crate) fn id(mut self, provider: Provider) -> String {
        let out = &self.out;
        let entries = &mut self.scratch.entries;
        if !self.sorted {
            // As `close_object` orders them: by key text, duplicates in input order.
            let key = |e: &Entry| &out[e.key_start..e.key_end];
            entries.sort_unstable_by(|a, b| key(a).cmp(key(b)).then(a.start.cmp(&b.start)));
        }
        let mut hasher = Sha256::new();
        hasher.update(provider.as_str().as_bytes());
        hasher.update([0u8, TAG_OBJ]);
        for e in entries.iter() {
            hasher.update(&out[e.start..e.end]);
            if let Some((_, value)) = self.external.filter(|(at, _)| *at == e.start) {
                hasher.update(value);
            }
        }
        hasher.update([TAG_OBJ_END]);
        short_hex(&hasher.finalize())
    }
}
