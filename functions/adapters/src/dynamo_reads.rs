//! Read paths over the table. Every read drops items whose TTL has passed:
//! DynamoDB deletes expired items only within days (moto never does).

use crate::dynamo_store::{batch_get, batch_write, delete_request, Item};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use pulse_core::consume::{PageRef, StoreError};
use pulse_core::keys::{self, GSI1_PK, GSI1_SK, PK, SK, TIMELINE_INDEX, TTL_ATTRIBUTE};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone)]
pub struct DynamoReader {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn err<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError(DisplayErrorContext(e).to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn live(item: &Item, now_secs: i64) -> bool {
    item.get(TTL_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_none_or(|exp| exp > now_secs)
}

fn now_secs() -> i64 {
    pulse_core::time::now_millis() / 1000
}

impl DynamoReader {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The stored event JSON, unless absent or expired.
    pub async fn get_event(
        &self,
        project: &str,
        event_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::event_pk(project, event_id)))
            .key(SK, s(keys::EVENT_SK))
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .item()
            .filter(|i| live(i, now_secs()))
            .and_then(event_json))
    }

    /// Events by key, in the given order, skipping missing and expired ones.
    pub async fn get_events(
        &self,
        project: &str,
        event_ids: &[String],
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let now = now_secs();
        let keys: Vec<(String, String)> = event_ids
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|id| (keys::event_pk(project, id), keys::EVENT_SK.to_owned()))
            .collect();
        let mut by_id: HashMap<String, serde_json::Value> = HashMap::new();
        for item in batch_get(&self.client, &self.table, &keys, false).await? {
            if let Some(v) = live(&item, now).then(|| event_json(&item)).flatten() {
                if let Some(id) = v["event_id"].as_str() {
                    by_id.insert(id.to_owned(), v);
                }
            }
        }
        Ok(event_ids
            .iter()
            .filter_map(|id| by_id.get(id).cloned())
            .collect())
    }

    /// The time-index refs of one hour (all shards), live ones only.
    pub async fn hour_refs(&self, project: &str, hour: &str) -> Result<Vec<PageRef>, StoreError> {
        let now = now_secs();
        let mut refs = Vec::new();
        for shard in 0..keys::PAGE_SHARDS {
            for item in self.query_all(&keys::page_pk(project, hour, shard)).await? {
                let Some(json) = item.get("refs").and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                let retention = item
                    .get("retention_days")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok());
                let page: Vec<PageRef> =
                    serde_json::from_str(json).map_err(|e| StoreError(format!("bad page: {e}")))?;
                refs.extend(
                    page.into_iter()
                        .filter(|r| retention.is_none_or(|days| r.ts / 1000 + days * 86_400 > now)),
                );
            }
        }
        refs.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| b.id.cmp(&a.id)));
        Ok(refs)
    }

    /// Day counters summed over the rollup shards, for `from..=to` (days).
    pub async fn day_rollups(
        &self,
        project: &str,
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        self.rollups(project, from, to, keys::day_rollup_pk).await
    }

    /// Hour counters (`YYYY-MM-DDTHH` keys) summed over shards.
    pub async fn hour_rollups(
        &self,
        project: &str,
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        self.rollups(project, from, to, keys::hour_rollup_pk).await
    }

    async fn rollups(
        &self,
        project: &str,
        from: &str,
        to: &str,
        pk_of: fn(&str, u32) -> String,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        let now = now_secs();
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for shard in 0..keys::ROLLUP_SHARDS {
            let mut start = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(":pk", s(pk_of(project, shard)))
                    .expression_attribute_values(":from", s(from))
                    .expression_attribute_values(":to", s(format!("{to}\u{10FFFF}")))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(err)?;
                for item in page.items().iter().filter(|i| live(i, now)) {
                    let key = item
                        .get(SK)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default();
                    let counters = out.entry(key).or_default();
                    for (name, v) in item {
                        if [PK, SK, TTL_ATTRIBUTE].contains(&name.as_str()) {
                            continue;
                        }
                        if let Some(n) = v.as_n().ok().and_then(|n| n.parse::<u64>().ok()) {
                            *counters.entry(name.clone()).or_default() += n;
                        }
                    }
                }
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Every (user key, events) of a day, summed over shards.
    pub async fn user_days(
        &self,
        project: &str,
        day: &str,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let now = now_secs();
        let mut out = BTreeMap::new();
        for shard in 0..keys::USER_DAY_SHARDS {
            for item in self
                .query_all(&keys::user_day_pk(project, day, shard))
                .await?
                .iter()
                .filter(|i| live(i, now))
            {
                let user = item
                    .get(SK)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let n = item
                    .get("events")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                out.insert(user, n);
            }
        }
        Ok(out)
    }

    async fn query_all(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(err)?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

fn event_json(item: &Item) -> Option<serde_json::Value> {
    item.get("e")
        .and_then(|v| v.as_s().ok())
        .and_then(|s| serde_json::from_str(s).ok())
}

/// The query port over the same reads.
#[async_trait::async_trait]
impl pulse_core::query::EventReader for DynamoReader {
    async fn get_event(
        &self,
        project: &str,
        event_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        DynamoReader::get_event(self, project, event_id).await
    }

    async fn get_events(
        &self,
        project: &str,
        ids: &[String],
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        DynamoReader::get_events(self, project, ids).await
    }

    async fn timeline(
        &self,
        project: &str,
        user_key: &str,
        range: pulse_core::query::TimeRange,
        before: Option<&pulse_core::query::Cursor>,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let lower = format!("{:013}", range.from.max(0));
        let upper = match before {
            Some(c) if c.ts <= range.to => keys::timeline_sk(c.ts, &c.id),
            _ => format!("{:013}#\u{10FFFF}", range.to.clamp(0, 9_999_999_999_999)),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(TIMELINE_INDEX)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
            .expression_attribute_names("#pk", GSI1_PK)
            .expression_attribute_names("#sk", GSI1_SK)
            .expression_attribute_values(":pk", s(keys::timeline_pk(project, user_key)))
            .expression_attribute_values(":lo", s(lower))
            .expression_attribute_values(":hi", s(upper.clone()))
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(err)?;
        let ids: Vec<String> = out
            .items()
            .iter()
            .filter_map(|i| i.get(GSI1_SK).and_then(|v| v.as_s().ok()))
            // BETWEEN is inclusive: the cursor's own event is not repeated.
            .filter(|sk| before.is_none() || **sk != upper)
            .filter_map(|sk| sk.split_once('#').map(|(_, id)| id.to_owned()))
            .collect();
        DynamoReader::get_events(self, project, &ids).await
    }

    async fn hour_refs(&self, project: &str, hour: &str) -> Result<Vec<PageRef>, StoreError> {
        DynamoReader::hour_refs(self, project, hour).await
    }

    async fn day_rollups(
        &self,
        project: &str,
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        DynamoReader::day_rollups(self, project, from, to).await
    }

    async fn hour_rollups(
        &self,
        project: &str,
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        DynamoReader::hour_rollups(self, project, from, to).await
    }

    async fn user_days(
        &self,
        project: &str,
        day: &str,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        DynamoReader::user_days(self, project, day).await
    }

    async fn session(
        &self,
        project: &str,
        session_id: &str,
    ) -> Result<Option<(String, i64, i64)>, StoreError> {
        let item = self
            .get_live(&keys::session_pk(project, session_id), keys::SESSION_SK)
            .await?;
        Ok(item.map(|i| {
            (
                text(&i, "user_key"),
                number(&i, "first_ts"),
                number(&i, "last_ts"),
            )
        }))
    }

    async fn conversation(
        &self,
        project: &str,
        conversation_id: &str,
    ) -> Result<Option<(Vec<String>, i64, i64)>, StoreError> {
        let item = self
            .get_live(
                &keys::conversation_pk(project, conversation_id),
                keys::CONVERSATION_SK,
            )
            .await?;
        Ok(item.map(|i| {
            let users = i
                .get("users")
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default();
            (users, number(&i, "first_ts"), number(&i, "last_ts"))
        }))
    }

    async fn erase_memberships(
        &self,
        project: &str,
        user_key: &str,
        days: &[String],
        sessions: &[String],
        conversations: &[String],
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
        // Each user-day item becomes an anonymous one with the same counts,
        // in one transaction so the day's active users never change.
        let shard = keys::shard_of(user_key, keys::USER_DAY_SHARDS);
        for day in days {
            let pk = keys::user_day_pk(project, day, shard);
            let Some(mut item) = self.get_live(&pk, user_key).await? else {
                continue;
            };
            // Random: nothing links it back to the user.
            let anonymous = format!(
                "{}{}",
                pulse_core::query::ERASED_PREFIX,
                uuid::Uuid::new_v4().simple()
            );
            item.insert(SK.to_owned(), s(anonymous));
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .key(SK, s(user_key))
                .build()
                .map_err(err)?;
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(err)?;
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .transact_items(TransactWriteItem::builder().put(put).build())
                .send()
                .await
                .map_err(err)?;
        }
        // A session belongs to one user: its item goes (its count stays in
        // the day rollups).
        let requests: Vec<WriteRequest> = sessions
            .iter()
            .map(|sid| delete_request(s(keys::session_pk(project, sid)), s(keys::SESSION_SK)))
            .collect();
        batch_write(&self.client, &self.table, requests, None).await?;
        // The user leaves the conversation; the version bump makes a
        // concurrent consumer transaction re-read it.
        for cid in conversations {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(keys::conversation_pk(project, cid)))
                .key(SK, s(keys::CONVERSATION_SK))
                .update_expression("DELETE #users :u ADD v :one")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#users", "users")
                .expression_attribute_values(":u", AttributeValue::Ss(vec![user_key.to_owned()]))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
                .await;
            if let Err(e) = result {
                use aws_sdk_dynamodb::error::ProvideErrorMetadata;
                // Gone already (expired or never written): nothing to leave.
                if e.code() != Some("ConditionalCheckFailedException") {
                    return Err(err(e));
                }
            }
        }
        Ok(())
    }

    async fn delete_events(&self, project: &str, ids: &[String]) -> Result<usize, StoreError> {
        let existing = DynamoReader::get_events(self, project, ids).await?.len();
        let requests: Vec<WriteRequest> = ids
            .iter()
            .map(|id| delete_request(s(keys::event_pk(project, id)), s(keys::EVENT_SK)))
            .collect();
        batch_write(&self.client, &self.table, requests, None).await?;
        Ok(existing)
    }
}

impl DynamoReader {
    async fn get_live(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .send()
            .await
            .map_err(err)?;
        Ok(out.item().filter(|i| live(i, now_secs())).cloned())
    }
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
