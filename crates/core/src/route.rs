//! Routing helpers shared by the broker sinks: destination templates and type filters.

use wildmatch::WildMatch;

use crate::event::CanonicalEvent;

/// A template is not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// A `{` without its `}`.
    #[error("unclosed `{{` in template `{0}`")]
    Unclosed(String),
    /// A placeholder other than the known ones.
    #[error("unknown placeholder `{{{placeholder}}}` in template `{template}` (known: {{type}}, {{provider}}, {{source}}, {{outcome}})")]
    UnknownPlaceholder {
        /// The template text.
        template: String,
        /// The unknown name.
        placeholder: String,
    },
    /// The template renders to nothing.
    #[error("template is empty")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Type,
    Provider,
    Source,
    Outcome,
}

/// A destination (topic, subject, file name) template such as `vod.{provider}.{type}`.
///
/// Placeholders: `{type}` (canonical type), `{provider}`, `{source}` (configured source name) and
/// `{outcome}`. All of them come from closed sets or configuration, never from payload values, so
/// the number of destinations stays bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationTemplate {
    parts: Vec<Part>,
}

impl DestinationTemplate {
    /// Parse a template, rejecting unknown placeholders up front (at start-up, not per event).
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(template.to_owned()))?;
            parts.push(match &after[..close] {
                "type" => Part::Type,
                "provider" => Part::Provider,
                "source" => Part::Source,
                "outcome" => Part::Outcome,
                other => {
                    return Err(TemplateError::UnknownPlaceholder {
                        template: template.to_owned(),
                        placeholder: other.to_owned(),
                    })
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        if parts.is_empty() {
            return Err(TemplateError::Empty);
        }
        Ok(Self { parts })
    }

    /// The destination for one event.
    pub fn render(&self, event: &CanonicalEvent) -> String {
        let mut out = String::with_capacity(32);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Type => out.push_str(&event.ty),
                Part::Provider => out.push_str(event.provider.as_str()),
                Part::Source => out.push_str(&event.source_name),
                Part::Outcome => out.push_str(event.outcome.as_str()),
            }
        }
        out
    }

    /// True when the template has no placeholder (one fixed destination).
    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }
}

/// An optional allow-list of canonical types with `*` and `?` wildcards (`vod.media.*`).
/// `*` also matches dots, so `vod.*` selects every `vod.` type. An empty filter accepts all.
#[derive(Debug, Clone, Default)]
pub struct TypeFilter {
    patterns: Vec<WildMatch>,
}

impl TypeFilter {
    /// Build a filter from configured patterns; an empty list accepts every type.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        Self {
            patterns: patterns
                .iter()
                .map(|p| WildMatch::new(p.as_ref()))
                .collect(),
        }
    }

    /// True when the filter lets `ty` through.
    pub fn accepts(&self, ty: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(ty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, Provider, TimeSource};
    use serde_json::value::RawValue;

    fn event() -> CanonicalEvent {
        CanonicalEvent {
            specversion: "1.0".into(),
            id: "1".into(),
            source: "/vodbridge/tc".into(),
            ty: "vod.media.uploaded".into(),
            subject: None,
            time: "2024-01-01T00:00:00Z".into(),
            datacontenttype: "application/json".into(),
            provider: Provider::Tencent,
            providertype: "NewFileUpload".into(),
            outcome: Outcome::Succeeded,
            partitionkey: "f".into(),
            timesource: TimeSource::Provider,
            traceparent: None,
            tracestate: None,
            source_name: "tc".into(),
            data: RawValue::from_string("{}".into()).expect("json"),
        }
    }

    #[test]
    fn renders_placeholders() {
        let t = DestinationTemplate::parse("{provider}.{source}.{type}.{outcome}").expect("valid");
        assert_eq!(
            t.render(&event()),
            "tencent.tc.vod.media.uploaded.succeeded"
        );
        assert!(!t.is_fixed());
        assert!(DestinationTemplate::parse("dead")
            .expect("valid")
            .is_fixed());
    }

    #[test]
    fn rejects_bad_templates() {
        assert_eq!(
            DestinationTemplate::parse("a.{typ"),
            Err(TemplateError::Unclosed("a.{typ".into()))
        );
        assert!(matches!(
            DestinationTemplate::parse("{fileid}"),
            Err(TemplateError::UnknownPlaceholder { placeholder, .. }) if placeholder == "fileid"
        ));
        assert_eq!(DestinationTemplate::parse(""), Err(TemplateError::Empty));
    }

    #[test]
    fn filters_types() {
        let f = TypeFilter::new(&["vod.media.*"]);
        assert!(f.accepts("vod.media.uploaded"));
        assert!(!f.accepts("vod.workflow.completed"));
        assert!(TypeFilter::new(&["vod.*"]).accepts("vod.workflow.completed"));
        assert!(TypeFilter::new::<&str>(&[]).accepts("anything"));
    }
}

/// CloudEvents protocol-binding mode for brokers with headers (Kafka, NATS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingMode {
    /// Attributes as headers (`ce_*` on Kafka, `ce-*` on NATS), `data` as the message body.
    Binary,
    /// The whole event as `application/cloudevents+json` in the body.
    #[default]
    Structured,
}
