//! vodbridge: receive VOD callbacks from Tencent Cloud and Volcengine, publish canonical CloudEvents to Kafka and NATS.
fn main() {}
