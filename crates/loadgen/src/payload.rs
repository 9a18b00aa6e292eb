//! Request bodies: the vendor fixtures turned into templates that give every request a fresh
//! media id, so every request is a distinct occurrence with its own canonical event id.
//!
//! The canonical id is a SHA-256 over the whole vendor event (minus the delivery envelope, see
//! `crates/normalizer/src/ids.rs`), so changing any hashed field gives a new id. The field that
//! changes between real occurrences is the media id (or, for events without media, the task id):
//! the event's `partitionkey`. A template is the fixture body cut at every occurrence of that
//! value; a request joins the pieces with a fresh value of the same shape (the original's leading
//! characters, then a 4-digit run tag and a 12-digit sequence number), so the fresh value is
//! consistent wherever the fixture repeats it (`FileId` and `MediaBasicInfo.Vid`, a `Vid` in a
//! URL, …). Every template is checked through the real normalizer at start-up: two renders must
//! give one event each, of the fixture's type, keyed by the fresh value, with ids that differ
//! from each other and from the fixture's own.
//!
//! Fixtures the normalizer rejects become "bad" templates, sent unchanged and expected to be
//! answered 400 (after the bridge stored them as dead letters). Fixtures that yield no event or
//! several (saved `PullEvents` responses) are not callbacks a vendor sends and are skipped.

use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use vodbridge_core::{CanonicalEvent, Provider};
use vodbridge_normalizer::{normalize, SourceContext};

use crate::mix::Class;

/// Characters at the end of a media id replaced by the run tag and sequence number.
pub(crate) const FRESH_TAIL: usize = 16;

/// What the bridge is expected to do with a template's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// One canonical event of this type; answered 200 once every sink acknowledged it.
    Accepted {
        /// Canonical type, e.g. `vod.media.uploaded`.
        event_type: String,
        /// Traffic class of that type.
        class: Class,
    },
    /// Refused by the normalizer for this reason; answered 400 after the dead letter is stored.
    Rejected {
        /// [`vodbridge_normalizer::NormalizeError::reason`].
        reason: &'static str,
    },
}

/// One fixture, ready to be rendered into request bodies.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// `<provider>/<fixture stem>`.
    pub(crate) name: String,
    /// The vendor, which picks the callback route.
    pub(crate) provider: Provider,
    /// What the bridge should answer.
    pub(crate) expect: Expect,
    /// The body cut at every occurrence of the media id (one piece for a rejected fixture).
    pieces: Vec<Vec<u8>>,
    /// The leading part of the media id kept in every fresh one.
    keep: String,
}

/// The fresh media id for request `seq` of run `run_tag`: `keep`, the run tag (4 digits) and the
/// sequence number (12 digits), so ids are unique within a run and across runs with other tags.
pub(crate) fn fresh_media_id(keep: &str, run_tag: u16, seq: u64) -> String {
    format!(
        "{keep}{:04}{:012}",
        run_tag % 10_000,
        seq % 1_000_000_000_000
    )
}

/// The part of `media_id` kept in fresh ids: all but the last [`FRESH_TAIL`] characters.
fn kept_prefix(media_id: &str) -> &str {
    let mut cut = media_id.len().saturating_sub(FRESH_TAIL);
    while !media_id.is_char_boundary(cut) {
        cut -= 1;
    }
    &media_id[..cut]
}

/// Cut `body` at every occurrence of `needle` (which must be non-empty).
fn split_on(body: &[u8], needle: &[u8]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        pieces.push(rest[..at].to_vec());
        rest = &rest[at + needle.len()..];
    }
    pieces.push(rest.to_vec());
    pieces
}

impl Template {
    /// A template that gives fresh ids by replacing `media_id` wherever it occurs in `body`.
    pub(crate) fn accepted(
        name: String,
        provider: Provider,
        body: &[u8],
        media_id: &str,
        event_type: String,
    ) -> Self {
        let class = Class::of(&event_type);
        Self {
            name,
            provider,
            expect: Expect::Accepted { event_type, class },
            pieces: split_on(body, media_id.as_bytes()),
            keep: kept_prefix(media_id).to_owned(),
        }
    }

    /// A template sent unchanged, expected to be refused with `reason`.
    pub(crate) fn rejected(
        name: String,
        provider: Provider,
        body: &[u8],
        reason: &'static str,
    ) -> Self {
        Self {
            name,
            provider,
            expect: Expect::Rejected { reason },
            pieces: vec![body.to_vec()],
            keep: String::new(),
        }
    }

    /// Whether requests of this template should be answered 200.
    pub(crate) fn is_accepted(&self) -> bool {
        matches!(self.expect, Expect::Accepted { .. })
    }

    /// Occurrences of the media id in the body (0 for a rejected template).
    pub(crate) fn occurrences(&self) -> usize {
        self.pieces.len() - 1
    }

    /// The fresh media id request `seq` carries (`None` for a rejected template).
    pub(crate) fn media_id(&self, run_tag: u16, seq: u64) -> Option<String> {
        self.is_accepted()
            .then(|| fresh_media_id(&self.keep, run_tag, seq))
    }

    /// The body of request `seq`.
    pub(crate) fn render(&self, run_tag: u16, seq: u64) -> Vec<u8> {
        let Some(id) = self.media_id(run_tag, seq) else {
            return self.pieces.concat();
        };
        let len = self.pieces.iter().map(Vec::len).sum::<usize>() + id.len() * self.occurrences();
        let mut body = Vec::with_capacity(len);
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(id.as_bytes());
            }
            body.extend_from_slice(piece);
        }
        body
    }

    /// The canonical event the bridge makes of request `seq`, computed with the same normalizer.
    pub(crate) fn event(&self, run_tag: u16, seq: u64) -> anyhow::Result<CanonicalEvent> {
        let mut events = normalize_body(self.provider, &self.render(run_tag, seq))
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.name))?;
        anyhow::ensure!(
            events.len() == 1,
            "{}: {} events instead of one",
            self.name,
            events.len()
        );
        Ok(events.remove(0))
    }

    /// Start-up check that renders of this template are what the bridge will see as distinct
    /// occurrences of the fixture's type (see the module docs).
    pub(crate) fn self_check(&self, original_id: &str) -> anyhow::Result<()> {
        let Expect::Accepted { event_type, .. } = &self.expect else {
            return Ok(());
        };
        anyhow::ensure!(self.occurrences() > 0, "media id not found in the body");
        let (a, b) = (self.event(0, 1)?, self.event(0, 2)?);
        for (seq, ev) in [(1, &a), (2, &b)] {
            anyhow::ensure!(
                &ev.ty == event_type,
                "type changed to {} after the media id was replaced",
                ev.ty
            );
            let fresh = self.media_id(0, seq).unwrap_or_default();
            anyhow::ensure!(
                ev.partitionkey == fresh,
                "partition key {} is not the fresh media id {fresh}",
                ev.partitionkey
            );
        }
        anyhow::ensure!(a.id != b.id, "two renders gave the same id {}", a.id);
        anyhow::ensure!(
            a.id != original_id && b.id != original_id,
            "a render kept the fixture's id"
        );
        Ok(())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expect {
            Expect::Accepted { event_type, class } => {
                write!(f, "{} -> {event_type} ({class})", self.name)
            }
            Expect::Rejected { reason } => write!(f, "{} -> 400 {reason} (bad)", self.name),
        }
    }
}

/// Normalize `body` as the bridge would (the receive time does not enter the id).
pub(crate) fn normalize_body(
    provider: Provider,
    body: &[u8],
) -> Result<Vec<CanonicalEvent>, vodbridge_normalizer::NormalizeError> {
    let ctx = SourceContext {
        source_name: provider.as_str(),
        source_uri: "/vodbridge/loadgen",
        received_at: chrono::Utc::now(),
    };
    normalize(provider, body, &ctx)
}

/// Fixtures read from disk: the usable templates and why the others were left out.
#[derive(Debug, Default)]
pub(crate) struct Fixtures {
    /// Templates that passed their start-up check, in a stable order.
    pub(crate) templates: Vec<Template>,
    /// `(fixture, why)` for every fixture left out.
    pub(crate) skipped: Vec<(String, String)>,
}

/// Read `dir/{tencent,volcengine}/*.json` (not `*.expected.json`) into templates.
pub(crate) fn load(dir: &Path) -> anyhow::Result<Fixtures> {
    let mut out = Fixtures::default();
    for provider in [Provider::Tencent, Provider::Volcengine] {
        let sub = dir.join(provider.as_str());
        let mut paths = std::fs::read_dir(&sub)
            .with_context(|| format!("cannot read fixture directory {}", sub.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()?;
        paths.sort();
        for path in paths {
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(stem) = file.strip_suffix(".json") else {
                continue;
            };
            if stem.ends_with(".expected") {
                continue;
            }
            let name = format!("{provider}/{stem}");
            let body = std::fs::read(&path)
                .with_context(|| format!("cannot read fixture {}", path.display()))?;
            match template_of(name.clone(), provider, &body) {
                Ok(t) => out.templates.push(t),
                Err(why) => out.skipped.push((name, why)),
            }
        }
    }
    Ok(out)
}

/// The template of one fixture, or why it is left out.
fn template_of(name: String, provider: Provider, body: &[u8]) -> Result<Template, String> {
    match normalize_body(provider, body) {
        Err(e) => Ok(Template::rejected(name, provider, body, e.reason())),
        Ok(events) if events.len() != 1 => Err(format!(
            "yields {} events (a saved PullEvents response, not a callback)",
            events.len()
        )),
        Ok(mut events) => {
            let ev = events.remove(0);
            let t = Template::accepted(name, provider, body, &ev.partitionkey, ev.ty.clone());
            t.self_check(&ev.id).map_err(|e| e.to_string())?;
            Ok(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const UPLOAD: &str = r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"5285890784273533167","MediaBasicInfo":{"Name":"a","Vid":"5285890784273533167","MediaUrl":"http://x/5285890784273533167.mp4"}}}"#;

    fn fixtures_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
    }

    #[test]
    fn fresh_ids_keep_the_prefix_and_the_length_of_long_ids() {
        let id = "5285890784273533167";
        let fresh = fresh_media_id(kept_prefix(id), 42, 7);
        assert_eq!(fresh, "5280042000000000007");
        assert_eq!(fresh.len(), id.len());
        // Shorter than the tail: the whole id is replaced and the fresh one is longer.
        assert_eq!(kept_prefix("cast-6f0e"), "");
        // Never cuts inside a character: byte 2 falls inside `é`, so the cut moves back to 1.
        assert_eq!(kept_prefix("aé0123456789abcde"), "a");
    }

    #[test]
    fn every_occurrence_is_replaced_consistently() {
        let t = Template::accepted(
            "t/upload".into(),
            Provider::Tencent,
            UPLOAD.as_bytes(),
            "5285890784273533167",
            "vod.media.uploaded".into(),
        );
        assert_eq!(t.occurrences(), 3);
        let body = String::from_utf8(t.render(1, 99)).expect("utf-8");
        let fresh = t.media_id(1, 99).expect("accepted");
        assert_eq!(body.matches(&fresh).count(), 3);
        assert!(!body.contains("5285890784273533167"));
        assert_eq!(body, UPLOAD.replace("5285890784273533167", &fresh));
    }

    #[test]
    fn renders_give_distinct_canonical_ids() {
        let t = Template::accepted(
            "t/upload".into(),
            Provider::Tencent,
            UPLOAD.as_bytes(),
            "5285890784273533167",
            "vod.media.uploaded".into(),
        );
        let mut ids = HashSet::new();
        for seq in 0..200 {
            let ev = t.event(3, seq).expect("normalizes");
            assert_eq!(ev.ty, "vod.media.uploaded");
            assert!(ids.insert(ev.id), "duplicate id at seq {seq}");
        }
        // Same run tag and sequence: the same id (the verifier recomputes ids this way).
        assert_eq!(t.event(3, 5).expect("ok").id, t.event(3, 5).expect("ok").id);
        // Another run tag, same sequence: another id.
        assert_ne!(t.event(3, 5).expect("ok").id, t.event(4, 5).expect("ok").id);
    }

    #[test]
    fn rejected_templates_are_sent_unchanged() {
        let t = Template::rejected("t/bad".into(), Provider::Tencent, b"not json", "not_json");
        assert!(!t.is_accepted());
        assert_eq!(t.render(1, 1), b"not json");
        assert_eq!(t.render(1, 2), b"not json");
        assert!(t.event(1, 1).is_err());
    }

    #[test]
    fn the_repository_fixtures_load_with_both_vendors_and_distinct_ids() {
        let fx = load(&fixtures_dir()).expect("fixtures load");
        let accepted: Vec<_> = fx.templates.iter().filter(|t| t.is_accepted()).collect();
        for provider in [Provider::Tencent, Provider::Volcengine] {
            assert!(
                accepted.iter().filter(|t| t.provider == provider).count() >= 10,
                "{provider}: too few usable fixtures"
            );
            assert!(
                fx.templates
                    .iter()
                    .any(|t| t.provider == provider && !t.is_accepted()),
                "{provider}: no rejected fixture"
            );
        }
        // Saved PullEvents responses (several events, or none) are left out.
        assert!(fx
            .skipped
            .iter()
            .any(|(n, _)| n == "tencent/pull_events_response"));
        // As in a run (every request its own sequence number, templates interleaved), no two
        // requests share an id. The same sequence number on two templates may: a signed
        // callback and its unsigned twin are one occurrence, since `Sign` and `T` are envelope.
        let mut ids = HashSet::new();
        let mut seq = 0u64;
        for _ in 0..20 {
            for t in &accepted {
                let ev = t.event(7, seq).expect("normalizes");
                assert!(ids.insert(ev.id), "{} seq {seq}: duplicate id", t.name);
                seq += 1;
            }
        }
    }
}
