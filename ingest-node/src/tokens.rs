//! Publish tokens: `{expires}.{nonce}.{flags}[.{group}].{signature}`, signed with HMAC-SHA256
//! over the stream key and those fields, so any node with the same secret can check them, and
//! bound to one stream key without carrying it. `group` puts the stream into a stream group.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted (a real one is about 80 characters).
pub const MAX_TOKEN_LEN: usize = 256;

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// Random id; single-use tokens are spent by recording it in the store.
    pub nonce: String,
    /// The token may be used once only.
    pub single_use: bool,
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
        let mut body = format!("{}.{}.{}", grant.expires_at, grant.nonce, u8::from(grant.single_use));
        if let Some(group) = &grant.group {
            body = format!("{body}.{group}");
        }
        let sig = B64.encode(self.mac(stream_key, &body).finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Checks a token for `stream_key` at `now` (seconds since the Unix epoch).
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
        let mut parts = body.split('.');
        let (Some(exp), Some(nonce), Some(flags), group, None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let expires_at: u64 = exp.parse().map_err(|_| TokenError::Invalid)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(Grant { expires_at, nonce: nonce.into(), single_use: flags == "1", group: group.map(String::from) })
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
        Grant { expires_at: 1000, nonce: random_id(16), single_use: true, group: None }
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
