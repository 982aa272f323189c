//! Video tag headers: legacy `VIDEODATA` (FLV spec v10.1, E.4.3.1) and Enhanced RTMP v2
//! `ExVideoTagHeader`.

use super::FlvError;

/// `FrameType` (E.4.3.1; Enhanced RTMP `VideoFrameType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameType {
    /// 1: keyframe (a seekable frame).
    Key,
    /// 2: inter frame.
    Inter,
    /// 3: disposable inter frame (H.263 only).
    DisposableInter,
    /// 4: generated keyframe (server use).
    Generated,
    /// 5: video info / command frame; carries no picture.
    Command,
    /// Any other value.
    Reserved(u8),
}

impl FrameType {
    fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Key,
            2 => Self::Inter,
            3 => Self::DisposableInter,
            4 => Self::Generated,
            5 => Self::Command,
            v => Self::Reserved(v),
        }
    }
}

/// The video codec of a tag: legacy `CodecID` or Enhanced RTMP `VideoFourCc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoCodec {
    /// H.264: legacy `CodecID` 7 or FourCC `avc1`.
    Avc,
    /// H.265: FourCC `hvc1` (or the non-standard legacy `CodecID` 12).
    Hevc,
    /// AV1: FourCC `av01`.
    Av1,
    /// VP9: FourCC `vp09`.
    Vp9,
    /// Another legacy `CodecID` (Sorenson H.263, VP6, screen video, …).
    Legacy(u8),
    /// Another FourCC.
    FourCc([u8; 4]),
}

impl VideoCodec {
    fn from_fourcc(f: [u8; 4]) -> Self {
        match &f {
            b"avc1" => Self::Avc,
            b"hvc1" => Self::Hevc,
            b"av01" => Self::Av1,
            b"vp09" => Self::Vp9,
            _ => Self::FourCc(f),
        }
    }

    /// A short name (`h264`, `h265`, `av1`, `vp9`, or the raw code).
    pub fn name(&self) -> alloc::string::String {
        use alloc::string::ToString;
        match self {
            Self::Avc => "h264".into(),
            Self::Hevc => "h265".into(),
            Self::Av1 => "av1".into(),
            Self::Vp9 => "vp9".into(),
            Self::Legacy(id) => alloc::format!("codec-id-{id}"),
            Self::FourCc(f) => alloc::string::String::from_utf8_lossy(f).to_string(),
        }
    }
}

/// The packet type: legacy `AVCPacketType` mapped onto Enhanced RTMP `VideoPacketType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoPacketType {
    /// 0: decoder configuration (avcC / hvcC / av1C).
    SequenceStart,
    /// 1: coded frames, with a composition time offset.
    CodedFrames,
    /// 2: end of sequence.
    SequenceEnd,
    /// 3: coded frames, composition time offset implied 0 (enhanced only).
    CodedFramesX,
    /// 4: AMF metadata such as HDR colour info (enhanced only).
    Metadata,
    /// Any other value (MPEG-2 TS sequence start, multitrack, ModEx, …).
    Other(u8),
}

impl VideoPacketType {
    fn from_code(code: u8) -> Self {
        match code {
            0 => Self::SequenceStart,
            1 => Self::CodedFrames,
            2 => Self::SequenceEnd,
            3 => Self::CodedFramesX,
            4 => Self::Metadata,
            v => Self::Other(v),
        }
    }

    /// A short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SequenceStart => "sequence-start",
            Self::CodedFrames => "coded-frames",
            Self::SequenceEnd => "sequence-end",
            Self::CodedFramesX => "coded-frames-x",
            Self::Metadata => "metadata",
            Self::Other(_) => "other",
        }
    }
}

/// A parsed video tag header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTagHeader {
    /// Frame type.
    pub frame_type: FrameType,
    /// Codec.
    pub codec: VideoCodec,
    /// Packet type; `None` for legacy codecs that have none (H.263, VP6, …) and command frames.
    pub packet_type: Option<VideoPacketType>,
    /// `CompositionTime` (signed 24-bit milliseconds: PTS − DTS); 0 where the format has none.
    pub composition_time: i32,
    /// Whether the tag uses the Enhanced RTMP `ExVideoTagHeader`.
    pub enhanced: bool,
    /// The track (Enhanced RTMP multitrack): 0, the default track, unless a multitrack packet
    /// says another.
    pub track: u8,
}

/// A video tag body split into its header and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoPacket<'a> {
    /// The header.
    pub header: VideoTagHeader,
    /// What follows the header: a configuration record, length-prefixed NAL units, OBUs, …
    pub payload: &'a [u8],
}

fn si24(b: &[u8]) -> i32 {
    (i32::from_be_bytes([b[0], b[1], b[2], 0])) >> 8
}

impl<'a> VideoPacket<'a> {
    /// Parses a video tag body.
    pub fn parse(body: &'a [u8]) -> Result<Self, FlvError> {
        let short = FlvError::ShortBody("video");
        let &b0 = body.first().ok_or(short.clone())?;
        if b0 & 0x80 != 0 {
            return Self::parse_enhanced(body);
        }
        let frame_type = FrameType::from_code(b0 >> 4);
        let codec_id = b0 & 0x0F;
        if frame_type == FrameType::Command {
            let header = VideoTagHeader {
                frame_type,
                codec: VideoCodec::Legacy(codec_id),
                packet_type: None,
                composition_time: 0,
                enhanced: false,
                track: 0,
            };
            return Ok(Self { header, payload: &body[1..] });
        }
        let codec = match codec_id {
            7 => VideoCodec::Avc,
            12 => VideoCodec::Hevc,
            id => VideoCodec::Legacy(id),
        };
        if !matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
            let header =
                VideoTagHeader { frame_type, codec, packet_type: None, composition_time: 0, enhanced: false, track: 0 };
            return Ok(Self { header, payload: &body[1..] });
        }
        let h = body.get(1..5).ok_or(short)?;
        let header = VideoTagHeader {
            frame_type,
            codec,
            packet_type: Some(VideoPacketType::from_code(h[0])),
            composition_time: si24(&h[1..4]),
            enhanced: false,
            track: 0,
        };
        Ok(Self { header, payload: &body[5..] })
    }

    fn parse_enhanced(body: &'a [u8]) -> Result<Self, FlvError> {
        let short = FlvError::ShortBody("enhanced video");
        let frame_type = FrameType::from_code((body[0] >> 4) & 0x07);
        let (code, body) = super::mod_ex::packet_type(body[0], &body[1..], "enhanced video")?;
        if frame_type == FrameType::Command && VideoPacketType::from_code(code) != VideoPacketType::Metadata {
            // ExVideoTagHeader: a command frame carries a one-byte VideoCommand, no FourCC.
            let header = VideoTagHeader {
                frame_type,
                codec: VideoCodec::FourCc([0; 4]),
                packet_type: Some(VideoPacketType::from_code(code)),
                composition_time: 0,
                enhanced: true,
                track: 0,
            };
            return Ok(Self { header, payload: body });
        }
        let (code, fourcc, track, body) = if code == super::multitrack::VIDEO_MULTITRACK {
            let t = super::multitrack::default_track(body, super::multitrack::VIDEO_MULTITRACK, "enhanced video")?;
            (t.packet_type, t.fourcc, t.id, t.body)
        } else {
            let (f, rest) = body.split_first_chunk::<4>().ok_or(short.clone())?;
            (code, *f, 0, rest)
        };
        let packet_type = VideoPacketType::from_code(code);
        if let VideoPacketType::Other(5..) = packet_type {
            return Err(FlvError::Unsupported("enhanced video: unknown packet type"));
        }
        let codec = VideoCodec::from_fourcc(fourcc);
        let mut payload = body;
        let mut composition_time = 0;
        if packet_type == VideoPacketType::CodedFrames && matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
            let ct = payload.get(..3).ok_or(short)?;
            composition_time = si24(ct);
            payload = &payload[3..];
        }
        let header = VideoTagHeader {
            frame_type,
            codec,
            packet_type: Some(packet_type),
            composition_time,
            enhanced: true,
            track,
        };
        Ok(Self { header, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_avc_keyframe_with_negative_composition_time() {
        let p = VideoPacket::parse(&[0x17, 1, 0xFF, 0xFF, 0xDF, 9, 9]).unwrap();
        assert_eq!(p.header.frame_type, FrameType::Key);
        assert_eq!(p.header.codec, VideoCodec::Avc);
        assert_eq!(p.header.packet_type, Some(VideoPacketType::CodedFrames));
        assert_eq!(p.header.composition_time, -33);
        assert_eq!(p.payload, &[9, 9]);
    }

    #[test]
    fn enhanced_mod_ex_modifiers_come_before_the_packet_type_and_fourcc() {
        // ModEx (7) with a 3-byte TimestampOffsetNano, then CodedFramesX (3) of av01.
        let p = VideoPacket::parse(b"\x97\x02\x00\x01\x00\x03av01\x12\x00").unwrap();
        assert_eq!(p.header.packet_type, Some(VideoPacketType::CodedFramesX));
        assert_eq!((p.header.codec, p.header.frame_type), (VideoCodec::Av1, FrameType::Key));
        assert_eq!(p.payload, b"\x12\x00");
        assert!(VideoPacket::parse(b"\x97\x02\x00").is_err(), "truncated modifier");
    }

    #[test]
    fn enhanced_hevc_sequence_start_and_coded_frames() {
        let p = VideoPacket::parse(b"\x90hvc1\x01\x02").unwrap();
        assert!(p.header.enhanced);
        assert_eq!(p.header.codec, VideoCodec::Hevc);
        assert_eq!(p.header.packet_type, Some(VideoPacketType::SequenceStart));
        assert_eq!(p.payload, b"\x01\x02");
        let p = VideoPacket::parse(b"\xA1hvc1\x00\x00\x21\xAA").unwrap();
        assert_eq!(p.header.frame_type, FrameType::Inter);
        assert_eq!(p.header.composition_time, 33);
        assert_eq!(p.payload, b"\xAA");
        let p = VideoPacket::parse(b"\x93av01\xBB").unwrap();
        assert_eq!((p.header.codec, p.header.packet_type), (VideoCodec::Av1, Some(VideoPacketType::CodedFramesX)));
        assert_eq!(p.payload, b"\xBB");
    }

    #[test]
    fn short_bodies_are_errors() {
        for body in [&b""[..], b"\x17", b"\x17\x01\x00", b"\x90hv", b"\x91avc1\x00"] {
            assert!(VideoPacket::parse(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn legacy_non_avc_codecs_pass_through() {
        let p = VideoPacket::parse(&[0x22, 7]).unwrap();
        assert_eq!(p.header.codec, VideoCodec::Legacy(2));
        assert_eq!(p.header.packet_type, None);
    }
}
