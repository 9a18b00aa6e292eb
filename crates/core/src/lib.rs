//! Shared vocabulary of vodbridge: the canonical CloudEvents 1.0 record, the [`Sink`] trait every
//! broker adapter implements, and the small routing helpers (destination templates, type filters)
//! that sinks share.
//!
//! Data flows one way: the normalizer turns vendor payloads into [`CanonicalEvent`]s, ingress
//! (HTTP receiver and Tencent poller) hands them to every configured [`Sink`], and answers the
//! vendor only after each sink acknowledged. This crate does no I/O, so every other crate can
//! depend on it without pulling in a runtime or a broker client.

mod deadletter;
mod error;
mod event;
mod route;
mod secret;
mod sink;
mod trace;

pub use deadletter::{DeadLetter, DEAD_LETTER_TYPE};
pub use error::{BoxError, ErrorChain, SinkError, SinkErrorKind};
pub use event::{CanonicalEvent, Outcome, Provider, TimeSource, CONTENT_TYPE_JSON, SPEC_VERSION};
pub use route::{BindingMode, DestinationTemplate, TemplateError, TypeFilter};
pub use secret::Secret;
pub use sink::{Sink, SinkHealth};
pub use trace::{TraceContext, TraceOrigin, MAX_TRACESTATE_LEN};
