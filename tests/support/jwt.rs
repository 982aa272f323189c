//! Playback tokens signed by an independent library: PyJWT with `cryptography` (tests/run
//! installs both), and the statuses an edge answers each with.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::proc::run;

/// The rows [`pyjwt_tokens`] signs, with the status and body every edge answers a playlist
/// request of the stream carrying each.
pub const TOKEN_TABLE: &[(&str, u16, &str)] = &[
    ("valid_es256", 200, ""),
    ("valid_eddsa", 200, ""),
    ("expired", 403, "playback token expired"),
    ("not_yet_valid", 403, "playback token not yet valid"),
    ("wrong_sub", 403, "playback token is for another stream"),
    ("wrong_kid", 403, "playback token signed with an unknown key"),
    ("tampered", 403, "playback token signature invalid"),
    ("alg_none", 403, "playback token algorithm not accepted (ES256 or EdDSA only)"),
    ("hs256_public_key", 403, "playback token algorithm not accepted (ES256 or EdDSA only)"),
];

/// Signs the token table with PyJWT: argv is the two private JWKs (ES256, EdDSA), the stream
/// and now; prints one `name token` line per row.
const SIGN: &str = r#"
import base64, hashlib, hmac, json, sys
import jwt
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
es_jwk, ed_jwk, stream, now = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
es, ed = ECAlgorithm.from_jwk(json.dumps(es_jwk)), OKPAlgorithm.from_jwk(json.dumps(ed_jwk))
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def es256(claims, kid=es_jwk['kid']): return jwt.encode(claims, es, algorithm='ES256', headers={'kid': kid})
ok = {'sub': stream, 'exp': now + 600}
rows = {
  'valid_es256': es256(ok),
  'valid_eddsa': jwt.encode(ok, ed, algorithm='EdDSA', headers={'kid': ed_jwk['kid']}),
  'expired': es256({'sub': stream, 'exp': now - 10}),
  'not_yet_valid': es256({'sub': stream, 'exp': now + 600, 'nbf': now + 300}),
  'wrong_sub': es256({'sub': 'other', 'exp': now + 600}),
  'wrong_kid': es256(ok, kid='no-such-key'),
}
h, p, s = rows['valid_es256'].split('.')
sig = bytearray(base64.urlsafe_b64decode(s + '=='))
sig[5] ^= 1
rows['tampered'] = h + '.' + p + '.' + b64(bytes(sig))
claims = b64(json.dumps(ok).encode())
rows['alg_none'] = b64(json.dumps({'alg': 'none', 'kid': es_jwk['kid']}).encode()) + '.' + claims + '.'
# HS256 keyed with the public key (its PEM), the classic algorithm confusion.
pem = es.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
signed = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': es_jwk['kid']}).encode()) + '.' + claims
rows['hs256_public_key'] = signed + '.' + b64(hmac.new(pem, signed.encode(), hashlib.sha256).digest())
for name, token in rows.items(): print(name, token)
"#;

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The token table, signed by PyJWT: (row, token).
pub fn pyjwt_tokens(es: &Value, ed: &Value, stream: &str) -> Vec<(String, String)> {
    let out = run(
        Command::new("python3").args(["-c", SIGN, &es.to_string(), &ed.to_string(), stream, &now_s().to_string()]),
        Duration::from_secs(60),
    );
    assert!(out.success(), "PyJWT signs the tokens (pip install pyjwt cryptography): {}", out.describe());
    out.stdout_text()
        .lines()
        .map(|l| l.split_once(' ').map(|(n, t)| (n.to_string(), t.to_string())).expect("name token"))
        .collect()
}

/// The child URIs of a playlist: its URI lines and `URI="…"` attributes.
pub fn child_uris(playlist: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in playlist.lines() {
        if let Some(tag) = line.strip_prefix('#') {
            let mut rest = tag;
            while let Some(at) = rest.find("URI=\"") {
                let tail = &rest[at + 5..];
                let end = tail.find('"').expect("closing quote");
                uris.push(tail[..end].to_string());
                rest = &tail[end..];
            }
        } else if !line.trim().is_empty() {
            uris.push(line.to_string());
        }
    }
    uris
}
