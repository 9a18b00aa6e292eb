//! Per-thread reuse of the canonical form's working buffers.
//!
//! Every event needs a buffer for its canonical form and entry stacks for its objects; they live
//! only while the event is normalized. Allocated afresh they cost one large allocation and
//! several small ones per event, and the large ones (about the event's size, over a kilobyte)
//! are past what glibc's malloc serves from its per-thread cache: its general path took a tenth of
//! the time of a `PullEvents` body. So a dropped buffer goes back to a short per-thread list
//! and the next event of that thread takes it from there.
//!
//! Bounded both ways: a thread keeps at most [`KEEP`] buffers of each kind, and none whose
//! capacity grew past [`KEEP_CAPACITY`] (one huge event must not pin its memory for good).
//! A buffer dropped on another thread than the one it came from simply joins that thread's list.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

use super::Entry;

/// Buffers of each kind a thread keeps: a `PullEvents` body of 16 events holds each event's
/// payload form at once (the whole set is split before any event is assembled), plus a few.
const KEEP: usize = 32;

/// Bytes past which a buffer (or an entry stack) is freed rather than kept.
const KEEP_CAPACITY: usize = 64 * 1024;

thread_local! {
    static BYTES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static ENTRIES: RefCell<Vec<(Vec<Entry>, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
}

/// The last item `list` was given on this thread, if any.
fn take<T: 'static>(list: &'static LocalKey<RefCell<Vec<T>>>) -> Option<T> {
    // `try_with`: during thread shutdown there is no list, and the caller allocates afresh.
    list.try_with(|l| l.borrow_mut().pop()).ok().flatten()
}

/// Keep `item` in this thread's `list` unless it already holds [`KEEP`]; else (or while the
/// thread shuts down) it is simply dropped.
fn give<T: 'static>(list: &'static LocalKey<RefCell<Vec<T>>>, item: T) {
    let _ = list.try_with(|l| {
        let mut l = l.borrow_mut();
        if l.len() < KEEP {
            l.push(item);
        }
    });
}

/// A byte buffer that goes back to its thread's list when dropped.
#[derive(Default)]
pub(crate) struct Buf(Vec<u8>);

impl Buf {
    /// An empty buffer of at least `capacity` bytes, reused when the thread has one.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        match take(&BYTES) {
            Some(mut v) => {
                v.reserve(capacity);
                Buf(v)
            }
            None => Buf(Vec::with_capacity(capacity)),
        }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.0);
        if v.capacity() == 0 || v.capacity() > KEEP_CAPACITY {
            return;
        }
        v.clear();
        give(&BYTES, v);
    }
}

impl Deref for Buf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// An entry stack and a reordering copy, reused like [`Buf`]; empty when taken.
pub(crate) fn take_entries(capacity: usize) -> (Vec<Entry>, Vec<u8>) {
    match take(&ENTRIES) {
        Some((mut entries, mut tail)) => {
            entries.clear();
            tail.clear();
            entries.reserve(capacity);
            (entries, tail)
        }
        None => (Vec::with_capacity(capacity), Vec::new()),
    }
}

/// Give back what [`take_entries`] gave (or any such pair).
pub(crate) fn give_entries(entries: Vec<Entry>, tail: Vec<u8>) {
    if entries.capacity() == 0
        || entries.capacity() * std::mem::size_of::<Entry>() > KEEP_CAPACITY
        || tail.capacity() > KEEP_CAPACITY
    {
        return;
    }
    give(&ENTRIES, (entries, tail));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_empty_and_a_huge_one_is_not_kept() {
        // Drain what other tests on this thread left.
        BYTES.with(|l| l.borrow_mut().clear());
        let mut a = Buf::with_capacity(100);
        a.extend_from_slice(b"left over");
        let at = a.as_ptr();
        drop(a);
        let b = Buf::with_capacity(10);
        assert_eq!(b.as_ptr(), at, "the dropped buffer is taken again");
        assert!(b.is_empty() && b.capacity() >= 100);

        let mut huge = Buf::with_capacity(KEEP_CAPACITY + 1);
        huge.push(1);
        drop(huge);
        assert_eq!(
            BYTES.with(|l| l.borrow().len()),
            0,
            "a huge buffer is not kept"
        );
        drop(b);
        assert_eq!(BYTES.with(|l| l.borrow().len()), 1, "a small one is");
    }

    #[test]
    fn a_thread_keeps_a_bounded_number() {
        BYTES.with(|l| l.borrow_mut().clear());
        let many: Vec<Buf> = (0..KEEP + 5).map(|_| Buf::with_capacity(16)).collect();
        drop(many);
        assert_eq!(BYTES.with(|l| l.borrow().len()), KEEP);
    }
}
