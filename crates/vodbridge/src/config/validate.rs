//! Cross-section checks that serde cannot express.

use std::collections::HashSet;

use anyhow::{bail, ensure};

use super::{resolve_sources, Config};

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
            None => bail!(
                "[dead_letter] is required: set sink = \"<sink name>\" and destination = \"<topic, subject or path>\""
            ),
            Some(dl) => {
                ensure!(
                    sinks.contains(dl.sink.as_str()),
                    "dead_letter.sink `{}` is not a configured sink (known: {})",
                    dl.sink,
                    self.sinks.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                );
                ensure!(!dl.destination.trim().is_empty(), "dead_letter.destination must not be empty");
            }
        }
        resolve_sources(&self.sources)?;
        Ok(())
    }
}
