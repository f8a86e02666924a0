//! A 30-day summary built from rollups: how many storage requests it makes
//! (target ≤ 40, never a scan) and the in-process time to build it from 30
//! days of rollups with 1,000 daily users.

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use pulse_core::consume::{PageRef, StoreError};
use pulse_core::keys::{ROLLUP_SHARDS, USER_DAY_SHARDS};
use pulse_core::query::{Cursor, EventReader, QueryService, TimeRange};
use pulse_core::time::{day_of, DAY_MS};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

type Counters = BTreeMap<String, BTreeMap<String, u64>>;

/// Answers from memory and counts the DynamoDB requests the real reader
/// would make for each call (a Query per shard, one per day partition).
struct SyntheticReader {
    days: Counters,
    users: BTreeMap<String, u64>,
    requests: AtomicUsize,
}

#[async_trait]
impl EventReader for SyntheticReader {
    async fn get_event(&self, _: &str, _: &str) -> Result<Option<Value>, StoreError> {
        unreachable!()
    }
    async fn get_events(&self, _: &str, _: &[String]) -> Result<Vec<Value>, StoreError> {
        unreachable!()
    }
    async fn timeline(
        &self,
        _: &str,
        _: &str,
        _: TimeRange,
        _: Option<&Cursor>,
        _: usize,
    ) -> Result<Vec<Value>, StoreError> {
        unreachable!()
    }
    async fn hour_refs(&self, _: &str, _: &str) -> Result<Vec<PageRef>, StoreError> {
        unreachable!()
    }
    async fn day_rollups(&self, _: &str, from: &str, to: &str) -> Result<Counters, StoreError> {
        self.requests
            .fetch_add(ROLLUP_SHARDS as usize, Ordering::Relaxed);
        Ok(self
            .days
            .range(from.to_owned()..=to.to_owned())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    async fn hour_rollups(&self, _: &str, _: &str, _: &str) -> Result<Counters, StoreError> {
        unreachable!()
    }
    async fn user_days(&self, _: &str, _: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        self.requests
            .fetch_add(USER_DAY_SHARDS as usize, Ordering::Relaxed);
        Ok(self.users.clone())
    }
    async fn session(&self, _: &str, _: &str) -> Result<Option<(String, i64, i64)>, StoreError> {
        unreachable!()
    }
    async fn conversation(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<(Vec<String>, i64, i64)>, StoreError> {
        unreachable!()
    }
    async fn delete_events(&self, _: &str, _: &[String]) -> Result<usize, StoreError> {
        unreachable!()
    }
    async fn erase_memberships(
        &self,
        _: &str,
        _: &str,
        _: &[String],
        _: &[String],
        _: &[String],
    ) -> Result<(), StoreError> {
        unreachable!()
    }
}

fn benches(c: &mut Criterion) {
    let now = pulse_core::time::now_millis();
    let range = TimeRange {
        from: now - now.rem_euclid(DAY_MS) - 29 * DAY_MS,
        to: now,
    };
    let mut days = Counters::new();
    for d in range.days() {
        let mut m = BTreeMap::new();
        for (k, n) in [
            ("events", 50_000),
            ("users", 1000),
            ("sessions", 3000),
            ("errors", 120),
            ("dur_sum", 9_000_000),
            ("dur_n", 12_000),
        ] {
            m.insert(k.to_owned(), n);
        }
        for t in 0..50 {
            m.insert(format!("t:type_{t}"), 1000);
            m.insert(format!("a:action_{t}"), 1000);
        }
        for c in 0..20 {
            m.insert(format!("c:cat_{c}"), 2500);
        }
        for h in 0..24 {
            m.insert(format!("h:{h:02}"), 2000);
        }
        m.insert("s:failed".into(), 120);
        days.insert(d, m);
    }
    let users: BTreeMap<String, u64> = (0..1000).map(|u| (format!("u:user-{u}"), 50)).collect();
    let reader = SyntheticReader {
        days,
        users,
        requests: AtomicUsize::new(0),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let service = QueryService {
        reader: &reader,
        project: "bench",
    };
    let summary = rt.block_on(service.summary(range)).unwrap();
    assert_eq!(summary["total_events"], 1_500_000);
    println!(
        "30-day summary: {} DynamoDB requests (day rollups: {ROLLUP_SHARDS} shard queries; unique users: 30 day partitions), no scan; first day {}",
        reader.requests.load(Ordering::Relaxed),
        day_of(range.from)
    );
    c.bench_function("summary_30_days_from_rollups_in_process", |b| {
        b.iter(|| rt.block_on(service.summary(range)).unwrap())
    });
}

criterion_group!(summary, benches);
criterion_main!(summary);
