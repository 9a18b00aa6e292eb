//! `data` written by hand on the fast path: byte for byte what the derived `Serialize` of
//! [`Data`] writes (the tests and the reference path hold the two equal), and handed to
//! `RawValue` without a second scan. What it saves is measured in docs/performance.md.

use std::cell::RefCell;
use std::fmt::Write as _;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserializer};

use super::layout::{Data, RAW_VALUE_MARKER};

/// A member name as it is written: quoted, with its colon.
macro_rules! k {
    ($name:literal) => {
        concat!("\"", $name, "\":")
    };
}

impl Data<'_, '_> {
    /// The JSON text of `data`: byte for byte what the derived `Serialize` writes (a unit test
    /// holds the two equal), into a `String` of exactly its size. Through serde every member
    /// name is escaped on every call, every value escaped byte by byte, and the buffer grown from
    /// 128 bytes.
    ///
    /// The members before `original` are written into a reused per-thread buffer first, so that
    /// the result is allocated once at its exact size: `Box<RawValue>` holds a boxed `str`, and a
    /// larger buffer would be reallocated to fit (a kilobyte-sized realloc per event).
    pub(super) fn to_json(&self) -> String {
        let original = self.original.get();
        let assemble = |prefix: &mut String| {
            prefix.clear();
            self.write_members(prefix);
            let mut out = String::with_capacity(prefix.len() + original.len() + 1);
            out.push_str(prefix);
            out.push_str(original);
            out.push('}');
            out
        };
        // `try_with`: on a thread that is shutting down, a fresh buffer does the same.
        PREFIX
            .try_with(|prefix| {
                let mut prefix = prefix.borrow_mut();
                let out = assemble(&mut prefix);
                if prefix.capacity() > PREFIX_KEEP {
                    *prefix = String::new();
                }
                out
            })
            .unwrap_or_else(|_| assemble(&mut String::new()))
    }

    /// `{` and every member up to the name of `original` (which comes last), with its colon.
    fn write_members(&self, out: &mut String) {
        out.push('{');
        let mut w = JsonObject { out, empty: true };
        if let Some(m) = self.media {
            w.key(k!("media"));
            w.out.push('{');
            let mut o = JsonObject {
                out: w.out,
                empty: true,
            };
            o.push_str(k!("id"), m.id.as_deref());
            if !m.ids.is_empty() {
                o.key(k!("ids"));
                o.out.push('[');
                for (i, id) in m.ids.iter().enumerate() {
                    if i > 0 {
                        o.out.push(',');
                    }
                    json_string(o.out, id);
                }
                o.out.push(']');
            }
            o.push_str(k!("name"), m.name.as_deref());
            o.push_str(k!("url"), m.url.as_deref());
            o.push_str(k!("sourceUrl"), m.source_url.as_deref());
            o.push_str(k!("storeUri"), m.store_uri.as_deref());
            o.push_number(k!("size"), m.size);
            o.push_number(k!("duration"), m.duration);
            o.out.push('}');
        }
        if let Some(t) = self.task {
            w.key(k!("task"));
            w.out.push('{');
            let mut o = JsonObject {
                out: w.out,
                empty: true,
            };
            o.push_str(k!("id"), t.id.as_deref());
            o.push_str(k!("kind"), t.kind);
            o.push_str(k!("status"), t.status.as_deref());
            o.out.push('}');
        }
        if let Some(e) = &self.error {
            w.key(k!("error"));
            w.out.push('{');
            let mut o = JsonObject {
                out: w.out,
                empty: true,
            };
            o.push_str(k!("code"), e.code);
            o.push_str(k!("message"), e.message);
            o.out.push('}');
        }
        w.push_str(k!("context"), self.context);
        w.push_str(k!("sessionId"), self.session_id);
        w.push_str(k!("space"), self.space);
        w.push_str(k!("storageRegion"), self.storage_region);
        w.key(k!("original"));
    }
}

thread_local! {
    /// The members before `original`, written by [`Data::to_json`].
    static PREFIX: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Capacity past which the prefix buffer is freed rather than kept (a huge context string must
/// not pin its memory for good).
const PREFIX_KEEP: usize = 16 * 1024;

/// The members of a JSON object being written (the `{` is written already).
struct JsonObject<'o> {
    out: &'o mut String,
    /// No member written yet.
    empty: bool,
}

impl JsonObject<'_> {
    /// The next member's name, written as `k!` gives it.
    fn key(&mut self, name: &str) {
        if !std::mem::replace(&mut self.empty, false) {
            self.out.push(',');
        }
        self.out.push_str(name);
    }

    fn push_str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.key(name);
            json_string(self.out, value);
        }
    }

    /// A size or duration, as [`number`] serializes it.
    fn push_number(&mut self, name: &str, value: Option<f64>) {
        let Some(f) = value else { return };
        self.key(name);
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            let _ = write!(self.out, "{}", f as i64);
        } else {
            self.out
                .push_str(&serde_json::to_string(&f).unwrap_or_else(|_| "null".to_owned()));
        }
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it (control characters, `"` and `\`),
/// copied as it is when nothing needs escaping.
fn json_string(out: &mut String, s: &str) {
    // Branch-free, so that the compiler vectorizes the scan.
    let escape = s
        .bytes()
        .fold(false, |e, b| e | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !escape {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "null".to_owned()));
    }
}

/// JSON text written here, presented to `Box<RawValue>`'s `Deserialize` as the one-member map
/// (serde_json's private marker key, then the text) from which it takes a raw value as it is:
/// the only way to make one from a `String` without a validating scan. Should serde_json ever
/// stop accepting it, `build` falls back to serializing through serde; a unit test watches it.
pub(super) struct Written(pub(super) String);

impl<'de> Deserializer<'de> for Written {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_map(WrittenMap {
            text: Some(self.0),
            key_given: false,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The map of [`Written`]: the marker key, then the text.
struct WrittenMap {
    text: Option<String>,
    key_given: bool,
}

impl<'de> MapAccess<'de> for WrittenMap {
    type Error = de::value::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        if std::mem::replace(&mut self.key_given, true) {
            return Ok(None);
        }
        seed.deserialize(BorrowedStrDeserializer::new(RAW_VALUE_MARKER))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let text = self
            .text
            .take()
            .ok_or_else(|| de::Error::custom("raw value read twice"))?;
        seed.deserialize(StringDeserializer::new(text))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde_json::value::RawValue;

    use super::super::layout::{ErrorInfo, Media, Original, Task};
    use super::*;

    #[test]
    fn written_text_becomes_a_raw_value_as_is() {
        // The serde_json behaviour `build` relies on still holds (else it falls back).
        let text = r#"{"a" : [1, "\u00e9"]}"#;
        let raw = <Box<RawValue>>::deserialize(Written(text.to_owned())).expect("accepted");
        assert_eq!(raw.get(), text);
    }

    #[test]
    fn data_is_written_as_serde_writes_it() {
        let nasty = Cow::Borrowed("a\"b\\c\u{1}\n\té😀\u{7f}/");
        let media = Media {
            id: Some(Cow::Borrowed("id")),
            ids: vec![Cow::Borrowed("1"), nasty.clone()],
            name: Some(nasty.clone()),
            url: Some(Cow::Borrowed("https://x/y?z=1&w=<2>")),
            source_url: Some(Cow::Borrowed("")),
            store_uri: Some(Cow::Borrowed("s")),
            size: Some(1234.0),
            duration: Some(12.5),
        };
        let task = Task {
            id: Some(Cow::Borrowed("t")),
            kind: Some("transcode"),
            status: Some(nasty.clone()),
        };
        let numbers = [
            None,
            Some(0.0),
            Some(-0.0),
            Some(-3.0),
            Some(8.9e15),
            Some(9.1e15),
            Some(1e300),
            Some(0.1),
            Some(-1e-7),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ];
        let sparse_media = Media {
            duration: Some(3.0),
            ..Media::default()
        };
        let sparse_task = Task {
            kind: Some("review"),
            ..Task::default()
        };
        for (i, size) in numbers.into_iter().enumerate() {
            let media = Media {
                size,
                ..Media {
                    ids: media.ids.clone(),
                    ..Media::default()
                }
            };
            let full = i % 2 == 0;
            let data = Data {
                media: Some(if i == 3 { &sparse_media } else { &media }),
                task: if i == 4 {
                    Some(&sparse_task)
                } else {
                    full.then_some(&task)
                },
                error: full.then(|| ErrorInfo {
                    code: Some("E"),
                    message: Some(&nasty),
                }),
                context: full.then_some("ctx"),
                session_id: Some("s\u{0}"),
                space: None,
                storage_region: full.then_some("ap-guangzhou"),
                original: Original::Text("{ \"a\" : 1 }"),
            };
            assert_eq!(
                data.to_json(),
                serde_json::to_string(&data).expect("serializes"),
                "{size:?}"
            );
        }
        let full = Data {
            media: Some(&media),
            task: Some(&task),
            error: Some(ErrorInfo {
                code: None,
                message: None,
            }),
            context: Some(""),
            session_id: None,
            space: Some("sp"),
            storage_region: None,
            original: Original::Text("[]"),
        };
        assert_eq!(
            full.to_json(),
            serde_json::to_string(&full).expect("serializes")
        );
        let empty = Data {
            media: None,
            task: None,
            error: None,
            context: None,
            session_id: None,
            space: None,
            storage_region: None,
            original: Original::Text("{}"),
        };
        assert_eq!(
            empty.to_json(),
            serde_json::to_string(&empty).expect("serializes")
        );
    }
}
