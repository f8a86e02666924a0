//! Write capacity accounting by DynamoDB's documented rules, because moto's
//! `ReturnConsumedCapacity` is a placeholder: 1 WRU per started KB of item
//! size per write; again for each GSI the item is projected into (projected
//! size plus 100 bytes of index overhead); twice inside TransactWriteItems;
//! a failed conditional write costs as if it succeeded.
//!
//! Puts are sized when they are made. An update's size is the item's size
//! after it, which only the table knows: [`WriteMeter::report`] reads those
//! items at the end, so for counters that kept growing it is an upper bound.

use crate::dynamo_store::{batch_get, Item, TIMELINE_PROJECTION};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use pulse_core::keys::{GSI1_PK, GSI1_SK, PK, SK};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone)]
enum Sized {
    Known(usize),
    /// Resolved from the table at report time.
    Key(String, String),
}

#[derive(Debug, Clone)]
struct Write {
    /// The item kind: its `pk` up to the first `#` (EV, TP, MSG, RD, ...).
    kind: String,
    size: Sized,
    /// Projected size in the timeline index, when the item goes there.
    gsi_size: Option<usize>,
    transactional: bool,
}

#[derive(Debug, Default)]
pub struct WriteMeter {
    writes: Mutex<Vec<Write>>,
    requests: Mutex<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CapacityReport {
    pub write_requests: u64,
    pub items_written: u64,
    pub wru: f64,
    /// WRU by item kind (`EV`, `EV:timeline` for the index, `TP`, `MSG`, ...).
    pub by_kind: std::collections::BTreeMap<String, f64>,
}

fn kind_of(item_pk: Option<&AttributeValue>) -> String {
    item_pk
        .and_then(|v| v.as_s().ok())
        .map(|pk| pk.split('#').next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// Item size by DynamoDB's rules: attribute name bytes plus value bytes
/// (numbers ≈ 1 byte per 2 significant digits + 1).
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(ss) => ss.iter().map(String::len).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn wru(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

impl WriteMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A PutItem (one request) or one item of a BatchWriteItem.
    pub fn record_put(&self, item: &Item, single_request: bool) {
        let gsi_size = item.contains_key(GSI1_PK).then(|| {
            let projected: Item = item
                .iter()
                .filter(|(k, _)| {
                    [PK, SK, GSI1_PK, GSI1_SK].contains(&k.as_str())
                        || TIMELINE_PROJECTION.contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            item_size(&projected) + 100
        });
        self.writes.lock().unwrap().push(Write {
            kind: kind_of(item.get(PK)),
            size: Sized::Known(item_size(item)),
            gsi_size,
            transactional: false,
        });
        if single_request {
            *self.requests.lock().unwrap() += 1;
        }
    }

    /// Counts one BatchWriteItem request.
    pub fn record_request(&self) {
        *self.requests.lock().unwrap() += 1;
    }

    pub fn record_transaction(&self, items: &[TransactWriteItem]) {
        let mut writes = self.writes.lock().unwrap();
        for it in items {
            let kind = kind_of(
                it.put()
                    .map(|p| p.item())
                    .or(it.update().map(|u| u.key()))
                    .and_then(|i| i.get(PK)),
            );
            let size = if let Some(p) = it.put() {
                Sized::Known(item_size(p.item()))
            } else if let Some(u) = it.update() {
                let key = u.key();
                let get = |k: &str| {
                    key.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                Sized::Key(get(PK), get(SK))
            } else {
                Sized::Known(0)
            };
            writes.push(Write {
                kind,
                size,
                gsi_size: None,
                transactional: true,
            });
        }
        *self.requests.lock().unwrap() += 1;
    }

    /// Totals, reading the final size of updated items from the table.
    pub async fn report(&self, client: &aws_sdk_dynamodb::Client, table: &str) -> CapacityReport {
        let writes = self.writes.lock().unwrap().clone();
        let mut sizes: HashMap<(String, String), usize> = HashMap::new();
        let keys: Vec<(String, String)> = writes
            .iter()
            .filter_map(|w| match &w.size {
                Sized::Key(pk, sk) => Some((pk.clone(), sk.clone())),
                Sized::Known(_) => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // Sizes are best effort: an unreadable item counts as 1 WRU.
        for item in batch_get(client, table, &keys, false)
            .await
            .unwrap_or_default()
        {
            let k = |n: &str| {
                item.get(n)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            sizes.insert((k(PK), k(SK)), item_size(&item));
        }
        let mut total = 0.0;
        let mut by_kind = std::collections::BTreeMap::new();
        for w in &writes {
            let bytes = match &w.size {
                Sized::Known(b) => *b,
                Sized::Key(pk, sk) => sizes.get(&(pk.clone(), sk.clone())).copied().unwrap_or(0),
            };
            let factor = if w.transactional { 2.0 } else { 1.0 };
            let base = factor * wru(bytes);
            *by_kind.entry(w.kind.clone()).or_insert(0.0) += base;
            if let Some(g) = w.gsi_size {
                *by_kind.entry(format!("{}:timeline", w.kind)).or_insert(0.0) += wru(g);
            }
            total += base + w.gsi_size.map(wru).unwrap_or(0.0);
        }
        CapacityReport {
            write_requests: *self.requests.lock().unwrap(),
            items_written: writes.len() as u64,
            wru: total,
            by_kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item: Item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("abcd".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
        ]);
        // "pk"(2)+4 + "n"(1)+ (3 digits-pairs + 1)
        assert_eq!(item_size(&item), 2 + 4 + 1 + 4);
        assert_eq!(wru(1), 1.0);
        assert_eq!(wru(1024), 1.0);
        assert_eq!(wru(1025), 2.0);
    }
}
