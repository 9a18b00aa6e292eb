//! Normalization cost against the cost of merely parsing the same bytes into a `serde_json::Value`.
//!
//! For each payload, one criterion group measures `normalize` + `to_structured_json` of every
//! resulting event (what ingress does per input) and `serde_json::from_slice::<Value>` side by side.
//! Run: `cargo bench -p vodbridge-normalizer --bench normalize -- --warm-up-time 1 --measurement-time 3`
//! (results in docs/performance.md, "Normalizer").

mod payloads;

// The allocator of the `vodbridge` binary, so that what is measured is what runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use vodbridge_normalizer::normalize;

fn bench(c: &mut Criterion) {
    let ctx = payloads::context();
    let payloads = payloads::payloads();
    for (name, provider, body) in &payloads {
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("normalize", |b| {
            b.iter(|| {
                let events = normalize(*provider, black_box(body), &ctx).expect("normalizes");
                events
                    .iter()
                    .map(|e| e.to_structured_json().len())
                    .sum::<usize>()
            })
        });
        group.bench_function("value_parse", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(body)).expect("json"))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
