//! The local-folder store: each object a file, written to a temporary file and renamed into
//! place (atomic on POSIX file systems).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{StoreError, MAX_OBJECT_LEN};

/// Objects as files under a root folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io<'a>(op: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { op, key: key.into(), source }
}

impl LocalStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `data` to a new temporary file beside `key`'s path; returns (temp, final) paths.
    async fn write_temp(&self, key: &str, data: Bytes) -> Result<(PathBuf, PathBuf), StoreError> {
        let path = self.root.join(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let file = temp.clone();
        // std::fs on a blocking thread writes the shared bytes as they are (tokio::fs::write
        // would copy them first).
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&file, &data)
        })
        .await
        .map_err(|e| io("write", key)(std::io::Error::other(e)))?
        .map_err(io("write", key))?;
        Ok((temp, path))
    }

    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let (temp, path) = self.write_temp(key, data).await?;
        if let Err(e) = tokio::fs::rename(&temp, &path).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io("rename", key)(e));
        }
        Ok(())
    }

    pub(super) async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        let (temp, path) = self.write_temp(key, data).await?;
        // link(2) fails if the target exists: an atomic create-if-absent.
        let result = tokio::fs::hard_link(&temp, &path).await;
        let _ = tokio::fs::remove_file(&temp).await;
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("link", key)(e)),
        }
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.root.join(key);
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.len() > MAX_OBJECT_LEN => return Err(StoreError::TooLarge(key.into())),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("stat", key)(e)),
        }
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", key)(e)),
        }
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.root.join(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", key)(e)),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let mut dir = match tokio::fs::read_dir(self.root.join(prefix)).await {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(io("list", prefix)(e)),
        };
        while let Some(entry) = dir.next_entry().await.map_err(io("list", prefix))? {
            if let Some(name) = entry.file_name().to_str() {
                if !name.starts_with(".tmp-") {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        tokio::fs::metadata(&self.root).await.map(|_| ()).map_err(io("stat", "."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_create_if_absent_list() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-local-{}", std::process::id()));
        let s = LocalStore::new(&dir).unwrap();
        s.put("a/b/c.flv", Bytes::from_static(b"one")).await.unwrap();
        s.put("a/b/c.flv", Bytes::from_static(b"two")).await.unwrap();
        assert_eq!(s.get("a/b/c.flv").await.unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(s.get("a/b/none").await.unwrap(), None);
        assert!(s.put_if_absent("a/t", Bytes::from_static(b"x")).await.unwrap());
        assert!(!s.put_if_absent("a/t", Bytes::from_static(b"y")).await.unwrap());
        assert_eq!(s.get("a/t").await.unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(s.list("a/").await.unwrap(), ["b", "t"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
