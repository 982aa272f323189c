#!/usr/bin/env python3
"""A webhook receiver on 127.0.0.1 for tests/webhooks.rs.

Every delivery is verified with the `standardwebhooks` package (PyPI), independently of the
node's own signing code. A verified delivery is answered with the status written in the
--answer file (200 when there is none); when that status is 2xx, its event is appended to the
--log file (one JSON line: id, type, stream, sequence, data) the first time its id is seen, and a
repeated id is counted in LOG.duplicates instead (deduplication by id, as the specification asks
receivers to do; the ids seen are reloaded from the log at start, so a restarted receiver still
deduplicates). Every request is counted in LOG.requests; one that fails verification is answered
400 and appended to LOG.bad.
"""

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# The largest body read.
MAX_BODY = 1 << 20


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--answer", required=True)
    args = p.parse_args()
    with open(args.secret_file) as f:
        webhook = Webhook(f.read().strip())
    seen = set()
    if os.path.exists(args.log):
        with open(args.log) as f:
            seen = {json.loads(line)["id"] for line in f if line.strip()}

    def append(path, line):
        with open(path, "a") as f:
            f.write(line + "\n")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            append(args.log + ".requests", self.path)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(min(length, MAX_BODY))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = webhook.verify(body, headers)
            except WebhookVerificationError as e:
                append(args.log + ".bad", str(e))
                return self.answer(400)
            status = 200
            if os.path.exists(args.answer):
                with open(args.answer) as f:
                    status = int(f.read().strip() or "200")
            if 200 <= status < 300:
                if headers["webhook-id"] != event["id"]:
                    append(args.log + ".bad", "webhook-id is not the event's id")
                elif event["id"] in seen:
                    append(args.log + ".duplicates", event["id"])
                else:
                    seen.add(event["id"])
                    append(args.log, json.dumps(event))
            self.answer(status)

        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
