//! Every box the writers produce, decoded back by mp4-atom (strict) and compared field by field.

extern crate std;

use alloc::{vec, vec::Vec};

use mp4_atom::{Any, Codec, Decode, FourCC, StszSamples, TrunSamples};

use super::*;
use crate::codec::{AacConfig, AvcConfig, HIGH_360P};
use crate::media::{AudioConfig, VideoConfig};

fn tracks() -> Vec<Track> {
    let avc = AvcConfig::parse(HIGH_360P).expect("avcC");
    let aac = AacConfig::parse(&[0x11, 0x90]).expect("ASC");
    vec![
        Track { id: VIDEO_TRACK_ID, kind: TrackKind::Video(VideoConfig::Avc(avc)) },
        Track { id: AUDIO_TRACK_ID, kind: TrackKind::Audio(AudioConfig::Aac(aac)) },
    ]
}

/// Decodes top-level boxes until the input ends; every byte must belong to a known box.
fn decode_all(mut bytes: &[u8]) -> Vec<Any> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let atom = Any::decode(&mut bytes).expect("mp4-atom (strict) decodes every box");
        assert!(!matches!(atom, Any::Unknown(..)), "unknown box {atom:?}");
        out.push(atom);
    }
    out
}

fn brands(list: &[&[u8; 4]]) -> Vec<FourCC> {
    list.iter().map(|b| FourCC::new(b)).collect()
}

#[test]
fn init_segment_decodes_field_by_field() {
    let tracks = tracks();
    let mut out = Vec::new();
    write_init(&mut out, &tracks).expect("init");
    let boxes = decode_all(&out);
    let [Any::Ftyp(ftyp), Any::Moov(moov)] = &boxes[..] else { panic!("ftyp + moov, not {boxes:?}") };
    assert_eq!(ftyp.major_brand, FourCC::new(b"iso6"));
    assert_eq!(ftyp.minor_version, 0);
    assert_eq!(ftyp.compatible_brands, brands(&[b"iso6", b"cmfc", b"mp41"]));

    let mvhd = &moov.mvhd;
    assert_eq!((mvhd.creation_time, mvhd.modification_time, mvhd.timescale, mvhd.duration), (0, 0, 1000, 0));
    assert_eq!((mvhd.rate.integer(), mvhd.volume.integer()), (1, 1));
    assert_eq!(mvhd.next_track_id, 3);
    assert_eq!((mvhd.matrix.a, mvhd.matrix.d, mvhd.matrix.w), (0x0001_0000, 0x0001_0000, 0x4000_0000));
    assert_eq!(
        (mvhd.matrix.b, mvhd.matrix.c, mvhd.matrix.u, mvhd.matrix.v, mvhd.matrix.x, mvhd.matrix.y),
        (0, 0, 0, 0, 0, 0)
    );

    assert_eq!(moov.trak.len(), 2);
    for (trak, track) in moov.trak.iter().zip(&tracks) {
        let tkhd = &trak.tkhd;
        assert_eq!(tkhd.track_id, track.id);
        assert!(tkhd.enabled && tkhd.in_movie && !tkhd.size_is_aspect_ratio);
        assert_eq!((tkhd.duration, tkhd.layer, tkhd.alternate_group), (0, 0, 0));
        assert_eq!(tkhd.matrix, mvhd.matrix);
        let mdia = &trak.mdia;
        assert_eq!(mdia.mdhd.timescale, track.timescale());
        assert_eq!((mdia.mdhd.duration, mdia.mdhd.language.as_str()), (0, "und"));
        let stbl = &mdia.minf.stbl;
        assert!(stbl.stts.entries.is_empty());
        assert!(stbl.stsc.entries.is_empty());
        assert_eq!(stbl.stco.as_ref().map(|s| s.entries.len()), Some(0));
        assert_eq!(stbl.stsz.samples, StszSamples::Different { sizes: vec![] });
        assert!(stbl.ctts.is_none() && stbl.stss.is_none() && stbl.co64.is_none());
        assert_eq!(mdia.minf.dinf.dref.entries.len(), 1);
        assert_eq!(stbl.stsd.codecs.len(), 1);
        match (&track.kind, &stbl.stsd.codecs[0]) {
            (TrackKind::Video(VideoConfig::Avc(v)), Codec::Avc1(avc1)) => {
                assert_eq!(mdia.hdlr.handler, FourCC::new(b"vide"));
                assert_eq!(mdia.hdlr.name, "RapidRTMP video");
                assert!(mdia.minf.vmhd.is_some() && mdia.minf.smhd.is_none());
                assert_eq!((tkhd.width.integer(), tkhd.height.integer(), tkhd.volume.integer()), (640, 360, 0));
                assert_eq!((avc1.visual.width, avc1.visual.height), (640, 360));
                assert_eq!(
                    (avc1.visual.data_reference_index, avc1.visual.frame_count, avc1.visual.depth),
                    (1, 1, 0x18)
                );
                assert_eq!(avc1.visual.horizresolution.integer(), 72);
                assert_eq!(avc1.visual.vertresolution.integer(), 72);
                let avcc = &avc1.avcc;
                assert_eq!(avcc.configuration_version, 1);
                assert_eq!(avcc.avc_profile_indication, v.record[1]);
                assert_eq!(avcc.profile_compatibility, v.record[2]);
                assert_eq!(avcc.avc_level_indication, v.record[3]);
                assert_eq!(avcc.length_size, 4);
                assert_eq!(avcc.sequence_parameter_sets.len(), 1);
                assert_eq!(avcc.picture_parameter_sets.len(), 1);
                let mut encoded = Vec::new();
                mp4_atom::Encode::encode(avcc, &mut encoded).expect("avcC encodes");
                assert_eq!(&encoded[8..], &v.record[..], "the avcC holds the record as sent");
                assert_eq!(avc1.pasp.is_some(), v.sps.sample_aspect_ratio.is_some_and(|(h, s)| h > 0 && s > 0));
            }
            (TrackKind::Audio(AudioConfig::Aac(a)), Codec::Mp4a(mp4a)) => {
                assert_eq!(mdia.hdlr.handler, FourCC::new(b"soun"));
                assert_eq!(mdia.hdlr.name, "RapidRTMP audio");
                assert!(mdia.minf.smhd.is_some() && mdia.minf.vmhd.is_none());
                assert_eq!((tkhd.width.integer(), tkhd.height.integer(), tkhd.volume.integer()), (0, 0, 1));
                assert_eq!(mp4a.audio.data_reference_index, 1);
                assert_eq!(mp4a.audio.channel_count, a.channels());
                assert_eq!(mp4a.audio.sample_size, 16);
                assert_eq!(u32::from(mp4a.audio.sample_rate.integer()), a.sample_rate);
                let es = &mp4a.esds.es_desc;
                assert_eq!(es.es_id, 0);
                let dc = &es.dec_config;
                assert_eq!((dc.object_type_indication, dc.stream_type, dc.up_stream), (0x40, 5, 0));
                assert_eq!((dc.max_bitrate, dc.avg_bitrate), (0, 0));
                let dsi = dc.dec_specific.as_ref().expect("DecoderSpecificInfo");
                assert_eq!((dsi.profile, dsi.freq_index, dsi.chan_conf), (2, 3, 2));
            }
            (kind, codec) => panic!("{kind:?} written as {codec:?}"),
        }
    }
    let mvex = moov.mvex.as_ref().expect("mvex");
    assert!(mvex.mehd.is_none());
    let trex: Vec<_> = mvex.trex.iter().map(|t| (t.track_id, t.default_sample_description_index)).collect();
    assert_eq!(trex, [(VIDEO_TRACK_ID, 1), (AUDIO_TRACK_ID, 1)]);
    assert!(mvex
        .trex
        .iter()
        .all(|t| (t.default_sample_duration, t.default_sample_size, t.default_sample_flags) == (0, 0, 0)));
}

#[test]
fn media_segment_decodes_field_by_field() {
    let (a, b, c, d) = (vec![1u8; 100], vec![2u8; 30], vec![3u8; 20], vec![4u8; 7]);
    let runs = [
        TrackRun {
            track_id: VIDEO_TRACK_ID,
            base_decode_time: 90_000 * 3600 * 24 * 60, // 60 days: tfdt version 1
            samples: vec![
                Sample { duration: 3000, composition_offset: 6000, flags: SAMPLE_FLAGS_SYNC, data: &a },
                Sample { duration: 3000, composition_offset: -3000, flags: SAMPLE_FLAGS_NON_SYNC, data: &b },
            ],
            roll_distance: None,
        },
        TrackRun {
            track_id: AUDIO_TRACK_ID,
            base_decode_time: 1024,
            samples: vec![
                Sample { duration: 1024, composition_offset: 0, flags: SAMPLE_FLAGS_SYNC, data: &c },
                Sample { duration: 1024, composition_offset: 0, flags: SAMPLE_FLAGS_SYNC, data: &d },
            ],
            roll_distance: None,
        },
    ];
    let mut out = Vec::new();
    write_segment(&mut out, 7, &runs).expect("segment");
    let boxes = decode_all(&out);
    let [Any::Styp(styp), Any::Moof(moof), Any::Mdat(mdat)] = &boxes[..] else { panic!("styp moof mdat: {boxes:?}") };
    assert_eq!(styp.major_brand, FourCC::new(b"msdh"));
    assert_eq!(styp.compatible_brands, brands(&[b"msdh", b"msix", b"cmfs"]));
    assert_eq!(moof.mfhd.sequence_number, 7);
    assert_eq!(moof.traf.len(), 2);
    let moof_len = out.len() - 8 - mdat.data.len() - styp_len(&out);
    let mut data_at = i32::try_from(moof_len).unwrap() + 8;
    for (traf, run) in moof.traf.iter().zip(&runs) {
        assert_eq!(traf.tfhd.track_id, run.track_id);
        assert!(traf.tfhd.default_base_is_moof && !traf.tfhd.duration_is_empty);
        assert_eq!(traf.tfhd.base_data_offset, None);
        assert_eq!(traf.tfdt.as_ref().map(|t| t.base_media_decode_time), Some(run.base_decode_time));
        assert_eq!(traf.trun.len(), 1);
        let trun = &traf.trun[0];
        assert_eq!(trun.data_offset, Some(data_at), "data_offset points at the run's first byte in mdat");
        let TrunSamples::Explicit(entries) = &trun.samples else { panic!("explicit samples") };
        assert_eq!(entries.len(), run.samples.len());
        for (e, s) in entries.iter().zip(&run.samples) {
            assert_eq!(e.duration, Some(s.duration));
            assert_eq!(e.size, Some(u32::try_from(s.data.len()).unwrap()));
            assert_eq!(e.flags, Some(s.flags));
            let cts = (run.track_id == VIDEO_TRACK_ID).then_some(i64::from(s.composition_offset));
            assert_eq!(e.cts, cts);
        }
        data_at += run.samples.iter().map(|s| i32::try_from(s.data.len()).unwrap()).sum::<i32>();
    }
    assert_eq!(mdat.data, [a, b, c, d].concat());
}

fn styp_len(bytes: &[u8]) -> usize {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
}

#[test]
fn a_segment_too_large_for_its_fields_is_an_error_not_a_wrapped_number() {
    let data = [0u8; 4];
    let run = TrackRun {
        track_id: 1,
        base_decode_time: 0,
        samples: vec![Sample { duration: 1, composition_offset: 0, flags: SAMPLE_FLAGS_SYNC, data: &data }],
        roll_distance: None,
    };
    let mut out = Vec::new();
    assert!(write_segment(&mut out, 1, &[run]).is_ok());
    let mut info = crate::chunk::ChunkInfo {
        session: 0,
        sequence: u64::from(u32::MAX),
        start: crate::timeline::Millis(0),
        duration_ms: 1000,
        offset_ms: 0,
        audio_anchor: None,
        independent: true,
    };
    let config =
        crate::media::StreamConfig { video: AvcConfig::parse(HIGH_360P).ok().map(VideoConfig::Avc), audio: None };
    let mut tags = Vec::new();
    crate::flv::Tag {
        kind: crate::flv::TagKind::Video,
        filtered: false,
        timestamp: 0,
        stream_id: 0,
        body: &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65],
        offset: 0,
    }
    .write(&mut tags);
    let build = |info: &crate::chunk::ChunkInfo| {
        let mut out = Vec::new();
        let mut w = crate::segment::Warnings::default();
        crate::segment::build_segment(&mut out, &config, info, crate::flv::TagReader::records(&tags), &mut w)
    };
    assert_eq!(
        build(&info),
        Err(crate::Error::TooLarge { field: "mfhd sequence_number", value: u64::from(u32::MAX) + 1 })
    );
    info.sequence = 0;
    // One frame lasting 14 hours: more ticks at 90 kHz than a trun duration holds.
    info.duration_ms = 14 * 3600 * 1000;
    assert!(matches!(build(&info), Err(crate::Error::TooLarge { field: "video sample duration", .. })));
}

/// The sample entry of each codec beyond H.264 and AAC decodes (strictly) with the record we
/// were given in its configuration box, and Opus starts after its pre-skip.
#[test]
fn init_segments_of_hevc_av1_vp9_and_opus_decode() {
    use crate::codec::{av1_vectors, hevc_vectors, opus_vectors, vp9_vectors};
    use crate::codec::{Av1Config, HevcConfig, OpusConfig, Vp9Config};
    let hevc = VideoConfig::Hevc(HevcConfig::parse(hevc_vectors::MAIN_360P).expect("hvcC"));
    let av1 = VideoConfig::Av1(Av1Config::parse(av1_vectors::SVT_10BIT_PQ).expect("av1C"));
    let vp9 = VideoConfig::Vp9(Vp9Config::parse(vp9_vectors::VP9_P0_VPCC).expect("vpcC"), Some((640, 360)));
    let opus = OpusConfig::parse(opus_vectors::OPUS_STEREO_HEAD).expect("OpusHead");
    for video in [hevc, av1, vp9] {
        let tracks = [
            Track { id: VIDEO_TRACK_ID, kind: TrackKind::Video(video.clone()) },
            Track { id: AUDIO_TRACK_ID, kind: TrackKind::Audio(AudioConfig::Opus(opus.clone())) },
        ];
        let mut out = Vec::new();
        write_init(&mut out, &tracks).expect("init");
        let boxes = decode_all(&out);
        let [Any::Ftyp(_), Any::Moov(moov)] = &boxes[..] else { panic!("ftyp + moov, not {boxes:?}") };
        let (v, a) = (&moov.trak[0], &moov.trak[1]);
        let size = video.size().expect("a size");
        assert_eq!((v.tkhd.width.integer() as u32, v.tkhd.height.integer() as u32), size);
        match (&video, &v.mdia.minf.stbl.stsd.codecs[0]) {
            (VideoConfig::Hevc(c), Codec::Hvc1(e)) => {
                let mut encoded = Vec::new();
                mp4_atom::Encode::encode(&e.hvcc, &mut encoded).expect("hvcC encodes");
                assert_eq!(&encoded[8..], &c.record[..], "the hvcC holds the record as sent");
                assert_eq!((u32::from(e.visual.width), u32::from(e.visual.height)), size);
            }
            (VideoConfig::Av1(c), Codec::Av01(e)) => {
                assert_eq!((e.av1c.seq_profile, e.av1c.seq_level_idx_0), (c.seq_profile, c.seq_level_idx_0));
                assert_eq!((u32::from(e.visual.width), u32::from(e.visual.height)), size);
            }
            (VideoConfig::Vp9(c, _), Codec::Vp09(e)) => {
                assert_eq!((e.vpcc.profile, e.vpcc.level, e.vpcc.bit_depth), (c.profile, c.level, c.bit_depth));
            }
            (config, entry) => panic!("{config:?} written as {entry:?}"),
        }
        let Codec::Opus(entry) = &a.mdia.minf.stbl.stsd.codecs[0] else { panic!("an Opus entry") };
        assert_eq!(a.mdia.mdhd.timescale, 48_000);
        assert_eq!((entry.dops.output_channel_count, entry.dops.pre_skip), (opus.channels, opus.pre_skip));
        assert_eq!(entry.dops.input_sample_rate, opus.input_sample_rate);
        let edit = a.edts.as_ref().and_then(|e| e.elst.as_ref()).expect("an edit list");
        assert_eq!(edit.entries.len(), 1);
        assert_eq!(edit.entries[0].media_time, Some(u64::from(opus.pre_skip)));
    }
}

/// An Opus track fragment says its pre-roll as a `roll` sample group of its own.
#[test]
fn opus_fragments_carry_their_roll_group() {
    let packets = [vec![0xFCu8, 1, 2], vec![0xFC, 3, 4]];
    let run = TrackRun {
        track_id: AUDIO_TRACK_ID,
        base_decode_time: 0,
        samples: packets
            .iter()
            .map(|p| Sample { duration: 960, composition_offset: 0, flags: SAMPLE_FLAGS_SYNC, data: p })
            .collect(),
        roll_distance: Some(-4),
    };
    let mut out = Vec::new();
    write_segment(&mut out, 1, &[run]).expect("segment");
    let boxes = decode_all(&out);
    let [Any::Styp(_), Any::Moof(moof), Any::Mdat(_)] = &boxes[..] else { panic!("styp moof mdat: {boxes:?}") };
    let traf = &moof.traf[0];
    assert_eq!((traf.sbgp.len(), traf.sgpd.len()), (1, 1), "{traf:?}");
    assert_eq!(traf.sbgp[0].grouping_type, FourCC::new(b"roll"));
    assert_eq!(traf.sgpd[0].grouping_type, FourCC::new(b"roll"));
}

#[test]
fn a_movie_has_full_sample_tables_edit_lists_and_64_bit_offsets_past_4_gib() {
    let tracks = tracks();
    let video = [
        MovieSample { duration: 3000, composition_offset: 6000, size: 100, sync: true },
        MovieSample { duration: 3000, composition_offset: -3000, size: 40, sync: false },
        MovieSample { duration: 3000, composition_offset: -3000, size: 40, sync: false },
        MovieSample { duration: 3000, composition_offset: 0, size: 50, sync: true },
    ];
    let audio = [MovieSample { duration: 1024, composition_offset: 0, size: 7, sync: true }; 5];
    let video_chunks = [MovieChunk { offset: 1000, samples: 2 }, MovieChunk { offset: (5 << 30) + 10, samples: 2 }];
    let audio_chunks = [MovieChunk { offset: 2000, samples: 3 }, MovieChunk { offset: 3000, samples: 2 }];
    let movie = [
        MovieTrack {
            track: tracks[0].clone(),
            edit: Edit { delay: 0, media_time: 4500, duration: 120 },
            samples: &video,
            chunks: &video_chunks,
        },
        MovieTrack {
            track: tracks[1].clone(),
            edit: Edit { delay: 20, media_time: 1500, duration: 100 },
            samples: &audio,
            chunks: &audio_chunks,
        },
    ];
    let mut out = Vec::new();
    write_movie(&mut out, &movie).expect("a movie");
    let boxes = decode_all(&out);
    let [Any::Ftyp(ftyp), Any::Moov(moov)] = &boxes[..] else { panic!("ftyp + moov, not {boxes:?}") };
    assert_eq!(ftyp.major_brand, FourCC::new(b"isom"));
    assert!(moov.mvex.is_none());
    assert_eq!(moov.mvhd.duration, 120);
    let [v, a] = &moov.trak[..] else { panic!("two tracks") };

    assert_eq!((v.tkhd.duration, v.mdia.mdhd.duration, v.mdia.mdhd.timescale), (120, 12000, VIDEO_TIMESCALE));
    let elst = v.edts.as_ref().and_then(|e| e.elst.as_ref()).expect("elst");
    let entries: Vec<_> = elst.entries.iter().map(|e| (e.segment_duration, e.media_time)).collect();
    assert_eq!(entries, [(120, Some(4500))]);
    let stbl = &v.mdia.minf.stbl;
    let stts: Vec<_> = stbl.stts.entries.iter().map(|e| (e.sample_count, e.sample_delta)).collect();
    assert_eq!(stts, [(4, 3000)]);
    let ctts: Vec<_> =
        stbl.ctts.as_ref().expect("ctts").entries.iter().map(|e| (e.sample_count, e.sample_offset)).collect();
    assert_eq!(ctts, [(1, 6000), (2, -3000), (1, 0)]);
    assert_eq!(stbl.stss.as_ref().expect("stss").entries, [1, 4]);
    let stsc: Vec<_> = stbl.stsc.entries.iter().map(|e| (e.first_chunk, e.samples_per_chunk)).collect();
    assert_eq!(stsc, [(1, 2)]);
    assert!(matches!(&stbl.stsz.samples, StszSamples::Different { sizes } if sizes == &[100, 40, 40, 50]));
    assert!(stbl.stco.is_none());
    assert_eq!(stbl.co64.as_ref().expect("co64").entries, [1000, (5 << 30) + 10]);

    assert_eq!(a.tkhd.duration, 120, "delay and media");
    let elst = a.edts.as_ref().and_then(|e| e.elst.as_ref()).expect("elst");
    let entries: Vec<_> = elst.entries.iter().map(|e| (e.segment_duration, e.media_time)).collect();
    assert_eq!(entries, [(20, None), (100, Some(1500))], "an empty edit, then the media");
    let stbl = &a.mdia.minf.stbl;
    assert!(stbl.ctts.is_none() && stbl.stss.is_none(), "no offsets, every sample sync");
    assert!(matches!(stbl.stsz.samples, StszSamples::Identical { count: 5, size: 7 }));
    let stsc: Vec<_> = stbl.stsc.entries.iter().map(|e| (e.first_chunk, e.samples_per_chunk)).collect();
    assert_eq!(stsc, [(1, 3), (2, 2)]);
    assert_eq!(stbl.stco.as_ref().expect("stco").entries, [2000, 3000]);
}
