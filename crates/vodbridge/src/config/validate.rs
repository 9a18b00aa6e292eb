//! Cross-section checks that serde cannot express.

use std::collections::HashSet;

use anyhow::{bail, ensure};

use super::{resolve_sources, Config, SinkSettings};

impl Config {
    /// Check names, references and limits; resolve secrets once so a missing file or variable
    /// fails at start-up (and in `check-config`), not at the first callback.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            !self.sources.is_empty(),
            "at least one [[sources]] entry is required"
        );
        ensure!(
            !self.sinks.is_empty(),
            "at least one [[sinks]] entry is required"
        );
        ensure!(
            self.server.max_body_bytes > 0,
            "server.max_body_bytes must be greater than 0"
        );
        ensure!(
            self.server.max_in_flight > 0,
            "server.max_in_flight must be greater than 0"
        );
        ensure!(
            !self.server.header_timeout.is_zero(),
            "server.header_timeout must be greater than 0"
        );
        ensure!(
            !self.server.body_timeout.is_zero(),
            "server.body_timeout must be greater than 0"
        );
        ensure!(
            !self.server.ack_timeout.is_zero(),
            "server.ack_timeout must be greater than 0"
        );
        if let Some(spool) = &self.spool {
            spool.validate().map_err(anyhow::Error::msg)?;
        }
        let mut names = HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let name = &source.name;
            ensure!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "sources[{i}].name `{name}` must be non-empty and use only A-Z, a-z, 0-9, `-`, `_` (it is a URL path segment)"
            );
            ensure!(
                names.insert(name.as_str()),
                "sources[{i}].name `{name}` is used twice"
            );
            if let Some(poll) = &source.poll {
                ensure!(
                    source.provider == super::ProviderName::Tencent,
                    "sources[{i}].poll is only for provider = \"tencent\""
                );
                poll.validate()
                    .and_then(|()| poll.credentials().map(drop))
                    .map_err(|e| anyhow::anyhow!("sources[{i}].poll: {e}"))?;
            }
        }
        let mut sinks = HashSet::new();
        for (i, sink) in self.sinks.iter().enumerate() {
            let name = sink.name();
            ensure!(!name.trim().is_empty(), "sinks[{i}].name must not be empty");
            ensure!(sinks.insert(name), "sinks[{i}].name `{name}` is used twice");
        }
        match &self.dead_letter {
            // Filled in by loading whenever there is a sink (checked above).
            None => bail!("no dead-letter route: add a [[sinks]] entry or a [dead_letter] section"),
            Some(dl) => {
                ensure!(
                    sinks.contains(dl.sink.as_str()),
                    "dead_letter.sink `{}` is not a configured sink (known: {})",
                    dl.sink,
                    self.sinks
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ensure!(
                    !dl.destination.trim().is_empty(),
                    "dead_letter.destination must not be empty"
                );
            }
        }
        resolve_sources(&self.sources)?;
        Ok(())
    }
}

impl Config {
    /// What is valid but probably not meant, one sentence each, for the start-up log and
    /// `check-config`: today, a dead-letter subject that the JetStream stream the sink manages
    /// does not bind (every dead letter would then be refused with 503, as no stream answers).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(dl) = &self.dead_letter else {
            return out;
        };
        for sink in &self.sinks {
            let (name, SinkSettings::Nats(config)) = (&sink.name, &sink.settings) else {
                continue;
            };
            let Some(stream) = config.stream.as_ref().filter(|_| config.jetstream) else {
                continue;
            };
            if *name == dl.sink
                && !stream
                    .subjects
                    .iter()
                    .any(|s| subject_matches(s, &dl.destination))
            {
                out.push(format!(
                    "dead letters go to subject `{}` on sink `{name}`, which its stream `{}` does not bind ({}): add it to [sinks.stream] subjects or set [dead_letter] destination",
                    dl.destination,
                    stream.name,
                    stream.subjects.join(", ")
                ));
            }
        }
        out
    }
}

/// True when the NATS subject `pattern` (`*` one token, `>` the rest) matches `subject`.
pub(super) fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in pattern.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (w, Some(t)) if w == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}
