//! Test helpers shared by vodbridge's test suites: real broker processes ([`nats`], [`kafka`])
//! started on free loopback ports with temporary storage and stopped on drop, and a fake Tencent
//! VOD API ([`fake_vod`]) that behaves as the reference documents describe, and a TCP proxy
//! ([`proxy`]) that can stall or cut the connections it forwards.

pub mod fake_vod;
pub mod kafka;
pub mod nats;
mod process;
pub mod proxy;
