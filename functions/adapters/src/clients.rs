use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use std::time::Duration;

/// The SDK clients, built once per process (per Lambda cold start).
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl AwsClients {
    /// Reads the standard AWS environment (region, credentials, and
    /// `AWS_ENDPOINT_URL` for moto or LocalStack). Attempts are bounded so a
    /// dead endpoint turns into a quick 503 rather than an API Gateway timeout.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(Self::timeouts())
            .load()
            .await;
        Self::from_config(&config)
    }

    /// 2 s to connect, 5 s per attempt, 12 s in all (retries included).
    pub fn timeouts() -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(12))
            .build()
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            sqs: aws_sdk_sqs::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }
}
