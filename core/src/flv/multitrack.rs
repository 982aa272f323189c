//! Enhanced RTMP v2 multitrack packets: several tracks (OBS Enhanced Broadcasting renditions,
//! say) in one audio or video tag, each with a track id.

use super::FlvError;

/// The packet type that says tracks follow.
pub(super) const MULTITRACK: u8 = 6;

/// `AvMultitrackType` 0: one track, its body to the end of the packet.
const ONE_TRACK: u8 = 0;
/// `AvMultitrackType` 2: each track has its own FourCC (1, ManyTracks, shares one).
const MANY_TRACKS_MANY_CODECS: u8 = 2;

/// Most tracks read from one packet (the track id is a byte: 256 at most).
pub const MAX_TRACKS: usize = 256;

/// One track of a multitrack packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Track<'a> {
    /// The packet type of every track of the packet.
    pub packet_type: u8,
    /// The track's FourCC.
    pub fourcc: [u8; 4],
    /// Its id: 0 is the default track.
    pub id: u8,
    /// Its packet body, after the FourCC as in a one-track packet.
    pub body: &'a [u8],
}

/// Reads a multitrack packet (`body` after the byte whose packet type said Multitrack): the
/// multitrack type and the tracks' packet type, a FourCC (unless every track has its own), then
/// per track its FourCC (if so), its id, its size (unless there is one track) and its body.
/// Returns track 0 if the packet has it, else its first track.
pub(super) fn default_track<'a>(body: &'a [u8], what: &'static str) -> Result<Track<'a>, FlvError> {
    let short = FlvError::ShortBody(what);
    let (&types, mut rest) = body.split_first().ok_or(short.clone())?;
    let (kind, packet_type) = (types >> 4, types & 0x0F);
    if kind > MANY_TRACKS_MANY_CODECS {
        return Err(FlvError::Unsupported("enhanced RTMP: unknown multitrack type"));
    }
    if packet_type == MULTITRACK || packet_type == super::mod_ex::MOD_EX {
        return Err(FlvError::Unsupported("enhanced RTMP: a multitrack packet inside a multitrack packet"));
    }
    let fourcc = |rest: &mut &'a [u8]| -> Result<[u8; 4], FlvError> {
        let (f, r) = rest.split_first_chunk::<4>().ok_or(short.clone())?;
        *rest = r;
        Ok(*f)
    };
    let shared = if kind == MANY_TRACKS_MANY_CODECS { None } else { Some(fourcc(&mut rest)?) };
    let mut first = None;
    for _ in 0..MAX_TRACKS {
        if rest.is_empty() {
            break;
        }
        let fourcc = match shared {
            Some(f) => f,
            None => fourcc(&mut rest)?,
        };
        let (&id, r) = rest.split_first().ok_or(short.clone())?;
        rest = r;
        let body = if kind == ONE_TRACK {
            core::mem::take(&mut rest)
        } else {
            let (size, r) = rest.split_first_chunk::<3>().ok_or(short.clone())?;
            let size = usize::try_from(u32::from_be_bytes([0, size[0], size[1], size[2]])).unwrap_or(usize::MAX);
            let body = r.get(..size).ok_or(short.clone())?;
            rest = &r[size..];
            body
        };
        let track = Track { packet_type, fourcc, id, body };
        if id == 0 {
            return Ok(track);
        }
        first.get_or_insert(track);
    }
    first.ok_or(short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn one_track() {
        // OneTrack, CodedFrames, hvc1, track 2, then the track body.
        let t = default_track(b"\x01hvc1\x02\x00\x00\x00\x09", "video").unwrap();
        assert_eq!((t.packet_type, &t.fourcc, t.id, t.body), (1, b"hvc1", 2, &b"\x00\x00\x00\x09"[..]));
    }

    #[test]
    fn many_tracks_give_track_0_wherever_it_is() {
        // ManyTracks, SequenceStart, avc1: track 1 (2 bytes), track 0 (1 byte).
        let t = default_track(b"\x10avc1\x01\x00\x00\x02ab\x00\x00\x00\x01c", "video").unwrap();
        assert_eq!((t.id, t.body, &t.fourcc), (0, &b"c"[..], b"avc1"));
        // ManyTracksManyCodecs: each track its FourCC; no track 0, so the first.
        let t = default_track(b"\x21hvc1\x03\x00\x00\x01xav01\x04\x00\x00\x01y", "video").unwrap();
        assert_eq!((t.id, t.body, &t.fourcc), (3, &b"x"[..], b"hvc1"));
    }

    #[test]
    fn bad_multitrack_packets_are_errors() {
        let whole = b"\x10avc1\x01\x00\x00\x02ab\x00\x00\x00\x01c";
        for n in 0..whole.len() - 1 {
            let _ = default_track(&whole[..n], "video"); // never a panic
        }
        assert!(default_track(b"\x10avc1\x01\x00\x00\x09ab", "video").is_err(), "a size beyond the packet");
        assert!(default_track(b"\x31avc1\x00", "video").is_err(), "multitrack type 3");
        assert!(default_track(b"\x06avc1\x00", "video").is_err(), "multitrack in multitrack");
        let many: Vec<u8> = [&b"\x11avc1"[..], &[1, 0, 0, 0].repeat(300)].concat();
        assert_eq!(default_track(&many, "video").map(|t| t.id), Ok(1), "bounded, the first track");
    }
}
