//! Test helpers shared by vodbridge's test suites: real broker processes ([`nats`], [`kafka`])
//! started on free loopback ports with temporary storage and stopped on drop, and a fake Tencent
//! VOD API ([`fake_vod`]) that behaves as the reference documents describe, a TCP proxy
//! ([`proxy`]) that can stall or cut the connections it forwards, and [`wait_health`] for
//! tests that wait for a sink to become (un)healthy. Sink and dispatcher tests build their
//! events with [`event()`] and read metrics back with [`metrics`].

mod event;
pub mod fake_vod;
mod health;
pub mod kafka;
pub mod metrics;
pub mod nats;
mod process;
pub mod proxy;

pub use event::{event, EventBuilder};
pub use health::wait_health;
