//! Connection slots of a listener: a cap on the connections open at once and a cap per client
//! address (RTMP: `--max-connections`, `--max-connections-per-ip`; HTTP:
//! `--max-http-connections`, `--max-http-connections-per-ip`). A [`Slot`] gives both back when it
//! drops, however the connection's task ends (a panic unwinds through it too).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

use crate::metrics::Metrics;
use crate::refusals::Cause;

/// The pause after a failed `accept` (out of file descriptors): a listener waits, never spins.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A listener of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// RTMP ingest.
    Rtmp,
    /// RTMPS ingest: RTMP over TLS, within the RTMP listener's slots.
    Rtmps,
    /// HTTP: API, metrics, edge, page.
    Http,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Self::Rtmp => "RTMP",
            Self::Rtmps => "RTMPS",
            Self::Http => "HTTP",
        }
    }

    /// Its `listener` label in the metrics and the logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Rtmp => "rtmp",
            Self::Rtmps => "rtmps",
            Self::Http => "http",
        }
    }

    /// A failed `accept`: counted, logged at most once a second, then a pause of
    /// [`ACCEPT_BACKOFF`].
    pub async fn accept_failed(self, metrics: &Metrics, e: &std::io::Error) {
        let cause = match self {
            Self::Rtmp | Self::Rtmps => Cause::RtmpAccept,
            Self::Http => Cause::HttpAccept,
        };
        if let Some(count) = metrics.refusals.note(cause) {
            warn!(count, "{} accept failed: {e}", self.name());
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }

    /// A connection turned away by the slots: counted and logged at most once a second.
    pub fn refused(self, metrics: &Metrics, peer: SocketAddr, refused: Refused) {
        let (cause, flag, n) = match (self, refused) {
            (Self::Rtmp | Self::Rtmps, Refused::Node(n)) => (Cause::RtmpNodeLimit, "--max-connections", n),
            (Self::Rtmp | Self::Rtmps, Refused::Address(n)) => (Cause::RtmpAddressLimit, "--max-connections-per-ip", n),
            (Self::Http, Refused::Node(n)) => (Cause::HttpNodeLimit, "--max-http-connections", n),
            (Self::Http, Refused::Address(n)) => (Cause::HttpAddressLimit, "--max-http-connections-per-ip", n),
        };
        if let Some(count) = metrics.refusals.note(cause) {
            warn!(%peer, count, "{} connection refused: {n} are open ({flag})", self.name());
        }
    }
}

/// Why a connection got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The listener's cap is reached: this many connections are open.
    Node(usize),
    /// The cap per address is reached: this many connections are open from the address.
    Address(usize),
}

/// The slots of one listener.
pub struct Slots {
    max: usize,
    max_per_ip: usize,
    semaphore: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Connections open now (a gauge of the metrics).
    open: Arc<AtomicU64>,
}

/// One open connection's hold on the limits.
pub struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Slots {
    /// Slots for at most `max` connections, `max_per_ip` of them from one address; `open`
    /// counts the connections holding one.
    pub fn new(max: usize, max_per_ip: usize, open: Arc<AtomicU64>) -> Arc<Self> {
        let (max, max_per_ip) = (max.max(1), max_per_ip.max(1));
        Arc::new(Self { max, max_per_ip, semaphore: Arc::new(Semaphore::new(max)), per_ip: Mutex::default(), open })
    }

    /// A slot for a connection from `ip`, if the limits allow one.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let ip = client(ip);
        let permit = self.semaphore.clone().try_acquire_owned().map_err(|_| Refused::Node(self.max))?;
        {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let n = per_ip.entry(ip).or_default();
            if *n >= self.max_per_ip {
                return Err(Refused::Address(self.max_per_ip));
            }
            *n += 1;
        }
        self.open.fetch_add(1, Relaxed);
        Ok(Slot { slots: self.clone(), ip, _permit: permit })
    }
}

/// The client an address counts for: an IPv4 address (IPv4-mapped IPv6 too) as it is, an IPv6
/// address as its /64, the smallest network one host is given.
fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.open.fetch_sub(1, Relaxed);
        let mut per_ip = self.slots.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_listener_and_per_address_and_gives_back_on_drop() {
        let open = Arc::new(AtomicU64::new(0));
        let slots = Slots::new(3, 2, open.clone());
        let (a, b): (IpAddr, IpAddr) = ([127, 0, 0, 1].into(), [127, 0, 0, 2].into());
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert_eq!(slots.take(a).err(), Some(Refused::Address(2)));
        let _b1 = slots.take(b).unwrap();
        assert_eq!(slots.take(b).err(), Some(Refused::Node(3)));
        assert_eq!(open.load(Relaxed), 3);
        drop(a1);
        assert_eq!(open.load(Relaxed), 2);
        assert!(slots.take(b).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let slots = Slots::new(10, 1, Arc::default());
        let _one = slots.take("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert_eq!(slots.take("2001:db8:1:2:ffff::9".parse().unwrap()).err(), Some(Refused::Address(1)));
        assert!(slots.take("2001:db8:1:3::1".parse().unwrap()).is_ok());
        let _v4 = slots.take("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(slots.take("::ffff:192.0.2.1".parse().unwrap()).err(), Some(Refused::Address(1)));
    }
}
