//! The publish authorization hook (`--publish-auth-url`): before a publish is let in, admission
//! asks the deployment's own service. The node POSTs
//! `{"streamKey": …, "clientAddr": "ip:port", "query": …}` (`query` is the publish URL's query
//! string as the encoder sent it, the publish token included); a 2xx answer allows, any other
//! refuses with the answer's body as the reason given to the encoder (its first
//! [`MAX_REASON_CHARS`] characters, control characters dropped). A hook that cannot be reached,
//! or does not answer within its deadline, refuses the publish, or allows it with
//! `--publish-auth-fallback allow`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hyper::http::{header, HeaderValue};
use tracing::warn;

use crate::local_http::{self, Url};

/// How long the hook has to answer, unless set (`--publish-auth-timeout`).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest `--publish-auth-timeout`: an encoder waits for the answer.
pub const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// The most characters of a refusing answer's body passed on to the encoder.
pub const MAX_REASON_CHARS: usize = 200;

/// The most bytes of a publish URL's query string sent to the hook.
pub const MAX_QUERY_BYTES: usize = 4096;

/// Which checks a publish goes through (`--publish-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishAuth {
    /// The publish token only (and then the hook, when one is set).
    Token,
    /// The hook only: no token is asked for.
    OnlyHook,
}

/// What a publish gets when the hook cannot answer (`--publish-auth-fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// It is refused.
    Refuse,
    /// It is let in.
    Allow,
}

/// The hook's settings.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// Where to ask.
    pub url: Url,
    /// How long it has to answer.
    pub timeout: Duration,
    /// What a publish gets when it cannot answer.
    pub fallback: Fallback,
}

/// The hook's answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it in.
    Allow,
    /// Refuse it, for this reason (sanitized, bounded).
    Deny(String),
    /// The hook could not answer and the fallback refuses.
    Unavailable,
}

/// Asks the hook whether `key` may be published by `peer` with this query string.
pub async fn ask(hook: &HookSettings, key: &str, peer: SocketAddr, query: &str) -> Verdict {
    let mut end = MAX_QUERY_BYTES.min(query.len());
    while !query.is_char_boundary(end) {
        end -= 1;
    }
    let query = &query[..end];
    let body = serde_json::json!({ "streamKey": key, "clientAddr": peer.to_string(), "query": query });
    let headers = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    let body = Bytes::from(body.to_string());
    match local_http::send("POST", &hook.url, &headers, body, hook.timeout).await {
        Ok(reply) if (200..300).contains(&reply.status) => Verdict::Allow,
        Ok(reply) => {
            let reason = reason(&reply.body);
            Verdict::Deny(if reason.is_empty() {
                format!("refused by the publish authorization hook (HTTP {})", reply.status)
            } else {
                reason
            })
        }
        Err(e) => {
            warn!(stream = key, "the publish authorization hook did not answer: {e:#}");
            match hook.fallback {
                Fallback::Allow => Verdict::Allow,
                Fallback::Refuse => Verdict::Unavailable,
            }
        }
    }
}

/// A refusing answer's body as a reason: its first [`MAX_REASON_CHARS`] characters, control
/// characters (line breaks, escapes) turned into spaces, trimmed.
pub fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let cleaned: String = text.chars().take(MAX_REASON_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    cleaned.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_bounded_and_has_no_control_characters() {
        assert_eq!(reason(b"  banned\r\nuser\x1b[31m \n"), "banned  user [31m");
        assert_eq!(reason(&[b'x'; 1000]).len(), MAX_REASON_CHARS);
        assert_eq!(reason(b"\xff ok"), "\u{fffd} ok");
        assert_eq!(reason(b""), "");
    }
}
