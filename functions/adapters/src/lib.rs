//! AWS adapters: the ports of `pulse-core` implemented with aws-sdk-sqs and
//! aws-sdk-dynamodb, plus client construction and the provisioning the local
//! stack and the tests use (same definitions as template.yaml).

pub mod clients;
pub mod dynamo_live;
pub mod dynamo_projects;
pub mod dynamo_reads;
pub mod dynamo_store;
pub mod metrics;
pub mod provision;
pub mod sqs_queue;
pub mod telemetry;
pub mod write_meter;

pub use clients::AwsClients;
pub use dynamo_live::DynamoLive;
pub use dynamo_projects::DynamoProjects;
pub use dynamo_reads::DynamoReader;
pub use dynamo_store::DynamoStore;
pub use sqs_queue::SqsEventQueue;
