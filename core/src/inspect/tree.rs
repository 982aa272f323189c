//! Box framing (ISO/IEC 14496-12 §4.2): walks the input, builds the [`BoxNode`] tree and asks
//! [`super::fields`] for each box's fields.

use alloc::{format, string::String, vec::Vec};

use super::fields;
use super::{fourcc, BoxNode, FieldValue, Fields, InspectError, MAX_BOXES, MAX_DEPTH};

/// Boxes whose body is nothing but child boxes.
const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"mvex", b"moof", b"traf", b"edts", b"udta", b"mfra",
    b"tref", b"sinf", b"schi", b"rinf", b"ipro", b"iprp", b"ipco", b"wave", b"ilst", b"strk", b"strd", b"trgr",
    b"meco", b"gmhd", b"clip", b"matt", b"tapt",
];

/// Sample entries extending `VisualSampleEntry` (ISO/IEC 14496-12 §12.1.3): 78 body bytes
/// before the child boxes.
const VISUAL_ENTRIES: &[&[u8; 4]] = &[
    b"avc1", b"avc2", b"avc3", b"avc4", b"hvc1", b"hev1", b"hvc2", b"hev2", b"dvh1", b"dvhe", b"dva1", b"dvav",
    b"vvc1", b"vvi1", b"vp08", b"vp09", b"av01", b"mp4v", b"encv", b"jpeg", b"mjpg", b"uncv", b"s263", b"h263",
    b"apcn", b"apch", b"apcs", b"apco", b"ap4h", b"resv",
];

/// Sample entries extending `AudioSampleEntry` (ISO/IEC 14496-12 §12.2.3): 28 body bytes
/// (44 or 64 for QuickTime sound description versions 1 and 2) before the child boxes.
const AUDIO_ENTRIES: &[&[u8; 4]] = &[
    b"mp4a", b"enca", b"Opus", b"fLaC", b"ac-3", b"ec-3", b"ac-4", b".mp3", b"alac", b"sowt", b"twos", b"lpcm",
    b"ipcm", b"fpcm", b"in24", b"in32", b"fl32", b"fl64", b"s16l", b"samr", b"sawb", b"ulaw", b"alaw", b"raw ",
    b"mha1", b"mhm1", b"dtsc", b"dtse", b"dtsh", b"dtsl",
];

/// Sample entries with only the 8-byte `SampleEntry` header before their child boxes.
const PLAIN_ENTRIES: &[&[u8; 4]] = &[b"wvtt", b"evte", b"mebx", b"camm"];

/// The tree and what went wrong outside single boxes.
pub(super) struct Walked {
    pub boxes: Vec<BoxNode>,
    pub warnings: Vec<String>,
}

/// Refuses input that does not start with a plausible box header.
pub(super) fn check_first_box(bytes: &[u8]) -> Result<(), InspectError> {
    if bytes.len() < 8 {
        return Err(InspectError::TooShort { len: bytes.len() });
    }
    let kind = &bytes[4..8];
    if !kind.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(InspectError::NotMp4 {
            reason: format!("the first box type {} is not a printable four-character code", fourcc(kind)),
        });
    }
    let size = be32(&bytes[0..4]);
    if (2..8).contains(&size) {
        return Err(InspectError::NotMp4 {
            reason: format!("the first box declares size {size}, smaller than its header"),
        });
    }
    Ok(())
}

/// Walks all top-level boxes of `bytes`.
pub(super) fn walk(bytes: &[u8]) -> Walked {
    let mut walker = Walker { data: bytes, boxes: 0, stopped: false, warnings: Vec::new() };
    let boxes = walker.level(0, bytes.len(), 0, None);
    Walked { boxes, warnings: walker.warnings }
}

struct Walker<'a> {
    data: &'a [u8],
    /// Boxes listed so far (for [`MAX_BOXES`]).
    boxes: usize,
    /// Set once [`MAX_BOXES`] is reached: every level stops.
    stopped: bool,
    warnings: Vec<String>,
}

/// A parsed box header.
struct Header {
    kind: [u8; 4],
    size: u64,
    header_size: usize,
}

impl Walker<'_> {
    /// The boxes in `data[start..end]`, `depth` levels below the top, inside `parent`.
    fn level(&mut self, start: usize, end: usize, depth: usize, parent: Option<[u8; 4]>) -> Vec<BoxNode> {
        let mut nodes = Vec::new();
        let mut pos = start;
        while pos < end && !self.stopped {
            if self.boxes >= MAX_BOXES {
                self.stopped = true;
                self.warnings.push(format!("stopped listing boxes at offset {pos}: more than {MAX_BOXES} boxes"));
                break;
            }
            let left = end - pos;
            if left < 8 {
                let rest = &self.data[pos..end];
                // A short all-zero remainder is QuickTime's terminator; anything else is noise.
                if rest.iter().any(|&b| b != 0) {
                    self.warnings.push(format!(
                        "{left} trailing bytes at offset {pos}{} are too short for a box header",
                        inside(parent)
                    ));
                }
                break;
            }
            self.boxes += 1;
            let (node, next) = self.one(pos, end, depth, parent);
            nodes.push(node);
            match next {
                Some(next) => pos = next,
                None => break,
            }
        }
        nodes
    }

    /// The box at `pos` and where the next one starts (`None`: stop this level).
    fn one(&mut self, pos: usize, end: usize, depth: usize, parent: Option<[u8; 4]>) -> (BoxNode, Option<usize>) {
        let left = (end - pos) as u64;
        let header = match read_header(&self.data[pos..end]) {
            Ok(header) => header,
            Err((kind, size, header_size, error)) => {
                let node = error_node(&kind, pos, size, header_size, error);
                return (node, None);
            }
        };
        let Header { kind, size, header_size } = header;
        let box_end = match usize::try_from(size) {
            Ok(len) if size <= left => pos + len,
            _ => {
                let error = format!("box claims {size} bytes, only {left} left");
                return (error_node(&kind, pos, size, header_size, error), None);
            }
        };
        let body = pos + header_size;
        let mut node = BoxNode {
            kind: fourcc(&kind),
            offset: pos as u64,
            size,
            header_size: header_len(header_size),
            fields: Fields::default(),
            error: None,
            children: Vec::new(),
        };

        // Where this box's child boxes start, if it has any.
        let mut children_at = None;
        if CONTAINERS.contains(&&kind) || parent == Some(*b"ilst") {
            // `ilst` items (`©nam`, `trkn`, …) hold `data` boxes.
            children_at = Some(body);
        } else if parent == Some(*b"stsd") {
            children_at = self.sample_entry(&kind, pos, body, box_end, &mut node);
        } else {
            match &kind {
                b"meta" => {
                    // ISO meta is a full box; QuickTime's is a plain container whose first
                    // child (`hdlr`) starts right after the header.
                    let plain = box_end - body >= 8 && &self.data[body + 4..body + 8] == b"hdlr";
                    if plain {
                        children_at = Some(body);
                    } else {
                        fields::full_box_header(&self.data[body..box_end], &mut node.fields);
                        children_at = Some((body + 4).min(box_end));
                    }
                }
                b"stsd" => {
                    // Read by hand: mp4-atom's Stsd decodes the whole sample entry subtree.
                    let b = &self.data[body..box_end];
                    fields::full_box_header(b, &mut node.fields);
                    if b.len() >= 8 {
                        node.fields.push("entryCount", FieldValue::UInt(be32(&b[4..8]).into()));
                        children_at = Some(body + 8);
                    } else {
                        node.error = Some(String::from("stsd shorter than its entry count"));
                    }
                }
                b"mdat" | b"free" | b"skip" | b"wide" => {
                    node.fields.push("dataSize", FieldValue::UInt((box_end - body) as u64));
                }
                b"uuid" => {
                    let usertype = self.data[pos + header_size - 16..pos + header_size].to_vec();
                    node.fields.push("usertype", FieldValue::Bytes(usertype));
                }
                _ => {
                    let bytes = &self.data[pos..box_end];
                    if let Err(error) = fields::leaf(&kind, bytes, header_size, &mut node.fields) {
                        node.error = Some(error);
                    }
                    if &kind == b"dref" && box_end - body >= 8 {
                        children_at = Some(body + 8);
                    }
                }
            }
        }

        if let Some(at) = children_at {
            if depth + 1 >= MAX_DEPTH {
                node.error = Some(format!("boxes nest deeper than {MAX_DEPTH} levels; children not listed"));
            } else {
                node.children = self.level(at, box_end, depth + 1, Some(kind));
            }
        }
        (node, Some(box_end))
    }

    /// Fields of a sample entry in `stsd`, and where its child boxes start.
    fn sample_entry(
        &mut self,
        kind: &[u8; 4],
        pos: usize,
        body: usize,
        box_end: usize,
        node: &mut BoxNode,
    ) -> Option<usize> {
        let bytes = &self.data[body..box_end];
        let skip = if VISUAL_ENTRIES.contains(&kind) {
            fields::visual_entry(bytes, &mut node.fields).map(|()| 78)
        } else if AUDIO_ENTRIES.contains(&kind) {
            fields::audio_entry(bytes, &mut node.fields)
        } else if PLAIN_ENTRIES.contains(&kind) {
            Ok(8)
        } else {
            // Unknown sample entry layout: list the box, not its insides. Text entries
            // (`tx3g`, `stpp`, …) still get mp4-atom's fields where it knows them.
            let bytes = &self.data[pos..box_end];
            let header_size = body - pos;
            if let Err(error) = fields::leaf(kind, bytes, header_size, &mut node.fields) {
                node.error = Some(error);
            }
            return None;
        };
        match skip {
            Ok(skip) if skip <= bytes.len() => Some(body + skip),
            Ok(skip) => {
                node.error =
                    Some(format!("sample entry has {} body bytes, fewer than its {skip}-byte header", bytes.len()));
                None
            }
            Err(error) => {
                node.error = Some(error);
                None
            }
        }
    }
}

/// Reads a box header from the start of `bytes` (at least 8 bytes long). On failure returns
/// what is known for an error node: type, claimed size, header size and the message.
fn read_header(bytes: &[u8]) -> Result<Header, ([u8; 4], u64, usize, String)> {
    let left = bytes.len() as u64;
    let mut kind = [0u8; 4];
    kind.copy_from_slice(&bytes[4..8]);
    let size32 = be32(&bytes[0..4]);
    let (size, mut header_size) = match size32 {
        0 => (left, 8),
        1 => {
            if bytes.len() < 16 {
                let error = format!("box has a 64-bit size but only {left} bytes are left");
                return Err((kind, left, 8, error));
            }
            (be64(&bytes[8..16]), 16)
        }
        n => (u64::from(n), 8),
    };
    if &kind == b"uuid" {
        header_size += 16;
    }
    if size < header_size as u64 {
        let error = format!("box size {size} is smaller than its {header_size}-byte header");
        return Err((kind, size, header_size, error));
    }
    if header_size as u64 > left {
        let error = format!("box header needs {header_size} bytes, only {left} left");
        return Err((kind, size, header_size, error));
    }
    Ok(Header { kind, size, header_size })
}

/// A header's length for [`BoxNode::header_size`]: 8 or 16 bytes, 16 more for `uuid`.
fn header_len(header_size: usize) -> u8 {
    u8::try_from(header_size).unwrap_or(u8::MAX)
}

fn error_node(kind: &[u8; 4], pos: usize, size: u64, header_size: usize, error: String) -> BoxNode {
    BoxNode {
        kind: fourcc(kind),
        offset: pos as u64,
        size,
        header_size: header_len(header_size),
        fields: Fields::default(),
        error: Some(error),
        children: Vec::new(),
    }
}

fn inside(parent: Option<[u8; 4]>) -> String {
    match parent {
        Some(kind) => format!(" inside {}", fourcc(&kind)),
        None => String::new(),
    }
}

pub(super) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}
