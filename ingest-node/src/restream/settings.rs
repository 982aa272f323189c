//! Restreaming settings of `rapidrtmp serve`: the outputs every stream gets, and the CAs
//! trusted for `rtmps://` outputs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::url::OutputUrl;

/// Most outputs a stream may have (stored ones; `--restream-url` ones come on top).
pub const MAX_OUTPUTS: usize = 16;

/// Restreaming flags of `rapidrtmp serve`.
#[derive(Args, Debug, Default, Clone)]
pub struct RestreamArgs {
    /// An output of every stream published on this node: `rtmp://host/app/key` or
    /// `rtmps://host/app/key` (repeatable; beside the stream's own outputs).
    #[arg(long = "restream-url", value_name = "URL")]
    pub restream_url: Vec<String>,
    /// A PEM file of CA certificates trusted for `rtmps://` outputs, beside the system's.
    #[arg(long, env = "RAPIDRTMP_RESTREAM_CA", value_name = "FILE")]
    pub restream_ca: Option<PathBuf>,
}

/// Resolved restreaming settings.
#[derive(Debug, Clone)]
pub struct RestreamSettings {
    /// The outputs every stream gets (`--restream-url`).
    pub defaults: Vec<OutputUrl>,
    /// TLS for `rtmps://` outputs: the system's roots and `--restream-ca`.
    pub tls: Arc<rustls::ClientConfig>,
}

impl RestreamArgs {
    /// Checks the URLs and loads the trusted certificates.
    pub fn resolve(self) -> anyhow::Result<RestreamSettings> {
        let defaults = self
            .restream_url
            .iter()
            .map(|u| OutputUrl::parse(u).map_err(|e| anyhow::anyhow!("--restream-url: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if defaults.len() > MAX_OUTPUTS {
            anyhow::bail!("--restream-url: at most {MAX_OUTPUTS}");
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca) = &self.restream_ca {
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|c| c.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("--restream-ca {}: not PEM certificates", ca.display()))?;
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("--restream-ca {}: a certificate rustls refuses", ca.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(RestreamSettings { defaults, tls: Arc::new(tls) })
    }
}

impl Default for RestreamSettings {
    fn default() -> Self {
        RestreamArgs::default().resolve().expect("no URLs and no CA file always resolve")
    }
}
