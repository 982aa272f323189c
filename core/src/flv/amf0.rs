//! AMF0 script data (Action Message Format AMF0, Adobe 2007, §2) and the `onMetaData` script
//! tag (FLV spec v10.1, E.5). Best effort: metadata is informative, never needed to package.

use alloc::{string::String, vec::Vec};

use super::FlvError;

/// Deepest nesting of objects and arrays accepted (deeper input is an error, not a stack overflow).
pub const MAX_DEPTH: usize = 16;

/// An AMF0 value (AMF0 §2.2–2.14).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Amf0Value {
    /// number-marker (0x00): an IEEE 754 double.
    Number(f64),
    /// boolean-marker (0x01).
    Boolean(bool),
    /// string-marker (0x02) and long-string-marker (0x0C).
    String(String),
    /// object-marker (0x03) and ecma-array-marker (0x08): ordered properties.
    Object(Vec<(String, Amf0Value)>),
    /// strict-array-marker (0x0A).
    Array(Vec<Amf0Value>),
    /// date-marker (0x0B): milliseconds since the Unix epoch.
    Date(f64),
    /// null-marker (0x05), undefined-marker (0x06) and reference-marker (0x07).
    Null,
}

/// The fields of `onMetaData` that matter, plus every property as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// `width` in pixels.
    pub width: Option<f64>,
    /// `height` in pixels.
    pub height: Option<f64>,
    /// `framerate` in frames per second.
    pub frame_rate: Option<f64>,
    /// `videodatarate` in kbit/s.
    pub video_data_rate: Option<f64>,
    /// `audiodatarate` in kbit/s.
    pub audio_data_rate: Option<f64>,
    /// `audiosamplerate` in Hz.
    pub audio_sample_rate: Option<f64>,
    /// `encoder` (e.g. `Lavf59.27.100`, `obs-output module`).
    pub encoder: Option<String>,
    /// Every property of the metadata object, in order.
    pub properties: Vec<(String, Amf0Value)>,
}

impl Amf0Value {
    /// Appends this value in AMF0 encoding; objects are written as anonymous objects (0x03).
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Number(n) => {
                out.push(0x00);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Self::Boolean(b) => out.extend_from_slice(&[0x01, u8::from(*b)]),
            Self::String(s) if s.len() <= 0xFFFF => {
                out.push(0x02);
                write_utf8(out, s);
            }
            Self::String(s) => {
                // A long string holds at most 2^32 - 1 bytes: the rest is left off, so the
                // length written is always the length that follows.
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                out.push(0x0C);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&s.as_bytes()[..s.len().min(0xFFFF_FFFF)]);
            }
            Self::Object(props) => {
                out.push(0x03);
                for (k, v) in props {
                    write_utf8(out, k);
                    v.write(out);
                }
                out.extend_from_slice(&[0, 0, 0x09]);
            }
            Self::Array(items) => {
                // A strict array holds at most 2^32 - 1 values: the rest is left off, so the
                // count written is always the count that follows.
                let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
                out.push(0x0A);
                out.extend_from_slice(&count.to_be_bytes());
                for v in items.iter().take(0xFFFF_FFFF) {
                    v.write(out);
                }
            }
            Self::Date(ms) => {
                out.push(0x0B);
                out.extend_from_slice(&ms.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            Self::Null => out.push(0x05),
        }
    }

    /// An AMF0 number (a double, AMF0 §2.2) as the whole number it carries: `None` when it is
    /// negative, fractional, NaN, infinite or 2^64 or more. Protocols send ids, sizes and flags
    /// as AMF0 numbers; a reader turns them into integers with this, never with a cast that
    /// would round, wrap or saturate what a peer sent.
    pub fn whole_number(n: f64) -> Option<u64> {
        if n == 0.0 {
            return Some(0); // +0 and -0
        }
        // IEEE 754 binary64: sign, 11-bit biased exponent, 52-bit fraction with an implicit 1;
        // the value is `mantissa * 2^(exponent - 1075)`.
        let bits = n.to_bits();
        let exponent = (bits >> 52) & 0x7FF;
        if bits >> 63 != 0 || exponent == 0 || exponent == 0x7FF {
            return None; // negative, subnormal (below 1), NaN or infinite
        }
        let mantissa = (bits & 0xF_FFFF_FFFF_FFFF) | 1 << 52;
        if exponent <= 1075 {
            let shift = 1075 - exponent;
            // A shift of 53 or more leaves a value below 1 (the mantissa has 53 bits): not whole.
            if shift >= 53 || mantissa & ((1 << shift) - 1) != 0 {
                return None;
            }
            Some(mantissa >> shift)
        } else {
            // 53 significant bits shifted by up to 11 still fit in 64.
            let shift = exponent - 1075;
            (shift <= 11).then(|| mantissa << shift)
        }
    }

    /// Reads one value from the start of `buf`.
    pub fn read(buf: &[u8]) -> Result<(Self, usize), FlvError> {
        let mut r = Reader { buf };
        let v = r.value(0)?;
        Ok((v, buf.len() - r.buf.len()))
    }
}

/// A UTF-8 string with a u16 length (AMF0 §2.4 `UTF-8`): at most 65535 bytes, the rest is left
/// off, so the length written is always the length that follows.
fn write_utf8(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// Parses a script tag body; returns `Ok(None)` when it is not `onMetaData`.
pub fn parse_metadata(body: &[u8]) -> Result<Option<Metadata>, FlvError> {
    let mut r = Reader { buf: body };
    let name = r.value(0)?;
    let name = match &name {
        Amf0Value::String(s) => s.as_str(),
        _ => return Ok(None),
    };
    // `@setDataFrame` wraps onMetaData when sent over RTMP.
    let props = if name == "@setDataFrame" {
        match r.value(0)? {
            Amf0Value::String(s) if s == "onMetaData" => r.value(0)?,
            _ => return Ok(None),
        }
    } else if name == "onMetaData" {
        r.value(0)?
    } else {
        return Ok(None);
    };
    let Amf0Value::Object(properties) = props else {
        return Ok(None);
    };
    let mut m = Metadata::default();
    for (k, v) in &properties {
        let num = match v {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        };
        match k.as_str() {
            "width" => m.width = num,
            "height" => m.height = num,
            "framerate" => m.frame_rate = num,
            "videodatarate" => m.video_data_rate = num,
            "audiodatarate" => m.audio_data_rate = num,
            "audiosamplerate" => m.audio_sample_rate = num,
            "encoder" => {
                if let Amf0Value::String(s) = v {
                    m.encoder = Some(s.clone());
                }
            }
            _ => {}
        }
    }
    m.properties = properties;
    Ok(Some(m))
}

struct Reader<'a> {
    buf: &'a [u8],
}

const SHORT: FlvError = FlvError::ShortBody("script");

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FlvError> {
        if self.buf.len() < n {
            return Err(SHORT);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn u16(&mut self) -> Result<usize, FlvError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn u32(&mut self) -> Result<usize, FlvError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn f64(&mut self) -> Result<f64, FlvError> {
        let b = self.take(8)?;
        Ok(f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    fn string(&mut self, len: usize) -> Result<String, FlvError> {
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, FlvError> {
        let mut props = Vec::new();
        loop {
            if self.buf.is_empty() {
                return Ok(props); // some writers omit the end marker at the end of the tag
            }
            let len = self.u16()?;
            if len == 0 && self.buf.first() == Some(&0x09) {
                self.take(1)?;
                return Ok(props);
            }
            let key = self.string(len)?;
            let value = self.value(depth + 1)?;
            props.push((key, value));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, FlvError> {
        if depth > MAX_DEPTH {
            return Err(FlvError::AmfTooDeep);
        }
        let marker = self.take(1)?[0];
        Ok(match marker {
            0x00 => Amf0Value::Number(self.f64()?),
            0x01 => Amf0Value::Boolean(self.take(1)?[0] != 0),
            0x02 => {
                let len = self.u16()?;
                Amf0Value::String(self.string(len)?)
            }
            0x03 => Amf0Value::Object(self.properties(depth)?),
            0x05 | 0x06 => Amf0Value::Null,
            0x07 => {
                self.u16()?;
                Amf0Value::Null
            }
            0x08 => {
                self.u32()?; // approximate count; the end marker is what counts
                Amf0Value::Object(self.properties(depth)?)
            }
            0x0A => {
                let count = self.u32()?;
                // Every value takes at least one byte: bound the loop by the input.
                if count > self.buf.len() {
                    return Err(SHORT);
                }
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Amf0Value::Array(items)
            }
            0x0B => {
                let ms = self.f64()?;
                self.take(2)?;
                Amf0Value::Date(ms)
            }
            0x0C => {
                let len = self.u32()?;
                Amf0Value::String(self.string(len)?)
            }
            _ => return Err(FlvError::Unsupported("unknown AMF0 type marker")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn prop(out: &mut Vec<u8>, key: &str) {
        write_utf8(out, key);
    }

    #[test]
    fn parses_on_metadata_ecma_array() {
        let mut b = vec![0x02, 0, 10];
        b.extend_from_slice(b"onMetaData");
        b.extend_from_slice(&[0x08, 0, 0, 0, 3]);
        prop(&mut b, "width");
        b.push(0);
        b.extend_from_slice(&1280f64.to_be_bytes());
        prop(&mut b, "stereo");
        b.extend_from_slice(&[1, 1]);
        prop(&mut b, "encoder");
        b.extend_from_slice(&[2, 0, 3]);
        b.extend_from_slice(b"obs");
        b.extend_from_slice(&[0, 0, 9]);
        let m = parse_metadata(&b).unwrap().unwrap();
        assert_eq!(m.width, Some(1280.0));
        assert_eq!(m.encoder.as_deref(), Some("obs"));
        assert_eq!(m.properties.len(), 3);
    }

    #[test]
    fn values_round_trip() {
        let v = Amf0Value::Object(vec![
            ("session".into(), Amf0Value::String("abc".into())),
            ("start".into(), Amf0Value::Number(4_294_967_296.0)),
            ("list".into(), Amf0Value::Array(vec![Amf0Value::Boolean(true), Amf0Value::Null])),
        ]);
        let mut out = Vec::new();
        v.write(&mut out);
        assert_eq!(Amf0Value::read(&out), Ok((v, out.len())));
    }

    #[test]
    fn deep_nesting_and_huge_arrays_are_refused() {
        let mut b = vec![0x02, 0, 10];
        b.extend_from_slice(b"onMetaData");
        b.extend(core::iter::repeat_n([0x0A, 0, 0, 0, 1], 40).flatten());
        assert!(parse_metadata(&b).is_err());
        let mut b = vec![0x02, 0, 10];
        b.extend_from_slice(b"onMetaData");
        b.extend_from_slice(&[0x0A, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(parse_metadata(&b).is_err());
    }

    #[test]
    fn whole_numbers_are_read_exactly_and_the_rest_refused() {
        for (n, want) in [
            (0.0, Some(0)),
            (-0.0, Some(0)),
            (1.0, Some(1)),
            (7.0, Some(7)),
            (4_294_967_295.0, Some(4_294_967_295)),
            (4_294_967_296.0, Some(4_294_967_296)),
            (9_007_199_254_740_993.0, Some(9_007_199_254_740_992)), // the double nearest 2^53 + 1
            (18_446_744_073_709_549_568.0, Some(18_446_744_073_709_549_568)), // the largest below 2^64
            (18_446_744_073_709_551_616.0, None),                   // 2^64
            (-1.0, None),
            (0.5, None),
            (1.5, None),
            (4_294_967_295.5, None),
            (f64::MIN_POSITIVE / 2.0, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
            (f64::NEG_INFINITY, None),
        ] {
            assert_eq!(Amf0Value::whole_number(n), want, "{n}");
        }
    }
}
