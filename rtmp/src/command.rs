//! AMF0 command messages (RTMP 1.0 §7.2): the NetConnection and NetStream commands encoders
//! send, and the replies a server writes. AMF3 command messages (type 17) are AMF0 after a
//! format byte of 0 (§7.1.1), which is how every encoder sends them.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rapidrtmp_core::flv::{Amf0Value, FlvError};

use crate::limits::Limit;
use crate::Error;

/// A command: its name, transaction id, command object and further arguments (§7.1.1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Command {
    pub name: String,
    pub transaction: f64,
    pub object: Amf0Value,
    pub args: Vec<Amf0Value>,
}

impl Command {
    /// Reads a command message body.
    pub(crate) fn parse(mut body: &[u8]) -> Result<Self, Error> {
        let mut values = Vec::new();
        while !body.is_empty() {
            let (v, used) = Amf0Value::read(body).map_err(|e| match e {
                FlvError::AmfTooDeep => Error::limit(Limit::AmfDepth, "a command nests AMF0 values deeper"),
                e => Error::protocol(format!("malformed AMF0 in a command: {e}")),
            })?;
            values.push(v);
            body = &body[used..];
        }
        let mut values = values.into_iter();
        let name = match values.next() {
            Some(Amf0Value::String(s)) => s,
            _ => return Err(Error::protocol("a command message that does not start with its name")),
        };
        let transaction = match values.next() {
            Some(Amf0Value::Number(n)) => n,
            _ => 0.0,
        };
        let object = values.next().unwrap_or(Amf0Value::Null);
        Ok(Self { name, transaction, object, args: values.collect() })
    }

    /// The first argument after the command object, as a string (a stream name).
    pub(crate) fn string_arg(&self, i: usize) -> Option<&str> {
        match self.args.get(i) {
            Some(Amf0Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The argument `i` as a number (a stream id).
    pub(crate) fn number_arg(&self, i: usize) -> Option<f64> {
        match self.args.get(i) {
            Some(Amf0Value::Number(n)) => Some(*n),
            _ => None,
        }
    }
}

/// A property of an AMF0 object.
pub(crate) fn property<'a>(object: &'a Amf0Value, key: &str) -> Option<&'a Amf0Value> {
    match object {
        Amf0Value::Object(props) => props.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// A string property.
pub(crate) fn string_property(object: &Amf0Value, key: &str) -> Option<String> {
    match property(object, key) {
        Some(Amf0Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Writes a command message body: name, transaction id, then the values.
pub(crate) fn write(name: &str, transaction: f64, values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    Amf0Value::String(name.to_string()).write(&mut out);
    Amf0Value::Number(transaction).write(&mut out);
    for v in values {
        v.write(&mut out);
    }
    out
}

/// An information object (`level`, `code`, `description`, …) of `_result`, `_error` and
/// `onStatus` (§7.2.1.1, §7.2.2).
pub(crate) fn info(level: &str, code: &str, description: &str, extra: Vec<(String, Amf0Value)>) -> Amf0Value {
    let mut props = alloc::vec![
        ("level".to_string(), Amf0Value::String(level.to_string())),
        ("code".to_string(), Amf0Value::String(code.to_string())),
        ("description".to_string(), Amf0Value::String(description.to_string())),
    ];
    props.extend(extra);
    Amf0Value::Object(props)
}

use alloc::format;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_reads_back_what_was_written() {
        let body = write(
            "publish",
            5.0,
            &[Amf0Value::Null, Amf0Value::String("cam".into()), Amf0Value::String("live".into())],
        );
        let c = Command::parse(&body).unwrap();
        assert_eq!(c.name, "publish");
        assert_eq!(c.transaction, 5.0);
        assert_eq!(c.object, Amf0Value::Null);
        assert_eq!(c.string_arg(0), Some("cam"));
        assert_eq!(c.string_arg(1), Some("live"));
    }

    #[test]
    fn malformed_amf_and_nameless_commands_are_errors() {
        assert!(Command::parse(&[0x02, 0xFF, 0xFF, b'a']).is_err());
        assert!(Command::parse(&[0x00, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let mut deep = alloc::vec![0x02, 0, 1, b'x', 0, 0, 0, 0, 0, 0, 0, 0, 0];
        deep.extend(core::iter::repeat_n([0x0A, 0, 0, 0, 1], 10_000).flatten());
        assert!(matches!(Command::parse(&deep), Err(Error::Limit { limit: Limit::AmfDepth, .. })));
    }
}
