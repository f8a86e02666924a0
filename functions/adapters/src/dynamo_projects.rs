//! Projects and keys as items in the Pulse table ([`pulse_core::keys`]):
//! the [`ProjectDirectory`] port plus the admin operations of `pulse-admin`.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use pulse_core::keys::{key_pk, project_pk, KEY_SK, PK, PROJECT_SK, SK};
use pulse_core::project::{generate_key, KeyGrant, KeyHash, KeyKind, NewProject, Project};
use pulse_core::{DirectoryError, ProjectDirectory};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum ProjectStoreError {
    #[error("project {0:?} already exists")]
    Exists(String),
    #[error("project {0:?} not found")]
    NotFound(String),
    #[error("stored project item is malformed: {0}")]
    Corrupt(String),
    #[error("DynamoDB: {0}")]
    Dynamo(String),
}

fn dynamo<E: std::error::Error + 'static>(e: E) -> ProjectStoreError {
    ProjectStoreError::Dynamo(DisplayErrorContext(e).to_string())
}

#[derive(Clone)]
pub struct DynamoProjects {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn project_item(p: &Project) -> Item {
    HashMap::from([
        (PK.into(), s(project_pk(&p.id))),
        (SK.into(), s(PROJECT_SK)),
        ("kind".into(), s("project")),
        ("project_id".into(), s(&p.id)),
        ("name".into(), s(&p.name)),
        (
            "retention_days".into(),
            AttributeValue::N(p.retention_days.to_string()),
        ),
        (
            "allowed_origins".into(),
            AttributeValue::L(p.allowed_origins.iter().map(s).collect()),
        ),
        ("write_key_hash".into(), s(&p.write_key_hash.0)),
        ("read_key_hash".into(), s(&p.read_key_hash.0)),
        (
            "created_at".into(),
            AttributeValue::N(p.created_at.to_string()),
        ),
    ])
}

fn key_item(hash: &KeyHash, project_id: &str, kind: KeyKind) -> Item {
    HashMap::from([
        (PK.into(), s(key_pk(hash))),
        (SK.into(), s(KEY_SK)),
        ("kind".into(), s("key")),
        ("project_id".into(), s(project_id)),
        (
            "key_kind".into(),
            s(match kind {
                KeyKind::Write => "write",
                KeyKind::Read => "read",
            }),
        ),
    ])
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, ProjectStoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| ProjectStoreError::Corrupt(format!("missing string attribute {name}")))
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, ProjectStoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ProjectStoreError::Corrupt(format!("missing number attribute {name}")))
}

fn project_from_item(item: &Item) -> Result<Project, ProjectStoreError> {
    Ok(Project {
        id: get_s(item, "project_id")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        retention_days: get_n(item, "retention_days")?,
        allowed_origins: item
            .get("allowed_origins")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default(),
        write_key_hash: KeyHash(get_s(item, "write_key_hash")?.to_owned()),
        read_key_hash: KeyHash(get_s(item, "read_key_hash")?.to_owned()),
        created_at: get_n(item, "created_at")?,
    })
}

fn put(item: Item, table: &str, condition: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_owned))
                .build()
                .expect("table and item are set"),
        )
        .build()
}

fn delete_key(hash: &KeyHash, table: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name(table)
                .key(PK, s(key_pk(hash)))
                .key(SK, s(KEY_SK))
                .build()
                .expect("table and key are set"),
        )
        .build()
}

impl DynamoProjects {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the project and its two key items in one transaction.
    pub async fn create(&self, new: &NewProject) -> Result<Project, ProjectStoreError> {
        let project = new.to_project(pulse_core::time::now_millis());
        let t = &self.table;
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(
                project_item(&project),
                t,
                Some("attribute_not_exists(pk)"),
            ))
            .transact_items(put(
                key_item(&project.write_key_hash, &project.id, KeyKind::Write),
                t,
                Some("attribute_not_exists(pk)"),
            ))
            .transact_items(put(
                key_item(&project.read_key_hash, &project.id, KeyKind::Read),
                t,
                Some("attribute_not_exists(pk)"),
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(project),
            Err(e) if e.code() == Some("TransactionCanceledException") => {
                Err(ProjectStoreError::Exists(project.id))
            }
            Err(e) => Err(dynamo(e)),
        }
    }

    /// Creates the project unless it exists; an existing one gets the given
    /// keys (the dev stack's fixed demo keys) if its keys differ.
    pub async fn ensure(&self, new: &NewProject) -> Result<Project, ProjectStoreError> {
        match self.create(new).await {
            Err(ProjectStoreError::Exists(id)) => {
                let existing = self.get(&id).await?;
                let wanted = new.to_project(existing.created_at);
                if existing.write_key_hash == wanted.write_key_hash
                    && existing.read_key_hash == wanted.read_key_hash
                {
                    Ok(existing)
                } else {
                    self.replace_keys(&existing, &new.write_key, &new.read_key)
                        .await
                }
            }
            other => other,
        }
    }

    pub async fn get(&self, id: &str) -> Result<Project, ProjectStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(project_pk(id)))
            .key(SK, s(PROJECT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        out.item()
            .map(project_from_item)
            .transpose()?
            .ok_or_else(|| ProjectStoreError::NotFound(id.to_owned()))
    }

    /// Every project. A scan with a filter: fine for an admin command on a
    /// table whose non-project items it skips server-side.
    pub async fn list(&self) -> Result<Vec<Project>, ProjectStoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :p")
                .expression_attribute_values(":p", s(PROJECT_SK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            for item in page.items() {
                out.push(project_from_item(item)?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// New random keys; the old ones stop working at once (after the
    /// functions' short lookup cache). Returns (write key, read key).
    pub async fn rotate_keys(&self, id: &str) -> Result<(String, String), ProjectStoreError> {
        let existing = self.get(id).await?;
        let (wk, rk) = (generate_key(KeyKind::Write), generate_key(KeyKind::Read));
        self.replace_keys(&existing, &wk, &rk).await?;
        Ok((wk, rk))
    }

    async fn replace_keys(
        &self,
        existing: &Project,
        write_key: &str,
        read_key: &str,
    ) -> Result<Project, ProjectStoreError> {
        let t = &self.table;
        let (w, r) = (KeyHash::of(write_key), KeyHash::of(read_key));
        let update = Update::builder()
            .table_name(t)
            .key(PK, s(project_pk(&existing.id)))
            .key(SK, s(PROJECT_SK))
            .update_expression("SET write_key_hash = :w, read_key_hash = :r")
            .condition_expression("write_key_hash = :ow AND read_key_hash = :or")
            .expression_attribute_values(":w", s(&w.0))
            .expression_attribute_values(":r", s(&r.0))
            .expression_attribute_values(":ow", s(&existing.write_key_hash.0))
            .expression_attribute_values(":or", s(&existing.read_key_hash.0))
            .build()
            .expect("update is complete");
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        // One transaction may touch an item once: only swap the keys that change.
        for (old, new, kind) in [
            (&existing.write_key_hash, &w, KeyKind::Write),
            (&existing.read_key_hash, &r, KeyKind::Read),
        ] {
            if old != new {
                items.push(delete_key(old, t));
                items.push(put(key_item(new, &existing.id, kind), t, None));
            }
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(Project {
            write_key_hash: w,
            read_key_hash: r,
            ..existing.clone()
        })
    }
}

#[async_trait]
impl ProjectDirectory for DynamoProjects {
    async fn grant_for_key(&self, key: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError> {
        let err = |e: String| DirectoryError(e);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(key_pk(key)))
            .key(SK, s(KEY_SK))
            .send()
            .await
            .map_err(|e| err(DisplayErrorContext(e).to_string()))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let (Ok(project_id), Ok(kind)) = (get_s(item, "project_id"), get_s(item, "key_kind"))
        else {
            return Err(err("key item is malformed".into()));
        };
        let kind = if kind == "read" {
            KeyKind::Read
        } else {
            KeyKind::Write
        };
        match self.get(project_id).await {
            Ok(project) => Ok(Some(KeyGrant { project, kind })),
            // A key left behind by a deleted project opens nothing.
            Err(ProjectStoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(err(e.to_string())),
        }
    }
}
