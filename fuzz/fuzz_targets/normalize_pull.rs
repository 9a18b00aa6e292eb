//! The Tencent poller's path: `pull_events_elements` on the input as a `PullEvents` response and
//! `normalize_pulled` on each element and on the input itself, cross-checked against
//! `normalize` (see `vodbridge_fuzz::check_pull`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vodbridge_fuzz::check_pull(data);
});
