//! The sweep of streams no node writes any more, run by every node once per owner-lease period
//! (the first time at start): a stream whose owner stopped renewing its lease without releasing
//! it (its node died) is marked ended, and retention deletions that have come due for streams
//! nobody writes are made. Each is done under the stream's lease, taken like a publish takes it.

use std::sync::Arc;

use bytes::Bytes;
use rapidrtmp_core::layout::{self, manifest_key, owner_key, valid_name};
use rapidrtmp_core::manifest::{Manifest, StreamState};
use tracing::warn;

use crate::clock::now_ms;
use crate::owner::{self, Claim, OwnerRecord};
use crate::publish::writer::StreamWriters;
use crate::retention;
use crate::store::StoreError;

/// Sweeps until shutdown, with the stream writers' handles (store, node name, lease, shutdown),
/// leaving the streams they write alone.
pub async fn run(app: Arc<StreamWriters>) {
    let mut tick = tokio::time::interval(app.settings.owner_lease);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = sweep(&app).await {
            warn!("sweep of abandoned streams: {e}");
        }
    }
}

async fn sweep(app: &StreamWriters) -> Result<(), StoreError> {
    for stream in app.store.list(layout::STREAMS).await? {
        let ours = app.writes(&stream);
        if !valid_name(&stream) || ours {
            continue;
        }
        // One small read per stream; anything more only for a stream with work to do.
        let Some(bytes) = app.store.get(&owner_key(&stream)).await? else { continue };
        let record = OwnerRecord::parse(&bytes);
        let now = now_ms();
        if !record.is_abandoned(now) && record.next_due_ms.is_none_or(|due| due > now) {
            continue;
        }
        let Claim::Taken(lease) = owner::claim(&app.store, &stream, &app.node_id, app.settings.owner_lease).await?
        else {
            continue;
        };
        let abandoned = lease.previous.as_ref().filter(|p| p.is_abandoned(now_ms())).map(|p| p.node.clone());
        let ended = match abandoned {
            Some(node) => end_abandoned(app, &stream, &node).await,
            None => Ok(()),
        };
        let next_due = match retention::delete_due(&app.store, &stream, now_ms()).await {
            Ok(next) => next,
            Err(e) => {
                warn!(stream, "retention: deletions delayed: {e}");
                record.next_due_ms
            }
        };
        lease.release(&app.store, next_due).await?;
        ended?;
    }
    Ok(())
}

/// Marks the stream of a dead node ended, so its playlist gets `EXT-X-ENDLIST`.
async fn end_abandoned(app: &StreamWriters, stream: &str, node: &str) -> Result<(), StoreError> {
    let key = manifest_key(stream);
    let Some((bytes, version)) = app.store.get_versioned(&key).await? else { return Ok(()) };
    let Ok(mut m) = Manifest::parse(&bytes) else { return Ok(()) };
    if m.state == StreamState::Live {
        m.state = StreamState::Ended;
        m.updated_at_ms = now_ms();
        if app.store.put_if(&key, Bytes::from(m.to_json()), Some(&version)).await?.is_some() {
            warn!(stream, node, "stream marked ended: its node stopped renewing its ownership");
        }
    }
    Ok(())
}
