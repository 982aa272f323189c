//! Whole-file packaging: an FLV file → an HLS set (media playlist, multivariant playlist, init
//! segments, media segments) or one fragmented MP4, cut into chunks by the same [`ChunkWriter`]
//! and built by the same [`build_segment`] as the live path.

use alloc::{string::String, vec::Vec};

use crate::chunk::{ChunkEvent, ChunkWriter, Chunker, ClosedChunk};
use crate::flv::{FlvError, TagReader};
use crate::hls::{self, MediaPlaylist, PlaylistType, Variant};
use crate::media::StreamConfig;
use crate::segment::{build_init, build_segment, Warning, Warnings};
use crate::Error;

/// The media playlist's file name.
pub const MEDIA_PLAYLIST: &str = "index.m3u8";
/// The multivariant playlist's file name.
pub const MULTIVARIANT_PLAYLIST: &str = "master.m3u8";

/// What [`package_flv`] did.
#[derive(Debug, Clone, Default)]
pub struct PackageReport {
    /// Media segments written.
    pub segments: u64,
    /// Sessions (each after a discontinuity) packaged.
    pub sessions: u32,
    /// Tags left out.
    pub warnings: Warnings,
    /// The input ended inside a tag: everything before it was packaged.
    pub truncated: Option<FlvError>,
}

/// Why packaging stopped.
#[derive(Debug)]
pub enum PackageError<E> {
    /// The input cannot be packaged.
    Input(Error),
    /// The sink refused a file.
    Sink(E),
}

impl<E> From<Error> for PackageError<E> {
    fn from(e: Error) -> Self {
        Self::Input(e)
    }
}

/// Receives each output file: its path relative to the playlist, and its bytes.
pub type Sink<'a, E> = dyn FnMut(&str, &[u8]) -> Result<(), E> + 'a;

struct State<'s, E> {
    /// The last session's configuration and init segment URI.
    init: Option<(StreamConfig, String)>,
    sink: &'s mut Sink<'s, E>,
    playlist: MediaPlaylist,
    last_session: Option<u32>,
    out: Vec<u8>,
    report: PackageReport,
    peak_bps: u64,
    total_bytes: u64,
    total_ms: u64,
    config: Option<StreamConfig>,
    /// Video frames per second, from the first chunk that tells.
    frame_rate: Option<f64>,
    /// Some segment starts between keyframes: the playlist cannot say its segments are
    /// independent.
    dependent: bool,
}

impl<E> State<'_, E> {
    fn on(&mut self, writer: &mut ChunkWriter, events: &mut Vec<ChunkEvent>) -> Result<(), PackageError<E>> {
        for event in events.drain(..) {
            match event {
                ChunkEvent::Closed(chunk) => {
                    self.emit(&chunk)?;
                    writer.recycle(chunk.tags);
                }
                ChunkEvent::Skipped { offset, reason } => self.report.warnings.push(Warning { offset, reason }),
                _ => {}
            }
        }
        Ok(())
    }

    fn emit(&mut self, chunk: &ClosedChunk) -> Result<(), PackageError<E>> {
        let info = chunk.info;
        let config = &chunk.config;
        if self.frame_rate.is_none() {
            self.frame_rate = chunk.frame_rate();
        }
        let new_session = self.last_session != Some(info.session);
        let mut new_init = false;
        if new_session {
            self.report.sessions += 1;
            if self.init.as_ref().is_none_or(|(c, _)| c != config) {
                let uri = hls::init_uri(info.session, info.sequence);
                (self.sink)(&uri, &build_init(config)?).map_err(PackageError::Sink)?;
                self.init = Some((config.clone(), uri));
                new_init = true;
            }
        }
        self.out.clear();
        build_segment(&mut self.out, config, &info, chunk.tags(), &mut self.report.warnings)?;
        self.dependent |= !info.independent;
        let name = hls::segment_uri(info.session, info.sequence);
        (self.sink)(&name, &self.out).map_err(PackageError::Sink)?;
        self.playlist.segments.push(hls::Segment {
            uri: name,
            duration_ms: info.duration_ms,
            discontinuity: new_session && self.last_session.is_some(),
            map: new_init.then(|| self.init.as_ref().map(|(_, uri)| uri.clone())).flatten(),
            program_date_time_ms: None,
            parts: Vec::new(),
            open: false,
        });
        // RFC 8216 §4.3.4.2: BANDWIDTH counts whole segments, boxes included.
        let bits = self.out.len() as u64 * 8;
        if let Some(bps) = (bits * 1000).checked_div(info.duration_ms) {
            self.peak_bps = self.peak_bps.max(bps);
        }
        self.total_bytes += self.out.len() as u64;
        self.total_ms += info.duration_ms;
        self.report.segments += 1;
        self.last_session = Some(info.session);
        self.config = Some(config.clone());
        Ok(())
    }
}

/// Packages a complete FLV file, handing each output file (its path relative to the playlist, and
/// its bytes) to `sink` as soon as it is built: init segments and media segments in order, then `index.m3u8` and `master.m3u8`.
pub fn package_flv<E>(
    input: &[u8],
    segment_duration_ms: u64,
    sink: &mut Sink<'_, E>,
) -> Result<PackageReport, PackageError<E>> {
    let (_, reader) = TagReader::new(input).map_err(Error::from)?;
    let mut writer = ChunkWriter::new(Chunker::new(segment_duration_ms));
    let mut st = State {
        init: None,
        sink,
        playlist: MediaPlaylist { playlist_type: Some(PlaylistType::Vod), ended: true, ..Default::default() },
        last_session: None,
        out: Vec::new(),
        report: PackageReport::default(),
        peak_bps: 0,
        total_bytes: 0,
        total_ms: 0,
        config: None,
        frame_rate: None,
        dependent: false,
    };
    let mut events = Vec::new();
    for tag in reader {
        let tag = match tag {
            Ok(t) => t,
            Err(e @ FlvError::BadTag { .. }) if st.report.segments > 0 || writer.open_bytes() > 0 => {
                st.report.truncated = Some(e);
                break;
            }
            Err(e) => return Err(Error::from(e).into()),
        };
        writer.push(&tag, &mut events);
        st.on(&mut writer, &mut events)?;
    }
    writer.finish(&mut events);
    st.on(&mut writer, &mut events)?;
    st.playlist.independent_segments = !st.dependent;
    let Some(config) = st.config.take() else {
        return Err(Error::NoMedia.into());
    };
    let media = st.playlist.render();
    (st.sink)(MEDIA_PLAYLIST, media.as_bytes()).map_err(PackageError::Sink)?;
    let variant = Variant {
        uri: String::from(MEDIA_PLAYLIST),
        bandwidth: st.peak_bps,
        average_bandwidth: (st.total_ms > 0).then(|| st.total_bytes * 8 * 1000 / st.total_ms),
        codecs: config.codecs(),
        resolution: config.video.as_ref().and_then(|v| v.size()),
        frame_rate: st.frame_rate,
        audio: None,
    };
    (st.sink)(MULTIVARIANT_PLAYLIST, hls::render_multivariant(&[variant], &[], !st.dependent).as_bytes())
        .map_err(PackageError::Sink)?;
    Ok(st.report)
}

/// Packages a complete FLV file as one fragmented MP4: the init segment followed by every media
/// segment (`styp` `moof` `mdat` …), on one continuous timeline, as [`package_flv`] would cut it.
///
/// # Errors
///
/// As [`package_flv`], and [`Error::ConfigChanged`] when the codec configuration changes partway
/// (an MP4 file has one `moov`).
pub fn package_fmp4(input: &[u8], segment_duration_ms: u64) -> Result<(Vec<u8>, PackageReport), Error> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 16);
    let mut inits = 0;
    let mut segments = 0;
    let mut sink = |name: &str, data: &[u8]| -> Result<(), Error> {
        if name.ends_with(".mp4") {
            inits += 1;
            if inits > 1 {
                return Err(Error::ConfigChanged { segment: segments });
            }
        } else if name.ends_with(".m4s") {
            segments += 1;
        } else {
            return Ok(()); // the playlists
        }
        out.extend_from_slice(data);
        Ok(())
    };
    let report = package_flv(input, segment_duration_ms, &mut sink).map_err(|e| match e {
        PackageError::Input(e) | PackageError::Sink(e) => e,
    })?;
    Ok((out, report))
}
