//! An output's destination URL: `rtmp://host[:port]/app/key` or `rtmps://…`, checked once when it
//! is set, and split into what the client session needs. The stream key is a secret: logs and
//! the API name a destination by [`OutputUrl::destination`] (host, port and app) and show the URL
//! with the key masked ([`OutputUrl::masked`]).

use std::fmt;

/// The longest destination URL accepted.
pub const MAX_URL_LEN: usize = 1024;
/// The port of `rtmp://` when the URL names none.
const RTMP_PORT: u16 = 1935;
/// The port of `rtmps://` when the URL names none.
const RTMPS_PORT: u16 = 443;
/// What stands for the stream key in [`OutputUrl::masked`].
const MASK: &str = "****";

/// A checked destination URL.
#[derive(Clone, PartialEq, Eq)]
pub struct OutputUrl {
    /// The URL as given.
    pub url: String,
    /// `rtmps://`: TLS to the destination.
    pub tls: bool,
    /// Host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The application: the path up to the last `/` (e.g. `live2`, `app/sub`).
    pub app: String,
    /// The stream key: the path after the last `/` (with any `?query`).
    pub key: String,
    /// `scheme://authority`, as given.
    origin: String,
}

/// Never prints the key.
impl fmt::Debug for OutputUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl OutputUrl {
    /// Checks and splits `url`; the error says what is wrong with it (never quoting the key).
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.len() > MAX_URL_LEN {
            return Err(format!("the URL is longer than {MAX_URL_LEN} bytes"));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the URL has spaces or control characters".into());
        }
        let (tls, rest) = if let Some(rest) = url.strip_prefix("rtmp://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("rtmps://") {
            (true, rest)
        } else {
            return Err("the URL must start with rtmp:// or rtmps://".into());
        };
        let (authority, path) = rest.split_once('/').ok_or("the URL has no /app/key after the host")?;
        if authority.contains('@') {
            return Err("user names and passwords in the URL are not supported".into());
        }
        let (host, port) = split_authority(authority)?;
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or("the port must be 1 to 65535")?,
            None if tls => RTMPS_PORT,
            None => RTMP_PORT,
        };
        let (app, key) =
            path.rsplit_once('/').ok_or("the URL needs both an app and a stream key: rtmp://host/app/key")?;
        if app.is_empty() || app.split('/').any(str::is_empty) {
            return Err("the URL's app is empty: rtmp://host/app/key".into());
        }
        if key.is_empty() || key.starts_with('?') {
            return Err("the URL's stream key is empty: rtmp://host/app/key".into());
        }
        let scheme = if tls { "rtmps" } else { "rtmp" };
        Ok(Self {
            url: url.into(),
            tls,
            host: host.into(),
            port,
            app: app.into(),
            key: key.into(),
            origin: format!("{scheme}://{authority}"),
        })
    }

    /// `tcUrl` of `connect`: the URL without the key.
    pub fn tc_url(&self) -> String {
        format!("{}/{}", self.origin, self.app)
    }

    /// The URL with the stream key masked, as the API shows it.
    pub fn masked(&self) -> String {
        format!("{}/{}/{MASK}", self.origin, self.app)
    }

    /// Host, port and app: how logs and statuses name the destination.
    pub fn destination(&self) -> String {
        let scheme = if self.tls { "rtmps" } else { "rtmp" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{scheme}://{host}:{}/{}", self.port, self.app)
    }
}

/// `host[:port]` or `[v6][:port]`; the host must be a DNS name or an address.
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("an IPv6 address in the URL lacks its ]")?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the URL's IPv6 address is not one".into());
        }
        match after {
            "" => (v6, None),
            p => (v6, Some(p.strip_prefix(':').ok_or("expected :port after the IPv6 address")?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    if !name_ok {
        return Err("the URL's host is not a host name or an address".into());
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_the_common_services_are_split_into_app_and_key() {
        let u = OutputUrl::parse("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port, u.app.as_str()), (false, "a.rtmp.youtube.com", 1935, "live2"));
        assert_eq!(u.key, "abcd-efgh-ijkl");
        assert_eq!(u.tc_url(), "rtmp://a.rtmp.youtube.com/live2");
        assert_eq!(u.masked(), "rtmp://a.rtmp.youtube.com/live2/****");
        assert_eq!(u.destination(), "rtmp://a.rtmp.youtube.com:1935/live2");
        assert!(!format!("{u:?}").contains("abcd"), "Debug never prints the key");

        let u = OutputUrl::parse("rtmps://live-api-s.facebook.com:443/rtmp/FB-1-2?s_bl=1&a=b").unwrap();
        assert_eq!((u.tls, u.port, u.app.as_str(), u.key.as_str()), (true, 443, "rtmp", "FB-1-2?s_bl=1&a=b"));
        let u = OutputUrl::parse("rtmps://host/app/sub/key").unwrap();
        assert_eq!((u.port, u.app.as_str(), u.key.as_str()), (443, "app/sub", "key"));
        let u = OutputUrl::parse("rtmp://[::1]:1936/live/k").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1936));
        assert_eq!(u.destination(), "rtmp://[::1]:1936/live");
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_the_key() {
        for (url, why) in [
            ("http://host/app/key", "rtmp://"),
            ("rtmp://host", "no /app/key"),
            ("rtmp://host/key", "app and a stream key"),
            ("rtmp://host/app/", "stream key is empty"),
            ("rtmp://host//key", "app is empty"),
            ("rtmp:///app/key", "host"),
            ("rtmp://host:0/app/key", "port"),
            ("rtmp://host:99999/app/key", "port"),
            ("rtmp://user:pw@host/app/key", "passwords"),
            ("rtmp://ho st/app/key", "spaces"),
            ("rtmp://[zz]/app/key", "IPv6"),
            ("rtmp://host_1/app/key", "host"),
        ] {
            let err = OutputUrl::parse(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        let long = format!("rtmp://host/app/{}", "k".repeat(MAX_URL_LEN));
        assert!(OutputUrl::parse(&long).unwrap_err().contains("longer"));
    }
}
