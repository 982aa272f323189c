//! The webhooks' settings, from the flags (`--webhook-url`, `--webhook-secret`,
//! `--webhook-retry-min`): apart from the deliveries, so that the configuration reads them
//! without importing the machinery.

use std::time::Duration;

use super::sign::Secret;
use crate::local_http::Url;

/// First retry delay unless set (`--webhook-retry-min`); it doubles with every failed attempt.
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(5);
/// Longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// Resolved webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The `--webhook-url` endpoint and its `--webhook-secret`.
    pub flag_endpoint: Option<(Url, Secret)>,
    /// The first retry delay.
    pub retry_min: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self { flag_endpoint: None, retry_min: DEFAULT_RETRY_MIN }
    }
}
