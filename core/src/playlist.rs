//! Playlist policy: what the playlists of a stream list, from its manifest. The media playlist
//! of the live window ([`media_playlist`]), the multivariant playlist and its ladder (which
//! renditions it lists, in which order, with which bit rates: [`ladder_playlist`],
//! [`multivariant_playlist`]) and how long caches keep them ([`playlist_cache`]). [`crate::hls`]
//! renders what this module decides.

use alloc::{format, string::String, vec::Vec};

use crate::hls::{self, AudioRendition, MediaPlaylist, Variant};
use crate::manifest::{ChunkEntry, Manifest, StreamState};
use crate::media::VIDEO_FOURCCS;

/// `Cache-Control` of live playlists: they change with every chunk.
pub const CACHE_PLAYLIST: &str = "public, max-age=1";
/// `Cache-Control` of an ended stream's playlists: they change only if the key is published
/// again, so caches may keep them for minutes, not forever (a year-long cache would hide the
/// next publish of the key).
pub const CACHE_ENDED_PLAYLIST: &str = "public, max-age=300";
/// The `Cache-Control` of a manifest's playlists.
pub fn playlist_cache(m: &Manifest) -> &'static str {
    if m.state == StreamState::Ended {
        CACHE_ENDED_PLAYLIST
    } else {
        CACHE_PLAYLIST
    }
}

/// The media playlist of a manifest's live window.
pub fn media_playlist(m: &Manifest) -> String {
    let entries: Vec<&ChunkEntry> = m.chunks.iter().collect();
    let mut p = manifest_playlist(&entries, m.discontinuity_sequence, m.state == StreamState::Ended);
    if entries.is_empty() {
        p.media_sequence = m.next_sequence;
    }
    p.render()
}

/// The media playlist of chunk entries (a manifest's window, and for the live edge the chunks
/// closed since): a discontinuity where the session changes, a map where the init segment does.
pub(crate) fn manifest_playlist(entries: &[&ChunkEntry], discontinuity_sequence: u64, ended: bool) -> MediaPlaylist {
    let mut p = MediaPlaylist {
        media_sequence: entries.first().map_or(0, |c| c.sequence),
        discontinuity_sequence,
        playlist_type: None,
        segments: Vec::with_capacity(entries.len() + 1),
        ended,
        independent_segments: entries.iter().all(|c| c.independent),
        low_latency: None,
    };
    let mut prev: Option<&ChunkEntry> = None;
    for &c in entries {
        let new_session = prev.is_none_or(|p| p.session != c.session);
        // RFC 8216 §4.3.2.5: a map holds until the next one, across discontinuities; repeating
        // an unchanged one makes players (ffmpeg) load the same moov again.
        let new_init = prev.is_none_or(|p| p.init != c.init);
        p.segments.push(hls::Segment {
            uri: hls::segment_uri(&c.session, c.sequence),
            duration_ms: c.duration_ms,
            discontinuity: new_session && prev.is_some(),
            map: new_init.then(|| c.init.clone()),
            program_date_time_ms: new_session.then_some(c.wall_clock_ms),
            parts: Vec::new(),
            open: false,
        });
        prev = Some(c);
    }
    p
}

/// The media playlist of an archive window or recording: `entries` (in order) with a
/// discontinuity where the session changes, `EXT-X-PROGRAM-DATE-TIME` on every segment, and its
/// type (`VOD` with `EXT-X-ENDLIST`, or `EVENT`); every URI after `uri_prefix` (`../` for a
/// playlist one folder down, so that its URIs resolve to the live playlist's own URLs).
pub fn archive_playlist(entries: &[ChunkEntry], kind: hls::PlaylistType, uri_prefix: &str) -> String {
    let refs: Vec<&ChunkEntry> = entries.iter().collect();
    let mut p = manifest_playlist(&refs, 0, kind == hls::PlaylistType::Vod);
    p.playlist_type = Some(kind);
    for (segment, c) in p.segments.iter_mut().zip(entries) {
        segment.program_date_time_ms = Some(c.wall_clock_ms);
        if !uri_prefix.is_empty() {
            segment.uri.insert_str(0, uri_prefix);
            if let Some(map) = &mut segment.map {
                map.insert_str(0, uri_prefix);
            }
        }
    }
    p.render()
}

/// The window's peak and average segment bit rates, bits per second.
fn bit_rates(m: &Manifest) -> (u64, u64) {
    let rate = |bytes: u64, ms: u64| bytes.saturating_mul(8000).checked_div(ms).unwrap_or(0);
    let peak = m.chunks.iter().map(|c| rate(c.bytes, c.duration_ms)).max().unwrap_or(0);
    let total = m.chunks.iter().fold(0u64, |sum, c| sum.saturating_add(c.bytes));
    (peak, rate(total, m.window_duration_ms()))
}

/// The codec strings of `codecs` (RFC 6381, comma-separated) that are not video.
fn audio_codecs(codecs: &str) -> impl Iterator<Item = &str> {
    codecs.split(',').filter(|c| !c.is_empty() && video_family(c) == usize::MAX)
}

/// The rank of a codec string's video codec family, H.264 first ([`VIDEO_FOURCCS`]);
/// `usize::MAX` if it is not video.
fn video_family(codecs: &str) -> usize {
    codecs.split(',').find_map(|c| VIDEO_FOURCCS.iter().position(|f| c.get(..4) == Some(*f))).unwrap_or(usize::MAX)
}

/// The multivariant playlist of `m` and the manifests of its renditions (those of
/// [`crate::manifest::Renditions`], video first, in that order; `None` for one that is missing,
/// empty or broken, which is left out), or `None` when it would list nothing (404). Ended
/// renditions are left out while others are live (a stream group's member that left).
pub fn ladder_playlist(m: &Manifest, mut renditions: Vec<Option<Manifest>>) -> Option<String> {
    if renditions.iter().flatten().any(|r| r.state == StreamState::Live) {
        renditions
            .iter_mut()
            .filter(|r| r.as_ref().is_some_and(|r| r.state == StreamState::Ended))
            .for_each(|r| *r = None);
    }
    let (video, audio) = renditions.split_at(m.renditions.video.len().min(renditions.len()));
    let video: Vec<&Manifest> = video.iter().flatten().collect();
    let audio: Vec<&Manifest> = audio.iter().flatten().collect();
    if m.chunks.is_empty() && video.is_empty() {
        return None;
    }
    Some(multivariant_playlist(m, &video, &audio))
}

/// The multivariant playlist: the stream's `index.m3u8`, and for a multitrack stream its other
/// video tracks' streams as further variants and its other audio tracks' as alternative audio
/// (for a stream group, the streams that joined it, each with its own audio),
/// each variant with the peak and average bit rates of its window (RFC 8216bis §4.4.6.2).
/// Variants are listed by codec family, H.264 first (one ladder per family, so a player never
/// has to switch codecs, and the most widely decoded one is the fallback), and in a family by
/// bit rate, highest first.
pub fn multivariant_playlist(m: &Manifest, video: &[&Manifest], audio: &[&Manifest]) -> String {
    // A stream group's streams each carry their own audio: no group of alternatives.
    let multitrack = !m.renditions.is_empty() && !m.group;
    let default_audio = audio_codecs(&m.media.codecs).next().is_some();
    let group = (multitrack && (default_audio || !audio.is_empty())).then(|| String::from("audio"));
    // A variant's segments carry the default audio; one of the others may be played beside them.
    let alternative = audio.iter().map(|a| bit_rates(a));
    let alternative = alternative.fold((0, 0), |(peak, average), (p, a)| (peak.max(p), average.max(a)));
    let mut codecs_of_group: Vec<&str> = Vec::new();
    for a in audio {
        for c in audio_codecs(&a.media.codecs) {
            if !codecs_of_group.contains(&c) {
                codecs_of_group.push(c);
            }
        }
    }
    let variant = |v: &Manifest, uri: String| {
        let (peak, average) = bit_rates(v);
        let mut codecs = v.media.codecs.clone();
        for c in &codecs_of_group {
            if !codecs.split(',').any(|have| have == *c) {
                codecs.push(',');
                codecs.push_str(c);
            }
        }
        Variant {
            uri,
            bandwidth: peak.saturating_add(alternative.0),
            average_bandwidth: Some(average.saturating_add(alternative.1)),
            codecs,
            resolution: v.media.width.zip(v.media.height),
            frame_rate: v.media.frame_rate,
            audio: group.clone(),
        }
    };
    let mut variants = Vec::with_capacity(1 + video.len());
    if !m.chunks.is_empty() {
        variants.push(variant(m, "index.m3u8".into()));
    }
    for v in video {
        variants.push(variant(v, format!("../{}/index.m3u8", v.stream_key)));
    }
    // Within a family, the highest bit rate first: where players start without an estimate.
    variants.sort_by_key(|v| (video_family(&v.codecs), core::cmp::Reverse(v.bandwidth)));
    let mut renditions = Vec::with_capacity(1 + audio.len());
    if let Some(group) = &group {
        if default_audio {
            renditions.push(AudioRendition { group: group.clone(), name: "main".into(), uri: None, default: true });
        }
        for a in audio {
            renditions.push(AudioRendition {
                group: group.clone(),
                name: a.stream_key.clone(),
                uri: Some(format!("../{}/index.m3u8", a.stream_key)),
                default: !default_audio && renditions.is_empty(),
            });
        }
    }
    let all = core::iter::once(m).chain(video.iter().copied());
    hls::render_multivariant(&variants, &renditions, all.flat_map(|v| &v.chunks).all(|c| c.independent))
}
