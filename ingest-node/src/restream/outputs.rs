//! A stream's outputs in the store (`live/{stream}/outputs.json`, [`outputs_key`]), so any node
//! that takes the stream forwards it. Changed by the API with conditional writes (a change made
//! meanwhile by another node is read again, never overwritten).

use bytes::Bytes;
use rapidrtmp_core::layout::outputs_key;
use serde::{Deserialize, Serialize};

use super::url::OutputUrl;
use super::MAX_OUTPUTS;
use crate::store::{Store, StoreError};

/// Tries of a read-change-write before the API gives up (each try lost to a concurrent change).
const MAX_UPDATE_TRIES: usize = 5;

/// The object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutputsFile {
    /// The outputs, oldest first; at most [`MAX_OUTPUTS`].
    pub outputs: Vec<OutputRecord>,
}

/// One output as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputRecord {
    /// Its id in the API.
    pub id: String,
    /// The destination URL, key included.
    pub url: String,
    /// Whether it forwards.
    pub enabled: bool,
    /// When it was added, ms since the Unix epoch.
    pub created_at: u64,
}

impl OutputRecord {
    /// Its URL, checked again (the object may have been edited by hand).
    pub fn parsed(&self) -> Result<OutputUrl, String> {
        OutputUrl::parse(&self.url)
    }
}

/// Why a change was not made.
#[derive(Debug)]
pub enum UpdateError<E> {
    /// The change itself refused (the caller's reason).
    Refused(E),
    /// The store failed, or the object is not readable.
    Store(String),
}

/// The stream's outputs; none when there is no object. At most [`MAX_OUTPUTS`] are taken.
pub async fn read(store: &Store, stream: &str) -> Result<OutputsFile, String> {
    Ok(read_versioned(store, stream).await?.0)
}

async fn read_versioned(store: &Store, stream: &str) -> Result<(OutputsFile, Option<crate::store::Version>), String> {
    let key = outputs_key(stream);
    match store.get_versioned(&key).await {
        Ok(None) => Ok((OutputsFile::default(), None)),
        Ok(Some((bytes, version))) => {
            let mut file: OutputsFile =
                serde_json::from_slice(&bytes).map_err(|e| format!("{key} is not readable: {e}"))?;
            file.outputs.truncate(MAX_OUTPUTS);
            Ok((file, Some(version)))
        }
        Err(e) => Err(store_error(&key, e)),
    }
}

fn store_error(key: &str, e: StoreError) -> String {
    format!("the store did not answer for {key}: {e}")
}

/// Reads the outputs, applies `change` and writes them back if unchanged meanwhile (else tries
/// again, up to [`MAX_UPDATE_TRIES`] times); returns what `change` returned.
pub async fn update<T, E>(
    store: &Store,
    stream: &str,
    mut change: impl FnMut(&mut OutputsFile) -> Result<T, E>,
) -> Result<T, UpdateError<E>> {
    let key = outputs_key(stream);
    for _ in 0..MAX_UPDATE_TRIES {
        let (mut file, version) = read_versioned(store, stream).await.map_err(UpdateError::Store)?;
        let result = change(&mut file).map_err(UpdateError::Refused)?;
        let json = serde_json::to_vec_pretty(&file).map_err(|e| UpdateError::Store(e.to_string()))?;
        match store.put_if(&key, Bytes::from(json), version.as_ref()).await {
            Ok(Some(_)) => return Ok(result),
            Ok(None) => continue,
            Err(e) => return Err(UpdateError::Store(store_error(&key, e))),
        }
    }
    Err(UpdateError::Store(format!("{key} kept changing: {MAX_UPDATE_TRIES} tries lost to other writers")))
}
