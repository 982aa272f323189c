//! Object storage behind one interface: a local folder (the default) or S3-compatible storage.
//!
//! Keys are `/`-separated paths made of `[A-Za-z0-9_.-]` segments (see docs/storage.md); the
//! store never sees anything a peer chose that has not passed [`valid_key`].

mod local;
mod s3;

use anyhow::Context;
use bytes::Bytes;
use tracing::{info, warn};

use crate::config::StoreSetting;

pub use local::LocalStore;
pub use s3::{S3Options, S3Store};

/// Largest object read back from a store; chunks are a few MB, manifests a few KB.
pub const MAX_OBJECT_LEN: u64 = 256 << 20;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is not one this program writes.
    #[error("invalid object key {0:?}")]
    BadKey(String),
    /// The object is larger than [`MAX_OBJECT_LEN`].
    #[error("object {0} is larger than the {MAX_OBJECT_LEN}-byte limit")]
    TooLarge(String),
    /// A local file system error.
    #[error("{op} {key}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The key.
        key: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An S3 error.
    #[error("S3 {op} {key}: {message}")]
    S3 {
        /// What was being done.
        op: &'static str,
        /// The key.
        key: String,
        /// The cause, as the SDK tells it.
        message: String,
    },
}

/// Whether `key` is a key we write: non-empty segments of `[A-Za-z0-9_.-]`, none `.` or `..`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        })
}

/// One state of an object, to replace it only if it is unchanged: its ETag in S3, a digest of
/// its bytes in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(String);

/// Where the objects live.
#[derive(Debug, Clone)]
pub enum Store {
    /// A local folder.
    Local(LocalStore),
    /// An S3-compatible bucket.
    S3(S3Store),
}

impl Store {
    /// Writes (or replaces) an object atomically: readers see the old or the new bytes, never a
    /// mix.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        check(key)?;
        match self {
            Self::Local(s) => s.put(key, data).await,
            Self::S3(s) => s.put(key, data).await,
        }
    }

    /// Creates an object only if none exists under `key`; `Ok(false)` if one did.
    pub async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        Ok(self.put_if(key, data, None).await?.is_some())
    }

    /// Writes an object only if it is still at `expected` (`None`: only if there is none), as
    /// one atomic step: S3's conditional PutObject (`If-Match` / `If-None-Match: *`), a lock
    /// file in a folder. `Ok(Some(new version))` if written, `Ok(None)` if the object had
    /// changed.
    pub async fn put_if(
        &self,
        key: &str,
        data: Bytes,
        expected: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        check(key)?;
        match self {
            Self::Local(s) => s.put_if(key, data, expected).await,
            Self::S3(s) => s.put_if(key, data, expected).await,
        }
    }

    /// Reads an object; `Ok(None)` if there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.get_versioned(key).await?.map(|(data, _)| data))
    }

    /// Reads an object and its version; `Ok(None)` if there is none.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        Ok(self.read(key).await?.map(|(data, version)| (Bytes::from(data), version)))
    }

    /// Reads an object into a buffer of its own, for a reader that consumes it (the edge
    /// driver); `Ok(None)` if there is none. The buffer is the one the object was read into,
    /// once, sized from its length (a file's, S3's `Content-Length`): never a copy.
    pub async fn get_owned(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read(key).await?.map(|(data, _)| data))
    }

    /// Reads an object and its version, in the buffer the backend read it into.
    async fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        check(key)?;
        match self {
            Self::Local(s) => s.get(key).await,
            Self::S3(s) => s.get(key).await,
        }
    }

    /// Deletes an object (no error if it is gone).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check(key)?;
        match self {
            Self::Local(s) => s.delete(key).await,
            Self::S3(s) => s.delete(key).await,
        }
    }

    /// The names directly under `prefix` (which ends with `/`): "folders" and objects alike.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if !prefix.ends_with('/') || !valid_key(prefix.trim_end_matches('/')) {
            return Err(StoreError::BadKey(prefix.into()));
        }
        match self {
            Self::Local(s) => s.list(prefix).await,
            Self::S3(s) => s.list(prefix).await,
        }
    }

    /// Checks that the store answers (for `/ready`).
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            Self::Local(s) => s.check().await,
            Self::S3(s) => s.check().await,
        }
    }

    /// Removes what processes killed mid-write left in the store, and logs how many: a folder's
    /// temporary files (an unfinished S3 upload never becomes an object: nothing to do there).
    /// Walks the whole folder: run once, at start.
    pub async fn remove_leftovers(&self) {
        if let Self::Local(s) = self {
            match s.remove_leftover_temps().await {
                Ok(n) => info!(removed = n, "store folder: {n} leftover temporary files of interrupted writes removed"),
                Err(e) => warn!("store folder: cannot remove the leftover temporary files of interrupted writes: {e}"),
            }
        }
    }

    /// A description without secrets, for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(s) => format!("folder {}", s.root().display()),
            Self::S3(s) => s.describe(),
        }
    }
}

/// Opens a store: a folder, or an `s3://bucket/prefix` URL with its connection settings.
pub async fn open(
    setting: &StoreSetting,
    endpoint: Option<String>,
    region: Option<String>,
    path_style: bool,
) -> anyhow::Result<Store> {
    Ok(match setting {
        StoreSetting::Folder(dir) => {
            Store::Local(LocalStore::new(dir).with_context(|| format!("cannot create store folder {}", dir.display()))?)
        }
        StoreSetting::S3(url) => {
            let mut opts = S3Options::from_url(url).map_err(|e| anyhow::anyhow!("--store {url}: {e}"))?;
            opts.endpoint = endpoint;
            opts.region = region;
            opts.path_style = path_style;
            Store::S3(S3Store::new(opts).await)
        }
    })
}

fn check(key: &str) -> Result<(), StoreError> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(StoreError::BadKey(key.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys() {
        assert!(valid_key("live/cam/1700000000000/12.flv"));
        for bad in ["", "/a", "a//b", "a/../b", "a/./b", "a b", "a/b/", "ä"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
