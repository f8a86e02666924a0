//! Pulse domain logic. Knows nothing of AWS or HTTP: the ingest, consumer and
//! query functions parse their transport, call in here, and map [`error`] types
//! to responses. Storage and queueing are reached through the ports in
//! [`ports`], implemented by `pulse-adapters`.

pub mod consume;
pub mod envelope;
pub mod error;
pub mod event;
pub mod ingest;
pub mod keys;
pub mod limits;
pub mod live;
pub mod ports;
pub mod project;
pub mod query;
pub mod rollup;
pub mod segment;
pub mod time;
pub mod user_agent;
pub mod wire;

pub use envelope::Envelope;
pub use error::{FieldError, IngestError};
pub use event::{Event, Status};
pub use ingest::{IngestOutcome, IngestRequest, Ingestor, PayloadFormat, Rejection};
pub use ports::{DirectoryError, EventQueue, ProjectDirectory, QueueError};
pub use project::{KeyGrant, KeyHash, KeyKind, Project};
