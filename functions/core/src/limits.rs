//! The numbers of the contract (SPEC.md, "Limits").

/// One event, as sent by the client, in bytes.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// One request body after gzip decoding, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// `type` length in characters.
pub const MAX_TYPE_CHARS: usize = 200;
/// Identifiers (user, anonymous, session, entity, ...) in characters.
pub const MAX_ID_CHARS: usize = 256;
/// Short labels (category, action, environment) in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// How far in the future (after skew correction) a timestamp may lie.
pub const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;
/// Default project retention.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// Default and largest SQS message the ingest packs, in UTF-8 bytes.
pub const DEFAULT_MESSAGE_BYTES: usize = 256 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
