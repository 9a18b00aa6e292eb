//! What one record becomes: a redriven dead letter or unmapped event (re-normalized with the
//! current mapping), or a replayed canonical event (unchanged).

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use vodbridge_core::{
    CanonicalEvent, DeadLetter, Provider, TraceContext, TypeFilter, DEAD_LETTER_TYPE,
};
use vodbridge_normalizer::{
    dead_letter_id, normalize, normalize_pulled, SourceContext, UNMAPPED_TYPE,
};

use crate::config::Config;

/// What to do with one record.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Publish these events through the sinks.
    Publish(Vec<CanonicalEvent>),
    /// Nothing to publish, for a reason that is not an error (counted under it).
    Skip(&'static str),
    /// The original still does not normalize: publish the dead letter again, counted under
    /// the normalizer's reason.
    StillFailing {
        reason: &'static str,
        letter: Box<DeadLetter>,
    },
    /// The record cannot be redriven or replayed (counted and reported with its position).
    Bad {
        reason: &'static str,
        detail: String,
    },
}

fn bad(reason: &'static str, detail: impl Into<String>) -> Verdict {
    Verdict::Bad {
        reason,
        detail: detail.into(),
    }
}

/// The configured sources, by name and by CloudEvents `source`.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    by_name: HashMap<String, (Provider, String)>,
    by_uri: HashMap<String, String>,
}

impl Sources {
    pub(crate) fn new(config: &Config) -> Self {
        let mut sources = Self::default();
        for s in &config.sources {
            let uri = s.ce_source_uri();
            sources.by_uri.insert(uri.clone(), s.name.clone());
            sources
                .by_name
                .insert(s.name.clone(), (s.provider.into(), uri));
        }
        sources
    }

    /// The source name of an event read back (it is not part of the CloudEvent): the
    /// configured source with that `source`, else the `/vodbridge/{name}` default's name.
    pub(crate) fn name_of(&self, uri: &str) -> String {
        self.by_uri
            .get(uri)
            .cloned()
            .unwrap_or_else(|| uri.strip_prefix("/vodbridge/").unwrap_or(uri).to_owned())
    }
}

/// `redrive`'s filters.
#[derive(Debug, Default)]
pub(crate) struct RedriveFilter {
    /// Only dead letters whose reason contains this text (unmapped events are then skipped).
    pub(crate) reason: Option<String>,
    /// Only re-normalized events of these canonical types.
    pub(crate) types: TypeFilter,
}

/// The `data` of a dead letter, as `DeadLetter::to_event` writes it.
#[derive(Deserialize)]
struct DeadLetterData {
    source: String,
    ingress: String,
    reason: String,
    receivedtime: String,
    bodybase64: String,
}

/// The part of an unmapped event's `data` a redrive needs.
#[derive(Deserialize)]
struct UnmappedData<'a> {
    #[serde(borrow)]
    original: &'a RawValue,
}

/// Redrive one record: a dead letter's body or an unmapped event's original, normalized again.
pub(crate) fn redrive(
    event: &CanonicalEvent,
    sources: &Sources,
    filter: &RedriveFilter,
) -> Verdict {
    let verdict = match event.ty.as_str() {
        DEAD_LETTER_TYPE => dead_letter(event, sources, filter),
        UNMAPPED_TYPE if filter.reason.is_none() => unmapped(event, sources),
        UNMAPPED_TYPE => Verdict::Skip("reason"),
        _ => Verdict::Skip("other_type"),
    };
    match verdict {
        Verdict::Publish(mut events) => {
            events.retain(|e| filter.types.accepts(&e.ty));
            if events.is_empty() {
                Verdict::Skip("types")
            } else {
                Verdict::Publish(events)
            }
        }
        other => other,
    }
}

fn dead_letter(event: &CanonicalEvent, sources: &Sources, filter: &RedriveFilter) -> Verdict {
    let data: DeadLetterData = match serde_json::from_str(event.data_json()) {
        Ok(data) => data,
        Err(e) => return bad("not_dead_letter", format!("dead letter data: {e}")),
    };
    if let Some(wanted) = &filter.reason {
        if !data.reason.contains(wanted.as_str()) {
            return Verdict::Skip("reason");
        }
    }
    let body = match base64::engine::general_purpose::STANDARD.decode(&data.bodybase64) {
        Ok(body) => body,
        Err(e) => return bad("bad_body", format!("data.bodybase64: {e}")),
    };
    let trace = continued(event);
    if data.ingress == "spool" {
        // A record the spool could not forward: an event a sink rejected for good (its
        // canonical JSON), or a damaged record (not an event; nothing to redrive).
        return match CanonicalEvent::from_structured_json(&body) {
            Ok(mut original) => {
                original.source_name = sources.name_of(&original.source);
                Verdict::Publish(vec![original])
            }
            Err(e) => bad(
                "not_redrivable",
                format!("spool dead letter whose body is not an event: {e}"),
            ),
        };
    }
    let Some((provider, uri)) = sources.by_name.get(&data.source) else {
        return bad(
            "unknown_source",
            format!("source `{}` is not in the configuration", data.source),
        );
    };
    let received_at = DateTime::parse_from_rfc3339(&data.receivedtime)
        .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc));
    let ctx = SourceContext {
        source_name: &data.source,
        source_uri: uri,
        received_at,
    };
    let result = if data.ingress == "pull" {
        match std::str::from_utf8(&body) {
            Ok(text) => normalize_pulled(text, &ctx).result.map(|e| vec![e]),
            Err(_) => normalize(*provider, &body, &ctx),
        }
    } else {
        normalize(*provider, &body, &ctx)
    };
    match result {
        Ok(mut events) => {
            for e in &mut events {
                e.set_trace(&trace);
            }
            Verdict::Publish(events)
        }
        Err(err) => Verdict::StillFailing {
            reason: err.reason(),
            letter: Box::new(DeadLetter {
                id: dead_letter_id(&data.source, &body),
                source_name: data.source.clone(),
                source: uri.clone(),
                provider: *provider,
                reason: err.to_string(),
                received_at: data.receivedtime.clone(),
                ingress: if data.ingress == "pull" {
                    "pull"
                } else {
                    "http"
                },
                body,
                trace: Some(trace),
            }),
        },
    }
}

fn unmapped(event: &CanonicalEvent, sources: &Sources) -> Verdict {
    let data: UnmappedData<'_> = match serde_json::from_str(event.data_json()) {
        Ok(data) => data,
        Err(e) => {
            return bad(
                "not_unmapped",
                format!("unmapped event without data.original: {e}"),
            )
        }
    };
    let source_name = sources.name_of(&event.source);
    if !sources.by_name.contains_key(&source_name) {
        return bad(
            "unknown_source",
            format!(
                "source `{}` ({source_name}) is not in the configuration",
                event.source
            ),
        );
    }
    let received_at = DateTime::parse_from_rfc3339(&event.time)
        .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc));
    let ctx = SourceContext {
        source_name: &source_name,
        source_uri: &event.source,
        received_at,
    };
    let original = data.original.get();
    // A pulled element carries its `EventHandle`, and is normalized the way the poller does.
    let pulled = event.provider == Provider::Tencent && original.contains("\"EventHandle\"");
    let result = if pulled {
        normalize_pulled(original, &ctx).result.map(|e| vec![e])
    } else {
        normalize(event.provider, original.as_bytes(), &ctx)
    };
    match result {
        Ok(events) if events.iter().all(|e| e.ty == UNMAPPED_TYPE) => {
            Verdict::Skip("still_unmapped")
        }
        Ok(mut events) => {
            let trace = continued(event);
            for e in &mut events {
                e.set_trace(&trace);
            }
            Verdict::Publish(events)
        }
        Err(e) => bad("renormalize_failed", format!("data.original: {e}")),
    }
}

/// The trace a redriven record continues: the record's own, with a new parent id (the redrive
/// is a new step), or a new one.
fn continued(event: &CanonicalEvent) -> TraceContext {
    TraceContext::continue_or_start(
        event.traceparent.as_deref().map(str::as_bytes),
        event.tracestate.as_deref().map(str::as_bytes),
    )
    .0
}

/// `replay`'s filters.
#[derive(Debug, Default)]
pub(crate) struct ReplayFilter {
    /// Only these canonical types.
    pub(crate) types: TypeFilter,
    /// Only events whose `time` is at or after this.
    pub(crate) since: Option<DateTime<Utc>>,
    /// Only events whose `time` is before this.
    pub(crate) until: Option<DateTime<Utc>>,
}

/// Replay one record: the event unchanged, when it passes the filters.
pub(crate) fn replay(
    mut event: CanonicalEvent,
    sources: &Sources,
    filter: &ReplayFilter,
) -> Verdict {
    if event.ty == DEAD_LETTER_TYPE {
        // A dead letter is not an event to backfill: `redrive` turns it into one.
        return Verdict::Skip("dead_letter");
    }
    if !filter.types.accepts(&event.ty) {
        return Verdict::Skip("types");
    }
    if filter.since.is_some() || filter.until.is_some() {
        let time = match DateTime::parse_from_rfc3339(&event.time) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => return bad("bad_time", format!("time {:?}: {e}", event.time)),
        };
        if filter.since.is_some_and(|since| time < since)
            || filter.until.is_some_and(|until| time >= until)
        {
            return Verdict::Skip("time");
        }
    }
    event.source_name = sources.name_of(&event.source);
    Verdict::Publish(vec![event])
}
