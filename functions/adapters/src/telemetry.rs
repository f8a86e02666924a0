//! Logging set-up shared by the functions: JSON lines in Lambda (CloudWatch
//! parses them), readable text on a terminal.

/// JSON logs, level from `RUST_LOG` (default `info`), no ANSI colours and no
/// timestamps (CloudWatch adds its own).
pub fn init_lambda() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Human-readable logs for the dev gateway and tools.
pub fn init_terminal() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .try_init();
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn",
        )
    })
}
