#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) on 127.0.0.1 that stores what it receives.

Used by tests/unit/test_send.c and end-to-end tests of the server's email
delivery. Needs Debian's python3-aiosmtpd: run it with /usr/bin/python3.

usage: smtp_sink.py --port-file FILE --out DIR [--port N] [--reject-rcpt REGEX]
                    [--tempfail-first N] [--tempfail-at data|end]
                    [--auth USER:PASSWORD] [--tls-cert PEM --tls-key PEM [--implicit-tls]]
                    [--delay-ms MS]

  --port-file FILE   the listening port is written there (atomically: a
                     temporary file renamed) once the server accepts mail
  --out DIR          received messages go there (created if missing)
  --port N           port to bind (default 0: any free port)
  --reject-rcpt RE   RCPT TO addresses matching RE (Python re.search, case
                     insensitive) get "550 5.1.1 ... User unknown" (hard bounce)
  --tempfail-first N the first N transactions get "451 4.3.0 ..." (temporary
                     failure): at the DATA command itself (--tempfail-at data,
                     the default) or after the message data (--tempfail-at end)
  --auth USER:PASS   require AUTH (PLAIN/LOGIN, allowed without TLS) with these
                     credentials; others get 535
  --tls-cert/--tls-key  offer STARTTLS with this certificate (or, with
                     --implicit-tls, speak TLS from the first byte: smtps)
  --delay-ms MS      a slow server: wait MS milliseconds after the message data
                     before storing it and answering (a client that hangs up
                     meanwhile gets no answer; the message is then not stored)

Each accepted message is stored as DIR/NAME.eml (the bytes received, after
dot-unstuffing) and DIR/NAME.json, a decoded summary:
  {"message_id", "subject", "from", "from_name", "from_addr", "to", "date",
   "content_type", "list_unsubscribe", "list_unsubscribe_post",
   "text", "html" (decoded parts with CRLF as "\n", null when absent),
   "envelope_from", "envelope_to", "defects" (parser defects, [] when clean),
   "max_line" (longest raw line without CRLF), "bare_lf" (an LF without CR)}
NAME is the Message-ID without <> (characters other than [A-Za-z0-9._@+-]
replaced by '_'; a random name when there is none). A message whose
Message-ID was stored before (also by an earlier run on the same DIR) is
answered 250 but not stored again: it is counted in DIR/duplicates and its
Message-ID (as received, one a line) is appended to DIR/duplicates.log. Counter
files (a decimal number and a newline, replaced atomically, continued by a
new run on the same DIR): received, duplicates, connections, tempfails,
rejected_rcpts.

Prints nothing except errors (stderr). SIGTERM or SIGINT: stops listening,
exits with status 0.
"""
import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import re
import signal
import ssl
import sys
import threading
import uuid
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomic(path, data):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_count(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


class Counters:
    NAMES = ("received", "duplicates", "connections", "tempfails", "rejected_rcpts")

    def __init__(self, out):
        self.out = out
        self.n = {k: read_count(os.path.join(out, k)) for k in self.NAMES}  # go on counting
        for k in self.NAMES:
            self._write(k)

    def bump(self, name):
        self.n[name] += 1
        self._write(name)
        return self.n[name]

    def _write(self, name):
        write_atomic(os.path.join(self.out, name), b"%d\n" % self.n[name])


def file_name(message_id):
    mid = (message_id or "").strip()
    if mid.startswith("<") and mid.endswith(">"):
        mid = mid[1:-1]
    mid = re.sub(r"[^A-Za-z0-9._@+-]", "_", mid)[:200].lstrip(".")
    return mid or "no-message-id-" + uuid.uuid4().hex


def summary(raw, envelope):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(d).__name__ for d in msg.defects]
    for part in msg.walk():
        if part is not msg:
            defects += [type(d).__name__ for d in part.defects]
    for name, value in msg.items():
        defects += ["%s: %s" % (name, type(d).__name__) for d in getattr(value, "defects", ())]

    def part(kind):
        p = msg.get_body(preferencelist=(kind,))
        return p.get_content().replace("\r\n", "\n") if p is not None else None

    frm = msg["From"]
    addrs = getattr(frm, "addresses", ()) if frm is not None else ()
    lines = raw.split(b"\r\n")
    return {
        "message_id": msg["Message-ID"],
        "subject": msg["Subject"],
        "from": str(frm) if frm is not None else None,
        "from_name": addrs[0].display_name if addrs else None,
        "from_addr": addrs[0].addr_spec if addrs else None,
        "to": str(msg["To"]) if msg["To"] is not None else None,
        "date": str(msg["Date"]) if msg["Date"] is not None else None,
        "content_type": msg.get_content_type(),
        "list_unsubscribe": msg["List-Unsubscribe"],
        "list_unsubscribe_post": msg["List-Unsubscribe-Post"],
        "text": part("plain"),
        "html": part("html"),
        "envelope_from": envelope.mail_from,
        "envelope_to": list(envelope.rcpt_tos),
        "defects": defects,
        "max_line": max(len(x) for x in lines),
        "bare_lf": any(b"\n" in x for x in lines),
    }


class Handler:
    def __init__(self, args, counters):
        self.out = args.out
        self.reject = re.compile(args.reject_rcpt, re.I) if args.reject_rcpt else None
        self.tempfail_left = args.tempfail_first
        self.tempfail_at = args.tempfail_at
        self.delay = max(0, args.delay_ms) / 1000.0
        self.counters = counters

    def take_tempfail(self):
        if self.tempfail_left <= 0:
            return False
        self.tempfail_left -= 1
        self.counters.bump("tempfails")
        return True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject is not None and self.reject.search(address):
            self.counters.bump("rejected_rcpts")
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail_at == "end" and self.take_tempfail():
            return "451 4.3.0 Temporary failure after data, try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or b""
        self.counters.bump("received")
        try:
            info = summary(raw, envelope)
        except Exception as e:  # keep the raw message; say what failed to parse
            info = {"message_id": None, "error": repr(e)}
            print("smtp_sink: cannot parse a message: %r" % e, file=sys.stderr)
        name = file_name(info.get("message_id"))
        eml = os.path.join(self.out, name + ".eml")
        if os.path.exists(eml):
            self.counters.bump("duplicates")
            with open(os.path.join(self.out, "duplicates.log"), "a") as f:
                f.write("%s\n" % (info.get("message_id") or name))
            return "250 OK duplicate %s dropped" % name
        write_atomic(os.path.join(self.out, name + ".json"),
                     json.dumps(info, ensure_ascii=False, indent=1).encode())
        write_atomic(eml, raw)
        return "250 2.0.0 OK queued as %s" % name


class SinkSMTP(SMTP):
    """aiosmtpd's server, plus the DATA-command temporary failure and a
    connection counter."""

    live = set()  # open connections, closed at shutdown

    def connection_made(self, transport):
        self.event_handler.counters.bump("connections")
        SinkSMTP.live.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc):
        SinkSMTP.live.discard(self)
        super().connection_lost(exc)

    async def smtp_DATA(self, arg):
        h = self.event_handler
        if (h.tempfail_at == "data" and self.envelope.rcpt_tos and not arg
                and h.take_tempfail()):
            await self.push("451 4.3.0 Temporary failure, try again later")
            return
        await super().smtp_DATA(arg)


def parse_args(argv):
    p = argparse.ArgumentParser(description="SMTP sink for Patron's tests")
    p.add_argument("--port-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--reject-rcpt")
    p.add_argument("--tempfail-first", type=int, default=0)
    p.add_argument("--tempfail-at", choices=("data", "end"), default="data")
    p.add_argument("--auth")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--delay-ms", type=int, default=0)
    a = p.parse_args(argv)
    if a.auth is not None and ":" not in a.auth:
        p.error("--auth wants USER:PASSWORD")
    if bool(a.tls_cert) != bool(a.tls_key) or (a.implicit_tls and not a.tls_cert):
        p.error("--tls-cert and --tls-key go together (and --implicit-tls needs them)")
    return a


def main(argv):
    args = parse_args(argv)
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # our stderr is for errors
    os.makedirs(args.out, exist_ok=True)
    counters = Counters(args.out)
    handler = Handler(args, counters)

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    kw = {"hostname": "sink.test", "ident": "smtp_sink", "decode_data": False}
    if args.auth is not None:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login == user.encode()
                  and data.password == password.encode())
            return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535

        kw.update(auth_required=True, auth_require_tls=False, authenticator=authenticator)
    if tls is not None and not args.implicit_tls:
        kw["tls_context"] = tls

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def serve():
        server = await loop.create_server(
            lambda: SinkSMTP(handler, loop=loop, **kw), host="127.0.0.1", port=args.port,
            ssl=tls if args.implicit_tls else None)
        port = server.sockets[0].getsockname()[1]
        write_atomic(args.port_file, b"%d\n" % port)
        await stop.wait()
        server.close()
        for conn in list(SinkSMTP.live):
            if conn.transport is not None:
                conn.transport.close()
        try:
            await asyncio.wait_for(server.wait_closed(), 2)
        except asyncio.TimeoutError:
            pass

    warnings.simplefilter("ignore")  # aiosmtpd warns about AUTH without TLS
    try:
        loop.run_until_complete(serve())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
