//! The node's TLS: one certificate and key (`--tls-cert`, `--tls-key`, PEM) that HTTPS (on the
//! HTTP address, ALPN h2 then HTTP/1.1) and RTMPS (`--rtmps-addr`, no ALPN) both serve, through
//! rustls. The certificate is reloaded when its files change on disk (certbot renews in place):
//! a handshake looks at the files' modification time, size and inode at most once per
//! [`CHECK_EVERY`] and, when they changed, loads them again. A file half-written or not matching
//! its key keeps the certificate served until then, with one warning per change seen. A reload
//! only changes what the next handshakes get: connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

/// The shortest time between two looks at the certificate files (a handshake looks, at most
/// this often).
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The ALPN protocols HTTPS offers: HTTP/2 first (LL-HLS players hold several blocking requests
/// open at once, which HTTP/1.1's six connections per host cannot), then HTTP/1.1.
pub const HTTPS_ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// RTMPS offers no ALPN: encoders send none.
pub const RTMPS_ALPN: &[&[u8]] = &[];

/// The certificate the node serves, reloaded when its files change.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    watch: Mutex<Watch>,
}

/// What the last look at the files saw.
#[derive(Debug)]
struct Watch {
    /// When the files were last looked at.
    checked: Instant,
    /// The files as the served certificate was loaded from them.
    loaded: Stamp,
    /// The files as a load last failed on them (warned about once).
    failed: Option<Stamp>,
}

/// The modification time, size and inode of the certificate and key files (`None`: unreadable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp([Option<(SystemTime, u64, u64)>; 2]);

impl Stamp {
    fn of(cert: &Path, key: &Path) -> Self {
        let file = |path: &Path| {
            let m = std::fs::metadata(path).ok()?;
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            Some((m.modified().ok()?, m.len(), inode))
        };
        Self([file(cert), file(key)])
    }
}

impl Certificates {
    /// Loads the certificate chain and key; an error says which file is wrong and why.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let loaded = Stamp::of(cert, key);
        let current = load(cert, key, &provider)?;
        Ok(Arc::new(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(current)),
            watch: Mutex::new(Watch { checked: Instant::now(), loaded, failed: None }),
        }))
    }

    /// A TLS acceptor serving these certificates, offering `alpn` ([`HTTPS_ALPN`],
    /// [`RTMPS_ALPN`]).
    pub fn acceptor(self: &Arc<Self>, alpn: &[&[u8]]) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// The certificate served now.
    fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads the files again if they changed since they were loaded (looked at once per
    /// [`CHECK_EVERY`] at most; a handshake finding another one looking does not wait).
    fn refresh(&self) {
        let Ok(mut watch) = self.watch.try_lock() else { return };
        let now = Instant::now();
        if now.duration_since(watch.checked) < CHECK_EVERY {
            return;
        }
        watch.checked = now;
        let stamp = Stamp::of(&self.cert, &self.key);
        if stamp == watch.loaded {
            return;
        }
        match load(&self.cert, &self.key, &self.provider) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
                (watch.loaded, watch.failed) = (stamp, None);
                info!(cert = %self.cert.display(), "TLS certificate reloaded: new connections get it");
            }
            Err(e) if watch.failed != Some(stamp) => {
                watch.failed = Some(stamp);
                warn!("TLS certificate files changed but cannot be loaded, the previous certificate is kept: {e:#}");
            }
            Err(_) => {}
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        Some(self.current())
    }
}

/// The certificate chain and key of PEM files `cert` and `key`, checked to belong together.
fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("--tls-cert {}: not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!("--tls-cert {}: no certificate in it", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("--tls-key {}: not a PEM private key", key.display()))?;
    CertifiedKey::from_der(chain, private, provider)
        .context("--tls-cert and --tls-key do not make a usable certificate (does the key match it?)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new self-signed certificate and its key, made with openssl as the end-to-end tests do.
    fn openssl_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        let status = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "1", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success());
        (cert, key)
    }

    fn served(certs: &Certificates) -> Vec<u8> {
        certs.current().cert[0].to_vec()
    }

    #[test]
    fn a_changed_file_is_loaded_a_broken_one_keeps_the_old_certificate() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = openssl_pair(&dir, "a");
        let (cert_b, key_b) = openssl_pair(&dir, "b");
        let certs = Certificates::load(&cert, &key).unwrap();
        let first = served(&certs);
        let look = |certs: &Certificates| {
            certs.watch.lock().unwrap().checked -= CHECK_EVERY;
            certs.refresh();
        };

        // Half-written: the old certificate stays.
        let text = std::fs::read(&cert_b).unwrap();
        std::fs::write(&cert, &text[..text.len() / 2]).unwrap();
        look(&certs);
        assert_eq!(served(&certs), first);
        // A whole new certificate whose key is not there yet: still the old one.
        std::fs::write(&cert, &text).unwrap();
        look(&certs);
        assert_eq!(served(&certs), first);
        // Its key arrives: the new certificate is served.
        std::fs::copy(&key_b, &key).unwrap();
        look(&certs);
        assert_ne!(served(&certs), first);
        assert_eq!(served(&certs), CertificateDer::from_pem_file(&cert_b).unwrap().to_vec());

        // Not looked at again within CHECK_EVERY.
        let (cert_c, key_c) = openssl_pair(&dir, "c");
        std::fs::copy(&cert_c, &cert).unwrap();
        std::fs::copy(&key_c, &key).unwrap();
        let before = served(&certs);
        certs.watch.lock().unwrap().checked = Instant::now();
        certs.refresh();
        assert_eq!(served(&certs), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_file_at_start_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = openssl_pair(&dir, "a");
        let (_, other_key) = openssl_pair(&dir, "b");
        let err = Certificates::load(&cert, &other_key).unwrap_err();
        assert!(format!("{err:#}").contains("does the key match"), "{err:#}");
        std::fs::write(dir.join("empty.crt"), "").unwrap();
        let err = Certificates::load(&dir.join("empty.crt"), &key).unwrap_err();
        assert!(format!("{err:#}").contains("no certificate"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
