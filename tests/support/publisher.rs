//! An RTMP publisher that sends an FLV file's audio and video tags with their timestamps exactly
//! as they are in the file: ffmpeg (`-c copy`) rewrites a timestamp that steps back, so it cannot
//! send the jitter real encoders send. rml_rtmp's client session, over a blocking socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;

fn collect(results: Vec<ClientSessionResult>, out: &mut Vec<u8>) -> Vec<ClientSessionEvent> {
    let mut events = Vec::new();
    for r in results {
        match r {
            ClientSessionResult::OutboundResponse(p) => out.extend_from_slice(&p.bytes),
            ClientSessionResult::RaisedEvent(e) => events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    events
}

/// Publishes the tags of `flv` to `url` (`rtmp://host:port/app/key?query`), as fast as the
/// node reads them, then closes the connection (the node treats it as a dropped publisher).
pub fn publish_exact(url: &str, flv: &[u8]) -> Result<usize, String> {
    let rest = url.strip_prefix("rtmp://").ok_or("not an rtmp:// URL")?;
    let (host_port, path) = rest.split_once('/').ok_or("no path")?;
    let (app, name) = path.split_once('/').ok_or("no stream key")?;
    let mut socket = TcpStream::connect(host_port).map_err(|e| format!("connect: {e}"))?;
    socket.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 16 << 10];
    let mut hs = Handshake::new(PeerType::Client);
    let p0p1 = hs.generate_outbound_p0_and_p1().map_err(|e| format!("handshake: {e:?}"))?;
    socket.write_all(&p0p1).map_err(|e| format!("handshake write: {e}"))?;
    let mut pending = loop {
        let n = socket.read(&mut buf).map_err(|e| format!("handshake read: {e}"))?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        match hs.process_bytes(&buf[..n]).map_err(|e| format!("handshake: {e:?}"))? {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).map_err(|e| e.to_string())?
            }
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                socket.write_all(&response_bytes).map_err(|e| e.to_string())?;
                break remaining_bytes;
            }
        }
    };
    let mut config = ClientSessionConfig::new();
    config.tc_url = Some(format!("rtmp://{host_port}/{app}"));
    let (mut session, first) = ClientSession::new(config).map_err(|e| format!("session: {e:?}"))?;
    let mut out = Vec::new();
    collect(first, &mut out);
    let r = session.request_connection(app.to_string()).map_err(|e| format!("connect: {e:?}"))?;
    collect(vec![r], &mut out);
    let mut publish_requested = false;
    'setup: loop {
        if !pending.is_empty() {
            let results = session.handle_input(&pending).map_err(|e| format!("from the server: {e:?}"))?;
            pending.clear();
            for event in collect(results, &mut out) {
                match event {
                    ClientSessionEvent::ConnectionRequestAccepted if !publish_requested => {
                        publish_requested = true;
                        let r = session
                            .request_publishing(name.to_string(), PublishRequestType::Live)
                            .map_err(|e| format!("publish: {e:?}"))?;
                        collect(vec![r], &mut out);
                    }
                    ClientSessionEvent::ConnectionRequestRejected { description } => {
                        return Err(format!("connect rejected: {description}"))
                    }
                    ClientSessionEvent::PublishRequestAccepted => break 'setup,
                    _ => {}
                }
            }
        }
        socket.write_all(&out).map_err(|e| e.to_string())?;
        out.clear();
        let n = socket.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before the publish was accepted".into());
        }
        pending.extend_from_slice(&buf[..n]);
    }
    let (_, tags) = rapidrtmp_core::flv::TagReader::new(flv).map_err(|e| e.to_string())?;
    let mut sent = 0;
    for tag in tags {
        let tag = tag.map_err(|e| e.to_string())?;
        let body = Bytes::copy_from_slice(tag.body);
        let ts = RtmpTimestamp::new(tag.timestamp);
        let r = match tag.kind {
            rapidrtmp_core::flv::TagKind::Video => session.publish_video_data(body, ts, false),
            rapidrtmp_core::flv::TagKind::Audio => session.publish_audio_data(body, ts, false),
            _ => continue,
        }
        .map_err(|e| format!("publish: {e:?}"))?;
        collect(vec![r], &mut out);
        sent += 1;
        if out.len() > 64 << 10 {
            socket.write_all(&out).map_err(|e| e.to_string())?;
            out.clear();
        }
    }
    socket.write_all(&out).map_err(|e| e.to_string())?;
    socket.flush().map_err(|e| e.to_string())?;
    // Let the node read everything before the connection goes.
    std::thread::sleep(Duration::from_millis(500));
    Ok(sent)
}
