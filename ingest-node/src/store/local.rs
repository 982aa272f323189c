//! The local-folder store: each object a file, written to a temporary file and renamed into
//! place (atomic on POSIX file systems). A create-if-absent links the temporary file into place
//! (`link(2)` fails if the name exists); a replace-if-unchanged holds an exclusive lock on a lock
//! file beside the object (`.lock-{name}`) while it compares and renames, so both are atomic
//! between the processes of one machine.
//!
//! Durable: the temporary file is `fsync`ed before it is renamed or linked into place, and its
//! folder after (and the parent of every folder created for it), so after a power cut an object
//! is either absent or complete, and a manifest never lists a chunk that is empty. Temporary
//! files (`.tmp-{pid}-{run}-{n}`) that a killed process left behind are removed at start
//! ([`LocalStore::remove_leftover_temps`]).

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{StoreError, Version, MAX_OBJECT_LEN};

/// Objects as files under a root folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This run of the process, in its temporary files' names: a container's process is PID 1 at
/// every start, so the PID alone cannot tell this run's files from a killed run's.
fn this_run() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let mut r = [0u8; 4];
        let _ = getrandom::fill(&mut r);
        format!("{:08x}", u32::from_be_bytes(r))
    })
}

/// The prefix of the store's temporary files: `.tmp-{pid}-{run}-{n}` (keys never start with a
/// dot).
const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file older than this is a leftover even if a process with its writer's PID runs
/// (PIDs are reused); a write's temporary file lives for milliseconds.
const LEFTOVER_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Deepest folder nesting the leftover sweep walks (keys are a few segments deep).
const MAX_SWEEP_DEPTH: usize = 16;

/// The name of this run's `n`th temporary file.
fn temp_name(n: u64) -> String {
    format!("{TEMP_PREFIX}{}-{}-{n}", std::process::id(), this_run())
}

/// The writer's PID and run if `name` is one of the store's temporary files
/// (`.tmp-{pid}-{run}-{n}`).
fn temp_writer(name: &str) -> Option<(u32, &str)> {
    let mut fields = name.strip_prefix(TEMP_PREFIX)?.split('-');
    let (pid, run, n) = (fields.next()?, fields.next()?, fields.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    if fields.next().is_some() || !digits(pid) || !hex(run) || !digits(n) {
        return None;
    }
    Some((pid.parse().ok()?, run))
}

/// Whether a temporary file of run `run` of process `pid`, last written at `modified`, was left
/// behind: its writer is gone (another run of this PID, or no such process) or it is older than
/// [`LEFTOVER_TEMP_AGE`]. This run's own are in use.
fn is_leftover((pid, run): (u32, &str), modified: Option<SystemTime>) -> bool {
    let own_pid = pid == std::process::id();
    if own_pid && run == this_run() {
        return false;
    }
    let old = modified.and_then(|m| m.elapsed().ok()).is_some_and(|age| age > LEFTOVER_TEMP_AGE);
    old || own_pid || !process_runs(pid)
}

/// Whether a process `pid` runs (on Linux, `/proc/{pid}` exists; elsewhere assumed, so only the
/// age tells).
fn process_runs(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// `fsync` of a folder: makes the names created, renamed or removed in it durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parent up to `root`, each made durable in its parent.
fn create_dir_durable(root: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if dir == root {
        return std::fs::create_dir_all(root);
    }
    let parent = dir.parent().unwrap_or(root);
    create_dir_durable(root, parent)?;
    match std::fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn io<'a>(op: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { op, key: key.into(), source }
}

/// A file's version: every write renames a new file into place, so (inode, modification time,
/// length) changes with every write (an inode number freed and reused gets a new time).
fn version(m: &Metadata) -> Version {
    Version(format!("{:x}-{:x}.{:09}-{:x}", m.ino(), m.mtime(), m.mtime_nsec(), m.len()))
}

/// The lock file of a replace-if-unchanged of the object at `path`: `.lock-{name}` beside it.
fn lock_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
    path.with_file_name(format!(".lock-{name}"))
}

/// Removes the object at `path` (gone already is fine) and, if a conditional write made one,
/// its lock file: under that lock, so that no replace-if-unchanged is between its compare and
/// its rename; one waiting on the lock then finds the object gone and fails as it should.
/// Without this, every object ever written conditionally would leave an empty lock file.
fn remove_with_lock(path: &Path) -> std::io::Result<()> {
    let gone = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        r => r,
    };
    let lock_path = lock_path(path);
    match OpenOptions::new().write(true).open(&lock_path) {
        Ok(lock) => {
            lock.lock()?;
            gone(std::fs::remove_file(path))?;
            gone(std::fs::remove_file(&lock_path))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => gone(std::fs::remove_file(path)),
        Err(e) => Err(e),
    }
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

/// Writes `data` to a new temporary file beside `path` and `fsync`s it, then lets `place` rename
/// it into place (`Ok(Some(_))`, then the folder is `fsync`ed) or not (`Ok(None)`); a temporary
/// file left unplaced is removed.
fn write_and_place<T>(
    root: &Path,
    path: &Path,
    data: &[u8],
    place: impl FnOnce(&Path) -> std::io::Result<Option<T>>,
) -> std::io::Result<Option<T>> {
    let dir = path.parent().unwrap_or(root);
    create_dir_durable(root, dir)?;
    let temp = dir.join(temp_name(TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let write = || {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(data)?;
        file.sync_all()
    };
    let result = write().and_then(|()| place(&temp));
    if !matches!(result, Ok(Some(_))) {
        let _ = std::fs::remove_file(&temp);
    }
    if matches!(result, Ok(Some(_))) {
        // The object is in place: a failed folder sync makes it less durable, not absent, and
        // the caller must not take it for a failed write (a create-if-absent retried would then
        // find its own object and think it lost).
        if let Err(e) = sync_dir(dir) {
            tracing::warn!("store folder: cannot fsync {}: {e}", dir.display());
        }
    }
    result
}

/// Removes the leftover temporary files under `dir` (see [`is_leftover`]), walking at most
/// `depth` folders deep; returns how many.
fn remove_leftovers(dir: &Path, depth: usize) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if kind.is_dir() && depth > 0 {
            removed += remove_leftovers(&entry.path(), depth - 1)?;
        } else if kind.is_file() {
            let Some(writer) = name.to_str().and_then(temp_writer) else { continue };
            let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
            if is_leftover(writer, modified) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(removed)
}

/// Reads the file at `path` (`None` if there is none) and the version of what was read: once,
/// into a buffer sized from the file's length (objects are renamed into place, never written in
/// place, so the open file keeps that length).
fn read_versioned(path: &Path) -> std::io::Result<Option<(Vec<u8>, Version)>> {
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
    Read::by_ref(&mut file).take(MAX_OBJECT_LEN + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_OBJECT_LEN {
        return Err(std::io::Error::new(ErrorKind::FileTooLarge, "too large"));
    }
    Ok(Some((data, version(&meta))))
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

    /// Removes the temporary files that processes killed mid-write left in the folder (the
    /// store's own `.tmp-{pid}-{run}-{n}` files whose run is over, or older than an hour; nothing
    /// else); returns how many. Walks the whole folder: run it once, at start.
    pub async fn remove_leftover_temps(&self) -> Result<usize, StoreError> {
        let root = self.root.clone();
        blocking("remove leftover temporary files in", ".", move || remove_leftovers(&root, MAX_SWEEP_DEPTH)).await
    }

    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let (root, path) = (self.root.clone(), self.root.join(key));
        let place = move || write_and_place(&root, &path, &data, |temp| std::fs::rename(temp, &path).map(Some));
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
            let lock = OpenOptions::new().create(true).truncate(false).write(true).open(lock_path(&path))?;
            lock.lock()?;
            let current = match std::fs::metadata(&path) {
                Ok(m) => Some(version(&m)),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            if current.as_ref() != Some(&expected) {
                if current.is_none() {
                    // The object is gone (deleted): its lock file goes too, as a delete's does.
                    std::fs::remove_file(lock_path(&path))?;
                }
                return Ok(None);
            }
            // A rename keeps the inode, the modification time and the length: the version.
            let placed = version(&std::fs::metadata(temp)?);
            std::fs::rename(temp, &path)?;
            Ok(Some(placed))
        };
        let (root, path) = (self.root.clone(), self.root.join(key));
        blocking("conditional write", key, move || write_and_place(&root, &path, &data, swap)).await
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        let path = self.root.join(key);
        match tokio::task::spawn_blocking(move || read_versioned(&path)).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) if e.kind() == ErrorKind::FileTooLarge => Err(StoreError::TooLarge(key.into())),
            Ok(Err(e)) => Err(io("read", key)(e)),
            Err(e) => Err(io("read", key)(std::io::Error::other(e))),
        }
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.root.join(key);
        blocking("delete", key, move || remove_with_lock(&path)).await
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

    /// An object is read once, into a buffer of exactly its length (no regrowth, no slack), and
    /// the store hands that buffer over as it is.
    #[tokio::test]
    async fn an_object_is_read_into_a_buffer_of_its_length() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-local-len-{}", std::process::id()));
        let s = super::super::Store::Local(LocalStore::new(&dir).unwrap());
        for len in [0, 1, 8191, 8192, (3 << 20) + 5] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            s.put("live/cam/1/0.flv", Bytes::from(data.clone())).await.unwrap();
            let read = s.get_owned("live/cam/1/0.flv").await.unwrap().unwrap();
            assert_eq!((read.len(), read.capacity()), (len, len), "{len} bytes");
            assert!(read == data, "{len} bytes");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
        assert_eq!(s.get("a/b/c.flv").await.unwrap().unwrap(), (b"two".to_vec(), v2));
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

    /// At start, the store's temporary files of processes that are gone (or of an hour ago) are
    /// removed, in every folder; this process's own, fresh ones of running processes, and other
    /// dot files stay.
    #[tokio::test]
    async fn leftover_temps_are_removed_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-local-leftovers-{}", std::process::id()));
        let s = LocalStore::new(&dir).unwrap();
        s.put("live/cam/1/0.flv", Bytes::from_static(b"chunk")).await.unwrap();
        let sub = dir.join("live/cam/1");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let removed = [
            sub.join(format!(".tmp-{dead}-0a1b-3")),
            dir.join(format!(".tmp-{dead}-0a1b-4")),
            // An earlier run of this PID (a container's process is PID 1 every time).
            sub.join(format!(".tmp-{me}-{}-7", if this_run() == "0" { "1" } else { "0" })),
            sub.join(".tmp-1-0a1b-5"),
        ];
        let kept = [
            sub.join(temp_name(99)),
            sub.join(".tmp-1-0a1b-6"),
            sub.join(".tmp-x-0a1b-1"),
            sub.join(".tmp-12-3"),
            sub.join(".lock-0.flv"),
        ];
        for path in removed.iter().chain(&kept) {
            std::fs::write(path, b"x").unwrap();
        }
        // PID 1 runs, but this one of its files is two hours old.
        let old = SystemTime::now() - Duration::from_secs(7200);
        File::options().write(true).open(&removed[3]).unwrap().set_modified(old).unwrap();
        assert_eq!(s.remove_leftover_temps().await.unwrap(), 4);
        for path in &removed {
            assert!(!path.exists(), "{} left", path.display());
        }
        for path in &kept {
            assert!(path.exists(), "{} removed", path.display());
        }
        assert_eq!(s.get("live/cam/1/0.flv").await.unwrap().unwrap().0, &b"chunk"[..]);
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

    /// A deleted object takes its lock file with it: objects written with replace-if-unchanged
    /// and deleted (pending webhook deliveries, owner records) leave nothing behind; a
    /// replace-if-unchanged of the deleted object then fails, a create-if-absent succeeds.
    #[tokio::test]
    async fn a_delete_removes_the_lock_file_too() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-local-delete-{}", std::process::id()));
        let s = LocalStore::new(&dir).unwrap();
        for n in 0..3 {
            let key = format!("p/{n}");
            let v = s.put_if(&key, Bytes::from_static(b"1"), None).await.unwrap().unwrap();
            let v = s.put_if(&key, Bytes::from_static(b"2"), Some(&v)).await.unwrap().unwrap();
            assert!(dir.join(format!("p/.lock-{n}")).exists(), "a replace-if-unchanged makes its lock file");
            s.delete(&key).await.unwrap();
            assert!(s.put_if(&key, Bytes::from_static(b"3"), Some(&v)).await.unwrap().is_none());
        }
        s.delete("p/never-written").await.unwrap();
        assert_eq!(std::fs::read_dir(dir.join("p")).unwrap().count(), 0, "nothing is left in the folder");
        assert!(s.put_if("p/0", Bytes::from_static(b"4"), None).await.unwrap().is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
