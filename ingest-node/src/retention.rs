//! Retention kept in the store, so that it survives restarts and outlives the stream: chunks
//! that left the live window, and the archive's buckets and session records
//! ([`rapidrtmp_core::archive`]) once what they list is older than the retention, are listed in `live/{stream}/expiring/{due}.json` (`due` in
//! milliseconds since the Unix epoch), one object per slot of a tenth of the retention (1 to 60
//! seconds), and deleted once it is due: by the stream's writer, or by the sweep once no node
//! writes the stream.

use bytes::Bytes;
use rapidrtmp_core::layout::{expires_with_retention, expiring_due, expiring_key, expiring_prefix};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::store::{Store, StoreError};

/// The shortest and the longest slot of deletions written as one object, milliseconds.
const SLOT_MS: (u64, u64) = (1_000, 60_000);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Bucket {
    keys: Vec<String>,
}

/// The deletions a stream's writer schedules: the bucket it is filling, kept in memory (it is
/// the only writer of its stream's buckets), with the time it is due.
#[derive(Debug)]
pub struct Schedule {
    stream: String,
    slot_ms: u64,
    open: Option<(u64, Bucket)>,
}

impl Schedule {
    /// The schedule of `stream`, whose chunks are kept `retention_ms` after they leave the window.
    pub fn new(stream: &str, retention_ms: u64) -> Self {
        Self { stream: stream.into(), slot_ms: (retention_ms / 10).clamp(SLOT_MS.0, SLOT_MS.1), open: None }
    }

    /// Records that `keys` are to be deleted at `at_ms` (milliseconds since the Unix epoch);
    /// returns when that is due. Written before the manifest stops listing them, so a crash in
    /// between leaves them scheduled, not forgotten.
    pub async fn add(&mut self, store: &Store, keys: Vec<String>, at_ms: u64) -> Result<u64, StoreError> {
        // The end of the slot holding `at_ms`: nothing is deleted early.
        let due = at_ms.div_ceil(self.slot_ms).saturating_mul(self.slot_ms);
        if self.open.as_ref().is_none_or(|(d, _)| *d != due) {
            // The bucket may hold entries of an earlier writer of this stream (a node that died).
            let earlier = match store.get(&expiring_key(&self.stream, due)).await? {
                Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
                None => Bucket::default(),
            };
            self.open = Some((due, earlier));
        }
        let (_, bucket) = self.open.get_or_insert_with(|| (due, Bucket::default()));
        bucket.keys.extend(keys);
        let bytes = Bytes::from(serde_json::to_vec(bucket).unwrap_or_default());
        store.put(&expiring_key(&self.stream, due), bytes).await?;
        Ok(due)
    }
}

/// Deletes what is due at `now` for `stream`; returns when the next deletion is due. A bucket
/// is removed only once all its keys are gone; one that cannot be read is left for a person.
pub async fn delete_due(store: &Store, stream: &str, now: u64) -> Result<Option<u64>, StoreError> {
    let mut next = None;
    for name in store.list(&expiring_prefix(stream)).await? {
        let Some(due) = expiring_due(&name) else { continue };
        if due > now {
            next = Some(next.map_or(due, |n: u64| n.min(due)));
            continue;
        }
        let key = expiring_key(stream, due);
        let Some(bytes) = store.get(&key).await? else { continue };
        let Ok(bucket) = serde_json::from_slice::<Bucket>(&bytes) else {
            warn!("retention: {key} is not readable; left as it is");
            continue;
        };
        for k in &bucket.keys {
            // Only this stream's chunks and archive, whatever the object says.
            if expires_with_retention(stream, k) {
                store.delete(k).await?;
            }
        }
        store.delete(&key).await?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn scheduled_chunks_are_deleted_once_due_and_only_they() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-retention-{}", std::process::id()));
        let store = Store::Local(LocalStore::new(&dir).unwrap());
        for k in [
            "live/a/1/0.flv",
            "live/a/1/1.flv",
            "live/a/1/2.flv",
            "live/b/1/0.flv",
            "live/a/archive/0.json",
            "live/a/manifest.json",
        ] {
            store.put(k, Bytes::from_static(b"x")).await.unwrap();
        }
        // One hour kept: deletions grouped by the minute.
        const MINUTE_MS: u64 = 60_000;
        let t = 100 * MINUTE_MS + 5;
        let mut s = Schedule::new("a", 3_600_000);
        let first = vec!["live/a/1/0.flv".into(), "live/a/archive/0.json".into(), "live/a/manifest.json".into()];
        assert_eq!(s.add(&store, first, t).await.unwrap(), 101 * MINUTE_MS);
        // Another writer's schedule for the same minute keeps the first one's entries.
        let mut s2 = Schedule::new("a", 3_600_000);
        s2.add(&store, vec!["live/a/1/1.flv".into(), "live/b/1/0.flv".into()], t + 1).await.unwrap();
        s2.add(&store, vec!["live/a/1/2.flv".into()], t + MINUTE_MS).await.unwrap();
        assert_eq!(delete_due(&store, "a", t).await.unwrap(), Some(101 * MINUTE_MS));
        assert_eq!(delete_due(&store, "a", 101 * MINUTE_MS - 1).await.unwrap(), Some(101 * MINUTE_MS));
        assert_eq!(delete_due(&store, "a", 101 * MINUTE_MS).await.unwrap(), Some(102 * MINUTE_MS));
        let left: Vec<bool> = exist(
            &store,
            &["live/a/1/0.flv", "live/a/1/1.flv", "live/a/1/2.flv", "live/b/1/0.flv", "live/a/archive/0.json"],
        )
        .await;
        assert_eq!(left, [false, false, true, true, false], "another stream's chunk is never deleted");
        assert_eq!(exist(&store, &["live/a/manifest.json"]).await, [true], "only chunks and the archive go");
        assert_eq!(delete_due(&store, "a", 102 * MINUTE_MS).await.unwrap(), None);
        assert!(store.list("live/a/expiring/").await.unwrap().is_empty());
        // Two seconds kept: one-second slots.
        assert_eq!(Schedule::new("a", 2_000).add(&store, Vec::new(), 5_500).await.unwrap(), 6_000);
        std::fs::remove_dir_all(dir).unwrap();
    }

    async fn exist(store: &Store, keys: &[&str]) -> Vec<bool> {
        let mut out = Vec::new();
        for k in keys {
            out.push(store.get(k).await.unwrap().is_some());
        }
        out
    }
}
