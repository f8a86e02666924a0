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
