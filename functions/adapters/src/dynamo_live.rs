//! The live index, monitors and monitored users' events in the table
//! (see `pulse_core::live` for why and `pulse_core::keys` for the keys).

use crate::dynamo_store::{batch_write, delete_request, put_request, Item};
use crate::write_meter::WriteMeter;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use pulse_core::consume::StoreError;
use pulse_core::keys::{self, PK, SK, TTL_ATTRIBUTE};
use pulse_core::live::{DebugRecord, LiveEntry, LiveStore, Monitor, LIVE_ITEM_TTL_MS};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct DynamoLive {
    client: aws_sdk_dynamodb::Client,
    table: String,
    meter: Option<Arc<WriteMeter>>,
}

fn err<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError(DisplayErrorContext(e).to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn text<'i>(item: &'i Item, name: &str) -> Option<&'i str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

impl DynamoLive {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: None,
        }
    }

    /// Records every write for capacity accounting.
    pub fn with_meter(mut self, meter: Arc<WriteMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    async fn write(&self, items: Vec<Item>) -> Result<(), StoreError> {
        if let Some(m) = &self.meter {
            for item in &items {
                m.record_put(item, false);
            }
        }
        let requests = items.into_iter().map(put_request).collect();
        batch_write(&self.client, &self.table, requests, self.meter.as_deref()).await
    }

    /// One page of a key-range query on `pk`.
    async fn range(
        &self,
        pk: &str,
        after: Option<&str>,
        upto: Option<&str>,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(forward)
            .limit(limit.clamp(1, 1000) as i32);
        q = match (after, upto) {
            (Some(after), Some(upto)) => q
                .key_condition_expression("pk = :pk AND sk BETWEEN :after AND :upto")
                .expression_attribute_values(":after", s(after))
                .expression_attribute_values(":upto", s(upto)),
            (Some(after), None) => q
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(after)),
            (None, _) => q.key_condition_expression("pk = :pk"),
        };
        let out = q.send().await.map_err(err)?;
        Ok(out.items().to_vec())
    }
}

#[async_trait::async_trait]
impl LiveStore for DynamoLive {
    async fn monitors(&self, project: &str, now_ms: i64) -> Result<Vec<Monitor>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::monitor_pk(project)))
            .send()
            .await
            .map_err(err)?;
        let mut list: Vec<Monitor> = out
            .items()
            .iter()
            .filter_map(|i| {
                Some(Monitor {
                    user_id: text(i, SK)?.to_owned(),
                    since_ms: number(i, "since_ms")?,
                    until_ms: number(i, "until_ms")?,
                })
            })
            .filter(|m| m.until_ms > now_ms)
            .collect();
        list.sort_by_key(|m| m.until_ms);
        Ok(list)
    }

    async fn start_monitor(&self, project: &str, monitor: &Monitor) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::monitor_pk(project)))
            .item(SK, s(&monitor.user_id))
            .item("since_ms", n(monitor.since_ms))
            .item("until_ms", n(monitor.until_ms))
            // Rounded up: TTL never removes it before the window ends.
            .item(TTL_ATTRIBUTE, n((monitor.until_ms + 999) / 1000))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn stop_monitor(&self, project: &str, user_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(keys::monitor_pk(project)))
            .key(SK, s(user_id))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(err)?;
        let now = pulse_core::time::now_millis();
        Ok(out
            .attributes()
            .and_then(|a| number(a, "until_ms"))
            .is_some_and(|until| until > now))
    }

    async fn erase_user(&self, project: &str, user_id: &str) -> Result<(), StoreError> {
        self.stop_monitor(project, user_id).await?;
        let pk = keys::debug_pk(project, user_id);
        loop {
            let items = self.range(&pk, None, None, true, 1000).await?;
            if items.is_empty() {
                return Ok(());
            }
            let requests = items
                .iter()
                .filter_map(|i| Some(delete_request(i.get(PK)?.clone(), i.get(SK)?.clone())))
                .collect();
            batch_write(&self.client, &self.table, requests, None).await?;
        }
    }

    async fn put_live(&self, entries: &[LiveEntry]) -> Result<(), StoreError> {
        let items = entries
            .iter()
            .map(|e| {
                HashMap::from([
                    (
                        PK.to_owned(),
                        s(keys::live_pk(
                            &e.project_id,
                            &pulse_core::live::minute_of(e.written_ms),
                        )),
                    ),
                    (SK.to_owned(), s(e.sort_key())),
                    (
                        "ids".to_owned(),
                        s(serde_json::to_string(&e.ids).expect("ids serialize")),
                    ),
                    (
                        TTL_ATTRIBUTE.to_owned(),
                        n((e.written_ms + LIVE_ITEM_TTL_MS) / 1000),
                    ),
                ])
            })
            .collect();
        self.write(items).await
    }

    async fn put_debug(&self, records: &[DebugRecord]) -> Result<(), StoreError> {
        let items = records
            .iter()
            .map(|r| {
                HashMap::from([
                    (PK.to_owned(), s(keys::debug_pk(&r.project_id, &r.user_id))),
                    (SK.to_owned(), s(r.sort_key())),
                    ("e".to_owned(), s(&r.json)),
                    (TTL_ATTRIBUTE.to_owned(), n(r.expires_at)),
                ])
            })
            .collect();
        self.write(items).await
    }

    async fn live_entries(
        &self,
        project: &str,
        minute: &str,
        after: &str,
        upto: &str,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let items = self
            .range(
                &keys::live_pk(project, minute),
                Some(after),
                Some(upto),
                !newest_first,
                limit,
            )
            .await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                let key = text(i, SK)?;
                // BETWEEN includes `after`; the port's range excludes it.
                if key == after {
                    return None;
                }
                let ids: Vec<String> = serde_json::from_str(text(i, "ids")?).ok()?;
                Some((key.to_owned(), ids))
            })
            .collect())
    }

    async fn debug_events(
        &self,
        project: &str,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let pk = keys::debug_pk(project, user_id);
        let mut items = match after {
            Some(after) => self.range(&pk, Some(after), None, true, limit).await?,
            None => self.range(&pk, None, None, false, limit).await?,
        };
        if after.is_none() {
            items.reverse();
        }
        let now_secs = now_ms / 1000;
        Ok(items
            .iter()
            .filter(|i| number(i, TTL_ATTRIBUTE).is_none_or(|exp| exp > now_secs))
            .filter_map(|i| {
                let key = text(i, SK)?.to_owned();
                let event = serde_json::from_str(text(i, "e")?).ok()?;
                Some((key, event))
            })
            .collect())
    }
}
