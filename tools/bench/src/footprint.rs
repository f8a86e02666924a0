//! What one event leaves behind in DynamoDB, and for how long: item bytes by
//! item kind (base table and the timeline GSI, each with DynamoDB's 100 bytes
//! of per-item overhead), divided by the events stored, with the lifetime each
//! kind gets from its TTL. Storage is billed per GB-month, so an event's
//! storage bill is Σ bytes × lifetime.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// DynamoDB adds 100 bytes per item (and per index entry) for storage billing.
pub const ITEM_OVERHEAD_BYTES: usize = 100;
pub const DAYS_PER_MONTH: f64 = 365.25 / 12.0;
pub const GB: f64 = 1_073_741_824.0;

/// One item as scanned from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFacts {
    /// `pk` up to its first `#`: EV, TP, MSG, RD, RH, UD, SES, ...
    pub kind: String,
    /// Item size by DynamoDB's rules, without the overhead.
    pub bytes: usize,
    /// Projected size in the timeline GSI (keys included), when projected.
    pub gsi_bytes: Option<usize>,
    /// Days from now until `expires_at`, when the item has a TTL.
    pub lifetime_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindFootprint {
    pub items: u64,
    /// Base-table bytes (with overhead) per stored event.
    pub table_bytes_per_event: f64,
    /// Timeline GSI bytes (with overhead) per stored event.
    pub gsi_bytes_per_event: f64,
    /// Mean lifetime of this kind's items (bytes-weighted), days; `None`
    /// when the items never expire.
    pub lifetime_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// Unique events stored in the measured run.
    pub events: u64,
    /// The retention the measured events had (their project's).
    pub retention_days: u32,
    pub kinds: BTreeMap<String, KindFootprint>,
}

impl Footprint {
    /// Items of kinds that are not per-event (PROJECT, KEY) are left out.
    pub fn from_items(items: &[ItemFacts], events: u64, retention_days: u32) -> Self {
        #[derive(Default)]
        struct Acc {
            items: u64,
            table: f64,
            gsi: f64,
            byte_days: f64,
            bytes_with_ttl: f64,
        }
        let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
        for it in items {
            if it.kind == "PROJECT" || it.kind == "KEY" {
                continue;
            }
            let a = acc.entry(it.kind.clone()).or_default();
            let table = (it.bytes + ITEM_OVERHEAD_BYTES) as f64;
            let gsi = it
                .gsi_bytes
                .map(|g| (g + ITEM_OVERHEAD_BYTES) as f64)
                .unwrap_or(0.0);
            a.items += 1;
            a.table += table;
            a.gsi += gsi;
            if let Some(days) = it.lifetime_days {
                a.byte_days += (table + gsi) * days;
                a.bytes_with_ttl += table + gsi;
            }
        }
        let per = events.max(1) as f64;
        let kinds = acc
            .into_iter()
            .map(|(k, a)| {
                (
                    k,
                    KindFootprint {
                        items: a.items,
                        table_bytes_per_event: a.table / per,
                        gsi_bytes_per_event: a.gsi / per,
                        lifetime_days: (a.bytes_with_ttl > 0.0)
                            .then(|| a.byte_days / a.bytes_with_ttl),
                    },
                )
            })
            .collect();
        Footprint {
            events,
            retention_days,
            kinds,
        }
    }

    /// Bytes stored per event (table + GSI, with overhead) right after writing.
    pub fn bytes_per_event(&self) -> f64 {
        self.kinds
            .values()
            .map(|k| k.table_bytes_per_event + k.gsi_bytes_per_event)
            .sum()
    }

    /// GB-months one event occupies over its life at `retention_days`
    /// (`table_only`: without the GSI, which point-in-time recovery ignores).
    /// Kinds without a TTL are counted for `forever_days`.
    pub fn gb_months_per_event(
        &self,
        retention_days: u32,
        table_only: bool,
        forever_days: f64,
    ) -> f64 {
        self.kinds
            .values()
            .map(|k| {
                let bytes = k.table_bytes_per_event
                    + if table_only {
                        0.0
                    } else {
                        k.gsi_bytes_per_event
                    };
                let days = k
                    .lifetime_days
                    .map(|d| lifetime_at(d, self.retention_days, retention_days))
                    .unwrap_or(forever_days);
                bytes / GB * days / DAYS_PER_MONTH
            })
            .sum()
    }

    /// Bytes per event of the kinds in `kinds` (e.g. EV for "raw events").
    pub fn bytes_of(&self, kinds: &[&str], table_only: bool) -> f64 {
        self.kinds
            .iter()
            .filter(|(k, _)| kinds.contains(&k.as_str()))
            .map(|(_, k)| {
                k.table_bytes_per_event
                    + if table_only {
                        0.0
                    } else {
                        k.gsi_bytes_per_event
                    }
            })
            .sum()
    }

    /// The same footprint without some kinds (what an S3 path would remove).
    pub fn without(&self, kinds: &[&str]) -> Footprint {
        let mut f = self.clone();
        f.kinds.retain(|k, _| !kinds.contains(&k.as_str()));
        f
    }
}

/// The lifetime an item kind would have at another retention: kinds whose
/// TTL follows the events' retention (events, time pages, sessions: about
/// `measured_retention` days; rollups: a year more) move with it; short-lived
/// kinds (message markers, 15 days) keep theirs.
pub fn lifetime_at(measured_days: f64, measured_retention: u32, retention: u32) -> f64 {
    let r = f64::from(measured_retention);
    // Events of the last hours carry almost the whole retention; allow two days.
    if measured_days >= r - 2.0 {
        (measured_days - r + f64::from(retention)).max(0.0)
    } else {
        measured_days
    }
}

/// Read units of one Query returning `bytes` (eventually consistent: half a
/// unit per started 4 KB, at least one half unit).
pub fn query_rcu(bytes: f64) -> f64 {
    (bytes / 4096.0).ceil().max(1.0) * 0.5
}

/// RCU of a `days`-day summary: one Query per rollup shard over `days` day
/// items, one Query per day (and user-day shard) over its users.
pub fn summary_rcu(
    days: u32,
    rollup_shards: u32,
    day_item_bytes: f64,
    user_day_shards: u32,
    daily_users: u32,
    user_day_item_bytes: f64,
) -> f64 {
    let rollups = f64::from(rollup_shards) * query_rcu(f64::from(days) * day_item_bytes);
    let per_day_shard_users = f64::from(daily_users) / f64::from(user_day_shards.max(1));
    let users = f64::from(days)
        * f64::from(user_day_shards)
        * query_rcu(per_day_shard_users * user_day_item_bytes);
    rollups + users
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, bytes: usize, gsi: Option<usize>, days: Option<f64>) -> ItemFacts {
        ItemFacts {
            kind: kind.into(),
            bytes,
            gsi_bytes: gsi,
            lifetime_days: days,
        }
    }

    #[test]
    fn sums_bytes_per_event_by_kind_with_overhead() {
        let items = vec![
            item("EV", 700, Some(200), Some(365.0)),
            item("EV", 500, Some(200), Some(364.0)),
            item("MSG", 50, None, Some(15.0)),
            item("RD", 900, None, Some(730.0)),
            item("PROJECT", 300, None, None),
        ];
        let f = Footprint::from_items(&items, 2, 365);
        assert_eq!(f.kinds.len(), 3, "PROJECT is not per event");
        let ev = &f.kinds["EV"];
        assert_eq!(ev.items, 2);
        assert_eq!(ev.table_bytes_per_event, (800.0 + 600.0) / 2.0);
        assert_eq!(ev.gsi_bytes_per_event, 300.0);
        assert_eq!(f.kinds["MSG"].table_bytes_per_event, 75.0);
        assert_eq!(f.bytes_per_event(), 700.0 + 300.0 + 75.0 + 500.0);
        // bytes-weighted lifetime: (1100 × 365 + 900 × 364) / 2000
        let expect = (1100.0 * 365.0 + 900.0 * 364.0) / 2000.0;
        assert!((ev.lifetime_days.unwrap() - expect).abs() < 1e-9);
        assert_eq!(f.bytes_of(&["EV"], true), 700.0);
        assert_eq!(f.without(&["EV"]).bytes_per_event(), 75.0 + 500.0);
    }

    #[test]
    fn lifetimes_follow_the_retention_except_short_lived_kinds() {
        assert_eq!(lifetime_at(365.0, 365, 30), 30.0);
        assert_eq!(lifetime_at(364.0, 365, 30), 29.0);
        assert_eq!(lifetime_at(730.0, 365, 30), 395.0, "rollups: a year after");
        assert_eq!(lifetime_at(15.0, 365, 30), 15.0, "markers keep 15 days");
        assert_eq!(lifetime_at(365.0, 365, 365), 365.0);
    }

    #[test]
    fn gb_months_follow_bytes_and_lifetimes() {
        // One GiB per event for exactly one month.
        let items = vec![item(
            "EV",
            GB as usize - ITEM_OVERHEAD_BYTES,
            None,
            Some(DAYS_PER_MONTH),
        )];
        let f = Footprint::from_items(&items, 1, 365);
        assert!((f.gb_months_per_event(365, false, 0.0) - 1.0).abs() < 1e-9);
        // 1 KB (with overhead) kept a year is 12 KB-months.
        let items = vec![item("EV", 924, Some(924), Some(365.25))];
        let f = Footprint::from_items(&items, 1, 365);
        let kb_months = f.gb_months_per_event(365, true, 0.0) * GB / 1024.0;
        assert!((kb_months - 12.0).abs() < 1e-6, "{kb_months}");
        assert!((f.gb_months_per_event(365, false, 0.0) * GB / 1024.0 - 24.0).abs() < 1e-6);
        // At 30 days of retention instead of 365, about one month.
        let m = f.gb_months_per_event(30, true, 0.0) * GB / 1024.0;
        assert!((m - 30.25 / DAYS_PER_MONTH).abs() < 1e-6, "{m}");
    }

    #[test]
    fn read_units_by_dynamodb_rules() {
        assert_eq!(query_rcu(0.0), 0.5);
        assert_eq!(query_rcu(4096.0), 0.5);
        assert_eq!(query_rcu(4097.0), 1.0);
        // 30 days × 2,000 bytes per shard → 60,000 bytes → 15 × 4 KB → 7.5 RCU per shard;
        // 1,000 users × 80 bytes → 80,000 bytes → 20 × 4 KB → 10 RCU per day.
        let rcu = summary_rcu(30, 4, 2000.0, 1, 1000, 80.0);
        assert_eq!(rcu, 4.0 * 7.5 + 30.0 * 10.0);
    }
}
