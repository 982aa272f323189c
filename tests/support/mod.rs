//! Helpers of the ingest node's end-to-end tests (`tests/ingest.rs`, `tests/ingest_s3.rs`).
//!
//! Everything runs real peers on 127.0.0.1 with ports picked at run time: the `rapidrtmp` node
//! ([`node`]), ffmpeg publishing and ffmpeg/ffprobe checking what is served ([`media`]), s3s-fs
//! standing in for S3 ([`s3s`]). Each test owns its node, ports and folders, so tests run in
//! parallel; every child process is killed (by its PID) when its handle drops.
//!
//! - [`proc`]: commands with a timeout, background processes, temp dirs, free ports;
//! - [`http`]: a minimal HTTP/1.1 client (std only);
//! - [`hls`]: media playlist parsing;
//! - [`prom`]: a strict parser of the Prometheus text format;
//! - [`media`]: the test clip (made once by ffmpeg, cached) and the ffmpeg/ffprobe checks;
//! - [`node`]: a `rapidrtmp serve` child process and its API;
//! - [`checks`]: the checks shared by the local-folder and S3 tests;
//! - [`publisher`]: an RTMP publisher that sends a file's timestamps exactly (jitter included).
#![allow(dead_code)]

pub mod checks;
pub mod hls;
pub mod http;
pub mod media;
pub mod node;
pub mod proc;
pub mod prom;
pub mod publisher;
pub mod s3s;
