//! The axum callback receiver.
