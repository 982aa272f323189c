//! The local-folder store: each object a file, written to a temporary file and renamed into
//! place (atomic on POSIX file systems). A create-if-absent links the temporary file into place
//! (`link(2)` fails if the name exists); a replace-if-unchanged holds an exclusive lock on a lock
//! file beside the object (`.lock-{name}`) while it compares and renames, so both are atomic
//! between the processes of one machine.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{StoreError, Version, MAX_OBJECT_LEN};

/// Objects as files under a root folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io<'a>(op: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { op, key: key.into(), source }
}

/// A file's version: every write renames a new file into place, so (inode, modification time,
/// length) changes with every write (an inode number freed and reused gets a new time).
fn version(m: &Metadata) -> Version {
    Version(format!("{:x}-{:x}.{:09}-{:x}", m.ino(), m.mtime(), m.mtime_nsec(), m.len()))
}

/// Runs a file system operation on a blocking thread (std::fs writes the shared bytes as they
/// are; tokio::fs would copy them first).
async fn blocking<T: Send + 'static>(
    op: &'static str,
    key: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(io(op, key)),
        Err(e) => Err(io(op, key)(std::io::Error::other(e))),
    }
}

/// Writes `data` to a new temporary file beside `path`, then lets `place` rename it into place
/// (`Ok(Some(_))`) or not (`Ok(None)`); a temporary file left unplaced is removed.
fn write_and_place<T>(
    path: &Path,
    data: &[u8],
    place: impl FnOnce(&Path) -> std::io::Result<Option<T>>,
) -> std::io::Result<Option<T>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let result = std::fs::write(&temp, data).and_then(|()| place(&temp));
    if !matches!(result, Ok(Some(_))) {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Reads the file at `path` (`None` if there is none) and the version of what was read.
fn read_versioned(path: &Path) -> std::io::Result<Option<(Bytes, Version)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if meta.len() > MAX_OBJECT_LEN {
        return Err(std::io::Error::new(ErrorKind::FileTooLarge, "too large"));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.by_ref().take(MAX_OBJECT_LEN + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_OBJECT_LEN {
        return Err(std::io::Error::new(ErrorKind::FileTooLarge, "too large"));
    }
    Ok(Some((Bytes::from(data), version(&meta))))
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

    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let path = self.root.join(key);
        let place = move || write_and_place(&path, &data, |temp| std::fs::rename(temp, &path).map(Some));
        blocking("write", key, place).await.map(|_| ())
    }

    pub(super) async fn put_if(
        &self,
        key: &str,
        data: Bytes,
        expected: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        let path = self.root.join(key);
        let expected = expected.cloned();
        let swap = move |temp: &Path| -> std::io::Result<Option<Version>> {
            let Some(expected) = expected else {
                // link(2) fails if the target exists: an atomic create-if-absent, with no lock.
                let placed = version(&std::fs::metadata(temp)?);
                let linked = std::fs::hard_link(temp, &path);
                std::fs::remove_file(temp)?;
                return match linked {
                    Ok(()) => Ok(Some(placed)),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
                    Err(e) => Err(e),
                };
            };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path.with_file_name(format!(".lock-{name}")))?;
            lock.lock()?;
            let current = match std::fs::metadata(&path) {
                Ok(m) => Some(version(&m)),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            if current.as_ref() != Some(&expected) {
                return Ok(None);
            }
            // A rename keeps the inode, the modification time and the length: the version.
            let placed = version(&std::fs::metadata(temp)?);
            std::fs::rename(temp, &path)?;
            Ok(Some(placed))
        };
        let path = self.root.join(key);
        blocking("conditional write", key, move || write_and_place(&path, &data, swap)).await
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        let path = self.root.join(key);
        match tokio::task::spawn_blocking(move || read_versioned(&path)).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) if e.kind() == ErrorKind::FileTooLarge => Err(StoreError::TooLarge(key.into())),
            Ok(Err(e)) => Err(io("read", key)(e)),
            Err(e) => Err(io("read", key)(std::io::Error::other(e))),
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
                // Temporary and lock files start with a dot; keys never do.
                if !name.starts_with('.') {
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
        let (data, v1) = s.get("a/b/c.flv").await.unwrap().unwrap();
        assert_eq!(&data[..], b"two");
        assert_eq!(s.get("a/b/none").await.unwrap(), None);
        assert!(s.put_if("a/t", Bytes::from_static(b"x"), None).await.unwrap().is_some());
        assert!(s.put_if("a/t", Bytes::from_static(b"y"), None).await.unwrap().is_none());
        assert_eq!(s.get("a/t").await.unwrap().unwrap().0, &b"x"[..]);
        assert_eq!(s.list("a/").await.unwrap(), ["b", "t"]);
        // Replace-if-unchanged: the version read wins once; a stale one (even for the same
        // bytes) loses.
        let v2 = s.put_if("a/b/c.flv", Bytes::from_static(b"two"), Some(&v1)).await.unwrap().unwrap();
        assert_ne!(v1, v2);
        assert!(s.put_if("a/b/c.flv", Bytes::from_static(b"three"), Some(&v1)).await.unwrap().is_none());
        assert!(s.put_if("a/none", Bytes::from_static(b"x"), Some(&v1)).await.unwrap().is_none());
        assert_eq!(s.get("a/b/c.flv").await.unwrap().unwrap(), (Bytes::from_static(b"two"), v2));
        // Nothing but the objects is left in the folder, and no temporary file.
        assert_eq!(
            std::fs::read_dir(dir.join("a"))
                .unwrap()
                .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".lock-"))
                .count(),
            2
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Many writers racing to replace one version: exactly one wins.
    #[tokio::test]
    async fn conditional_replace_is_atomic() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-local-race-{}", std::process::id()));
        let s = LocalStore::new(&dir).unwrap();
        let v = s.put_if("m", Bytes::from_static(b"0"), None).await.unwrap().unwrap();
        let tries = (0..16).map(|i| {
            let (s, v) = (s.clone(), v.clone());
            tokio::spawn(async move { s.put_if("m", Bytes::from(format!("{i}")), Some(&v)).await.unwrap().is_some() })
        });
        let mut won = 0;
        for t in tries {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
