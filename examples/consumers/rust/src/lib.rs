//! What the two consumer examples share: the run limits (`--count`, `--timeout`) and the one
//! line printed per vodbridge event, built from a decoded CloudEvents SDK [`Event`]:
//!
//! ```text
//! media=<subject or data.media.id> outcome=<outcome> trace=<trace id> id=<event id>
//! ```
//!
//! A value the event does not carry is printed as `-`, so every line has the same four fields.

use std::time::Duration;

use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Event};
use tokio::time::Instant;

/// The canonical type (and default topic / subject) the examples subscribe to.
pub const DEFAULT_TOPIC: &str = "vod.media.uploaded";

/// When a consumer stops: after `count` events (0: no limit) or `timeout` (zero: no limit).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Limits {
    /// Exit after this many events (0: no limit).
    #[arg(long, env = "CONSUMER_COUNT", default_value_t = 0)]
    pub count: usize,
    /// Exit after this many seconds (0: no limit); the exit status is non-zero when no event
    /// arrived by then.
    #[arg(long, env = "CONSUMER_TIMEOUT", default_value_t = 0.0)]
    pub timeout: f64,
}

impl Limits {
    /// The instant the run ends, `None` for no time limit.
    pub fn deadline(&self) -> Option<Instant> {
        (self.timeout > 0.0).then(|| Instant::now() + Duration::from_secs_f64(self.timeout))
    }

    /// True once `seen` events satisfy `--count`.
    pub fn done(&self, seen: usize) -> bool {
        self.count > 0 && seen >= self.count
    }
}

/// The line printed for `event`.
pub fn summary(event: &Event) -> String {
    let media = event
        .subject()
        .map(str::to_owned)
        .or_else(|| media_id_from_data(event))
        .unwrap_or_else(|| "-".to_owned());
    let outcome = extension_str(event, "outcome").unwrap_or("-");
    let trace = extension_str(event, "traceparent")
        .and_then(trace_id)
        .unwrap_or("-");
    format!(
        "media={media} outcome={outcome} trace={trace} id={}",
        event.id()
    )
}

/// The 32-hex trace id of a W3C `traceparent` (`<version>-<trace id>-<parent id>-<flags>`).
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut fields = traceparent.split('-');
    let (_version, trace) = (fields.next()?, fields.next()?);
    (trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit())).then_some(trace)
}

/// A string-valued extension attribute (bindings deliver every extension as a string).
fn extension_str<'a>(event: &'a Event, name: &str) -> Option<&'a str> {
    match event.extension(name)? {
        ExtensionValue::String(s) => Some(s),
        _ => None,
    }
}

/// `data.media.id`, for events without a `subject`. The SDK keeps binary-mode data as bytes
/// and structured-mode JSON data as a value; `serde_json::Value::try_from` reads either.
fn media_id_from_data(event: &Event) -> Option<String> {
    let data = serde_json::Value::try_from(event.data()?.clone()).ok()?;
    data.pointer("/media/id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use cloudevents::{EventBuilder, EventBuilderV10};

    use super::*;

    #[test]
    fn reads_the_trace_id_of_a_traceparent() {
        assert_eq!(
            trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id("00-xyz-00f067aa0ba902b7-01"), None);
        assert_eq!(trace_id(""), None);
    }

    #[test]
    fn summarises_an_event_and_falls_back_to_data_media_id() {
        let event = EventBuilderV10::new()
            .id("e1")
            .ty(DEFAULT_TOPIC)
            .source("/vodbridge/tencent")
            .extension("outcome", "succeeded")
            .data(
                "application/json",
                serde_json::json!({"media": {"id": "m1"}}),
            )
            .build()
            .expect("event");
        assert_eq!(summary(&event), "media=m1 outcome=succeeded trace=- id=e1");
    }
}
