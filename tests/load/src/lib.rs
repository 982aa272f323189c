//! An RTMP publisher of our own, written from the specifications, for tests and benchmarks of
//! RTMP servers: the load generator `rapidrtmp-load` and the RTMP tests of the ingest node
//! (`tests/rtmp.rs`), which also use it to send what no encoder sends.
//!
//! | layer | module | specification |
//! |---|---|---|
//! | handshake | [`handshake`] | Adobe RTMP 1.0 §5.2 (simple handshake) |
//! | chunk stream | [`chunk`] | Adobe RTMP 1.0 §5.3 (chunk format, header types 0–3, extended timestamps), §5.4.1–§5.4.2 |
//! | messages | [`message`] | Adobe RTMP 1.0 §5.4 (protocol control), §6 (message format, user control), §7.1 (types) |
//! | AMF0 | [`amf0`] | Adobe AMF0 (2007) §2 |
//! | commands, session | [`client`] | Adobe RTMP 1.0 §7.2 (`connect`, `createStream`, `publish`, `deleteStream`); Enhanced RTMP v2 (`fourCcList`) |
//! | media | [`media`] | Adobe FLV (Video File Format Spec v10.1, annex E); Enhanced RTMP v2 |
//!
//! [`client::Session`] is sans-IO (bytes in, events and bytes out); [`client::Client`] drives
//! one over a blocking TCP socket.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod amf0;
pub mod chunk;
pub mod client;
pub mod handshake;
pub mod media;
pub mod message;
