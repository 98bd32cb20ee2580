#!/usr/bin/python3
"""A real HTTP server on 127.0.0.1 that receives Patron's webhooks.

Used by tests/unit/test_send.c and end-to-end tests of the server's webhook
delivery. Standard library only.

usage: webhook_sink.py --port-file FILE --out DIR [--port N] [--secret S]
                       [--fail-first N] [--delay MS]

  --port-file FILE  the listening port is written there (atomically: a
                    temporary file renamed) once the server accepts requests
  --out DIR         received bodies go there (created if missing)
  --port N          port to bind (default 0: any free port)
  --secret S        verify X-Patron-Signature: "v1=" + hex HMAC-SHA256(S,
                    X-Patron-Timestamp "." body); a request without a valid
                    one gets 401 (counted in bad_signatures). Without
                    --secret signatures are not checked.
  --fail-first N    the first N POST requests get 503 (Retry-After: 1)
  --delay MS        wait MS milliseconds before answering each request

Paths (any other path is a normal endpoint):
  /reject           400, always
  /status/NNN       answers status NNN (100 < NNN < 600), e.g. /status/429

A POST that passes these checks needs an Idempotency-Key header (else 400).
Its body is stored as DIR/KEY.body and a summary as DIR/KEY.json
({"path", "key", "timestamp", "signature", "signature_ok", "content_type",
"user_agent", "body" (text; with invalid UTF-8 replaced)}), KEY being the
Idempotency-Key with characters other than [A-Za-z0-9._@+-] replaced by '_'.
A key stored before (also by an earlier run on the same DIR) is answered 200
and counted in DIR/duplicates (the key appended to DIR/duplicates.log, one a
line), not stored again. Other counter files (a
decimal number and a newline, replaced atomically, continued by a new run on
the same DIR): requests, stored,
failed_first, bad_signatures.

Answers 200 {"ok":true} on success. Prints nothing except errors (stderr).
SIGTERM or SIGINT: stops listening, exits with status 0.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import sys
import threading
import time


def write_atomic(path, data):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_count(path):  # counters go on from an earlier run on the same DIR
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


class State:
    COUNTERS = ("requests", "stored", "duplicates", "failed_first", "bad_signatures")

    def __init__(self, args):
        self.out = args.out
        self.secret = args.secret.encode() if args.secret is not None else None
        self.fail_left = args.fail_first
        self.delay = args.delay / 1000.0
        self.lock = threading.Lock()
        self.n = {k: read_count(os.path.join(self.out, k)) for k in self.COUNTERS}
        for k in self.COUNTERS:
            self._write(k)

    def bump(self, name):  # with self.lock held
        self.n[name] += 1
        self._write(name)

    def _write(self, name):
        write_atomic(os.path.join(self.out, name), b"%d\n" % self.n[name])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    server_version = "webhook_sink/1"

    def log_message(self, fmt, *args):  # no access log
        pass

    def answer(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self.answer(405, {"error": "POST only"})

    def do_POST(self):
        st = self.server.state
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.answer(400, {"error": "bad body framing"})
            return
        if st.delay:
            time.sleep(st.delay)
        path = self.path.split("?", 1)[0]
        with st.lock:
            st.bump("requests")
            if st.fail_left > 0:
                st.fail_left -= 1
                st.bump("failed_first")
                self.answer(503, {"error": "failing on purpose"}, [("Retry-After", "1")])
                return
        if path == "/reject":
            self.answer(400, {"error": "rejected on purpose"})
            return
        m = re.fullmatch(r"/status/([1-5][0-9][0-9])", path)
        if m and int(m.group(1)) > 100:
            self.answer(int(m.group(1)), {"status": int(m.group(1))})
            return
        ts = self.headers.get("X-Patron-Timestamp", "")
        sig = self.headers.get("X-Patron-Signature", "")
        ok = None
        if st.secret is not None:
            want = "v1=" + hmac.new(st.secret, ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, sig)
            if not ok:
                with st.lock:
                    st.bump("bad_signatures")
                self.answer(401, {"error": "bad signature"})
                return
        key = self.headers.get("Idempotency-Key")
        if not key:
            self.answer(400, {"error": "no Idempotency-Key"})
            return
        name = re.sub(r"[^A-Za-z0-9._@+-]", "_", key)[:200].lstrip(".") or "_"
        with st.lock:
            stored = os.path.join(st.out, name + ".body")
            if os.path.exists(stored):
                st.bump("duplicates")
                with open(os.path.join(st.out, "duplicates.log"), "a") as f:
                    f.write("%s\n" % key)
                self.answer(200, {"ok": True, "duplicate": True})
                return
            info = {"path": path, "key": key, "timestamp": ts, "signature": sig,
                    "signature_ok": ok, "content_type": self.headers.get("Content-Type"),
                    "user_agent": self.headers.get("User-Agent"),
                    "body": body.decode("utf-8", "replace")}
            write_atomic(os.path.join(st.out, name + ".json"),
                         json.dumps(info, ensure_ascii=False, indent=1).encode())
            write_atomic(stored, body)
            st.bump("stored")
        self.answer(200, {"ok": True})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if not isinstance(e, (ConnectionError, TimeoutError)):  # clients hanging up are fine
            print("webhook_sink: %r" % (e,), file=sys.stderr)


def main(argv):
    p = argparse.ArgumentParser(description="webhook sink for Patron's tests")
    p.add_argument("--port-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--secret")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--delay", type=int, default=0, metavar="MS")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    write_atomic(args.port_file, b"%d\n" % srv.server_address[1])
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
