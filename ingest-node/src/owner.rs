//! Stream ownership: one writer per stream across nodes. The owner record
//! `live/{stream}/owner.json` names the node that writes the stream and until when; it is taken
//! and renewed only with conditional writes, so two nodes never both hold it. A node may take a
//! stream another node holds only once that lease has expired (the other node died).

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::app::now_ms;
use crate::store::{Store, StoreError, Version};

/// How many times a claim re-reads the record after losing a race for it.
const CLAIM_TRIES: usize = 3;

/// The key of a stream's owner record.
pub fn owner_key(stream: &str) -> String {
    format!("live/{stream}/owner.json")
}

/// The owner record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRecord {
    /// The node holding the stream; empty once released.
    pub node: String,
    /// When the lease ends unless renewed, milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
    /// When the stream's earliest pending retention deletion is due (for the sweep of streams
    /// no node writes any more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due_ms: Option<u64>,
}

impl OwnerRecord {
    /// Reads a record; an unreadable one counts as released (nobody can renew it).
    pub fn parse(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// Whether a node holds it at `now`.
    pub fn is_held(&self, now: u64) -> bool {
        !self.node.is_empty() && self.expires_at_ms > now
    }

    /// Whether its holder stopped renewing it without releasing it (it died).
    pub fn is_abandoned(&self, now: u64) -> bool {
        !self.node.is_empty() && self.expires_at_ms <= now
    }

    fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// A held lease on one stream.
#[derive(Debug)]
pub struct Lease {
    key: String,
    version: Version,
    record: OwnerRecord,
    duration: Duration,
    /// The record found when the lease was taken: `is_abandoned` if its node died.
    pub previous: Option<OwnerRecord>,
}

/// The outcome of a claim.
#[derive(Debug)]
pub enum Claim {
    /// The stream is ours.
    Taken(Lease),
    /// Another holder's lease is running.
    Held {
        /// Who holds it.
        node: String,
    },
}

/// Takes the stream for `node` if nobody holds it: no record, a released one or an expired one.
pub async fn claim(store: &Store, stream: &str, node: &str, duration: Duration) -> Result<Claim, StoreError> {
    let key = owner_key(stream);
    for _ in 0..CLAIM_TRIES {
        let current = store.get_versioned(&key).await?;
        let previous = current.as_ref().map(|(bytes, _)| OwnerRecord::parse(bytes));
        let now = now_ms();
        if let Some(p) = previous.as_ref().filter(|p| p.is_held(now)) {
            return Ok(Claim::Held { node: p.node.clone() });
        }
        let record = OwnerRecord {
            node: node.into(),
            expires_at_ms: now + duration.as_millis() as u64,
            next_due_ms: previous.as_ref().and_then(|p| p.next_due_ms),
        };
        if let Some(version) = store.put_if(&key, record.to_bytes(), current.as_ref().map(|(_, v)| v)).await? {
            return Ok(Claim::Taken(Lease { key, version, record, duration, previous }));
        }
    }
    let node = match store.get(&key).await? {
        Some(bytes) => OwnerRecord::parse(&bytes).node,
        None => String::new(),
    };
    Ok(Claim::Held { node })
}

impl Lease {
    /// Extends the lease (and records when the next retention deletion is due); `Ok(false)` if
    /// it was lost: another node took the stream after it had expired.
    pub async fn renew(&mut self, store: &Store, next_due_ms: Option<u64>) -> Result<bool, StoreError> {
        let mut record = self.record.clone();
        record.expires_at_ms = now_ms() + self.duration.as_millis() as u64;
        record.next_due_ms = next_due_ms;
        match store.put_if(&self.key, record.to_bytes(), Some(&self.version)).await? {
            Some(version) => {
                (self.version, self.record) = (version, record);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Gives the stream up: any node may take it now.
    pub async fn release(self, store: &Store, next_due_ms: Option<u64>) -> Result<(), StoreError> {
        let record = OwnerRecord { node: String::new(), expires_at_ms: 0, next_due_ms };
        store.put_if(&self.key, record.to_bytes(), Some(&self.version)).await.map(|_| ())
    }

    /// How often to renew: a third of the lease, so two renewals may fail before it expires.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn one_holder_until_release_or_expiry() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-owner-{}", std::process::id()));
        let store = Store::Local(LocalStore::new(&dir).unwrap());
        let long = Duration::from_secs(60);
        let Claim::Taken(mut a) = claim(&store, "cam", "a", long).await.unwrap() else { panic!("a first") };
        assert_eq!(a.previous, None);
        assert!(matches!(claim(&store, "cam", "b", long).await.unwrap(), Claim::Held { node } if node == "a"));
        assert!(a.renew(&store, Some(5)).await.unwrap());
        a.release(&store, Some(5)).await.unwrap();
        let Claim::Taken(b) = claim(&store, "cam", "b", Duration::from_secs(2)).await.unwrap() else {
            panic!("b after release")
        };
        assert_eq!(b.previous.as_ref().map(|p| (p.node.as_str(), p.next_due_ms)), Some(("", Some(5))));
        // b dies (never renews): once its lease has run out, c takes the stream and sees why.
        assert!(matches!(claim(&store, "cam", "c", long).await.unwrap(), Claim::Held { .. }));
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let Claim::Taken(c) = claim(&store, "cam", "c", long).await.unwrap() else { panic!("c after expiry") };
        assert!(c.previous.as_ref().unwrap().is_abandoned(now_ms()));
        // b's renewal comes too late: the stream is c's.
        let mut b = b;
        assert!(!b.renew(&store, None).await.unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
