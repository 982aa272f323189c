//! One connection's publish, multitrack or not (Enhanced RTMP multitrack: OBS Enhanced
//! Broadcasting, ffmpeg with several video streams). The stream itself gets the default tracks
//! (video and audio track 0), so a single-track publish is just that. Every other track becomes
//! a stream of its own: video track `n` is `{key}_v{n}`, with the default audio track beside it
//! so each plays alone, and audio track `n` is `{key}_a{n}`. The stream's manifest names them,
//! and its multivariant playlist lists them as variants and alternative audio.
//!
//! Those names are reserved ([`is_rendition_key`]): no token is issued for a key ending in `_v`
//! or `_a` and a number, and no such key is published on its own, so a publish token for `cam`
//! covers `cam` and its tracks' streams only, never a key issued to someone else.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use rapidrtmp_core::flv::{split_tracks, Tag, TagKind, TrackPacket};
use rapidrtmp_core::layout::valid_name;
use rapidrtmp_core::manifest::{Renditions, MAX_RENDITIONS};
use rapidrtmp_core::media::{Media, MediaTag};
use tracing::{info, warn};

use super::writer::StreamWriters;
use super::{Ending, StreamPublisher};
use crate::clock::now_ms;
use crate::streams::LiveStream;

/// A track other than the default ones: video or audio, and its id.
type TrackId = (TagKind, u8);

/// The stream key of track `n` (video or audio) of a multitrack publish of `key`.
pub fn rendition_key(key: &str, kind: TagKind, n: u8) -> String {
    let letter = if kind == TagKind::Video { 'v' } else { 'a' };
    format!("{key}_{letter}{n}")
}

/// Whether `key` is reserved for a track of a multitrack publish: it ends in `_v` or `_a` and a
/// number (any digits, so the rule is easy to tell). Such keys are the tracks' streams of the
/// key before them; they get no token and are not published on their own.
pub fn is_rendition_key(key: &str) -> bool {
    let digits = key.bytes().rev().take_while(u8::is_ascii_digit).count();
    let rest = &key.as_bytes()[..key.len() - digits];
    digits > 0 && (rest.ends_with(b"_v") || rest.ends_with(b"_a")) && rest.len() > 2
}

/// The publishers of one connection's publish.
pub struct MultitrackPublish {
    writers: Arc<StreamWriters>,
    /// The stream itself: the default tracks.
    main: StreamPublisher,
    /// The other tracks' publishers; `None` for a track whose stream could not start (its key
    /// is too long or busy, or there are too many): its packets are dropped.
    others: BTreeMap<TrackId, Option<StreamPublisher>>,
    /// The default audio track's last sequence header and its timestamp, for a video track that
    /// starts after it.
    audio_header: Option<(u32, Vec<u8>)>,
    /// The packets of the last multitrack message, reused.
    packets: Vec<TrackPacket>,
    /// The stream's outputs: every message goes to them as it came.
    restream: crate::restream::Tap,
}

impl MultitrackPublish {
    /// A publish whose default tracks go to `main`.
    pub fn new(writers: Arc<StreamWriters>, main: StreamPublisher) -> Self {
        let restream = writers.restream.attach(&main.stream().key);
        Self { writers, main, others: BTreeMap::new(), audio_header: None, packets: Vec::new(), restream }
    }

    /// Takes one audio, video or script data message (an FLV tag body) with its RTMP timestamp.
    /// Its header is read here, once ([`MediaTag`]), and the reading goes with it to the chunk
    /// writer.
    pub async fn media(&mut self, kind: TagKind, timestamp: u32, body: &[u8]) {
        self.restream.tag(kind, timestamp, body);
        let m = &self.writers.metrics;
        if matches!(kind, TagKind::Audio | TagKind::Video) {
            m.bytes_in.fetch_add(body.len() as u64, Relaxed);
        }
        let message = MediaTag::read(Tag { kind, filtered: false, timestamp, stream_id: 0, body, offset: 0 });
        match message.media {
            Ok(Media::Video { .. }) => m.video_frames_in.fetch_add(1, Relaxed),
            Ok(Media::Audio(_)) => m.audio_frames_in.fetch_add(1, Relaxed),
            _ => 0,
        };
        // What the message means is what its default track's packet means (a multitrack
        // message's track 0, when it has one).
        let audio_header = matches!(message.media, Ok(Media::AudioConfig { .. }));
        let mut packets = std::mem::take(&mut self.packets);
        match split_tracks(kind, body, &mut packets) {
            Ok(true) => {
                for p in &packets {
                    // Each track's packet is a message of its own, read as such.
                    let track = MediaTag::read(Tag { body: &p.body, ..message.tag });
                    match p.track {
                        0 => self.default_track(&track, audio_header).await,
                        n => self.other_track((kind, n), &track).await,
                    }
                }
            }
            // Not multitrack, or broken: the default track's publisher takes it (and says
            // what is wrong with it).
            Ok(false) | Err(_) => self.default_track(&message, audio_header).await,
        }
        self.packets = packets;
    }

    /// A message of a default track: to the stream itself, and audio to every other video
    /// track's stream too. `audio_header`: it is the audio's sequence header, kept for the video
    /// tracks that start later.
    async fn default_track(&mut self, message: &MediaTag<'_>, audio_header: bool) {
        self.main.media(message).await;
        if message.tag.kind != TagKind::Audio {
            return;
        }
        if audio_header {
            self.audio_header = Some((message.tag.timestamp, message.tag.body.to_vec()));
        }
        for ((kind, _), publisher) in &mut self.others {
            if let (TagKind::Video, Some(p)) = (kind, publisher) {
                p.media(message).await;
            }
        }
    }

    /// A message of another track: to its stream, started at its first message.
    async fn other_track(&mut self, track: TrackId, message: &MediaTag<'_>) {
        if !self.others.contains_key(&track) {
            let publisher = self.start(track).await;
            self.others.insert(track, publisher);
            let names = |kind: TagKind| {
                let of_kind = self.others.iter().filter(|((k, _), _)| *k == kind);
                of_kind.filter_map(|(_, p)| p.as_ref().map(|p| p.stream().key.clone())).collect()
            };
            let renditions = Renditions { video: names(TagKind::Video), audio: names(TagKind::Audio) };
            self.main.set_renditions(renditions);
        }
        if let Some(Some(p)) = self.others.get_mut(&track) {
            p.media(message).await;
        }
    }

    /// Starts the stream of another track, or says why it cannot.
    async fn start(&mut self, (kind, n): TrackId) -> Option<StreamPublisher> {
        let main = self.main.stream().clone();
        let what = if kind == TagKind::Video { "video" } else { "audio" };
        let key = rendition_key(&main.key, kind, n);
        let of_kind = self.others.keys().filter(|(k, _)| *k == kind).count();
        if of_kind >= MAX_RENDITIONS {
            warn!(stream = %main.key, "{what} track {n} dropped: a stream has at most {MAX_RENDITIONS} other {what} tracks");
            return None;
        }
        if !valid_name(&key) {
            warn!(stream = %main.key, "{what} track {n} dropped: its stream key {key} would be longer than 64");
            return None;
        }
        let stream = LiveStream::new(
            key.clone(),
            now_ms(),
            (main.connection, main.peer, main.listener),
            self.writers.settings.part_duration,
        );
        if !self.writers.streams.claim(&stream) {
            warn!(stream = %main.key, "{what} track {n} dropped: {key} is being published by another publisher");
            return None;
        }
        let mut publisher = match StreamPublisher::start(self.writers.clone(), stream.clone()).await {
            Ok(p) => p,
            Err(e) => {
                self.writers.streams.release(&stream);
                let _ = stream.done.send(true);
                warn!(stream = %main.key, "{what} track {n} dropped: {key}: {e}");
                return None;
            }
        };
        info!(stream = %main.key, "{what} track {n} is published as {key}");
        if let (TagKind::Video, Some((timestamp, header))) = (kind, &self.audio_header) {
            let tag = Tag {
                kind: TagKind::Audio,
                filtered: false,
                timestamp: *timestamp,
                stream_id: 0,
                body: header,
                offset: 0,
            };
            publisher.media(&MediaTag::read(tag)).await;
        }
        Some(publisher)
    }

    /// Ends the publish: the other tracks' streams first, then the stream itself, each handing
    /// its last chunk over; a takeover waits for the stream itself, so all are free by then.
    pub async fn finish(self, ending: Ending) {
        for publisher in self.others.into_values().flatten() {
            self.writers.streams.release(publisher.stream());
            publisher.finish(ending).await;
        }
        self.main.finish(ending).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_track_key_is_reserved_and_nothing_else() {
        for n in [1, 2, 16, 255] {
            assert!(is_rendition_key(&rendition_key("cam", TagKind::Video, n)));
            assert!(is_rendition_key(&rendition_key("cam_v1x", TagKind::Audio, n)));
        }
        for free in ["cam", "cam_v", "cam_a", "_v1", "cam_v1x", "cam_video2", "cam-v1", "camv1", "cam_x1", "v1"] {
            assert!(!is_rendition_key(free), "{free}");
        }
        assert!(is_rendition_key("cam_v01") && is_rendition_key("a_a0"));
    }
}
