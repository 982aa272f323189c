//! `rapidrtmp health`: asks a running node (or edge) whether it is up, exit 0 or 1. The
//! container image's `HEALTHCHECK` runs it, since a `scratch` image has no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use crate::local_http::{self, Url};

/// Flags of `rapidrtmp health`.
#[derive(Args, Debug, Clone)]
pub struct HealthArgs {
    /// The URL to check [default: /health on the local node's --http-addr].
    #[arg(long)]
    pub url: Option<String>,
    /// The node's HTTP listen address, as given to `serve` or `edge`: the default URL uses its
    /// port (and its address, unless it is 0.0.0.0 or ::).
    #[arg(long, env = "RAPIDRTMP_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3.0, value_parser = parse_seconds)]
    pub timeout: f64,
}

/// Parses a positive number of seconds (at most an hour).
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!("{s:?}: expected seconds, more than 0 and at most 3600")),
    }
}

/// `http://ADDR` for a listen address: a wildcard address becomes loopback.
pub fn local_base(listen: SocketAddr) -> Url {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let host = match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    Url { host, port: listen.port(), path: "/".into() }
}

/// Runs the check: `Ok` on a 2xx answer, else an error that says what came back.
pub fn run(args: &HealthArgs) -> anyhow::Result<()> {
    let url = match &args.url {
        Some(u) => Url::parse(u)?,
        None => local_base(args.http_addr).with_path("/health"),
    };
    let r = local_http::request("GET", &url, None, Duration::from_secs_f64(args.timeout))?;
    let body = String::from_utf8_lossy(&r.body);
    let body = body.trim();
    if !(200..300).contains(&r.status) {
        bail!("{url}: {} {body}", r.status);
    }
    println!("{url}: {} {body}", r.status);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_checked_on_loopback() {
        assert_eq!(
            local_base("0.0.0.0:8080".parse().unwrap()).with_path("/health").to_string(),
            "http://127.0.0.1:8080/health"
        );
        assert_eq!(local_base("[::]:9000".parse().unwrap()).to_string(), "http://[::1]:9000/");
        assert_eq!(local_base("10.1.2.3:81".parse().unwrap()).to_string(), "http://10.1.2.3:81/");
    }

    #[test]
    fn timeouts_are_bounded() {
        assert_eq!(parse_seconds("2.5"), Ok(2.5));
        assert!(parse_seconds("0").is_err() && parse_seconds("-1").is_err() && parse_seconds("x").is_err());
    }
}
