//! Item keys in the one DynamoDB table (`pk`, `sk`). Every item kind has its
//! own prefix so kinds never collide; ids are the last part of a key, so a `#`
//! inside an id cannot be mistaken for a separator.
//!
//! | item            | pk                  | sk        |
//! |-----------------|---------------------|-----------|
//! | project         | `PROJECT#{id}`      | `PROJECT` |
//! | key → project   | `KEY#{sha256 hex}`  | `KEY`     |

use crate::project::KeyHash;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The TTL attribute (epoch seconds), as DynamoDB TTL requires.
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub const PROJECT_SK: &str = "PROJECT";
pub const KEY_SK: &str = "KEY";

pub fn project_pk(project_id: &str) -> String {
    format!("PROJECT#{project_id}")
}

pub fn key_pk(hash: &KeyHash) -> String {
    format!("KEY#{}", hash.0)
}

// ── Events, timelines, indexes and rollups (the consumer writes them) ──
//
// | item                 | pk                              | sk                 | why |
// |----------------------|---------------------------------|--------------------|-----|
// | event                | `EV#{p}#{event_id}`             | `EV`               | dedupe by id (conditional put), get by id |
// | ↳ GSI `timeline`     | `U#{p}#{user key}`              | `{ts ms:013}#{id}` | user timeline, newest first |
// | time page            | `TP#{p}#{hour}#{shard}`         | `{message id}#{n}` | project-wide time ranges, sharded |
// | message marker       | `MSG#{message id}`              | `{part}`           | exactly-once rollups |
// | day rollup           | `RD#{p}#{shard}`                | `{day}`            | counters by type, category, ... |
// | hour rollup          | `RH#{p}#{shard}`                | `{day}T{hh}`       | hourly counters by type |
// | user-day             | `UD#{p}#{day}#{shard}`          | `{user key}`       | exact daily active users, top users |
// | session              | `SES#{p}#{session}`             | `SES`              | sessions per day, session timeline window |
// | conversation         | `CONV#{p}#{conversation}`       | `CONV`             | conversation users and window |
// | live index           | `LIVE#{p}#{minute}`             | `{written ms:013}#{message id}#{part}` | live tail (ids, TTL 1 day) |
// | monitor              | `MON#{p}`                       | `{user_id}`        | per-user monitoring window (TTL) |
// | monitored event      | `DBG#{p}#{user_id}`             | `{received ms:013}#{event id}` | debug stream (TTL = window) |
//
// `{p}` is the project id, days are UTC `YYYY-MM-DD`, hours `YYYY-MM-DDTHH`,
// minutes `YYYY-MM-DDTHH:MM`.
// A user key is `u:{user_id}`, or `a:{anonymous_id}` for events without one.

pub const TIMELINE_INDEX: &str = "timeline";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

/// Writers spread over this many partitions so one busy project has no hot
/// partition; readers query every shard.
pub const ROLLUP_SHARDS: u32 = 4;
pub const PAGE_SHARDS: u32 = 8;
/// One partition per project-day: a range read answers unique users in one
/// request per day, and DynamoDB splits a hot partition by sort key (user).
pub const USER_DAY_SHARDS: u32 = 1;

pub const EVENT_SK: &str = "EV";
pub const SESSION_SK: &str = "SES";
pub const CONVERSATION_SK: &str = "CONV";

/// FNV-1a: a stable hash (std's is randomized per process) for shard choice.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn shard_of(s: &str, shards: u32) -> u32 {
    (stable_hash(s) % u64::from(shards)) as u32
}

pub fn user_key(user_id: Option<&str>, anonymous_id: Option<&str>) -> String {
    match (user_id, anonymous_id) {
        (Some(u), _) => format!("u:{u}"),
        (None, Some(a)) => format!("a:{a}"),
        (None, None) => "a:".to_owned(),
    }
}

pub fn event_pk(project: &str, event_id: &str) -> String {
    format!("EV#{project}#{event_id}")
}

pub fn timeline_pk(project: &str, user_key: &str) -> String {
    format!("U#{project}#{user_key}")
}

pub fn timeline_sk(ts_ms: i64, event_id: &str) -> String {
    format!("{ts_ms:013}#{event_id}")
}

pub fn page_pk(project: &str, hour: &str, shard: u32) -> String {
    format!("TP#{project}#{hour}#{shard}")
}

pub fn marker_pk(message_id: &str) -> String {
    format!("MSG#{message_id}")
}

pub fn day_rollup_pk(project: &str, shard: u32) -> String {
    format!("RD#{project}#{shard}")
}

pub fn hour_rollup_pk(project: &str, shard: u32) -> String {
    format!("RH#{project}#{shard}")
}

pub fn user_day_pk(project: &str, day: &str, shard: u32) -> String {
    format!("UD#{project}#{day}#{shard}")
}

pub fn session_pk(project: &str, session_id: &str) -> String {
    format!("SES#{project}#{session_id}")
}

pub fn conversation_pk(project: &str, conversation_id: &str) -> String {
    format!("CONV#{project}#{conversation_id}")
}

pub fn live_pk(project: &str, minute: &str) -> String {
    format!("LIVE#{project}#{minute}")
}

pub fn monitor_pk(project: &str) -> String {
    format!("MON#{project}")
}

pub fn debug_pk(project: &str, user_id: &str) -> String {
    format!("DBG#{project}#{user_id}")
}
