//! Publish tokens: `v2.{expires}.{nonce}.{flags}.{generation}[.{group}].{signature}`, signed
//! with HMAC-SHA256 over the stream key and those fields, so any node with the same secret can
//! check them, and bound to one stream key without carrying it. `group` puts the stream into a
//! stream group. Tokens of the first format, `{expires}.{nonce}.{flags}[.{group}].{signature}`,
//! are still accepted, as generation 0.
//!
//! Revocation: every stream key has a token generation in the store,
//! `tokens/generation/{key}.json` (0 while there is none). A token carries the generation it
//! was issued in; revoking bumps the generation with a conditional write, and every node refuses
//! the tokens of an earlier generation from then on. A node publishing the key re-reads the
//! generation every [`revocation_check_every`] and disconnects its publisher once it has moved
//! past the publisher's token.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use rapidrtmp_core::layout::token_generation_key;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{info, warn};

use crate::clock::now_ms;
use crate::store::{Store, StoreError};
use crate::streams::{LiveStream, LiveStreams};

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted (a real one is about 90 characters, 160 with a group).
pub const MAX_TOKEN_LEN: usize = 256;

/// The first field of a token of the current format.
const V2: &str = "v2";

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// Random id; single-use tokens are spent by recording it in the store.
    pub nonce: String,
    /// The token may be used once only.
    pub single_use: bool,
    /// The stream key's token generation the token was issued in: it is refused once the key's
    /// generation in the store is higher (the key was revoked since).
    pub generation: u64,
    /// The stream group the stream joins: its rendition in the group's multivariant playlist.
    pub group: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token was given.
    #[error("no publish token (add ?token=… to the stream key)")]
    Missing,
    /// Not a token, or signed for another stream or with another secret.
    #[error("invalid publish token")]
    Invalid,
    /// Past its expiry.
    #[error("publish token expired")]
    Expired,
}

/// Issues and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner { .. }")
    }
}

impl TokenSigner {
    /// A signer whose secret is derived from `admin_key`: nodes sharing the admin key accept
    /// each other's tokens.
    pub fn from_admin_key(admin_key: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(admin_key.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"rapidrtmp publish token v1");
        Self { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self, stream_key: &str, body: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(stream_key.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        mac
    }

    /// Issues a token for `stream_key`.
    pub fn issue(&self, stream_key: &str, grant: &Grant) -> String {
        let mut body =
            format!("{V2}.{}.{}.{}.{}", grant.expires_at, grant.nonce, u8::from(grant.single_use), grant.generation);
        if let Some(group) = &grant.group {
            body = format!("{body}.{group}");
        }
        let sig = B64.encode(self.mac(stream_key, &body).finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Checks a token for `stream_key` at `now` (seconds since the Unix epoch): its signature
    /// and expiry. Whether its generation is still current is the store's to say
    /// ([`generation`]).
    pub fn verify(&self, stream_key: &str, token: &str, now: u64) -> Result<Grant, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let (body, sig) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| TokenError::Invalid)?;
        // verify_slice compares in constant time.
        self.mac(stream_key, body).verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let mut parts = body.split('.').peekable();
        // The first format has no version field: its first field is the expiry, all digits.
        let v2 = parts.next_if_eq(&V2).is_some();
        let (Some(exp), Some(nonce), Some(flags)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let generation = match v2 {
            true => parts.next().and_then(|g| g.parse().ok()).ok_or(TokenError::Invalid)?,
            false => 0,
        };
        let (group, None) = (parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let expires_at: u64 = exp.parse().map_err(|_| TokenError::Invalid)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        let (nonce, group) = (nonce.into(), group.map(String::from));
        Ok(Grant { expires_at, nonce, single_use: flags == "1", generation, group })
    }
}

/// How many times a revocation re-reads the generation after another node changed it meanwhile.
const REVOKE_ATTEMPTS: usize = 8;

/// A stream key's token generation record.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationRecord {
    /// Tokens of an earlier generation are refused.
    generation: u64,
    /// When the key was last revoked, ms since the Unix epoch.
    revoked_at_ms: u64,
}

impl GenerationRecord {
    fn parse(key: &str, bytes: &[u8]) -> Result<Self, GenerationError> {
        serde_json::from_slice(bytes).map_err(|e| GenerationError::Unreadable(key.into(), e.to_string()))
    }
}

/// Why a token generation could not be read or bumped.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record is not one this program writes.
    #[error("token generation record {0} is unreadable: {1}")]
    Unreadable(String, String),
    /// Other nodes kept changing the record.
    #[error("token generation record {0} kept changing; try again")]
    Contended(String),
}

/// The token generation of `stream_key`: 0 until it is first revoked.
pub async fn generation(store: &Store, stream_key: &str) -> Result<u64, GenerationError> {
    let key = token_generation_key(stream_key);
    match store.get(&key).await? {
        Some(bytes) => Ok(GenerationRecord::parse(&key, &bytes)?.generation),
        None => Ok(0),
    }
}

/// Revokes every token issued for `stream_key` so far: bumps its generation with a conditional
/// write (two nodes revoking at once both bump it) and returns the new one.
pub async fn revoke(store: &Store, stream_key: &str) -> Result<u64, GenerationError> {
    let key = token_generation_key(stream_key);
    for _ in 0..REVOKE_ATTEMPTS {
        let current = store.get_versioned(&key).await?;
        let generation = match &current {
            Some((bytes, _)) => GenerationRecord::parse(&key, bytes)?.generation,
            None => 0,
        };
        let next = GenerationRecord { generation: generation + 1, revoked_at_ms: now_ms() };
        let bytes = Bytes::from(serde_json::to_vec(&next).unwrap_or_default());
        if store.put_if(&key, bytes, current.as_ref().map(|(_, v)| v)).await?.is_some() {
            return Ok(next.generation);
        }
    }
    Err(GenerationError::Contended(key))
}

/// How often a node publishing a stream re-reads its token generation: a third of the owner
/// lease, the period the owner record is renewed at (10 s with the default 30 s lease). A
/// publisher whose token was revoked on another node is disconnected within this period and
/// one store read.
pub fn revocation_check_every(owner_lease: Duration) -> Duration {
    owner_lease / 3
}

/// Watches the token generation of `stream`, published with a token of `generation`, until
/// the publish ends: once the key is revoked (on any node), its publisher is disconnected
/// (through `streams`). Checked every [`revocation_check_every`] `owner_lease`. A store that
/// cannot be read leaves the publisher be (it is checked again next period).
pub async fn watch_revocation(
    store: Store,
    streams: Arc<LiveStreams>,
    owner_lease: Duration,
    stream: Arc<LiveStream>,
    generation: u64,
) {
    let every = revocation_check_every(owner_lease);
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut done = stream.done.subscribe();
    loop {
        tokio::select! {
            _ = done.wait_for(|d| *d) => return,
            _ = tick.tick() => {}
        }
        match self::generation(&store, &stream.key).await {
            Ok(now) if now > generation => {
                info!(stream = %stream.key, "the publish token was revoked: the publisher is disconnected");
                return streams.stop_connection(stream.connection);
            }
            Ok(_) => {}
            Err(e) => warn!(stream = %stream.key, "cannot check whether the publish token was revoked: {e}"),
        }
    }
}

/// `n` random bytes, URL-safe base64.
pub fn random_id(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS random source works");
    B64.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant { expires_at: 1000, nonce: random_id(16), single_use: true, generation: 3, group: None }
    }

    /// A token of the first format (no version, no generation), as nodes issued them before.
    fn first_format(s: &TokenSigner, stream_key: &str, body: &str) -> String {
        format!("{body}.{}", B64.encode(s.mac(stream_key, body).finalize().into_bytes()))
    }

    #[test]
    fn the_generation_is_signed_and_first_format_tokens_are_generation_0() {
        let s = TokenSigner::from_admin_key("admin");
        let t = s.issue("cam", &grant());
        assert!(t.starts_with("v2.1000.") && t.contains(".1.3."), "{t}");
        assert_eq!(s.verify("cam", &t.replacen(".1.3.", ".1.4.", 1), 999), Err(TokenError::Invalid));
        let old = first_format(&s, "cam", "1000.abc.0");
        let g = Grant { expires_at: 1000, nonce: "abc".into(), single_use: false, generation: 0, group: None };
        assert_eq!(s.verify("cam", &old, 999), Ok(g));
        let old = first_format(&s, "cam", "1000.abc.1.show");
        assert_eq!(s.verify("cam", &old, 999).map(|g| (g.generation, g.group)), Ok((0, Some("show".into()))));
        // A signed body that is neither format.
        for body in ["v2.1000.abc.1", "v2.1000.abc.1.x", "v2.1000.abc.1.2.show.more", "1000.abc.1.show.more"] {
            assert_eq!(s.verify("cam", &first_format(&s, "cam", body), 999), Err(TokenError::Invalid), "{body}");
        }
    }

    #[tokio::test]
    async fn revocations_bump_the_generation_once_each_even_when_concurrent() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-generation-{}", std::process::id()));
        let store = Store::Local(crate::store::LocalStore::new(&dir).unwrap());
        assert_eq!(generation(&store, "cam").await.unwrap(), 0);
        assert_eq!(revoke(&store, "cam").await.unwrap(), 1);
        let both = tokio::join!(revoke(&store, "cam"), revoke(&store, "cam"));
        let mut got = [both.0.unwrap(), both.1.unwrap()];
        got.sort();
        assert_eq!(got, [2, 3]);
        assert_eq!(generation(&store, "cam").await.unwrap(), 3);
        assert_eq!(generation(&store, "cam2").await.unwrap(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_group_is_signed_with_the_rest() {
        let s = TokenSigner::from_admin_key("admin");
        let g = Grant { group: Some("show".into()), ..grant() };
        let t = s.issue("show_720p", &g);
        assert_eq!(s.verify("show_720p", &t, 999), Ok(g));
        assert_eq!(s.verify("show_720p", &t.replacen(".show.", ".other.", 1), 999), Err(TokenError::Invalid));
    }

    #[test]
    fn issued_tokens_verify_for_their_stream_only() {
        let s = TokenSigner::from_admin_key("admin");
        let g = grant();
        let t = s.issue("cam", &g);
        assert_eq!(s.verify("cam", &t, 999), Ok(g));
        assert_eq!(s.verify("cam2", &t, 999), Err(TokenError::Invalid));
        assert_eq!(s.verify("cam", &t, 1000), Err(TokenError::Expired));
        assert_eq!(TokenSigner::from_admin_key("other").verify("cam", &t, 1), Err(TokenError::Invalid));
    }

    #[test]
    fn tampered_and_malformed_tokens_are_invalid() {
        let s = TokenSigner::from_admin_key("admin");
        let t = s.issue("cam", &grant());
        let forged = t.replacen("1000", "9999", 1);
        assert_eq!(s.verify("cam", &forged, 1), Err(TokenError::Invalid));
        for bad in ["x", "a.b.c.d", "....", &"a".repeat(300)] {
            assert_eq!(s.verify("cam", bad, 1), Err(TokenError::Invalid), "{bad}");
        }
        assert_eq!(s.verify("cam", "", 1), Err(TokenError::Missing));
    }
}
