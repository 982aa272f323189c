//! Stream groups: publishers that cannot send multitrack publish each rendition as a stream of
//! its own (`show_720p`, `show_360p`), with a token naming the group (`show`). Each joins the
//! group's record, `live/{group}/manifest.json` marked `group`, and the group's multivariant
//! playlist, `/live/{group}/master.m3u8`, lists them. Nodes add members with conditional
//! writes, so publishes on several nodes join one group; a member stays listed (the playlist
//! leaves it out once it has ended while others are live).

use bytes::Bytes;
use rapidrtmp_core::layout::manifest_key;
use rapidrtmp_core::manifest::{Manifest, MAX_RENDITIONS};
use tracing::{info, warn};

use crate::clock::now_ms;
use crate::store::Store;

/// How many times a join is tried again when another node changed the record meanwhile.
const JOIN_ATTEMPTS: usize = 8;

/// Adds `stream` to `group`'s record (creating it), unless it is listed already.
pub async fn join(store: &Store, group: &str, stream: &str) {
    let key = manifest_key(group);
    for _ in 0..JOIN_ATTEMPTS {
        let found = match store.get_versioned(&key).await {
            Ok(found) => found,
            Err(e) => return warn!(stream, group, "cannot join the stream group: {e}"),
        };
        let (mut record, version) = match found {
            None => (Manifest { group: true, ..Manifest::new(group, now_ms()) }, None),
            Some((bytes, version)) => match Manifest::parse(&bytes) {
                Ok(m) if m.group => (m, Some(version)),
                Ok(_) => return warn!(stream, group, "not joining the stream group: {group} is a stream"),
                Err(e) => return warn!(stream, group, "not joining the stream group: its record is unreadable: {e}"),
            },
        };
        let members = &mut record.renditions.video;
        if members.iter().any(|m| m == stream) {
            return;
        }
        if members.len() >= MAX_RENDITIONS {
            return warn!(stream, group, "not joining the stream group: it has {MAX_RENDITIONS} streams already");
        }
        members.push(stream.into());
        record.updated_at_ms = now_ms();
        match store.put_if(&key, Bytes::from(record.to_json()), version.as_ref()).await {
            Ok(Some(_)) => return info!(stream, group, "joined the stream group"),
            Ok(None) => continue,
            Err(e) => return warn!(stream, group, "cannot join the stream group: {e}"),
        }
    }
    warn!(stream, group, "cannot join the stream group: its record kept changing");
}
