//! Tencent Cloud VOD: normal-callback bodies (`EventContent` v3 and the legacy v2 format),
//! `PullEvents` responses and single pulled `EventSet` elements.

mod event_set;
mod fast;
mod legacy;
mod members;
mod payload;

use std::borrow::Cow;

use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Provider};

use crate::context::{Path, PulledEvent, SourceContext};
use crate::error::NormalizeError;
use crate::ids;
use crate::lenient::{self, Obj};
use crate::record::{self, Header, Original};
use crate::types::{self, UNMAPPED_TYPE};
pub(crate) use event_set::pull_response;
use members::{Member, Members};
use payload::Payload;

/// Top-level members excluded from the id: the pull queue's handle and the callback's
/// authentication fields (both differ between deliveries of one occurrence).
const ID_EXCLUDED: &[&str] = &["EventHandle", "Sign", "T", "sign", "t"];

/// An event object as read: its members, its id when the reading computed it, and its text.
struct Read<'a> {
    members: Members<'a>,
    id: Option<String>,
    original: Original<'a>,
}

/// A whole body: a v3 event, a v2 event or a `PullEvents` response.
pub(crate) fn normalize(
    path: Path,
    text: &str,
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    if path == Path::Fast {
        if let Some(events) = fast::body(text) {
            return events?.into_iter().map(|e| event(path, e, ctx)).collect();
        }
    }
    let members = Members::raw(text)?.ok_or(NormalizeError::NotObject)?;
    if let Some(response) = members.get("Response").and_then(Member::raw) {
        return pull_response(response)?
            .into_iter()
            .map(|element| event(path, reference_read(element)?, ctx))
            .collect();
    }
    let raw = serde_json::from_str(text).map_err(NormalizeError::json)?;
    let read = Read {
        members,
        id: None,
        original: Original::Raw(raw),
    };
    if is_legacy(&read.members) {
        return legacy_event(path, read, ctx).map(|e| vec![e]);
    }
    event(path, read, ctx).map(|e| vec![e])
}

/// One pulled `EventSet` element.
pub(crate) fn pulled(path: Path, raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    let fast = match path {
        Path::Fast => fast::event(raw_event),
        Path::Reference => None,
    };
    let read = match fast {
        Some(read) => Ok(read),
        None => serde_json::from_str(raw_event)
            .map_err(NormalizeError::json)
            .and_then(reference_read),
    };
    match read {
        Err(e) => PulledEvent {
            handle: None,
            result: Err(e),
        },
        Ok(read) => PulledEvent {
            handle: read
                .members
                .get("EventHandle")
                .and_then(|h| h.scalar().ok())
                .and_then(|h| h.text())
                .map(Cow::into_owned),
            result: event(path, read, ctx),
        },
    }
}

/// The reference reading of an event object: its members raw, its id left to the mapper.
fn reference_read(raw: &RawValue) -> Result<Read<'_>, NormalizeError> {
    Ok(Read {
        members: Members::raw(raw.get())?.ok_or(NormalizeError::NotObject)?,
        id: None,
        original: Original::Raw(raw),
    })
}

/// A body in the legacy v2 format: `eventType` and no `EventType`.
fn is_legacy(top: &Members<'_>) -> bool {
    top.get("EventType").is_none() && top.get("eventType").is_some()
}

/// A v3 `EventContent` object.
fn event(
    path: Path,
    read: Read<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let top = &read.members;
    let vendor_type = event_type(top, "EventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    let member = match mapping {
        Some(m) => m
            .payload_keys
            .iter()
            .find_map(|k| top.get(k).map(|v| (Some(*k), v))),
        // Forward-compatible: a new event type's payload is found by name, else it is the
        // object member with the smallest key (deterministic whatever the member order).
        None => unmapped_payload(top, &vendor_type).map(|v| (None, v)),
    };
    let mut slot = None;
    let payload = match member {
        None => None,
        Some((key, member)) => match (member.payload(&mut slot)?, key) {
            (Some(p), _) => Some(p),
            // A guessed payload that is not an object is no payload.
            (None, None) => None,
            (None, Some(key)) => return Err(NormalizeError::field(key, "an object")),
        },
    };
    let (outcome, x) = payload.unwrap_or(&Payload::default()).map(mapping)?;
    let id = match read.id {
        Some(id) => id,
        None => ids::event_id(Provider::Tencent, read.original.get(), ID_EXCLUDED)?,
    };
    let header = Header {
        provider: Provider::Tencent,
        providertype: &vendor_type,
        ty: mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type),
        outcome,
        id,
        // EventContent carries no occurrence time (see docs/events.md, "time").
        time: None,
    };
    Ok(record::build(path, header, x, read.original, ctx))
}

/// A legacy v2 body (the whole body is the event; nothing is excluded from the id), read along
/// the reference path only.
fn legacy_event(
    path: Path,
    read: Read<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let top = &read.members;
    let vendor_type = event_type(top, "eventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    let data = match top.get("data").and_then(Member::raw) {
        None => legacy::Data::default(),
        Some(v) => match lenient::view::<Obj<legacy::Data<'_>>>(v.get())? {
            Obj::Some(d) => d,
            Obj::Other => return Err(NormalizeError::field("data", "an object")),
        },
    };
    let (outcome, x) = data.map(mapping)?;
    let header = Header {
        provider: Provider::Tencent,
        providertype: &vendor_type,
        ty: mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type),
        outcome,
        id: ids::event_id(Provider::Tencent, read.original.get(), &[])?,
        time: None,
    };
    Ok(record::build(path, header, x, read.original, ctx))
}

/// The payload member of an unmapped type: `<EventType>Event`, `<EventType>`, else the object
/// member with the smallest key.
fn unmapped_payload<'m, 'a>(top: &'m Members<'a>, vendor_type: &str) -> Option<&'m Member<'a>> {
    let named = format!("{vendor_type}Event");
    top.get(&named)
        .or_else(|| top.get(vendor_type))
        .or_else(|| {
            top.members
                .iter()
                .filter(|(k, v)| !ID_EXCLUDED.contains(&k.as_ref()) && v.is_object())
                .min_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, v)| v)
        })
}

/// The event type member `key`: a non-empty string.
fn event_type<'a>(top: &Members<'a>, key: &'static str) -> Result<Cow<'a, str>, NormalizeError> {
    lenient::event_type(top.get(key).map(Member::scalar).transpose()?, key)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_fast_reading_gives_the_id_of_the_whole_object() {
        let cases = [
            r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1","MediaBasicInfo":{"Name":"a","Size":null}},"EventHandle":"h"}"#,
            r#"{"EventHandle":"h","EventType":"NewFileUpload","Z":[1,null],"FileUploadEvent":{"b":1,"a":2},"A":null}"#,
            r#"{"EventType":"NewFileUpload","FileUploadEvent":null,"FileUploadEvent":{"FileId":"2"},"T":"1","Sign":"x"}"#,
            r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1"},"FileUploadEvent":{"FileId":"2"}}"#,
            r#"{"EventType":"NewFileUpload","FileUploadEvent":{"Z\u00e9":"\u0041","A":[{"y":1,"x":-2.5}]},"B":{}}"#,
            r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"NewFileUpload"}"#,
            r#"{"Z":1,"FileUploadEvent":{"b":2,"a":1},"EventHandle":"h","EventType":"NewFileUpload"}"#,
            r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"SomethingNew"}"#,
            r#"{"EventType":"SomethingNew","SomethingNewEvent":{"b":[2],"a":1}}"#,
        ];
        for json in cases {
            let read = fast::event(json).expect("read in one pass");
            let expected = ids::event_id(Provider::Tencent, json, ID_EXCLUDED).expect("valid");
            assert_eq!(read.id, Some(expected), "{json}");
            assert_eq!(read.original.get(), json);
        }
        // A member that cannot be decoded, or a payload view that refuses its object (a known
        // field twice), leaves the event to the reference reading, which reports the error.
        for json in [
            r#"{"EventType":"NewFileUpload","X":"\ud800"}"#,
            r#"{"EventType":"NewFileUpload","X":{"FileId":"1","FileId":"2"}}"#,
            r#"[{"EventType":"NewFileUpload"}]"#,
        ] {
            assert!(fast::event(json).is_none(), "{json}");
        }
    }

    #[test]
    fn an_envelope_member_that_is_not_a_scalar_is_read_as_the_reference_reads_it() {
        // It may be an unmapped type's payload: by its name, or as the smallest object member.
        for json in [
            r#"{"EventType":"EventHandle","EventHandle":{"FileId":"f1"}}"#,
            r#"{"EventType":"Custom","EventType":{"FileId":"f1"}}"#,
        ] {
            assert!(fast::event(json).is_none(), "{json}");
            let event = &normalize(Path::Fast, json, &test_ctx()).expect("normalizes")[0];
            assert_eq!(event.subject.as_deref(), Some("f1"), "{json}");
        }
    }

    /// Element texts with every kind of string content the scanner must step over, the last
    /// member's key among them (escaped, it is not borrowed, so the scan starts before it).
    fn element(strings: &[String], spaces: &[&str], k: usize) -> String {
        let s =
            |i: usize| serde_json::to_string(&strings[(i + k) % strings.len()]).expect("string");
        let w = |i: usize| spaces[(i + k) % spaces.len()];
        format!(
            "{{{w0}\"EventType\"{w1}:{w2}\"NewFileUpload\"{w3},\"FileUploadEvent\":{w4}{{\"FileId\":{s0},{w5}\"A\":[{s1},{{{s2}:{s3}}},[],{{}}],{s4}:{s5}{w6}}}{w7},{s6}:[{s7}]}}",
            w0 = w(0), w1 = w(1), w2 = w(2), w3 = w(3), w4 = w(4), w5 = w(5), w6 = w(6), w7 = w(7),
            s0 = s(0), s1 = s(1), s2 = s(2), s3 = s(3), s4 = s(4), s5 = s(5), s6 = s(6), s7 = s(7),
        )
    }

    proptest! {
        #[test]
        fn elements_read_in_one_pass_are_located_exactly(
            strings in prop::collection::vec("[\"\\\\{}\\[\\],: aé\u{1F600}]{0,8}", 1..6),
            spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "\n", "\t\r\n "]), 1..8),
            count in 1usize..4,
        ) {
            let texts: Vec<String> = (0..count)
                .map(|i| element(&strings, &spaces, i))
                .collect();
            let w = spaces[0];
            let body = format!(
                "{{\"Response\":{{\"EventSet\":[{w}{}{w}],\"RequestId\":\"]}}\"}}}}",
                texts.join(&format!("{w},{w}"))
            );
            let reads = fast::pull_in_one_pass(&body).expect("one pass").expect("events");
            prop_assert_eq!(reads.len(), texts.len());
            for (read, text) in reads.iter().zip(&texts) {
                prop_assert_eq!(read.original.get(), text.as_str());
                let id = ids::event_id(Provider::Tencent, text, ID_EXCLUDED).expect("valid");
                prop_assert_eq!(read.id.as_deref(), Some(id.as_str()));
            }
        }
    }

    #[test]
    fn an_element_whose_first_key_has_an_escape_is_left_to_the_reference_reading() {
        let body = r#"{"Response":{"EventSet":[{"\u0045ventType":"NewFileUpload"}]}}"#;
        assert!(fast::pull_in_one_pass(body).is_none());
        let events = normalize(Path::Fast, body, &test_ctx()).expect("normalizes");
        assert_eq!(events[0].ty, "vod.media.uploaded");
    }

    fn test_ctx() -> SourceContext<'static> {
        SourceContext {
            source_name: "t",
            source_uri: "/t",
            received_at: chrono::DateTime::UNIX_EPOCH,
        }
    }
}
