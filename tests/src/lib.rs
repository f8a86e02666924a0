//! Support for the end-to-end tests: a moto server per test (or the endpoint
//! in `PULSE_TEST_ENDPOINT`), the dev stack on a free port, and helpers to
//! read what reached the queue.

pub mod mix;
pub mod reliability;

use pulse_adapters::provision::StackNames;
use pulse_adapters::AwsClients;
use pulse_gateway::{start_dev_stack, DevStack, DevStackOptions};
use pulse_ingest::Cors;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WRITE_KEY: &str = "wk_test_demo";
pub const READ_KEY: &str = "rk_test_demo";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn venv() -> PathBuf {
    std::env::var_os("PULSE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            // infra/install-python.sh installs it here (PULSE_CACHE defaults to ~/.cache/pulse).
            let cache = std::env::var_os("PULSE_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(home).join(".cache/pulse"));
            cache.join("venv-core")
        })
}

pub fn venv_bin(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run infra/install-python.sh (make test does)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server owned by one test; killed when dropped.
pub struct Moto {
    pub port: u16,
    child: Option<Child>,
    external: Option<String>,
}

impl Moto {
    /// Starts a fresh moto server, or uses `PULSE_TEST_ENDPOINT` when set.
    pub fn start() -> Self {
        if let Ok(endpoint) = std::env::var("PULSE_TEST_ENDPOINT") {
            return Moto {
                port: 0,
                child: None,
                external: Some(endpoint),
            };
        }
        Self::start_owned()
    }

    /// Always a server of our own (for tests that stop and restart it).
    pub fn start_owned() -> Self {
        let mut moto = Moto {
            port: free_port(),
            child: None,
            external: None,
        };
        moto.spawn();
        moto
    }

    pub fn endpoint(&self) -> String {
        self.external
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.port))
    }

    fn spawn(&mut self) {
        // infra/moto_server.py: moto with item-level transaction snapshots.
        let child = Command::new(venv_bin("python"))
            .arg(repo_root().join("infra/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "moto server did not listen on port {} within 30 s",
            self.port
        );
    }

    /// Kills the server: the emulator is down (its state is gone with it).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a new, empty server on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SDK clients pointed at one endpoint with dummy credentials.
pub async fn clients(endpoint: &str) -> AwsClients {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "pulse-tests",
        ))
        .timeout_config(AwsClients::timeouts())
        .load()
        .await;
    AwsClients::from_config(&config)
}

/// The dev stack (gateway with the real handlers) on a free port, with
/// table and queue names unique to this test.
pub struct TestStack {
    pub moto: Moto,
    pub clients: AwsClients,
    pub stack: DevStack,
    pub options: DevStackOptions,
    pub base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestStack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn unique_prefix(label: &str) -> String {
    format!(
        "t-{label}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

impl TestStack {
    pub async fn start(label: &str) -> Self {
        Self::start_on(Moto::start(), label).await
    }

    pub async fn start_on(moto: Moto, label: &str) -> Self {
        let clients = clients(&moto.endpoint()).await;
        let options = DevStackOptions {
            names: StackNames::with_prefix(&unique_prefix(label)),
            demo_write_key: WRITE_KEY.into(),
            demo_read_key: READ_KEY.into(),
            static_root: repo_root(),
            max_message_bytes: pulse_core::limits::DEFAULT_MESSAGE_BYTES,
            cors: Cors::AnyOrigin,
            // Monitoring turned on applies to the next batch.
            monitor_cache: std::time::Duration::ZERO,
        };
        let stack = start_dev_stack(&clients, &options)
            .await
            .expect("dev stack starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(stack.gateway.clone().serve(listener));
        TestStack {
            moto,
            clients,
            stack,
            options,
            base_url,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request with `key` as the bearer; the status and the body as
    /// JSON (or as a JSON string when it is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> (u16, serde_json::Value) {
        let res = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Posts `events` to the ingest, `per_request` per request, and checks
    /// every one was accepted.
    pub async fn ingest(&self, events: &[serde_json::Value], key: &str, per_request: usize) {
        for chunk in events.chunks(per_request.max(1)) {
            let res = reqwest::Client::new()
                .post(self.url("/v1/events"))
                .bearer_auth(key)
                .body(serde_json::json!({ "events": chunk }).to_string())
                .send()
                .await
                .unwrap();
            let out: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
            assert_eq!(out["accepted"].as_u64(), Some(chunk.len() as u64), "{out}");
        }
    }

    /// Runs the consumer (local event source) until the queue is empty.
    pub async fn consume_all(&mut self) {
        self.stack.event_source.wait_seconds = 0;
        loop {
            let r = self.stack.event_source.poll_once().await.unwrap();
            assert_eq!(r.failed, 0);
            if r.received == 0 {
                break;
            }
        }
    }

    /// Every message body on the event queue, received and deleted.
    pub async fn drain_queue(&self) -> Vec<String> {
        drain(&self.clients.sqs, &self.stack.provisioned.queue_url).await
    }
}

pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut empty_polls = 0;
    while empty_polls < 2 {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .visibility_timeout(60)
            .send()
            .await
            .expect("receive works");
        let messages = out.messages();
        if messages.is_empty() {
            empty_polls += 1;
            continue;
        }
        for m in messages {
            bodies.push(m.body().unwrap_or_default().to_owned());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete works");
        }
    }
    bodies
}

/// The events inside envelope bodies, as JSON values (envelope fields copied in).
pub fn events_of(bodies: &[String]) -> Vec<serde_json::Value> {
    bodies
        .iter()
        .flat_map(|b| {
            let env = pulse_core::envelope::decode(b).expect("a valid envelope");
            env.events
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap();
                    v["project_id"] = env.project_id.as_ref().into();
                    v
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
