//! File descriptors: every connection holds one, and so does every store request and file. At
//! start the node raises its soft `RLIMIT_NOFILE` to the hard limit (services usually start
//! with a soft limit of 1024) and sizes the HTTP connection cap from what it got, so that the
//! RTMP listener and the store always keep room.

/// Descriptors kept for all but client connections: listeners, store requests, chunk files,
/// logs.
pub const RESERVED_FDS: u64 = 128;
/// The HTTP connection cap when the file limit allows more (`--max-http-connections` raises
/// it).
pub const DEFAULT_MAX_HTTP_CONNECTIONS: usize = 4096;

/// Raises the soft open-file limit to the hard one; returns the soft limit in force after (or
/// the one there was, if it could not be raised), and whether it was raised.
#[cfg(unix)]
pub fn raise() -> std::io::Result<(u64, bool)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the `rlimit` passed by reference,
    // which lives on this stack frame for the whole call.
    #[allow(unsafe_code)]
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if got != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur >= limit.rlim_max {
        return Ok((limit.rlim_cur, false));
    }
    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
    // SAFETY: as above.
    #[allow(unsafe_code)]
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    if set != 0 {
        return Ok((limit.rlim_cur, false));
    }
    Ok((raised.rlim_cur, true))
}

/// Without rlimits there is nothing to raise; the caps are the defaults.
#[cfg(not(unix))]
pub fn raise() -> std::io::Result<(u64, bool)> {
    Ok((u64::MAX, false))
}

/// The HTTP connection cap for a process that may open `nofile` descriptors and takes up to
/// `rtmp_connections` RTMP connections: what is left after the RTMP cap and [`RESERVED_FDS`],
/// but at least a quarter of what connections may use, and at most
/// [`DEFAULT_MAX_HTTP_CONNECTIONS`].
pub fn http_connection_cap(nofile: u64, rtmp_connections: usize) -> usize {
    let budget = nofile.saturating_sub(RESERVED_FDS);
    let left = budget.saturating_sub(rtmp_connections as u64);
    let cap = left.max(budget / 4).min(DEFAULT_MAX_HTTP_CONNECTIONS as u64);
    (cap as usize).max(1)
}

/// How many RTMP connections fit beside `http_connections` under `nofile`.
pub fn rtmp_room(nofile: u64, http_connections: usize) -> u64 {
    nofile.saturating_sub(RESERVED_FDS).saturating_sub(http_connections as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_cap_leaves_room_for_rtmp_and_the_store() {
        // A generous hard limit: the default cap.
        assert_eq!(http_connection_cap(1 << 20, 1000), DEFAULT_MAX_HTTP_CONNECTIONS);
        // 4096: what the RTMP cap leaves.
        assert_eq!(http_connection_cap(4096, 1000), 4096 - 128 - 1000);
        // 1024 cannot hold 1000 RTMP connections: HTTP keeps a quarter, RTMP gets the rest.
        assert_eq!(http_connection_cap(1024, 1000), (1024 - 128) / 4);
        assert_eq!(rtmp_room(1024, 224), 672);
        assert_eq!(http_connection_cap(0, 1000), 1);
    }

    #[test]
    fn raising_reaches_the_hard_limit() {
        let (soft, _) = raise().unwrap();
        let (again, raised) = raise().unwrap();
        assert_eq!((again, raised), (soft, false));
    }
}
