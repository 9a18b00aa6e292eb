//! The fast path against the plain reference path on every input: `normalize` and
//! `normalize_reference` (both providers), `normalize_pulled` and `normalize_pulled_reference`
//! must give byte-identical output (see `vodbridge_fuzz::check_differential`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vodbridge_fuzz::check_differential(data);
});
