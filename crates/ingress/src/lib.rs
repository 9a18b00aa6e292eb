//! Ingress: everything that brings vendor events into vodbridge.
//!
//! - [`http`]: the axum callback receiver (`POST /v1/callbacks/{source}`), signature checks,
//!   admin endpoints.
//! - [`poller`]: the Tencent reliable-callback consumer (`PullEvents` → sinks → `ConfirmEvents`).
//! - [`dispatch`]: the hand-off both use: publish to every sink, succeed only when all acknowledged
//!   (or, with a spool, once the spool has the events durably).
//! - [`forward`]: with a spool, one forwarder per sink publishing the spool in order.

pub mod dispatch;
pub mod forward;
pub mod health;
pub mod http;
pub mod poller;

pub use dispatch::{DeadLetterRoute, DeliveryError, Dispatcher};
pub use health::{ComponentState, Readiness};
