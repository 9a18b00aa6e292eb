//! Volcengine callback bodies through `vodbridge_normalizer::normalize`, with the invariants of
//! `vodbridge_fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vodbridge_core::Provider;

fuzz_target!(|data: &[u8]| {
    let _ = vodbridge_fuzz::check_normalize(Provider::Volcengine, data);
});
