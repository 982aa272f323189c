//! Webhook endpoints: the one of `--webhook-url` (this node's, never stored) and those added
//! through the API, stored under `webhooks/endpoints/` so every node shares them.

use bytes::Bytes;
use rapidrtmp_core::layout::{valid_name, webhook_endpoint_key, WEBHOOK_ENDPOINTS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sign::Secret;
use crate::local_http::Url;
use crate::store::{Store, StoreError};

/// Most endpoints the API may add.
pub const MAX_ENDPOINTS: usize = 16;

/// An endpoint as stored (`webhooks/endpoints/{id}.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointRecord {
    /// Its id (`wh_…`).
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// Its signing secret, `whsec_…`.
    pub secret: String,
    /// When it was added, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Why it was disabled (its receiver answered 410), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

/// An endpoint ready to deliver to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its id.
    pub id: String,
    /// Where events are POSTed.
    pub url: Url,
    /// Its signing secret.
    pub secret: Secret,
}

/// The id of the `--webhook-url` endpoint: `flag-` and the first 12 hex digits of the URL's
/// SHA-256, the same on every node run with the same URL.
pub fn flag_id(url: &Url) -> String {
    let digest = Sha256::digest(url.to_string().as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("flag-{hex}")
}

/// The stored endpoints (unreadable records are skipped).
pub async fn list(store: &Store) -> Result<Vec<EndpointRecord>, StoreError> {
    let mut all = Vec::new();
    for name in store.list(WEBHOOK_ENDPOINTS).await? {
        let Some(id) = name.strip_suffix(".json").filter(|id| valid_name(id)) else { continue };
        if let Some(record) = get(store, id).await? {
            all.push(record);
        }
    }
    all.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then(a.id.cmp(&b.id)));
    Ok(all)
}

/// The stored endpoint `id`, if there is one and it reads.
pub async fn get(store: &Store, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
    if !valid_name(id) {
        return Ok(None);
    }
    let Some(bytes) = store.get(&webhook_endpoint_key(id)).await? else { return Ok(None) };
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Stores `record` (new, or disabled).
pub async fn put(store: &Store, record: &EndpointRecord) -> Result<(), StoreError> {
    let body = serde_json::to_vec(record).expect("a record serializes");
    store.put(&webhook_endpoint_key(&record.id), Bytes::from(body)).await
}

/// Removes endpoint `id`.
pub async fn remove(store: &Store, id: &str) -> Result<(), StoreError> {
    store.delete(&webhook_endpoint_key(id)).await
}

impl EndpointRecord {
    /// The endpoint to deliver to, unless it is disabled or unusable.
    pub fn usable(&self) -> Option<Endpoint> {
        if self.disabled.is_some() {
            return None;
        }
        Some(Endpoint {
            id: self.id.clone(),
            url: Url::parse(&self.url).ok()?,
            secret: Secret::parse(&self.secret).ok()?,
        })
    }
}
