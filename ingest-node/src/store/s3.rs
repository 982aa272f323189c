//! The S3-compatible store (AWS S3, Cloudflare R2, MinIO, GCS interop, s3s-fs): each object one
//! PutObject, which S3 makes visible atomically (readers see the old or the new bytes).
//!
//! Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
//! profiles, web identity, container and instance metadata); the region from the options, else
//! the chain (`AWS_REGION`, profile), else `us-east-1` (R2 wants `auto`).

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;

use super::{valid_key, StoreError, Version, MAX_OBJECT_LEN};

/// Most names [`S3Store::list`] returns; a longer listing is an error rather than a silently
/// partial answer.
const MAX_LIST_ENTRIES: usize = 100_000;

/// Longest the opening of a connection to the service may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest one attempt of a request may take (an upload gets [`MIN_UPLOAD_RATE`]'s time for its
/// bytes on top): well under the owner lease (30 s by default), so that a stalled request is
/// given up and tried again instead of hanging.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The slowest upload, in bytes per second, an attempt is given time for: a 6 MiB chunk gets 6 s
/// more than [`ATTEMPT_TIMEOUT`].
const MIN_UPLOAD_RATE: u64 = 1 << 20;

/// Attempts of one request (the SDK's standard retry, with its backoff between them); the
/// callers retry further.
const MAX_ATTEMPTS: u32 = 3;

/// Room for the SDK's backoff between attempts, in the whole request's time limit.
const RETRY_PAUSES: Duration = Duration::from_secs(5);

/// The time limits of a request that uploads `len` bytes (0 for the others): per attempt, and
/// for all its attempts.
fn timeouts(len: usize) -> TimeoutConfig {
    let attempt = ATTEMPT_TIMEOUT + Duration::from_millis(len as u64 * 1000 / MIN_UPLOAD_RATE);
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * MAX_ATTEMPTS + RETRY_PAUSES)
        .build()
}

/// The configuration of one upload of `len` bytes: its time limits.
fn upload_config(len: usize) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(timeouts(len))
}

/// Where the objects live: a bucket, a key prefix, and how to reach the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// Prepended to every key as `{prefix}/{key}`: no leading or trailing `/`; may be empty.
    pub prefix: String,
    /// The service's URL (`https://ACCOUNT.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`);
    /// `None` for AWS S3 itself.
    pub endpoint: Option<String>,
    /// The region; `None` for the AWS chain's (`AWS_REGION`, profile), else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`) instead of virtual hosts
    /// (`BUCKET.ENDPOINT/KEY`): needed by s3s-fs, MinIO and most self-hosted servers.
    pub path_style: bool,
}

impl S3Options {
    /// Parses `s3://bucket` or `s3://bucket/some/prefix` (slashes around the prefix are
    /// dropped); the other fields are left at their defaults.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("{url:?} is not an s3://bucket/prefix URL"))?;
        if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{url:?}: an s3:// URL has no query, fragment or spaces"));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{url:?} names no bucket"));
        }
        if bucket.contains(['@', ':', '\\']) {
            return Err(format!("{url:?}: {bucket:?} is not a bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() && !valid_key(prefix) {
            return Err(format!("{url:?}: the prefix must be /-separated segments of A-Z a-z 0-9 _ . -"));
        }
        Ok(Self { bucket: bucket.into(), prefix: prefix.into(), ..Self::default() })
    }
}

/// Objects in an S3-compatible bucket, under a key prefix.
///
/// Cheap to clone (the SDK client is shared). Its `Debug` output holds no secrets.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    region: String,
    path_style: bool,
    /// ListObjectsV2 page size (1000, the S3 maximum; smaller in tests).
    page_size: i32,
    /// Largest object [`S3Store::get`] reads ([`MAX_OBJECT_LEN`]; smaller in tests).
    max_len: u64,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint.as_deref().map(redact_userinfo))
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// The error of operation `op` on `key`, with the SDK's whole cause chain.
fn s3_error(op: &'static str, key: &str, e: impl std::error::Error) -> StoreError {
    StoreError::S3 { op, key: key.into(), message: DisplayErrorContext(e).to_string() }
}

/// The HTTP status and S3 error code of a failed request, if the service answered.
fn status_and_code<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> (Option<u16>, Option<&str>) {
    let status = e.raw_response().map(|r| r.status().as_u16());
    (status, e.as_service_error().and_then(|se| se.code()))
}

/// `url` without any `user:password@` part.
fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("***@{}", &rest[at + 1..]),
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// A `Content-Type` for the kinds of objects this program writes (for buckets served directly).
fn content_type(key: &str) -> Option<&'static str> {
    let ext = key.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" => "video/iso.segment",
        "mp4" => "video/mp4",
        "ts" => "video/mp2t",
        "flv" => "video/x-flv",
        "json" => "application/json",
        _ => return None,
    })
}

impl S3Store {
    /// A store for `opts`, with credentials from the standard AWS chain. Nothing is contacted
    /// yet: [`S3Store::check`] tells whether the bucket answers.
    pub async fn new(opts: S3Options) -> S3Store {
        Self::build(opts, None).await
    }

    async fn build(opts: S3Options, credentials: Option<Credentials>) -> S3Store {
        use aws_config::meta::region::RegionProviderChain;

        let region = RegionProviderChain::first_try(opts.region.clone().map(Region::new))
            .or_default_provider()
            .or_else(Region::from_static("us-east-1"));
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region)
            .timeout_config(timeouts(0))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        let sdk_config = loader.load().await;
        let region = sdk_config.region().map_or_else(|| "us-east-1".into(), |r| r.to_string());

        // Checksums only where an operation requires them: the newer default (a CRC32 on every
        // upload) is refused by several S3-compatible services.
        let mut config = aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(opts.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
        if let Some(endpoint) = &opts.endpoint {
            config = config.endpoint_url(endpoint);
        }
        S3Store {
            client: Client::from_conf(config.build()),
            bucket: opts.bucket,
            prefix: opts.prefix,
            endpoint: opts.endpoint,
            region,
            path_style: opts.path_style,
            page_size: 1000,
            max_len: MAX_OBJECT_LEN,
        }
    }

    /// The object key of store key `key`.
    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let config = upload_config(data.len());
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .set_content_type(content_type(key).map(Into::into))
            .body(ByteStream::from(data))
            .customize()
            .config_override(config)
            .send()
            .await
            .map_err(|e| s3_error("put", key, e))?;
        Ok(())
    }

    /// Writes the object only if it is at `expected` (`If-Match: <ETag>`), or only if there is
    /// none (`If-None-Match: *`): `Ok(None)` on 412 Precondition Failed, or when the object is
    /// gone (404 to an `If-Match`).
    ///
    /// This is atomic on AWS S3, R2, MinIO and GCS. A 409 ConditionalRequestConflict (another
    /// conditional write to the key in flight) is retried a few times, then taken as "changed".
    ///
    /// Limitations: a service that ignores the headers overwrites the object; nothing on the
    /// client side can make that safe. s3s-fs 0.14.1 honours both but checks, then writes, so
    /// two concurrent calls can both succeed there (the last write wins); sequential calls
    /// behave.
    pub(super) async fn put_if(
        &self,
        key: &str,
        data: Bytes,
        expected: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        let object_key = self.object_key(key);
        let mut conflicts = 0;
        loop {
            let request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&object_key)
                .set_content_type(content_type(key).map(Into::into))
                .body(ByteStream::from(data.clone()));
            let request = match expected {
                Some(Version(etag)) => request.if_match(etag),
                None => request.if_none_match("*"),
            };
            let e = match request.customize().config_override(upload_config(data.len())).send().await {
                Ok(output) => {
                    let etag = output.e_tag().ok_or_else(|| StoreError::S3 {
                        op: "conditional put",
                        key: key.into(),
                        message: "the service returned no ETag".into(),
                    })?;
                    return Ok(Some(Version(etag.to_string())));
                }
                Err(e) => e,
            };
            match status_and_code(&e) {
                (Some(412), _) | (_, Some("PreconditionFailed")) => return Ok(None),
                (_, Some("NoSuchKey")) | (Some(404), None) if expected.is_some() => return Ok(None),
                (_, Some("ConditionalRequestConflict")) | (Some(409), None) => {
                    conflicts += 1;
                    if conflicts > 3 {
                        return Ok(None);
                    }
                    tokio::time::sleep(Duration::from_millis(100 << conflicts)).await;
                }
                _ => return Err(s3_error("conditional put", key, e)),
            }
        }
    }

    /// Reads the object; `Ok(None)` on NoSuchKey (or a 404 without an S3 error code; NoSuchBucket
    /// and the other errors are errors). Objects over [`MAX_OBJECT_LEN`] are refused.
    pub(super) async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        let result = self.client.get_object().bucket(&self.bucket).key(self.object_key(key)).send().await;
        let mut output = match result {
            Ok(output) => output,
            Err(e) => {
                return match status_and_code(&e) {
                    (_, Some("NoSuchKey")) | (Some(404), None) => Ok(None),
                    _ => Err(s3_error("get", key, e)),
                };
            }
        };
        // No ETag only from a service that cannot replace-if-unchanged: such a version matches
        // nothing.
        let version = Version(output.e_tag().unwrap_or("").to_string());
        let len = output.content_length().map(|n| u64::try_from(n).unwrap_or(0));
        if len.is_some_and(|n| n > self.max_len) {
            return Err(StoreError::TooLarge(key.into()));
        }
        // The body's pieces assembled once, into a buffer of the announced length (bounded even
        // when the length is not announced, or is wrong).
        let mut data = Vec::with_capacity(len.unwrap_or(0).min(16 << 20) as usize);
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(|e| s3_error("get", key, e))?;
            if (data.len() + chunk.len()) as u64 > self.max_len {
                return Err(StoreError::TooLarge(key.into()));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(Some((data, version)))
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let result = self.client.delete_object().bucket(&self.bucket).key(self.object_key(key)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if status_and_code(&e).1 == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(s3_error("delete", key, e)),
        }
    }

    /// The names directly under `prefix` (which ends with `/`): the common prefixes of a
    /// ListObjectsV2 with delimiter `/` (without their `/`) and the objects, sorted.
    /// More than 100 000 names is an error.
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let full = self.object_key(prefix);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full)
                .delimiter("/")
                .max_keys(self.page_size)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| s3_error("list", prefix, e))?;
            let folders = page.common_prefixes().iter().filter_map(|p| p.prefix());
            let objects = page.contents().iter().filter_map(|o| o.key());
            for name in folders.chain(objects) {
                let name = name.strip_prefix(full.as_str()).unwrap_or("").trim_end_matches('/');
                // Skips a "folder" marker object named like the prefix itself.
                if !name.is_empty() {
                    names.push(name.to_string());
                }
            }
            if names.len() > MAX_LIST_ENTRIES {
                return Err(StoreError::S3 {
                    op: "list",
                    key: prefix.into(),
                    message: format!("more than {MAX_LIST_ENTRIES} names"),
                });
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => {
                    if token.as_deref() == Some(next) {
                        return Err(StoreError::S3 {
                            op: "list",
                            key: prefix.into(),
                            message: "the service repeated a continuation token".into(),
                        });
                    }
                    token = Some(next.to_string());
                }
                _ => break,
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Lists at most one key under the prefix: proves the endpoint, credentials, bucket and
    /// list permission.
    pub(super) async fn check(&self) -> Result<(), StoreError> {
        let prefix = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        self.client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| s3_error("list", "", e))?;
        Ok(())
    }

    /// `s3://bucket/prefix at ENDPOINT (region R, path-style)`, without secrets.
    pub fn describe(&self) -> String {
        let mut s = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            s = format!("{s}/{}", self.prefix);
        }
        if let Some(endpoint) = &self.endpoint {
            s = format!("{s} at {}", redact_userinfo(endpoint));
        }
        s = format!("{s} (region {}", self.region);
        if self.path_style {
            s.push_str(", path-style");
        }
        s.push(')');
        s
    }
}

#[cfg(test)]
mod tests {
    //! Against a real S3 server: s3s-fs (install it with `tests/s3s.sh`).

    use std::net::{TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    use super::super::Store;
    use super::*;

    const BUCKET: &str = "rapid";
    const ACCESS_KEY: &str = "AKTEST";
    const SECRET_KEY: &str = "SKTEST-secret";

    #[test]
    fn options_from_url() {
        let o = S3Options::from_url("s3://media/live/edge-1/").unwrap();
        assert_eq!((o.bucket.as_str(), o.prefix.as_str()), ("media", "live/edge-1"));
        assert_eq!((o.endpoint, o.region, o.path_style), (None, None, false));
        for url in ["s3://media", "s3://media/", "s3://media//"] {
            let o = S3Options::from_url(url).unwrap();
            assert_eq!((o.bucket.as_str(), o.prefix.as_str()), ("media", ""), "{url}");
        }
        for bad in
            ["", "s3://", "s3:///p", "http://b/p", "media/p", "s3://b/a//c", "s3://b/a?x=1", "s3://b/..", "s3://u:p@b/"]
        {
            assert!(S3Options::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn userinfo_redacted() {
        assert_eq!(redact_userinfo("http://127.0.0.1:8014"), "http://127.0.0.1:8014");
        assert_eq!(redact_userinfo("https://u:pw@h:1/x@y"), "https://***@h:1/x@y");
    }

    /// The s3s-fs program: `$S3S_FS`, else on `PATH`, else in `~/.cargo/bin`.
    fn s3s_fs_program() -> PathBuf {
        if let Some(p) = std::env::var_os("S3S_FS") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "S3S_FS={} is no file: run tests/s3s.sh to install s3s-fs", p.display());
            return p;
        }
        let mut dirs: Vec<PathBuf> =
            std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".cargo/bin"));
        }
        dirs.into_iter()
            .map(|d| d.join("s3s-fs"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("s3s-fs not found (PATH, ~/.cargo/bin, $S3S_FS): run tests/s3s.sh to install it"))
    }

    /// An s3s-fs server over a temporary folder holding an empty bucket; killed on drop.
    struct S3sFs {
        child: Child,
        dir: PathBuf,
        endpoint: String,
    }

    impl S3sFs {
        fn start(name: &str) -> Self {
            let program = s3s_fs_program();
            let dir = std::env::temp_dir().join(format!("rapidrtmp-s3s-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("data").join(BUCKET)).unwrap();
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = std::fs::File::create(dir.join("s3s-fs.log")).unwrap();
            let child = Command::new(&program)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(dir.join("data"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
            let mut server = Self { child, dir, endpoint: format!("http://127.0.0.1:{port}") };
            let deadline = Instant::now() + Duration::from_secs(15);
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                let log = std::fs::read_to_string(server.dir.join("s3s-fs.log")).unwrap_or_default();
                if let Some(status) = server.child.try_wait().unwrap() {
                    panic!("s3s-fs exited ({status}):\n{log}");
                }
                assert!(Instant::now() < deadline, "s3s-fs did not listen on {port} in 15 s:\n{log}");
                std::thread::sleep(Duration::from_millis(50));
            }
            server
        }

        fn options(&self, prefix: &str) -> S3Options {
            S3Options {
                bucket: BUCKET.into(),
                prefix: prefix.into(),
                endpoint: Some(self.endpoint.clone()),
                region: Some("us-east-1".into()),
                path_style: true,
            }
        }

        async fn store_with(&self, prefix: &str, secret: &str) -> S3Store {
            let credentials = Credentials::new(ACCESS_KEY, secret, None, None, "test");
            S3Store::build(self.options(prefix), Some(credentials)).await
        }

        async fn store(&self, prefix: &str) -> Store {
            Store::S3(self.store_with(prefix, SECRET_KEY).await)
        }
    }

    impl Drop for S3sFs {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn pattern(len: usize, seed: u8) -> Bytes {
        (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed).collect()
    }

    #[tokio::test]
    async fn put_get_overwrite_delete() {
        let server = S3sFs::start("rw");
        let store = server.store("pre/fix").await;
        store.check().await.unwrap();

        let big = pattern(5 << 20, 1);
        store.put("live/cam/1/0.flv", big.clone()).await.unwrap();
        assert!(store.get("live/cam/1/0.flv").await.unwrap() == Some(big.clone()));
        // The object is where the prefix says, byte for byte.
        let on_disk = server.dir.join("data").join(BUCKET).join("pre/fix/live/cam/1/0.flv");
        assert!(std::fs::read(on_disk).unwrap() == big[..]);

        let small = pattern(1000, 2);
        store.put("live/cam/1/0.flv", small.clone()).await.unwrap();
        assert!(store.get("live/cam/1/0.flv").await.unwrap() == Some(small));
        store.put("live/cam/empty", Bytes::new()).await.unwrap();
        assert_eq!(store.get("live/cam/empty").await.unwrap(), Some(Bytes::new()));

        assert_eq!(store.get("live/cam/1/none.flv").await.unwrap(), None);
        assert_eq!(store.get("nowhere/at/all").await.unwrap(), None);

        store.delete("live/cam/1/0.flv").await.unwrap();
        assert_eq!(store.get("live/cam/1/0.flv").await.unwrap(), None);
        store.delete("live/cam/1/0.flv").await.unwrap(); // already gone: no error
        assert!(store.describe().starts_with(&format!("s3://rapid/pre/fix at {}", server.endpoint)));
    }

    #[tokio::test]
    async fn put_if_absent_creates_once() {
        let server = S3sFs::start("cas");
        let store = server.store("").await;
        assert!(store.put_if_absent("a/token", Bytes::from_static(b"first")).await.unwrap());
        assert!(!store.put_if_absent("a/token", Bytes::from_static(b"second")).await.unwrap());
        assert_eq!(store.get("a/token").await.unwrap().as_deref(), Some(&b"first"[..]));
        store.delete("a/token").await.unwrap();
        assert!(store.put_if_absent("a/token", Bytes::from_static(b"third")).await.unwrap());
        assert_eq!(store.get("a/token").await.unwrap().as_deref(), Some(&b"third"[..]));
        // An object written without the condition counts too.
        store.put("a/plain", Bytes::from_static(b"x")).await.unwrap();
        assert!(!store.put_if_absent("a/plain", Bytes::from_static(b"y")).await.unwrap());
        assert_eq!(store.get("a/plain").await.unwrap().as_deref(), Some(&b"x"[..]));
    }

    #[tokio::test]
    async fn replace_if_unchanged() {
        let server = S3sFs::start("ifmatch");
        let store = server.store("").await;
        let v1 = store.put_if("a/m", Bytes::from_static(b"one"), None).await.unwrap().unwrap();
        assert_eq!(store.get_versioned("a/m").await.unwrap(), Some((Bytes::from_static(b"one"), v1.clone())));
        let v2 = store.put_if("a/m", Bytes::from_static(b"two"), Some(&v1)).await.unwrap().unwrap();
        assert_ne!(v1, v2);
        // A stale version, or one of an object that is gone, writes nothing.
        assert_eq!(store.put_if("a/m", Bytes::from_static(b"three"), Some(&v1)).await.unwrap(), None);
        assert_eq!(store.put_if("a/none", Bytes::from_static(b"x"), Some(&v1)).await.unwrap(), None);
        assert_eq!(store.get_versioned("a/m").await.unwrap(), Some((Bytes::from_static(b"two"), v2)));
    }

    #[tokio::test]
    async fn list_names_under_prefix() {
        let server = S3sFs::start("list");
        let mut s3 = server.store_with("p", SECRET_KEY).await;
        s3.page_size = 2; // forces continuation tokens
        let store = Store::S3(s3);
        for key in ["live/a/1.flv", "live/a/2.flv", "live/a/x/3.flv", "live/b/y/z/4", "live/c", "live/d"] {
            store.put(key, Bytes::from_static(b"1")).await.unwrap();
        }
        store.put("liveish/e", Bytes::from_static(b"1")).await.unwrap();
        store.put("other/f", Bytes::from_static(b"1")).await.unwrap();

        assert_eq!(store.list("live/").await.unwrap(), ["a", "b", "c", "d"]);
        assert_eq!(store.list("live/a/").await.unwrap(), ["1.flv", "2.flv", "x"]);
        assert_eq!(store.list("live/b/y/").await.unwrap(), ["z"]);
        assert_eq!(store.list("none/").await.unwrap(), Vec::<String>::new());
        store.delete("live/c").await.unwrap();
        assert_eq!(store.list("live/").await.unwrap(), ["a", "b", "d"]);

        // Without a prefix, and nothing outside the store's prefix leaks in.
        let unprefixed = server.store("").await;
        unprefixed.put("q/1", Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(unprefixed.list("p/").await.unwrap(), ["live", "liveish", "other"]);
        assert_eq!(store.list("q/").await.unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn too_large_is_refused() {
        let server = S3sFs::start("large");
        let mut s3 = server.store_with("", SECRET_KEY).await;
        s3.max_len = 1000;
        let store = Store::S3(s3);
        store.put("k/ok", pattern(1000, 3)).await.unwrap();
        store.put("k/big", pattern(1001, 4)).await.unwrap();
        assert_eq!(store.get("k/ok").await.unwrap().map(|b| b.len()), Some(1000));
        assert!(matches!(store.get("k/big").await, Err(StoreError::TooLarge(k)) if k == "k/big"));
    }

    #[tokio::test]
    async fn wrong_credentials_fail() {
        let server = S3sFs::start("auth");
        let store = Store::S3(server.store_with("", "not-the-secret").await);
        let err = store.check().await.unwrap_err();
        assert!(matches!(err, StoreError::S3 { op: "list", .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("SignatureDoesNotMatch"), "{message}");
        assert!(!message.contains("not-the-secret"), "{message}");
        assert!(!format!("{store:?}").contains("not-the-secret"));
        assert!(!store.describe().contains("not-the-secret"));
        let err = store.put("k/1", Bytes::from_static(b"1")).await.unwrap_err();
        assert!(matches!(err, StoreError::S3 { op: "put", .. }), "{err}");
        assert!(matches!(store.get("k/1").await, Err(StoreError::S3 { op: "get", .. })));
        assert!(matches!(store.list("k/").await, Err(StoreError::S3 { op: "list", .. })));
        assert!(!server.dir.join("data").join(BUCKET).join("k").exists());

        // A missing bucket is an error, not an empty store.
        let mut opts = server.options("");
        opts.bucket = "missing".into();
        let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
        let store = Store::S3(S3Store::build(opts, Some(credentials)).await);
        assert!(store.check().await.is_err());
        // (s3s-fs answers GetObject in a missing bucket with NoSuchKey, and PutObject creates the
        // bucket's folder: only the listing tells.)
    }

    /// Racing conditional creates on s3s-fs. AWS S3 and R2 let exactly one of them win; s3s-fs
    /// checks for the file, then writes it, so several are told they won (7 of 8 in one
    /// measured run): "exactly one winner" is a property of the server, which s3s-fs does not have, and
    /// the count is printed, not asserted. What holds on any server is asserted: some call won,
    /// the object is whole and is the body of a call that was told it won (never a loser's,
    /// never a mix), and once the race is over the key is taken.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_if_absent_racing_stores_one_winners_whole_body() {
        let server = S3sFs::start("race");
        let store = server.store("").await;
        let writers: Vec<_> = (0u8..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let data = Bytes::from(vec![i; 256 << 10]);
                    store.put_if_absent("race/token", data).await.unwrap()
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, writer) in writers.into_iter().enumerate() {
            if writer.await.unwrap() {
                winners.push(i as u8);
            }
        }
        eprintln!("s3s-fs: {} of 8 racing put_if_absent calls succeeded", winners.len());
        assert!(!winners.is_empty(), "no racing put_if_absent call won");
        let stored = store.get("race/token").await.unwrap().expect("the raced object");
        assert_eq!(stored.len(), 256 << 10, "the stored body's length");
        assert!(
            winners.contains(&stored[0]) && stored.iter().all(|&b| b == stored[0]),
            "the object holds call {}'s body (winners {winners:?}) or a mix",
            stored[0]
        );
        assert!(!store.put_if_absent("race/token", Bytes::from_static(b"late")).await.unwrap(), "a later create won");
        assert_eq!(store.get("race/token").await.unwrap(), Some(stored), "a later create changed the object");
    }
}
