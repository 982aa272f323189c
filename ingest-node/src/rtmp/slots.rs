//! Connection slots: a semaphore for `--max-connections` and a count per IP address for
//! `--max-connections-per-ip`. A [`Slot`] gives both back when it drops, however the
//! connection's task ends (a panic unwinds through it too).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::App;

/// Why a connection got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `--max-connections` are open.
    Node(usize),
    /// `--max-connections-per-ip` are open from this address.
    Address(usize),
}

/// The slots of the RTMP listener.
pub struct Slots {
    app: Arc<App>,
    semaphore: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection's hold on the limits.
pub struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Slots {
    /// Slots for the node's settings.
    pub fn new(app: Arc<App>) -> Arc<Self> {
        let semaphore = Arc::new(Semaphore::new(app.settings.max_connections));
        Arc::new(Self { app, semaphore, per_ip: Mutex::default() })
    }

    /// A slot for a connection from `ip`, if the limits allow one.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let settings = &self.app.settings;
        let permit = self.semaphore.clone().try_acquire_owned().map_err(|_| Refused::Node(settings.max_connections))?;
        {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let n = per_ip.entry(ip).or_default();
            if *n >= settings.max_connections_per_ip {
                return Err(Refused::Address(settings.max_connections_per_ip));
            }
            *n += 1;
        }
        self.app.metrics.rtmp_connections.fetch_add(1, Relaxed);
        Ok(Slot { slots: self.clone(), ip, _permit: permit })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.app.metrics.rtmp_connections.fetch_sub(1, Relaxed);
        let mut per_ip = self.slots.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}
