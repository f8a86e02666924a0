//! `pulse-admin`: projects and keys in the Pulse table.
//!
//! ```text
//! pulse-admin project create --name NAME [--id ID] [--retention-days N (default $DEFAULT_RETENTION_DAYS or 365)] [--allowed-origin URL]...
//! pulse-admin project list
//! pulse-admin project rotate-keys --id ID
//! pulse-admin provision
//! ```
//! The table is `TABLE_NAME`, else `${PULSE_STACK_PREFIX:-pulse-dev}-events`;
//! AWS settings (region, credentials, `AWS_ENDPOINT_URL`) come from the
//! environment as for every AWS tool.

use pulse_adapters::provision::{self, StackNames};
use pulse_adapters::{AwsClients, DynamoProjects};
use pulse_core::project::{slug, NewProject};
use std::process::ExitCode;

const USAGE: &str = "usage:
  pulse-admin project create --name NAME [--id ID] [--retention-days N (default $DEFAULT_RETENTION_DAYS or 365)] [--allowed-origin URL]...
                             [--write-key wk_...] [--read-key rk_...]
  pulse-admin project list
  pulse-admin project rotate-keys --id ID
  pulse-admin provision";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pulse-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--flag value` pairs after the subcommand; repeated flags keep every value.
fn flags(args: &[String]) -> Result<Vec<(&str, &str)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}\n{USAGE}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        out.push((name, value.as_str()));
    }
    Ok(out)
}

fn one<'a>(flags: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    flags
        .iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

fn names() -> StackNames {
    let prefix = std::env::var("PULSE_STACK_PREFIX").unwrap_or_else(|_| "pulse-dev".into());
    let mut names = StackNames::with_prefix(&prefix);
    if let Ok(table) = std::env::var("TABLE_NAME") {
        names.table = table;
    }
    names
}

async fn run(args: &[String]) -> Result<(), String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let clients = AwsClients::from_env().await;
    let names = names();
    let projects = DynamoProjects::new(clients.dynamodb.clone(), &names.table);
    match words.as_slice() {
        ["project", "create", rest @ ..] => {
            let f = flags(&args[2..2 + rest.len()])?;
            let name = one(&f, "name").ok_or("--name is required")?;
            let id = one(&f, "id")
                .map(str::to_owned)
                .unwrap_or_else(|| slug(name));
            if id.is_empty() {
                return Err("the name has no letters or digits; give --id".into());
            }
            let mut new = NewProject::new(id, name);
            let days = |v: &str| v.parse().ok().filter(|d| (1..=3650).contains(d));
            // The stack's DefaultRetentionDays, when the operator exports it.
            if let Some(v) = std::env::var("DEFAULT_RETENTION_DAYS")
                .ok()
                .filter(|v| !v.is_empty())
            {
                new.retention_days = days(&v).ok_or("DEFAULT_RETENTION_DAYS must be 1..=3650")?;
            }
            if let Some(v) = one(&f, "retention-days") {
                new.retention_days = days(v).ok_or("--retention-days must be 1..=3650")?;
            }
            new.allowed_origins = f
                .iter()
                .filter(|(n, _)| *n == "allowed-origin")
                .map(|(_, v)| v.to_string())
                .collect();
            if let Some(k) = one(&f, "write-key") {
                new.write_key = k.to_owned();
            }
            if let Some(k) = one(&f, "read-key") {
                new.read_key = k.to_owned();
            }
            let p = projects.create(&new).await.map_err(|e| e.to_string())?;
            println!("project    {}", p.id);
            println!("name       {}", p.name);
            println!("retention  {} days", p.retention_days);
            println!("write key  {}", new.write_key);
            println!("read key   {}", new.read_key);
            println!("(keys are stored hashed: keep them now, they cannot be shown again)");
            Ok(())
        }
        ["project", "list"] => {
            let list = projects.list().await.map_err(|e| e.to_string())?;
            println!(
                "{:<24} {:<32} {:>9}  allowed origins",
                "id", "name", "retention"
            );
            for p in list {
                let origins = if p.allowed_origins.is_empty() {
                    "*".to_owned()
                } else {
                    p.allowed_origins.join(",")
                };
                println!(
                    "{:<24} {:<32} {:>8}d  {origins}",
                    p.id, p.name, p.retention_days
                );
            }
            Ok(())
        }
        ["project", "rotate-keys", ..] => {
            let f = flags(&args[2..])?;
            let id = one(&f, "id").ok_or("--id is required")?;
            let (wk, rk) = projects.rotate_keys(id).await.map_err(|e| e.to_string())?;
            println!("project    {id}");
            println!("write key  {wk}");
            println!("read key   {rk}");
            println!(
                "(the old keys stop working within the functions' key cache time, 60 s by default)"
            );
            Ok(())
        }
        ["provision"] => {
            let p = provision::provision(&clients, &names)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "table  {}\nqueue  {}\ndlq    {}",
                p.table, p.queue_url, p.dead_letter_queue_url
            );
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}
