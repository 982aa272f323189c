//! The one set of helpers of the end-to-end tests in tests/*.rs (`mod support;` in each): the
//! packager's (`package.rs`, `package_bad_input.rs`) and the node's (`ingest.rs`,
//! `ingest_s3.rs`, `rtmp.rs`, `worker.rs`, `www.rs`). Start a new test here.
//!
//! Everything runs real programs on 127.0.0.1 with ports picked at run time: the `rapidrtmp`
//! binary ([`cli`], [`node`]), ffmpeg publishing and ffmpeg/ffprobe checking what is made or
//! served ([`media`]), s3s-fs standing in for S3 ([`s3s`]). Each test owns its node, ports and
//! folders, so tests run in parallel; every child process is killed (by its PID) when its handle
//! drops.
//!
//! - [`cdn`]: nginx as a caching reverse proxy (the CDN stand-in);
//! - [`nginx_rtmp`]: nginx-rtmp recording what is published to it (a restream destination);
//! - [`proc`]: commands with a timeout, background processes, temp dirs, free ports, file lists;
//! - [`cli`]: running `rapidrtmp package` and checking its docs/cli.md error/warning contract;
//! - [`fixtures`]: the one fixture cache (`target/tmp/rapidrtmp-fixtures`, keyed by the ffmpeg
//!   command line and version): ffmpeg-made FLV fixtures and their edited (wrapped, truncated,
//!   jittered, late-header, broken) variants;
//! - [`flv`]: a minimal FLV tag reader/writer, to edit fixtures and count tags;
//! - [`hls`]: media and multivariant playlist parsing;
//! - [`mp4`]: strict decoding of every box we write (mp4-atom with `strict`) and the sample
//!   tables of each fragment;
//! - [`media`]: ffmpeg/ffprobe wrappers (stream info, decoded frame hashes, clean decodes), the
//!   node tests' clip and publishing it;
//! - [`checks`]: checks of a package output directory, and of what a node serves and stores;
//! - [`http`]: a minimal HTTP/1.1 client (std only);
//! - [`jwt`]: playback tokens signed by PyJWT, and what an edge answers each with;
//! - [`prom`]: a strict parser of the Prometheus text format;
//! - [`node`]: a `rapidrtmp serve` child process and its API;
//! - [`s3s`]: an s3s-fs child process standing in for S3;
//! - [`publisher`]: an RTMP publisher that sends a file's timestamps exactly (jitter included).
#![allow(dead_code)]

pub mod cdn;
pub mod checks;
pub mod cli;
pub mod fixtures;
pub mod flv;
pub mod hls;
pub mod http;
pub mod jwt;
pub mod media;
pub mod mp4;
pub mod nginx_rtmp;
pub mod node;
pub mod player;
pub mod proc;
pub mod prom;
pub mod publisher;
pub mod s3s;
