//! The origin of the live edge, for a stateless edge (`rapidrtmp edge --origin`): what only the
//! ingest node publishing a stream can answer (its Low-Latency playlists, blocking requests,
//! parts of the open segment, chunks not stored yet) is asked of the node; the edge driver passes
//! its answer on unchanged, so every edge answers a URL with the same bytes.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::http::{header, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rapidrtmp_core::edge::OriginAnswer;

use crate::store::MAX_OBJECT_LEN;

/// How long an origin request may take: longer than any blocking request is held (three target
/// durations of the longest segments).
pub(crate) const ORIGIN_TIMEOUT: Duration = Duration::from_secs(200);

/// An ingest node's HTTP server, as the origin of the live edge.
pub struct Origin {
    base: String,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Origin {
    /// The origin at `url` (`http://host:port`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("--origin {url}: not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            bail!("--origin {url}: expected http://host:port (the ingest node's HTTP address)");
        }
        let base = url.trim_end_matches('/').to_string();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { base, client })
    }

    /// Where requests go.
    pub fn describe(&self) -> &str {
        &self.base
    }

    /// Asks the origin for `path_and_query` (as the player sent it).
    pub async fn get(&self, path_and_query: &str) -> anyhow::Result<OriginAnswer> {
        let uri: Uri = format!("{}{path_and_query}", self.base).parse()?;
        let fetch = async {
            let response = self.client.get(uri).await?;
            let status = response.status().as_u16();
            let cache = response.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok());
            let cache_control = cache.map(String::from);
            let body = Limited::new(response.into_body(), MAX_OBJECT_LEN as usize).collect().await;
            let body = body.map_err(|e| anyhow::anyhow!("{e}"))?.to_bytes().to_vec();
            anyhow::Ok(OriginAnswer { status, cache_control, body })
        };
        tokio::time::timeout(ORIGIN_TIMEOUT, fetch).await.context("origin did not answer in time")?
    }
}
