//! Per-key serialisation inside one process.
//!
//! A consumer handles several messages at once; two about the same thing (an instance's create
//! and release, a license code's renewal and release, a tenant's syncs) would otherwise race
//! between their reads and writes. Holding the key's lock for the whole handling makes them take
//! turns here; across replicas, a `version` compare-and-set on the row catches what a
//! process-local lock cannot.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A lock per key, created on demand and forgotten when nobody holds or waits for it.
#[derive(Debug, Default, Clone)]
pub struct KeyedLocks {
    map: Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>,
}

/// Held while a key is locked.
#[derive(Debug)]
pub struct KeyGuard {
    guard: Option<OwnedMutexGuard<()>>,
    key: String,
    map: Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> KeyGuard {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry(key.to_owned()).or_default())
        };
        let guard = mutex.lock_owned().await;
        KeyGuard { guard: Some(guard), key: key.to_owned(), map: Arc::clone(&self.map) }
    }

    /// How many keys are currently tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether no key is tracked.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the map holds it now: nobody waits, so the entry can go.
        if map.get(&self.key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn same_key_waits_other_keys_do_not_and_entries_are_forgotten() {
        let locks = KeyedLocks::default();
        let a = locks.lock("a").await;
        let _b = tokio::time::timeout(Duration::from_millis(100), locks.lock("b")).await.expect("other key is free");
        assert!(tokio::time::timeout(Duration::from_millis(50), locks.lock("a")).await.is_err(), "same key waits");
        drop(a);
        let _a = tokio::time::timeout(Duration::from_millis(100), locks.lock("a")).await.expect("released");
        drop(_a);
        drop(_b);
        assert!(locks.is_empty());
    }
}
