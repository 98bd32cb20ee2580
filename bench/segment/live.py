#!/usr/bin/env python3
"""live.py: the client side of run.sh part B (patron serve on 127.0.0.1).

  live.py segments PORT KEY RULES.tsv
      saves every rule (POST /v1/segments, NAME<TAB>RULE<TAB>... lines); prints
      JSON {"created", "seconds", "ids": [...], "max_s"}.
  live.py delete PORT KEY IDS...
      deletes those segments.
  live.py probe PORT KEY SECONDS TAG [SEGMENT_ID]
      for SECONDS: one Order Completed of 6,000.00, timestamped now, for a new
      customer probe-TAG-i (POST /v1/track), then at once GET /v1/customers/{id}
      and look for its "Segment Entered" event of SEGMENT_ID (rules.py's probe
      rule, which that order satisfies); if it is not there yet, poll until it
      is (up to 5 s). Then a pause of 10 ms, so the probe stays a sample. Prints
      JSON: ack latency (send to 2xx read) p50/p99/max ms, the number of events
      whose membership was visible on the first read after the ack, the worst
      ack-to-visible delay, and the read latency. Without SEGMENT_ID only the
      ack is measured.

Times are from time.perf_counter around blocking keep-alive requests
(http.client), so they include this client's own overhead (about 0.1 ms).
"""
import http.client
import json
import sys
import time
from datetime import datetime, timezone


class Client:
    def __init__(self, port, key):
        self.port, self.key = port, key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def req(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.key}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(50):
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            if r.status == 503:  # busy: retry after a moment
                time.sleep(0.05)
                continue
            if r.status // 100 != 2:
                sys.exit(f"live.py: {method} {path}: {r.status} {data[:300]!r}")
            return json.loads(data) if data else None
        sys.exit(f"live.py: {method} {path}: still 503")


def pct(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def cmd_segments(port, key, path):
    c = Client(port, key)
    ids, worst = [], 0.0
    t0 = time.perf_counter()
    for line in open(path):
        name, rule = line.rstrip("\n").split("\t")[:2]
        s0 = time.perf_counter()
        ids.append(c.req("POST", "/v1/segments", {"name": name, "rule": rule})["id"])
        worst = max(worst, time.perf_counter() - s0)
    print(json.dumps({"created": len(ids), "seconds": round(time.perf_counter() - t0, 3),
                      "max_s": round(worst, 3), "ids": ids}))


def cmd_delete(port, key, ids):
    c = Client(port, key)
    for i in ids:
        c.req("DELETE", f"/v1/segments/{i}")


def entered(profile, seg_id):
    for ev in profile.get("timeline", []):
        props = (ev.get("body") or {}).get("properties") or {}
        if ev.get("event") == "Segment Entered" and props.get("segment_id") == seg_id:
            return True
    return False


def cmd_probe(port, key, seconds, tag, seg_id):
    c = Client(port, key)
    acks, reads, delays = [], [], []
    visible_first = 0
    i = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        i += 1
        uid = f"probe-{tag}-{i}"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        ev = {"event": "Order Completed", "userId": uid, "messageId": f"{uid}-m",
              "timestamp": now,
              "properties": {"order_id": f"{uid}-o", "revenue": 6000.00, "currency": "EUR"}}
        t0 = time.perf_counter()
        c.req("POST", "/v1/track", ev)
        t1 = time.perf_counter()
        acks.append(t1 - t0)
        if seg_id is not None:
            first = True
            while True:
                r0 = time.perf_counter()
                prof = c.req("GET", f"/v1/customers/{uid}?timeline=300")
                r1 = time.perf_counter()
                reads.append(r1 - r0)
                if entered(prof, seg_id):
                    visible_first += first
                    delays.append(r1 - t1)
                    break
                first = False
                if r1 - t1 > 5:
                    delays.append(float("inf"))
                    break
        time.sleep(0.01)
    ms = lambda x: round(x * 1000, 3)
    out = {"events": len(acks), "ack_p50_ms": ms(pct(acks, 0.5)),
           "ack_p99_ms": ms(pct(acks, 0.99)), "ack_max_ms": ms(max(acks, default=0))}
    if seg_id is not None:
        out.update({"visible_first_read": visible_first,
                    "visible_p50_ms": ms(pct(delays, 0.5)),
                    "visible_p99_ms": ms(pct(delays, 0.99)),
                    "visible_max_ms": ms(max(delays, default=0)),
                    "read_p50_ms": ms(pct(reads, 0.5)), "read_p99_ms": ms(pct(reads, 0.99))})
    print(json.dumps(out))


def main():
    a = sys.argv[1:]
    if len(a) >= 4 and a[0] == "segments":
        cmd_segments(int(a[1]), a[2], a[3])
    elif len(a) >= 3 and a[0] == "delete":
        cmd_delete(int(a[1]), a[2], a[3:])
    elif len(a) in (5, 6) and a[0] == "probe":
        cmd_probe(int(a[1]), a[2], float(a[3]), a[4], int(a[5]) if len(a) == 6 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
