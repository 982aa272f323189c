#!/usr/bin/env python3
"""Seeds for the `rtmp_session` fuzz target: what an RTMP client sends, as a file.

Usage:
  fuzz/capture-rtmp.py capture LISTEN_PORT UPSTREAM_PORT OUT [--limit BYTES] [--prefix HEX]
      Relays one connection from 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT (a running
      `rapidrtmp serve`) and writes the client->server bytes to OUT, after the fuzz target's
      2-byte piece-size prefix (default 0c2a), cut to --limit bytes if given.
  fuzz/capture-rtmp.py hand-made DIR
      Writes the small hand-made seeds into DIR.
  fuzz/capture-rtmp.py client-hand-made DIR
      Writes the hand-made seeds of the `rtmp_client` target (what a server answers) into DIR.
"""

import socket
import struct
import sys
import threading


def capture(listen_port, upstream_port, out, limit, prefix):
    server = socket.create_server(("127.0.0.1", listen_port))
    client, _ = server.accept()
    server.close()
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    recorded = bytearray()

    def relay(src, dst, record):
        while True:
            data = src.recv(65536)
            if not data:
                break
            if record is not None:
                record.extend(data)
            dst.sendall(data)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the other side is gone already

    back = threading.Thread(target=relay, args=(upstream, client, None), daemon=True)
    back.start()
    try:
        relay(client, upstream, recorded)
    except OSError:
        pass  # the server closed first: what was read is kept
    back.join(timeout=5)
    body = bytes(recorded[:limit] if limit else recorded)
    with open(out, "wb") as f:
        f.write(prefix + body)
    print(f"{out}: {len(body)} of {len(recorded)} client bytes")


# Hand-made seeds: a simple handshake (C1 without a digest), then chunks (RTMP 1.0 §5.3).


def amf0(*values):
    out = bytearray()
    for v in values:
        if v is None:
            out += b"\x05"
        elif isinstance(v, (int, float)):
            out += b"\x00" + struct.pack(">d", v)
        elif isinstance(v, str):
            out += b"\x02" + struct.pack(">H", len(v)) + v.encode()
        elif isinstance(v, list):
            out += b"\x0a" + struct.pack(">I", len(v)) + amf0(*v)
        elif isinstance(v, dict):
            out += b"\x03"
            for k, x in v.items():
                out += struct.pack(">H", len(k)) + k.encode() + amf0(x)
            out += b"\x00\x00\x09"
    return bytes(out)


def chunks(csid, fmt, timestamp, kind, stream_id, body, chunk_size):
    """One message as chunks: a type-`fmt` header, then type-3 continuations."""
    extended = timestamp >= 0xFFFFFF
    ts = b"\xff\xff\xff" if extended else struct.pack(">I", timestamp)[1:]
    header = {
        0: ts + struct.pack(">I", len(body))[1:] + bytes([kind]) + struct.pack("<I", stream_id),
        1: ts + struct.pack(">I", len(body))[1:] + bytes([kind]),
        2: ts,
    }[fmt]
    ext = struct.pack(">I", timestamp) if extended else b""
    out = bytearray([fmt << 6 | csid]) + header + ext
    for i in range(0, len(body), chunk_size):
        if i:
            out += bytes([0xC0 | csid]) + ext
        out += body[i : i + chunk_size]
    return bytes(out)


def hand_made(folder):
    handshake = b"\x03" + bytes(1536) + bytes(1536)
    set_chunk_size_1 = chunks(2, 0, 0, 1, 0, struct.pack(">I", 1), 128)
    connect = {
        "app": "live",
        "type": "nonprivate",
        "flashVer": "FMLE/3.0",
        "tcUrl": "rtmp://127.0.0.1/live",
        # Enhanced RTMP v2
        "fourCcList": ["hvc1", "avc1"],
        "videoFourCcInfoMap": {"avc1": 7, "hvc1": 4},
        "audioFourCcInfoMap": {"mp4a": 4},
        "capsEx": 1,
    }
    flow = [
        chunks(3, 0, 0, 20, 0, amf0("connect", 1, connect), 1),
        chunks(3, 1, 0, 20, 0, amf0("releaseStream", 2, None, "cam"), 1),
        chunks(3, 1, 0, 20, 0, amf0("FCPublish", 3, None, "cam"), 1),
        chunks(3, 1, 0, 20, 0, amf0("createStream", 4, None), 1),
        chunks(8, 0, 0, 20, 1, amf0("publish", 5, None, "cam?token=t", "live"), 1),
        chunks(2, 1, 0, 4, 0, struct.pack(">HI", 6, 1234), 1),  # ping request
        chunks(4, 0, 0, 18, 1, amf0("@setDataFrame", "onMetaData", {"width": 320, "height": 240}), 1),
        chunks(6, 0, 0, 9, 1, b"\x17\x00\x00\x00\x00\x01\x64\x00\x0d\xff\xe1", 1),
        chunks(7, 0, 0, 8, 1, b"\xaf\x00\x12\x10", 1),
        chunks(6, 1, 40, 9, 1, b"\x17\x01\x00\x00\x00\x00\x00\x00\x02\x65\x88", 1),
        chunks(7, 2, 23, 8, 1, b"\xaf\x01\x21\x10", 1),
        chunks(6, 0, 0x1000000, 9, 1, b"\x27\x01\x00\x00\x00\x00\x00\x00\x02\x41\x9a", 1),
        chunks(8, 0, 0, 20, 1, amf0("FCUnpublish", 6, None, "cam"), 1),
        chunks(8, 1, 0, 20, 1, amf0("deleteStream", 7, None, 1), 1),
        chunks(3, 1, 0, 20, 0, amf0("createStream", 8, None), 1),
        chunks(8, 0, 0, 20, 2, amf0("play", 0, None, "cam"), 1),
    ]
    seeds = {
        # Piece-size prefix 00 00: one byte at a time.
        "handshake.bin": b"\x00\x00" + handshake,
        "handshake-chunk-size-1.bin": b"\x05\x11" + handshake + set_chunk_size_1,
        "chunk-size-1-publish.bin": b"\x08\x2a" + handshake + set_chunk_size_1 + b"".join(flow),
    }
    for name, data in seeds.items():
        with open(f"{folder}/{name}", "wb") as f:
            f.write(data)
        print(f"{folder}/{name}: {len(data)} bytes")


def client_hand_made(folder):
    """What a server answers a publishing client: S0+S1+S2, then the answers in order."""
    handshake = b"\x03" + bytes(1536) + bytes(1536)
    info = lambda level, code, text: {"level": level, "code": code, "description": text}
    enhanced = {"fmsVer": "FMS/3,5,7,7009", "capabilities": 31, "fourCcList": ["avc1", "hvc1"],
                "videoFourCcInfoMap": {"hvc1": 4}, "audioFourCcInfoMap": {"Opus": 4}, "capsEx": 0}
    answers = [
        chunks(2, 0, 0, 5, 0, struct.pack(">I", 2500000), 128),  # window acknowledgement size
        chunks(2, 0, 0, 6, 0, struct.pack(">IB", 2500000, 2), 128),  # set peer bandwidth
        chunks(2, 0, 0, 1, 0, struct.pack(">I", 60), 128),  # set chunk size 60
        chunks(3, 0, 0, 20, 0, amf0("_result", 1, enhanced, info("status", "NetConnection.Connect.Success", "ok")), 60),
        chunks(3, 0, 0, 20, 0, amf0("onBWDone", 0, None), 60),
        chunks(3, 0, 0, 20, 0, amf0("_result", 4, None, 1), 60),
        chunks(2, 0, 0, 4, 0, struct.pack(">HI", 0, 1), 60),  # stream begin
        chunks(2, 0, 0, 4, 0, struct.pack(">HI", 6, 1234), 60),  # ping request
        chunks(5, 0, 0, 20, 1, amf0("onStatus", 0, None, info("status", "NetStream.Publish.Start", "live")), 60),
        chunks(2, 0, 0, 3, 0, struct.pack(">I", 4096), 60),  # acknowledgement
    ]
    refused = chunks(5, 0, 0, 20, 1, amf0("onStatus", 0, None, info("error", "NetStream.Publish.BadName", "taken")), 128)
    seeds = {
        "publish.bin": b"\x0c\x2a" + handshake + b"".join(answers),
        "publish-bytewise.bin": b"\x00\x00" + handshake + b"".join(answers),
        "bad-name.bin": b"\x0f\x00" + handshake + b"".join(answers[:6]) + refused,
    }
    for name, data in seeds.items():
        with open(f"{folder}/{name}", "wb") as f:
            f.write(data)
        print(f"{folder}/{name}: {len(data)} bytes")


def main(argv):
    if len(argv) >= 4 and argv[0] == "capture":
        opts = dict(zip(argv[4::2], argv[5::2]))
        limit = int(opts.get("--limit", 0))
        prefix = bytes.fromhex(opts.get("--prefix", "0c2a"))
        capture(int(argv[1]), int(argv[2]), argv[3], limit, prefix)
    elif len(argv) == 2 and argv[0] == "hand-made":
        hand_made(argv[1])
    elif len(argv) == 2 and argv[0] == "client-hand-made":
        client_hand_made(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
