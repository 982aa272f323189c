//! Stream ownership: one writer per stream across nodes. The owner record
//! `live/{stream}/owner.json` names the node that writes the stream and until when; it is taken
//! and renewed only with conditional writes, so two nodes never both hold it. A node may take a
//! stream another node holds only once that lease has expired (the other node died).
//!
//! A writer's lease is kept by a [`Keeper`], a task of its own that renews it on schedule whatever
//! the writer's store writes are doing; each renewal attempt is bounded (a sixth of the lease, at
//! most [`RENEW_ATTEMPT_TIMEOUT`]) and retried while the lease lasts. The keeper tells the writer
//! until when it may write ([`Hold`]): past that the writer pauses, and once another node has
//! taken the record it stops.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use rapidrtmp_core::layout::owner_key;

use crate::clock::now_ms;
use crate::store::{Store, StoreError, Version};

/// How many times a claim re-reads the record after losing a race for it.
const CLAIM_TRIES: usize = 3;

/// Longest one renewal attempt may take (a sixth of the lease if that is shorter): a store that
/// stalls cannot hold the renewal until the lease has run out; the attempt is given up and
/// tried again.
pub const RENEW_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// First wait after a failed renewal attempt; it doubles, up to a sixth of the lease.
const RENEW_RETRY_DELAY: Duration = Duration::from_millis(250);

/// Most renewal attempts whose answer never came (cut short, timed out) that a lease remembers,
/// to recognise its own write when one of them landed after all.
const MAX_UNANSWERED: usize = 64;

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
    /// The expiry times of renewals sent whose answer never came: one of them may have landed.
    unanswered: Vec<u64>,
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
    // What this claim wrote (expiry times) and the record it replaced: a write whose answer was
    // lost, retried by the store's client and refused since it had landed, shows up as our own
    // record when read again.
    let (mut sent, mut replaced) = (Vec::new(), None);
    for _ in 0..CLAIM_TRIES {
        let current = store.get_versioned(&key).await?;
        let previous = current.as_ref().map(|(bytes, _)| OwnerRecord::parse(bytes));
        if let (Some(found), Some((_, version))) = (&previous, &current) {
            if found.node == node && sent.contains(&found.expires_at_ms) {
                let (record, version, previous) = (found.clone(), version.clone(), replaced.flatten());
                return Ok(Claim::Taken(Lease { key, version, record, duration, unanswered: Vec::new(), previous }));
            }
        }
        let now = now_ms();
        if let Some(p) = previous.as_ref().filter(|p| p.is_held(now)) {
            return Ok(Claim::Held { node: p.node.clone() });
        }
        let record = OwnerRecord {
            node: node.into(),
            expires_at_ms: now + duration.as_millis() as u64,
            next_due_ms: previous.as_ref().and_then(|p| p.next_due_ms),
        };
        sent.push(record.expires_at_ms);
        replaced = Some(previous.clone());
        if let Some(version) = store.put_if(&key, record.to_bytes(), current.as_ref().map(|(_, v)| v)).await? {
            return Ok(Claim::Taken(Lease { key, version, record, duration, unanswered: Vec::new(), previous }));
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
    ///
    /// Safe to cut short (a timeout): a renewal whose answer never came may have landed, and the
    /// next one recognises it (the record names this node and an expiry it sent) instead of
    /// taking the refusal for a loss.
    pub async fn renew(&mut self, store: &Store, next_due_ms: Option<u64>) -> Result<bool, StoreError> {
        let mut record = self.record.clone();
        record.expires_at_ms = now_ms() + self.duration.as_millis() as u64;
        record.next_due_ms = next_due_ms;
        if self.unanswered.len() >= MAX_UNANSWERED {
            self.unanswered.remove(0);
        }
        self.unanswered.push(record.expires_at_ms);
        for _ in 0..CLAIM_TRIES {
            if let Some(version) = store.put_if(&self.key, record.to_bytes(), Some(&self.version)).await? {
                (self.version, self.record) = (version, record);
                self.unanswered.clear();
                return Ok(true);
            }
            // Refused: another node took the record, or a renewal of ours landed after all.
            let Some((bytes, version)) = store.get_versioned(&self.key).await? else { return Ok(false) };
            let found = OwnerRecord::parse(&bytes);
            if found.node != self.record.node || !self.unanswered.contains(&found.expires_at_ms) {
                return Ok(false);
            }
            (self.version, self.record) = (version, found);
        }
        // Each try found a renewal of ours in place: the lease is held (until the last found).
        self.unanswered.clear();
        Ok(true)
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

    /// Until when, on this node's clock, its holder may write: the lease's end less a sixth of
    /// the lease (for clocks that differ between nodes, and for a write being cut short).
    pub fn writable_until(&self) -> Instant {
        let left = Duration::from_millis(self.record.expires_at_ms.saturating_sub(now_ms()));
        Instant::now() + left.saturating_sub(self.duration / 6)
    }
}

/// Whether the holder of a kept lease may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Held: a write may run until this instant ([`Lease::writable_until`]); past it, the holder
    /// waits for the next renewal.
    Until(Instant),
    /// Another node took the stream: nothing may be written any more.
    Lost,
}

/// Keeps a lease renewed on a task of its own, on schedule, whatever its holder is doing.
pub struct Keeper {
    hold: watch::Receiver<Hold>,
    next_due: watch::Sender<Option<u64>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Option<Lease>>,
}

impl Keeper {
    /// Starts renewing `lease` every third of it. `failed` is called for each failed attempt
    /// (to count it).
    pub fn start(store: Store, lease: Lease, next_due_ms: Option<u64>, failed: impl Fn() + Send + 'static) -> Self {
        let (hold_tx, hold) = watch::channel(Hold::Until(lease.writable_until()));
        let (next_due, next_due_rx) = watch::channel(next_due_ms);
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(keep(lease, store, hold_tx, next_due_rx, stop_rx, failed));
        Self { hold, next_due, stop, task }
    }

    /// Until when the holder may write, updated at each renewal.
    pub fn hold(&self) -> watch::Receiver<Hold> {
        self.hold.clone()
    }

    /// When the stream's next retention deletion is due, for the next renewals to record.
    pub fn set_next_due(&self, next_due_ms: Option<u64>) {
        self.next_due.send_replace(next_due_ms);
    }

    /// Stops renewing (after the attempt under way, if any); the lease back, unless it was lost.
    pub async fn stop(self) -> Option<Lease> {
        let _ = self.stop.send(());
        self.task.await.ok().flatten()
    }
}

/// The keeper's task: renews on schedule; a failed attempt is retried (with a growing pause)
/// until one lands or the record turns out to be another node's.
async fn keep(
    mut lease: Lease,
    store: Store,
    hold: watch::Sender<Hold>,
    next_due: watch::Receiver<Option<u64>>,
    mut stop: oneshot::Receiver<()>,
    failed: impl Fn(),
) -> Option<Lease> {
    let every = lease.renew_every();
    let attempt_limit = RENEW_ATTEMPT_TIMEOUT.min(lease.duration / 6);
    let mut next = Instant::now() + every;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = &mut stop => return Some(lease),
        }
        let mut pause = RENEW_RETRY_DELAY.min(every / 2);
        let mut failures = 0u32;
        loop {
            let due = *next_due.borrow();
            let error = match tokio::time::timeout(attempt_limit, lease.renew(&store, due)).await {
                Ok(Ok(true)) => break,
                Ok(Ok(false)) => {
                    hold.send_replace(Hold::Lost);
                    return None;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {attempt_limit:?}"),
            };
            failed();
            failures += 1;
            let lapsed = matches!(*hold.borrow(), Hold::Until(t) if t <= Instant::now());
            warn!(
                key = %lease.key,
                failures,
                lapsed,
                "cannot renew the stream's ownership, retrying in {pause:?}{}: {error}",
                if lapsed { " (writes paused until it is renewed)" } else { "" }
            );
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut stop => return Some(lease),
            }
            pause = (pause * 2).min(lease.duration / 6);
        }
        if failures > 0 {
            info!(key = %lease.key, failures, "the stream's ownership is renewed again");
        }
        hold.send_replace(Hold::Until(lease.writable_until()));
        next = Instant::now() + every;
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

    /// A renewal cut short after it was sent lands all the same; the next one recognises it
    /// instead of taking the changed record for a loss.
    #[tokio::test]
    async fn a_renewal_cut_short_that_landed_is_recognised() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-owner-cut-{}", std::process::id()));
        let store = Store::Local(LocalStore::new(&dir).unwrap());
        let Claim::Taken(mut a) = claim(&store, "cam", "a", Duration::from_secs(60)).await.unwrap() else {
            panic!("a first")
        };
        let taken = a.version.clone();
        // Sent (the folder store's write runs on its own thread), then given up at once.
        {
            let renewal = a.renew(&store, Some(7));
            tokio::pin!(renewal);
            tokio::select! {
                biased;
                _ = &mut renewal => panic!("answered at once"),
                () = std::future::ready(()) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (bytes, landed) = store.get_versioned(&owner_key("cam")).await.unwrap().unwrap();
        assert_ne!(landed, taken, "the cut-short renewal did not land");
        assert_eq!(OwnerRecord::parse(&bytes).next_due_ms, Some(7));
        assert!(a.renew(&store, None).await.unwrap(), "a lost its own lease to its own renewal");
        assert!(
            matches!(claim(&store, "cam", "b", Duration::from_secs(60)).await.unwrap(), Claim::Held { node } if node == "a")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The keeper renews on schedule, tells until when writes may run, and says when the record
    /// was taken by another node.
    #[tokio::test]
    async fn the_keeper_renews_and_tells_of_a_loss() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-owner-keeper-{}", std::process::id()));
        let store = Store::Local(LocalStore::new(&dir).unwrap());
        let Claim::Taken(lease) = claim(&store, "cam", "a", Duration::from_millis(1500)).await.unwrap() else {
            panic!("a first")
        };
        let keeper = Keeper::start(store.clone(), lease, None, || {});
        let mut hold = keeper.hold();
        let Hold::Until(first) = *hold.borrow_and_update() else { panic!("held") };
        hold.changed().await.unwrap();
        let Hold::Until(renewed) = *hold.borrow_and_update() else { panic!("held") };
        assert!(renewed > first, "not renewed");
        // Another node overwrites the record (as if the lease had expired): the keeper says so.
        store
            .put(
                &owner_key("cam"),
                OwnerRecord { node: "b".into(), expires_at_ms: u64::MAX, next_due_ms: None }.to_bytes(),
            )
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(3), hold.wait_for(|h| *h == Hold::Lost)).await.unwrap().unwrap();
        assert!(keeper.stop().await.is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
