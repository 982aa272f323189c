//! An FLV file read into the audio and video messages a publisher sends.
//!
//! Adobe, *Video File Format Specification* v10.1, annex E (FLV tags); Enhanced RTMP v2
//! (Veovera) for the extended video tag header. An RTMP audio (type 8) or video (type 9)
//! message carries an FLV tag body as is (RTMP spec §7.1.4, §7.1.5).

use bytes::Bytes;
use rapidrtmp_core::flv::{FlvError, TagKind, TagReader};
use thiserror::Error;

/// One audio or video tag of the file.
#[derive(Debug, Clone)]
pub struct MediaTag {
    /// A video tag (else audio).
    pub video: bool,
    /// Milliseconds from the file's first media tag.
    pub time: u32,
    /// The tag body: the RTMP message payload.
    pub body: Bytes,
    /// A video key frame (sequence headers included).
    pub keyframe: bool,
    /// A codec configuration record (AVC/HEVC sequence header, AAC AudioSpecificConfig).
    pub sequence_header: bool,
}

/// The file, ready to publish.
#[derive(Debug, Clone)]
pub struct Media {
    /// Audio and video tags in send order (by time; script tags left out).
    pub tags: Vec<MediaTag>,
    /// Milliseconds one pass of the file lasts (the next pass of a loop starts this much later).
    pub period: u32,
}

/// Why a file cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Not FLV, or a broken tag.
    #[error("bad FLV file: {0}")]
    Flv(#[from] FlvError),
    /// No audio or video tag.
    #[error("the FLV file has no audio or video tags")]
    NoMedia,
}

impl Media {
    /// Reads the audio and video tags of an FLV file (empty tags and script tags are skipped).
    pub fn from_flv(data: Bytes) -> Result<Media, Error> {
        let (_, reader) = TagReader::new(&data)?;
        let mut tags = Vec::new();
        let mut first: Option<u32> = None;
        for tag in reader {
            let tag = tag?;
            let video = match tag.kind {
                TagKind::Video => true,
                TagKind::Audio => false,
                _ => continue,
            };
            let Some(&b0) = tag.body.first() else { continue };
            let body = data.slice_ref(tag.body);
            let (keyframe, sequence_header) = if video {
                if b0 & 0x80 != 0 {
                    // Enhanced RTMP: IsExHeader | FrameType(3) | PacketType(4); 0 = SequenceStart.
                    ((b0 >> 4) & 0x07 == 1, b0 & 0x0F == 0)
                } else {
                    // Legacy: FrameType(4) | CodecID(4); AVC/HEVC packet type 0 = sequence header.
                    let codec = b0 & 0x0F;
                    (b0 >> 4 == 1, matches!(codec, 7 | 12) && body.get(1) == Some(&0))
                }
            } else {
                // AAC (SoundFormat 10): AACPacketType 0 = AudioSpecificConfig.
                (false, b0 >> 4 == 10 && body.get(1) == Some(&0))
            };
            let base = *first.get_or_insert(tag.timestamp);
            tags.push(MediaTag { video, time: tag.timestamp.wrapping_sub(base), body, keyframe, sequence_header });
        }
        if tags.is_empty() {
            return Err(Error::NoMedia);
        }
        // Tags in send order (interleaving in files is close to, but not always, time order).
        tags.sort_by_key(|t| t.time);
        // One pass lasts until the last video frame ends: its time plus one frame interval.
        let video_times: Vec<u32> = tags.iter().filter(|t| t.video && !t.sequence_header).map(|t| t.time).collect();
        let last = tags.iter().map(|t| t.time).max().unwrap_or(0);
        let frame = match video_times.as_slice() {
            [.., a, b] if b > a => b - a,
            _ => 40,
        };
        let period = video_times.last().map_or(last + 23, |&v| v.max(last) + frame).max(1);
        Ok(Media { tags, period })
    }

    /// Reads an FLV file from disk.
    pub fn load(path: &std::path::Path) -> Result<Media, String> {
        let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Media::from_flv(Bytes::from(data)).map_err(|e| format!("{}: {e}", path.display()))
    }
}
