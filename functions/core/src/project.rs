//! Projects and their keys. Keys are stored only as SHA-256 hashes; the
//! plain key is shown once, when it is made.

use crate::limits::DEFAULT_RETENTION_DAYS;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub retention_days: u32,
    /// Browser origins allowed to send events; empty means any.
    pub allowed_origins: Vec<String>,
    pub write_key_hash: KeyHash,
    pub read_key_hash: KeyHash,
    pub created_at: i64,
}

impl Project {
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty()
            || self
                .allowed_origins
                .iter()
                .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Write,
    Read,
}

impl KeyKind {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Write => "wk_",
            KeyKind::Read => "rk_",
        }
    }
}

/// Hex SHA-256 of a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyHash(pub String);

impl KeyHash {
    pub fn of(key: &str) -> Self {
        KeyHash(hex::encode(Sha256::digest(key.as_bytes())))
    }
}

/// A fresh random key: prefix + 32 hex characters (128 bits).
pub fn generate_key(kind: KeyKind) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}{}", kind.prefix(), hex::encode(bytes))
}

/// What a key lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub project: Project,
    pub kind: KeyKind,
}

/// Input for a new project; keys are generated when not given.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub id: String,
    pub name: String,
    pub retention_days: u32,
    pub allowed_origins: Vec<String>,
    pub write_key: String,
    pub read_key: String,
}

impl NewProject {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            retention_days: DEFAULT_RETENTION_DAYS,
            allowed_origins: Vec::new(),
            write_key: generate_key(KeyKind::Write),
            read_key: generate_key(KeyKind::Read),
        }
    }

    pub fn to_project(&self, created_at: i64) -> Project {
        Project {
            id: self.id.clone(),
            name: self.name.clone(),
            retention_days: self.retention_days,
            allowed_origins: self.allowed_origins.clone(),
            write_key_hash: KeyHash::of(&self.write_key),
            read_key_hash: KeyHash::of(&self.read_key),
            created_at,
        }
    }
}

/// A project id made from a name: lowercase ASCII letters, digits and `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(48);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = generate_key(KeyKind::Write);
        let b = generate_key(KeyKind::Write);
        assert!(a.starts_with("wk_") && a.len() == 35);
        assert_ne!(a, b);
        assert!(generate_key(KeyKind::Read).starts_with("rk_"));
        // Known SHA-256 of "abc".
        assert_eq!(
            KeyHash::of("abc").0,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn origins_and_slugs() {
        let mut p = NewProject::new("p", "P").to_project(0);
        assert!(p.origin_allowed("https://x.test"));
        p.allowed_origins = vec!["https://app.example.com".into()];
        assert!(p.origin_allowed("https://APP.example.com"));
        assert!(!p.origin_allowed("https://evil.test"));
        assert_eq!(slug("  My Great App!! 2 "), "my-great-app-2");
    }
}
