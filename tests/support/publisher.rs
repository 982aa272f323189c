//! An RTMP publisher that sends an FLV file's `onMetaData`, audio and video tags with their timestamps exactly
//! as they are in the file: ffmpeg (`-c copy`) rewrites a timestamp that steps back, so it cannot
//! send the jitter real encoders send. The project's own test client (`rapidrtmp-load`), over a
//! blocking socket.

use std::net::ToSocketAddrs;
use std::time::Duration;

use rapidrtmp_core::flv::{TagKind, TagReader};
use rapidrtmp_load::amf0;
use rapidrtmp_load::client::{Client, Config};

/// How long the node may take to answer the handshake, `connect` and `publish`.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Publishes the tags of `flv` (its `onMetaData`, audio and video) to `url` (`rtmp://host:port/app/key?query`), as fast as the
/// node reads them, then closes the connection (the node treats it as a dropped publisher).
/// Returns how many tags were sent.
pub fn publish_exact(url: &str, flv: &[u8]) -> Result<usize, String> {
    let rest = url.strip_prefix("rtmp://").ok_or("not an rtmp:// URL")?;
    let (host_port, path) = rest.split_once('/').ok_or("no path")?;
    let (app, name) = path.split_once('/').ok_or("no stream key")?;
    let server = host_port.to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("no address")?;
    let config = Config::new(app, format!("rtmp://{host_port}/{app}"));
    let mut client = Client::open(server, config, ANSWER_WITHIN).map_err(|e| format!("handshake: {e}"))?;
    client.connect(ANSWER_WITHIN).map_err(|e| format!("connect: {e}"))?;
    client.publish(name, ANSWER_WITHIN).map_err(|e| format!("publish: {e}"))?;
    let (_, tags) = TagReader::new(flv).map_err(|e| e.to_string())?;
    let mut sent = 0;
    for tag in tags {
        let tag = tag.map_err(|e| e.to_string())?;
        let r = match tag.kind {
            TagKind::Video => client.session().video(tag.timestamp, tag.body),
            TagKind::Audio => client.session().audio(tag.timestamp, tag.body),
            // `onMetaData`, sent as encoders send it: `@setDataFrame`.
            TagKind::Script => match amf0::decode_all(tag.body).map_err(|e| format!("script tag: {e}"))?.as_slice() {
                [name, metadata, ..] if name.as_str() == Some("onMetaData") => {
                    client.session().set_data_frame(metadata)
                }
                _ => continue,
            },
            _ => continue,
        };
        r.map_err(|e| format!("send: {e}"))?;
        sent += 1;
        if client.session().output().len() > 64 << 10 {
            client.flush().map_err(|e| format!("send: {e}"))?;
        }
    }
    client.flush().map_err(|e| format!("send: {e}"))?;
    // Let the node read everything before the connection goes.
    std::thread::sleep(Duration::from_millis(500));
    Ok(sent)
}
