use std::fmt;

/// Why one event was refused; names the field so the client can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Request-level failures of the ingest use case. Each maps to one HTTP status
/// in the ingest function (and nowhere else).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("{0}")]
    Malformed(String),
    #[error("missing write key: send `Authorization: Bearer <write key>`, HTTP Basic with the key as user name, or `write_key` in the body")]
    MissingKey,
    #[error("unknown write key")]
    BadKey,
    #[error("a read key cannot send events; use the project's write key")]
    ReadKeyUsed,
    #[error("origin {0} is not allowed for this project")]
    OriginNotAllowed(String),
    #[error("body is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("{0}")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the queue is throttling requests; retry after {retry_after_secs} s")]
    Throttled { retry_after_secs: u32 },
    #[error("the event queue is unavailable; retry after {retry_after_secs} s")]
    QueueUnavailable { retry_after_secs: u32 },
    #[error("the project directory is unavailable; retry after {retry_after_secs} s")]
    DirectoryUnavailable { retry_after_secs: u32 },
}
