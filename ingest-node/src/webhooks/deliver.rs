//! Delivery of pending webhooks: list them, take the head of each (endpoint, stream) in
//! sequence order, claim it with a conditional write, send it signed, then delete it or
//! reschedule it.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::http::{header, HeaderName, HeaderValue};
use rapidrtmp_core::layout::{pending_webhook_parts, PENDING_WEBHOOKS};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use super::endpoints::{self, Endpoint};
use super::settings::MAX_RETRY_DELAY;
use super::{Pending, Webhooks, CLAIM_LEASE, MAX_DELIVERY_AGE, MAX_IN_FLIGHT, POLL, REQUEST_TIMEOUT};
use crate::clock::now_ms;
use crate::local_http;
use crate::metrics::WEBHOOK_EVENTS;

/// Lists and attempts pending deliveries until the process ends.
pub async fn run(hooks: Arc<Webhooks>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // The (endpoint, stream) groups this node is attempting now.
    let busy: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    loop {
        let _ = tokio::time::timeout(POLL, hooks.wake.notified()).await;
        let names = match hooks.store.list(PENDING_WEBHOOKS).await {
            Ok(names) => names,
            Err(e) => {
                warn!("cannot list the pending webhook deliveries: {e}");
                continue;
            }
        };
        // Each group's lowest sequence; the oldest pending across all.
        let mut heads: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
        let mut oldest_us = u64::MAX;
        let mut count = 0u64;
        for name in &names {
            let Some((endpoint, stream, sequence, _)) = pending_webhook_parts(name) else { continue };
            count += 1;
            oldest_us = oldest_us.min(sequence);
            let head = heads.entry((endpoint.into(), stream.into())).or_insert((sequence, name.clone()));
            if sequence < head.0 {
                *head = (sequence, name.clone());
            }
        }
        let metrics = &hooks.metrics.webhooks;
        metrics.pending.store(count, Relaxed);
        let age_ms = if count == 0 { 0 } else { now_ms().saturating_sub(oldest_us / 1000) };
        metrics.oldest_pending_ms.store(age_ms, Relaxed);
        for (group, (_, name)) in heads {
            if !busy.lock().unwrap_or_else(|e| e.into_inner()).insert(group.clone()) {
                continue;
            }
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&group);
                break;
            };
            let (hooks, busy) = (hooks.clone(), busy.clone());
            tokio::spawn(async move {
                attempt(&hooks, &format!("{PENDING_WEBHOOKS}{name}"), &group.0).await;
                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&group);
                drop(slot);
            });
        }
    }
}

/// The endpoint `id` as this node knows it: `Ok(None)` when it was removed or disabled,
/// `Err(())` when this node cannot deliver to it (another node's `--webhook-url`, or the store
/// did not answer).
async fn endpoint(hooks: &Webhooks, id: &str) -> Result<Option<Endpoint>, ()> {
    if id.starts_with("flag-") {
        let Some((url, secret)) = &hooks.settings.flag_endpoint else { return Err(()) };
        if endpoints::flag_id(url) != id {
            return Err(());
        }
        if hooks.flag_disabled.load(Relaxed) {
            return Ok(None);
        }
        return Ok(Some(Endpoint { id: id.into(), url: url.clone(), secret: secret.clone() }));
    }
    match endpoints::get(&hooks.store, id).await {
        Ok(record) => Ok(record.and_then(|r| r.usable())),
        Err(e) => {
            warn!("cannot read webhook endpoint {id}: {e}");
            Err(())
        }
    }
}

/// Claims, sends and settles the pending delivery under `key`, if it is due and free.
async fn attempt(hooks: &Webhooks, key: &str, endpoint_id: &str) {
    let store = &hooks.store;
    let (bytes, version) = match store.get_versioned(key).await {
        Ok(Some(found)) => found,
        Ok(None) => return,
        Err(e) => return warn!("cannot read a pending webhook delivery: {e}"),
    };
    let Ok(mut pending) = serde_json::from_slice::<Pending>(&bytes) else {
        warn!("{key}: not a pending webhook delivery; deleted");
        let _ = store.delete(key).await;
        return;
    };
    let now = now_ms();
    if pending.due_ms > now || (pending.claim_until_ms > now && !pending.claimed_by.is_empty()) {
        return;
    }
    let kind = event_label(&pending.kind);
    let Ok(target) = endpoint(hooks, endpoint_id).await else {
        // Another node's `--webhook-url`: that node delivers it, or, once no node has for
        // MAX_DELIVERY_AGE (the flag changed), nobody will.
        if now.saturating_sub(pending.created_ms) >= millis(MAX_DELIVERY_AGE) {
            hooks.metrics.webhooks.delivery(kind, "expired");
            let _ = store.delete(key).await;
        }
        return;
    };
    let Some(target) = target else {
        // Removed, or disabled: nothing will take it.
        hooks.metrics.webhooks.delivery(kind, "disabled");
        let _ = store.delete(key).await;
        return;
    };
    pending.claimed_by = hooks.node.clone();
    pending.claim_until_ms = now + millis(CLAIM_LEASE);
    let claimed = match store.put_if(key, encode(&pending), Some(&version)).await {
        Ok(Some(v)) => v,
        Ok(None) => return, // another node took it first
        Err(e) => return warn!("cannot claim a pending webhook delivery: {e}"),
    };
    let timestamp = now_ms() / 1000;
    let signature = target.secret.sign(&pending.id, timestamp, pending.body.as_bytes());
    let headers = headers(&pending.id, timestamp, &signature);
    let body = Bytes::from(pending.body.clone());
    let outcome = local_http::send("POST", &target.url, &headers, body, REQUEST_TIMEOUT).await;
    let status = match &outcome {
        Ok(reply) => reply.status,
        Err(_) => 0,
    };
    if (200..300).contains(&status) {
        hooks.metrics.webhooks.delivery(kind, "delivered");
        if let Err(e) = store.delete(key).await {
            warn!("a delivered webhook is still pending (it will be sent again): {e}");
        }
        return;
    }
    if status == 410 {
        info!(endpoint = target.id, "webhook endpoint answered 410 Gone: disabled");
        disable(hooks, &target.id).await;
        hooks.metrics.webhooks.delivery(kind, "disabled");
        let _ = store.delete(key).await;
        return;
    }
    let why = match outcome {
        Ok(reply) => format!("HTTP {}", reply.status),
        Err(e) => format!("{e:#}"),
    };
    pending.attempts = pending.attempts.saturating_add(1);
    let now = now_ms();
    if now.saturating_sub(pending.created_ms) >= millis(MAX_DELIVERY_AGE) {
        warn!(endpoint = target.id, event = pending.id, "webhook given up after {} attempts: {why}", pending.attempts);
        hooks.metrics.webhooks.delivery(kind, "expired");
        let _ = store.delete(key).await;
        return;
    }
    let delay = backoff(hooks.settings.retry_min, pending.attempts);
    info!(
        endpoint = target.id,
        event = pending.id,
        attempts = pending.attempts,
        "webhook not delivered ({why}); again in {delay:?}"
    );
    hooks.metrics.webhooks.delivery(kind, "failed");
    pending.due_ms = now + millis(delay);
    pending.claimed_by.clear();
    pending.claim_until_ms = 0;
    if let Err(e) = store.put_if(key, encode(&pending), Some(&claimed)).await {
        warn!("cannot reschedule a webhook delivery (its claim runs out instead): {e}");
    }
}

/// Disables endpoint `id`: the flag's until restart, a stored one in the store.
async fn disable(hooks: &Webhooks, id: &str) {
    if id.starts_with("flag-") {
        hooks.flag_disabled.store(true, Relaxed);
        return;
    }
    match endpoints::get(&hooks.store, id).await {
        Ok(Some(mut record)) => {
            record.disabled = Some(format!("the receiver answered 410 Gone at {}", now_ms()));
            if let Err(e) = endpoints::put(&hooks.store, &record).await {
                warn!("cannot disable webhook endpoint {id}: {e}");
            }
        }
        Ok(None) => {}
        Err(e) => warn!("cannot disable webhook endpoint {id}: {e}"),
    }
}

/// The wait before attempt `attempts + 1`: `min` doubled per failed attempt, at most
/// [`MAX_RETRY_DELAY`], then 80 % to 120 % of that at random (jitter, so that receivers coming
/// back are not hit by every node at once).
pub fn backoff(min: Duration, attempts: u32) -> Duration {
    let doubled = min.saturating_mul(1u32.checked_shl(attempts.saturating_sub(1).min(31)).unwrap_or(u32::MAX));
    let base = doubled.min(MAX_RETRY_DELAY);
    let mut r = [0u8; 2];
    let _ = getrandom::fill(&mut r);
    let permille = 800 + u32::from(u16::from_be_bytes(r) % 401);
    base.mul_f64(f64::from(permille) / 1000.0)
}

/// The Standard Webhooks headers of an attempt.
fn headers(id: &str, timestamp: u64, signature: &str) -> Vec<(HeaderName, HeaderValue)> {
    let value = |v: &str| HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    vec![
        (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (HeaderName::from_static("webhook-id"), value(id)),
        (HeaderName::from_static("webhook-timestamp"), value(&timestamp.to_string())),
        (HeaderName::from_static("webhook-signature"), value(signature)),
    ]
}

/// The exported label of an event type (a stored one from a later release counts as `other`).
fn event_label(kind: &str) -> &'static str {
    WEBHOOK_EVENTS.iter().find(|k| **k == kind).copied().unwrap_or("other")
}

fn encode(pending: &Pending) -> Bytes {
    Bytes::from(serde_json::to_vec(pending).expect("a pending delivery serializes"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_with_jitter_up_to_its_limit() {
        let min = Duration::from_secs(5);
        for (attempts, base) in [(1, 5.0), (2, 10.0), (3, 20.0), (10, 2560.0), (40, 3600.0)] {
            let d = backoff(min, attempts).as_secs_f64();
            assert!((base * 0.8..=base * 1.2).contains(&d), "attempt {attempts}: {d}");
        }
    }
}
