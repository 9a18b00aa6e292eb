//! A real `nats-server -js` for tests.
