//! Tests on MP4 bytes built with mp4-atom itself, plus damaged and random input.

use alloc::{string::String, vec, vec::Vec};

use mp4_atom::{
    Audio, Avc1, Avcc, Codec, Ctts, CttsEntry, Dinf, Dref, DrefEntry, Encode, Esds, Ftyp, Hdlr, Mdat, Mdhd, Mdia, Mfhd,
    Minf, Moof, Moov, Mp4a, Mvex, Mvhd, Smhd, Stbl, Stco, Stsc, StscEntry, Stsd, Stss, Stsz, StszSamples, Stts,
    SttsEntry, Styp, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url, Visual, Vmhd,
};

use super::*;
use mp4_atom::esds::{DecoderConfig, DecoderSpecific, EsDescriptor};

/// Sample flags of a sync sample (`sample_depends_on` = 2).
const SYNC: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample (`sample_depends_on` = 1, `is_non_sync`).
const NON_SYNC: u32 = 0x0101_0000;

fn encode(atom: &impl Encode) -> Vec<u8> {
    let mut out = Vec::new();
    atom.encode(&mut out).expect("encode");
    out
}

fn avcc() -> Avcc {
    Avcc {
        configuration_version: 1,
        avc_profile_indication: 0x64,
        profile_compatibility: 0x00,
        avc_level_indication: 0x1f,
        length_size: 4,
        sequence_parameter_sets: vec![vec![0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9]],
        picture_parameter_sets: vec![vec![0x68, 0xeb, 0xe3, 0xcb]],
        ext: None,
    }
}

fn esds() -> Esds {
    Esds {
        es_desc: EsDescriptor {
            es_id: 2,
            dec_config: DecoderConfig {
                object_type_indication: 0x40,
                stream_type: 5,
                max_bitrate: 128_000,
                avg_bitrate: 128_000,
                dec_specific: Some(DecoderSpecific { profile: 2, freq_index: 3, chan_conf: 2, raw: vec![0x11, 0x90] }),
                ..Default::default()
            },
            ..Default::default()
        },
    }
}

fn minf(video: bool, stbl: Stbl) -> Minf {
    Minf {
        vmhd: video.then(Vmhd::default),
        smhd: (!video).then(Smhd::default),
        dinf: Dinf { dref: Dref { entries: vec![DrefEntry::Url(Url::default())] } },
        stbl,
        ..Default::default()
    }
}

fn video_trak(stbl: Stbl) -> Trak {
    let stbl = Stbl {
        stsd: Stsd {
            codecs: vec![Codec::Avc1(Avc1 {
                visual: Visual { data_reference_index: 1, width: 1280, height: 720, ..Default::default() },
                avcc: avcc(),
                ..Default::default()
            })],
        },
        ..stbl
    };
    Trak {
        tkhd: Tkhd {
            track_id: 1,
            enabled: true,
            in_movie: true,
            width: 1280.into(),
            height: 720.into(),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd { timescale: 90_000, language: "und".into(), ..Default::default() },
            hdlr: Hdlr { handler: b"vide".into(), name: "Video".into() },
            minf: minf(true, stbl),
        },
        ..Default::default()
    }
}

fn audio_trak(stbl: Stbl) -> Trak {
    let stbl = Stbl {
        stsd: Stsd {
            codecs: vec![Codec::Mp4a(Mp4a {
                audio: Audio { data_reference_index: 1, channel_count: 2, sample_size: 16, sample_rate: 48_000.into() },
                esds: esds(),
                btrt: None,
                taic: None,
            })],
        },
        ..stbl
    };
    Trak {
        tkhd: Tkhd { track_id: 2, enabled: true, in_movie: true, ..Default::default() },
        mdia: Mdia {
            mdhd: Mdhd { timescale: 48_000, language: "und".into(), ..Default::default() },
            hdlr: Hdlr { handler: b"soun".into(), name: "Audio".into() },
            minf: minf(false, stbl),
        },
        ..Default::default()
    }
}

/// A CMAF-style init segment: ftyp + moov (avc1 track 1, mp4a track 2, mvex/trex).
fn init_segment() -> Vec<u8> {
    let ftyp =
        Ftyp { major_brand: b"iso6".into(), minor_version: 0, compatible_brands: vec![b"iso6".into(), b"cmfc".into()] };
    let moov = Moov {
        mvhd: Mvhd { timescale: 1000, next_track_id: 3, ..Default::default() },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![
                Trex {
                    track_id: 1,
                    default_sample_description_index: 1,
                    default_sample_duration: 3000,
                    default_sample_flags: NON_SYNC,
                    ..Default::default()
                },
                Trex {
                    track_id: 2,
                    default_sample_description_index: 1,
                    default_sample_duration: 1024,
                    ..Default::default()
                },
            ],
        }),
        trak: vec![video_trak(Stbl::default()), audio_trak(Stbl::default())],
        ..Default::default()
    };
    let mut out = encode(&ftyp);
    out.extend(encode(&moov));
    out
}

fn entry(duration: Option<u32>, size: u32, flags: Option<u32>, cts: Option<i64>) -> TrunEntry {
    TrunEntry { duration, size: Some(size), flags, cts }
}

/// A media segment: styp + moof (seq `sequence`, one traf per track, default-base-is-moof)
/// + mdat holding the video then the audio samples.
fn media_segment(sequence: u32, video_time: u64, audio_time: u64) -> Vec<u8> {
    let video = vec![
        entry(None, 100, Some(SYNC), Some(6000)),
        entry(None, 40, None, Some(0)),
        entry(None, 30, None, Some(3000)),
    ];
    let audio = vec![entry(None, 10, None, None), entry(None, 11, None, None)];
    let video_bytes: u32 = 100 + 40 + 30;
    let audio_bytes: u32 = 10 + 11;
    let moof = |video_offset: i32, audio_offset: i32| Moof {
        mfhd: Mfhd { sequence_number: sequence },
        traf: vec![
            Traf {
                tfhd: Tfhd { track_id: 1, default_base_is_moof: true, ..Default::default() },
                tfdt: Some(Tfdt { base_media_decode_time: video_time }),
                trun: vec![Trun { data_offset: Some(video_offset), samples: TrunSamples::Explicit(video.clone()) }],
                ..Default::default()
            },
            Traf {
                tfhd: Tfhd {
                    track_id: 2,
                    default_base_is_moof: true,
                    default_sample_flags: Some(SYNC),
                    ..Default::default()
                },
                tfdt: Some(Tfdt { base_media_decode_time: audio_time }),
                trun: vec![Trun { data_offset: Some(audio_offset), samples: TrunSamples::Explicit(audio.clone()) }],
                ..Default::default()
            },
        ],
    };
    let moof_size = i32::try_from(encode(&moof(0, 0)).len()).unwrap();
    let video_offset = moof_size + 8;
    let moof = encode(&moof(video_offset, video_offset + i32::try_from(video_bytes).unwrap()));
    let styp =
        Styp { major_brand: b"msdh".into(), minor_version: 0, compatible_brands: vec![b"msdh".into(), b"msix".into()] };
    let mdat = Mdat { data: (0..video_bytes + audio_bytes).map(|i| i.to_le_bytes()[0]).collect() };
    let mut out = encode(&styp);
    out.extend(moof);
    out.extend(encode(&mdat));
    out
}

/// An init segment followed by two media segments.
fn fragmented_file() -> Vec<u8> {
    let mut file = init_segment();
    file.extend(media_segment(1, 0, 0));
    file.extend(media_segment(2, 9000, 2048));
    file
}

fn kinds(nodes: &[BoxNode]) -> Vec<&str> {
    nodes.iter().map(|n| n.kind.as_str()).collect()
}

fn field<'a>(node: &'a BoxNode, name: &str) -> &'a FieldValue {
    node.fields.get(name).unwrap_or_else(|| panic!("{} has no field {name}: {:?}", node.kind, node.fields))
}

fn top<'a>(report: &'a Mp4Report, kind: &str) -> &'a BoxNode {
    report.boxes.iter().find(|b| b.kind == kind).expect(kind)
}

#[test]
fn box_tree_of_init_segment_has_offsets_sizes_and_fields() {
    let bytes = init_segment();
    let report = inspect_mp4(&bytes).expect("inspect");
    assert!(!report.fragmented);
    assert_eq!(kinds(&report.boxes), ["ftyp", "moov"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let ftyp = &report.boxes[0];
    assert_eq!((ftyp.offset, ftyp.size, ftyp.header_size), (0, 24, 8));
    assert_eq!(field(ftyp, "majorBrand"), &FieldValue::Text("iso6".into()));
    let moov = &report.boxes[1];
    assert_eq!(moov.offset, 24);
    assert_eq!(moov.offset + moov.size, bytes.len() as u64);
    assert_eq!(kinds(&moov.children), ["mvhd", "mvex", "trak", "trak"]);
    assert_eq!(field(&moov.children[0], "timescale"), &FieldValue::UInt(1000));

    let trak = &moov.children[2];
    assert_eq!(field(trak.child("tkhd").unwrap(), "trackId"), &FieldValue::UInt(1));
    assert_eq!(field(trak.child("tkhd").unwrap(), "width"), &FieldValue::Float(1280.0));
    let mdia = trak.child("mdia").unwrap();
    assert_eq!(field(mdia.child("mdhd").unwrap(), "timescale"), &FieldValue::UInt(90_000));
    assert_eq!(field(mdia.child("hdlr").unwrap(), "handlerType"), &FieldValue::Text("vide".into()));
    let stsd = trak.find(&["mdia", "minf", "stbl", "stsd"]).unwrap();
    assert_eq!(field(stsd, "entryCount"), &FieldValue::UInt(1));
    let avc1 = stsd.child("avc1").unwrap();
    assert_eq!(field(avc1, "width"), &FieldValue::UInt(1280));
    assert_eq!(field(avc1, "height"), &FieldValue::UInt(720));
    let avcc = avc1.child("avcC").unwrap();
    assert_eq!(field(avcc, "profile"), &FieldValue::UInt(0x64));
    assert_eq!(field(avcc, "level"), &FieldValue::UInt(0x1f));
    assert_eq!(field(avcc, "lengthSize"), &FieldValue::UInt(4));
    assert_eq!(field(avcc, "spsCount"), &FieldValue::UInt(1));
    assert_eq!(field(avcc, "ppsCount"), &FieldValue::UInt(1));
    // The child boxes tile their parent exactly.
    assert_eq!(avcc.offset, avc1.offset + 8 + 78);
    assert_eq!(avcc.offset + avcc.size, avc1.offset + avc1.size);

    let dref = trak.find(&["mdia", "minf", "dinf", "dref"]).unwrap();
    assert_eq!(kinds(&dref.children), ["url "]);

    let mp4a = moov.children[3].find(&["mdia", "minf", "stbl", "stsd", "mp4a"]).unwrap();
    assert_eq!(field(mp4a, "channelCount"), &FieldValue::UInt(2));
    assert_eq!(field(mp4a, "sampleRate"), &FieldValue::UInt(48_000));
    let esds = mp4a.child("esds").unwrap();
    assert_eq!(field(esds, "objectTypeIndication"), &FieldValue::UInt(0x40));
    assert_eq!(field(esds, "audioObjectType"), &FieldValue::UInt(2));
    assert_eq!(field(esds, "decoderSpecificInfo"), &FieldValue::Bytes(vec![0x11, 0x90]));

    let trex = moov.child("mvex").unwrap().child("trex").unwrap();
    assert_eq!(field(trex, "defaultSampleDuration"), &FieldValue::UInt(3000));
    assert_eq!(field(trex, "defaultSampleFlags"), &FieldValue::Hex(NON_SYNC));

    assert_eq!(report.tracks.len(), 2);
    let video = &report.tracks[0];
    assert_eq!(video.track_id, 1);
    assert_eq!(video.handler.as_deref(), Some("vide"));
    assert_eq!(video.timescale, Some(90_000));
    assert_eq!(video.codec.as_deref(), Some("avc1.64001f"));
    assert_eq!((video.width, video.height), (Some(1280), Some(720)));
    let audio = &report.tracks[1];
    assert_eq!(audio.codec.as_deref(), Some("mp4a.40.2"));
    assert_eq!((audio.channels, audio.sample_rate), (Some(2), Some(48_000)));
    assert!(report.samples.is_empty());
}

#[test]
fn fragment_samples_have_times_sizes_flags_and_offsets() {
    let bytes = fragmented_file();
    let report = inspect_mp4(&bytes).expect("inspect");
    assert!(report.fragmented);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(kinds(&report.boxes), ["ftyp", "moov", "styp", "moof", "mdat", "styp", "moof", "mdat"]);

    let moof = top(&report, "moof");
    assert_eq!(field(moof.child("mfhd").unwrap(), "sequenceNumber"), &FieldValue::UInt(1));
    let traf = moof.child("traf").unwrap();
    let tfhd = traf.child("tfhd").unwrap();
    assert_eq!(field(tfhd, "flags"), &FieldValue::Hex(0x02_0000));
    assert_eq!(field(tfhd, "defaultBaseIsMoof"), &FieldValue::Bool(true));
    assert_eq!(field(traf.child("tfdt").unwrap(), "baseMediaDecodeTime"), &FieldValue::UInt(0));
    let trun = traf.child("trun").unwrap();
    assert_eq!(field(trun, "sampleCount"), &FieldValue::UInt(3));
    let mdat = top(&report, "mdat");
    assert_eq!(field(mdat, "dataSize"), &FieldValue::UInt(170 + 21));
    let data_offset = mdat.offset + 8 - moof.offset;
    assert_eq!(field(trun, "dataOffset"), &FieldValue::Int(i64::try_from(data_offset).unwrap()));

    assert_eq!(report.samples.len(), 10);
    let video: Vec<_> = report.samples.iter().filter(|s| s.track_id == 1).collect();
    let audio: Vec<_> = report.samples.iter().filter(|s| s.track_id == 2).collect();
    assert_eq!(video.len(), 6);
    assert_eq!(audio.len(), 4);

    // Durations come from trex, the first sample's flags from the trun, the rest from trex.
    let first = video[0];
    assert_eq!(first.fragment, Some(1));
    assert_eq!(first.index, 0);
    assert_eq!((first.decode_time, first.presentation_time), (0, 6000));
    assert_eq!((first.duration, first.size), (3000, 100));
    assert_eq!(first.flags, Some(SYNC));
    assert!(first.keyframe);
    assert_eq!(first.offset, mdat.offset + 8);
    assert_eq!(
        &bytes[usize::try_from(first.offset).unwrap()..][..4],
        &[0, 1, 2, 3],
        "the offset points at the sample's bytes"
    );
    assert_eq!((video[1].decode_time, video[1].presentation_time), (3000, 3000));
    assert_eq!(video[1].flags, Some(NON_SYNC));
    assert!(!video[1].keyframe);
    assert_eq!(video[1].offset, first.offset + 100);
    assert_eq!(video[2].offset, first.offset + 140);
    // Second fragment: tfdt 9000, indices continue.
    assert_eq!(video[3].fragment, Some(2));
    assert_eq!((video[3].index, video[3].decode_time), (3, 9000));
    assert!(video[3].keyframe);

    // Audio follows the video in the mdat; flags from tfhd, durations from trex.
    assert_eq!(audio[0].offset, first.offset + 170);
    assert_eq!(audio[1].offset, first.offset + 180);
    assert_eq!((audio[1].decode_time, audio[1].duration), (1024, 1024));
    assert!(audio.iter().all(|s| s.keyframe && s.flags == Some(SYNC)));
    assert_eq!(audio[2].decode_time, 2048);

    assert_eq!(report.tracks[0].sample_count, 6);
    assert_eq!(report.tracks[1].sample_count, 4);
}

#[test]
fn implicit_base_and_missing_tfdt_continue_from_the_previous_data_and_time() {
    // One moof, two trafs of the same track, no default-base-is-moof, no tfdt, no
    // data_offset in the second: the second traf's data follows the first's.
    let traf = |size: u32| Traf {
        tfhd: Tfhd {
            track_id: 7,
            default_sample_duration: Some(10),
            default_sample_size: Some(size),
            ..Default::default()
        },
        trun: vec![Trun { data_offset: None, samples: TrunSamples::Inherited { count: 2, first_flags: Some(SYNC) } }],
        ..Default::default()
    };
    let mut moof = Moof { mfhd: Mfhd { sequence_number: 5 }, traf: vec![traf(3), traf(4)] };
    let moof_size = encode(&moof).len();
    // Point the first run at the mdat payload; that changes the moof size by 4 bytes.
    moof.traf[0].trun[0].data_offset = Some(i32::try_from(moof_size).unwrap() + 4 + 8);
    let mut bytes = encode(&moof);
    bytes.extend(encode(&Mdat { data: vec![0; 14] }));

    let report = inspect_mp4(&bytes).expect("inspect");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let payload = bytes.len() as u64 - 14;
    let got: Vec<_> = report.samples.iter().map(|s| (s.index, s.decode_time, s.size, s.offset, s.keyframe)).collect();
    assert_eq!(
        got,
        [
            (0, 0, 3, payload, true),
            (1, 10, 3, payload + 3, true),
            (2, 20, 4, payload + 6, true),
            (3, 30, 4, payload + 10, true),
        ]
    );
    // A lone fragment: the track is known only by its id.
    assert_eq!(report.tracks.len(), 1);
    assert_eq!(report.tracks[0].track_id, 7);
    assert_eq!(report.tracks[0].timescale, None);
}

#[test]
fn progressive_sample_tables_give_offsets_times_and_sync_samples() {
    // Five video samples in two chunks (3 + 2), B-frame style composition offsets, sync
    // samples 1 and 4.
    let stbl = |chunk_offsets: Vec<u32>| Stbl {
        stts: Stts { entries: vec![SttsEntry { sample_count: 5, sample_delta: 3000 }] },
        ctts: Some(Ctts {
            entries: vec![
                CttsEntry { sample_count: 1, sample_offset: 3000 },
                CttsEntry { sample_count: 1, sample_offset: 6000 },
                CttsEntry { sample_count: 3, sample_offset: 0 },
            ],
        }),
        stss: Some(Stss { entries: vec![1, 4] }),
        stsc: Stsc {
            entries: vec![
                StscEntry { first_chunk: 1, samples_per_chunk: 3, sample_description_index: 1 },
                StscEntry { first_chunk: 2, samples_per_chunk: 2, sample_description_index: 1 },
            ],
        },
        stsz: Stsz { samples: StszSamples::Different { sizes: vec![10, 20, 30, 40, 50] } },
        stco: Some(Stco { entries: chunk_offsets }),
        ..Default::default()
    };
    let moov = |chunk_offsets| Moov {
        mvhd: Mvhd::default(),
        trak: vec![video_trak(stbl(chunk_offsets))],
        ..Default::default()
    };
    let moov_size = u32::try_from(encode(&moov(vec![0, 0])).len()).unwrap();
    let payload = moov_size + 8;
    let mut bytes = encode(&moov(vec![payload, payload + 60 + 7]));
    bytes.extend(encode(&Mdat { data: vec![0; 60 + 7 + 90] }));

    let report = inspect_mp4(&bytes).expect("inspect");
    assert!(!report.fragmented);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let payload = u64::from(payload);
    let got: Vec<_> =
        report.samples.iter().map(|s| (s.offset, s.size, s.decode_time, s.presentation_time, s.keyframe)).collect();
    assert_eq!(
        got,
        [
            (payload, 10, 0, 3000, true),
            (payload + 10, 20, 3000, 9000, false),
            (payload + 30, 30, 6000, 6000, false),
            (payload + 67, 40, 9000, 9000, true),
            (payload + 107, 50, 12000, 12000, false),
        ]
    );
    assert!(report.samples.iter().all(|s| s.flags.is_none() && s.fragment.is_none()));
    assert_eq!(report.tracks[0].sample_count, 5);
    let stbl = report.boxes[0].find(&["trak", "mdia", "minf", "stbl"]).unwrap();
    assert_eq!(field(stbl.child("stsz").unwrap(), "sampleCount"), &FieldValue::UInt(5));
    assert_eq!(field(stbl.child("stts").unwrap(), "sampleCount"), &FieldValue::UInt(5));
}

#[test]
fn truncated_box_is_reported_and_ends_its_level() {
    let mut bytes = init_segment();
    let full = bytes.len();
    bytes.truncate(full - 100);
    let report = inspect_mp4(&bytes).expect("inspect");
    let moov = &report.boxes[1];
    assert_eq!(moov.size, (full - 24) as u64);
    let left = bytes.len() - 24;
    assert_eq!(
        moov.error.as_deref(),
        Some(alloc::format!("box claims {} bytes, only {left} left", full - 24).as_str())
    );
    assert!(moov.children.is_empty());
}

#[test]
fn child_larger_than_its_parent_is_reported() {
    // moov (16 bytes) holding a "free" box that claims 100 bytes.
    let mut bytes = Vec::new();
    bytes.extend(16u32.to_be_bytes());
    bytes.extend(b"moov");
    bytes.extend(100u32.to_be_bytes());
    bytes.extend(b"free");
    bytes.extend(encode(&Mdat { data: vec![1, 2] }));
    let report = inspect_mp4(&bytes).expect("inspect");
    assert_eq!(kinds(&report.boxes), ["moov", "mdat"]);
    let free = &report.boxes[0].children[0];
    assert_eq!(free.error.as_deref(), Some("box claims 100 bytes, only 8 left"));
}

#[test]
fn unknown_boxes_are_listed_without_fields_and_broken_ones_with_an_error() {
    let mut bytes = encode(&Ftyp { major_brand: b"isom".into(), minor_version: 0, compatible_brands: vec![] });
    // An unknown box.
    bytes.extend(12u32.to_be_bytes());
    bytes.extend(b"zzzz");
    bytes.extend([1, 2, 3, 4]);
    // A tkhd far too short to decode.
    bytes.extend(12u32.to_be_bytes());
    bytes.extend(b"tkhd");
    bytes.extend([0, 0, 0, 3]);
    let report = inspect_mp4(&bytes).expect("inspect");
    assert_eq!(kinds(&report.boxes), ["ftyp", "zzzz", "tkhd"]);
    let unknown = &report.boxes[1];
    assert!(unknown.fields.is_empty() && unknown.error.is_none());
    let tkhd = &report.boxes[2];
    assert!(tkhd.error.as_deref().unwrap().starts_with("cannot decode"));
    // The full-box header was still readable.
    assert_eq!(field(tkhd, "flags"), &FieldValue::Hex(3));
}

#[test]
fn largesize_uuid_and_size_zero_headers() {
    let mut bytes = encode(&Ftyp { major_brand: b"isom".into(), minor_version: 0, compatible_brands: vec![] });
    // free with a 64-bit size: 16 header + 4 body.
    bytes.extend(1u32.to_be_bytes());
    bytes.extend(b"free");
    bytes.extend(20u64.to_be_bytes());
    bytes.extend([0; 4]);
    // uuid box: 8 + 16 header + 2 body.
    bytes.extend(26u32.to_be_bytes());
    bytes.extend(b"uuid");
    bytes.extend([0xab; 16]);
    bytes.extend([0; 2]);
    // mdat extending to the end of the file.
    bytes.extend(0u32.to_be_bytes());
    bytes.extend(b"mdat");
    bytes.extend([9; 5]);
    let report = inspect_mp4(&bytes).expect("inspect");
    assert_eq!(kinds(&report.boxes), ["ftyp", "free", "uuid", "mdat"]);
    let free = &report.boxes[1];
    assert_eq!((free.size, free.header_size), (20, 16));
    let uuid = &report.boxes[2];
    assert_eq!((uuid.size, uuid.header_size), (26, 24));
    assert_eq!(field(uuid, "usertype"), &FieldValue::Bytes(vec![0xab; 16]));
    let mdat = &report.boxes[3];
    assert_eq!(mdat.size, 13);
    assert_eq!(field(mdat, "dataSize"), &FieldValue::UInt(5));
}

#[test]
fn nesting_is_capped_at_max_depth() {
    let levels = 40;
    let mut bytes = Vec::new();
    for i in 0..levels {
        bytes.extend(u32::try_from((levels - i) * 8).unwrap().to_be_bytes());
        bytes.extend(b"moov");
    }
    let report = inspect_mp4(&bytes).expect("inspect");
    let mut node = &report.boxes[0];
    let mut depth = 0;
    while let Some(child) = node.children.first() {
        node = child;
        depth += 1;
    }
    assert_eq!(depth, MAX_DEPTH - 1);
    assert!(node.error.as_deref().unwrap().contains("deeper than 16"));
}

#[test]
fn listed_samples_are_capped() {
    let count = u32::try_from(MAX_SAMPLES).unwrap() + 5;
    let moof = Moof {
        mfhd: Mfhd::default(),
        traf: vec![Traf {
            tfhd: Tfhd { track_id: 1, default_sample_duration: Some(1), ..Default::default() },
            trun: vec![Trun { data_offset: None, samples: TrunSamples::Inherited { count, first_flags: None } }],
            ..Default::default()
        }],
    };
    let report = inspect_mp4(&encode(&moof)).expect("inspect");
    assert_eq!(report.samples.len(), MAX_SAMPLES);
    assert!(report.samples_truncated);
    assert_eq!(report.tracks[0].sample_count, u64::from(count));
    assert!(report.warnings.iter().any(|w| w.contains("only the first")));
}

#[test]
fn non_mp4_input_is_refused() {
    assert_eq!(inspect_mp4(b"FLV"), Err(InspectError::TooShort { len: 3 }));
    let flv = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00";
    assert!(matches!(inspect_mp4(flv), Err(InspectError::NotMp4 { .. })));
    let tiny = b"\x00\x00\x00\x04moov";
    assert!(matches!(inspect_mp4(tiny), Err(InspectError::NotMp4 { .. })));
}

#[test]
fn json_uses_camel_case_and_type_keys() {
    let report = inspect_mp4(&fragmented_file()).expect("inspect");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(json["fragmented"], true);
    assert_eq!(json["samplesTruncated"], false);
    let ftyp = &json["boxes"][0];
    assert_eq!(ftyp["type"], "ftyp");
    assert_eq!(ftyp["headerSize"], 8);
    assert_eq!(ftyp["fields"]["majorBrand"], "iso6");
    assert_eq!(ftyp["fields"]["compatibleBrands"][1], "cmfc");
    assert!(ftyp["error"].is_null());
    assert_eq!(json["tracks"][0]["trackId"], 1);
    assert_eq!(json["tracks"][0]["codec"], "avc1.64001f");
    let sample = &json["samples"][0];
    assert_eq!(sample["decodeTime"], 0);
    assert_eq!(sample["presentationTime"], 6000);
    assert_eq!(sample["flags"], SYNC);
    assert_eq!(sample["keyframe"], true);
    fn find<'a>(node: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
        if node["type"] == kind {
            return Some(node);
        }
        let children = node["children"].as_array()?;
        children.iter().find_map(|c| find(c, kind))
    }
    let avcc = find(&json["boxes"][1], "avcC").expect("avcC");
    assert_eq!(avcc["fields"]["sps"][0], "6764001facd9");
    // Fields keep their order.
    let keys: Vec<&String> = ftyp["fields"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3);
}

#[test]
fn text_shows_tree_tracks_and_samples() {
    let text = inspect_mp4(&fragmented_file()).expect("inspect").to_text();
    assert!(text.starts_with("file: "), "{text}");
    assert!(text.contains("\n  moov @24 size "), "{text}");
    assert!(text.contains("avcC @"), "{text}");
    assert!(text.contains("profile=100"), "{text}");
    assert!(text.contains("track 1: vide avc1.64001f 1280x720"), "{text}");
    assert!(text.contains("track 2: soun mp4a.40.2 2 ch 48000 Hz"), "{text}");
    assert!(text.contains("samples (10 listed):"), "{text}");
    assert!(text.contains("0x02000000 K"), "{text}");
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_truncated_and_mutated_input_never_panics() {
    let file = fragmented_file();
    // Every prefix.
    for len in 0..file.len() {
        let _ = inspect_mp4(&file[..len]).map(|r| r.to_text());
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Random byte mutations of a valid file.
    for _ in 0..2000 {
        let mut bytes = file.clone();
        for _ in 0..1 + rng.next() % 8 {
            let at = usize::try_from(rng.next() % bytes.len() as u64).unwrap();
            bytes[at] = rng.next().to_le_bytes()[0];
        }
        let _ = inspect_mp4(&bytes).map(|r| (r.to_text(), r.to_json()));
    }
    // Plain random bytes, with a plausible first header half the time.
    for i in 0..2000 {
        let len = (rng.next() % 512) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next().to_le_bytes()[0]).collect();
        if i % 2 == 0 && len >= 8 {
            bytes[..8].copy_from_slice(b"\x00\x00\x00\x00moov");
        }
        let _ = inspect_mp4(&bytes).map(|r| r.to_text());
    }
}

// --- H.265, AV1, VP9 and Opus, as the packager writes them ---------------------------------------

mod codecs {
    use alloc::{format, string::String, string::ToString, vec, vec::Vec};

    use super::{field, kinds, Rng};
    use crate::cmaf::{write_init, write_segment, Sample, Track, TrackKind, TrackRun, SAMPLE_FLAGS_SYNC};
    use crate::codec::{av1_vectors, hevc_vectors, opus_vectors, vp9_vectors};
    use crate::codec::{Av1Config, HevcConfig, OpusConfig, Vp9Config};
    use crate::flv::{Tag, TagKind};
    use crate::inspect::{inspect, inspect_flv, inspect_mp4, BoxNode, FieldValue, Mp4Report, Report, TrackInfo};
    use crate::media::{AudioConfig, VideoConfig};

    fn uint(v: u64) -> FieldValue {
        FieldValue::UInt(v)
    }

    fn text(v: &str) -> FieldValue {
        FieldValue::Text(v.into())
    }

    fn texts(v: &[&str]) -> FieldValue {
        FieldValue::List(v.iter().map(|s| text(s)).collect())
    }

    /// Every box of type `kind` in the tree, in file order.
    fn all<'a>(nodes: &'a [BoxNode], kind: &str, out: &mut Vec<&'a BoxNode>) {
        for n in nodes {
            if n.kind == kind {
                out.push(n);
            }
            all(&n.children, kind, out);
        }
    }

    fn boxes<'a>(report: &'a Mp4Report, kind: &str) -> Vec<&'a BoxNode> {
        let mut out = Vec::new();
        all(&report.boxes, kind, &mut out);
        out
    }

    fn one<'a>(report: &'a Mp4Report, kind: &str) -> &'a BoxNode {
        let found = boxes(report, kind);
        assert_eq!(found.len(), 1, "one {kind}: {found:?}");
        found[0]
    }

    /// No box of the tree has an error, and the report no warning.
    fn clean(report: &Mp4Report) {
        fn errors(nodes: &[BoxNode], out: &mut Vec<String>) {
            for n in nodes {
                if let Some(e) = &n.error {
                    out.push(format!("{} @{}: {e}", n.kind, n.offset));
                }
                errors(&n.children, out);
            }
        }
        let mut e = Vec::new();
        errors(&report.boxes, &mut e);
        assert!(e.is_empty(), "box errors: {e:?}");
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    fn opus() -> OpusConfig {
        OpusConfig::parse(opus_vectors::OPUS_STEREO_HEAD).expect("OpusHead")
    }

    /// An init segment of `video` (track 1) and stereo Opus (track 2), by the packager's writer.
    fn init_of(video: VideoConfig) -> Vec<u8> {
        let tracks = [
            Track { id: 1, kind: TrackKind::Video(video) },
            Track { id: 2, kind: TrackKind::Audio(AudioConfig::Opus(opus())) },
        ];
        let mut out = Vec::new();
        write_init(&mut out, &tracks).expect("init");
        out
    }

    fn inspect_init(video: VideoConfig) -> Mp4Report {
        let report = inspect_mp4(&init_of(video)).expect("inspect");
        clean(&report);
        assert_eq!(kinds(&report.boxes), ["ftyp", "moov"]);
        assert_eq!(report.tracks.len(), 2);
        report
    }

    fn video_track(report: &Mp4Report, entry: &str, codec: &str, size: (u16, u16)) {
        let t = &report.tracks[0];
        assert_eq!((t.track_id, t.handler.as_deref(), t.timescale), (1, Some("vide"), Some(90_000)));
        assert_eq!(t.sample_entry.as_deref(), Some(entry));
        assert_eq!(t.codec.as_deref(), Some(codec));
        assert_eq!((t.width, t.height), (Some(size.0), Some(size.1)));
        opus_track(&report.tracks[1]);
    }

    fn opus_track(t: &TrackInfo) {
        assert_eq!((t.track_id, t.handler.as_deref()), (2, Some("soun")));
        assert_eq!(t.sample_entry.as_deref(), Some("Opus"));
        assert_eq!(t.codec.as_deref(), Some("opus"));
        assert_eq!(t.timescale, Some(48_000), "Opus runs at 48 kHz");
        assert_eq!((t.channels, t.sample_rate), (Some(2), Some(48_000)));
    }

    #[test]
    fn hvcc_fields_and_the_hevc_codec_string() {
        let config = HevcConfig::parse(hevc_vectors::MAIN_360P).expect("hvcC");
        let report = inspect_init(VideoConfig::Hevc(config));
        video_track(&report, "hvc1", "hvc1.1.6.L63.90", (640, 360));
        let hvc1 = one(&report, "hvc1");
        assert_eq!((field(hvc1, "width"), field(hvc1, "height")), (&uint(640), &uint(360)));
        let hvcc = hvc1.child("hvcC").expect("hvcC");
        let expect = [
            ("configurationVersion", uint(1)),
            ("generalProfileSpace", uint(0)),
            ("generalTierFlag", FieldValue::Bool(false)),
            ("generalProfileIdc", uint(1)),
            ("generalProfileCompatibilityFlags", FieldValue::Hex(0x6000_0000)),
            ("generalConstraintIndicatorFlags", FieldValue::Bytes(vec![0x90, 0, 0, 0, 0, 0])),
            ("generalLevelIdc", uint(63)),
            ("chromaFormatIdc", uint(1)),
            ("bitDepthLuma", uint(8)),
            ("bitDepthChroma", uint(8)),
            ("numTemporalLayers", uint(1)),
            ("temporalIdNested", FieldValue::Bool(true)),
            ("lengthSize", uint(4)),
            ("arrays", texts(&["VPS (32) x1 complete", "SPS (33) x1 complete", "PPS (34) x1 complete"])),
        ];
        for (name, value) in expect {
            assert_eq!(field(hvcc, name), &value, "hvcC {name}");
        }
        let FieldValue::List(sps) = field(hvcc, "sps") else { panic!("sps list") };
        let FieldValue::Bytes(sps) = &sps[0] else { panic!("sps bytes") };
        assert_eq!(&sps[..2], [0x42, 0x01], "an SPS NAL unit header");
        for name in ["vps", "pps"] {
            assert!(matches!(field(hvcc, name), FieldValue::List(l) if l.len() == 1), "{name}");
        }

        // Main 10 with an SEI array, and the same record under `hev1`.
        let main10 = HevcConfig::parse(hevc_vectors::MAIN10_1080P_PQ).expect("hvcC");
        let report = inspect_init(VideoConfig::Hevc(main10));
        video_track(&report, "hvc1", "hvc1.2.4.L120.90", (1920, 1080));
        let FieldValue::List(arrays) = field(one(&report, "hvcC"), "arrays") else { panic!("arrays") };
        assert!(arrays.iter().any(|a| a.to_string().starts_with("prefix SEI (39) x")), "{arrays:?}");
        assert_eq!(field(one(&report, "hvcC"), "bitDepthLuma"), &uint(10));

        let config = HevcConfig::parse(hevc_vectors::MAIN_360P).expect("hvcC");
        let mut bytes = init_of(VideoConfig::Hevc(config));
        let at = bytes.windows(4).position(|w| w == b"hvc1").expect("hvc1");
        bytes[at..at + 4].copy_from_slice(b"hev1");
        let report = inspect_mp4(&bytes).expect("inspect");
        assert_eq!(report.tracks[0].codec.as_deref(), Some("hev1.1.6.L63.90"));
    }

    #[test]
    fn av1c_fields_and_the_av1_codec_string() {
        let config = Av1Config::parse(av1_vectors::SVT_10BIT_PQ).expect("av1C");
        let report = inspect_init(VideoConfig::Av1(config));
        video_track(&report, "av01", "av01.0.01M.10.0.110.09.16.09.0", (640, 360));
        let av1c = one(&report, "av1C");
        let expect = [
            ("seqProfile", uint(0)),
            ("seqLevelIdx0", uint(1)),
            ("seqTier0", FieldValue::Bool(false)),
            ("highBitdepth", FieldValue::Bool(true)),
            ("twelveBit", FieldValue::Bool(false)),
            ("bitDepth", uint(10)),
            ("monochrome", FieldValue::Bool(false)),
            ("chromaSubsamplingX", FieldValue::Bool(true)),
            ("chromaSubsamplingY", FieldValue::Bool(true)),
            ("chromaSamplePosition", uint(0)),
            ("configObusLength", uint(av1_vectors::SVT_10BIT_PQ.len() as u64 - 4)),
            ("configObus", FieldValue::Bytes(av1_vectors::SVT_10BIT_PQ[4..].to_vec())),
        ];
        for (name, value) in expect {
            assert_eq!(field(av1c, name), &value, "av1C {name}");
        }
        assert!(av1c.fields.get("initialPresentationDelay").is_none());

        // Monochrome, and the High profile's 4:4:4.
        let mono = inspect_init(VideoConfig::Av1(Av1Config::parse(av1_vectors::AOM_MONO).expect("av1C")));
        video_track(&mono, "av01", "av01.0.00M.08.1.110.01.01.01.1", (320, 240));
        assert_eq!(field(one(&mono, "av1C"), "monochrome"), &FieldValue::Bool(true));
        let high = inspect_init(VideoConfig::Av1(Av1Config::parse(av1_vectors::AOM_444).expect("av1C")));
        video_track(&high, "av01", "av01.1.00M.08.0.000.01.01.01.0", (320, 240));
        assert_eq!(field(one(&high, "av1C"), "chromaSubsamplingX"), &FieldValue::Bool(false));
    }

    #[test]
    fn vpcc_fields_and_the_vp9_codec_string() {
        let config = Vp9Config::parse(vp9_vectors::VP9_P0_VPCC).expect("vpcC");
        let report = inspect_init(VideoConfig::Vp9(config, Some((640, 360))));
        video_track(&report, "vp09", "vp09.00.21.08.01.02.02.02.00", (640, 360));
        let vpcc = one(&report, "vpcC");
        let expect = [
            ("version", uint(1)),
            ("flags", FieldValue::Hex(0)),
            ("profile", uint(0)),
            ("level", uint(21)),
            ("bitDepth", uint(8)),
            ("chromaSubsampling", uint(1)),
            ("fullRange", FieldValue::Bool(false)),
            ("colourPrimaries", uint(2)),
            ("transferCharacteristics", uint(2)),
            ("matrixCoefficients", uint(2)),
            ("codecInitializationDataSize", uint(0)),
        ];
        for (name, value) in expect {
            assert_eq!(field(vpcc, name), &value, "vpcC {name}");
        }

        // Profile 2 HDR, full range: the codec string's optional part.
        let hdr = Vp9Config::parse(vp9_vectors::VP9_HDR_VPCC).expect("vpcC");
        let report = inspect_init(VideoConfig::Vp9(hdr, Some((640, 360))));
        video_track(&report, "vp09", "vp09.02.21.10.01.09.16.09.01", (640, 360));
        let vpcc = one(&report, "vpcC");
        assert_eq!((field(vpcc, "bitDepth"), field(vpcc, "fullRange")), (&uint(10), &FieldValue::Bool(true)));
        assert_eq!(field(vpcc, "transferCharacteristics"), &uint(16));
    }

    #[test]
    fn dops_and_the_pre_skip_edit_of_opus() {
        let config = HevcConfig::parse(hevc_vectors::MAIN_360P).expect("hvcC");
        let report = inspect_init(VideoConfig::Hevc(config));
        let opus_entry = one(&report, "Opus");
        assert_eq!(field(opus_entry, "channelCount"), &uint(2));
        assert_eq!(field(opus_entry, "sampleRate"), &uint(48_000));
        let dops = opus_entry.child("dOps").expect("dOps");
        let expect = [
            ("outputChannelCount", uint(2)),
            ("preSkip", uint(312)),
            ("inputSampleRate", uint(48_000)),
            ("outputGain", FieldValue::Int(0)),
            ("channelMappingFamily", uint(0)),
        ];
        for (name, value) in expect {
            assert_eq!(field(dops, name), &value, "dOps {name}");
        }
        assert!(dops.fields.get("streamCount").is_none(), "family 0 has no mapping table");
        // The edit starts the presentation after the pre-skip; only the Opus track has one.
        let elst = one(&report, "elst");
        assert_eq!(field(elst, "entryCount"), &uint(1));
        assert_eq!(field(elst, "entries"), &texts(&["duration 0 mediaTime 312 rate 1"]));
        let trak = &report.boxes[1].children_of("trak").nth(1).expect("trak 2");
        assert_eq!(kinds(&trak.children), ["tkhd", "edts", "mdia"]);

        // 5.1: channel mapping family 1 and its table.
        let surround = OpusConfig::parse(opus_vectors::OPUS_51_HEAD).expect("OpusHead");
        let tracks = [Track { id: 2, kind: TrackKind::Audio(AudioConfig::Opus(surround)) }];
        let mut bytes = Vec::new();
        write_init(&mut bytes, &tracks).expect("init");
        let report = inspect_mp4(&bytes).expect("inspect");
        clean(&report);
        let t = &report.tracks[0];
        assert_eq!((t.codec.as_deref(), t.channels, t.timescale), (Some("opus"), Some(6), Some(48_000)));
        let dops = one(&report, "dOps");
        assert_eq!(field(dops, "channelMappingFamily"), &uint(1));
        assert_eq!((field(dops, "streamCount"), field(dops, "coupledCount")), (&uint(4), &uint(2)));
        let mapping = FieldValue::List([0, 4, 1, 2, 3, 5].into_iter().map(uint).collect());
        assert_eq!(field(dops, "channelMapping"), &mapping);
    }

    #[test]
    fn opus_fragments_show_their_roll_group() {
        let packets = [opus_vectors::OPUS_SILENCE_PACKET; 3];
        let run = TrackRun {
            track_id: 2,
            base_decode_time: 960,
            samples: packets
                .iter()
                .map(|p| Sample { duration: 960, composition_offset: 0, flags: SAMPLE_FLAGS_SYNC, data: p })
                .collect(),
            roll_distance: Some(-4),
        };
        let config = HevcConfig::parse(hevc_vectors::MAIN_360P).expect("hvcC");
        let mut bytes = init_of(VideoConfig::Hevc(config));
        write_segment(&mut bytes, 1, &[run]).expect("segment");
        let report = inspect_mp4(&bytes).expect("inspect");
        clean(&report);
        let traf = one(&report, "traf");
        assert_eq!(kinds(&traf.children), ["tfhd", "tfdt", "trun", "sbgp", "sgpd"]);
        let sbgp = traf.child("sbgp").expect("sbgp");
        assert_eq!(field(sbgp, "groupingType"), &text("roll"));
        assert_eq!((field(sbgp, "entryCount"), field(sbgp, "sampleCount")), (&uint(1), &uint(3)));
        assert_eq!(field(sbgp, "entries"), &texts(&["sampleCount 3 groupDescriptionIndex 65537 (fragment-local 1)"]));
        let sgpd = traf.child("sgpd").expect("sgpd");
        assert_eq!((field(sgpd, "version"), field(sgpd, "groupingType")), (&uint(1), &text("roll")));
        assert_eq!((field(sgpd, "defaultLength"), field(sgpd, "entryCount")), (&uint(2), &uint(1)));
        assert_eq!(field(sgpd, "entries"), &texts(&["rollDistance -4"]));
        let samples: Vec<_> = report.samples.iter().map(|s| (s.track_id, s.decode_time, s.duration)).collect();
        assert_eq!(samples, [(2, 960, 960), (2, 1920, 960), (2, 2880, 960)]);
        assert_eq!(report.tracks[1].sample_count, 3);
    }

    /// A box of type `kind` around `body`.
    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(body.len() + 8).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn sgpd(body: &[u8]) -> BoxNode {
        let report = inspect_mp4(&boxed(b"sgpd", body)).expect("inspect");
        report.boxes[0].clone()
    }

    #[test]
    fn sgpd_of_every_version_and_damaged_ones() {
        // Version 0 `roll`: the entry size is the grouping type's.
        let b = sgpd(b"\x00\x00\x00\x00roll\x00\x00\x00\x02\xff\xfe\x00\x03");
        assert_eq!(b.error, None);
        assert_eq!(field(&b, "entries"), &texts(&["rollDistance -2", "rollDistance 3"]));
        assert!(b.fields.get("defaultLength").is_none());
        // Version 1 with per-entry lengths (default_length 0), another grouping type.
        let b =
            sgpd(b"\x01\x00\x00\x00abcd\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01\x07\x00\x00\x00\x02\x08\x09");
        assert_eq!(b.error, None);
        let entries = FieldValue::List(vec![FieldValue::Bytes(vec![7]), FieldValue::Bytes(vec![8, 9])]);
        assert_eq!((field(&b, "groupingType"), field(&b, "entries")), (&text("abcd"), &entries));
        // Version 2: a default group description index.
        let b = sgpd(b"\x02\x00\x00\x00prol\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x01\x00\x05");
        assert_eq!(field(&b, "defaultGroupDescriptionIndex"), &uint(1));
        assert_eq!(field(&b, "entries"), &texts(&["rollDistance 5"]));
        // Version 0 of an unknown type: the entries are not split.
        let b = sgpd(b"\x00\x00\x00\x00abcd\x00\x00\x00\x02\x01\x02\x03");
        assert_eq!(field(&b, "entries"), &FieldValue::List(vec![FieldValue::Bytes(vec![1, 2, 3])]));
        // A count far past the bytes, zero-length entries: listed up to the cap, no hang.
        let b = sgpd(b"\x01\x00\x00\x00abcd\x00\x00\x00\x00\xff\xff\xff\xff");
        assert!(b.error.as_deref().is_some_and(|e| e.contains("description_length")), "{b:?}");
        assert_eq!(field(&b, "entryCount"), &uint(u64::from(u32::MAX)));
        let b = sgpd(b"\x01\x00\x00\x00abcd\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(field(&b, "entries"), &FieldValue::List(vec![FieldValue::Bytes(vec![]); 2]));
        // A truncated entry keeps the ones before it.
        let b = sgpd(b"\x01\x00\x00\x00roll\x00\x00\x00\x02\x00\x00\x00\x02\xff\xfc\xff");
        assert!(b.error.as_deref().is_some_and(|e| e.contains("entry 1")), "{b:?}");
        assert_eq!(field(&b, "entries"), &texts(&["rollDistance -4"]));
        // Unknown version, short header.
        assert!(sgpd(b"\x04\x00\x00\x00roll\x00\x00\x00\x00").error.is_some());
        assert!(sgpd(b"\x01\x00\x00\x00ro").error.is_some());
    }

    // --- FLV with Enhanced RTMP tags ------------------------------------------------------------

    /// An FLV file of `tags` (kind, timestamp, body).
    fn flv(tags: &[(TagKind, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        for (kind, timestamp, body) in tags {
            Tag { kind: *kind, filtered: false, timestamp: *timestamp, stream_id: 0, body, offset: 0 }.write(&mut out);
        }
        out
    }

    /// An Enhanced RTMP body: the first byte, the FourCC, then `rest`.
    fn enhanced(first: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
        [&[first][..], fourcc, rest].concat()
    }

    #[test]
    fn enhanced_flv_tags_show_codec_details() {
        use TagKind::{Audio, Video};
        let tags = vec![
            (Video, 0, enhanced(0x90, b"hvc1", hevc_vectors::MAIN_360P)),
            (Video, 0, enhanced(0x91, b"hvc1", &[&[0, 0, 0x21][..], hevc_vectors::IDR_SAMPLE].concat())),
            (Video, 33, enhanced(0xA3, b"hvc1", hevc_vectors::TRAIL_SAMPLE)),
            // ffmpeg 8 and later send an empty av1C first, then the real one.
            (Video, 40, enhanced(0x90, b"av01", &[])),
            (Video, 40, enhanced(0x90, b"av01", &[0x81, 0, 0, 0])),
            (Video, 40, enhanced(0x90, b"av01", av1_vectors::SVT_10BIT_PQ)),
            (Video, 40, enhanced(0x93, b"av01", av1_vectors::AOM_TINY_TU0)),
            (Video, 50, enhanced(0x90, b"vp09", vp9_vectors::VP9_P0_VPCC)),
            (Video, 50, enhanced(0x91, b"vp09", vp9_vectors::VP9_TINY_KEY)),
            (Video, 60, enhanced(0xA1, b"vp09", vp9_vectors::VP9_TINY_INTER)),
            (Audio, 0, enhanced(0x90, b"Opus", opus_vectors::OPUS_STEREO_HEAD)),
            (Audio, 0, enhanced(0x91, b"Opus", opus_vectors::OPUS_SILENCE_PACKET)),
            (Audio, 20, enhanced(0x90, b"Opus", opus_vectors::OPUS_51_HEAD)),
            (Audio, 20, enhanced(0x90, b"Opus", b"OpusHeaX")),
            // HEVC under the legacy H.264 codec id, as OBS before 29.1 sent it.
            (Video, 70, [&[0x17, 0, 0, 0, 0][..], hevc_vectors::MAIN_360P].concat()),
        ];
        let report = inspect_flv(&flv(&tags)).expect("flv");
        assert_eq!(report.error, None);
        let got: Vec<_> = report
            .tags
            .iter()
            .map(|t| {
                (
                    t.keyframe,
                    t.codec.as_deref().unwrap_or(""),
                    t.packet_type.unwrap_or(""),
                    t.enhanced,
                    t.detail.as_deref(),
                )
            })
            .collect();
        let (k, i) = (Some(true), Some(false));
        let expect = [
            (k, "h265", "sequence-start", true, Some("hvc1.1.6.L63.90 640x360 30.000 fps")),
            (k, "h265", "coded-frames", true, None),
            (i, "h265", "coded-frames-x", true, None),
            (k, "av1", "sequence-start", true, Some("invalid: AV1CodecConfigurationRecord is truncated")),
            (
                k,
                "av1",
                "sequence-start",
                true,
                Some("invalid: av1C holds no sequence header OBU (one is required to describe the stream)"),
            ),
            (k, "av1", "sequence-start", true, Some("av01.0.01M.10.0.110.09.16.09.0 640x360")),
            (k, "av1", "coded-frames-x", true, None),
            (k, "vp9", "sequence-start", true, Some("vp09.00.21.08.01.02.02.02.00")),
            (k, "vp9", "coded-frames", true, Some("64x64")),
            (i, "vp9", "coded-frames", true, None),
            (None, "opus", "sequence-start", true, Some("opus 48000 Hz 2 ch pre-skip 312")),
            (None, "opus", "coded-frames", true, None),
            (None, "opus", "sequence-start", true, Some("opus 48000 Hz 6 ch pre-skip 312 mapping family 1")),
            (None, "opus", "sequence-start", true, Some("invalid: OpusHead is truncated")),
            (
                k,
                "h264",
                "sequence-start",
                false,
                Some("hvc1.1.6.L63.90 640x360 30.000 fps (H.265 under the H.264 codec id)"),
            ),
        ];
        assert_eq!(got, expect);
        assert_eq!(report.tags[1].composition_time, Some(33));

        let text = report.to_text();
        assert!(text.contains("K    h265   sequence-start         hvc1.1.6.L63.90 640x360 30.000 fps"), "{text}");
        assert!(text.contains("opus   sequence-start         opus 48000 Hz 2 ch pre-skip 312"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&Report::Flv(report).to_json()).expect("json");
        assert_eq!(json["format"], "flv");
        assert_eq!(json["tags"][7]["detail"], "vp09.00.21.08.01.02.02.02.00");
    }

    /// Two seconds of `fourcc` video at 10 fps (keyframes at 0 and 1 s) and Opus every 20 ms, as
    /// Enhanced RTMP tags.
    fn stream(fourcc: &[u8; 4], record: &[u8], key: &[u8], inter: &[u8]) -> Vec<u8> {
        use TagKind::{Audio, Video};
        let mut tags = vec![
            (Video, 0, enhanced(0x90, fourcc, record)),
            (Audio, 0, enhanced(0x90, b"Opus", opus_vectors::OPUS_STEREO_HEAD)),
        ];
        for ms in (0..2000).step_by(20) {
            if ms % 100 == 0 {
                let (first, frame) = if ms % 1000 == 0 { (0x93, key) } else { (0xA3, inter) };
                tags.push((Video, ms, enhanced(first, fourcc, frame)));
            }
            tags.push((Audio, ms, enhanced(0x91, b"Opus", opus_vectors::OPUS_SILENCE_PACKET)));
        }
        flv(&tags)
    }

    /// A stream of each new video codec with Opus, and what its video track should be.
    struct Stream {
        flv: Vec<u8>,
        entry: &'static str,
        codec: &'static str,
        size: (u16, u16),
    }

    fn streams() -> [Stream; 3] {
        [
            Stream {
                flv: stream(b"hvc1", hevc_vectors::MAIN_360P, hevc_vectors::IDR_SAMPLE, hevc_vectors::TRAIL_SAMPLE),
                entry: "hvc1",
                codec: "hvc1.1.6.L63.90",
                size: (640, 360),
            },
            Stream {
                flv: stream(b"av01", av1_vectors::AOM_TINY, av1_vectors::AOM_TINY_TU0, av1_vectors::AOM_TINY_TU2),
                entry: "av01",
                codec: "av01.0.00M.08",
                size: (64, 64),
            },
            Stream {
                // VP9's size comes from its first keyframe.
                flv: stream(
                    b"vp09",
                    vp9_vectors::VP9_TINY_VPCC,
                    vp9_vectors::VP9_TINY_KEY,
                    vp9_vectors::VP9_TINY_INTER,
                ),
                entry: "vp09",
                codec: "vp09.00.10.08.01.02.02.02.00",
                size: (64, 64),
            },
        ]
    }

    /// What the packager makes of each stream, inspected: the tracks, their codecs and sizes, a
    /// `roll` group in every Opus `traf`, and every sample.
    #[test]
    fn packaged_enhanced_streams_inspect_with_their_codecs() {
        for Stream { flv, entry, codec, size } in streams() {
            let tags = inspect_flv(&flv).expect("flv");
            assert!(tags.tags.iter().all(|t| t.codec.is_some()), "every frame names its codec");
            let (mp4, packaged) = crate::package::package_fmp4(&flv, 1000).expect("package");
            assert!(packaged.warnings.list.is_empty(), "{entry}: {:?}", packaged.warnings);
            assert_eq!(packaged.segments, 2, "{entry}");
            let Ok(Report::Mp4(report)) = inspect(&mp4) else { panic!("{entry}: an MP4 report") };
            clean(&report);
            video_track(&report, entry, codec, size);
            assert_eq!(report.tracks[0].sample_count, 20, "{entry}");
            assert_eq!(report.tracks[1].sample_count, 100, "{entry}");
            let keys: Vec<_> =
                report.samples.iter().filter(|s| s.track_id == 1 && s.keyframe).map(|s| s.decode_time).collect();
            assert_eq!(keys, [0, 90_000], "{entry}: keyframes at 0 and 1 s");
            let opus: Vec<_> = report.samples.iter().filter(|s| s.track_id == 2).collect();
            assert!(opus.iter().all(|s| s.duration == 960 && s.size == 3), "{entry}: 20 ms Opus packets");
            assert_eq!(opus[50].decode_time, 48_000, "{entry}");
            let trafs = boxes(&report, "traf");
            let audio: Vec<_> =
                trafs.iter().filter(|t| t.child("tfhd").is_some_and(|h| field(h, "trackId") == &uint(2))).collect();
            assert_eq!(audio.len(), 2, "{entry}");
            for traf in audio {
                assert_eq!(field(traf.child("sbgp").expect("sbgp"), "sampleCount"), &uint(50));
                assert_eq!(field(traf.child("sgpd").expect("sgpd"), "entries"), &texts(&["rollDistance -4"]));
            }
            assert_eq!(boxes(&report, "sgpd").len(), 2, "{entry}: no roll group for video");
            let text = report.to_text();
            let line = format!("track 1: vide {codec} {}x{}", size.0, size.1);
            assert!(text.contains(&line), "{text}");
            assert!(text.contains("track 2: soun opus 2 ch 48000 Hz, timescale 48000"), "{text}");
        }
    }

    /// Prefixes and byte mutations of the enhanced FLVs and of what the packager makes of them
    /// (half the mutations inside the init segment, where the codec boxes are).
    #[test]
    fn new_codec_files_damaged_never_panic() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for Stream { flv, .. } in streams() {
            let (mp4, _) = crate::package::package_fmp4(&flv, 1000).expect("package");
            let init_len = mp4.windows(4).position(|w| w == b"styp").expect("a media segment") - 4;
            for (file, head) in [(&flv[..400.min(flv.len())], 400), (&mp4[..], init_len)] {
                for len in (0..file.len()).step_by(7) {
                    let _ = inspect(&file[..len]).map(|r| (r.to_text(), r.to_json()));
                }
                for i in 0..200 {
                    let mut bytes = file.to_vec();
                    let span = if i % 2 == 0 { head.min(bytes.len()) } else { bytes.len() };
                    for _ in 0..1 + rng.next() % 8 {
                        let at = usize::try_from(rng.next() % span as u64).unwrap();
                        bytes[at] = rng.next().to_le_bytes()[0];
                    }
                    let _ = inspect(&bytes).map(|r| (r.to_text(), r.to_json()));
                }
            }
        }
    }
}
