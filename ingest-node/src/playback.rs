//! Signed playback on the node: the store's playback policy ([`layout::PLAYBACK_POLICY`]) as
//! every edge of this process reads it ([`PolicyCache`]), the API's edits of it (signing keys,
//! each stream's setting), and playback tokens minted with the node's own key. What a token
//! and a child URI signature are, and how they are checked, is the core's
//! ([`rapidrtmp_core::edge::auth`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use rapidrtmp_core::edge::auth::{Playback, PlaybackPolicy, PolicyObject, MAX_KEYS, URI_SECRET_LEN};
use rapidrtmp_core::layout::{self, PLAYBACK_POLICY, PLAYBACK_POLICY_MAX_AGE_S};
use serde_json::{json, Value};

use crate::store::{Store, StoreError};

/// How many times an edit of the policy is tried again when another writer changed it between
/// the read and the conditional write.
const EDIT_ATTEMPTS: usize = 8;

/// The playback policy as this process's edges see it: read from the store at most every
/// [`PLAYBACK_POLICY_MAX_AGE_S`], so a change (a key removed, a stream made signed) holds
/// within that time on every edge, with one store read per period whatever the traffic.
#[derive(Default)]
pub struct PolicyCache {
    kept: std::sync::Mutex<Option<(Instant, Arc<PlaybackPolicy>)>>,
    reading: tokio::sync::Mutex<()>,
}

impl PolicyCache {
    /// The policy, read again when older than [`PLAYBACK_POLICY_MAX_AGE_S`]; the last one read
    /// while the store does not answer (or holds a policy that does not parse); `None` when
    /// none was ever read and the store does not answer: playback is then a 503.
    pub async fn get(&self, store: &Store) -> Option<Arc<PlaybackPolicy>> {
        let max_age = Duration::from_secs(PLAYBACK_POLICY_MAX_AGE_S);
        let fresh = |kept: &Option<(Instant, Arc<PlaybackPolicy>)>| {
            kept.as_ref().filter(|(at, _)| at.elapsed() < max_age).map(|(_, p)| p.clone())
        };
        if let Some(policy) = fresh(&self.kept.lock().unwrap_or_else(|e| e.into_inner())) {
            return Some(policy);
        }
        // One read at a time; the others wait for it and take what it read.
        let _reading = self.reading.lock().await;
        if let Some(policy) = fresh(&self.kept.lock().unwrap_or_else(|e| e.into_inner())) {
            return Some(policy);
        }
        let read = match store.get(PLAYBACK_POLICY).await {
            Ok(None) => Ok(PlaybackPolicy::public()),
            Ok(Some(bytes)) => PlaybackPolicy::parse(&bytes).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        match read {
            Ok(policy) => {
                let policy = Arc::new(policy);
                *kept = Some((Instant::now(), policy.clone()));
                Some(policy)
            }
            Err(e) => {
                tracing::warn!("playback policy {PLAYBACK_POLICY} not read: {e}; keeping the last one read");
                kept.as_ref().map(|(_, p)| p.clone())
            }
        }
    }

    /// Forgets the kept policy: this process's edges read the store's at the next request (after
    /// the API changed it).
    pub fn forget(&self) {
        *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Why an edit of the policy failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The store did not answer.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The edit is refused (the message says why).
    #[error("{0}")]
    Refused(String),
    /// Other writers kept changing the policy.
    #[error("the playback policy changed {EDIT_ATTEMPTS} times while being edited")]
    Contended,
}

/// Reads the store's policy object (an empty one, with a new child URI secret, if there is
/// none), applies `edit` and writes it back if it is still unchanged, checked by the core's
/// parser first; tried again when another writer came in between.
pub async fn edit_policy<T>(
    store: &Store,
    mut edit: impl FnMut(&mut PolicyObject) -> Result<T, String>,
) -> Result<T, EditError> {
    for _ in 0..EDIT_ATTEMPTS {
        let (mut object, version) = match store.get_versioned(PLAYBACK_POLICY).await? {
            Some((bytes, version)) => (
                serde_json::from_slice::<PolicyObject>(&bytes)
                    .map_err(|e| EditError::Refused(format!("{PLAYBACK_POLICY} does not parse: {e}")))?,
                Some(version),
            ),
            None => (PolicyObject::default(), None),
        };
        if object.uri_secret.is_empty() {
            object.uri_secret = URL_SAFE_NO_PAD.encode(random::<URI_SECRET_LEN>());
        }
        let out = edit(&mut object).map_err(EditError::Refused)?;
        PlaybackPolicy::from_object(&object).map_err(|e| EditError::Refused(e.to_string()))?;
        let bytes = Bytes::from(serde_json::to_vec_pretty(&object).unwrap_or_default());
        if store.put_if(PLAYBACK_POLICY, bytes, version.as_ref()).await?.is_some() {
            return Ok(out);
        }
    }
    Err(EditError::Contended)
}

/// `N` bytes from the OS's random source.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes
}

/// A signing algorithm of playback tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    ES256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

/// A new key pair of `alg` named `kid`: its private JWK (every member) and public JWK.
pub fn new_key(alg: Algorithm, kid: &str) -> (Value, Value) {
    match alg {
        Algorithm::ES256 => {
            let key = loop {
                // A scalar of zero or over the group order is refused: draw again.
                if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&random::<32>()) {
                    break key;
                }
            };
            let point = key.verifying_key().to_encoded_point(false);
            let (x, y) = (point.x().map(|x| URL_SAFE_NO_PAD.encode(x)), point.y().map(|y| URL_SAFE_NO_PAD.encode(y)));
            let public = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"});
            let mut private = public.clone();
            private["d"] = json!(URL_SAFE_NO_PAD.encode(key.to_bytes()));
            (private, public)
        }
        Algorithm::EdDSA => {
            let key = ed25519_dalek::SigningKey::from_bytes(&random::<32>());
            let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
            let public = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"});
            let mut private = public.clone();
            private["d"] = json!(URL_SAFE_NO_PAD.encode(key.to_bytes()));
            (private, public)
        }
    }
}

/// Adds a new key pair of `alg` to the policy: its private JWK is returned (once: only the
/// public one is stored).
pub async fn add_key(store: &Store, alg: Algorithm) -> Result<Value, EditError> {
    let kid = crate::tokens::random_id(12);
    let (private, public) = new_key(alg, &kid);
    edit_policy(store, |policy| {
        if policy.keys.len() >= MAX_KEYS {
            return Err(format!("at most {MAX_KEYS} signing keys: delete one first"));
        }
        policy.keys.push(public.clone());
        Ok(())
    })
    .await?;
    Ok(private)
}

/// Removes key `kid`; `Ok(false)` if there was none.
pub async fn remove_key(store: &Store, kid: &str) -> Result<bool, EditError> {
    edit_policy(store, |policy| {
        let before = policy.keys.len();
        policy.keys.retain(|k| k["kid"] != kid);
        Ok(policy.keys.len() != before)
    })
    .await
}

/// Sets the playback of `stream` (a stream or group key).
pub async fn set_playback(store: &Store, stream: &str, playback: Playback) -> Result<(), EditError> {
    edit_policy(store, |policy| {
        policy.streams.insert(stream.into(), playback);
        Ok(())
    })
    .await
}

/// Sets the playback of every stream without one of its own (`--playback`) and the child URI
/// signatures' bucket (`--playback-uri-bucket`), where given.
pub async fn set_defaults(store: &Store, playback: Option<Playback>, bucket_s: Option<u64>) -> Result<(), EditError> {
    edit_policy(store, |policy| {
        policy.default = playback.unwrap_or(policy.default);
        policy.uri_bucket_s = bucket_s.unwrap_or(policy.uri_bucket_s);
        Ok(())
    })
    .await
}

/// A playback token for `stream`, valid from `now_s` for `ttl_s`, signed with the node's own
/// key ([`layout::NODE_PLAYBACK_KEY`], made on first use, its public half added to the policy).
pub async fn mint(store: &Store, stream: &str, now_s: u64, ttl_s: u64) -> Result<String, EditError> {
    let private = match store.get(layout::NODE_PLAYBACK_KEY).await? {
        Some(bytes) => serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| EditError::Refused(format!("{} does not parse: {e}", layout::NODE_PLAYBACK_KEY)))?,
        None => {
            let (private, _) = new_key(Algorithm::EdDSA, &format!("node-{}", crate::tokens::random_id(9)));
            let bytes = Bytes::from(serde_json::to_vec(&private).unwrap_or_default());
            if !store.put_if_absent(layout::NODE_PLAYBACK_KEY, bytes).await? {
                return Box::pin(mint(store, stream, now_s, ttl_s)).await;
            }
            private
        }
    };
    let kid = private["kid"].as_str().unwrap_or_default().to_string();
    let seed: [u8; 32] = private["d"]
        .as_str()
        .and_then(|d| URL_SAFE_NO_PAD.decode(d).ok())
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| EditError::Refused(format!("{} has no Ed25519 seed", layout::NODE_PLAYBACK_KEY)))?;
    let mut public = private.clone();
    if let Some(members) = public.as_object_mut() {
        members.remove("d");
    }
    edit_policy(store, |policy| {
        if !policy.keys.iter().any(|k| k["kid"] == kid.as_str()) {
            if policy.keys.len() >= MAX_KEYS {
                return Err(format!("at most {MAX_KEYS} signing keys: delete one first"));
            }
            policy.keys.push(public.clone());
        }
        Ok(())
    })
    .await?;
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let claims = json!({"sub": stream, "iat": now_s, "nbf": now_s, "exp": now_s.saturating_add(ttl_s)});
    let signed =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    use ed25519_dalek::Signer;
    let signature = ed25519_dalek::SigningKey::from_bytes(&seed).sign(signed.as_bytes());
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_settings_and_minted_tokens_hold_at_the_edge() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-playback-{}", std::process::id()));
        let store = Store::Local(crate::store::LocalStore::new(&dir).unwrap());
        let private = add_key(&store, Algorithm::ES256).await.unwrap();
        assert!(private["d"].is_string());
        add_key(&store, Algorithm::EdDSA).await.unwrap();
        set_playback(&store, "cam", Playback::Signed).await.unwrap();
        let now_s = 1_800_000_000;
        let token = mint(&store, "cam", now_s, 60).await.unwrap();
        let bytes = store.get(PLAYBACK_POLICY).await.unwrap().unwrap();
        let policy = PlaybackPolicy::parse(&bytes).unwrap();
        assert_eq!(policy.playback("cam"), Playback::Signed);
        assert_eq!(policy.playback("other"), Playback::Public);
        assert!(policy.verify_token(&token, "cam", None, now_s + 1).is_ok());
        assert!(policy.verify_token(&token, "cam", None, now_s + 60).is_err());
        let object: PolicyObject = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(object.keys.len(), 3, "two keys made and the node's own");
        assert!(object.keys.iter().all(|k| k.get("d").is_none()), "no private key in the policy");
        let kid = private["kid"].as_str().unwrap();
        assert!(remove_key(&store, kid).await.unwrap());
        assert!(!remove_key(&store, kid).await.unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
