//! `rapidrtmp-load viewers`: N Low-Latency HLS viewers of one live playlist, each one tokio task
//! that follows the playlist the way an LL-HLS player does (RFC 8216bis §6.2.5–§6.2.6,
//! §6.3.7): a plain GET of the playlist first, then in a loop a blocking playlist reload for the
//! next part (`_HLS_msn`, `_HLS_part`) together with a GET of the part its preload hint names,
//! then a GET of every part the new playlist lists that the viewer has not got yet. Each viewer
//! has two keep-alive HTTP/1.1 connections: one for playlists, one for parts.
//!
//! It reports the parts listed (after the first playlist) against the parts delivered per
//! viewer (a part is missed when it was listed and never answered with a 200), the errors by
//! request kind and status, and the latency of playlist reloads, hinted parts and listed parts.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::http::{parse_http_url, HttpConn};
use crate::percentile;

/// Wait after a failed request (a connection error, or a status without `Retry-After`) before
/// the viewer asks again.
const ERROR_BACKOFF: Duration = Duration::from_millis(200);
/// Longest `Retry-After` honoured; a larger one is waited this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Times a listed part is asked for before it counts as missed (each after [`ERROR_BACKOFF`]).
const PART_ATTEMPTS: u32 = 3;

/// Flags of `rapidrtmp-load viewers`.
#[derive(Args, Debug)]
pub struct ViewersArgs {
    /// The live media playlist, `http://host:port/live/KEY/index.m3u8`.
    #[arg(long)]
    pub url: String,
    /// Number of viewers at once.
    #[arg(long, default_value_t = 1000)]
    pub viewers: usize,
    /// Seconds each viewer follows the stream (then it stops asking for more).
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Seconds over which viewer starts are spread evenly.
    #[arg(long, default_value_t = 2.0)]
    pub ramp: f64,
    /// Runtime worker threads (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// What a live media playlist says to a viewer.
#[derive(Debug, Default, PartialEq)]
pub struct LivePlaylist {
    /// Every part listed (`EXT-X-PART` URIs), in order.
    pub parts: Vec<String>,
    /// The next part (`EXT-X-PRELOAD-HINT:TYPE=PART`), if any.
    pub hint: Option<String>,
    /// Media sequence number of the segment after the last complete one (the open segment).
    pub next_msn: u64,
    /// Number of parts listed of the open segment: the index of the next part.
    pub next_part: u64,
    /// `EXT-X-ENDLIST`: the stream has ended.
    pub ended: bool,
}

/// The value of `NAME=` in an attribute list (quoted or not).
fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], quoted[end + 1..].trim_start_matches(','))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        if key.trim() == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

/// Reads a live media playlist (RFC 8216bis §4.4.4.9 `EXT-X-PART`, §4.4.5.3
/// `EXT-X-PRELOAD-HINT`, §4.4.3.2 `EXT-X-MEDIA-SEQUENCE`).
pub fn parse_live_playlist(text: &str) -> Result<LivePlaylist, String> {
    if !text.starts_with("#EXTM3U") {
        return Err("not a playlist (no #EXTM3U)".into());
    }
    let mut out = LivePlaylist::default();
    let mut sequence = 0u64;
    let mut segments = 0u64;
    let mut open_parts = 0u64;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = v.parse().map_err(|_| format!("bad EXT-X-MEDIA-SEQUENCE {v:?}"))?;
        } else if let Some(list) = line.strip_prefix("#EXT-X-PART:") {
            let uri = attribute(list, "URI").ok_or_else(|| format!("EXT-X-PART without URI: {line}"))?;
            out.parts.push(uri.to_string());
            open_parts += 1;
        } else if let Some(list) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
            if attribute(list, "TYPE") == Some("PART") {
                out.hint = attribute(list, "URI").map(str::to_string);
            }
        } else if line == "#EXT-X-ENDLIST" {
            out.ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            segments += 1;
            open_parts = 0;
        }
    }
    out.next_msn = sequence + segments;
    out.next_part = open_parts;
    Ok(out)
}

/// The request path of `uri` as listed in the playlist at `playlist_path`.
fn resolve(playlist_path: &str, uri: &str) -> String {
    if uri.starts_with('/') {
        return uri.to_string();
    }
    if let Some(rest) = uri.strip_prefix("http://") {
        return rest.find('/').map_or_else(|| "/".to_string(), |i| rest[i..].to_string());
    }
    let path = playlist_path.split('?').next().unwrap_or(playlist_path);
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{dir}{uri}")
}

/// Latencies (ms) of one kind of request.
#[derive(Default)]
struct Latencies(Vec<f64>);

impl Latencies {
    fn add(&mut self, since: Instant) {
        self.0.push(since.elapsed().as_secs_f64() * 1000.0);
    }
}

/// What one viewer did.
#[derive(Default)]
struct ViewerReport {
    /// Got the first playlist.
    started: bool,
    /// Parts listed after the first playlist.
    listed: u64,
    /// Of those, parts answered with a 200.
    delivered: u64,
    /// Bytes of parts received.
    part_bytes: u64,
    /// Requests sent.
    requests: u64,
    /// Failed requests by "kind status" (`playlist 503`, `part 404`, `hint error`).
    errors: BTreeMap<String, u64>,
    playlist_ms: Latencies,
    hint_ms: Latencies,
    part_ms: Latencies,
}

impl ViewerReport {
    fn error(&mut self, kind: &str, status: Option<u16>) {
        let key = match status {
            Some(s) => format!("{kind}:{s}"),
            None => format!("{kind}:io"),
        };
        *self.errors.entry(key).or_default() += 1;
    }
}

/// Read-only settings of a run.
struct Shared {
    host_port: String,
    path: String,
    start: Instant,
    ramp: Duration,
    duration: Duration,
    viewers: usize,
}

/// Runs the viewers; `Ok(false)` when a part was missed or a viewer never started.
pub async fn run(args: ViewersArgs) -> Result<bool, String> {
    if args.viewers == 0 {
        return Err("--viewers must be at least 1".into());
    }
    if args.duration.is_nan() || args.duration <= 0.0 || args.ramp.is_nan() || args.ramp < 0.0 {
        return Err("--duration must be positive and --ramp not negative".into());
    }
    let (host_port, path) = parse_http_url(&args.url)?;
    let shared = Arc::new(Shared {
        host_port,
        path,
        start: Instant::now(),
        ramp: Duration::from_secs_f64(args.ramp),
        duration: Duration::from_secs_f64(args.duration),
        viewers: args.viewers,
    });
    eprintln!(
        "{} viewers of {} for {:.0} s (starts spread over {:.1} s)",
        args.viewers, args.url, args.duration, args.ramp
    );
    let tasks: Vec<_> = (0..args.viewers)
        .map(|i| {
            let shared = shared.clone();
            tokio::spawn(async move { view(&shared, i).await })
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        reports.push(t.await.map_err(|e| format!("a viewer task failed: {e}"))?);
    }
    let wall = shared.start.elapsed().as_secs_f64();
    Ok(summarize(&reports, args.viewers, wall))
}

/// Prints the summary and the RESULT line; true when every viewer started and no part was missed.
fn summarize(reports: &[ViewerReport], viewers: usize, wall: f64) -> bool {
    let started = reports.iter().filter(|r| r.started).count();
    let listed: u64 = reports.iter().map(|r| r.listed).sum();
    let delivered: u64 = reports.iter().map(|r| r.delivered).sum();
    let missed = listed - delivered;
    let missing_viewers = reports.iter().filter(|r| r.delivered < r.listed).count();
    let min_listed = reports.iter().filter(|r| r.started).map(|r| r.listed).min().unwrap_or(0);
    let max_listed = reports.iter().map(|r| r.listed).max().unwrap_or(0);
    let bytes: u64 = reports.iter().map(|r| r.part_bytes).sum();
    let requests: u64 = reports.iter().map(|r| r.requests).sum();
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    for r in reports {
        for (k, n) in &r.errors {
            *errors.entry(k.as_str()).or_default() += n;
        }
    }
    let error_count: u64 = errors.values().sum();
    // (count, p50, p99) in ms; "-" when there is none.
    let stats = |pick: fn(&ViewerReport) -> &Latencies| {
        let mut all: Vec<f64> = reports.iter().flat_map(|r| pick(r).0.iter().copied()).collect();
        all.sort_by(f64::total_cmp);
        if all.is_empty() {
            (0, "-".to_string(), "-".to_string())
        } else {
            (all.len(), format!("{:.1}", percentile(&all, 50.0)), format!("{:.1}", percentile(&all, 99.0)))
        }
    };
    let (pl_n, pl50, pl99) = stats(|r| &r.playlist_ms);
    let (hint_n, hint50, hint99) = stats(|r| &r.hint_ms);
    let (part_n, part50, part99) = stats(|r| &r.part_ms);
    println!("viewers started: {started}/{viewers}");
    println!(
        "parts listed: {listed} (per viewer {min_listed}..{max_listed}), delivered: {delivered}, missed: {missed} \
         ({missing_viewers} viewers missed some)"
    );
    println!(
        "requests: {requests} ({:.0}/s), part bytes: {bytes} ({:.2} Gbit/s)",
        requests as f64 / wall,
        bytes as f64 * 8.0 / wall / 1e9
    );
    println!(
        "latency ms p50/p99: playlist reload {pl50}/{pl99} (n={pl_n}), hinted part {hint50}/{hint99} \
         (n={hint_n}), listed part {part50}/{part99} (n={part_n})"
    );
    println!("errors: {error_count}");
    for (k, n) in &errors {
        println!("  {k}: {n}");
    }
    let by_status: Vec<String> = errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "RESULT viewers={viewers} started={started} listed={listed} delivered={delivered} missed={missed} \
         missing_viewers={missing_viewers} min_listed={min_listed} max_listed={max_listed} requests={requests} \
         part_bytes={bytes} errors={error_count} errors_by_status={} playlist_p50_ms={pl50} \
         playlist_p99_ms={pl99} hint_p50_ms={hint50} hint_p99_ms={hint99} part_p50_ms={part50} \
         part_p99_ms={part99} wall_s={wall:.1}",
        if by_status.is_empty() { "-".to_string() } else { by_status.join(",") }
    );
    started == viewers && missed == 0
}

/// The time to wait after a failed answer.
fn backoff(retry_after: Option<u64>) -> Duration {
    retry_after.map_or(ERROR_BACKOFF, |s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

/// One viewer, from its start to the end of the run.
async fn view(shared: &Shared, index: usize) -> ViewerReport {
    let mut report = ViewerReport::default();
    let offset =
        if shared.viewers > 1 { shared.ramp.mul_f64(index as f64 / shared.viewers as f64) } else { Duration::ZERO };
    tokio::time::sleep_until((shared.start + offset).into()).await;
    let end = Instant::now() + shared.duration;
    let mut playlists = HttpConn::new(shared.host_port.clone());
    let mut parts = HttpConn::new(shared.host_port.clone());

    // The first playlist: what it lists is the starting point, not counted.
    let mut playlist = loop {
        if Instant::now() >= end {
            return report;
        }
        report.requests += 1;
        let t = Instant::now();
        match playlists.exchange(&playlists.get_request(&shared.path)).await {
            Ok(r) if r.status == 200 => match parse_live_playlist(&String::from_utf8_lossy(&r.body)) {
                Ok(p) => {
                    report.playlist_ms.add(t);
                    break p;
                }
                Err(_) => report.error("playlist", Some(200)),
            },
            Ok(r) => {
                report.error("playlist", Some(r.status));
                tokio::time::sleep(backoff(r.retry_after)).await;
                continue;
            }
            Err(_) => report.error("playlist", None),
        }
        tokio::time::sleep(ERROR_BACKOFF).await;
    };
    report.started = true;
    let mut known: HashSet<String> = playlist.parts.iter().cloned().collect();
    // Parts got through the preload hint before the playlist listed them.
    let mut hinted: HashSet<String> = HashSet::new();
    loop {
        // Every part listed for the first time is asked for, unless its hint brought it already.
        for uri in &playlist.parts {
            if !known.insert(uri.clone()) {
                continue;
            }
            report.listed += 1;
            if hinted.remove(uri) {
                report.delivered += 1;
                continue;
            }
            let request = parts.get_request(&resolve(&shared.path, uri));
            for attempt in 1..=PART_ATTEMPTS {
                report.requests += 1;
                let t = Instant::now();
                match parts.exchange(&request).await {
                    Ok(r) if r.status == 200 => {
                        report.part_ms.add(t);
                        report.part_bytes += r.body.len() as u64;
                        report.delivered += 1;
                        break;
                    }
                    Ok(r) => {
                        report.error("part", Some(r.status));
                        if attempt < PART_ATTEMPTS {
                            tokio::time::sleep(backoff(r.retry_after)).await;
                        }
                    }
                    Err(_) => {
                        report.error("part", None);
                        if attempt < PART_ATTEMPTS {
                            tokio::time::sleep(ERROR_BACKOFF).await;
                        }
                    }
                }
            }
        }
        if playlist.ended || Instant::now() >= end {
            return report;
        }

        // The blocking reload for the next part, and the hinted part, at once.
        let sep = if shared.path.contains('?') { '&' } else { '?' };
        let reload = format!("{}{sep}_HLS_msn={}&_HLS_part={}", shared.path, playlist.next_msn, playlist.next_part);
        let reload = playlists.get_request(&reload);
        let hint = playlist.hint.clone().filter(|h| !known.contains(h) && !hinted.contains(h));
        let hint_request = hint.as_ref().map(|h| parts.get_request(&resolve(&shared.path, h)));
        let t = Instant::now();
        let playlist_fut = async {
            let r = playlists.exchange(&reload).await;
            (r, t.elapsed())
        };
        let hint_fut = async {
            match &hint_request {
                Some(req) => Some((parts.exchange(req).await, t.elapsed())),
                None => None,
            }
        };
        let ((answer, playlist_took), hint_answer) = tokio::join!(playlist_fut, hint_fut);
        report.requests += 1;
        if let (Some(uri), Some((answer, took))) = (hint, hint_answer) {
            report.requests += 1;
            match answer {
                Ok(r) if r.status == 200 => {
                    report.hint_ms.0.push(took.as_secs_f64() * 1000.0);
                    report.part_bytes += r.body.len() as u64;
                    hinted.insert(uri);
                }
                // Not fatal: the part is asked for again when a playlist lists it.
                Ok(r) => report.error("hint", Some(r.status)),
                Err(_) => report.error("hint", None),
            }
        }
        match answer {
            Ok(r) if r.status == 200 => match parse_live_playlist(&String::from_utf8_lossy(&r.body)) {
                Ok(p) => {
                    report.playlist_ms.0.push(playlist_took.as_secs_f64() * 1000.0);
                    playlist = p;
                }
                Err(_) => {
                    report.error("playlist", Some(200));
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            },
            Ok(r) => {
                report.error("playlist", Some(r.status));
                tokio::time::sleep(backoff(r.retry_after)).await;
            }
            Err(_) => {
                report.error("playlist", None);
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-PART-INF:PART-TARGET=0.333\n#EXT-X-MEDIA-SEQUENCE:4\n\
        #EXT-X-MAP:URI=\"17/init-1.mp4\"\n\
        #EXT-X-PART:DURATION=0.300,URI=\"17/4.0.m4s\",INDEPENDENT=YES\n\
        #EXT-X-PART:DURATION=0.200,URI=\"17/4.1.m4s\"\n#EXTINF:0.5,\n17/4.m4s\n\
        #EXT-X-PART:DURATION=0.300,URI=\"17/5.0.m4s\",INDEPENDENT=YES\n\
        #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"17/5.1.m4s\"\n";

    #[test]
    fn a_live_playlist_gives_its_parts_and_the_next_part() {
        let p = parse_live_playlist(LIVE).unwrap();
        assert_eq!(p.parts, ["17/4.0.m4s", "17/4.1.m4s", "17/5.0.m4s"]);
        assert_eq!(p.hint.as_deref(), Some("17/5.1.m4s"));
        assert_eq!((p.next_msn, p.next_part, p.ended), (5, 1, false));
    }

    #[test]
    fn at_a_segment_boundary_the_next_part_is_the_first_of_the_next_segment() {
        let text = LIVE
            .replace("#EXT-X-PART:DURATION=0.300,URI=\"17/5.0.m4s\",INDEPENDENT=YES\n", "")
            .replace("5.1.m4s", "5.0.m4s");
        let p = parse_live_playlist(&text).unwrap();
        assert_eq!((p.next_msn, p.next_part), (5, 0));
        assert_eq!(p.hint.as_deref(), Some("17/5.0.m4s"));
    }

    #[test]
    fn an_ended_playlist_says_so_and_garbage_is_refused() {
        assert!(parse_live_playlist(&format!("{LIVE}#EXT-X-ENDLIST\n")).unwrap().ended);
        assert!(parse_live_playlist("<html>").is_err());
        assert!(parse_live_playlist("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n").is_err());
        assert!(parse_live_playlist("#EXTM3U\n#EXT-X-PART:DURATION=1\n").is_err());
    }

    #[test]
    fn uris_resolve_against_the_playlist() {
        assert_eq!(resolve("/live/a/index.m3u8", "17/4.0.m4s"), "/live/a/17/4.0.m4s");
        assert_eq!(resolve("/live/a/index.m3u8?t=1", "17/4.0.m4s"), "/live/a/17/4.0.m4s");
        assert_eq!(resolve("/live/a/index.m3u8", "/x/1.m4s"), "/x/1.m4s");
        assert_eq!(resolve("/live/a/index.m3u8", "http://h:1/y/2.m4s"), "/y/2.m4s");
        assert_eq!(attribute("TYPE=PART,URI=\"a,b\"", "URI"), Some("a,b"));
    }
}
