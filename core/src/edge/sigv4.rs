//! AWS Signature Version 4 for the edge's object reads from a private S3-compatible origin
//! (AWS SigV4 "Authenticating Requests: Using the Authorization Header", single chunk, GET).
//! Sans-IO: the caller passes the time and the credentials in, and sends the headers out.

use alloc::{format, string::String, vec::Vec};
use core::fmt::Write;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// SHA-256 of the empty body, the payload hash of a GET.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Credentials and scope.
#[derive(Clone)]
pub struct Credentials<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Region (`us-east-1`, `auto` for R2).
    pub region: &'a str,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` for milliseconds since the Unix epoch.
pub fn amz_date(unix_ms: u64) -> String {
    crate::date::iso8601(unix_ms).chars().filter(|c| c.is_ascii_digit() || *c == 'T').take(15).collect::<String>() + "Z"
}

/// The `Authorization` header of a GET of `path` (already URI-encoded, starting with `/`) at
/// `host` (with `:port` when not the default), signing `host`, `x-amz-content-sha256`,
/// `x-amz-date` and the `extra` headers (lower-case names, e.g. `range`). The request must carry
/// `x-amz-date: {amz_date}`, `x-amz-content-sha256: {EMPTY_SHA256}` and the extra headers.
pub fn authorization(
    creds: &Credentials<'_>,
    host: &str,
    path: &str,
    amz_date: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut headers: Vec<(&str, &str)> =
        [("host", host), ("x-amz-content-sha256", EMPTY_SHA256), ("x-amz-date", amz_date)].into();
    headers.extend_from_slice(extra);
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let signed: Vec<&str> = headers.iter().map(|h| h.0).collect();
    let signed = signed.join(";");
    let mut canonical = format!("GET\n{path}\n\n");
    for (k, v) in &headers {
        let _ = writeln!(canonical, "{k}:{}", v.trim());
    }
    let _ = write!(canonical, "\n{signed}\n{EMPTY_SHA256}");
    let date = &amz_date[..8];
    let scope = format!("{date}/{}/s3/aws4_request", creds.region);
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut key = hmac(format!("AWS4{}", creds.secret_access_key).as_bytes(), date.as_bytes());
    for part in [creds.region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "GET Object" example of the AWS SigV4 documentation (header-based auth).
    #[test]
    fn aws_documentation_get_object_example() {
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
        };
        let auth = authorization(
            &creds,
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            "20130524T000000Z",
            &[("range", "bytes=0-9")],
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(1_369_353_600_000), "20130524T000000Z");
    }
}
