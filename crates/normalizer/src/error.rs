//! Why an input could not be normalized.

/// Why an input could not be normalized. Every variant maps to a short closed-set
/// [`NormalizeError::reason`] for metric labels; the Display text says what is wrong without
/// quoting payload values (ingress logs it and puts it into dead letters).
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The bytes are not one well-formed JSON document (or not UTF-8).
    #[error("body is not valid JSON")]
    NotJson(#[source] serde_json::Error),
    /// The event nests arrays and objects more than 100 levels deep (or the body past
    /// serde_json's limit of 128), so it is refused rather than forwarded to consumers whose
    /// parsers would fail on the canonical event that embeds it.
    #[error("event nests JSON deeper than 100 levels")]
    TooDeep,
    /// The JSON document is not an object (an array, a string, a number …).
    #[error("body is not a JSON object")]
    NotObject,
    /// The object has no event type (`EventType`, or `eventType` in the Tencent v2 format).
    #[error("event has no EventType")]
    MissingEventType,
    /// A field vodbridge relies on has an unusable JSON type (e.g. an object where an id belongs).
    #[error("field `{field}` has the wrong type (expected {expected})")]
    FieldType {
        /// The vendor's field name (a path such as `Data.Vid` where useful).
        field: &'static str,
        /// What vodbridge accepts there.
        expected: &'static str,
    },
    /// The provider has no vendor payloads to normalize (`vodbridge` itself).
    #[error("provider has no event format")]
    UnsupportedProvider,
    /// A Tencent `PullEvents` response carried an API error instead of events.
    #[error("pull response carries API error {code}")]
    ApiError {
        /// Tencent's error code, e.g. `AuthFailure.SignatureFailure` (a closed vendor set).
        code: String,
        /// Tencent's error message.
        message: String,
    },
}

impl NormalizeError {
    /// A short, closed-set reason for metrics and dead-letter records.
    pub fn reason(&self) -> &'static str {
        match self {
            NormalizeError::NotJson(_) => "not_json",
            NormalizeError::TooDeep => "too_deep",
            NormalizeError::NotObject => "not_object",
            NormalizeError::MissingEventType => "missing_event_type",
            NormalizeError::FieldType { .. } => "wrong_field_type",
            NormalizeError::UnsupportedProvider => "unsupported_provider",
            NormalizeError::ApiError { .. } => "api_error",
        }
    }

    /// Every value [`NormalizeError::reason`] can return (to pre-create metric label sets).
    pub const REASONS: &'static [&'static str] = &[
        "not_json",
        "too_deep",
        "not_object",
        "missing_event_type",
        "wrong_field_type",
        "unsupported_provider",
        "api_error",
    ];

    /// Classify a parse failure: serde_json reports nesting past its recursion limit as a plain
    /// syntax error, but the document may be well-formed JSON, so it gets its own reason. The
    /// crate's own depth check (level 100) is typed and refuses nearly every such body first;
    /// serde_json exposes no error code for its limit, so this one case is recognized by its
    /// message, stable since serde_json 1.0.
    pub(crate) fn json(err: serde_json::Error) -> Self {
        if err.is_syntax() && err.to_string().starts_with("recursion limit exceeded") {
            NormalizeError::TooDeep
        } else {
            NormalizeError::NotJson(err)
        }
    }

    pub(crate) fn field(field: &'static str, expected: &'static str) -> Self {
        NormalizeError::FieldType { field, expected }
    }
}
