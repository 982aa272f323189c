//! `rapidrtmp serve`: the ingest node (RTMP and RTMPS in, chunks to the store, HTTP API and edge).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::app::App;
use crate::config::{ServeArgs, Settings};
use crate::store::Store;
use crate::tokens::random_id;

/// The admin key file in the data dir.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// How long shutdown waits for publishers to flush their last chunks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAPIDRTMP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: files, pipes, `docker logs`, journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the configured store.
pub async fn open_store(s: &Settings) -> anyhow::Result<Store> {
    crate::store::open(&s.store, s.s3_endpoint.clone(), s.s3_region.clone(), s.s3_path_style).await
}

/// The configured admin key, or the one kept in the data dir, or a new one (then `true`).
fn admin_key(s: &Settings) -> anyhow::Result<(String, bool)> {
    if let Some(k) = &s.admin_key {
        return Ok((k.clone(), false));
    }
    let path = s.data_dir.join(ADMIN_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(k) if k.trim().len() >= 16 => return Ok((k.trim().to_string(), false)),
        Ok(_) => anyhow::bail!("{} is too short; delete it to have a new key made", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(&s.data_dir).with_context(|| format!("cannot create {}", s.data_dir.display()))?;
    let key = random_id(32);
    write_private(&path, &key).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((key, true))
}

fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "{key}")
}

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(settings.json_logs);
    let nofile = open_file_limit();
    let max_http = settings
        .max_http_connections
        .unwrap_or_else(|| crate::fd_limit::http_connection_cap(nofile, settings.max_connections));
    let rtmp_room = crate::fd_limit::rtmp_room(nofile, max_http);
    if rtmp_room < settings.max_connections as u64 {
        warn!(
            "the open-file limit ({nofile}) leaves room for about {rtmp_room} RTMP connections, fewer than \
             --max-connections ({}): raise the hard limit (LimitNOFILE, ulimit -Hn)",
            settings.max_connections
        );
    }
    // One certificate for HTTPS and RTMPS, reloaded when its files change; a bad one stops the
    // start before anything is made.
    let certificates =
        settings.tls.as_ref().map(|(cert, key)| crate::tls::Certificates::load(cert, key)).transpose()?;
    let store = open_store(&settings).await?;
    if settings.playback.is_some() || settings.playback_uri_bucket.is_some() {
        crate::playback::set_defaults(&store, settings.playback, settings.playback_uri_bucket)
            .await
            .with_context(|| format!("cannot write --playback to {}", rapidrtmp_core::layout::PLAYBACK_POLICY))?;
    }
    let (key, generated) = admin_key(&settings)?;
    let rtmp = TcpListener::bind(settings.rtmp_addr)
        .await
        .with_context(|| format!("cannot listen on {} (RTMP)", settings.rtmp_addr))?;
    let rtmps = match settings.rtmps_addr {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (RTMPS)"))?),
        None => None,
    };
    let http = TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (HTTP)", settings.http_addr))?;
    let (rtmp_addr, http_addr) = (rtmp.local_addr()?, http.local_addr()?);
    if generated {
        // Printed once, when made; it is never logged.
        println!(
            "Admin key generated and saved in {}:\n  {key}\nTry: curl -H 'Authorization: Bearer {key}' http://127.0.0.1:{}/api/v1/streams",
            settings.data_dir.join(ADMIN_KEY_FILE).display(),
            http_addr.port()
        );
    }
    let rtmps_addr = rtmps.as_ref().map(TcpListener::local_addr).transpose()?;
    let https = certificates.as_ref().map(|c| c.acceptor(crate::tls::HTTPS_ALPN)).transpose()?;
    let rtmps = match (rtmps, &certificates) {
        (Some(listener), Some(c)) => Some((listener, c.acceptor(crate::tls::RTMPS_ALPN)?)),
        _ => None,
    };
    let app = App::new(settings, store, key);
    match rtmps_addr {
        Some(rtmps) => {
            info!(rtmp = %rtmp_addr, %rtmps, http = %http_addr, store = %app.store.describe(), "RapidRTMP listening")
        }
        None => info!(rtmp = %rtmp_addr, http = %http_addr, store = %app.store.describe(), "RapidRTMP listening"),
    }
    if crate::http::www::ASSETS.is_empty() {
        tracing::warn!("this binary has no web page: build it with www/build.sh, then build rapidrtmp again");
    } else {
        info!("web page at {}", crate::health_cmd::local_base(http_addr));
    }
    tokio::spawn(crate::lifecycle::log_events(app.lifecycle.subscribe()));
    let (store, node, hooks) = (app.store.clone(), app.writers.node_id.clone(), app.settings.webhooks.clone());
    crate::webhooks::Webhooks::start(store, node, hooks, app.metrics.clone(), app.lifecycle.subscribe());
    let ingest = crate::rtmp::Ingest::new(&app);
    let rtmp_task = tokio::spawn(crate::rtmp::accept_rtmp(app.clone(), ingest.clone(), rtmp, None));
    let rtmps_task = rtmps.map(|(listener, tls)| {
        tokio::spawn(crate::rtmp::accept_rtmp(app.clone(), ingest.clone(), listener, Some(tls)))
    });
    let per_ip = app.settings.max_http_connections_per_ip.unwrap_or_else(|| crate::config::http_per_ip_cap(max_http));
    info!(max_http_connections = max_http, per_ip, "HTTP connection caps");
    let slots = crate::slots::Slots::new(max_http, per_ip, app.metrics.http_connections.clone());
    let http_task = tokio::spawn(crate::http::serve_node_http(app.clone(), http, https, slots));
    tokio::spawn(crate::sweep::run(app.writers.clone()));
    let store = app.store.clone();
    tokio::spawn(async move { store.remove_leftovers().await });
    app.listening.store(true, Relaxed);

    shutdown_signal().await;
    info!("shutting down: closing listeners, flushing streams");
    app.shutdown.send_replace(true);
    let _ = rtmp_task.await;
    if let Some(task) = rtmps_task {
        let _ = task.await;
    }
    if !app.writers.stopped_within(SHUTDOWN_GRACE).await {
        warn!("some streams did not finish flushing within {SHUTDOWN_GRACE:?}");
    }
    app.lifecycle.flush().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), http_task).await;
    info!("stopped");
    Ok(())
}

/// Raises the soft open-file limit to the hard one and logs what the process may open.
pub fn open_file_limit() -> u64 {
    match crate::fd_limit::raise() {
        Ok((n, true)) => {
            info!(open_files = n, "raised the open-file limit to the hard limit");
            n
        }
        Ok((n, false)) => {
            info!(open_files = n, "open-file limit");
            n
        }
        Err(e) => {
            warn!("cannot read the open-file limit: {e}");
            1024
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
