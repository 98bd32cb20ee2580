#!/usr/bin/env python3
"""client.py - the HTTP and SMTP clients of bench/automation/run.sh (standard
library only; keep-alive connections; times on the monotonic clock).

  client.py post PORT KEY FILE [CONNS]
      POST /v1/batch of each line of FILE (a {"batch": [...]} body), CONNS
      connections (default 2); every answer must be 200 with every event
      accepted or duplicate. Prints {"requests", "events", "s"}.
  client.py waitsweep PORT SWEEPS TIMEOUT
      polls GET /metrics every 5 ms until patron_automation_sweeps_total > SWEEPS;
      prints {"sweeps", "sweep_s", "waited_s"} (sweep_s:
      patron_automation_sweep_seconds, the last sweep's own duration).
  client.py deliver PORT KEY N FILE TIMEOUT
      the delivery measure: reads the message counters of /metrics, then POSTs
      each line of FILE to /v1/batch on one connection (events that make N
      customers enter an automation that sends one email each) and polls
      /metrics every 5 ms, on a second connection, until
      patron_messages_delivered_total has grown by N (or a message went dead, or
      TIMEOUT s). Prints {"n", "posted_s", "first_decided_s", "decided_s",
      "first_delivered_s", "delivered_s", "dead", "timeout"}: seconds from just
      before the first POST.
  client.py smtp PORT N PREVIEW.json
      a plain SMTP client (smtplib, one connection, no pipelining) sending N
      messages to 127.0.0.1:PORT: multipart/alternative, quoted-printable text
      and HTML parts, the subject / html / text of a Patron preview
      (POST /v1/templates/{id}/preview), each with its own To and Message-ID.
      The messages are built before the clock starts; prints {"n", "s", "per_s"}.
"""
import http.client
import json
import smtplib
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=600)


def metrics(c):
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    if r.status != 200:
        sys.exit("client.py: GET /metrics: %d" % r.status)
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def post_batch(c, key, body):
    c.request("POST", "/v1/batch", body=body,
              headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse()
    ans = r.read()
    if r.status != 200:
        sys.exit("client.py: POST /v1/batch: %d %s" % (r.status, ans[:300]))
    a = json.loads(ans)
    return a.get("accepted", 0) + a.get("duplicates", 0)


def cmd_post(port, key, path, conns):
    with open(path, "rb") as f:
        bodies = f.read().splitlines()
    lock = threading.Lock()
    state = {"next": 0, "events": 0}

    def worker():
        c = conn(port)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(bodies):
                return
            n = post_batch(c, key, bodies[i])
            want = bodies[i].count(b'"messageId"')
            if n != want:
                sys.exit("client.py: batch %d: %d of %d events taken" % (i, n, want))
            with lock:
                state["events"] += n

    t0 = time.monotonic()
    th = [threading.Thread(target=worker) for _ in range(conns)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    print(json.dumps({"requests": len(bodies), "events": state["events"],
                      "s": round(time.monotonic() - t0, 3)}))


def cmd_waitsweep(port, sweeps, timeout):
    c = conn(port)
    t0 = time.monotonic()
    while True:
        m = metrics(c)
        if m.get("patron_automation_sweeps_total", 0) > sweeps:
            print(json.dumps({"sweeps": int(m["patron_automation_sweeps_total"]),
                              "sweep_s": m["patron_automation_sweep_seconds"],
                              "waited_s": round(time.monotonic() - t0, 3)}))
            return
        if time.monotonic() - t0 > timeout:
            sys.exit("client.py: no sweep within %g s" % timeout)
        time.sleep(0.005)


def cmd_deliver(port, key, n, path, timeout):
    with open(path, "rb") as f:
        bodies = f.read().splitlines()
    poll = conn(port)
    m0 = metrics(poll)
    base = {k: m0.get("patron_messages_%s_total" % k, 0) for k in ("decided", "delivered", "dead")}
    res = {"n": n, "posted_s": None, "first_decided_s": None, "decided_s": None,
           "first_delivered_s": None, "delivered_s": None, "dead": 0, "timeout": False}

    def poster():
        c = conn(port)
        for b in bodies:
            post_batch(c, key, b)
        res["posted_s"] = round(time.monotonic() - t0, 4)

    t0 = time.monotonic()
    th = threading.Thread(target=poster)
    th.start()
    while True:
        m = metrics(poll)
        now = round(time.monotonic() - t0, 4)
        dec = m.get("patron_messages_decided_total", 0) - base["decided"]
        dlv = m.get("patron_messages_delivered_total", 0) - base["delivered"]
        res["dead"] = int(m.get("patron_messages_dead_total", 0) - base["dead"])
        if dec > 0 and res["first_decided_s"] is None:
            res["first_decided_s"] = now
        if dec >= n and res["decided_s"] is None:
            res["decided_s"] = now
        if dlv > 0 and res["first_delivered_s"] is None:
            res["first_delivered_s"] = now
        if dlv >= n:
            res["delivered_s"] = now
            break
        if res["dead"] > 0 or now > timeout:
            res["timeout"] = now > timeout
            res["delivered"] = int(dlv)
            break
        time.sleep(0.005)
    th.join()
    print(json.dumps(res))


def cmd_smtp(port, n, preview):
    with open(preview) as f:
        p = json.load(f)
    msgs = []
    for i in range(n):
        m = EmailMessage()
        m["From"] = "Bench Shop <shop@bench.example>"
        m["To"] = "plain%d@bench.example" % i
        m["Subject"] = p["subject"] or ""
        m["Date"] = formatdate(usegmt=True)
        m["Message-ID"] = "<plain-%d-%d@bench.example>" % (int(time.time()), i)
        m.set_content(p["text"] or "", cte="quoted-printable")
        if p.get("html"):
            m.add_alternative(p["html"], subtype="html", cte="quoted-printable")
        msgs.append((m["To"], m.as_bytes(policy=m.policy.clone(linesep="\r\n"))))
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.ehlo("bench.example")
    t0 = time.monotonic()
    for to, raw in msgs:
        s.sendmail("shop@bench.example", [to], raw)
    dt = time.monotonic() - t0
    s.quit()
    print(json.dumps({"n": n, "s": round(dt, 4), "per_s": round(n / dt, 1),
                      "avg_bytes": round(sum(len(r) for _, r in msgs) / n)}))


def main(a):
    if len(a) >= 4 and a[0] == "post":
        cmd_post(int(a[1]), a[2], a[3], int(a[4]) if len(a) > 4 else 2)
    elif len(a) == 4 and a[0] == "waitsweep":
        cmd_waitsweep(int(a[1]), float(a[2]), float(a[3]))
    elif len(a) == 6 and a[0] == "deliver":
        cmd_deliver(int(a[1]), a[2], int(a[3]), a[4], float(a[5]))
    elif len(a) == 4 and a[0] == "smtp":
        cmd_smtp(int(a[1]), int(a[2]), a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
