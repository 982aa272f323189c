//! FLV inspection: the file header and every tag, with what its audio/video header says.

use alloc::{format, string::String, vec::Vec};

use serde::Serialize;

use crate::codec::Vp9Config;
use crate::flv::{
    parse_metadata, AudioCodec, AudioPacket, AudioPacketType, FlvError, FrameType, TagKind, TagReader, VideoCodec,
    VideoPacket, VideoPacketType,
};
use crate::media::{AudioConfig, VideoConfig};

/// Most tags listed; the rest are counted.
pub const MAX_TAGS: usize = 1_000_000;

/// One FLV tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInfo {
    /// Tag number, from 0.
    pub index: u64,
    /// Byte offset of the tag header.
    pub offset: u64,
    /// `audio`, `video`, `script` or `other`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Timestamp, milliseconds (wrapping u32, as in the file).
    pub timestamp: u32,
    /// Body size, bytes.
    pub size: u32,
    /// Video: a keyframe.
    pub keyframe: Option<bool>,
    /// Codec name (`h264`, `aac`, …).
    pub codec: Option<String>,
    /// Packet type (`sequence-start`, `coded-frames`, …).
    pub packet_type: Option<&'static str>,
    /// Video: composition time offset, milliseconds.
    pub composition_time: Option<i32>,
    /// Enhanced RTMP header.
    pub enhanced: bool,
    /// What a sequence header or script tag says, or why the body did not parse.
    pub detail: Option<String>,
}

/// The FLV file header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlvHeaderInfo {
    /// Version.
    pub version: u8,
    /// Audio flag.
    pub has_audio: bool,
    /// Video flag.
    pub has_video: bool,
    /// Data offset.
    pub data_offset: u32,
}

/// What an FLV file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlvReport {
    /// File size, bytes.
    pub file_size: u64,
    /// The header.
    pub header: FlvHeaderInfo,
    /// The tags.
    pub tags: Vec<TagInfo>,
    /// Tags beyond [`MAX_TAGS`], not listed.
    pub tags_not_listed: u64,
    /// Where reading stopped early, and why.
    pub error: Option<String>,
}

fn describe_video(body: &[u8], info: &mut TagInfo) {
    let p = match VideoPacket::parse(body) {
        Ok(p) => p,
        Err(e) => {
            info.detail = Some(format!("{e}"));
            return;
        }
    };
    info.keyframe = Some(p.header.frame_type == FrameType::Key);
    info.codec = Some(p.header.codec.name());
    info.packet_type = p.header.packet_type.map(|t| t.name());
    info.enhanced = p.header.enhanced;
    if matches!(p.header.packet_type, Some(VideoPacketType::CodedFrames)) {
        info.composition_time = Some(p.header.composition_time);
    }
    let codec = p.header.codec;
    let packaged = matches!(codec, VideoCodec::Avc | VideoCodec::Hevc | VideoCodec::Av1 | VideoCodec::Vp9);
    if p.header.frame_type == FrameType::Command {
        info.detail = Some("video info/command frame".into());
    } else if packaged && p.header.packet_type == Some(VideoPacketType::SequenceStart) {
        info.detail = Some(match VideoConfig::parse(codec, p.payload) {
            Ok(c) => video_config_detail(codec, &c),
            Err(e) => format!("invalid: {e}"),
        });
    } else if codec == VideoCodec::Vp9
        && p.header.frame_type == FrameType::Key
        && matches!(p.header.packet_type, Some(VideoPacketType::CodedFrames | VideoPacketType::CodedFramesX))
    {
        // VP9's record has no picture size: its keyframes do.
        if let Some((w, h)) = Vp9Config::frame_size(p.payload) {
            info.detail = Some(format!("{w}x{h}"));
        }
    }
}

/// What a video sequence header says: the codec string, the picture size (VP9's comes from its
/// keyframes, not its record) and the frame rate when the bitstream gives them.
fn video_config_detail(codec: VideoCodec, c: &VideoConfig) -> String {
    let mut d = c.codec_string();
    if let Some((w, h)) = c.size() {
        d.push_str(&format!(" {w}x{h}"));
    }
    if let Some(fps) = c.fps() {
        d.push_str(&format!(" {fps:.3} fps"));
    }
    if codec == VideoCodec::Avc && matches!(c, VideoConfig::Hevc(_)) {
        d.push_str(" (H.265 under the H.264 codec id)");
    }
    d
}

fn describe_audio(body: &[u8], info: &mut TagInfo) {
    let p = match AudioPacket::parse(body) {
        Ok(p) => p,
        Err(e) => {
            info.detail = Some(format!("{e}"));
            return;
        }
    };
    info.codec = Some(p.header.codec.name());
    info.packet_type = p.header.packet_type.map(|t| t.name());
    info.enhanced = p.header.enhanced;
    let codec = p.header.codec;
    if matches!(codec, AudioCodec::Aac | AudioCodec::Opus)
        && p.header.packet_type == Some(AudioPacketType::SequenceStart)
    {
        info.detail = Some(match AudioConfig::parse(codec, p.payload) {
            Ok(c) => audio_config_detail(&c),
            Err(e) => format!("invalid: {e}"),
        });
    }
}

/// What an audio sequence header says: the codec string, the rate the track runs at (AAC's
/// sampling rate; 48 kHz for Opus) and the channels; for Opus also its pre-skip, a mapping
/// family other than 0 and an input rate other than 48 kHz.
fn audio_config_detail(c: &AudioConfig) -> String {
    let mut d = format!("{} {} Hz {} ch", c.codec_string(), c.timescale(), c.channels());
    if let AudioConfig::Opus(o) = c {
        d.push_str(&format!(" pre-skip {}", o.pre_skip));
        if o.mapping_family != 0 {
            d.push_str(&format!(" mapping family {}", o.mapping_family));
        }
        if o.input_sample_rate != 0 && o.input_sample_rate != 48_000 {
            d.push_str(&format!(" input {} Hz", o.input_sample_rate));
        }
    }
    d
}

fn describe_script(body: &[u8], info: &mut TagInfo) {
    match crate::flv::Amf0Value::read(body) {
        Ok((crate::flv::Amf0Value::String(name), _)) => {
            let mut d = name.clone();
            if let Ok(Some(m)) = parse_metadata(body) {
                if let (Some(w), Some(h)) = (m.width, m.height) {
                    d.push_str(&format!(" {w}x{h}"));
                }
                if let Some(e) = m.encoder {
                    d.push_str(&format!(" encoder={e}"));
                }
            }
            info.detail = Some(d);
        }
        Ok(_) => info.detail = Some("script data".into()),
        Err(e) => info.detail = Some(format!("{e}")),
    }
}

/// Inspects a whole FLV file.
pub fn inspect_flv(bytes: &[u8]) -> Result<FlvReport, FlvError> {
    let (header, reader) = TagReader::new(bytes)?;
    let mut report = FlvReport {
        file_size: bytes.len() as u64,
        header: FlvHeaderInfo {
            version: header.version,
            has_audio: header.has_audio,
            has_video: header.has_video,
            data_offset: header.data_offset,
        },
        tags: Vec::new(),
        tags_not_listed: 0,
        error: None,
    };
    for (index, tag) in reader.enumerate() {
        let tag = match tag {
            Ok(t) => t,
            Err(e) => {
                report.error = Some(format!("{e}"));
                break;
            }
        };
        if report.tags.len() >= MAX_TAGS {
            report.tags_not_listed += 1;
            continue;
        }
        let mut info = TagInfo {
            index: index as u64,
            offset: tag.offset,
            kind: tag.kind.name(),
            timestamp: tag.timestamp,
            // An FLV tag's DataSize is a 24-bit field: its body always fits.
            size: u32::try_from(tag.body.len()).unwrap_or(u32::MAX),
            keyframe: None,
            codec: None,
            packet_type: None,
            composition_time: None,
            enhanced: false,
            detail: None,
        };
        if tag.filtered {
            info.detail = Some("encrypted".into());
        } else {
            match tag.kind {
                TagKind::Video => describe_video(tag.body, &mut info),
                TagKind::Audio => describe_audio(tag.body, &mut info),
                TagKind::Script => describe_script(tag.body, &mut info),
                _ => {}
            }
        }
        report.tags.push(info);
    }
    Ok(report)
}

impl FlvReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A readable table.
    pub fn to_text(&self) -> String {
        use core::fmt::Write;
        let h = &self.header;
        let mut s = format!(
            "FLV v{} audio={} video={} ({} bytes, {} tags)\n",
            h.version,
            h.has_audio,
            h.has_video,
            self.file_size,
            self.tags.len() as u64 + self.tags_not_listed
        );
        s.push_str("    #     offset  type    timestamp      size  key  codec  packet            cts  detail\n");
        for t in &self.tags {
            let key = match t.keyframe {
                Some(true) => "K",
                Some(false) => "-",
                None => "",
            };
            let cts = t.composition_time.map(|c| format!("{c}")).unwrap_or_default();
            let line = format!(
                "{:5} {:10}  {:6} {:10} {:9}  {:3}  {:5}  {:16} {:4}  {}",
                t.index,
                t.offset,
                t.kind,
                t.timestamp,
                t.size,
                key,
                t.codec.as_deref().unwrap_or(""),
                t.packet_type.unwrap_or(""),
                cts,
                t.detail.as_deref().unwrap_or("")
            );
            let _ = writeln!(s, "{}", line.trim_end());
        }
        if self.tags_not_listed > 0 {
            let _ = writeln!(s, "… {} more tags not listed", self.tags_not_listed);
        }
        if let Some(e) = &self.error {
            let _ = writeln!(s, "error: {e}");
        }
        s
    }
}
