//! `rapidrtmp-load`: publishes N RTMP streams at once from one FLV file, in real time, for
//! benchmarks of RapidRTMP (and of other RTMP servers, such as nginx-rtmp, side by side).
//!
//! Every stream is one TCP connection driven by this crate's sans-IO [`Session`]: handshake,
//! `connect` to the application of `--url`, `releaseStream`, `FCPublish`, `createStream`,
//! `publish` (live), then the file's audio and video tag bodies, each sent when its timestamp
//! comes due, the file looped until `--duration`.
//! Stream starts are spread over `--ramp` seconds so that N copies of one file do not send
//! their keyframes in the same millisecond.
//!
//! With `--admin-key`, each stream first gets a publish token from the RapidRTMP API
//! (`POST /api/v1/publish`) and publishes `KEY?token=…`; without it the keys are plain.
//!
//! `--poll-playlist` measures how soon a segment is listed after the keyframe that closes it
//! arrives: it polls one stream's playlist (an `http://` URL or a file, e.g. nginx-rtmp's
//! `hls_path/KEY.m3u8`) every `--poll-interval-ms` and compares the time each new segment
//! appears with the send time of the last keyframe before it.
//!
//! `rapidrtmp-load viewers --url http://…/index.m3u8 --viewers N` is the other side: N
//! Low-Latency HLS viewers of one live stream (see the `viewers` module).
//!
//! `rapidrtmp-load archive --store DIR --hours 25` writes the index of a long synthetic archive
//! into a folder store, as the node's writer would have (see the `archive` module).

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use rapidrtmp_load::client::{Config, Event, Session};
use rapidrtmp_load::media::Media;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod archive;
mod http;
mod viewers;

use http::{parse_http_url, HttpConn, Response};

/// Time allowed for TCP connect, handshake, `connect` and `publish`.
const SETUP_TIMEOUT: Duration = Duration::from_secs(15);
/// A tag sent later than this behind its schedule counts as late.
const LATE_MS: f64 = 100.0;

/// Publishes N RTMP streams from one FLV file in real time, or (`viewers`) plays one live
/// LL-HLS stream as N viewers.
#[derive(Parser, Debug)]
#[command(
    name = "rapidrtmp-load",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    publish: Args,
}

/// What to load other than publishing.
#[derive(Subcommand, Debug)]
enum Mode {
    /// N Low-Latency HLS viewers of one live media playlist: blocking playlist reloads, the
    /// hinted part, every listed part; reports parts listed against delivered, errors and latency.
    Viewers(viewers::ViewersArgs),
    /// Writes the index (bucket parts, session record, manifest) of a long synthetic archive of
    /// one ended stream into a folder store, as the ingest node's writer leaves it.
    Archive(archive::ArchiveArgs),
}

/// Flags of publishing (no subcommand).
#[derive(clap::Args, Debug)]
struct Args {
    /// RTMP URL of the application to publish to.
    #[arg(long, default_value = "rtmp://127.0.0.1:1935/live")]
    url: String,
    /// Number of streams published at once.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// The FLV file to publish (H.264/AAC or anything else the server takes), looped.
    #[arg(long, required = true)]
    file: Option<PathBuf>,
    /// Seconds each stream publishes.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Stream keys are PREFIX-0, PREFIX-1, …
    #[arg(long, default_value = "load")]
    key_prefix: String,
    /// RapidRTMP admin key: fetch a publish token per stream from `--api`.
    #[arg(long, env = "RAPIDRTMP_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// RapidRTMP HTTP API base URL (with `--admin-key`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Seconds over which stream starts are spread evenly.
    #[arg(long, default_value_t = 2.0)]
    ramp: f64,
    /// Write the send time of every video keyframe to this file:
    /// `KEY UNIX_MS ELAPSED_MS RTMP_TIMESTAMP`, one a line (times after the write completed).
    #[arg(long)]
    keyframe_log: Option<PathBuf>,
    /// Poll this playlist (http://host:port/path or a file path) and measure segment listing latency.
    #[arg(long)]
    poll_playlist: Option<String>,
    /// Index of the stream whose keyframes the polled playlist belongs to.
    #[arg(long, default_value_t = 0)]
    poll_stream: usize,
    /// Poll period in milliseconds.
    #[arg(long, default_value_t = 10)]
    poll_interval_ms: u64,
    /// Write each new segment of the polled playlist: `UNIX_MS ELAPSED_MS URI`, one a line.
    #[arg(long)]
    poll_log: Option<PathBuf>,
    /// Runtime worker threads (1: a single-threaded runtime, leaving the other cores to the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Shared, read-only state of a run.
struct Shared {
    media: Media,
    host_port: String,
    app: String,
    tc_url: String,
    /// The origin of every `*_ms` elapsed time.
    t0: Instant,
    /// When the publishing starts.
    start: Instant,
    duration: Duration,
    ramp: Duration,
    streams: usize,
}

/// What one stream did.
#[derive(Default)]
struct StreamReport {
    key: String,
    connected: bool,
    bytes: u64,
    tags: u64,
    late_tags: u64,
    max_lag_ms: f64,
    error: Option<String>,
    /// Elapsed ms (since `t0`) at which each keyframe was written, with its RTMP timestamp.
    keyframes: Vec<(f64, u32)>,
    /// Elapsed ms at which the last tag was written.
    ended_ms: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.mode {
        Some(Mode::Viewers(v)) => v.threads,
        Some(Mode::Archive(_)) => 1,
        None => cli.publish.threads,
    };
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.mode {
        Some(Mode::Viewers(v)) => runtime.block_on(viewers::run(v)),
        Some(Mode::Archive(a)) => archive::run(a),
        None => runtime.block_on(run(cli.publish)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn elapsed_ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Runs the whole load; `Ok(false)` when some stream failed.
async fn run(args: Args) -> Result<bool, String> {
    if args.streams == 0 {
        return Err("--streams must be at least 1".into());
    }
    if args.duration.is_nan() || args.duration <= 0.0 || args.ramp.is_nan() || args.ramp < 0.0 {
        return Err("--duration must be positive and --ramp not negative".into());
    }
    let (host_port, app) = parse_rtmp_url(&args.url)?;
    let file = args.file.as_ref().ok_or("--file is required")?;
    let data = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let media = Media::from_flv(Bytes::from(data)).map_err(|e| format!("{}: {e}", file.display()))?;
    let keys: Vec<String> = (0..args.streams).map(|i| format!("{}-{i}", args.key_prefix)).collect();

    // Publish names: plain keys, or KEY?token=T from the API.
    let mut names = Vec::with_capacity(keys.len());
    match &args.admin_key {
        Some(admin) => {
            let api = parse_http_url(&args.api)?;
            for key in &keys {
                names.push(format!("{key}?token={}", fetch_token(&api, admin, key).await?));
            }
        }
        None => names.clone_from(&keys),
    }

    let t0 = Instant::now();
    let shared = Arc::new(Shared {
        media,
        host_port,
        app,
        tc_url: args.url.trim_end_matches('/').to_string(),
        t0,
        start: t0 + Duration::from_millis(200),
        duration: Duration::from_secs_f64(args.duration),
        ramp: Duration::from_secs_f64(args.ramp),
        streams: args.streams,
    });
    eprintln!(
        "publishing {} streams of {} ({} tags, {:.1} s a pass) to {} for {:.0} s",
        args.streams,
        file.display(),
        shared.media.tags.len(),
        f64::from(shared.media.period) / 1000.0,
        args.url,
        args.duration
    );

    let poller = args.poll_playlist.as_ref().map(|target| {
        let target = target.clone();
        let interval = Duration::from_millis(args.poll_interval_ms.max(1));
        // Poll until the polled stream has ended (plus a second for its last segment).
        let stop =
            stream_start(&shared, args.poll_stream.min(args.streams - 1)) + shared.duration + Duration::from_secs(1);
        tokio::spawn(poll_playlist(target, interval, t0, stop))
    });

    let mut tasks = Vec::with_capacity(args.streams);
    for (i, (key, name)) in keys.into_iter().zip(names).enumerate() {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut report = StreamReport { key, ..Default::default() };
            if let Err(e) = publish(&shared, i, &name, &mut report).await {
                report.error = Some(e);
            }
            report.ended_ms = if report.ended_ms > 0.0 { report.ended_ms } else { elapsed_ms(shared.t0) };
            report
        }));
    }
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        reports.push(t.await.map_err(|e| format!("a stream task failed: {e}"))?);
    }
    let appearances = match poller {
        Some(p) => Some(p.await.map_err(|e| format!("the poller failed: {e}"))?),
        None => None,
    };

    if let Some(path) = &args.keyframe_log {
        write_keyframe_log(path, &reports, t0).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }

    // The summary.
    let connected = reports.iter().filter(|r| r.connected).count();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let tags: u64 = reports.iter().map(|r| r.tags).sum();
    let late: u64 = reports.iter().map(|r| r.late_tags).sum();
    let max_lag = reports.iter().map(|r| r.max_lag_ms).fold(0.0, f64::max);
    let mut errors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &reports {
        if let Some(e) = &r.error {
            errors.entry(e.as_str()).or_default().push(&r.key);
        }
    }
    let error_count: usize = errors.values().map(Vec::len).sum();
    let secs = shared.duration.as_secs_f64();
    println!("streams connected: {connected}/{}", args.streams);
    println!("bytes sent: {bytes} ({:.1} Mbit/s over {secs:.0} s), tags sent: {tags}", bytes as f64 * 8.0 / secs / 1e6);
    println!("publish errors: {error_count}");
    for (e, ks) in &errors {
        let shown: Vec<_> = ks.iter().take(5).copied().collect();
        println!("  {} stream(s) [{}{}]: {e}", ks.len(), shown.join(", "), if ks.len() > 5 { ", …" } else { "" });
    }
    println!("pacing: {late} tags sent more than {LATE_MS:.0} ms behind schedule; max lag {max_lag:.0} ms");
    let mut summary = format!(
        "RESULT streams={} connected={connected} errors={error_count} bytes={bytes} tags={tags} late_tags={late} max_lag_ms={max_lag:.0}",
        args.streams
    );

    if let Some(appearances) = appearances {
        let polled = &reports[args.poll_stream.min(reports.len() - 1)];
        if let Some(path) = &args.poll_log {
            write_poll_log(path, &appearances, t0).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let mut lat = listing_latencies(&appearances, polled);
        if lat.is_empty() {
            println!("segment listing latency: no segment of {} was seen closing", polled.key);
            summary.push_str(" seg_n=0");
        } else {
            lat.sort_by(f64::total_cmp);
            let (med, p95, max) = (percentile(&lat, 50.0), percentile(&lat, 95.0), lat[lat.len() - 1]);
            println!(
                "segment listing latency of {} (closing keyframe sent → segment listed, polled every {} ms): \
                 n={} median={med:.0} ms p95={p95:.0} ms max={max:.0} ms",
                polled.key,
                args.poll_interval_ms,
                lat.len()
            );
            summary.push_str(&format!(
                " seg_n={} seg_median_ms={med:.0} seg_p95_ms={p95:.0} seg_max_ms={max:.0}",
                lat.len()
            ));
        }
    }
    println!("{summary}");
    Ok(error_count == 0)
}

/// `rtmp://host[:port]/app[/…]` → (`host:port`, `app`).
fn parse_rtmp_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("rtmp://").ok_or_else(|| format!("--url {url}: expected rtmp://host[:port]/app"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let app = path.trim_matches('/').to_string();
    if authority.is_empty() || app.is_empty() {
        return Err(format!("--url {url}: expected rtmp://host[:port]/app"));
    }
    let host_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_string()
    } else {
        format!("{authority}:1935")
    };
    Ok((host_port, app))
}

fn stream_start(shared: &Shared, i: usize) -> Instant {
    let offset =
        if shared.streams > 1 { shared.ramp.mul_f64(i as f64 / shared.streams as f64) } else { Duration::ZERO };
    shared.start + offset
}

/// Connects, handshakes and asks to publish `name`; returns the socket and the session, publishing.
async fn setup(shared: &Shared, name: &str) -> Result<(TcpStream, Session), String> {
    let mut socket = TcpStream::connect(&shared.host_port).await.map_err(|e| format!("connect: {e}"))?;
    let _ = socket.set_nodelay(true);
    let mut buf = vec![0u8; 16 << 10];
    let mut session = Session::new(Config::new(shared.app.clone(), shared.tc_url.clone()));
    let mut publish_requested = false;
    loop {
        while let Some(event) = session.next_event() {
            match event {
                Event::HandshakeDone => session.connect().map_err(|e| format!("connect request: {e}"))?,
                Event::Connected(_) => {
                    session.release_stream(name).map_err(|e| format!("releaseStream: {e}"))?;
                    session.fc_publish(name).map_err(|e| format!("FCPublish: {e}"))?;
                    session.create_stream().map_err(|e| format!("createStream: {e}"))?;
                }
                Event::StreamCreated(_) => {
                    publish_requested = true;
                    session.publish(name, "live").map_err(|e| format!("publish request: {e}"))?;
                }
                Event::PublishStarted(_) => {
                    let out = session.take_output();
                    if !out.is_empty() {
                        socket.write_all(&out).await.map_err(|e| format!("write: {e}"))?;
                    }
                    return Ok((socket, session));
                }
                Event::Refused { command: "connect", status } => return Err(format!("connect rejected: {status}")),
                Event::Refused { status, .. } => return Err(format!("publish refused: {status}")),
                _ => {}
            }
        }
        let out = session.take_output();
        if !out.is_empty() {
            socket.write_all(&out).await.map_err(|e| format!("write: {e}"))?;
        }
        let n = socket.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(if publish_requested {
                "server closed the connection after the publish request (refused?)".into()
            } else if session.handshake_done() {
                "server closed the connection after connect".into()
            } else {
                "server closed the connection during the handshake".into()
            });
        }
        session.feed(&buf[..n]).map_err(|e| format!("RTMP from the server: {e}"))?;
    }
}

/// Publishes stream `index` under `name` until the duration is over.
async fn publish(shared: &Shared, index: usize, name: &str, report: &mut StreamReport) -> Result<(), String> {
    let start = stream_start(shared, index);
    tokio::time::sleep_until(start.into()).await;
    let (mut socket, mut session) = tokio::time::timeout(SETUP_TIMEOUT, setup(shared, name))
        .await
        .map_err(|_| format!("no publish acceptance within {SETUP_TIMEOUT:?}"))??;
    report.connected = true;

    // Media time 0 is when publishing was accepted (not the scheduled start: setup takes time).
    let origin = Instant::now();
    let end = origin + shared.duration;
    let tags = &shared.media.tags;
    let mut pass: u64 = 0;
    let mut next = 0usize;
    let mut buf = vec![0u8; 4096];
    let mut keyframes_in_batch: Vec<u32> = Vec::new();
    loop {
        let tag = &tags[next];
        let media_ms = pass * u64::from(shared.media.period) + u64::from(tag.time);
        let due = origin + Duration::from_millis(media_ms);
        if due >= end {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            r = socket.read(&mut buf) => {
                let n = r.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err(format!("server closed the connection after {:.1} s of publishing", origin.elapsed().as_secs_f64()));
                }
                session.feed(&buf[..n]).map_err(|e| format!("RTMP from the server: {e}"))?;
                while let Some(event) = session.next_event() {
                    if let Some(code) = event.status().map(|s| s.code) {
                        if code.contains("Error") || code.contains("Failed") || code.contains("Unpublish") {
                            return Err(format!("server sent {code}"));
                        }
                    }
                }
                let replies = session.take_output();
                if !replies.is_empty() {
                    socket.write_all(&replies).await.map_err(|e| format!("write: {e}"))?;
                }
                continue;
            }
        }
        // Send every tag that is due now, in one write.
        let now = Instant::now();
        loop {
            let tag = &tags[next];
            let media_ms = pass * u64::from(shared.media.period) + u64::from(tag.time);
            let due = origin + Duration::from_millis(media_ms);
            if due > now || due >= end {
                break;
            }
            if !(pass > 0 && tag.sequence_header) {
                // RTMP timestamps are milliseconds modulo 2^32.
                let ts = media_ms as u32;
                if tag.video { session.video(ts, &tag.body) } else { session.audio(ts, &tag.body) }
                    .map_err(|e| format!("publish: {e}"))?;
                report.tags += 1;
                if tag.video && tag.keyframe && !tag.sequence_header {
                    keyframes_in_batch.push(media_ms as u32);
                }
            }
            next += 1;
            if next == tags.len() {
                next = 0;
                pass += 1;
            }
        }
        if !session.output().is_empty() {
            socket.write_all(session.output()).await.map_err(|e| format!("write: {e}"))?;
            report.bytes += session.output().len() as u64;
            session.clear_output();
        }
        let sent = Instant::now();
        let sent_ms = sent.duration_since(shared.t0).as_secs_f64() * 1000.0;
        for ts in keyframes_in_batch.drain(..) {
            report.keyframes.push((sent_ms, ts));
        }
        // Lag of the earliest tag of this batch.
        let lag = sent.saturating_duration_since(due).as_secs_f64() * 1000.0;
        if lag > LATE_MS {
            report.late_tags += 1;
        }
        report.max_lag_ms = report.max_lag_ms.max(lag);
        report.ended_ms = sent_ms;
    }
    // Unpublish politely, then close.
    if session.fc_unpublish(name).and_then(|()| session.delete_stream()).is_ok() {
        let _ = socket.write_all(&session.take_output()).await;
    }
    let _ = socket.shutdown().await;
    Ok(())
}

/// Asks the RapidRTMP API for a publish token for `key`.
async fn fetch_token(api: &(String, String), admin: &str, key: &str) -> Result<String, String> {
    let (host_port, base) = api;
    let path = format!("{}/api/v1/publish", base.trim_end_matches('/'));
    let body = format!("{{\"streamKey\":\"{key}\",\"ttlSeconds\":3600}}");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_port}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut conn = HttpConn::new(host_port.clone());
    let Response { status, body, .. } =
        conn.exchange(request.as_bytes()).await.map_err(|e| format!("token for {key}: {e}"))?;
    if status != 200 && status != 201 {
        return Err(format!("token for {key}: HTTP {status}: {}", String::from_utf8_lossy(&body).trim()));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("token for {key}: response is not JSON: {e}"))?;
    json.get("token")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("token for {key}: no \"token\" in the response"))
}

/// Polls a playlist until `stop`; returns (elapsed ms, URI) of each segment, when first seen.
async fn poll_playlist(target: String, interval: Duration, t0: Instant, stop: Instant) -> Vec<(f64, String)> {
    let http = target.starts_with("http://");
    let (mut conn, path) = match parse_http_url(&target) {
        Ok((host_port, path)) if http => (Some(HttpConn::new(host_port)), path),
        _ => (None, target.clone()),
    };
    let request = conn.as_ref().map(|c| c.get_request(&path));
    let mut seen: HashSet<String> = HashSet::new();
    let mut appearances = Vec::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < stop {
        tick.tick().await;
        let text = match (&mut conn, &request) {
            (Some(c), Some(req)) => match c.exchange(req).await {
                Ok(Response { status: 200, body, .. }) => String::from_utf8_lossy(&body).into_owned(),
                _ => continue,
            },
            _ => match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(_) => continue,
            },
        };
        let at = elapsed_ms(t0);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if seen.insert(line.to_string()) {
                appearances.push((at, line.to_string()));
            }
        }
    }
    appearances
}

/// For each segment that appeared while its stream was publishing: the time from the last
/// keyframe sent before it appeared (the keyframe that closed it) to its appearance.
fn listing_latencies(appearances: &[(f64, String)], stream: &StreamReport) -> Vec<f64> {
    let mut out = Vec::new();
    let mut used = HashSet::new();
    for (at, _) in appearances {
        if *at > stream.ended_ms {
            continue;
        }
        // The first keyframe opens the first segment; later ones close the previous segment.
        let closing = stream.keyframes.iter().enumerate().skip(1).rev().find(|(_, (t, _))| t <= at);
        if let Some((i, (t, _))) = closing {
            if used.insert(i) {
                out.push(at - t);
            }
        }
    }
    out
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn write_keyframe_log(path: &PathBuf, reports: &[StreamReport], t0: Instant) -> std::io::Result<()> {
    let base = unix_ms() - elapsed_ms(t0);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in reports {
        for (t, ts) in &r.keyframes {
            writeln!(f, "{} {:.3} {t:.3} {ts}", r.key, base + t)?;
        }
    }
    f.flush()
}

fn write_poll_log(path: &PathBuf, appearances: &[(f64, String)], t0: Instant) -> std::io::Result<()> {
    let base = unix_ms() - elapsed_ms(t0);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (t, uri) in appearances {
        writeln!(f, "{:.3} {t:.3} {uri}", base + t)?;
    }
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_rtmp_url("rtmp://127.0.0.1:1936/live").unwrap(), ("127.0.0.1:1936".into(), "live".into()));
        assert_eq!(parse_rtmp_url("rtmp://host/live/").unwrap(), ("host:1935".into(), "live".into()));
        assert!(parse_rtmp_url("http://host/live").is_err());
        assert_eq!(parse_http_url("http://127.0.0.1:8080").unwrap(), ("127.0.0.1:8080".into(), "/".into()));
        assert_eq!(
            parse_http_url("http://h:1/live/a/index.m3u8").unwrap(),
            ("h:1".into(), "/live/a/index.m3u8".into())
        );
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 95.0), 10.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
    }

    #[test]
    fn latency_uses_the_last_keyframe_before_a_segment_appears() {
        let report = StreamReport {
            keyframes: vec![(100.0, 0), (2100.0, 2000), (4100.0, 4000)],
            ended_ms: 5000.0,
            ..Default::default()
        };
        let seen = vec![(2130.0, "a".to_string()), (4150.0, "b".to_string()), (5100.0, "c".to_string())];
        assert_eq!(listing_latencies(&seen, &report), vec![30.0, 50.0]);
    }
}
