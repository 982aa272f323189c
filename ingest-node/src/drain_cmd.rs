//! `rapidrtmp drain`: tells a running node to take no new publishes (`POST /api/v1/drain`) and,
//! with `--wait`, waits for its live streams to end. Kubernetes' `preStop` runs it, so a pod
//! being replaced sends new encoders to the other nodes before it stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use crate::health_cmd::local_base;
use crate::local_http::{self, Url};

/// Time allowed for each request to the node.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How often `--wait` asks how many streams are still live.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Flags of `rapidrtmp drain`.
#[derive(Args, Debug, Clone)]
pub struct DrainArgs {
    /// The node's base URL [default: the local node's --http-addr].
    #[arg(long)]
    pub url: Option<String>,
    /// The node's HTTP listen address, as given to `serve`: the default URL uses its port.
    #[arg(long, env = "RAPIDRTMP_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// The admin API key [default: the key kept in the data dir].
    #[arg(long, env = "RAPIDRTMP_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// The node's data dir, where a generated admin key is kept.
    #[arg(long, env = "RAPIDRTMP_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Seconds to wait for the live streams to end (0: do not wait).
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
}

/// What the node answers: `{"draining", "liveStreams"}`.
fn live_streams(r: &local_http::Reply, url: &Url) -> anyhow::Result<u64> {
    if r.status != 200 {
        bail!("{url}: {} {}", r.status, String::from_utf8_lossy(&r.body).trim());
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).with_context(|| format!("{url}: not JSON"))?;
    match (v["draining"].as_bool(), v["liveStreams"].as_u64()) {
        (Some(true), Some(n)) => Ok(n),
        _ => bail!("{url}: unexpected answer {v}"),
    }
}

/// Starts draining, then waits up to `--wait` seconds for the live streams to end.
pub fn run(args: &DrainArgs) -> anyhow::Result<()> {
    let key = match &args.admin_key {
        Some(k) if !k.is_empty() => k.clone(),
        _ => {
            let path = args.data_dir.join(crate::serve::ADMIN_KEY_FILE);
            let k = std::fs::read_to_string(&path)
                .with_context(|| format!("no --admin-key given, and cannot read {}", path.display()))?;
            k.trim().to_string()
        }
    };
    let base = match &args.url {
        Some(u) => Url::parse(u)?,
        None => local_base(args.http_addr),
    };
    let url = base.with_path("/api/v1/drain");
    let mut live = live_streams(&local_http::request("POST", &url, Some(&key), REQUEST_TIMEOUT)?, &url)?;
    println!("draining: new publishes are refused; {live} streams live");
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    while live > 0 && Instant::now() < deadline {
        std::thread::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())));
        live = live_streams(&local_http::request("GET", &url, Some(&key), REQUEST_TIMEOUT)?, &url)?;
    }
    if args.wait > 0 {
        match live {
            0 => println!("no stream is live"),
            n => println!("{n} streams still live after {}s", args.wait),
        }
    }
    Ok(())
}
