#!/usr/bin/env python3
"""Send many HTTP requests to a Patron server at once and record every answer.

Used by test_serve_loyalty_concurrency.sh. REQUESTS is a JSON list of
{"method", "path", "body" (JSON text or null), "key" (Idempotency-Key or
null)}; the requests are shared out over WORKERS threads, each with its own
keep-alive connection, in an order shuffled by SEED (so the requests of one
member race each other and those of others). RESULTS gets a JSON list in the
order of REQUESTS: {"status", "body" (text), "replayed" (the answer had
Idempotent-Replayed: true), "retried" (the connection failed and the request
was sent again: only safe with an Idempotency-Key, so it counts as an error
without one)}.

usage: loyalty_load.py PORT API_KEY REQUESTS RESULTS [WORKERS] [SEED]
Exit status 0 when every request got an HTTP answer, 1 otherwise.
"""
import http.client
import json
import queue
import random
import sys
import threading


def worker(port, api_key, reqs, todo, results, errors, start):
    conn = None
    start.wait()  # every thread sends its first request at the same moment
    while True:
        try:
            i = todo.get_nowait()
        except queue.Empty:
            break
        r = reqs[i]
        headers = {"Authorization": "Bearer " + api_key}
        if r.get("body") is not None:
            headers["Content-Type"] = "application/json"
        if r.get("key"):
            headers["Idempotency-Key"] = r["key"]
        retried = False
        for attempt in range(3):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request(r["method"], r["path"], r.get("body"), headers)
                resp = conn.getresponse()
                body = resp.read().decode("utf-8", "replace")
                results[i] = {"status": resp.status, "body": body,
                              "replayed": resp.getheader("Idempotent-Replayed") == "true",
                              "retried": retried}
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                break
            except (OSError, http.client.HTTPException) as e:
                if conn is not None:
                    conn.close()
                conn = None
                if not r.get("key") or attempt == 2:
                    errors.append("request %d (%s %s): %s" % (i, r["method"], r["path"], e))
                    break
                retried = True
    if conn is not None:
        conn.close()


def main():
    port, api_key, req_path, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    workers = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    with open(req_path, encoding="utf-8") as f:
        reqs = json.load(f)
    order = list(range(len(reqs)))
    random.Random(seed).shuffle(order)
    todo = queue.Queue()
    for i in order:
        todo.put(i)
    results = [None] * len(reqs)
    errors = []
    start = threading.Barrier(workers)
    threads = [threading.Thread(target=worker, args=(port, api_key, reqs, todo, results, errors, start))
               for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)
    for e in errors[:10]:
        print(e, file=sys.stderr)
    return 1 if errors or any(r is None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
