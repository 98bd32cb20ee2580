#!/usr/bin/env python3
"""Stream event batches to a Patron server until the connection dies.

Used by test_serve_crash.sh: every batch whose 200 answer arrived is
"acknowledged"; its messageIds are appended (and flushed) to ACKED before the
next batch is sent. Some batches re-send an earlier acknowledged batch, which
must come back as duplicates.

usage: crash_client.py PORT KEY ROUND ACKED_FILE
"""
import http.client
import json
import random
import sys


def batch_events(rnd, seq):
    events = []
    for k in range(40):
        mid = "r%d-b%d-e%d" % (rnd, seq, k)
        cust = "c%d" % ((seq * 7 + k) % 300)
        if k % 4 == 0:
            events.append({"type": "track", "event": "Order Completed", "userId": cust,
                           "messageId": mid, "timestamp": "2026-05-01T10:00:00Z",
                           "properties": {"order_id": "o-" + mid, "revenue": 10.25,
                                          "products": [{"product_id": "p%d" % k,
                                                        "category": "cat%d" % (k % 3),
                                                        "price": 10.25, "quantity": 1}]}})
        elif k % 4 == 1:
            events.append({"type": "identify", "userId": cust, "anonymousId": "a-" + cust,
                           "messageId": mid, "traits": {"round": rnd}})
        else:
            events.append({"type": "track", "event": "Product Added", "anonymousId": "a-" + cust,
                           "messageId": mid, "properties": {"product_id": "p1", "price": 3,
                                                            "quantity": 1}})
    return events


def main():
    port, key, rnd, acked_path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rng = random.Random(rnd)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    sent = []
    with open(acked_path, "a") as acked:
        seq = 0
        while True:
            if sent and rng.random() < 0.15:
                events = rng.choice(sent)  # a retry of an acknowledged batch
                retry = True
            else:
                events = batch_events(rnd, seq)
                seq += 1
                retry = False
            try:
                conn.request("POST", "/v1/batch", json.dumps({"batch": events}), headers)
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                return 0  # the server died: expected
            if resp.status == 503:
                continue
            if resp.status != 200:
                print("unexpected status %d: %s" % (resp.status, body[:300]), file=sys.stderr)
                return 1
            res = json.loads(body)
            if retry and res["accepted"] != 0:
                print("a retried batch was accepted again: %s" % body[:300], file=sys.stderr)
                return 1
            if not retry:
                if res["accepted"] != len(events):
                    print("a new batch was not fully accepted: %s" % body[:300], file=sys.stderr)
                    return 1
                sent.append(events)
                for e in events:
                    acked.write(e["messageId"] + "\n")
                acked.flush()


if __name__ == "__main__":
    sys.exit(main())
