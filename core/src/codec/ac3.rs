//! AC-3 and E-AC-3 configuration from a syncframe: AC-3 `syncinfo` and `bsi` (ATSC A/52 §5.3.1,
//! §5.3.2), E-AC-3 `syncinfo` and `bsi` (A/52 Annex E §E.1.2.1, §E.1.2.2), and the ISOBMFF
//! `AC3SpecificBox` (`dac3`) and `EC3SpecificBox` (`dec3`) of ETSI TS 102 366 Annex F (§F.4,
//! §F.6). In FLV neither has a configuration record (Enhanced RTMP `ac-3` / `ec-3` send an empty
//! SequenceStart), so the configuration is read from the first coded frame.

use alloc::{string::String, vec::Vec};

use super::{bits::BitReader, CodecError};

/// Sampling rates in Hz by `fscod` 0..=2 (A/52 §5.4.1.3); 3 is reserved in AC-3 and in E-AC-3
/// selects `fscod2`, whose rates are half these (Annex E §E.1.3.1).
const RATES: [u32; 3] = [48000, 44100, 32000];

/// AC-3 nominal bit rates in kbit/s by `frmsizecod / 2` (A/52 Table 5.18), which is `dac3`'s
/// `bit_rate_code` (TS 102 366 §F.4).
const BIT_RATES: [u32; 19] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];

/// Audio blocks (of 256 samples) per E-AC-3 syncframe by `numblkscod` (Annex E §E.1.3.1).
const BLOCKS: [u32; 4] = [1, 2, 3, 6];

// Channel locations as bits of the E-AC-3 `chanmap` (TS 102 366 Table E.1.4, whose bit 0 is the
// most significant): L, C, R, Ls, Rs, …, Cs (bit 7), …, LFE (bit 15).
const L: u16 = 1 << 15;
const C: u16 = 1 << 14;
const R: u16 = 1 << 13;
const LS: u16 = 1 << 12;
const RS: u16 = 1 << 11;
const CS: u16 = 1 << 8;
const LFE: u16 = 1;
/// The `chanmap` locations that are channel pairs: Lc/Rc, Lrs/Rrs, Lsd/Rsd, Lw/Rw, Lvh/Rvh, Lts/Rts.
const PAIRS: u16 = (1 << 10) | (1 << 9) | (1 << 6) | (1 << 5) | (1 << 4) | (1 << 2);

/// Most dependent substreams per independent substream (their `substreamid` is 3 bits; Annex E
/// §E.1.3.1).
const MAX_DEPENDENT: u8 = 8;

/// AC-3 or E-AC-3, which decides the sample entry (`ac-3` / `ec-3`) and its box (`dac3` / `dec3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ac3Kind {
    /// AC-3 (A/52 body): one syncframe of six blocks per frame, `bsid` ≤ 8.
    Ac3,
    /// E-AC-3 (A/52 Annex E): `bsid` 11..=16, or an AC-3 syncframe followed by E-AC-3 dependent
    /// substreams (TS 102 366 §E.2.8).
    Eac3,
}

/// An AC-3 or E-AC-3 configuration: the first independent substream of a frame, and the dependent
/// substreams that follow it in the same frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ac3Config {
    /// AC-3 or E-AC-3.
    pub kind: Ac3Kind,
    /// Sampling rate in Hz (E-AC-3 reduced rates from `fscod2` included).
    pub sample_rate: u32,
    /// Output channels, LFE included: the channels of `acmod` (Table 5.8; 1+1 dual mono is two)
    /// and `lfeon`, and those the dependent substreams add (`chanmap`, TS 102 366 Table E.1.4).
    pub channels: u16,
    /// Samples per channel in the frame's first syncframe: 1536 for AC-3, 256 × blocks (1, 2, 3 or
    /// 6) for E-AC-3. An ISOBMFF E-AC-3 sample holds six blocks, so shorter syncframes are the
    /// packager's to join (as ffmpeg's MP4 muxer does).
    pub samples_per_frame: u32,
    /// `fscod` (3 for an E-AC-3 reduced rate).
    pub fscod: u8,
    /// `bsid`: ≤ 8 for AC-3, 11..=16 for E-AC-3.
    pub bsid: u8,
    /// `bsmod` (A/52 Table 5.7): AC-3 always has it; E-AC-3 only with `infomdate`, else 0.
    pub bsmod: u8,
    /// `acmod` (A/52 Table 5.8).
    pub acmod: u8,
    /// `lfeon`.
    pub lfeon: bool,
    /// `frmsizecod / 2` of an AC-3 syncframe (`dac3` `bit_rate_code`); 0 for E-AC-3.
    pub bit_rate_code: u8,
    /// `dec3` `data_rate` in kbit/s (TS 102 366 §F.6.2: the whole stream's, its maximum if
    /// variable): for AC-3 the nominal rate of `bit_rate_code`; for E-AC-3 the sum over the
    /// frame's substreams of `(frmsiz + 1) × 16` bits per `256 × blocks` samples, rounded to the
    /// nearest kbit/s (at 44.1 kHz frames alternate between two sizes a word, 0.46 kbit/s, apart,
    /// and rounding recovers the nominal rate); at most 8191.
    pub data_rate: u16,
    /// `num_dep_sub`: dependent substreams (0..=8) after the first independent one.
    pub num_dep_sub: u8,
    /// `chan_loc` (TS 102 366 §F.6.2, Table F.6.1): the locations the dependent substreams'
    /// `chanmap` adds, bit 0 (the least significant) Lc/Rc, then Lrs/Rrs, Cs, Ts, Lsd/Rsd, Lw/Rw,
    /// Lvh/Rvh, Cvh and LFE2 (bit 8); Lts/Rts has none. A dependent substream without `chanmap`
    /// replaces channels of its `acmod` and adds no location.
    pub chan_loc: u16,
    /// `complexity_index_type_a` of E-AC-3 with Dolby Atmos (JOC): present when the first
    /// `addbsi` byte sets `flag_ec3_extension_type_a` (its last bit); `dec3` then carries it.
    pub complexity_index_type_a: Option<u8>,
}

/// What one syncframe's `syncinfo` and `bsi` say.
struct Syncframe {
    /// `strmtyp`: 0 independent, 1 dependent, 2 independent converted from AC-3; 0 for AC-3.
    strmtyp: u8,
    substreamid: u8,
    /// Bytes in the syncframe.
    len: usize,
    fscod: u8,
    sample_rate: u32,
    blocks: u32,
    bsid: u8,
    bsmod: u8,
    acmod: u8,
    lfeon: bool,
    /// AC-3 `frmsizecod / 2`.
    bit_rate_code: Option<u8>,
    /// The bit rate in bit/s, times 1536 (an integer for every block count).
    rate_x1536: u64,
    chanmap: Option<u16>,
    complexity_index_type_a: Option<u8>,
}

/// The channel locations of `acmod` and `lfeon`, as `chanmap` bits; the single surround of 2/1 and
/// 3/1 is Cs, the two channels of 1+1 count as L and R.
fn acmod_locations(acmod: u8, lfeon: bool) -> u16 {
    let main = match acmod {
        0 | 2 => L | R,
        1 => C,
        3 => L | C | R,
        4 => L | R | CS,
        5 => L | C | R | CS,
        6 => L | R | LS | RS,
        _ => L | C | R | LS | RS,
    };
    main | if lfeon { LFE } else { 0 }
}

/// Channels at `locations`, pairs counting two.
fn channel_count(locations: u16) -> u16 {
    // Two counts of the bits of a u16: at most 32.
    u16::try_from(locations.count_ones() + (locations & PAIRS).count_ones()).unwrap_or(u16::MAX)
}

/// `chan_loc` bits (Table F.6.1, from the least significant) from a `chanmap` (Table E.1.4, from
/// the most significant): Lc/Rc (`chanmap` bit 5) … Cvh (bit 12) to bits 0..=7, LFE2 (bit 14) to 8.
fn chan_loc(chanmap: u16) -> u16 {
    let front = (0..8).filter(|k| chanmap & (1 << (10 - k)) != 0).fold(0, |loc, k| loc | 1 << k);
    front | if chanmap & 0x0002 != 0 { 1 << 8 } else { 0 }
}

/// Reads one syncframe's header at the start of `buf`, which may stop before the syncframe does.
fn syncframe(buf: &[u8]) -> Result<Syncframe, CodecError> {
    let head: [u8; 6] = buf.get(..6).and_then(|h| h.try_into().ok()).ok_or(CodecError::Truncated("AC-3 syncframe"))?;
    let [s0, s1, _, _, _, b5] = head;
    if [s0, s1] != [0x0B, 0x77] {
        return Err(CodecError::Invalid { what: "AC-3 syncword", value: u16::from_be_bytes([s0, s1]).into() });
    }
    // bsid is at bit 40 in both syntaxes (A/52 §5.3.2, Annex E §E.1.2.2).
    match b5 >> 3 {
        0..=8 => ac3_syncframe(buf),
        9 | 10 => Err(CodecError::Unsupported(
            "AC-3 with bsid 9 or 10 (half and quarter sampling rates) has no ISOBMFF binding",
        )),
        11..=16 => eac3_syncframe(buf, head),
        bsid => Err(CodecError::Invalid { what: "AC-3 bsid", value: bsid.into() }),
    }
}

/// AC-3 `syncinfo` and `bsi` up to `lfeon` (A/52 §5.3.1, §5.3.2).
fn ac3_syncframe(buf: &[u8]) -> Result<Syncframe, CodecError> {
    let mut r = BitReader::new(buf, "AC-3 syncframe");
    r.skip(32)?; // syncword, crc1
    let fscod = r.u8(2)?;
    let sample_rate =
        *RATES.get(usize::from(fscod)).ok_or(CodecError::Invalid { what: "AC-3 fscod", value: fscod.into() })?;
    let frmsizecod = r.u8(6)?;
    let kbps = *BIT_RATES
        .get(usize::from(frmsizecod / 2))
        .ok_or(CodecError::Invalid { what: "AC-3 frmsizecod", value: frmsizecod.into() })?;
    let bsid = r.u8(5)?;
    let bsmod = r.u8(3)?;
    let acmod = r.u8(3)?;
    if acmod & 1 == 1 && acmod != 1 {
        r.skip(2)?; // cmixlev
    }
    if acmod & 4 == 4 {
        r.skip(2)?; // surmixlev
    }
    if acmod == 2 {
        r.skip(2)?; // dsurmod
    }
    let lfeon = r.bit()?;
    // Table 5.18: 16-bit words = kbit/s × 1536 / 16 / kHz, one more at 44.1 kHz for odd codes.
    let words = kbps * 96000 / sample_rate + u32::from(fscod == 1 && frmsizecod & 1 == 1);
    Ok(Syncframe {
        strmtyp: 0,
        substreamid: 0,
        len: words as usize * 2,
        fscod,
        sample_rate,
        blocks: 6,
        bsid,
        bsmod,
        acmod,
        lfeon,
        bit_rate_code: Some(frmsizecod / 2),
        rate_x1536: u64::from(kbps) * 1000 * 1536,
        chanmap: None,
        complexity_index_type_a: None,
    })
}

/// E-AC-3 `syncinfo` and the whole `bsi` (Annex E §E.1.2.1, §E.1.2.2), read within the syncframe.
fn eac3_syncframe(buf: &[u8], head: [u8; 6]) -> Result<Syncframe, CodecError> {
    let [_, _, b2, b3, _, _] = head;
    let frmsiz = (usize::from(b2 & 0x07) << 8) | usize::from(b3);
    let len = (frmsiz + 1) * 2;
    let mut r = BitReader::new(buf.get(..len).unwrap_or(buf), "E-AC-3 syncframe");
    r.skip(16)?; // syncword
    let strmtyp = r.u8(2)?;
    if strmtyp == 3 {
        return Err(CodecError::Invalid { what: "E-AC-3 strmtyp", value: 3 });
    }
    let substreamid = r.u8(3)?;
    r.skip(11)?; // frmsiz
    let fscod = r.u8(2)?;
    let (sample_rate, numblkscod) = match RATES.get(usize::from(fscod)) {
        Some(&rate) => (rate, r.bits(2)?),
        None => {
            let fscod2 = r.bits(2)?;
            let rate =
                RATES.get(fscod2 as usize).ok_or(CodecError::Invalid { what: "E-AC-3 fscod2", value: fscod2 })?;
            (rate / 2, 3)
        }
    };
    let blocks = BLOCKS.get(numblkscod as usize).copied().unwrap_or(6);
    let acmod = r.u8(3)?;
    let lfeon = r.bit()?;
    let bsid = r.u8(5)?;
    let programs = if acmod == 0 { 2 } else { 1 }; // 1+1: two of dialnorm, compr, pgmscl, …
    for _ in 0..programs {
        r.skip(5)?; // dialnorm
        if r.bit()? {
            r.skip(8)?; // compr
        }
    }
    let chanmap = if strmtyp == 1 && r.bit()? { Some(r.u16(16)?) } else { None };
    if r.bit()? {
        // mixmdate
        if acmod > 2 {
            r.skip(2)?; // dmixmod
        }
        if acmod & 1 == 1 && acmod > 2 {
            r.skip(6)?; // ltrtcmixlev, lorocmixlev
        }
        if acmod & 4 == 4 {
            r.skip(6)?; // ltrtsurmixlev, lorosurmixlev
        }
        if lfeon && r.bit()? {
            r.skip(5)?; // lfemixlevcod
        }
        if strmtyp == 0 {
            for _ in 0..programs {
                if r.bit()? {
                    r.skip(6)?; // pgmscl
                }
            }
            if r.bit()? {
                r.skip(6)?; // extpgmscl
            }
            match r.bits(2)? {
                1 => r.skip(5)?, // premixcmpsel, drcsrc, premixcmpscl
                2 => r.skip(12)?,
                3 => {
                    let mixdeflen = r.bits(5)? as usize;
                    r.skip(8 * (mixdeflen + 2))?;
                }
                _ => {}
            }
            if acmod < 2 {
                for _ in 0..programs {
                    if r.bit()? {
                        r.skip(14)?; // panmean, paninfo
                    }
                }
            }
            if r.bit()? {
                // frmmixcfginfoe
                if numblkscod == 0 {
                    r.skip(5)?;
                } else {
                    for _ in 0..blocks {
                        if r.bit()? {
                            r.skip(5)?; // blkmixcfginfo
                        }
                    }
                }
            }
        }
    }
    let mut bsmod = 0;
    if r.bit()? {
        // infomdate
        bsmod = r.u8(3)?;
        r.skip(2)?; // copyrightb, origbs
        if acmod == 2 {
            r.skip(4)?; // dsurmod, dheadphonmod
        }
        if acmod >= 6 {
            r.skip(2)?; // dsurexmod
        }
        for _ in 0..programs {
            if r.bit()? {
                r.skip(8)?; // mixlevel, roomtyp, adconvtyp
            }
        }
        if fscod < 3 {
            r.skip(1)?; // sourcefscod
        }
    }
    if strmtyp == 0 && numblkscod != 3 {
        r.skip(1)?; // convsync
    }
    if strmtyp == 2 && (numblkscod == 3 || r.bit()?) {
        r.skip(6)?; // blkid set: frmsizecod
    }
    let mut complexity_index_type_a = None;
    if r.bit()? {
        // addbsie: addbsil + 1 bytes, the first ending in flag_ec3_extension_type_a.
        let addbsil = r.bits(6)?;
        if r.bits(8)? & 1 == 1 && addbsil >= 1 {
            complexity_index_type_a = Some(r.u8(8)?);
        }
    }
    Ok(Syncframe {
        strmtyp,
        substreamid,
        len,
        fscod,
        sample_rate,
        blocks,
        bsid,
        bsmod,
        acmod,
        lfeon,
        bit_rate_code: None,
        rate_x1536: len as u64 * 8 * u64::from(sample_rate) * u64::from(6 / blocks),
        chanmap,
        complexity_index_type_a,
    })
}

impl Ac3Config {
    /// Parses the frame's first syncframe, which must be independent with `substreamid` 0, and then
    /// any dependent substreams after it in `frame` (a frame may stop after the first header).
    /// Parsing ends at the next independent substream 0 (the next frame); another independent
    /// substream (a second program) is [`CodecError::Unsupported`], as in ffmpeg's MP4 muxer.
    pub fn parse(frame: &[u8]) -> Result<Self, CodecError> {
        let first = syncframe(frame)?;
        if first.strmtyp == 1 {
            return Err(CodecError::Invalid { what: "E-AC-3 first strmtyp", value: 1 });
        }
        if first.substreamid != 0 {
            return Err(CodecError::Invalid { what: "E-AC-3 first substreamid", value: first.substreamid.into() });
        }
        let mut kind = if first.bsid <= 8 { Ac3Kind::Ac3 } else { Ac3Kind::Eac3 };
        let mut locations = acmod_locations(first.acmod, first.lfeon);
        let mut rate_x1536 = first.rate_x1536;
        let (mut num_dep_sub, mut loc) = (0, 0);
        let mut rest = frame.get(first.len..).unwrap_or_default();
        while !rest.is_empty() {
            let next = syncframe(rest)?;
            if next.strmtyp != 1 {
                if next.substreamid == 0 {
                    break;
                }
                return Err(CodecError::Unsupported("E-AC-3 with more than one independent substream"));
            }
            num_dep_sub += 1;
            if num_dep_sub > MAX_DEPENDENT {
                return Err(CodecError::Invalid { what: "E-AC-3 dependent substreams", value: num_dep_sub.into() });
            }
            kind = Ac3Kind::Eac3;
            match next.chanmap {
                Some(map) => {
                    locations |= map;
                    loc |= chan_loc(map);
                }
                None => locations |= acmod_locations(next.acmod, next.lfeon),
            }
            rate_x1536 += next.rate_x1536;
            rest = rest.get(next.len..).unwrap_or_default();
        }
        let data_rate = u16::try_from(((rate_x1536 + 768_000) / 1_536_000).min(8191)).unwrap_or(8191);
        Ok(Self {
            kind,
            sample_rate: first.sample_rate,
            channels: channel_count(locations),
            samples_per_frame: 256 * first.blocks,
            fscod: first.fscod,
            bsid: first.bsid,
            bsmod: first.bsmod,
            acmod: first.acmod,
            lfeon: first.lfeon,
            bit_rate_code: first.bit_rate_code.unwrap_or(0),
            data_rate,
            num_dep_sub,
            chan_loc: loc,
            complexity_index_type_a: first.complexity_index_type_a,
        })
    }

    /// The `dac3` payload (TS 102 366 §F.4): `fscod` (2), `bsid` (5), `bsmod` (3), `acmod` (3),
    /// `lfeon` (1), `bit_rate_code` (5), reserved (5) = 3 bytes. The box header is the caller's.
    pub fn write_dac3(&self, out: &mut Vec<u8>) {
        let v = u32::from(self.fscod & 0x03) << 22
            | u32::from(self.bsid & 0x1F) << 17
            | u32::from(self.bsmod & 0x07) << 14
            | u32::from(self.acmod & 0x07) << 11
            | u32::from(self.lfeon) << 10
            | u32::from(self.bit_rate_code & 0x1F) << 5;
        let [_, a, b, c] = v.to_be_bytes();
        out.extend_from_slice(&[a, b, c]);
    }

    /// The `dec3` payload (TS 102 366 §F.6.1) for one independent substream: `data_rate` (13),
    /// `num_ind_sub` (3) = 0, then `fscod` (2), `bsid` (5), reserved (1), `asvc` (1) = 0, `bsmod`
    /// (3), `acmod` (3), `lfeon` (1), reserved (3), `num_dep_sub` (4) and `chan_loc` (9) or, with no
    /// dependent substreams, reserved (1); with Dolby Atmos then reserved (7),
    /// `flag_ec3_extension_type_a` (1) = 1 and `complexity_index_type_a` (8). 5 to 8 bytes; the box
    /// header is the caller's.
    pub fn write_dec3(&self, out: &mut Vec<u8>) {
        let mut bits = 0u64;
        let mut n = 0;
        let mut put = |v: u64, width: u32| {
            bits = bits << width | (v & ((1 << width) - 1));
            n += width;
        };
        put(self.data_rate.into(), 13);
        put(0, 3); // num_ind_sub: one independent substream
        put(self.fscod.into(), 2);
        put(self.bsid.into(), 5);
        put(0, 1); // reserved
        put(0, 1); // asvc: a main service
        put(self.bsmod.into(), 3);
        put(self.acmod.into(), 3);
        put(self.lfeon.into(), 1);
        put(0, 3); // reserved
        put(self.num_dep_sub.into(), 4);
        if self.num_dep_sub > 0 {
            put(self.chan_loc.into(), 9);
        } else {
            put(0, 1); // reserved
        }
        if let Some(complexity) = self.complexity_index_type_a {
            put(1, 8); // reserved (7), flag_ec3_extension_type_a
            put(complexity.into(), 8);
        }
        // 40, 48, 56 or 64 bits.
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(bytes.get(8 - n as usize / 8..).unwrap_or_default());
    }

    /// The codecs string: the sample entry's four-character code, `ac-3` or `ec-3` (RFC 6381 §3.3
    /// for codecs outside MPEG-4; MP4RA), as ffmpeg's HLS muxer writes it.
    pub fn codec_string(&self) -> String {
        match self.kind {
            Ac3Kind::Ac3 => "ac-3".into(),
            Ac3Kind::Eac3 => "ec-3".into(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Made with ffmpeg 9.0.2 (`-f lavfi -i sine=sample_rate=R [-ac C | -af aformat=channel_layouts=L]
    // -c:a ac3|eac3 [options] -f flv`): the first coded-frames tag body (`0x91` `ac-3` / `ec-3`)
    // after the FourCC, its first 40 bytes (the headers are in the first 12) unless whole.
    // `*_DAC3` / `*_DEC3` are the box payloads ffmpeg's MP4 muxer wrote from that FLV (`-c copy`).
    /// ffmpeg `ac3`, 48 kHz stereo (its default 192 kbit/s): 2/0.
    pub(crate) const AC3_48K_STEREO: &[u8] = &[
        0x0B, 0x77, 0xFE, 0x95, 0x14, 0x40, 0x43, 0xE1, 0x06, 0xF4, 0x63, 0x70, 0xC0, 0xC0, 0xC2, 0x18, 0x18, 0x18,
        0x7F, 0xF7, 0xAE, 0xFD, 0xF3, 0xE7, 0xCF, 0x9F, 0x38, 0xEF, 0x70, 0xDF, 0xBE, 0x86, 0xF9, 0xF4, 0x37, 0xCF,
        0x87, 0x1D, 0xF3, 0xE7,
    ];
    /// `ac3 -ac 6`, 48 kHz 5.1 (448 kbit/s): 3/2 and LFE.
    pub(crate) const AC3_48K_5_1: &[u8] = &[
        0x0B, 0x77, 0xB5, 0x0B, 0x1E, 0x40, 0xEB, 0xF8, 0x40, 0x3E, 0xFF, 0x99, 0xFF, 0x08, 0x41, 0xFC, 0x3F, 0x87,
        0xF0, 0xDD, 0x5C, 0x3E, 0x86, 0xFB, 0xFE, 0x75, 0x7C, 0xF9, 0xF3, 0xE7, 0xCF, 0x9F, 0x3E, 0x7C, 0xF9, 0xF3,
        0xE7, 0xCF, 0x9F, 0x3E,
    ];
    /// `ac3`, 44.1 kHz mono (96 kbit/s): 1/0.
    pub(crate) const AC3_44K_MONO: &[u8] = &[
        0x0B, 0x77, 0x78, 0x62, 0x4C, 0x40, 0x2F, 0x84, 0x2B, 0xE1, 0x87, 0x7B, 0x87, 0x5D, 0xFB, 0xE7, 0xD5, 0xDF,
        0x3E, 0x7E, 0xF9, 0xF3, 0xE7, 0xCF, 0xA1, 0x57, 0x7C, 0xF8, 0xCB, 0xFB, 0x21, 0x03, 0x01, 0x3D, 0x7A, 0xF6,
        0x50, 0x7C, 0x04, 0x6B,
    ];
    /// `ac3`, 32 kHz stereo (192 kbit/s; asked for 24 kHz, which ffmpeg resamples to 32).
    pub(crate) const AC3_32K_STEREO: &[u8] = &[
        0x0B, 0x77, 0x7F, 0xFF, 0x94, 0x40, 0x43, 0xE1, 0x06, 0xBF, 0xBE, 0x79, 0x07, 0x7B, 0x43, 0x86, 0xFD, 0xF3,
        0xE8, 0x6F, 0x9F, 0x3E, 0x7D, 0x5D, 0xF3, 0xE7, 0xCF, 0xA1, 0xC3, 0x87, 0x10, 0x87, 0xC7, 0xAF, 0x57, 0xF9,
        0xF3, 0xAB, 0xE7, 0xCF,
    ];
    /// `ac3`, `channel_layouts=3.0` (320 kbit/s): 3/0.
    pub(crate) const AC3_48K_3_0: &[u8] = &[
        0x0B, 0x77, 0x51, 0x5A, 0x1A, 0x40, 0x6B, 0xE1, 0x03, 0xBF, 0x99, 0xFF, 0x08, 0x41, 0xFC, 0x37, 0x61, 0xF4,
        0x37, 0xDF, 0xF3, 0xAB, 0xE7, 0xCF, 0x9F, 0x3E, 0x7C, 0xF9, 0xF3, 0xE7, 0xCF, 0x9F, 0x3E, 0x7C, 0xF9, 0xF3,
        0xE7, 0xCF, 0x9F, 0x3E,
    ];
    /// `ac3`, `channel_layouts=3.0(back)` (320 kbit/s): 2/1, the surround as Cs.
    pub(crate) const AC3_48K_2_1: &[u8] = &[
        0x0B, 0x77, 0xC1, 0xD1, 0x1A, 0x40, 0x8B, 0xE1, 0x03, 0xBF, 0x99, 0xC3, 0x08, 0x61, 0xFC, 0x3F, 0x61, 0xF3,
        0xE7, 0xCE, 0x3B, 0xDC, 0x37, 0xEF, 0xA1, 0xBE, 0x7D, 0x0D, 0xF3, 0xE7, 0xCF, 0xDF, 0x3E, 0x1C, 0x77, 0xB8,
        0x6F, 0xDF, 0x43, 0x7C,
    ];
    /// `ac3`, `channel_layouts=4.0` (384 kbit/s): 3/1.
    pub(crate) const AC3_48K_3_1: &[u8] = &[
        0x0B, 0x77, 0xEF, 0x1A, 0x1C, 0x40, 0xAA, 0xF8, 0x40, 0x7B, 0xFB, 0xC7, 0xFC, 0x3C, 0x21, 0x01, 0x07, 0xF0,
        0xF0, 0xFE, 0x1E, 0x1B, 0xAC, 0x3E, 0x7D, 0x0D, 0xF7, 0xFC, 0xEA, 0xF9, 0xF3, 0xE7, 0xCF, 0x9F, 0x3E, 0x7C,
        0xF9, 0xF3, 0xE7, 0xCF,
    ];
    /// `ac3`, `channel_layouts=quad` (384 kbit/s): 2/2.
    pub(crate) const AC3_48K_2_2: &[u8] = &[
        0x0B, 0x77, 0x1D, 0x1E, 0x1C, 0x40, 0xCB, 0xE1, 0x01, 0xEF, 0xEF, 0x1C, 0x30, 0x30, 0x86, 0x06, 0x1F, 0xC3,
        0xC3, 0xF8, 0x78, 0x7E, 0xB0, 0xF9, 0xF3, 0xE7, 0xCE, 0x3B, 0xDC, 0x37, 0xEF, 0xA1, 0xBE, 0x7D, 0x0D, 0xF3,
        0xE7, 0xCF, 0xDF, 0x0E,
    ];
    /// `ac3`, 32 kHz `channel_layouts=5.0` (448 kbit/s): 3/2 without LFE.
    pub(crate) const AC3_32K_3_2: &[u8] = &[
        0x0B, 0x77, 0x89, 0x9F, 0x9E, 0x40, 0xEA, 0xF8, 0x40, 0x3E, 0x9D, 0x5F, 0x3C, 0xF3, 0xCF, 0x3F, 0xE7, 0x57,
        0xCF, 0x9F, 0x3E, 0x7C, 0xF9, 0xF3, 0xE7, 0xCF, 0x9F, 0x3E, 0x7C, 0xF9, 0xF3, 0xE7, 0xCF, 0x9F, 0x3E, 0x7C,
        0xF9, 0xF3, 0xE7, 0xCF,
    ];
    /// `ac3 -b:a 640k -audio_service_type ef`, `channel_layouts=2.1`: 2/0 and LFE, bsmod 1 (music
    /// and effects).
    pub(crate) const AC3_48K_2_0_LFE_ME: &[u8] = &[
        0x0B, 0x77, 0x2D, 0x4A, 0x24, 0x41, 0x47, 0xE1, 0x06, 0xBF, 0xBC, 0x30, 0x71, 0xDE, 0xE1, 0xBF, 0x7D, 0x0D,
        0xF3, 0xE8, 0x6F, 0x9F, 0x3E, 0x7E, 0xF9, 0xF3, 0xE7, 0xCF, 0x87, 0x78, 0x9F, 0xAC, 0x3F, 0x9F, 0x38, 0x3E,
        0x7C, 0xF9, 0xF3, 0xE7,
    ];
    /// `ac3 -b:a 32k -audio_service_type vo`, 48 kHz mono: bsmod 7 with 1/0 (voice over). The
    /// whole 128-byte frame.
    pub(crate) const AC3_48K_MONO_VO: &[u8] = &[
        0x0B, 0x77, 0xDA, 0x13, 0x00, 0x47, 0x2F, 0x84, 0x2B, 0x01, 0xC7, 0x7A, 0xAF, 0x5E, 0x1B, 0xE3, 0x2F, 0xE8,
        0x44, 0x1A, 0x79, 0xFB, 0xE2, 0xB3, 0xF5, 0xF8, 0x6C, 0xFC, 0x7C, 0x10, 0x1B, 0xDD, 0xDC, 0xC3, 0x77, 0x6C,
        0xE7, 0xD6, 0x97, 0x88, 0x79, 0x38, 0xB0, 0xA3, 0xAA, 0x8E, 0xE2, 0x2E, 0x46, 0x54, 0x65, 0x47, 0x07, 0x34,
        0xCC, 0x84, 0xA8, 0xCA, 0x8A, 0x20, 0x51, 0x92, 0x78, 0xFE, 0x44, 0x7F, 0x09, 0xD3, 0xE7, 0xCF, 0xA1, 0xB5,
        0x7B, 0x5D, 0xD6, 0xA7, 0xB0, 0xDF, 0x3D, 0xDE, 0xFD, 0x28, 0x04, 0x64, 0x38, 0xBA, 0x0F, 0x52, 0x02, 0x49,
        0x40, 0x21, 0xB2, 0x13, 0x6D, 0x7A, 0x25, 0xEE, 0x40, 0x80, 0x3B, 0x2B, 0x96, 0x68, 0xF6, 0x64, 0x2D, 0x49,
        0x00, 0xFB, 0x3F, 0xA5, 0xF7, 0xEA, 0x88, 0x02, 0x4A, 0x01, 0x2C, 0x32, 0xB8, 0xCC, 0x61, 0xCF, 0x94, 0x00,
        0xEC, 0xC3,
    ];
    /// `eac3`, 48 kHz stereo (192 kbit/s): 2/0, six blocks, no infomdate.
    pub(crate) const EAC3_48K_STEREO: &[u8] = &[
        0x0B, 0x77, 0x01, 0x7F, 0x34, 0x87, 0xC0, 0x00, 0x20, 0x84, 0x21, 0x08, 0x38, 0x00, 0x8C, 0x06, 0x06, 0x06,
        0x01, 0x81, 0x81, 0x87, 0xBD, 0x77, 0xEF, 0x9F, 0x3E, 0x7C, 0xF9, 0xC7, 0x7B, 0x86, 0xFD, 0xF4, 0x37, 0xCF,
        0xA1, 0xBE, 0x7C, 0x38,
    ];
    /// `eac3 -ac 6`, 48 kHz 5.1 (448 kbit/s).
    pub(crate) const EAC3_48K_5_1: &[u8] = &[
        0x0B, 0x77, 0x03, 0x7F, 0x3F, 0x87, 0xC0, 0x00, 0x20, 0xF8, 0x20, 0x00, 0x02, 0x00, 0x40, 0x00, 0x04, 0x00,
        0x1F, 0xCC, 0x7E, 0x01, 0x07, 0xE1, 0xF8, 0x7E, 0x10, 0xFA, 0x1B, 0xEF, 0xF9, 0xD5, 0xF3, 0xE7, 0xCF, 0x9F,
        0x3E, 0x7C, 0xF9, 0xF3,
    ];
    /// `eac3 -ac 6 -audio_service_type vi -dmix_mode ltrt -ltrt_cmixlev 0.5 -mixing_level 100
    /// -room_type large`: mixmdate and infomdate (bsmod 2 with audprodie).
    pub(crate) const EAC3_48K_5_1_VI: &[u8] = &[
        0x0B, 0x77, 0x03, 0x7F, 0x3F, 0x87, 0xD7, 0x5D, 0x80, 0xA4, 0xD1, 0x00, 0x01, 0x07, 0xC1, 0x00, 0x00, 0x10,
        0x02, 0x00, 0x00, 0x20, 0x00, 0xFE, 0x63, 0xF0, 0x08, 0x3F, 0x0F, 0xC3, 0xF0, 0x87, 0xD0, 0xDF, 0x7F, 0xCE,
        0xAF, 0x9F, 0x3E, 0x7C,
    ];
    /// `eac3 -b:a 64k`, 44.1 kHz mono: a 278-byte frame (63.85 kbit/s; the next is 280 bytes).
    pub(crate) const EAC3_44K_MONO: &[u8] = &[
        0x0B, 0x77, 0x00, 0x8A, 0x72, 0x87, 0xC0, 0x00, 0x21, 0x05, 0xD0, 0x28, 0xC3, 0xBD, 0xC3, 0xAE, 0xFD, 0xF3,
        0xEA, 0xEF, 0x9F, 0x3F, 0x06, 0x02, 0x7A, 0xF5, 0xEC, 0xA0, 0xF8, 0x08, 0xD6, 0x20, 0x64, 0x30, 0xAF, 0xD7,
        0xDF, 0x6E, 0x8A, 0x00,
    ];
    /// `eac3`, 32 kHz stereo (192 kbit/s; asked for 24 kHz, resampled to 32).
    pub(crate) const EAC3_32K_STEREO: &[u8] = &[
        0x0B, 0x77, 0x02, 0x3F, 0xB4, 0x87, 0xC0, 0x00, 0x00, 0x80, 0x20, 0x07, 0xC0, 0x7F, 0x9E, 0x41, 0xDE, 0xD0,
        0xE1, 0xBF, 0x7C, 0xFA, 0x1B, 0xE7, 0xCF, 0x9F, 0x57, 0x7C, 0xF9, 0xF3, 0xE8, 0x70, 0xE1, 0xC4, 0x21, 0xF1,
        0xEB, 0xD5, 0xFE, 0x7C,
    ];
    /// `eac3 -audio_service_type hi -dsur_mode on`, 32 kHz stereo: infomdate with bsmod 3 and dsurmod.
    pub(crate) const EAC3_32K_STEREO_HI: &[u8] = &[
        0x0B, 0x77, 0x02, 0x3F, 0xB4, 0x87, 0xCB, 0x60, 0x00, 0x00, 0x10, 0x04, 0x00, 0xF1, 0x0F, 0xF3, 0xC8, 0x3B,
        0xDA, 0x1D, 0x77, 0xEF, 0x9F, 0xBE, 0x7C, 0xF9, 0xFB, 0xE7, 0xCF, 0x9F, 0x3E, 0x7E, 0xF9, 0xF3, 0xE7, 0xC4,
        0x3E, 0x3D, 0x7A, 0xBF,
    ];
    /// `eac3 -audio_service_type ka`, `channel_layouts=quad` (384 kbit/s): 2/2, bsmod 7 (karaoke),
    /// dsurexmod.
    pub(crate) const EAC3_48K_2_2_KARAOKE: &[u8] = &[
        0x0B, 0x77, 0x02, 0xFF, 0x3C, 0x87, 0xCF, 0x40, 0x00, 0x10, 0x42, 0x10, 0x00, 0x21, 0x00, 0x01, 0xD8, 0x0F,
        0xBC, 0x06, 0x06, 0x01, 0x81, 0x87, 0xE1, 0xE1, 0xF8, 0x78, 0x43, 0xE7, 0xCF, 0x9F, 0x38, 0xEF, 0x70, 0xDF,
        0xBE, 0x86, 0xF9, 0xF4,
    ];
    /// `eac3 -b:a 96k -audio_service_type co`, 48 kHz mono: bsmod 5 (commentary).
    pub(crate) const EAC3_48K_MONO_CO: &[u8] = &[
        0x0B, 0x77, 0x00, 0xBF, 0x32, 0x87, 0xCD, 0x40, 0x00, 0x42, 0x0C, 0x80, 0xC1, 0xC7, 0x7A, 0xAF, 0x5E, 0x1B,
        0xE7, 0xEF, 0x9F, 0x3E, 0x86, 0xF9, 0xF3, 0xE7, 0xCF, 0xA1, 0xBE, 0x0D, 0x2B, 0xF3, 0xBF, 0xBD, 0x81, 0x56,
        0x2F, 0xCC, 0x3E, 0xEA,
    ];
    /// `eac3 -b:a 32k`, 48 kHz mono: the whole 128-byte frame.
    pub(crate) const EAC3_48K_MONO_32K: &[u8] = &[
        0x0B, 0x77, 0x00, 0x3F, 0x32, 0x87, 0xC0, 0x00, 0x21, 0x03, 0xC8, 0x00, 0xE3, 0xBD, 0x57, 0xAF, 0x0D, 0xF0,
        0x69, 0xE7, 0xEF, 0x8A, 0xCF, 0xD7, 0xE1, 0xB3, 0xF1, 0xF1, 0x20, 0x35, 0xDD, 0xDE, 0x61, 0x9D, 0xDB, 0x5C,
        0xFA, 0xD1, 0x0A, 0xCD, 0xF1, 0xF6, 0x27, 0x98, 0xED, 0xB2, 0xD7, 0x1C, 0x28, 0xAB, 0x23, 0xAA, 0xBA, 0xF9,
        0x13, 0x21, 0x32, 0x12, 0xA3, 0x2A, 0x20, 0x14, 0x64, 0x9E, 0x3F, 0x91, 0x1F, 0xC2, 0x74, 0xF9, 0xF3, 0xE8,
        0x6D, 0x5E, 0xD7, 0x75, 0xA9, 0xEC, 0x37, 0xCF, 0x77, 0xBF, 0x4A, 0x08, 0xC8, 0xE1, 0x74, 0x1E, 0xA4, 0x06,
        0xCC, 0x84, 0x36, 0x84, 0x6D, 0xAF, 0x44, 0xBD, 0x90, 0xC8, 0x76, 0x4E, 0x4C, 0xD1, 0xEC, 0xC8, 0x53, 0x4B,
        0x1F, 0x67, 0xE8, 0xBE, 0xFD, 0x51, 0x01, 0x56, 0x42, 0x58, 0xCA, 0xB1, 0x98, 0xC3, 0x9F, 0x0C, 0x64, 0x00,
        0xAF, 0xFE,
    ];
    /// The `dac3` payloads ffmpeg wrote, in the order of [`AC3_FRAMES`].
    const AC3_DAC3: [[u8; 3]; 11] = [
        [0x10, 0x11, 0x40],
        [0x10, 0x3D, 0xE0],
        [0x50, 0x08, 0xC0],
        [0x90, 0x11, 0x40],
        [0x10, 0x19, 0xA0],
        [0x10, 0x21, 0xA0],
        [0x10, 0x29, 0xC0],
        [0x10, 0x31, 0xC0],
        [0x90, 0x39, 0xE0],
        [0x10, 0x56, 0x40],
        [0x11, 0xC8, 0x00],
    ];
    /// Every AC-3 vector.
    pub(crate) const AC3_FRAMES: [&[u8]; 11] = [
        AC3_48K_STEREO,
        AC3_48K_5_1,
        AC3_44K_MONO,
        AC3_32K_STEREO,
        AC3_48K_3_0,
        AC3_48K_2_1,
        AC3_48K_3_1,
        AC3_48K_2_2,
        AC3_32K_3_2,
        AC3_48K_2_0_LFE_ME,
        AC3_48K_MONO_VO,
    ];
    /// Every E-AC-3 vector from the encoder, with the `dec3` payload ffmpeg wrote.
    pub(crate) const EAC3_FRAMES: [(&[u8], &[u8]); 9] = [
        (EAC3_48K_STEREO, &[0x06, 0x00, 0x20, 0x04, 0x00]),
        (EAC3_48K_5_1, &[0x0E, 0x00, 0x20, 0x0F, 0x00]),
        (EAC3_48K_5_1_VI, &[0x0E, 0x00, 0x20, 0x2F, 0x00]),
        (EAC3_44K_MONO, &[0x02, 0x00, 0x60, 0x02, 0x00]),
        (EAC3_32K_STEREO, &[0x06, 0x00, 0xA0, 0x04, 0x00]),
        (EAC3_32K_STEREO_HI, &[0x06, 0x00, 0xA0, 0x34, 0x00]),
        (EAC3_48K_2_2_KARAOKE, &[0x0C, 0x00, 0x20, 0x7C, 0x00]),
        (EAC3_48K_MONO_CO, &[0x03, 0x00, 0x20, 0x52, 0x00]),
        (EAC3_48K_MONO_32K, &[0x01, 0x00, 0x20, 0x02, 0x00]),
    ];

    // Made by hand from the ffmpeg vectors (no encoder at hand writes these; scripts kept out of
    // the repository). A dependent substream: EAC3_48K_MONO_32K's syncframe with strmtyp 1,
    // chanmape 1 and chanmap Cs (0x0100) inserted after compre, and the converter exponent
    // strategy of independent substreams (audfrm `convexpstr`, 5 bits) removed: 130 bytes, of which
    // the first 24. After EAC3_48K_5_1 it makes 6.1.
    /// A hand-made dependent substream, 1/0 with chanmap Cs, frmsiz 64.
    pub(crate) const EAC3_DEPENDENT_CS: &[u8] = &[
        0x0B, 0x77, 0x40, 0x40, 0x32, 0x87, 0xD0, 0x10, 0x00, 0x00, 0x10, 0x3C, 0x80, 0x0E, 0x3B, 0xD5, 0x7A, 0xF0,
        0xDF, 0x06, 0x9E, 0x7E, 0xF8, 0xAC,
    ];
    /// The same without chanmap (chanmape 0): 128 bytes, its 1/0 replacing the C of the 5.1.
    pub(crate) const EAC3_DEPENDENT_NO_MAP: &[u8] = &[
        0x0B, 0x77, 0x40, 0x3F, 0x32, 0x87, 0xC0, 0x00, 0x10, 0x3C, 0x80, 0x0E, 0x3B, 0xD5, 0x7A, 0xF0, 0xDF, 0x06,
        0x9E, 0x7E, 0xF8, 0xAC, 0xFD, 0x7E,
    ];
    /// EAC3_48K_5_1 with the Dolby Atmos `addbsi` in place of addbsie 0 (bit 53): addbsie 1,
    /// addbsil 1, bytes 0x01 (flag_ec3_extension_type_a) and 0x10 (complexity_index_type_a 16).
    pub(crate) const EAC3_48K_5_1_ATMOS: &[u8] = &[
        0x0B, 0x77, 0x03, 0x7F, 0x3F, 0x87, 0xC4, 0x10, 0x11, 0x00, 0x00, 0x83, 0xE0, 0x80, 0x00, 0x08, 0x01, 0x00,
        0x00, 0x10, 0x00, 0x7F, 0x31, 0xF8, 0x04, 0x1F, 0x87, 0xE1, 0xF8, 0x43, 0xE8, 0x6F, 0xBF, 0xE7, 0x57, 0xCF,
        0x9F, 0x3E, 0x7C, 0xF9,
    ];

    use crate::codec::av1::tests::prefixes_and_mutations;

    /// `value` into `width` bits of `buf` from bit `pos` (most significant first).
    fn set_bits(buf: &mut [u8], pos: usize, width: usize, value: u32) {
        for i in 0..width {
            let bit = pos + i;
            let mask = 0x80 >> (bit % 8);
            if value >> (width - 1 - i) & 1 == 1 {
                buf[bit / 8] |= mask;
            } else {
                buf[bit / 8] &= !mask;
            }
        }
    }

    /// `head` padded with zeros to `len` bytes: a whole syncframe as far as the parser looks.
    fn padded(head: &[u8], len: usize) -> Vec<u8> {
        let mut frame = head.to_vec();
        frame.resize(len, 0);
        frame
    }

    fn dac3(c: &Ac3Config) -> Vec<u8> {
        let mut out = Vec::new();
        c.write_dac3(&mut out);
        out
    }

    fn dec3(c: &Ac3Config) -> Vec<u8> {
        let mut out = Vec::new();
        c.write_dec3(&mut out);
        out
    }

    #[test]
    fn ac3_headers() {
        // (sample_rate, channels, acmod, lfeon, bsmod, bit_rate_code) from the encoder settings:
        // A/52 Table 5.8 for acmod, Table 5.7 for bsmod, Table 5.18 for the rate (the tag's frame
        // length: 768 bytes at 48 kHz is 192 kbit/s, code 10).
        let expected = [
            (48000, 2, 2, false, 0, 10),
            (48000, 6, 7, true, 0, 15),
            (44100, 1, 1, false, 0, 6),
            (32000, 2, 2, false, 0, 10),
            (48000, 3, 3, false, 0, 13),
            (48000, 3, 4, false, 0, 13),
            (48000, 4, 5, false, 0, 14),
            (48000, 4, 6, false, 0, 14),
            (32000, 5, 7, false, 0, 15),
            (48000, 3, 2, true, 1, 18),
            (48000, 1, 1, false, 7, 0),
        ];
        for (frame, (rate, channels, acmod, lfeon, bsmod, code)) in AC3_FRAMES.into_iter().zip(expected) {
            let c = Ac3Config::parse(frame).unwrap();
            assert_eq!(c.kind, Ac3Kind::Ac3);
            assert_eq!((c.sample_rate, c.channels, c.acmod, c.lfeon), (rate, channels, acmod, lfeon), "{frame:02X?}");
            assert_eq!((c.bsid, c.bsmod, c.bit_rate_code, c.samples_per_frame), (8, bsmod, code, 1536));
            assert_eq!(
                c.data_rate,
                [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640]
                    [usize::from(code)]
            );
            assert_eq!((c.num_dep_sub, c.chan_loc, c.complexity_index_type_a), (0, 0, None));
            assert_eq!(c.codec_string(), "ac-3");
        }
    }

    #[test]
    fn dac3_matches_what_ffmpeg_muxed() {
        for (frame, expected) in AC3_FRAMES.into_iter().zip(AC3_DAC3) {
            let c = Ac3Config::parse(frame).unwrap();
            assert_eq!(dac3(&c), expected, "{frame:02X?}");
            // And an independent reader (mp4-atom) reads our fields back.
            let b = <mp4_atom::Ac3SpecificBox as mp4_atom::Atom>::decode_body(&mut &expected[..]).unwrap();
            assert_eq!((b.fscod, b.bsid, b.bsmod, b.acmod), (c.fscod, c.bsid, c.bsmod, c.acmod));
            assert_eq!((b.lfeon, b.bit_rate_code), (c.lfeon, c.bit_rate_code));
        }
    }

    #[test]
    fn eac3_headers() {
        // (sample_rate, channels, acmod, lfeon, bsmod, data_rate): data_rate is (frmsiz + 1) × 16
        // bits per 1536 samples, e.g. 768 bytes at 48 kHz = 192 kbit/s; 278 bytes at 44.1 kHz =
        // 63.85, rounded to 64 (ffmpeg: the largest over the stream, 280 bytes = 64.31).
        let expected = [
            (48000, 2, 2, false, 0, 192),
            (48000, 6, 7, true, 0, 448),
            (48000, 6, 7, true, 2, 448),
            (44100, 1, 1, false, 0, 64),
            (32000, 2, 2, false, 0, 192),
            (32000, 2, 2, false, 3, 192),
            (48000, 4, 6, false, 7, 384),
            (48000, 1, 1, false, 5, 96),
            (48000, 1, 1, false, 0, 32),
        ];
        for ((frame, _), (rate, channels, acmod, lfeon, bsmod, data_rate)) in EAC3_FRAMES.into_iter().zip(expected) {
            let c = Ac3Config::parse(frame).unwrap();
            assert_eq!(c.kind, Ac3Kind::Eac3);
            assert_eq!((c.sample_rate, c.channels, c.acmod, c.lfeon), (rate, channels, acmod, lfeon), "{frame:02X?}");
            assert_eq!((c.bsid, c.bsmod, c.data_rate, c.samples_per_frame), (16, bsmod, data_rate, 1536));
            assert_eq!((c.bit_rate_code, c.num_dep_sub, c.chan_loc, c.complexity_index_type_a), (0, 0, 0, None));
            assert_eq!(c.codec_string(), "ec-3");
        }
    }

    #[test]
    fn dec3_matches_what_ffmpeg_muxed() {
        for (frame, expected) in EAC3_FRAMES {
            let c = Ac3Config::parse(frame).unwrap();
            assert_eq!(dec3(&c), expected, "{frame:02X?}");
            let b = <mp4_atom::Ec3SpecificBox as mp4_atom::Atom>::decode_body(&mut &expected[..]).unwrap();
            let [s] = &b.substreams[..] else { panic!("one independent substream") };
            assert_eq!(
                (b.data_rate, s.fscod, s.bsid, s.bsmod, s.acmod),
                (c.data_rate, c.fscod, c.bsid, c.bsmod, c.acmod)
            );
            assert_eq!((s.lfeon, s.num_dep_sub, s.asvc), (c.lfeon, 0, false));
        }
        // Atmos: ffmpeg's muxer wrote the extension (reserved 7, flag 1, complexity 16) after the
        // substream for this frame too.
        let c = Ac3Config::parse(EAC3_48K_5_1_ATMOS).unwrap();
        assert_eq!((c.complexity_index_type_a, c.channels, c.bsmod), (Some(16), 6, 0));
        assert_eq!(dec3(&c), [0x0E, 0x00, 0x20, 0x0F, 0x00, 0x01, 0x10]);
    }

    #[test]
    fn the_whole_frame_parses_as_its_header() {
        for frame in [AC3_48K_MONO_VO, EAC3_48K_MONO_32K] {
            assert_eq!(frame.len(), 128);
            assert_eq!(Ac3Config::parse(frame), Ac3Config::parse(&frame[..40]));
        }
        // Several frames (of any block count) in one: the first is the configuration.
        let two = [EAC3_48K_MONO_32K, EAC3_48K_MONO_32K].concat();
        assert_eq!(Ac3Config::parse(&two), Ac3Config::parse(EAC3_48K_MONO_32K));
        let two = [AC3_48K_MONO_VO, AC3_48K_MONO_VO].concat();
        assert_eq!(Ac3Config::parse(&two), Ac3Config::parse(AC3_48K_MONO_VO));
        // What follows a syncframe must be one.
        let junk = [EAC3_48K_MONO_32K, &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00]].concat();
        assert!(matches!(Ac3Config::parse(&junk), Err(CodecError::Invalid { what: "AC-3 syncword", .. })));
    }

    #[test]
    fn dependent_substreams() {
        // 5.1 + a 1/0 dependent with chanmap Cs: 6.1. data_rate (1792 + 130) × 8 × 48000 / 1536 =
        // 480.5 kbit/s → 481; chan_loc Cs = bit 2 (Table F.6.1). ffmpeg's MP4 muxer wrote
        // 0E 00 20 0F 02 08 for this stream: data_rate 448 from the independent substream only,
        // chan_loc (chanmap >> 5) & 0x1F = 8 (Ts in Table F.6.1).
        let frame = [padded(EAC3_48K_5_1, 1792), EAC3_DEPENDENT_CS.to_vec()].concat();
        let c = Ac3Config::parse(&frame).unwrap();
        assert_eq!((c.kind, c.channels, c.num_dep_sub, c.chan_loc, c.data_rate), (Ac3Kind::Eac3, 7, 1, 0x004, 481));
        assert_eq!((c.acmod, c.lfeon, c.sample_rate), (7, true, 48000), "the independent substream's");
        assert_eq!(dec3(&c), [0x0F, 0x08, 0x20, 0x0F, 0x02, 0x04]);
        let b = <mp4_atom::Ec3SpecificBox as mp4_atom::Atom>::decode_body(&mut &dec3(&c)[..]).unwrap();
        assert_eq!((b.substreams[0].num_dep_sub, b.substreams[0].chan_loc), (1, Some(0x004)));

        // Without chanmap the dependent's C replaces the 5.1's: no new location. ffmpeg wrote
        // 0E 00 20 0F 02 01 (chan_loc = the dependent's acmod).
        let frame = [padded(EAC3_48K_5_1, 1792), EAC3_DEPENDENT_NO_MAP.to_vec()].concat();
        let c = Ac3Config::parse(&frame).unwrap();
        assert_eq!((c.channels, c.num_dep_sub, c.chan_loc, c.data_rate), (6, 1, 0, 480));
        assert_eq!(dec3(&c), [0x0F, 0x00, 0x20, 0x0F, 0x02, 0x00]);

        // chanmap Lrs/Rrs (0x0200, bits 52..68): 7.1, chan_loc bit 1 (as Bento4 writes 7.1).
        let mut dep = EAC3_DEPENDENT_CS.to_vec();
        set_bits(&mut dep, 52, 16, 0x0200);
        let c = Ac3Config::parse(&[padded(EAC3_48K_5_1, 1792), dep.clone()].concat()).unwrap();
        assert_eq!((c.channels, c.chan_loc), (8, 0x002));
        // chanmap L R Lc/Rc … Cvh, Lts/Rts, LFE2: chan_loc 0..=8 all set, but no Lts/Rts bit.
        set_bits(&mut dep, 52, 16, 0xE7FE);
        let c = Ac3Config::parse(&[padded(EAC3_48K_5_1, 1792), dep.clone()].concat()).unwrap();
        assert_eq!((c.channels, c.chan_loc), (6 + 2 + 2 + 1 + 1 + 2 + 2 + 2 + 1 + 2 + 1, 0x1FF));

        // An AC-3 syncframe with an E-AC-3 dependent substream is E-AC-3 (`ec-3`, bsid 8).
        let frame = [padded(AC3_48K_5_1, 1792), EAC3_DEPENDENT_CS.to_vec()].concat();
        let c = Ac3Config::parse(&frame).unwrap();
        assert_eq!((c.kind, c.bsid, c.bit_rate_code, c.num_dep_sub, c.data_rate), (Ac3Kind::Eac3, 8, 15, 1, 481));
        assert_eq!(c.codec_string(), "ec-3");
        assert_eq!(dec3(&c), [0x0F, 0x08, 0x10, 0x0F, 0x02, 0x04]);

        // Eight dependent substreams at most.
        let dep = padded(EAC3_DEPENDENT_CS, 130);
        let eight = [padded(EAC3_48K_5_1, 1792), dep.repeat(8)].concat();
        assert_eq!(Ac3Config::parse(&eight).map(|c| c.num_dep_sub), Ok(8));
        let nine = [padded(EAC3_48K_5_1, 1792), dep.repeat(9)].concat();
        assert_eq!(Ac3Config::parse(&nine), Err(CodecError::Invalid { what: "E-AC-3 dependent substreams", value: 9 }));
        // A second independent substream (another program) is not supported.
        let mut second = EAC3_DEPENDENT_CS.to_vec();
        set_bits(&mut second, 16, 5, 1); // strmtyp 0, substreamid 1
        let frame = [padded(EAC3_48K_5_1, 1792), second].concat();
        assert!(matches!(Ac3Config::parse(&frame), Err(CodecError::Unsupported(_))));
    }

    #[test]
    fn block_counts_and_reduced_rates() {
        // EAC3_48K_STEREO's fscod (bit 32), numblkscod or fscod2 (34) and acmod (36); 2/0, six blocks.
        let with = |fscod: u32, numblkscod: u32, acmod: u32| {
            let mut f = EAC3_48K_STEREO.to_vec();
            set_bits(&mut f, 32, 2, fscod);
            set_bits(&mut f, 34, 2, numblkscod);
            set_bits(&mut f, 36, 3, acmod);
            Ac3Config::parse(&f)
        };
        // One block (numblkscod 0): 768 bytes per 256 samples = 1152 kbit/s.
        let c = with(0, 0, 2).unwrap();
        assert_eq!((c.samples_per_frame, c.data_rate), (256, 1152));
        assert_eq!(dec3(&c), [0x24, 0x00, 0x20, 0x04, 0x00]);
        assert_eq!(with(0, 1, 2).unwrap().samples_per_frame, 512);
        assert_eq!(with(0, 2, 2).unwrap().samples_per_frame, 768);
        // fscod 3, fscod2 1: 22.05 kHz, six blocks; 768 bytes per 1536 samples = 88.2 kbit/s.
        let c = with(3, 1, 2).unwrap();
        assert_eq!((c.sample_rate, c.samples_per_frame, c.fscod, c.data_rate), (22050, 1536, 3, 88));
        assert_eq!(dec3(&c), [0x02, 0xC0, 0xE0, 0x04, 0x00]);
        assert_eq!(with(3, 0, 2).unwrap().sample_rate, 24000);
        assert_eq!(with(3, 2, 2).unwrap().sample_rate, 16000);
        assert_eq!(with(3, 3, 2), Err(CodecError::Invalid { what: "E-AC-3 fscod2", value: 3 }));
        // 1+1 (acmod 0): two channels, and the second dialnorm/compr the syntax then has.
        let c = with(0, 3, 0).unwrap();
        assert_eq!((c.acmod, c.channels), (0, 2));
        // The largest syncframe (frmsiz 2047) of one block twice over: 12288 kbit/s, held to 13 bits.
        let mut big = EAC3_48K_STEREO.to_vec();
        set_bits(&mut big, 21, 11, 2047);
        set_bits(&mut big, 34, 2, 0);
        let mut dep = big.clone();
        set_bits(&mut dep, 16, 2, 1);
        let c = Ac3Config::parse(&[padded(&big, 4096), dep].concat()).unwrap();
        assert_eq!((c.num_dep_sub, c.data_rate), (1, 8191));
    }

    #[test]
    fn ac3_variants() {
        // AC-3 1+1: acmod 0 has no mix levels, so lfeon (here 1) follows acmod (bit 51).
        let mut f = AC3_48K_STEREO.to_vec();
        set_bits(&mut f, 48, 4, 1);
        let c = Ac3Config::parse(&f).unwrap();
        assert_eq!((c.acmod, c.lfeon, c.channels), (0, true, 3));
        // bsid 6 (Annex D alternate syntax) and lower are AC-3 too.
        let mut f = AC3_48K_STEREO.to_vec();
        set_bits(&mut f, 40, 5, 6);
        assert_eq!(Ac3Config::parse(&f).map(|c| (c.kind, c.bsid)), Ok((Ac3Kind::Ac3, 6)));
        // 44.1 kHz, odd frmsizecod: one more word (Table 5.18: 96 kbit/s is 208 words, or 209).
        let mut f = padded(AC3_44K_MONO, 418);
        set_bits(&mut f, 34, 6, 13);
        let two = [f.clone(), f.clone()].concat();
        assert_eq!(Ac3Config::parse(&two).map(|c| c.bit_rate_code), Ok(6), "the second starts at 418");
    }

    #[test]
    fn invalid_and_unsupported_values() {
        let with = |frame: &[u8], pos: usize, width: usize, v: u32| {
            let mut f = frame.to_vec();
            set_bits(&mut f, pos, width, v);
            Ac3Config::parse(&f)
        };
        assert_eq!(
            with(AC3_48K_STEREO, 0, 16, 0x770B),
            Err(CodecError::Invalid { what: "AC-3 syncword", value: 0x770B })
        );
        assert_eq!(with(AC3_48K_STEREO, 32, 2, 3), Err(CodecError::Invalid { what: "AC-3 fscod", value: 3 }));
        assert_eq!(with(AC3_48K_STEREO, 34, 6, 38), Err(CodecError::Invalid { what: "AC-3 frmsizecod", value: 38 }));
        assert!(with(AC3_48K_STEREO, 34, 6, 37).is_ok());
        for bsid in [9, 10] {
            assert!(matches!(with(AC3_48K_STEREO, 40, 5, bsid), Err(CodecError::Unsupported(_))), "{bsid}");
        }
        assert_eq!(with(EAC3_48K_STEREO, 40, 5, 17), Err(CodecError::Invalid { what: "AC-3 bsid", value: 17 }));
        assert!(with(EAC3_48K_STEREO, 40, 5, 11).is_ok_and(|c| c.kind == Ac3Kind::Eac3));
        assert_eq!(with(EAC3_48K_STEREO, 16, 2, 3), Err(CodecError::Invalid { what: "E-AC-3 strmtyp", value: 3 }));
        assert_eq!(
            with(EAC3_48K_STEREO, 16, 2, 1),
            Err(CodecError::Invalid { what: "E-AC-3 first strmtyp", value: 1 })
        );
        assert_eq!(
            with(EAC3_48K_STEREO, 18, 3, 2),
            Err(CodecError::Invalid { what: "E-AC-3 first substreamid", value: 2 })
        );
        assert!(with(EAC3_48K_STEREO, 16, 2, 2).is_ok(), "strmtyp 2: converted from AC-3");
        assert_eq!(Ac3Config::parse(&AC3_48K_STEREO[..5]), Err(CodecError::Truncated("AC-3 syncframe")));
        assert_eq!(Ac3Config::parse(&AC3_48K_STEREO[..6]), Err(CodecError::Truncated("AC-3 syncframe")));
        assert_eq!(Ac3Config::parse(&EAC3_48K_5_1_VI[..10]), Err(CodecError::Truncated("E-AC-3 syncframe")));
        assert!(Ac3Config::parse(&EAC3_48K_5_1_VI[..12]).is_ok());
        // An E-AC-3 syncframe shorter than its bsi.
        assert_eq!(with(EAC3_48K_STEREO, 21, 11, 2), Err(CodecError::Truncated("E-AC-3 syncframe")));
        assert!(Ac3Config::parse(&[]).is_err());
    }

    #[test]
    fn frames_through_the_flv_layer() {
        use crate::flv::{AudioCodec, AudioPacket, AudioPacketType};
        // ffmpeg's SequenceStart is empty: nothing to parse until the first coded frame.
        let p = AudioPacket::parse(b"\x90ec-3").unwrap();
        assert_eq!((p.header.codec, p.header.packet_type), (AudioCodec::Eac3, Some(AudioPacketType::SequenceStart)));
        assert!(Ac3Config::parse(p.payload).is_err());
        let body = [&b"\x91ac-3"[..], AC3_48K_5_1].concat();
        let p = AudioPacket::parse(&body).unwrap();
        assert_eq!((p.header.codec, p.header.packet_type), (AudioCodec::Ac3, Some(AudioPacketType::CodedFrames)));
        assert_eq!(Ac3Config::parse(p.payload).unwrap().channels, 6);
        let body = [&b"\x91ec-3"[..], EAC3_48K_STEREO].concat();
        let p = AudioPacket::parse(&body).unwrap();
        assert_eq!(p.header.codec, AudioCodec::Eac3);
        assert_eq!(Ac3Config::parse(p.payload).unwrap().kind, Ac3Kind::Eac3);
    }

    #[test]
    fn no_input_panics() {
        let check = |b: &[u8]| {
            let _ = Ac3Config::parse(b).map(|c| (dac3(&c), dec3(&c), c.codec_string()));
        };
        for frame in AC3_FRAMES.into_iter().chain(EAC3_FRAMES.map(|(f, _)| f)) {
            prefixes_and_mutations(frame, check);
        }
        for frame in [EAC3_48K_5_1_ATMOS, EAC3_DEPENDENT_CS, EAC3_DEPENDENT_NO_MAP] {
            prefixes_and_mutations(frame, check);
        }
        let seven_one = [padded(EAC3_48K_5_1, 1792), EAC3_DEPENDENT_CS.to_vec()].concat();
        prefixes_and_mutations(&seven_one[1780..], check);
        // Every bsid and fscod/numblkscod/acmod/lfeon byte, over each syntax.
        for frame in [AC3_48K_5_1, EAC3_48K_5_1_VI, EAC3_32K_STEREO_HI] {
            for b4 in 0..=255u8 {
                for b5 in 0..=255u8 {
                    let mut f = frame.to_vec();
                    f[4] = b4;
                    f[5] = b5;
                    check(&f);
                }
            }
        }
    }
}
