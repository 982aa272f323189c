//! A small AMF0 encoder and decoder: enough for RTMP commands and their replies.
//!
//! Adobe, *Action Message Format — AMF 0* (December 2007), §2 "AMF 0 Data Types". The decoder
//! reads every type of §2.1–§2.17 that a server may put in a reply; object references (§2.9)
//! and AMF3 switches (§3.1) are refused. Nesting is bounded by [`MAX_DEPTH`].

use thiserror::Error;

/// The deepest nesting of objects and arrays the decoder follows.
pub const MAX_DEPTH: usize = 64;

/// AMF0 type markers (AMF0 spec §2.1).
pub mod marker {
    /// §2.2 Number: an IEEE 754 double, big-endian.
    pub const NUMBER: u8 = 0x00;
    /// §2.3 Boolean: one byte, 0 is false.
    pub const BOOLEAN: u8 = 0x01;
    /// §2.4 String: u16 length, UTF-8.
    pub const STRING: u8 = 0x02;
    /// §2.5 Object: properties, then an empty name and [`OBJECT_END`].
    pub const OBJECT: u8 = 0x03;
    /// §2.7 null.
    pub const NULL: u8 = 0x05;
    /// §2.8 undefined.
    pub const UNDEFINED: u8 = 0x06;
    /// §2.9 Reference: a u16 index of an earlier complex value.
    pub const REFERENCE: u8 = 0x07;
    /// §2.10 ECMA Array: a u32 count (a hint), then properties as in an object.
    pub const ECMA_ARRAY: u8 = 0x08;
    /// §2.11 Object End: follows the empty name that closes an object or ECMA array.
    pub const OBJECT_END: u8 = 0x09;
    /// §2.12 Strict Array: a u32 count, then that many values.
    pub const STRICT_ARRAY: u8 = 0x0A;
    /// §2.13 Date: a double (ms since the epoch), then an s16 time zone (reserved, 0).
    pub const DATE: u8 = 0x0B;
    /// §2.14 Long String: u32 length, UTF-8.
    pub const LONG_STRING: u8 = 0x0C;
    /// §2.15 Unsupported.
    pub const UNSUPPORTED: u8 = 0x0D;
    /// §2.17 XML Document: u32 length, UTF-8.
    pub const XML_DOCUMENT: u8 = 0x0F;
    /// §2.18 Typed Object: a class name (u16 length), then properties as in an object.
    pub const TYPED_OBJECT: u8 = 0x10;
    /// §3.1 AVM+ Object: the value that follows is AMF3.
    pub const AVMPLUS_OBJECT: u8 = 0x11;
}

/// One AMF0 value (AMF0 spec §2).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// §2.2 Number.
    Number(f64),
    /// §2.3 Boolean.
    Boolean(bool),
    /// §2.4 String, or §2.14 Long String when longer than 65,535 bytes (both decode to this).
    String(String),
    /// §2.5 Object (and §2.18 Typed Object, its class name dropped): properties in order.
    Object(Vec<(String, Value)>),
    /// §2.7 null.
    Null,
    /// §2.8 undefined (and §2.15 unsupported, when decoded).
    Undefined,
    /// §2.10 ECMA Array: properties in order.
    EcmaArray(Vec<(String, Value)>),
    /// §2.12 Strict Array.
    StrictArray(Vec<Value>),
    /// §2.13 Date: milliseconds since the Unix epoch, UTC.
    Date(f64),
    /// §2.17 XML Document.
    Xml(String),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An object from `(name, value)` pairs.
    pub fn object<K: Into<String>>(props: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(props.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The string inside a [`Value::String`] or [`Value::Xml`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Xml(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside a [`Value::Number`].
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The property `name` of an object or ECMA array (the first one, if repeated).
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(props) | Value::EcmaArray(props) => props.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string property `name` of an object, or `""`.
    pub fn get_str(&self, name: &str) -> &str {
        self.get(name).and_then(Value::as_str).unwrap_or("")
    }
}

/// Why bytes are not AMF0 this decoder reads.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends inside a value.
    #[error("AMF0: the input ends inside a value")]
    Truncated,
    /// A type marker this decoder does not read (§2.1; references and AMF3 included).
    #[error("AMF0: unsupported type marker 0x{0:02x}")]
    Marker(u8),
    /// Objects or arrays nested deeper than [`MAX_DEPTH`].
    #[error("AMF0: values nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// An object or ECMA array whose closing name is not followed by the Object End marker.
    #[error("AMF0: an object ends without the Object End marker (found 0x{0:02x})")]
    ObjectEnd(u8),
}

/// Appends the encoding of `value` (AMF0 spec §2).
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Number(n) => {
            out.push(marker::NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Boolean(b) => out.extend_from_slice(&[marker::BOOLEAN, u8::from(*b)]),
        Value::String(s) => match u16::try_from(s.len()) {
            Ok(len) => {
                out.push(marker::STRING);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Err(_) => {
                out.push(marker::LONG_STRING);
                encode_long_utf8(s, out);
            }
        },
        Value::Object(props) => {
            out.push(marker::OBJECT);
            encode_properties(props, out);
        }
        Value::Null => out.push(marker::NULL),
        Value::Undefined => out.push(marker::UNDEFINED),
        Value::EcmaArray(props) => {
            out.push(marker::ECMA_ARRAY);
            out.extend_from_slice(&saturating_u32(props.len()).to_be_bytes());
            encode_properties(props, out);
        }
        Value::StrictArray(values) => {
            out.push(marker::STRICT_ARRAY);
            out.extend_from_slice(&saturating_u32(values.len()).to_be_bytes());
            for v in values {
                encode(v, out);
            }
        }
        Value::Date(ms) => {
            out.push(marker::DATE);
            out.extend_from_slice(&ms.to_be_bytes());
            out.extend_from_slice(&0i16.to_be_bytes());
        }
        Value::Xml(s) => {
            out.push(marker::XML_DOCUMENT);
            encode_long_utf8(s, out);
        }
    }
}

/// Appends the encodings of `values`, one after another (how command messages carry them).
pub fn encode_all(values: &[Value], out: &mut Vec<u8>) {
    for v in values {
        encode(v, out);
    }
}

/// A UTF-8 string without a marker (§1.3 UTF-8): a u16 length, then the bytes. Names of
/// object properties are written this way. Longer names are cut at 65,535 bytes.
pub fn encode_utf8(s: &str, out: &mut Vec<u8>) {
    let bytes = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// §1.3 UTF-8-long: a u32 length, then the bytes.
fn encode_long_utf8(s: &str, out: &mut Vec<u8>) {
    let bytes = &s.as_bytes()[..s.len().min(u32::MAX as usize)];
    out.extend_from_slice(&saturating_u32(bytes.len()).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Properties of an object or ECMA array, then the empty name and Object End (§2.5).
fn encode_properties(props: &[(String, Value)], out: &mut Vec<u8>) {
    for (k, v) in props {
        encode_utf8(k, out);
        encode(v, out);
    }
    out.extend_from_slice(&[0, 0, marker::OBJECT_END]);
}

/// Decodes one value from the start of `input`; returns it and the bytes it took.
pub fn decode(input: &[u8]) -> Result<(Value, usize), Error> {
    let mut r = Reader { input, at: 0 };
    let v = r.value(0)?;
    Ok((v, r.at))
}

/// Decodes values until `input` ends (the body of a command message).
pub fn decode_all(input: &[u8]) -> Result<Vec<Value>, Error> {
    let mut r = Reader { input, at: 0 };
    let mut values = Vec::new();
    while r.at < input.len() {
        values.push(r.value(0)?);
    }
    Ok(values)
}

/// A cursor over the input.
struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let end = self.at.checked_add(n).ok_or(Error::Truncated)?;
        let bytes = self.input.get(self.at..end).ok_or(Error::Truncated)?;
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }

    /// Text of `len` bytes (invalid UTF-8 replaced: replies are read, not trusted).
    fn text(&mut self, len: usize) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        Ok(match self.u8()? {
            marker::NUMBER => Value::Number(self.f64()?),
            marker::BOOLEAN => Value::Boolean(self.u8()? != 0),
            marker::STRING => {
                let len = self.u16()?;
                Value::String(self.text(usize::from(len))?)
            }
            marker::OBJECT => Value::Object(self.properties(depth)?),
            marker::NULL => Value::Null,
            marker::UNDEFINED | marker::UNSUPPORTED => Value::Undefined,
            marker::ECMA_ARRAY => {
                let _count_hint = self.u32()?;
                Value::EcmaArray(self.properties(depth)?)
            }
            marker::STRICT_ARRAY => {
                let count = self.u32()?;
                // Each value takes at least one byte: a count beyond the input is a lie.
                if count as usize > self.input.len() - self.at {
                    return Err(Error::Truncated);
                }
                let mut values = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    values.push(self.value(depth + 1)?);
                }
                Value::StrictArray(values)
            }
            marker::DATE => {
                let ms = self.f64()?;
                let _time_zone = self.u16()?;
                Value::Date(ms)
            }
            marker::LONG_STRING => {
                let len = self.u32()?;
                Value::String(self.text(len as usize)?)
            }
            marker::XML_DOCUMENT => {
                let len = self.u32()?;
                Value::Xml(self.text(len as usize)?)
            }
            marker::TYPED_OBJECT => {
                let len = self.u16()?;
                let _class_name = self.take(usize::from(len))?;
                Value::Object(self.properties(depth)?)
            }
            other => return Err(Error::Marker(other)),
        })
    }

    /// Properties up to the empty name and Object End (§2.5).
    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Value)>, Error> {
        let mut props = Vec::new();
        loop {
            let len = self.u16()?;
            if len == 0 {
                return match self.u8()? {
                    marker::OBJECT_END => Ok(props),
                    other => Err(Error::ObjectEnd(other)),
                };
            }
            let name = self.text(usize::from(len))?;
            props.push((name, self.value(depth + 1)?));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_every_encodable_type() {
        let v = vec![
            Value::string("connect"),
            Value::Number(1.0),
            Value::object([
                ("app", Value::string("live")),
                ("fpad", Value::Boolean(false)),
                ("list", Value::StrictArray(vec![Value::string("hvc1"), Value::Null, Value::Undefined])),
                ("meta", Value::EcmaArray(vec![("width".into(), Value::Number(640.0))])),
                ("when", Value::Date(1.5e12)),
                ("doc", Value::Xml("<a/>".into())),
            ]),
            Value::String("x".repeat(70_000)),
        ];
        let mut bytes = Vec::new();
        encode_all(&v, &mut bytes);
        assert_eq!(decode_all(&bytes).unwrap(), v);
    }

    #[test]
    fn known_bytes() {
        let mut out = Vec::new();
        encode(&Value::object([("a", Value::Number(1.0))]), &mut out);
        assert_eq!(out, [3, 0, 1, b'a', 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(decode(&[]), Err(Error::Truncated));
        assert_eq!(decode(&[marker::STRING, 0, 5, b'a']), Err(Error::Truncated));
        assert_eq!(decode(&[marker::NUMBER, 0, 0]), Err(Error::Truncated));
        assert_eq!(decode(&[0x42]), Err(Error::Marker(0x42)));
        assert_eq!(decode(&[marker::REFERENCE, 0, 0]), Err(Error::Marker(marker::REFERENCE)));
        assert_eq!(decode(&[marker::OBJECT, 0, 0, 0x05]), Err(Error::ObjectEnd(5)));
        assert_eq!(decode(&[marker::STRICT_ARRAY, 0xff, 0xff, 0xff, 0xff]), Err(Error::Truncated));
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[marker::OBJECT, 0, 1, b'a']);
        }
        assert_eq!(decode(&deep), Err(Error::TooDeep));
    }
}
