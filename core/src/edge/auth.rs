//! Signed playback, sans-IO: playback tokens (JWTs) verified with public keys only, and the
//! short signature every child URI of a signed stream's playlist carries.
//!
//! | what | specification |
//! |---|---|
//! | the token | RFC 7519 (JWT) in the JWS compact serialization (RFC 7515 §7.1) |
//! | `ES256` | RFC 7518 §3.4: ECDSA P-256 with SHA-256, the signature as `R ‖ S` (64 bytes) |
//! | `EdDSA` (Ed25519) | RFC 8037 §3.1 (`Ed25519`, the fully specified name of RFC 9864, is accepted too) |
//! | the public keys | RFC 7517 JWKs: `EC` `P-256` (`x`, `y`, RFC 7518 §6.2.1), `OKP` `Ed25519` (`x`, RFC 8037 §2) |
//! | the child URI signature | HMAC-SHA256 (RFC 2104) of the stream and a time bucket |
//!
//! Only `ES256` and `EdDSA` are accepted, each only with a key of its own type: `alg: none`,
//! the `HS*` family (an HMAC keyed with a public key is a forgery anyone can make) and every
//! other algorithm are refused before a key is looked at.
//!
//! A viewer's token rides on the playlist URL (`?token=`); the playlist's answer rewrites its
//! child URIs to carry `sig={bucket}.{mac}` ([`ChildSignature`]), the same for every viewer of
//! the stream during the bucket, so a CDN caches one copy of each child for all viewers. An
//! edge checks a `sig` with one HMAC, no store read.

use alloc::{format, string::String, vec::Vec};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Longest playback token accepted, in bytes (the `token` query value, undecoded).
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest decoded JOSE header of a token.
pub const MAX_HEADER_LEN: usize = 512;
/// Longest decoded claims set of a token.
pub const MAX_CLAIMS_LEN: usize = 2048;
/// Longest key id (`kid`).
pub const MAX_KID_LEN: usize = 64;
/// Most public keys a key set holds.
pub const MAX_KEYS: usize = 32;
/// Largest playback policy object ([`PlaybackPolicy::parse`]), in bytes.
pub const MAX_POLICY_LEN: usize = 256 * 1024;
/// Most streams a playback policy names with a setting of their own.
pub const MAX_POLICY_STREAMS: usize = 4096;
/// Length of the URI signature secret, in bytes.
pub const URI_SECRET_LEN: usize = 32;
/// Bytes of the HMAC-SHA256 a child URI carries (128 bits: 22 base64url characters).
pub const URI_MAC_LEN: usize = 16;
/// Default length of a child URI signature's time bucket, in seconds.
pub const DEFAULT_BUCKET_S: u64 = 60;
/// Shortest and longest bucket a policy may set, in seconds.
pub const BUCKET_RANGE_S: (u64, u64) = (1, 3600);
/// How long after its bucket has passed a child URI is still accepted, in buckets: a player
/// that loaded the playlist at the end of a bucket still fetches what it lists.
pub const GRACE_BUCKETS: u64 = 1;
/// How far ahead of an edge's clock a child URI signature's bucket may begin, in seconds: the
/// clocks of the edge that signed and the one that checks differ a little.
pub const MAX_CLOCK_SKEW_S: u64 = 5;
/// The query parameter of a viewer's token.
pub const TOKEN_PARAM: &str = "token";
/// The query parameter of a child URI signature.
pub const SIG_PARAM: &str = "sig";

/// Why a playback request was refused; its [`Refusal::message`] is the answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No token and no signature on a request of a signed stream (401).
    Missing,
    /// The token is longer than [`MAX_TOKEN_LEN`], or a part of it than its limit.
    TooLong,
    /// The token is not three base64url parts of JSON objects.
    Malformed,
    /// The header names an algorithm other than `ES256` and `EdDSA`.
    Algorithm,
    /// The header has no `kid`, or one no key of the set has.
    UnknownKey,
    /// The key's type does not match the algorithm.
    KeyMismatch,
    /// The signature does not verify.
    BadSignature,
    /// The header lists extensions that must be understood (`crit`, RFC 7515 §4.1.11).
    Critical,
    /// A claim is missing or of the wrong type (`sub`, `exp`).
    Claims,
    /// `exp` has passed.
    Expired,
    /// `nbf` has not come yet.
    NotYetValid,
    /// `sub` is neither the stream nor its group.
    WrongStream,
    /// The request asks for times outside the token's `start`/`end`.
    OutsideWindow,
    /// A child URI signature that is malformed, of another stream, or tampered with.
    BadUriSignature,
    /// A child URI signature whose bucket (and grace) has passed, or has not begun.
    UriSignatureExpired,
    /// The edge has no key set to check against (the store's policy object is absent or bad).
    NoKeys,
}

impl Refusal {
    /// The HTTP status: 401 when nothing was presented, 403 otherwise (RFC 9110 §15.5.2, §15.5.4).
    pub fn status(self) -> u16 {
        match self {
            Self::Missing => 401,
            _ => 403,
        }
    }

    /// A short reason, the body of the answer.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "this stream needs a playback token: ?token=",
            Self::TooLong => "playback token too long",
            Self::Malformed => "playback token malformed",
            Self::Algorithm => "playback token algorithm not accepted (ES256 or EdDSA only)",
            Self::UnknownKey => "playback token signed with an unknown key",
            Self::KeyMismatch => "playback token algorithm does not match its key",
            Self::BadSignature => "playback token signature invalid",
            Self::Critical => "playback token has critical extensions",
            Self::Claims => "playback token claims invalid (sub and exp needed)",
            Self::Expired => "playback token expired",
            Self::NotYetValid => "playback token not yet valid",
            Self::WrongStream => "playback token is for another stream",
            Self::OutsideWindow => "playback token does not cover this time",
            Self::BadUriSignature => "URI signature invalid",
            Self::UriSignatureExpired => "URI signature expired: reload the playlist",
            Self::NoKeys => "no playback keys configured",
        }
    }
}

/// A public key of the key set (RFC 7517 §4, as the store's policy object holds it).
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// P-256, for `ES256`.
    P256(p256::ecdsa::VerifyingKey),
    /// Ed25519, for `EdDSA`.
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A JWK as stored: the public members only (a `d` is refused).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    /// `kty`: `EC` or `OKP`.
    pub kty: String,
    /// `crv`: `P-256` or `Ed25519`.
    pub crv: String,
    /// `x`, base64url.
    pub x: String,
    /// `y`, base64url (`EC` only).
    #[serde(default)]
    pub y: Option<String>,
    /// `kid`.
    pub kid: String,
    /// `alg`, if given (`ES256` or `EdDSA`).
    #[serde(default)]
    pub alg: Option<String>,
    /// `use`, if given.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
}

impl Jwk {
    /// The key this JWK describes; `None` for another type, curve or a bad point.
    pub fn public_key(&self) -> Option<PublicKey> {
        // Both curves' coordinates are exactly 32 bytes (RFC 7518 §6.2.1.2, RFC 8037 §2).
        let x: [u8; 32] = b64(&self.x, 32)?.try_into().ok()?;
        match (self.kty.as_str(), self.crv.as_str()) {
            ("EC", "P-256") => {
                let y: [u8; 32] = b64(self.y.as_deref()?, 32)?.try_into().ok()?;
                let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok().map(PublicKey::P256)
            }
            ("OKP", "Ed25519") if self.y.is_none() => {
                ed25519_dalek::VerifyingKey::from_bytes(&x).ok().map(PublicKey::Ed25519)
            }
            _ => None,
        }
    }
}

/// A stream's playback setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Playback {
    /// Anyone may play (the default).
    #[default]
    Public,
    /// Playback needs a token, then a child URI signature.
    Signed,
}

/// The store's playback policy object ([`crate::layout::PLAYBACK_POLICY`]), as written.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyObject {
    /// The setting of streams not in [`PolicyObject::streams`].
    #[serde(default)]
    pub default: Playback,
    /// Streams (and groups) with a setting of their own.
    #[serde(default)]
    pub streams: alloc::collections::BTreeMap<String, Playback>,
    /// The public keys (a JWK set, RFC 7517 §5).
    #[serde(default)]
    pub keys: Vec<serde_json::Value>,
    /// The child URI signature secret, base64url ([`URI_SECRET_LEN`] bytes).
    #[serde(default)]
    pub uri_secret: String,
    /// The child URI signature's bucket, seconds.
    #[serde(default = "default_bucket")]
    pub uri_bucket_s: u64,
}

fn default_bucket() -> u64 {
    DEFAULT_BUCKET_S
}

impl Default for PolicyObject {
    /// Every stream public, no keys, no secret, buckets of [`DEFAULT_BUCKET_S`].
    fn default() -> Self {
        Self {
            default: Playback::Public,
            streams: alloc::collections::BTreeMap::new(),
            keys: Vec::new(),
            uri_secret: String::new(),
            uri_bucket_s: DEFAULT_BUCKET_S,
        }
    }
}

/// What an edge needs to check playback: parsed once from the store's policy object and kept
/// (for at most [`crate::layout::PLAYBACK_POLICY_MAX_AGE_S`]) by the adapter.
#[derive(Debug, Clone, Default)]
pub struct PlaybackPolicy {
    default: Playback,
    streams: alloc::collections::BTreeMap<String, Playback>,
    keys: Vec<(String, PublicKey)>,
    uri_secret: Option<[u8; URI_SECRET_LEN]>,
    bucket_s: u64,
}

/// A policy object that is refused, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl core::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PlaybackPolicy {
    /// The policy of a store without a policy object: every stream public.
    pub fn public() -> Self {
        Self { bucket_s: DEFAULT_BUCKET_S, ..Self::default() }
    }

    /// Parses the store's policy object, checking every limit.
    pub fn parse(bytes: &[u8]) -> Result<Self, PolicyError> {
        if bytes.len() > MAX_POLICY_LEN {
            return Err(PolicyError(format!("playback policy is over {MAX_POLICY_LEN} bytes")));
        }
        let object: PolicyObject =
            serde_json::from_slice(bytes).map_err(|e| PolicyError(format!("playback policy: {e}")))?;
        Self::from_object(&object)
    }

    /// The policy of a parsed object, checking every limit.
    pub fn from_object(object: &PolicyObject) -> Result<Self, PolicyError> {
        if object.keys.len() > MAX_KEYS {
            return Err(PolicyError(format!("playback policy has over {MAX_KEYS} keys")));
        }
        if object.streams.len() > MAX_POLICY_STREAMS {
            return Err(PolicyError(format!("playback policy names over {MAX_POLICY_STREAMS} streams")));
        }
        let (low, high) = BUCKET_RANGE_S;
        if !(low..=high).contains(&object.uri_bucket_s) {
            return Err(PolicyError(format!("uriBucketS is not within {low}..={high}")));
        }
        let mut keys = Vec::with_capacity(object.keys.len());
        for value in &object.keys {
            let jwk: Jwk =
                serde_json::from_value(value.clone()).map_err(|e| PolicyError(format!("playback key: {e}")))?;
            if jwk.kid.is_empty() || jwk.kid.len() > MAX_KID_LEN {
                return Err(PolicyError(format!("playback key id is empty or over {MAX_KID_LEN} bytes")));
            }
            let key = jwk
                .public_key()
                .ok_or_else(|| PolicyError(format!("playback key {} is not a P-256 or Ed25519 public key", jwk.kid)))?;
            keys.push((jwk.kid, key));
        }
        let uri_secret = match object.uri_secret.as_str() {
            "" => None,
            secret => Some(
                b64(secret, URI_SECRET_LEN)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| PolicyError(format!("uriSecret is not {URI_SECRET_LEN} bytes of base64url")))?,
            ),
        };
        Ok(Self {
            default: object.default,
            streams: object.streams.clone(),
            keys,
            uri_secret,
            bucket_s: object.uri_bucket_s,
        })
    }

    /// The playback setting of `stream` (a stream or group key).
    pub fn playback(&self, stream: &str) -> Playback {
        self.streams.get(stream).copied().unwrap_or(self.default)
    }

    /// The child URI signature's bucket, seconds.
    pub fn bucket_s(&self) -> u64 {
        self.bucket_s
    }

    /// Verifies `token` for `stream` (or its `group`) at `now_s` (seconds since the Unix epoch).
    pub fn verify_token(&self, token: &str, stream: &str, group: Option<&str>, now_s: u64) -> Result<Claims, Refusal> {
        let claims = verify_jwt(token, &self.keys, now_s)?;
        if claims.sub != stream && Some(claims.sub.as_str()) != group {
            return Err(Refusal::WrongStream);
        }
        Ok(claims)
    }

    /// The child URI signature of `stream` for the bucket of `now_s`; `None` without a secret.
    pub fn sign_uri(&self, stream: &str, now_s: u64) -> Option<ChildSignature> {
        Some(self.uri_signer(now_s)?.sign(stream))
    }

    /// What signs the child URIs of a playlist answered at `now_s`; `None` without a secret.
    pub fn uri_signer(&self, now_s: u64) -> Option<UriSigner> {
        let secret = self.uri_secret?;
        Some(UriSigner { secret, bucket: now_s / self.bucket_s, bucket_s: self.bucket_s })
    }

    /// Checks the child URI signature `sig` (the query value) of `stream` at `now_s`.
    pub fn verify_uri(&self, sig: &str, stream: &str, now_s: u64) -> Result<(), Refusal> {
        let secret = self.uri_secret.as_ref().ok_or(Refusal::NoKeys)?;
        let (bucket, mac) = sig.split_once('.').ok_or(Refusal::BadUriSignature)?;
        let bucket = crate::hls::parse_uri_number(bucket).ok_or(Refusal::BadUriSignature)?;
        let mac = b64(mac, URI_MAC_LEN).ok_or(Refusal::BadUriSignature)?;
        uri_hmac(secret, stream, bucket).verify_truncated_left(&mac).map_err(|_| Refusal::BadUriSignature)?;
        let begins = bucket.checked_mul(self.bucket_s).ok_or(Refusal::BadUriSignature)?;
        let ends = bucket
            .checked_add(1 + GRACE_BUCKETS)
            .and_then(|b| b.checked_mul(self.bucket_s))
            .ok_or(Refusal::BadUriSignature)?;
        if now_s.saturating_add(MAX_CLOCK_SKEW_S) < begins || now_s >= ends {
            return Err(Refusal::UriSignatureExpired);
        }
        Ok(())
    }

    /// Decides a request of `stream` (in `group`, if the request came through one) with
    /// `query` at `now_s`: `Ok(None)` for a public stream, `Ok(Some(sig))` for a signed one
    /// that may be played (its child URIs carry `sig`), or why it is refused. A `token`
    /// counts only where `token_allowed` (playlists); a `sig` anywhere.
    pub fn authorize(
        &self,
        stream: &str,
        group: Option<&str>,
        query: Option<&str>,
        token_allowed: bool,
        now_s: u64,
    ) -> Result<Option<Grant>, Refusal> {
        let signed =
            self.playback(stream) == Playback::Signed || group.is_some_and(|g| self.playback(g) == Playback::Signed);
        if !signed {
            return Ok(None);
        }
        let params = AuthQuery::parse(query)?;
        if let Some(token) = params.token.filter(|_| token_allowed) {
            let claims = self.verify_token(token, stream, group, now_s)?;
            return Ok(Some(Grant { claims: Some(claims) }));
        }
        if let Some(sig) = params.sig {
            self.verify_uri(sig, stream, now_s)?;
            return Ok(Some(Grant { claims: None }));
        }
        Err(Refusal::Missing)
    }
}

/// Signs the child URIs of the playlists answered during one bucket ([`PlaybackPolicy::uri_signer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriSigner {
    secret: [u8; URI_SECRET_LEN],
    bucket: u64,
    bucket_s: u64,
}

impl UriSigner {
    /// The signature of the child URIs of `stream`.
    pub fn sign(&self, stream: &str) -> ChildSignature {
        ChildSignature { bucket: self.bucket, mac: uri_mac(&self.secret, stream, self.bucket) }
    }

    /// The bucket's length, seconds: a signed playlist is kept by caches no longer than this,
    /// so the URIs it lists hold for as long as it is served ([`GRACE_BUCKETS`]).
    pub fn bucket_s(&self) -> u64 {
        self.bucket_s
    }

    /// `playlist` (the body of the playlist at `path`) with every child URI signed: the URI
    /// lines (variant playlists, segments) and every `URI="…"` attribute (`EXT-X-MAP`, parts,
    /// preload hints, rendition reports, `EXT-X-MEDIA`). Each carries the signature of the
    /// stream it resolves to (a group's variants are other streams); a URI that resolves to no
    /// stream (another host, outside `/live/`) is left as it is.
    pub fn sign_playlist(&self, playlist: &str, path: &str) -> String {
        let mut out = String::with_capacity(playlist.len() + playlist.len() / 4);
        for line in playlist.split_inclusive('\n') {
            let (text, end) = line.strip_suffix('\n').map_or((line, ""), |t| (t, "\n"));
            if text.starts_with('#') {
                let mut rest = text;
                while let Some(at) = rest.find("URI=\"") {
                    let (head, tail) = rest.split_at(at + 5);
                    out.push_str(head);
                    let Some(close) = tail.find('"') else {
                        rest = tail;
                        break;
                    };
                    out.push_str(&self.sign_uri(&tail[..close], path));
                    rest = &tail[close..];
                }
                out.push_str(rest);
            } else if text.trim().is_empty() {
                out.push_str(text);
            } else {
                out.push_str(&self.sign_uri(text, path));
            }
            out.push_str(end);
        }
        out
    }

    fn sign_uri(&self, uri: &str, path: &str) -> String {
        let (target, query) = uri.split_once('?').map_or((uri, None), |(t, q)| (t, Some(q)));
        match uri_stream(path, target) {
            Some(stream) => format!("{target}?{}", child_query(query, &self.sign(stream))),
            None => uri.into(),
        }
    }
}

/// The stream a URI of the playlist at `path` (`/live/{stream}/…`) points into: the URI
/// resolved against the path (RFC 3986 §5.2, paths only), then its first segment under
/// `/live/`; `None` for an absolute URI or one that leaves `/live/`.
fn uri_stream<'a>(path: &'a str, uri: &'a str) -> Option<&'a str> {
    if uri.contains(':') || uri.starts_with("//") {
        return None;
    }
    let mut segments: Vec<&str> = match uri.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => path.rsplit_once('/').map_or("", |(dir, _)| dir).split('/').filter(|s| !s.is_empty()).collect(),
    };
    for segment in uri.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    match segments.as_slice() {
        ["live", stream, _, ..] => Some(stream),
        _ => None,
    }
}

/// What a signed request was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's claims, when a token was presented (a playlist); `None` for a child URI
    /// signature.
    pub claims: Option<Claims>,
}

/// A child URI signature: `{bucket}.{mac}` (the `sig` query value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildSignature {
    /// The time bucket: seconds since the Unix epoch divided by the bucket's length.
    pub bucket: u64,
    /// The first [`URI_MAC_LEN`] bytes of HMAC-SHA256(secret, `{stream}\n{bucket}`).
    pub mac: [u8; URI_MAC_LEN],
}

impl core::fmt::Display for ChildSignature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.bucket, URL_SAFE_NO_PAD.encode(self.mac))
    }
}

fn uri_hmac(secret: &[u8; URI_SECRET_LEN], stream: &str, bucket: u64) -> Hmac<Sha256> {
    // Any key length is valid for HMAC (RFC 2104 §2).
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(stream.as_bytes());
    mac.update(b"\n");
    mac.update(format!("{bucket}").as_bytes());
    mac
}

fn uri_mac(secret: &[u8; URI_SECRET_LEN], stream: &str, bucket: u64) -> [u8; URI_MAC_LEN] {
    let full = uri_hmac(secret, stream, bucket).finalize().into_bytes();
    let mut mac = [0; URI_MAC_LEN];
    mac.copy_from_slice(&full[..URI_MAC_LEN]);
    mac
}

/// The `token` and `sig` parameters of a query string (others are left to their routes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthQuery<'q> {
    /// `token`.
    pub token: Option<&'q str>,
    /// `sig`.
    pub sig: Option<&'q str>,
}

impl<'q> AuthQuery<'q> {
    /// Parses `query`; a parameter given twice, or a token over [`MAX_TOKEN_LEN`], is refused.
    /// Values are taken as they are: a JWT and a signature are base64url and dots, which need
    /// no percent-decoding.
    pub fn parse(query: Option<&'q str>) -> Result<Self, Refusal> {
        let mut out = Self::default();
        for pair in query.unwrap_or("").split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                TOKEN_PARAM => &mut out.token,
                SIG_PARAM => &mut out.sig,
                _ => continue,
            };
            if slot.is_some() {
                return Err(Refusal::Malformed);
            }
            if value.len() > MAX_TOKEN_LEN {
                return Err(Refusal::TooLong);
            }
            *slot = Some(value);
        }
        Ok(out)
    }
}

/// The query of a child URI: `query` without `token` and `sig`, then `sig={sig}`.
pub fn child_query(query: Option<&str>, sig: &ChildSignature) -> String {
    let mut out = String::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if name != TOKEN_PARAM && name != SIG_PARAM {
            out.push_str(pair);
            out.push('&');
        }
    }
    out.push_str(&format!("{SIG_PARAM}={sig}"));
    out
}

/// The claims of a verified token that playback uses (RFC 7519 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: the stream or group key.
    pub sub: String,
    /// `exp`, seconds since the Unix epoch.
    pub exp: u64,
    /// `nbf`, if given.
    pub nbf: Option<u64>,
    /// `start`: the earliest archive time the token may watch, seconds since the Unix epoch.
    pub start: Option<u64>,
    /// `end`: the latest archive time the token may watch.
    pub end: Option<u64>,
}

impl Claims {
    /// Whether the token covers the times `start_ms..end_ms` (milliseconds since the Unix epoch).
    pub fn covers(&self, (start_ms, end_ms): (u64, u64)) -> bool {
        let after_start = self.start.is_none_or(|s| start_ms >= s.saturating_mul(1000));
        let before_end = self.end.is_none_or(|e| end_ms <= e.saturating_mul(1000));
        after_start && before_end
    }
}

#[derive(Deserialize)]
struct Header<'a> {
    alg: &'a str,
    #[serde(default)]
    kid: Option<&'a str>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    start: Option<u64>,
    #[serde(default)]
    end: Option<u64>,
}

/// The decoded bytes of base64url `s` (no padding, RFC 7515 §2), if they are at most `max`.
fn b64(s: &str, max: usize) -> Option<Vec<u8>> {
    // Four characters give three bytes: refuse before decoding anything longer.
    if s.len() > max.div_ceil(3) * 4 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
    (bytes.len() <= max).then_some(bytes)
}

/// Verifies the signature and times of `token` with `keys` at `now_s`; the subject is left to
/// the caller.
pub fn verify_jwt(token: &str, keys: &[(String, PublicKey)], now_s: u64) -> Result<Claims, Refusal> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Refusal::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header64), Some(claims64), Some(sig64), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header = b64(header64, MAX_HEADER_LEN).ok_or(Refusal::Malformed)?;
    let header: Header = serde_json::from_slice(&header).map_err(|_| Refusal::Malformed)?;
    if !matches!(header.alg, "ES256" | "EdDSA" | "Ed25519") {
        return Err(Refusal::Algorithm);
    }
    if header.crit.is_some() {
        return Err(Refusal::Critical);
    }
    let kid = header.kid.filter(|k| k.len() <= MAX_KID_LEN).ok_or(Refusal::UnknownKey)?;
    let key = keys.iter().find(|(id, _)| id == kid).map(|(_, k)| k).ok_or(Refusal::UnknownKey)?;
    let signed = &token.as_bytes()[..header64.len() + 1 + claims64.len()];
    let signature = b64(sig64, 64).filter(|s| s.len() == 64).ok_or(Refusal::BadSignature)?;
    match (header.alg, key) {
        ("ES256", PublicKey::P256(key)) => {
            use p256::ecdsa::signature::Verifier;
            let signature = p256::ecdsa::Signature::from_slice(&signature).map_err(|_| Refusal::BadSignature)?;
            key.verify(signed, &signature).map_err(|_| Refusal::BadSignature)?;
        }
        ("EdDSA" | "Ed25519", PublicKey::Ed25519(key)) => {
            let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|_| Refusal::BadSignature)?;
            key.verify_strict(signed, &signature).map_err(|_| Refusal::BadSignature)?;
        }
        _ => return Err(Refusal::KeyMismatch),
    }
    // The claims are read only once the signature holds.
    let claims = b64(claims64, MAX_CLAIMS_LEN).ok_or(Refusal::TooLong)?;
    let claims: RawClaims = serde_json::from_slice(&claims).map_err(|_| Refusal::Claims)?;
    let (Some(sub), Some(exp)) = (claims.sub, claims.exp) else { return Err(Refusal::Claims) };
    if now_s >= exp {
        return Err(Refusal::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now_s < nbf) {
        return Err(Refusal::NotYetValid);
    }
    Ok(Claims { sub, exp, nbf: claims.nbf, start: claims.start, end: claims.end })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    // The test keys: a P-256 scalar of 32 bytes 0x07, an Ed25519 seed of 32 bytes 0x09.
    fn es_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap()
    }

    fn ed_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
    }

    /// A policy where `cam` is signed, with an ES256 key `es`, an Ed25519 key `ed`, buckets of 10 s.
    pub(crate) fn policy() -> PlaybackPolicy {
        let es = es_key();
        let point = es.verifying_key().to_encoded_point(false);
        let ed = ed_key();
        let object = PolicyObject {
            default: Playback::Public,
            streams: [("cam".to_string(), Playback::Signed)].into_iter().collect(),
            keys: vec![
                serde_json::json!({"kty":"EC","crv":"P-256","kid":"es","alg":"ES256",
                    "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())}),
                serde_json::json!({"kty":"OKP","crv":"Ed25519","kid":"ed",
                    "x": URL_SAFE_NO_PAD.encode(ed.verifying_key().as_bytes())}),
            ],
            uri_secret: URL_SAFE_NO_PAD.encode([3; URI_SECRET_LEN]),
            uri_bucket_s: 10,
        };
        PlaybackPolicy::from_object(&object).unwrap()
    }

    fn jwt(header: &str, claims: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let sig = sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// A token of `claims` signed with the test P-256 key, under key id `kid`.
    pub(crate) fn es256(kid: &str, claims: &str) -> String {
        use p256::ecdsa::signature::Signer;
        jwt(&format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#), claims, |m| {
            let s: p256::ecdsa::Signature = es_key().sign(m);
            s.to_bytes().to_vec()
        })
    }

    fn eddsa(kid: &str, claims: &str) -> String {
        use ed25519_dalek::Signer;
        jwt(&format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#), claims, |m| ed_key().sign(m).to_bytes().to_vec())
    }

    /// The time the tests' tokens are judged at, seconds since the Unix epoch.
    pub(crate) const NOW: u64 = 1_800_000_000;

    fn check(token: &str) -> Result<Claims, Refusal> {
        policy().verify_token(token, "cam", None, NOW)
    }

    #[test]
    fn valid_tokens_of_both_algorithms_are_accepted() {
        let claims = r#"{"sub":"cam","exp":1800000060,"nbf":1799999990}"#;
        assert_eq!(check(&es256("es", claims)).unwrap().sub, "cam");
        assert_eq!(check(&eddsa("ed", claims)).unwrap().exp, 1_800_000_060);
        assert_eq!(
            policy().verify_token(&es256("es", r#"{"sub":"g","exp":1800000060}"#), "cam", Some("g"), NOW).unwrap().sub,
            "g"
        );
    }

    #[test]
    fn tokens_signed_by_pyjwt_are_accepted() {
        // PyJWT 2.15 with cryptography, from the same keys: `jwt.encode({"sub":"cam",
        // "exp":1800000060,"nbf":1799999990,"start":1799990000}, key, algorithm=…, headers={"kid":…})`.
        let es = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJjYW0iLCJleHAiOjE4MDAwMDAwNjAsIm5iZiI6MTc5OTk5OTk5MCwic3RhcnQiOjE3OTk5OTAwMDB9.ARhVb2Em3Nlto_2BblAJxMyXvLSViC8RIMunpLXtDsloZjb1k1mCFHZOcX7ubfm5Y839VrF3hRT7uBbD4tQlLA";
        let ed = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkIiwidHlwIjoiSldUIn0.eyJzdWIiOiJjYW0iLCJleHAiOjE4MDAwMDAwNjAsIm5iZiI6MTc5OTk5OTk5MCwic3RhcnQiOjE3OTk5OTAwMDB9.o7xAZTtITpkT5nPervRw5v6UzV1v8SKIXT6h9v_tRLKzaiVO1uiiKTpP5-Ld38Rrq5X0tcm9Ktn56JIWXoLgBQ";
        for token in [es, ed] {
            let claims = check(token).unwrap();
            assert_eq!(claims.start, Some(1_799_990_000));
            assert!(claims.covers((1_799_990_000_000, NOW * 1000)));
            assert!(!claims.covers((1_799_989_999_000, NOW * 1000)));
        }
    }

    #[test]
    fn each_bad_token_gets_its_reason() {
        let good = r#"{"sub":"cam","exp":1800000060}"#;
        assert_eq!(check(&es256("es", r#"{"sub":"cam","exp":1800000000}"#)), Err(Refusal::Expired));
        assert_eq!(
            check(&es256("es", r#"{"sub":"cam","exp":1800000060,"nbf":1800000001}"#)),
            Err(Refusal::NotYetValid)
        );
        assert_eq!(check(&es256("es", r#"{"sub":"other","exp":1800000060}"#)), Err(Refusal::WrongStream));
        assert_eq!(check(&es256("nope", good)), Err(Refusal::UnknownKey));
        assert_eq!(check(&es256("ed", good)), Err(Refusal::KeyMismatch));
        assert_eq!(check(&eddsa("es", good)), Err(Refusal::KeyMismatch));
        assert_eq!(check(&es256("es", r#"{"exp":1800000060}"#)), Err(Refusal::Claims));
        assert_eq!(check(&es256("es", r#"{"sub":"cam"}"#)), Err(Refusal::Claims));
        // Tampered: the claims changed after signing.
        let token = es256("es", good);
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(r#"{"sub":"cam","exp":1900000060}"#);
        parts[1] = &other;
        assert_eq!(check(&parts.join(".")), Err(Refusal::BadSignature));
        // alg none, and HS256 keyed with the public key's JWK.
        let none =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"es"}"#), URL_SAFE_NO_PAD.encode(good));
        assert_eq!(check(&none), Err(Refusal::Algorithm));
        let hs = jwt(r#"{"alg":"HS256","kid":"es"}"#, good, |m| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"public key").unwrap();
            mac.update(m);
            mac.finalize().into_bytes().to_vec()
        });
        assert_eq!(check(&hs), Err(Refusal::Algorithm));
        let crit = jwt(r#"{"alg":"EdDSA","kid":"ed","crit":["b64"]}"#, good, |m| {
            use ed25519_dalek::Signer;
            ed_key().sign(m).to_bytes().to_vec()
        });
        assert_eq!(check(&crit), Err(Refusal::Critical));
        for junk in ["", "a", "a.b", "a.b.c.d", "....", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(check(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn uri_signatures_hold_for_their_bucket_and_grace_only() {
        let p = policy();
        let sig = p.sign_uri("cam", NOW).unwrap();
        let text = sig.to_string();
        assert_eq!(p.sign_uri("cam", NOW + 9).unwrap(), sig, "one signature for the whole bucket");
        assert!(p.verify_uri(&text, "cam", NOW).is_ok());
        assert!(p.verify_uri(&text, "cam", NOW + 19).is_ok());
        assert_eq!(p.verify_uri(&text, "cam", NOW + 20), Err(Refusal::UriSignatureExpired));
        assert!(p.verify_uri(&text, "cam", NOW - MAX_CLOCK_SKEW_S).is_ok());
        assert_eq!(p.verify_uri(&text, "cam", NOW - MAX_CLOCK_SKEW_S - 1), Err(Refusal::UriSignatureExpired));
        assert_eq!(p.verify_uri(&text, "other", NOW), Err(Refusal::BadUriSignature));
        let forged = format!("{}.{}", sig.bucket + 1, text.split_once('.').unwrap().1);
        assert_eq!(p.verify_uri(&forged, "cam", NOW + 10), Err(Refusal::BadUriSignature));
        for junk in ["", ".", "1.", "x.AAAA", "01.AAAAAAAAAAAAAAAAAAAAAA"] {
            assert_eq!(p.verify_uri(junk, "cam", NOW), Err(Refusal::BadUriSignature), "{junk}");
        }
    }

    #[test]
    fn requests_are_authorized_by_token_on_playlists_and_sig_anywhere() {
        let p = policy();
        assert_eq!(p.authorize("public", None, None, false, NOW), Ok(None));
        assert_eq!(p.authorize("cam", None, None, true, NOW), Err(Refusal::Missing));
        let token = es256("es", r#"{"sub":"cam","exp":1800000060}"#);
        let q = format!("token={token}");
        assert!(p.authorize("cam", None, Some(&q), true, NOW).unwrap().unwrap().claims.is_some());
        assert_eq!(p.authorize("cam", None, Some(&q), false, NOW), Err(Refusal::Missing));
        let sig = p.sign_uri("cam", NOW).unwrap();
        let child = child_query(Some(&format!("_HLS_msn=3&{q}")), &sig);
        assert_eq!(child, format!("_HLS_msn=3&sig={sig}"));
        assert!(p.authorize("cam", None, Some(&child), false, NOW).unwrap().unwrap().claims.is_none());
        assert_eq!(AuthQuery::parse(Some("sig=a&sig=b")), Err(Refusal::Malformed));
    }

    #[test]
    fn every_child_uri_of_a_playlist_is_signed_for_its_stream() {
        let p = policy();
        let signer = p.uri_signer(NOW).unwrap();
        let (cam, other) = (signer.sign("cam"), signer.sign("other"));
        let media = "#EXTM3U\n#EXT-X-MAP:URI=\"17/init-3.mp4\"\n#EXTINF:2.000,\n17/3.m4s\n\
            #EXT-X-PART:DURATION=0.5,URI=\"17/4.0.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"17/4.1.m4s\"\n\
            #EXT-X-RENDITION-REPORT:URI=\"../other/index.m3u8\",LAST-MSN=4\n";
        let signed = signer.sign_playlist(media, "/live/cam/index.m3u8");
        assert_eq!(
            signed,
            format!(
                "#EXTM3U\n#EXT-X-MAP:URI=\"17/init-3.mp4?sig={cam}\"\n#EXTINF:2.000,\n17/3.m4s?sig={cam}\n\
                #EXT-X-PART:DURATION=0.5,URI=\"17/4.0.m4s?sig={cam}\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"17/4.1.m4s?sig={cam}\"\n\
                #EXT-X-RENDITION-REPORT:URI=\"../other/index.m3u8?sig={other}\",LAST-MSN=4\n"
            )
        );
        assert_eq!(signer.sign_playlist(&signed, "/live/cam/index.m3u8"), signed, "signing twice changes nothing");
        let recording = signer.sign_playlist("../17/3.m4s\n", "/live/cam/17/index.m3u8");
        assert_eq!(recording, format!("../17/3.m4s?sig={cam}\n"));
        let master =
            signer.sign_playlist("#EXT-X-STREAM-INF:BANDWIDTH=1\n../other/index.m3u8?x=1\n", "/live/g/master.m3u8");
        assert_eq!(master, format!("#EXT-X-STREAM-INF:BANDWIDTH=1\n../other/index.m3u8?x=1&sig={other}\n"));
        for uri in ["https://cdn/x.m4s", "../../x.m4s", "/other/x"] {
            assert_eq!(signer.sign_playlist(uri, "/live/cam/index.m3u8"), uri);
        }
    }

    #[test]
    fn policies_out_of_bounds_are_refused() {
        let mut object = PolicyObject { uri_bucket_s: 0, ..PolicyObject::default() };
        assert!(PlaybackPolicy::from_object(&object).is_err());
        object.uri_bucket_s = 10;
        object.keys = vec![serde_json::json!({"kty":"EC","crv":"P-256","kid":"k","x":"AA","y":"AA"})];
        assert!(PlaybackPolicy::from_object(&object).is_err());
        object.keys = vec![serde_json::json!({"kty":"oct","k":"AA","kid":"k"})];
        assert!(PlaybackPolicy::from_object(&object).is_err());
        assert!(PlaybackPolicy::parse(b"{}").is_ok());
        assert!(PlaybackPolicy::parse(b"[").is_err());
    }
}
