//! Why an input could not be normalized.

/// Why an input could not be normalized. Every variant maps to a short closed-set
/// [`NormalizeError::reason`] for metric labels.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// Placeholder until the parsers land.
    #[error("not supported")]
    Unsupported,
}

impl NormalizeError {
    /// A short, closed-set reason for metrics and dead-letter records.
    pub fn reason(&self) -> &'static str {
        match self {
            NormalizeError::Unsupported => "unsupported",
        }
    }
}
