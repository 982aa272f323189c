//! `rapidrtmp serve` settings: each one a flag, an environment variable and a config-file key
//! (flags win over the environment, which wins over the file).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use rapidrtmp_core::clip::DEFAULT_MAX_CLIP;
use serde::Deserialize;

use crate::publish_hook::{Fallback, HookSettings, PublishAuth, DEFAULT_HOOK_TIMEOUT, MAX_HOOK_TIMEOUT};

/// Most HTTP connections from one address unless set: a quarter of the node's cap, so that no
/// one client can take them all, and at most this.
pub const DEFAULT_MAX_HTTP_CONNECTIONS_PER_IP: usize = 1024;

/// The HTTP connections one address may hold under a cap of `max_http`, unless set.
pub fn http_per_ip_cap(max_http: usize) -> usize {
    (max_http / 4).clamp(1, DEFAULT_MAX_HTTP_CONNECTIONS_PER_IP)
}

/// Flags of `rapidrtmp serve`.
#[derive(Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys as the flags, with `_`: `rtmp_addr = …`).
    #[arg(long, env = "RAPIDRTMP_CONFIG")]
    pub config: Option<PathBuf>,
    /// RTMP listen address [default: 0.0.0.0:1935].
    #[arg(long, env = "RAPIDRTMP_RTMP_ADDR")]
    pub rtmp_addr: Option<SocketAddr>,
    /// RTMPS listen address (RTMP over TLS, e.g. `0.0.0.0:1936`), with the certificate of
    /// `--tls-cert` and `--tls-key` [default: none, no RTMPS].
    #[arg(long, env = "RAPIDRTMP_RTMPS_ADDR")]
    pub rtmps_addr: Option<SocketAddr>,
    /// HTTP listen address (API, metrics, HLS, web page) [default: 0.0.0.0:8080]. HTTP/1.1 and
    /// HTTP/2 (h2c); HTTPS (h2 or HTTP/1.1 by ALPN) with `--tls-cert` and `--tls-key`.
    #[arg(long, env = "RAPIDRTMP_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// TLS certificate chain (PEM) for HTTPS on the HTTP address and for RTMPS; needs
    /// `--tls-key`. Reloaded when the file changes (a renewal in place).
    #[arg(long, env = "RAPIDRTMP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for `--tls-cert`.
    #[arg(long, env = "RAPIDRTMP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Folder for the admin key and, with the default store, the stream objects [default: ./data].
    #[arg(long, env = "RAPIDRTMP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Admin API key (Bearer token). Unset: generated at first start and kept in the data dir.
    #[arg(long, env = "RAPIDRTMP_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Object store: `s3://bucket/prefix`, or a folder path [default: the data dir].
    #[arg(long, env = "RAPIDRTMP_STORE")]
    pub store: Option<String>,
    /// S3 endpoint URL for non-AWS services (R2, GCS, MinIO, s3s-fs) [default: AWS].
    #[arg(long, env = "RAPIDRTMP_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region [default: AWS_REGION, else us-east-1; R2 uses `auto`].
    #[arg(long, env = "RAPIDRTMP_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style S3 URLs (bucket in the path), as most non-AWS services want [default: false].
    #[arg(long, env = "RAPIDRTMP_S3_PATH_STYLE")]
    pub s3_path_style: Option<bool>,
    /// Target segment duration in seconds; segments cut at the first keyframe after it [default: 2].
    #[arg(long, env = "RAPIDRTMP_SEGMENT_DURATION")]
    pub segment_duration: Option<f64>,
    /// Segments listed in the live playlist [default: 10].
    #[arg(long, env = "RAPIDRTMP_LIVE_WINDOW")]
    pub live_window: Option<usize>,
    /// Low-Latency HLS part duration in seconds: the built-in edge lists parts of the open
    /// segment and answers blocking playlist requests; 0 turns LL-HLS off [default: 0.333].
    #[arg(long, env = "RAPIDRTMP_PART_DURATION")]
    pub part_duration: Option<f64>,
    /// Seconds to keep chunks after they leave the live window; 0 keeps them forever [default: 0].
    #[arg(long, env = "RAPIDRTMP_RETENTION")]
    pub retention: Option<u64>,
    /// Seconds a stream whose publisher dropped off stays live, for it to reconnect [default: 10].
    #[arg(long, env = "RAPIDRTMP_RECONNECT_GRACE")]
    pub reconnect_grace: Option<u64>,
    /// Seconds a node's ownership of a live stream lasts unless renewed; another node may take
    /// the stream over only once it has expired (the owner died) [default: 30].
    #[arg(long, env = "RAPIDRTMP_OWNER_LEASE")]
    pub owner_lease: Option<u64>,
    /// MiB of closed chunks one stream may have waiting for the store before its publisher is
    /// read more slowly [default: 64].
    #[arg(long, env = "RAPIDRTMP_STREAM_BACKLOG_MB")]
    pub stream_backlog_mb: Option<u64>,
    /// MiB of closed chunks all streams together may have waiting for the store [default: 512].
    #[arg(long, env = "RAPIDRTMP_NODE_BACKLOG_MB")]
    pub node_backlog_mb: Option<u64>,
    /// Most simultaneous RTMP connections, RTMPS ones included [default: 1000].
    #[arg(long, env = "RAPIDRTMP_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most simultaneous RTMP and RTMPS connections from one IP address [default: 100].
    #[arg(long, env = "RAPIDRTMP_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Most simultaneous HTTP connections [default: what the open-file limit leaves after the
    /// RTMP connections and the store, at most 4096].
    #[arg(long, env = "RAPIDRTMP_MAX_HTTP_CONNECTIONS")]
    pub max_http_connections: Option<usize>,
    /// Most simultaneous HTTP connections from one IP address (an IPv6 /64) [default: a quarter
    /// of `--max-http-connections`, at most 1024].
    #[arg(long, env = "RAPIDRTMP_MAX_HTTP_CONNECTIONS_PER_IP")]
    pub max_http_connections_per_ip: Option<usize>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "RAPIDRTMP_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Longest clip (`/live/{stream}/clip.mp4`), in seconds (1 to 86400) [default: 600].
    #[arg(long, env = "RAPIDRTMP_MAX_CLIP")]
    pub max_clip: Option<u64>,
    /// Size of the edge's cache of built answers, in MiB (segments, parts, init segments;
    /// playlists for their `max-age`); `0` keeps nothing (concurrent requests still share one
    /// build) [default: 64].
    #[arg(long, env = "RAPIDRTMP_CACHE_MB")]
    pub cache_mb: Option<u64>,
    /// Memory the clips being built and sent may hold between them, in MiB (1 to 65536): their
    /// stored chunks. A clip larger than it is refused (400); one that does not fit beside the
    /// clips being sent gets a 503 with `Retry-After` [default: 256].
    #[arg(long, env = "RAPIDRTMP_CLIP_MEMORY_MB")]
    pub clip_memory_mb: Option<u64>,
    /// The publish authorization hook: an `http://` URL the node POSTs
    /// `{streamKey, clientAddr, query}` to before it lets a publish in (the query string carries
    /// the publish token); a 2xx answer allows, any other refuses with its body as the reason
    /// [default: none].
    #[arg(long, env = "RAPIDRTMP_PUBLISH_AUTH_URL")]
    pub publish_auth_url: Option<String>,
    /// Which checks a publish goes through: `token` (the publish token, then the hook when one
    /// is set) or `only-hook` (the hook alone, no token asked for) [default: token].
    #[arg(long, env = "RAPIDRTMP_PUBLISH_AUTH")]
    pub publish_auth: Option<String>,
    /// Seconds the publish authorization hook has to answer [default: 3].
    #[arg(long, env = "RAPIDRTMP_PUBLISH_AUTH_TIMEOUT")]
    pub publish_auth_timeout: Option<f64>,
    /// What a publish gets when the hook cannot be reached or does not answer in time: `refuse`
    /// or `allow` [default: refuse].
    #[arg(long, env = "RAPIDRTMP_PUBLISH_AUTH_FALLBACK")]
    pub publish_auth_fallback: Option<String>,
    /// A webhook endpoint: an `http://` URL every stream event of this node is POSTed to,
    /// signed per Standard Webhooks with `--webhook-secret` [default: none; more endpoints
    /// through the API].
    #[arg(long, env = "RAPIDRTMP_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// The signing secret of `--webhook-url`: `whsec_` and the base64 of 24 to 64 bytes.
    #[arg(long, env = "RAPIDRTMP_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Seconds before a failed webhook delivery is tried again the first time; it doubles with
    /// each failure, up to an hour [default: 5].
    #[arg(long, env = "RAPIDRTMP_WEBHOOK_RETRY_MIN")]
    pub webhook_retry_min: Option<f64>,
    /// Playback of every stream without a setting of its own: `public` or `signed` (a token
    /// needed). Written to the store's playback policy at start, so every edge applies it
    /// [default: the store's, public when unset].
    #[arg(long, env = "RAPIDRTMP_PLAYBACK", value_parser = ["public", "signed"])]
    pub playback: Option<String>,
    /// Length of the time bucket of child URI signatures, in seconds (1 to 3600): a signed
    /// playlist's child URIs hold for one to two of them. Written to the store's playback
    /// policy at start [default: the store's, 60 when unset].
    #[arg(long, env = "RAPIDRTMP_PLAYBACK_URI_BUCKET")]
    pub playback_uri_bucket: Option<u64>,
    /// Restreaming: outputs of every stream, and the CAs trusted for `rtmps://` outputs.
    #[command(flatten)]
    pub restream: crate::restream::settings::RestreamArgs,
}

/// The config file: the same settings, all optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    rtmp_addr: Option<SocketAddr>,
    rtmps_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    admin_key: Option<String>,
    store: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_path_style: Option<bool>,
    segment_duration: Option<f64>,
    live_window: Option<usize>,
    part_duration: Option<f64>,
    retention: Option<u64>,
    reconnect_grace: Option<u64>,
    owner_lease: Option<u64>,
    stream_backlog_mb: Option<u64>,
    node_backlog_mb: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    max_http_connections: Option<usize>,
    max_http_connections_per_ip: Option<usize>,
    log_format: Option<String>,
    cache_mb: Option<u64>,
    clip_memory_mb: Option<u64>,
    max_clip: Option<u64>,
    publish_auth_url: Option<String>,
    publish_auth: Option<String>,
    publish_auth_timeout: Option<f64>,
    publish_auth_fallback: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    webhook_retry_min: Option<f64>,
}

/// The longest `--max-clip` taken, seconds: a day (a clip's chunks are held in memory while
/// it is written).
pub const MAX_CLIP_LIMIT_S: u64 = 86_400;

/// `--max-clip {seconds}` (1 to [`MAX_CLIP_LIMIT_S`]) in milliseconds.
pub fn max_clip_ms(seconds: u64) -> anyhow::Result<u64> {
    match seconds {
        1..=MAX_CLIP_LIMIT_S => Ok(seconds * 1000),
        _ => bail!("--max-clip {seconds}: expected 1 to {MAX_CLIP_LIMIT_S} seconds"),
    }
}

/// The bytes of `--cache-mb {mb}` (0 to [`MAX_CACHE_MB`](crate::http::cache::MAX_CACHE_MB)).
pub fn cache_bytes(mb: u64) -> anyhow::Result<usize> {
    let max = crate::http::cache::MAX_CACHE_MB;
    match usize::try_from(mb).ok().and_then(|mb| mb.checked_mul(1 << 20)) {
        Some(bytes) if mb <= max => Ok(bytes),
        _ => bail!("--cache-mb {mb}: expected 0 (off) to {max} MiB"),
    }
}

/// The bytes of `--clip-memory-mb {mb}` (1 to
/// [`MAX_CLIP_MEMORY_MB`](crate::http::clips::MAX_CLIP_MEMORY_MB)).
pub fn clip_memory_bytes(mb: u64) -> anyhow::Result<u64> {
    let max = crate::http::clips::MAX_CLIP_MEMORY_MB;
    match mb {
        1.. if mb <= max => Ok(mb << 20),
        _ => bail!("--clip-memory-mb {mb}: expected 1 to {max} MiB"),
    }
}

/// Where stream objects go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSetting {
    /// A local folder.
    Folder(PathBuf),
    /// An S3 URL `s3://bucket/prefix`.
    S3(String),
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// RTMP listen address.
    pub rtmp_addr: SocketAddr,
    /// RTMPS listen address, if RTMPS is on (then [`Settings::tls`] is set).
    pub rtmps_addr: Option<SocketAddr>,
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// TLS certificate chain and key files (PEM): HTTPS instead of HTTP, and RTMPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Data folder.
    pub data_dir: PathBuf,
    /// Admin key, if configured.
    pub admin_key: Option<String>,
    /// Object store.
    pub store: StoreSetting,
    /// S3 endpoint.
    pub s3_endpoint: Option<String>,
    /// S3 region.
    pub s3_region: Option<String>,
    /// Path-style S3 URLs.
    pub s3_path_style: bool,
    /// Target segment duration.
    pub segment_duration: Duration,
    /// Live window, segments.
    pub live_window: usize,
    /// LL-HLS part duration; `None`: LL-HLS off.
    pub part_duration: Option<Duration>,
    /// Retention after the live window; `None` keeps chunks forever.
    pub retention: Option<Duration>,
    /// How long a dropped publisher's stream stays live for it to reconnect.
    pub reconnect_grace: Duration,
    /// How long a node's ownership of a stream lasts unless renewed.
    pub owner_lease: Duration,
    /// Bytes of closed chunks one stream may have waiting for the store.
    pub stream_backlog: usize,
    /// Bytes of closed chunks all streams may have waiting for the store.
    pub node_backlog: usize,
    /// Most RTMP connections.
    pub max_connections: usize,
    /// Most RTMP connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Most HTTP connections; `None`: derived from the open-file limit at start.
    pub max_http_connections: Option<usize>,
    /// Most HTTP connections from one IP address; `None`: [`http_per_ip_cap`] of the cap.
    pub max_http_connections_per_ip: Option<usize>,
    /// JSON logs.
    pub json_logs: bool,
    /// Longest clip, milliseconds.
    pub max_clip_ms: u64,
    /// Bytes of the edge's cache of built answers (0: none kept).
    pub cache_bytes: usize,
    /// Bytes of stored chunks the clips being built and sent may hold between them.
    pub clip_memory_bytes: u64,
    /// Which checks a publish goes through.
    pub publish_auth: PublishAuth,
    /// The publish authorization hook, if one is set.
    pub publish_hook: Option<HookSettings>,
    /// Webhooks.
    pub webhooks: crate::webhooks::settings::WebhookSettings,
    /// `--playback`: the store's default playback, set at start.
    pub playback: Option<rapidrtmp_core::edge::auth::Playback>,
    /// `--playback-uri-bucket`, seconds, set in the store's policy at start.
    pub playback_uri_bucket: Option<u64>,
    /// Restreaming.
    pub restream: crate::restream::settings::RestreamSettings,
}

impl ServeArgs {
    /// Resolves flags, environment, config file and defaults.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str::<FileSettings>(&text).with_context(|| format!("{}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let (publish_auth, publish_hook) = publish_auth(&self, &file)?;
        let webhooks = webhooks(&self, &file)?;
        let data_dir = self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./data"));
        let store = match self.store.or(file.store) {
            Some(s) if s.starts_with("s3://") => StoreSetting::S3(s),
            Some(s) if s.contains("://") => {
                bail!("--store {s}: expected s3://bucket/prefix or a folder path")
            }
            Some(s) => StoreSetting::Folder(PathBuf::from(s)),
            None => StoreSetting::Folder(data_dir.clone()),
        };
        let segment_duration = self.segment_duration.or(file.segment_duration).unwrap_or(2.0);
        if !(0.1..=60.0).contains(&segment_duration) {
            bail!("--segment-duration {segment_duration}: expected 0.1 to 60 seconds");
        }
        let live_window = self.live_window.or(file.live_window).unwrap_or(10);
        if !(1..=rapidrtmp_core::manifest::MAX_WINDOW).contains(&live_window) {
            bail!("--live-window {live_window}: expected 1 to 1000 segments");
        }
        let part_duration = self.part_duration.or(file.part_duration).unwrap_or(0.333);
        if part_duration != 0.0 && !(0.05..=segment_duration).contains(&part_duration) {
            bail!("--part-duration {part_duration}: expected 0 (off) or 0.05 seconds up to the segment duration");
        }
        let tls = match (self.tls_cert.or(file.tls_cert), self.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        };
        let rtmps_addr = self.rtmps_addr.or(file.rtmps_addr);
        if let (Some(addr), None) = (rtmps_addr, &tls) {
            bail!("--rtmps-addr {addr}: RTMPS needs a certificate, --tls-cert and --tls-key");
        }
        let log_format = self.log_format.or(file.log_format).unwrap_or_else(|| "text".into());
        let json_logs = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("--log-format {other}: expected text or json"),
        };
        let owner_lease = self.owner_lease.or(file.owner_lease).unwrap_or(30);
        if !(2..=3600).contains(&owner_lease) {
            bail!("--owner-lease {owner_lease}: expected 2 to 3600 seconds");
        }
        let mib = |v: Option<u64>, name: &str, default: u64| -> anyhow::Result<usize> {
            let v = v.unwrap_or(default);
            if !(1..=65_536).contains(&v) {
                bail!("--{name} {v}: expected 1 to 65536 MiB");
            }
            Ok((v as usize) << 20)
        };
        let stream_backlog = mib(self.stream_backlog_mb.or(file.stream_backlog_mb), "stream-backlog-mb", 64)?;
        let node_backlog = mib(self.node_backlog_mb.or(file.node_backlog_mb), "node-backlog-mb", 512)?;
        let admin_key = self.admin_key.or(file.admin_key).filter(|k| !k.is_empty());
        if admin_key.as_ref().is_some_and(|k| k.len() < 16) {
            bail!("--admin-key: use at least 16 characters");
        }
        Ok(Settings {
            rtmp_addr: self.rtmp_addr.or(file.rtmp_addr).unwrap_or(([0, 0, 0, 0], 1935).into()),
            rtmps_addr,
            http_addr: self.http_addr.or(file.http_addr).unwrap_or(([0, 0, 0, 0], 8080).into()),
            tls,
            data_dir,
            admin_key,
            store,
            s3_endpoint: self.s3_endpoint.or(file.s3_endpoint),
            s3_region: self.s3_region.or(file.s3_region),
            s3_path_style: self.s3_path_style.or(file.s3_path_style).unwrap_or(false),
            segment_duration: Duration::from_secs_f64(segment_duration),
            live_window,
            part_duration: (part_duration > 0.0).then(|| Duration::from_secs_f64(part_duration)),
            retention: self.retention.or(file.retention).filter(|&s| s > 0).map(Duration::from_secs),
            reconnect_grace: Duration::from_secs(self.reconnect_grace.or(file.reconnect_grace).unwrap_or(10).min(3600)),
            owner_lease: Duration::from_secs(owner_lease),
            stream_backlog,
            node_backlog,
            max_connections: self.max_connections.or(file.max_connections).unwrap_or(1000).max(1),
            max_connections_per_ip: self.max_connections_per_ip.or(file.max_connections_per_ip).unwrap_or(100).max(1),
            max_http_connections: self.max_http_connections.or(file.max_http_connections).map(|n| n.max(1)),
            max_http_connections_per_ip: self
                .max_http_connections_per_ip
                .or(file.max_http_connections_per_ip)
                .map(|n| n.max(1)),
            json_logs,
            max_clip_ms: max_clip_ms(self.max_clip.or(file.max_clip).unwrap_or(DEFAULT_MAX_CLIP / 1000))?,
            cache_bytes: cache_bytes(self.cache_mb.or(file.cache_mb).unwrap_or(crate::http::cache::DEFAULT_CACHE_MB))?,
            clip_memory_bytes: clip_memory_bytes(
                self.clip_memory_mb.or(file.clip_memory_mb).unwrap_or(crate::http::clips::DEFAULT_CLIP_MEMORY_MB),
            )?,
            publish_auth,
            publish_hook,
            webhooks,
            restream: self.restream.resolve()?,
            playback: match self.playback.as_deref() {
                None => None,
                Some("signed") => Some(rapidrtmp_core::edge::auth::Playback::Signed),
                Some("public") => Some(rapidrtmp_core::edge::auth::Playback::Public),
                Some(other) => anyhow::bail!("--playback {other}: public or signed"),
            },
            playback_uri_bucket: self.playback_uri_bucket,
        })
    }
}

/// The webhook settings of the flags, else of the file.
fn webhooks(args: &ServeArgs, file: &FileSettings) -> anyhow::Result<crate::webhooks::settings::WebhookSettings> {
    use crate::webhooks::settings::{WebhookSettings, DEFAULT_RETRY_MIN, MAX_RETRY_DELAY};
    use crate::webhooks::sign::Secret;
    let url = args.webhook_url.clone().or_else(|| file.webhook_url.clone()).filter(|u| !u.is_empty());
    let secret = args.webhook_secret.clone().or_else(|| file.webhook_secret.clone()).filter(|s| !s.is_empty());
    let flag_endpoint = match (url, secret) {
        (Some(url), Some(secret)) => {
            let url = crate::local_http::Url::parse(&url).context("--webhook-url")?;
            let secret = Secret::parse(&secret).map_err(|e| anyhow::anyhow!("--webhook-secret: {e}"))?;
            Some((url, secret))
        }
        (None, None) => None,
        _ => bail!("--webhook-url and --webhook-secret go together"),
    };
    let retry_min = match args.webhook_retry_min.or(file.webhook_retry_min) {
        None => DEFAULT_RETRY_MIN,
        Some(s) if (0.05..=MAX_RETRY_DELAY.as_secs_f64()).contains(&s) => Duration::from_secs_f64(s),
        Some(s) => bail!("--webhook-retry-min {s}: expected 0.05 to {} seconds", MAX_RETRY_DELAY.as_secs()),
    };
    Ok(WebhookSettings { flag_endpoint, retry_min })
}

/// The publish checks and hook of the flags, else of the file.
fn publish_auth(args: &ServeArgs, file: &FileSettings) -> anyhow::Result<(PublishAuth, Option<HookSettings>)> {
    let pick = |flag: &Option<String>, key: &Option<String>| flag.clone().or_else(|| key.clone());
    let auth = match pick(&args.publish_auth, &file.publish_auth).as_deref() {
        None | Some("token") => PublishAuth::Token,
        Some("only-hook") => PublishAuth::OnlyHook,
        Some(other) => bail!("--publish-auth {other}: expected token or only-hook"),
    };
    let fallback = match pick(&args.publish_auth_fallback, &file.publish_auth_fallback).as_deref() {
        None | Some("refuse") => Fallback::Refuse,
        Some("allow") => Fallback::Allow,
        Some(other) => bail!("--publish-auth-fallback {other}: expected refuse or allow"),
    };
    let timeout = match args.publish_auth_timeout.or(file.publish_auth_timeout) {
        None => DEFAULT_HOOK_TIMEOUT,
        Some(s) if (0.1..=MAX_HOOK_TIMEOUT.as_secs_f64()).contains(&s) => Duration::from_secs_f64(s),
        Some(s) => bail!("--publish-auth-timeout {s}: expected 0.1 to {} seconds", MAX_HOOK_TIMEOUT.as_secs()),
    };
    let hook = match pick(&args.publish_auth_url, &file.publish_auth_url).filter(|u| !u.is_empty()) {
        Some(url) => {
            let url = crate::local_http::Url::parse(&url).context("--publish-auth-url")?;
            Some(HookSettings { url, timeout, fallback })
        }
        None if auth == PublishAuth::OnlyHook => bail!("--publish-auth only-hook needs --publish-auth-url"),
        None => None,
    };
    Ok((auth, hook))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = ServeArgs::default().resolve().unwrap();
        assert_eq!(s.rtmp_addr.to_string(), "0.0.0.0:1935");
        assert_eq!(s.http_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.store, StoreSetting::Folder("./data".into()));
        assert_eq!((s.segment_duration, s.live_window, s.retention), (Duration::from_secs(2), 10, None));
        assert_eq!(s.cache_bytes, 64 << 20);
        assert_eq!((s.rtmps_addr, s.tls), (None, None));
    }

    #[test]
    fn rtmps_needs_a_certificate() {
        let addr = Some("127.0.0.1:1936".parse().unwrap());
        let err = ServeArgs { rtmps_addr: addr, ..Default::default() }.resolve().unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "--rtmps-addr 127.0.0.1:1936: RTMPS needs a certificate, --tls-cert and --tls-key"
        );
        let (cert, key) = (Some(PathBuf::from("c.pem")), Some(PathBuf::from("k.pem")));
        let s = ServeArgs { rtmps_addr: addr, tls_cert: cert, tls_key: key, ..Default::default() }.resolve().unwrap();
        assert_eq!(s.rtmps_addr, addr);
        let path = std::env::temp_dir().join(format!("rapidrtmp-rtmps-{}.toml", std::process::id()));
        std::fs::write(&path, "rtmps_addr = \"0.0.0.0:1936\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap();
        let s = ServeArgs { config: Some(path.clone()), ..Default::default() }.resolve().unwrap();
        std::fs::remove_file(path).unwrap();
        assert_eq!(s.rtmps_addr, Some("0.0.0.0:1936".parse().unwrap()));
    }

    #[test]
    fn the_cache_size_is_mib_from_0_to_its_limit() {
        let clip = |s| ServeArgs { max_clip: s, ..Default::default() }.resolve().map(|s| s.max_clip_ms);
        assert_eq!(clip(None).unwrap(), 600_000);
        assert_eq!(clip(Some(5)).unwrap(), 5_000);
        assert_eq!(format!("{:#}", clip(Some(0)).unwrap_err()), "--max-clip 0: expected 1 to 86400 seconds");
        let resolve = |mb| ServeArgs { cache_mb: Some(mb), ..Default::default() }.resolve().map(|s| s.cache_bytes);
        assert_eq!(resolve(0).unwrap(), 0, "off");
        assert_eq!(resolve(256).unwrap(), 256 << 20);
        assert_eq!(resolve(65_536).unwrap(), 65_536 << 20);
        let err = resolve(65_537).unwrap_err();
        assert_eq!(format!("{err:#}"), "--cache-mb 65537: expected 0 (off) to 65536 MiB");
        assert!(resolve(u64::MAX).is_err());
    }

    #[test]
    fn the_clip_memory_is_mib_from_1_to_its_limit() {
        let resolve =
            |mb| ServeArgs { clip_memory_mb: mb, ..Default::default() }.resolve().map(|s| s.clip_memory_bytes);
        assert_eq!(resolve(None).unwrap(), 256 << 20);
        assert_eq!(resolve(Some(1)).unwrap(), 1 << 20);
        assert_eq!(resolve(Some(65_536)).unwrap(), 65_536 << 20);
        assert_eq!(format!("{:#}", resolve(Some(0)).unwrap_err()), "--clip-memory-mb 0: expected 1 to 65536 MiB");
        assert!(resolve(Some(65_537)).is_err() && resolve(Some(u64::MAX)).is_err());
    }

    #[test]
    fn the_publish_hook_is_off_unless_a_url_is_set_and_only_hook_needs_one() {
        let s = ServeArgs::default().resolve().unwrap();
        assert_eq!(s.publish_auth, PublishAuth::Token);
        assert!(s.publish_hook.is_none());
        let url = Some("http://127.0.0.1:9/auth".to_string());
        let args = ServeArgs { publish_auth_url: url.clone(), ..Default::default() };
        let hook = args.resolve().unwrap().publish_hook.unwrap();
        assert_eq!((hook.timeout, hook.fallback), (DEFAULT_HOOK_TIMEOUT, Fallback::Refuse));
        let only = Some("only-hook".to_string());
        let err = ServeArgs { publish_auth: only.clone(), ..Default::default() }.resolve().unwrap_err();
        assert_eq!(format!("{err:#}"), "--publish-auth only-hook needs --publish-auth-url");
        let args = ServeArgs {
            publish_auth: only,
            publish_auth_url: url.clone(),
            publish_auth_timeout: Some(0.5),
            publish_auth_fallback: Some("allow".into()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        let hook = s.publish_hook.unwrap();
        assert_eq!(s.publish_auth, PublishAuth::OnlyHook);
        assert_eq!((hook.timeout, hook.fallback), (Duration::from_millis(500), Fallback::Allow));
        let err = ServeArgs { publish_auth_timeout: Some(31.0), ..Default::default() }.resolve().unwrap_err();
        assert_eq!(format!("{err:#}"), "--publish-auth-timeout 31: expected 0.1 to 30 seconds");
        let err = ServeArgs { publish_auth_url: Some("https://h/".into()), ..Default::default() }.resolve();
        assert!(format!("{:#}", err.unwrap_err()).starts_with("--publish-auth-url: "));
    }

    #[test]
    fn flags_win_over_the_file() {
        let path = std::env::temp_dir().join(format!("rapidrtmp-config-{}.toml", std::process::id()));
        std::fs::write(&path, "live_window = 5\nstore = \"s3://b/p\"\nsegment_duration = 4.0\n").unwrap();
        let args = ServeArgs { config: Some(path.clone()), live_window: Some(7), ..Default::default() };
        let s = args.resolve().unwrap();
        assert_eq!(
            (s.live_window, s.store, s.segment_duration),
            (7, StoreSetting::S3("s3://b/p".into()), Duration::from_secs(4))
        );
        std::fs::write(&path, "nonsense = 1\n").unwrap();
        let err = ServeArgs { config: Some(path.clone()), ..Default::default() }.resolve().unwrap_err();
        assert!(format!("{err:#}").contains("nonsense"), "{err:#}");
        std::fs::remove_file(path).unwrap();
    }
}
