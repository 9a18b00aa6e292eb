//! What a JetStream publish costs nats-server, by message shape: the CPU time the server process
//! spends per acknowledged message (its utime + stime from `/proc`, divided by the messages) for
//! a bare 1.6 KB body (what the `scripts/bench/nats.sh` reference handler publishes), a bare
//! 2.3 KB body (the size of the bridge's structured CloudEvent for the same callback), and 2.3 KB
//! with `Content-Type`, with `Nats-Msg-Id`, and with both (what the bridge sends).
//!
//! Each run publishes into a freshly created file-storage stream (so no run pays for an earlier
//! run's messages) from `CONCURRENCY` closed-loop senders that await each PubAck; the shapes
//! alternate round by round and the median per shape is printed, because the speed of a shared
//! machine drifts between runs. Run it through `scripts/bench/nats_server_cost.sh`, which starts
//! a private `nats-server -js` and passes its pid:
//!
//! ```text
//! NATS_URL=nats://127.0.0.1:4222 NATS_SERVER_PID=1234 MESSAGES=100000 ROUNDS=4 \
//!     cargo run --release -p vodbridge-sink-nats --example server_cost
//! ```

#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_nats::HeaderMap;
use bytes::Bytes;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One message shape: name, payload bytes, and which headers it carries.
struct Shape {
    name: &'static str,
    size: usize,
    content_type: bool,
    msg_id: bool,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "bare 1.6 KB (the reference)",
        size: 1600,
        content_type: false,
        msg_id: false,
    },
    Shape {
        name: "bare 2.3 KB",
        size: 2300,
        content_type: false,
        msg_id: false,
    },
    Shape {
        name: "2.3 KB + Content-Type",
        size: 2300,
        content_type: true,
        msg_id: false,
    },
    Shape {
        name: "2.3 KB + Nats-Msg-Id",
        size: 2300,
        content_type: false,
        msg_id: true,
    },
    Shape {
        name: "2.3 KB + both (the bridge)",
        size: 2300,
        content_type: true,
        msg_id: true,
    },
];

/// The server's CPU time so far, in clock ticks (utime + stime of `/proc/PID/stat`).
fn server_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("server pid");
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Linux reports `/proc` CPU times in USER_HZ ticks, fixed at 100 per second by its ABI.
const TICK_MICROS: f64 = 10_000.0;

/// A fresh, empty stream `COST`: the cost of a stream grows with what it holds.
async fn fresh_stream(js: &jetstream::Context) {
    let _ = js.delete_stream("COST").await;
    js.create_stream(stream::Config {
        name: "COST".into(),
        subjects: vec!["cost.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create stream COST");
}

/// Publish `messages` of `shape` into `COST`, each awaited to its PubAck.
async fn run(js: &jetstream::Context, shape: &Shape, messages: u64, concurrency: usize, tag: u64) {
    let payload = Bytes::from(vec![b'x'; shape.size]);
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (js, payload, next) = (js.clone(), payload.clone(), next.clone());
        let (content_type, msg_id) = (shape.content_type, shape.msg_id);
        senders.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    break;
                }
                let mut publish = PublishMessage::build().payload(payload.clone());
                if content_type || msg_id {
                    let mut headers = HeaderMap::new();
                    if msg_id {
                        // 32 hex characters, like a canonical event id; unique across runs.
                        headers.insert("Nats-Msg-Id", format!("{tag:08x}{i:024x}").as_str());
                    }
                    if content_type {
                        headers.insert("Content-Type", "application/cloudevents+json");
                    }
                    publish = publish.headers(headers);
                }
                let ack = js
                    .send_publish("cost.events", publish)
                    .await
                    .expect("publish");
                ack.await.expect("PubAck");
            }
        }));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
}

#[tokio::main]
async fn main() {
    let url = env("NATS_URL", "nats://127.0.0.1:4222");
    let pid = std::env::var("NATS_SERVER_PID").expect("NATS_SERVER_PID: the nats-server's pid");
    let messages: u64 = env("MESSAGES", "100000").parse().expect("MESSAGES");
    let rounds: usize = env("ROUNDS", "4").parse().expect("ROUNDS");
    let concurrency: usize = env("CONCURRENCY", "64").parse().expect("CONCURRENCY");
    let client = async_nats::connect(&url).await.expect("connect");
    let js = jetstream::new(client);
    let mut costs: Vec<Vec<f64>> = vec![Vec::new(); SHAPES.len()];
    let mut tag = 0;
    for _ in 0..rounds {
        for (shape, cost) in SHAPES.iter().zip(&mut costs) {
            tag += 1;
            // Set up outside the measurement: deleting the previous run's stream is work too.
            fresh_stream(&js).await;
            let before = server_ticks(&pid);
            run(&js, shape, messages, concurrency, tag).await;
            let ticks = server_ticks(&pid) - before;
            cost.push(ticks as f64 * TICK_MICROS / messages as f64);
        }
    }
    let _ = js.delete_stream("COST").await;
    println!("nats-server CPU per acknowledged message (median of {rounds} rounds, all rounds):");
    for (shape, cost) in SHAPES.iter().zip(&mut costs) {
        let all: Vec<String> = cost.iter().map(|c| format!("{c:.1}")).collect();
        cost.sort_by(f64::total_cmp);
        let mid = cost.len() / 2;
        let median = if cost.len() % 2 == 0 {
            (cost[mid - 1] + cost[mid]) / 2.0
        } else {
            cost[mid]
        };
        println!(
            "  {:<30} {median:>6.1} µs   [{}]",
            shape.name,
            all.join(" ")
        );
    }
}
