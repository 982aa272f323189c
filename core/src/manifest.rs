//! The stream manifest: the one small, mutable object per stream that says which chunks exist
//! (docs/storage.md, "Manifest"). It holds the live window only, so writing it is O(1) per chunk.

use alloc::{string::String, vec, vec::Vec};

use serde::{Deserialize, Serialize};

/// The manifest format version this crate writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// Largest manifest accepted from the store.
pub const MAX_MANIFEST_LEN: usize = 1 << 20;
/// Most chunk entries a manifest may list.
pub const MAX_WINDOW: usize = 1000;
/// Most renditions of each kind (video, audio) a manifest may name.
pub const MAX_RENDITIONS: usize = 16;
/// Largest figure (time, size, sequence number) a manifest may hold: 2^53 − 1, the largest
/// integer JSON readers such as JavaScript keep exactly. Arithmetic on figures read from the
/// store stays far from `u64` overflow.
pub const MAX_FIGURE: u64 = (1 << 53) - 1;

/// Whether a publisher is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamState {
    /// Being published.
    Live,
    /// Publisher gone or stopped: the playlist ends with `EXT-X-ENDLIST`.
    Ended,
}

/// One chunk in the live window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkEntry {
    /// The publishing session's id.
    pub session: String,
    /// The chunk's sequence number (the HLS media sequence number).
    pub sequence: u64,
    /// The URI of its init segment, relative to the media playlist (a session whose codec
    /// configuration equals the one before reuses that session's init segment).
    pub init: String,
    /// Start on the session's media timeline, milliseconds.
    pub start_ms: u64,
    /// Duration, milliseconds.
    pub duration_ms: u64,
    /// Size of the chunk object, bytes.
    pub bytes: u64,
    /// Wall-clock time of its start at the ingest node, milliseconds since the Unix epoch.
    pub wall_clock_ms: u64,
    /// It starts with a keyframe (or has no video). False for a chunk cut between keyframes
    /// (rare keyframes): the playlist then drops `EXT-X-INDEPENDENT-SEGMENTS`. Written only when
    /// false; absent reads as true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub independent: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a stream's media is, for playlists and the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaInfo {
    /// RFC 6381 codecs, e.g. `avc1.64001F,mp4a.40.2`.
    pub codecs: String,
    /// Video width, pixels.
    pub width: Option<u32>,
    /// Video height, pixels.
    pub height: Option<u32>,
    /// Frames per second.
    pub frame_rate: Option<f64>,
}

/// The other tracks of a multitrack publish, each published as a stream of its own (its key
/// the stream's with `_v{track}` or `_a{track}`): the multivariant playlist lists them beside
/// the stream itself. Of a stream group, the streams that joined it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Renditions {
    /// Streams of the other video tracks (with the stream's default audio track): variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub video: Vec<String>,
    /// Streams of the other audio tracks: alternative audio renditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<String>,
}

impl Renditions {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.video.is_empty() && self.audio.is_empty()
    }
}

/// The manifest of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The stream key.
    pub stream_key: String,
    /// Live or ended.
    pub state: StreamState,
    /// When the stream was first published, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When this manifest was written.
    pub updated_at_ms: u64,
    /// The current session's id.
    pub session: String,
    /// Media of the current session.
    pub media: MediaInfo,
    /// Session changes (discontinuities) before the first chunk of the window.
    pub discontinuity_sequence: u64,
    /// The next chunk's sequence number.
    pub next_sequence: u64,
    /// Digest of the last session's sequence headers ([`crate::chunk::headers_digest`]) and its
    /// init segment's URI: a new session with the same digest reuses that init segment.
    #[serde(default)]
    pub last_init: Option<(String, String)>,
    /// Where the last publish's media ended on the stream timeline (past its last frame in
    /// decode and in presentation order), milliseconds: a new publish continues from there.
    #[serde(default)]
    pub media_end_ms: Option<u64>,
    /// The other tracks of the current publish, if it is multitrack; of a stream group, its
    /// streams.
    #[serde(default, skip_serializing_if = "Renditions::is_empty")]
    pub renditions: Renditions,
    /// It is a stream group's record, not a stream's manifest: it has no media of its own, and
    /// its multivariant playlist lists the streams that joined it (`renditions.video`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub group: bool,
    /// How long its writer keeps chunks after they leave the window (`--retention`),
    /// milliseconds; absent: kept. An archive window reaches back no further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
    /// The live window, oldest first.
    pub chunks: Vec<ChunkEntry>,
}

/// Why a manifest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Too large.
    #[error("manifest is {0} bytes, more than the 1 MiB limit")]
    TooLarge(usize),
    /// Not valid JSON for this format.
    #[error("manifest is not valid: {0}")]
    Invalid(String),
    /// A format version we do not know.
    #[error("manifest version {0} is not supported")]
    Version(u32),
    /// A figure above [`MAX_FIGURE`].
    #[error("manifest field {0} is {1}, more than 2^53 - 1")]
    Figure(&'static str, u64),
}

impl Manifest {
    /// A new, empty manifest.
    pub fn new(stream_key: &str, now_ms: u64) -> Self {
        Self {
            version: MANIFEST_VERSION,
            stream_key: stream_key.into(),
            state: StreamState::Live,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            session: String::new(),
            media: MediaInfo::default(),
            discontinuity_sequence: 0,
            next_sequence: 0,
            media_end_ms: None,
            last_init: None,
            renditions: Renditions::default(),
            group: false,
            retention_ms: None,
            chunks: Vec::new(),
        }
    }

    /// Parses a manifest.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST_LEN {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let m: Self = serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid(alloc::format!("{e}")))?;
        if m.version != MANIFEST_VERSION {
            return Err(ManifestError::Version(m.version));
        }
        if m.chunks.len() > MAX_WINDOW {
            return Err(ManifestError::Invalid("more than 1000 chunks listed".into()));
        }
        m.check_figures()?;
        let names = m.renditions.video.iter().chain(&m.renditions.audio);
        if m.renditions.video.len() > MAX_RENDITIONS || m.renditions.audio.len() > MAX_RENDITIONS {
            return Err(ManifestError::Invalid("more than 16 renditions of a kind".into()));
        }
        if let Some(bad) = names.into_iter().find(|n| !crate::layout::valid_name(n)) {
            return Err(ManifestError::Invalid(alloc::format!("rendition {bad:?} is not a stream key")));
        }
        Ok(m)
    }

    fn check_figures(&self) -> Result<(), ManifestError> {
        let mut figures = vec![
            ("createdAtMs", self.created_at_ms),
            ("updatedAtMs", self.updated_at_ms),
            ("discontinuitySequence", self.discontinuity_sequence),
            ("nextSequence", self.next_sequence),
            ("mediaEndMs", self.media_end_ms.unwrap_or(0)),
            ("retentionMs", self.retention_ms.unwrap_or(0)),
        ];
        for c in &self.chunks {
            figures.extend([
                ("chunks.sequence", c.sequence),
                ("chunks.startMs", c.start_ms),
                ("chunks.durationMs", c.duration_ms),
                ("chunks.bytes", c.bytes),
                ("chunks.wallClockMs", c.wall_clock_ms),
            ]);
        }
        match figures.into_iter().find(|&(_, v)| v > MAX_FIGURE) {
            Some((field, v)) => Err(ManifestError::Figure(field, v)),
            None => Ok(()),
        }
    }

    /// Serializes it.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Appends a chunk and drops the oldest beyond `window` entries.
    pub fn push_chunk(&mut self, entry: ChunkEntry, window: usize) {
        self.next_sequence = entry.sequence + 1;
        self.chunks.push(entry);
        let window = window.clamp(1, MAX_WINDOW);
        while self.chunks.len() > window {
            let gone = self.chunks.remove(0);
            if self.chunks.first().is_some_and(|next| next.session != gone.session) {
                self.discontinuity_sequence += 1;
            }
        }
    }

    /// The total duration of the window, milliseconds.
    pub fn window_duration_ms(&self) -> u64 {
        self.chunks.iter().fold(0, |sum, c| sum.saturating_add(c.duration_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(session: &str, sequence: u64) -> ChunkEntry {
        ChunkEntry {
            session: session.into(),
            sequence,
            init: "a/init-0.mp4".into(),
            start_ms: sequence * 2000,
            duration_ms: 2000,
            bytes: 100,
            wall_clock_ms: 0,
            independent: true,
        }
    }

    #[test]
    fn window_slides_and_counts_discontinuities() {
        let mut m = Manifest::new("k", 1);
        m.push_chunk(entry("a", 0), 2);
        m.push_chunk(entry("b", 1), 2);
        m.push_chunk(entry("b", 2), 2);
        assert_eq!(m.chunks.iter().map(|c| c.sequence).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(m.discontinuity_sequence, 1);
        assert_eq!(m.next_sequence, 3);
        assert_eq!(Manifest::parse(&m.to_json()), Ok(m));
    }

    #[test]
    fn renditions_are_stream_keys_and_bounded() {
        let mut m = Manifest::new("k", 1);
        assert!(!String::from_utf8(m.to_json()).unwrap().contains("renditions"));
        m.renditions.video = vec!["k_v1".into()];
        assert_eq!(Manifest::parse(&m.to_json()).map(|p| p.renditions), Ok(m.renditions.clone()));
        m.renditions.audio = vec!["../x".into()];
        assert!(Manifest::parse(&m.to_json()).is_err());
        m.renditions.audio = vec!["k_a1".into(); MAX_RENDITIONS + 1];
        assert!(Manifest::parse(&m.to_json()).is_err());
    }

    #[test]
    fn rejects_garbage_and_other_versions() {
        assert!(Manifest::parse(b"{").is_err());
        let mut m = Manifest::new("k", 1);
        m.version = 9;
        assert_eq!(Manifest::parse(&m.to_json()), Err(ManifestError::Version(9)));
    }

    #[test]
    fn rejects_figures_beyond_2_pow_53() {
        let mut m = Manifest::new("k", 1);
        m.push_chunk(entry("a", 7), 2);
        m.chunks[0].duration_ms = MAX_FIGURE;
        assert!(Manifest::parse(&m.to_json()).is_ok());
        m.chunks[0].duration_ms = MAX_FIGURE + 1;
        assert_eq!(Manifest::parse(&m.to_json()), Err(ManifestError::Figure("chunks.durationMs", MAX_FIGURE + 1)));
    }
}
