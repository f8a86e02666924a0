//! `pulse-gateway`: the whole stack on a laptop. Infra scripts start the AWS
//! emulator and point `AWS_ENDPOINT_URL` at it; this binary provisions,
//! creates the demo project and serves on 127.0.0.1:$PULSE_PORT.

use pulse_adapters::provision::StackNames;
use pulse_adapters::{telemetry, AwsClients};
use pulse_core::limits::DEFAULT_MESSAGE_BYTES;
use pulse_gateway::{start_dev_stack, DevStackOptions};
use pulse_ingest::Cors;
use std::net::SocketAddr;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    telemetry::init_terminal();
    if let Err(e) = run().await {
        eprintln!("pulse-gateway: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let port: u16 = env_or("PULSE_PORT", "3000")
        .parse()
        .map_err(|_| "PULSE_PORT must be a port number")?;
    let host = env_or("PULSE_HOST", "127.0.0.1");
    let opts = DevStackOptions {
        names: StackNames::with_prefix(&env_or("PULSE_STACK_PREFIX", "pulse-dev")),
        demo_write_key: env_or("PULSE_DEV_WRITE_KEY", "wk_dev_demo"),
        demo_read_key: env_or("PULSE_DEV_READ_KEY", "rk_dev_demo"),
        static_root: env_or("PULSE_STATIC_ROOT", ".").into(),
        max_message_bytes: env_or("MAX_MESSAGE_BYTES", &DEFAULT_MESSAGE_BYTES.to_string())
            .parse()
            .map_err(|_| "MAX_MESSAGE_BYTES must be a number")?,
        cors: Cors::parse(&env_or("CORS_ALLOWED_ORIGINS", "*")),
        monitor_cache: std::time::Duration::from_secs_f64(
            env_or("PULSE_MONITOR_CACHE_SECONDS", "2")
                .parse()
                .map_err(|_| "PULSE_MONITOR_CACHE_SECONDS must be a number")?,
        ),
    };
    let clients = AwsClients::from_env().await;
    let stack = start_dev_stack(&clients, &opts).await?;
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("bad address: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        format!("cannot listen on {addr}: {e} (set PULSE_PORT to use another port)")
    })?;
    let base = format!("http://{addr}");
    println!();
    println!("  Pulse is running at {base}");
    println!("    table      {}", stack.provisioned.table);
    println!("    queue      {}", stack.provisioned.queue_url);
    println!("    dlq        {}", stack.provisioned.dead_letter_queue_url);
    println!(
        "    project    {} (write key {}, read key {})",
        stack.demo.id, opts.demo_write_key, opts.demo_read_key
    );
    println!("    ingest     POST {base}/v1/events   (Segment: {base}/v1/batch)");
    println!("    demo page  {base}/demo/");
    println!(
        "    dashboard  {base}/dashboard   (read key {})",
        opts.demo_read_key
    );
    println!("    health     {base}/health");
    println!();
    tokio::select! {
        _ = stack.gateway.clone().serve(listener) => Ok(()),
        _ = stack.event_source.run() => Ok(()),
        _ = tokio::signal::ctrl_c() => {
            println!("pulse-gateway: stopping");
            Ok(())
        }
    }
}
