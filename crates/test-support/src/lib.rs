//! Test helpers: real broker processes (nats-server, tansu) on free loopback ports, and a fake Tencent VOD API.
