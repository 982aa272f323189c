//! Publish admission: who may publish which stream key, decided once for every ingest protocol.
//! A request (stream key, token, connection) goes through token → the publish authorization
//! hook ([`crate::publish_hook`], when one is set; with `--publish-auth only-hook` instead of the
//! token) → scope → single-use → ownership claim or takeover → group → start; the answer is a started publisher or a typed
//! [`Refusal`], which each listener (RTMP today, RTMPS or SRT next) turns into its own wire
//! answer. Admission knows nothing of the wire.
//!
//! Every attempt is counted under `rapidrtmp_publish_attempts_total{result}` (the results are
//! [`crate::metrics::PUBLISH_RESULTS`]) and every refusal is logged with its reason.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use rapidrtmp_core::layout::{used_token_key, valid_name};
use tracing::{info, warn};

use crate::clock::now_ms;
use crate::lifecycle::StreamEvent;
use crate::publish::multitrack::is_rendition_key;
use crate::publish::writer::{StartError, StreamWriters};
use crate::publish::StreamPublisher;
use crate::publish_hook::{self, PublishAuth, Verdict};
use crate::streams::LiveStream;
use crate::tokens::{self, TokenError, TokenSigner};

/// How long a takeover waits for the old publisher's last chunk to be written.
const TAKEOVER_WAIT: Duration = Duration::from_secs(15);

/// A publish asked for by a listener.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    /// The stream key.
    pub key: &'a str,
    /// The publish token given with it (empty when none was).
    pub token: &'a str,
    /// The id of the connection asking.
    pub connection: u64,
    /// Who asks (for the logs).
    pub peer: SocketAddr,
    /// The listener it came in on (`rtmp`, `rtmps`), for the logs and the metrics.
    pub listener: &'static str,
    /// The publish URL's query string (after `?`, the token included), for the hook.
    pub query: &'a str,
}

/// A publish let in: its stream is registered as live and its publisher started.
pub struct Admitted {
    /// The stream, registered under its key.
    pub stream: Arc<LiveStream>,
    /// Its publisher, attached to the stream's writer.
    pub publisher: StreamPublisher,
}

/// Why a publish was refused. Each listener answers it its own way (RTMP: a
/// `NetStream.Publish.*` status whose description is this refusal's text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The connection is publishing already (a listener's own check).
    AlreadyPublishing,
    /// The node is draining: it takes no new publishes.
    Draining,
    /// The stream key is not a valid name.
    BadName,
    /// The key is reserved for a track of a multitrack publish.
    Reserved,
    /// The token is missing, invalid or expired.
    Token(TokenError),
    /// The key is being published by a publisher that is neither silent nor done.
    Busy,
    /// The token's generation is older than the key's: it was revoked.
    Revoked,
    /// A single-use token was used already.
    Reused,
    /// The store could not be read or written.
    StoreUnavailable,
    /// A silent publisher being taken over did not finish within [`TAKEOVER_WAIT`].
    StillFinishing,
    /// The stream is held elsewhere (another node, or this node still closing it).
    BusyOn(String),
    /// The key names a stream group, not a stream.
    Group(String),
    /// The publish authorization hook refused, for this reason.
    HookDenied(String),
    /// The publish authorization hook could not be reached or did not answer in time.
    HookUnavailable,
}

impl Refusal {
    /// The `result` label it is counted under in `rapidrtmp_publish_attempts_total`.
    pub fn result(&self) -> &'static str {
        match self {
            Self::AlreadyPublishing | Self::BadName | Self::Group(_) => "bad_name",
            Self::Draining => "draining",
            Self::Reserved => "reserved",
            Self::Token(TokenError::Expired) => "expired",
            Self::Token(_) => "unauthorized",
            Self::Busy | Self::StillFinishing | Self::BusyOn(_) => "busy",
            Self::Revoked => "revoked",
            Self::Reused => "reused",
            Self::StoreUnavailable => "store_error",
            Self::HookDenied(_) => "hook_denied",
            Self::HookUnavailable => "hook_unavailable",
        }
    }

    /// Whether the publisher's credentials were refused (the token), rather than the key or
    /// the moment.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Token(_) | Self::Revoked | Self::Reused | Self::HookDenied(_))
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyPublishing => f.write_str("this connection is already publishing"),
            Self::Draining => f.write_str("this node is draining; publish to another node"),
            Self::BadName => f.write_str("stream keys are 1-64 of [A-Za-z0-9_-]"),
            Self::Reserved => f.write_str(
                "stream keys ending in _v or _a and a number are the tracks of a multitrack publish: publish the key before them",
            ),
            Self::Token(e) => write!(f, "{e}"),
            Self::Busy => f.write_str("stream key is already being published"),
            Self::Revoked => f.write_str("publish token was revoked"),
            Self::Reused => f.write_str("publish token was already used"),
            Self::StoreUnavailable => f.write_str("storage unavailable, try again"),
            Self::StillFinishing => f.write_str("the previous publisher is still finishing; try again"),
            Self::BusyOn(holder) => write!(f, "stream key is already being published on {holder}"),
            Self::Group(key) => {
                write!(f, "{key} is a stream group: publish its renditions with a token naming the group")
            }
            Self::HookDenied(reason) => f.write_str(reason),
            Self::HookUnavailable => f.write_str("publish authorization is unavailable, try again"),
        }
    }
}

/// Decides who may publish, for every listener.
pub struct Admission {
    /// Checks publish tokens.
    signer: TokenSigner,
    /// The stream writers, and through them the store, the registry of live streams, the
    /// settings, the metrics and the lifecycle.
    writers: Arc<StreamWriters>,
    /// Set while the node drains: no new publish is let in.
    draining: Arc<AtomicBool>,
}

impl Admission {
    /// Admission with these handles.
    pub fn new(signer: TokenSigner, writers: Arc<StreamWriters>, draining: Arc<AtomicBool>) -> Self {
        Self { signer, writers, draining }
    }

    /// A publish is over: its stream leaves the registry (a publisher reconnecting during the
    /// grace is welcome from now on).
    pub fn leave(&self, stream: &LiveStream) {
        self.writers.streams.release(stream);
    }

    /// Counts and logs a refusal (also those a listener decides itself, like
    /// [`Refusal::AlreadyPublishing`]); returns it.
    pub fn refused(&self, peer: SocketAddr, refusal: Refusal) -> Refusal {
        let result = refusal.result();
        self.writers.metrics.publish_attempt(result);
        info!(%peer, result, "publish rejected: {refusal}");
        refusal
    }

    /// Lets `request` publish, or says why not. On success the stream is registered as live,
    /// its publisher is started, its revocation is watched and it joins its token's group.
    pub async fn admit(&self, request: PublishRequest<'_>) -> Result<Admitted, Refusal> {
        match self.check(request).await {
            Ok(admitted) => Ok(admitted),
            Err(refusal) => {
                let refusal = self.refused(request.peer, refusal);
                if valid_name(request.key) {
                    self.writers.lifecycle.emit(StreamEvent::PublishRefused {
                        stream: request.key.to_string(),
                        peer: request.peer,
                        listener: request.listener,
                        result: refusal.result(),
                        reason: refusal.to_string(),
                        at_ms: now_ms(),
                    });
                }
                Err(refusal)
            }
        }
    }

    /// A token's revocation and single use, checked in the store.
    async fn check_grant(&self, key: &str, grant: &tokens::Grant) -> Result<(), Refusal> {
        let store = &self.writers.store;
        // Revoked on any node: the store's generation for the key has moved past the token's.
        match tokens::generation(store, key).await {
            Ok(current) if grant.generation < current => return Err(Refusal::Revoked),
            Ok(_) => {}
            Err(e) => {
                warn!("cannot read the token generation of {key}: {e}");
                return Err(Refusal::StoreUnavailable);
            }
        }
        if grant.single_use {
            if !valid_name(&grant.nonce) {
                return Err(Refusal::Token(TokenError::Invalid));
            }
            let marker = used_token_key(&grant.nonce);
            match store.put_if_absent(&marker, bytes::Bytes::from(format!("{key}\n"))).await {
                Ok(true) => {}
                Ok(false) => return Err(Refusal::Reused),
                Err(e) => {
                    warn!("cannot record a single-use token: {e}");
                    return Err(Refusal::StoreUnavailable);
                }
            }
        }
        Ok(())
    }

    async fn check(&self, request: PublishRequest<'_>) -> Result<Admitted, Refusal> {
        let PublishRequest { key, token, connection, peer, listener, query } = request;
        let writers = &self.writers;
        if self.draining.load(Relaxed) {
            return Err(Refusal::Draining);
        }
        if !valid_name(key) {
            return Err(Refusal::BadName);
        }
        if is_rendition_key(key) {
            return Err(Refusal::Reserved);
        }
        let now = now_ms();
        let settings = &writers.settings;
        let grant = match settings.publish_auth {
            PublishAuth::Token => Some(self.signer.verify(key, token, now / 1000).map_err(Refusal::Token)?),
            PublishAuth::OnlyHook => None,
        };
        if let Some(hook) = &settings.publish_hook {
            match publish_hook::ask(hook, key, peer, query).await {
                Verdict::Allow => {}
                Verdict::Deny(reason) => return Err(Refusal::HookDenied(reason)),
                Verdict::Unavailable => return Err(Refusal::HookUnavailable),
            }
        }
        // A live key is busy unless its publisher went silent (OBS reconnecting).
        let previous = writers.streams.live(key);
        if previous.as_ref().is_some_and(|prev| !prev.is_silent(now)) {
            return Err(Refusal::Busy);
        }
        if let Some(grant) = &grant {
            self.check_grant(key, grant).await?;
        }
        if let Some(prev) = previous {
            info!(stream = key, "taking over from a silent publisher");
            prev.replaced.store(true, Relaxed);
            prev.stop.notify_one();
            let mut done = prev.done.subscribe();
            // Its last chunks go to the stream's writer before this publish goes on numbering.
            let finished = tokio::time::timeout(TAKEOVER_WAIT, done.wait_for(|d| *d)).await.is_ok();
            if !finished {
                return Err(Refusal::StillFinishing);
            }
        }
        let stream =
            LiveStream::new(key.to_string(), now, (connection, peer, listener), writers.settings.part_duration);
        if !writers.streams.claim(&stream) {
            return Err(Refusal::Busy);
        }
        let publisher = match StreamPublisher::start(writers.clone(), stream.clone()).await {
            Ok(p) => p,
            Err(e) => {
                writers.streams.release(&stream);
                let _ = stream.done.send(true);
                return Err(match e {
                    StartError::Busy(holder) => Refusal::BusyOn(holder),
                    StartError::Group => Refusal::Group(key.to_string()),
                    StartError::Store(e) => {
                        warn!("cannot start publishing {key}: {e}");
                        Refusal::StoreUnavailable
                    }
                });
            }
        };
        writers.metrics.publish_attempt("accepted");
        writers.metrics.publish_started(listener);
        let (store, streams, lease) = (writers.store.clone(), writers.streams.clone(), writers.settings.owner_lease);
        // With the hook alone there is no token: nothing to revoke, no group to join.
        let Some(grant) = grant else {
            return Ok(Admitted { stream, publisher });
        };
        tokio::spawn(tokens::watch_revocation(store, streams, lease, stream.clone(), grant.generation));
        if let Some(group) = grant.group.filter(|g| valid_name(g) && !is_rendition_key(g)) {
            let (store, key) = (writers.store.clone(), key.to_string());
            tokio::spawn(async move { crate::publish::group::join(&store, &group, &key).await });
        }
        Ok(Admitted { stream, publisher })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_counted_under_a_exported_result() {
        let all = [
            Refusal::AlreadyPublishing,
            Refusal::Draining,
            Refusal::BadName,
            Refusal::Reserved,
            Refusal::Token(TokenError::Missing),
            Refusal::Token(TokenError::Invalid),
            Refusal::Token(TokenError::Expired),
            Refusal::Busy,
            Refusal::Revoked,
            Refusal::Reused,
            Refusal::StoreUnavailable,
            Refusal::StillFinishing,
            Refusal::BusyOn("node n1".into()),
            Refusal::Group("show".into()),
            Refusal::HookDenied("banned".into()),
            Refusal::HookUnavailable,
        ];
        for refusal in all {
            assert!(crate::metrics::PUBLISH_RESULTS.contains(&refusal.result()), "{refusal:?}");
            assert!(!refusal.to_string().is_empty(), "{refusal:?}");
        }
    }
}
