//! The storage layout: the key of every object in the store, the contract between the ingest
//! node (the only writer) and the edges (the readers). Every writer and every edge names objects
//! through these functions; nothing formats a key by hand. `docs/storage.md` describes what each
//! object holds.
//!
//! | key | object |
//! |---|---|
//! | `live/{stream}/manifest.json` | [`manifest_key`]: the stream's manifest (or a stream group's record) |
//! | `live/{stream}/{session}/{sequence}.flv` | [`chunk_key`]: a chunk |
//! | `live/{stream}/archive/{start_s}.json`, `…/{start_s}-{part}.json` | [`bucket_key`]: the chunks of ten minutes ([`crate::archive::Bucket`]) |
//! | `live/{stream}/sessions/{session}.json` | [`session_key`]: a publishing session's record ([`crate::archive::SessionRecord`]) |
//! | `live/{stream}/owner.json` | [`owner_key`]: which node writes the stream |
//! | `live/{stream}/expiring/{due}.json` | [`expiring_key`]: chunks to delete at `due` |
//! | `live/{stream}/outputs.json` | [`outputs_key`]: where the stream is restreamed to |
//! | `tokens/used/{nonce}` | [`used_token_key`]: a spent single-use publish token |
//! | `tokens/generation/{stream}.json` | [`token_generation_key`]: the stream key's token generation |
//! | `webhooks/endpoints/{id}.json` | [`webhook_endpoint_key`]: a webhook endpoint added through the API |
//! | `webhooks/pending/{endpoint}.{stream}.{sequence}.{id}.json` | [`pending_webhook_key`]: a webhook delivery not yet made |
//! | `keys/node-playback.json` | [`NODE_PLAYBACK_KEY`]: the private key the node mints playback tokens with |
//! | `keys/playback.json` | [`PLAYBACK_POLICY`]: who may play what: each stream's playback setting, the playback public keys, the child URI secret ([`crate::edge::auth`]) |

use alloc::{format, string::String};

use crate::hls;

/// Longest stream key or session id.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` is a valid stream key or session id: `[A-Za-z0-9_-]{1,64}`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The folder of all streams: listing it gives the stream keys the store holds.
pub const STREAMS: &str = "live/";

/// The folder of everything a stream has: its manifest, owner record, sessions and deletions.
pub fn stream_prefix(stream: &str) -> String {
    format!("{STREAMS}{stream}/")
}

/// The key of a stream's manifest.
pub fn manifest_key(stream: &str) -> String {
    format!("{STREAMS}{stream}/manifest.json")
}

/// The key of a chunk.
pub fn chunk_key(stream: &str, session: &str, sequence: u64) -> String {
    format!("{STREAMS}{stream}/{session}/{sequence}.flv")
}

/// The key of the chunk an init segment URI of a stream's playlist (`{session}/init-{seq}.mp4`,
/// as a manifest records it) is built from; `None` for anything else.
pub fn init_source_key(stream: &str, init_uri: &str) -> Option<String> {
    let (session, sequence) = hls::parse_init_uri(init_uri)?;
    valid_name(session).then(|| chunk_key(stream, session, sequence))
}

/// The folder of a stream's archive buckets.
pub fn archive_prefix(stream: &str) -> String {
    format!("{STREAMS}{stream}/archive/")
}

/// The key of part `part` of the archive bucket of `stream` starting at `start_ms`
/// (milliseconds since the Unix epoch, a multiple of [`crate::archive::BUCKET_MS`]): named by
/// its start in seconds, so an edge computes the keys of a window without listing.
pub fn bucket_key(stream: &str, start_ms: u64, part: u32) -> String {
    let start_s = start_ms / 1000;
    match part {
        0 => format!("{STREAMS}{stream}/archive/{start_s}.json"),
        part => format!("{STREAMS}{stream}/archive/{start_s}-{part}.json"),
    }
}

/// The folder of a stream's session records: listing it gives the sessions the store holds.
pub fn sessions_prefix(stream: &str) -> String {
    format!("{STREAMS}{stream}/sessions/")
}

/// The key of the record of publishing session `session` of `stream`.
pub fn session_key(stream: &str, session: &str) -> String {
    format!("{STREAMS}{stream}/sessions/{session}.json")
}

/// Whether `key` is an object of `stream` that retention deletes: a chunk, an archive bucket
/// or a session record.
pub fn expires_with_retention(stream: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(&stream_prefix(stream)) else { return false };
    let object =
        |folder: &str| rest.strip_prefix(folder).is_some_and(|name| !name.contains('/') && name.ends_with(".json"));
    let chunk = rest
        .split_once('/')
        .is_some_and(|(session, file)| valid_name(session) && !file.contains('/') && file.ends_with(".flv"));
    chunk || object("archive/") || object("sessions/")
}

/// The key of a stream's owner record.
pub fn owner_key(stream: &str) -> String {
    format!("{STREAMS}{stream}/owner.json")
}

/// The key of a stream's outputs: the RTMP(S) destinations any node publishing the stream
/// forwards it to.
pub fn outputs_key(stream: &str) -> String {
    format!("{STREAMS}{stream}/outputs.json")
}

/// The folder of a stream's scheduled deletions.
pub fn expiring_prefix(stream: &str) -> String {
    format!("{STREAMS}{stream}/expiring/")
}

/// The key of the deletions of `stream` due at `due_ms` (milliseconds since the Unix epoch).
pub fn expiring_key(stream: &str, due_ms: u64) -> String {
    format!("{STREAMS}{stream}/expiring/{due_ms}.json")
}

/// When the deletions named `name` (an entry of [`expiring_prefix`]) are due; `None` for a name
/// that is not one of them.
pub fn expiring_due(name: &str) -> Option<u64> {
    name.strip_suffix(".json")?.parse().ok()
}

/// The key that marks the single-use publish token `nonce` as spent.
pub fn used_token_key(nonce: &str) -> String {
    format!("tokens/used/{nonce}")
}

/// The key of a stream key's token generation record.
pub fn token_generation_key(stream: &str) -> String {
    format!("tokens/generation/{stream}.json")
}

/// The folder of the webhook endpoints added through the API.
pub const WEBHOOK_ENDPOINTS: &str = "webhooks/endpoints/";

/// The key of webhook endpoint `id`.
pub fn webhook_endpoint_key(id: &str) -> String {
    format!("{WEBHOOK_ENDPOINTS}{id}.json")
}

/// The folder of pending webhook deliveries: one listing gives all of them.
pub const PENDING_WEBHOOKS: &str = "webhooks/pending/";

/// The key of the pending delivery of event `id` (the `sequence`-th of `stream`) to endpoint
/// `endpoint`: the sequence is zero-padded to 20 digits, so names sort in a stream's order.
pub fn pending_webhook_key(endpoint: &str, stream: &str, sequence: u64, id: &str) -> String {
    format!("{PENDING_WEBHOOKS}{endpoint}.{stream}.{sequence:020}.{id}.json")
}

/// The endpoint, stream, sequence and event id of a name listed under [`PENDING_WEBHOOKS`]
/// (each name part valid, the sequence digits); `None` for anything else.
pub fn pending_webhook_parts(name: &str) -> Option<(&str, &str, u64, &str)> {
    let mut parts = name.strip_suffix(".json")?.split('.');
    let (endpoint, stream, sequence, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && [endpoint, stream, id].iter().all(|p| valid_name(p))
        && sequence.len() == 20
        && sequence.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(())?;
    Some((endpoint, stream, sequence.parse().ok()?, id))
}

/// The playback policy object: the playback setting of every stream (`public` or `signed`),
/// the public keys playback tokens are verified with, and the child URI signature secret
/// ([`crate::edge::auth::PolicyObject`]). Every edge reads it, and keeps it for at most
/// [`PLAYBACK_POLICY_MAX_AGE_S`].
pub const PLAYBACK_POLICY: &str = "keys/playback.json";

/// The node's own playback signing key (a private JWK, Ed25519), with which the API mints
/// playback tokens (`POST /api/v1/streams/{key}/playback-token`); its public half is in
/// [`PLAYBACK_POLICY`]. Edges never read it.
pub const NODE_PLAYBACK_KEY: &str = "keys/node-playback.json";

/// How long an edge keeps the playback policy object before reading it again, in seconds: a
/// removed key or a stream made signed holds on every edge within this time.
pub const PLAYBACK_POLICY_MAX_AGE_S: u64 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_webhook_names_round_trip_and_sort_in_sequence_order() {
        let key = pending_webhook_key("wh_1", "cam", 42, "msg_ab");
        assert_eq!(key, "webhooks/pending/wh_1.cam.00000000000000000042.msg_ab.json");
        let name = key.strip_prefix(PENDING_WEBHOOKS).unwrap();
        assert_eq!(pending_webhook_parts(name), Some(("wh_1", "cam", 42, "msg_ab")));
        assert!(pending_webhook_key("e", "s", 9, "i") < pending_webhook_key("e", "s", 10, "i"));
        for bad in [
            "e.s.1.i.json",
            "e.s.00000000000000000001.i",
            "e.s.0000000000000000000x.i.json",
            "e..00000000000000000001.i.json",
        ] {
            assert_eq!(pending_webhook_parts(bad), None, "{bad}");
        }
        assert_eq!(webhook_endpoint_key("wh_1"), "webhooks/endpoints/wh_1.json");
    }

    #[test]
    fn keys_are_the_documented_ones() {
        assert_eq!(manifest_key("cam"), "live/cam/manifest.json");
        assert_eq!(chunk_key("cam", "17", 3), "live/cam/17/3.flv");
        assert_eq!(owner_key("cam"), "live/cam/owner.json");
        assert_eq!(outputs_key("cam"), "live/cam/outputs.json");
        assert_eq!(expiring_key("cam", 5), "live/cam/expiring/5.json");
        assert!(expiring_key("cam", 5).starts_with(&expiring_prefix("cam")));
        assert!(chunk_key("cam", "1", 0).starts_with(&stream_prefix("cam")));
        assert_eq!(used_token_key("n1"), "tokens/used/n1");
        assert_eq!(bucket_key("cam", 1_796_570_400_000, 0), "live/cam/archive/1796570400.json");
        assert_eq!(bucket_key("cam", 1_796_570_400_000, 2), "live/cam/archive/1796570400-2.json");
        assert!(bucket_key("cam", 0, 0).starts_with(&archive_prefix("cam")));
        assert_eq!(session_key("cam", "17"), "live/cam/sessions/17.json");
        assert!(session_key("cam", "17").starts_with(&sessions_prefix("cam")));
        assert_eq!(token_generation_key("cam"), "tokens/generation/cam.json");
    }

    #[test]
    fn retention_deletes_chunks_and_the_archive_only() {
        for key in [chunk_key("cam", "17", 3), bucket_key("cam", 600_000, 1), session_key("cam", "17")] {
            assert!(expires_with_retention("cam", &key), "{key}");
            assert!(!expires_with_retention("other", &key), "{key}");
        }
        for key in [manifest_key("cam"), owner_key("cam"), expiring_key("cam", 5), "live/cam/a/b/c.flv".into()] {
            assert!(!expires_with_retention("cam", &key), "{key}");
        }
    }

    #[test]
    fn init_uris_name_their_chunk() {
        let uri = hls::init_uri("17", 3);
        assert_eq!(init_source_key("cam", &uri).as_deref(), Some("live/cam/17/3.flv"));
        assert_eq!(init_source_key("cam", "17/3.m4s"), None);
        assert_eq!(init_source_key("cam", "../init-3.mp4"), None);
        assert_eq!(init_source_key("cam", "17/init-03.mp4"), None);
    }

    #[test]
    fn expiring_names_give_their_due_time() {
        assert_eq!(expiring_due("5.json"), Some(5));
        assert_eq!(expiring_due("x.json"), None);
        assert_eq!(expiring_due("5"), None);
    }
}
