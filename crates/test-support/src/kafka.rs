//! A real Kafka-protocol broker (`tansu`) for tests.
