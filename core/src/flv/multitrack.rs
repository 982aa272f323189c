//! Enhanced RTMP v2 multitrack packets: several tracks (OBS Enhanced Broadcasting renditions,
//! say) in one audio or video tag, each with a track id.

use alloc::vec::Vec;

use super::{FlvError, TagKind};

/// The video packet type that says tracks follow.
pub(super) const VIDEO_MULTITRACK: u8 = 6;
/// The audio packet type that says tracks follow.
pub(super) const AUDIO_MULTITRACK: u8 = 5;

/// `AvMultitrackType` 0: one track, its body to the end of the packet.
const ONE_TRACK: u8 = 0;
/// `AvMultitrackType` 2: each track has its own FourCC (1, ManyTracks, shares one).
const MANY_TRACKS_MANY_CODECS: u8 = 2;

/// Most tracks read from one packet (the track id is a byte: 256 at most).
pub const MAX_TRACKS: usize = 256;

/// One track of a multitrack packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TrackBody<'a> {
    /// The packet type of every track of the packet.
    pub packet_type: u8,
    /// The track's FourCC.
    pub fourcc: [u8; 4],
    /// Its id: 0 is the default track.
    pub id: u8,
    /// Its packet body, after the FourCC as in a one-track packet.
    pub body: &'a [u8],
}

/// The tracks of a multitrack packet (`body` after the byte whose packet type said Multitrack):
/// the multitrack type and the tracks' packet type, a FourCC (unless every track has its own),
/// then per track its FourCC (if so), its id, its size (unless there is one track) and its body.
/// At most [`MAX_TRACKS`]; a malformed packet ends in an error.
/// `multitrack` is the packet type that says so ([`VIDEO_MULTITRACK`], [`AUDIO_MULTITRACK`]).
pub(super) fn tracks<'a>(body: &'a [u8], multitrack: u8, what: &'static str) -> Result<Tracks<'a>, FlvError> {
    let short = FlvError::ShortBody(what);
    let (&types, mut rest) = body.split_first().ok_or(short.clone())?;
    let (kind, packet_type) = (types >> 4, types & 0x0F);
    if kind > MANY_TRACKS_MANY_CODECS {
        return Err(FlvError::Unsupported("enhanced RTMP: unknown multitrack type"));
    }
    if packet_type == multitrack || packet_type == super::mod_ex::MOD_EX {
        return Err(FlvError::Unsupported("enhanced RTMP: a multitrack packet inside a multitrack packet"));
    }
    let shared = if kind == MANY_TRACKS_MANY_CODECS { None } else { Some(fourcc(&mut rest, what)?) };
    Ok(Tracks { kind, packet_type, shared, rest, left: MAX_TRACKS, what })
}

/// Reads a FourCC off the front of `rest`.
fn fourcc(rest: &mut &[u8], what: &'static str) -> Result<[u8; 4], FlvError> {
    let (f, r) = rest.split_first_chunk::<4>().ok_or(FlvError::ShortBody(what))?;
    *rest = r;
    Ok(*f)
}

/// The tracks of one multitrack packet, in order ([`tracks`]).
pub(super) struct Tracks<'a> {
    kind: u8,
    packet_type: u8,
    shared: Option<[u8; 4]>,
    rest: &'a [u8],
    left: usize,
    what: &'static str,
}

impl<'a> Tracks<'a> {
    fn read(&mut self) -> Result<TrackBody<'a>, FlvError> {
        let short = FlvError::ShortBody(self.what);
        let fourcc = match self.shared {
            Some(f) => f,
            None => fourcc(&mut self.rest, self.what)?,
        };
        let (&id, r) = self.rest.split_first().ok_or(short.clone())?;
        self.rest = r;
        let body = if self.kind == ONE_TRACK {
            core::mem::take(&mut self.rest)
        } else {
            let (size, r) = self.rest.split_first_chunk::<3>().ok_or(short.clone())?;
            let size = usize::try_from(u32::from_be_bytes([0, size[0], size[1], size[2]])).unwrap_or(usize::MAX);
            let body = r.get(..size).ok_or(short)?;
            self.rest = &r[size..];
            body
        };
        Ok(TrackBody { packet_type: self.packet_type, fourcc, id, body })
    }
}

impl<'a> Iterator for Tracks<'a> {
    type Item = Result<TrackBody<'a>, FlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.left == 0 {
            return None;
        }
        self.left -= 1;
        let track = self.read();
        if track.is_err() {
            self.rest = &[];
        }
        Some(track)
    }
}

/// Track 0 of a multitrack packet if it has it, else its first track ([`tracks`]).
pub(super) fn default_track<'a>(body: &'a [u8], multitrack: u8, what: &'static str) -> Result<TrackBody<'a>, FlvError> {
    let mut first = None;
    for track in tracks(body, multitrack, what)? {
        let track = track?;
        if track.id == 0 {
            return Ok(track);
        }
        first.get_or_insert(track);
    }
    first.ok_or(FlvError::ShortBody(what))
}

/// One track's packet of an audio or video tag, as a tag body of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPacket {
    /// Its track id: 0 is the default track.
    pub track: u8,
    /// A one-track tag body: the packet as an Enhanced RTMP packet of its track alone (the
    /// multitrack wrapping, and any ModEx modifiers, taken off; the codec's bytes unchanged).
    pub body: Vec<u8>,
}

/// Splits an Enhanced RTMP multitrack audio or video tag body into one body per track
/// (`out`, cleared first), so each track can be packaged as a stream of its own. Returns
/// `false`, with `out` empty, for a tag that is not multitrack: it is the default track's (0),
/// as it is.
pub fn split_tracks(kind: TagKind, body: &[u8], out: &mut Vec<TrackPacket>) -> Result<bool, FlvError> {
    out.clear();
    let (what, ex_header, multitrack) = match kind {
        TagKind::Video => ("enhanced video", body.first().is_some_and(|b| b & 0x80 != 0), VIDEO_MULTITRACK),
        TagKind::Audio => ("enhanced audio", body.first().is_some_and(|b| b >> 4 == 9), AUDIO_MULTITRACK),
        _ => return Ok(false),
    };
    let Some((&b0, rest)) = body.split_first().filter(|_| ex_header) else { return Ok(false) };
    let (code, rest) = super::mod_ex::packet_type(b0, rest, what)?;
    if code != multitrack {
        return Ok(false);
    }
    for track in tracks(rest, multitrack, what)? {
        let track = track?;
        // The first byte keeps the tag's ExHeader flag and frame type (video) or sound format
        // (audio), with the track's packet type.
        let mut one = Vec::with_capacity(5 + track.body.len());
        one.push((b0 & 0xF0) | track.packet_type);
        one.extend_from_slice(&track.fourcc);
        one.extend_from_slice(track.body);
        out.push(TrackPacket { track: track.id, body: one });
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_track() {
        // OneTrack, CodedFrames, hvc1, track 2, then the track body.
        let t = default_track(b"\x01hvc1\x02\x00\x00\x00\x09", VIDEO_MULTITRACK, "video").unwrap();
        assert_eq!((t.packet_type, &t.fourcc, t.id, t.body), (1, b"hvc1", 2, &b"\x00\x00\x00\x09"[..]));
    }

    #[test]
    fn many_tracks_give_track_0_wherever_it_is() {
        // ManyTracks, SequenceStart, avc1: track 1 (2 bytes), track 0 (1 byte).
        let t = default_track(b"\x10avc1\x01\x00\x00\x02ab\x00\x00\x00\x01c", VIDEO_MULTITRACK, "video").unwrap();
        assert_eq!((t.id, t.body, &t.fourcc), (0, &b"c"[..], b"avc1"));
        // ManyTracksManyCodecs: each track its FourCC; no track 0, so the first.
        let t = default_track(b"\x21hvc1\x03\x00\x00\x01xav01\x04\x00\x00\x01y", VIDEO_MULTITRACK, "video").unwrap();
        assert_eq!((t.id, t.body, &t.fourcc), (3, &b"x"[..], b"hvc1"));
    }

    #[test]
    fn bad_multitrack_packets_are_errors() {
        let whole = b"\x10avc1\x01\x00\x00\x02ab\x00\x00\x00\x01c";
        for n in 0..whole.len() - 1 {
            let _ = default_track(&whole[..n], VIDEO_MULTITRACK, "video"); // never a panic
        }
        assert!(
            default_track(b"\x10avc1\x01\x00\x00\x09ab", VIDEO_MULTITRACK, "video").is_err(),
            "a size beyond the packet"
        );
        assert!(default_track(b"\x31avc1\x00", VIDEO_MULTITRACK, "video").is_err(), "multitrack type 3");
        assert!(default_track(b"\x06avc1\x00", VIDEO_MULTITRACK, "video").is_err(), "multitrack in multitrack");
        let many: Vec<u8> = [&b"\x11avc1"[..], &[1, 0, 0, 0].repeat(300)].concat();
        assert_eq!(default_track(&many, VIDEO_MULTITRACK, "video").map(|t| t.id), Ok(1), "bounded, the first track");
    }

    #[test]
    fn split_gives_each_track_a_one_track_body() {
        // Video keyframe (0x90 | Multitrack), ManyTracks of CodedFrames, avc1: tracks 1 and 2.
        let body = b"\x96\x11avc1\x01\x00\x00\x02ab\x02\x00\x00\x01c";
        let mut out = Vec::new();
        assert_eq!(split_tracks(TagKind::Video, body, &mut out), Ok(true));
        assert_eq!(
            out,
            [
                TrackPacket { track: 1, body: b"\x91avc1ab".to_vec() },
                TrackPacket { track: 2, body: b"\x91avc1c".to_vec() }
            ]
        );
        // Audio (ExHeader 9 | Multitrack, 5 for audio), OneTrack SequenceStart of Opus, track 1.
        assert_eq!(split_tracks(TagKind::Audio, b"\x95\x00Opus\x01head", &mut out), Ok(true));
        assert_eq!(out, [TrackPacket { track: 1, body: b"\x90Opushead".to_vec() }]);
        // Not multitrack: legacy AVC, a plain enhanced packet, script data.
        for (kind, body) in
            [(TagKind::Video, &b"\x17\x01\x00\x00\x00"[..]), (TagKind::Video, b"\x91hvc1"), (TagKind::Script, b"\x02")]
        {
            assert_eq!(split_tracks(kind, body, &mut out), Ok(false));
            assert!(out.is_empty());
        }
        assert!(split_tracks(TagKind::Video, b"\x96\x11avc1\x01\x00\x00\x09ab", &mut out).is_err());
        // Packet type 6 of audio is not multitrack.
        assert_eq!(split_tracks(TagKind::Audio, b"\x96\x00Opus\x01head", &mut out), Ok(false));
    }
}
