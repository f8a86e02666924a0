//! Ports: what the domain needs from the outside world. `pulse-adapters`
//! implements them with SQS and DynamoDB; tests can implement them in memory.

use crate::project::{KeyGrant, KeyHash};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum QueueError {
    /// The queue asked us to slow down.
    #[error("queue throttled: {0}")]
    Throttled(String),
    /// The queue could not be reached or failed; nothing is known to be lost
    /// but the caller must retry the whole request.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// Puts envelope bodies on the event queue. Succeeds only when every body is
/// on the queue.
#[async_trait]
pub trait EventQueue: Send + Sync {
    async fn send_all(&self, bodies: Vec<String>) -> Result<(), QueueError>;
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("project directory unavailable: {0}")]
pub struct DirectoryError(pub String);

/// Resolves a key (by its hash) to the project it opens.
#[async_trait]
pub trait ProjectDirectory: Send + Sync {
    async fn grant_for_key(&self, key: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError>;
}

/// Keeps lookups for a short time so a warm Lambda does not read the table on
/// every request. Unknown keys are kept for less time so a new key works soon.
pub struct CachedDirectory<D> {
    inner: D,
    hit_ttl: Duration,
    miss_ttl: Duration,
    entries: Mutex<HashMap<KeyHash, (Instant, Option<KeyGrant>)>>,
}

impl<D: ProjectDirectory> CachedDirectory<D> {
    const MAX_ENTRIES: usize = 10_000;

    pub fn new(inner: D, hit_ttl: Duration, miss_ttl: Duration) -> Self {
        Self {
            inner,
            hit_ttl,
            miss_ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl<D: ProjectDirectory> ProjectDirectory for CachedDirectory<D> {
    async fn grant_for_key(&self, key: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError> {
        let now = Instant::now();
        if let Some((at, grant)) = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            let ttl = if grant.is_some() {
                self.hit_ttl
            } else {
                self.miss_ttl
            };
            if now.duration_since(*at) < ttl {
                return Ok(grant.clone());
            }
        }
        let grant = self.inner.grant_for_key(key).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.clone(), (now, grant.clone()));
        Ok(grant)
    }
}

#[async_trait]
impl<T: ProjectDirectory + ?Sized> ProjectDirectory for Arc<T> {
    async fn grant_for_key(&self, key: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError> {
        (**self).grant_for_key(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{KeyKind, NewProject};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize, KeyGrant);

    #[async_trait]
    impl ProjectDirectory for Counting {
        async fn grant_for_key(&self, key: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok((key == &self.1.project.write_key_hash).then(|| self.1.clone()))
        }
    }

    #[tokio::test]
    async fn caches_hits_longer_than_misses() {
        let p = NewProject::new("p", "P");
        let grant = KeyGrant {
            project: p.to_project(0),
            kind: KeyKind::Write,
        };
        let inner = Arc::new(Counting(AtomicUsize::new(0), grant.clone()));
        let cache = CachedDirectory::new(inner.clone(), Duration::from_secs(60), Duration::ZERO);
        let good = KeyHash::of(&p.write_key);
        let bad = KeyHash::of("wk_nope");
        for _ in 0..3 {
            assert_eq!(
                cache.grant_for_key(&good).await.unwrap(),
                Some(grant.clone())
            );
            assert_eq!(cache.grant_for_key(&bad).await.unwrap(), None);
        }
        // One lookup for the good key, three for the bad one (miss TTL is zero here).
        assert_eq!(inner.0.load(Ordering::SeqCst), 4);
    }
}
