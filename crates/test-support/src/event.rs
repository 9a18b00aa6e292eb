//! [`CanonicalEvent`] literals for sink and dispatcher tests (the normalizer is not needed to
//! test a sink): [`event`] gives a Tencent `NewFileUpload` with every attribute set, and the
//! [`EventBuilder`] setters change what a test looks at.

use serde_json::value::RawValue;
use vodbridge_core::{
    CanonicalEvent, Outcome, Provider, TimeSource, CONTENT_TYPE_JSON, SPEC_VERSION,
};

/// An event with id `id` and canonical type `ty`, about media `media-{id}` (its `subject` and
/// `partitionkey`; `data` is `{"media":{"id":"media-{id}"}}`), from source `tencent`
/// (`/vodbridge/tencent`), at `2024-05-06T09:49:33Z`.
pub fn event(id: impl Into<String>, ty: &str) -> EventBuilder {
    let id = id.into();
    let media = format!("media-{id}");
    EventBuilder(CanonicalEvent {
        specversion: SPEC_VERSION.into(),
        id,
        source: "/vodbridge/tencent".into(),
        ty: ty.into(),
        subject: None,
        time: "2024-05-06T09:49:33Z".into(),
        datacontenttype: CONTENT_TYPE_JSON.into(),
        provider: Provider::Tencent,
        providertype: "NewFileUpload".into(),
        outcome: Outcome::Succeeded,
        partitionkey: String::new(),
        timesource: TimeSource::Provider,
        traceparent: None,
        tracestate: None,
        source_name: "tencent".into(),
        data: json("{}"),
    })
    .media(&media)
}

/// A test event under construction; [`EventBuilder::build`] (or `.into()`) finishes it.
#[derive(Debug, Clone)]
pub struct EventBuilder(CanonicalEvent);

impl EventBuilder {
    /// About media `media`: sets `subject`, `partitionkey` and `data` to
    /// `{"media":{"id":"<media>"}}`.
    pub fn media(mut self, media: &str) -> Self {
        self.0.subject = Some(media.into());
        self.0.partitionkey = media.into();
        self.0.data = json(&serde_json::json!({ "media": { "id": media } }).to_string());
        self
    }

    /// From source `name`: sets `source_name` and `source` (`/vodbridge/<name>`).
    pub fn source(mut self, name: &str) -> Self {
        self.0.source = format!("/vodbridge/{name}");
        self.0.source_name = name.into();
        self
    }

    /// The CloudEvents `subject` (`None`: no subject attribute).
    pub fn subject(mut self, subject: Option<&str>) -> Self {
        self.0.subject = subject.map(Into::into);
        self
    }

    /// The `partitionkey` alone.
    pub fn partition_key(mut self, key: &str) -> Self {
        self.0.partitionkey = key.into();
        self
    }

    /// The event `time` (RFC 3339).
    pub fn time(mut self, time: &str) -> Self {
        self.0.time = time.into();
        self
    }

    /// The `data` member, as JSON text (panics when it is not JSON).
    pub fn data(mut self, data: &str) -> Self {
        self.0.data = json(data);
        self
    }

    /// The W3C trace context carried by the event.
    pub fn trace(mut self, traceparent: &str, tracestate: Option<&str>) -> Self {
        self.0.traceparent = Some(traceparent.into());
        self.0.tracestate = tracestate.map(Into::into);
        self
    }

    /// The finished event.
    pub fn build(self) -> CanonicalEvent {
        self.0
    }
}

impl From<EventBuilder> for CanonicalEvent {
    fn from(builder: EventBuilder) -> Self {
        builder.build()
    }
}

fn json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("test event data is JSON")
}
