//! The RTMP layer of RapidRTMP: a sans-IO server session for publishers, and a client session
//! that publishes to another server (restreaming). Bytes in, events and
//! reply bytes out; no socket, clock or randomness inside (the caller passes a seed), so the
//! same code runs in the node and under a fuzzer.
//!
//! | layer | module | specification |
//! |---|---|---|
//! | handshake | [`handshake`] | Adobe RTMP 1.0 §5.2; the digest handshake of Flash Player 9+ |
//! | chunk streams | [`chunk`] | RTMP 1.0 §5.3 (per-chunk-stream reassembly, extended timestamps) |
//! | messages | [`message`] | RTMP 1.0 §5.4 (protocol control), §6.2 and §7.1 (message types, user control) |
//! | client | [`client`] | the same layers, publishing to a server (RTMP 1.0 §7.2.1.1, §7.2.2.6; Enhanced RTMP v2 `connect`) |
//! | commands | [`session`] | RTMP 1.0 §7.2 (NetConnection, NetStream); AMF0 (Adobe, 2007); Enhanced RTMP v2 `connect` |
//!
//! Every size a peer controls is bounded by a constant in [`limits`], checked before anything is
//! allocated for it.
#![no_std]
#![deny(unsafe_code)]
// No silent narrowing: a number a peer sent is converted with a check that returns an error.
#![deny(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
#![warn(missing_docs)]

extern crate alloc;

pub mod chunk;
pub mod client;
mod command;
mod control;
mod error;
pub mod handshake;
pub mod limits;
pub mod message;
pub mod session;

pub use client::{ClientConfig, ClientEvent, ClientSession, ConnectAnswer};
pub use error::Error;
pub use session::{Config, Connect, Event, ServerSession, StreamRequest};
