#!/usr/bin/python3
"""render_ref.py RENDER_C N [CONTEXTS.json N_JS] - the rendering twin of
bench/automation/render.c in pystache (Debian's python3-pystache, the Mustache
reference implementation for Python).

The template is read out of RENDER_C (its k_template string literal), and the
N contexts are built exactly as render.c builds them (the same hash, names,
tiers, catalogue of 500 products, 5 picks each, a voucher for two customers in
three), as Python dicts. The template is parsed once (pystache.parse) and only
Renderer.render over the prebuilt contexts is timed, as render.c's "prebuilt"
figure. Customer 4's output is checked as render.c checks it (exit 1 if not).
With CONTEXTS.json, the first N_JS contexts and the template are also written
there as JSON (the input of render_ref.js).

Prints one JSON line: {"renders", "s", "renders_per_s", "avg_output_bytes"}.
"""
import ast
import json
import re
import sys
import time

import pystache

M64 = (1 << 64) - 1
CATALOGUE = 500
PICKS = 5
FIRST = ["Anna", "Piotr", "Zoë", "Kasia", "Tom & Jerry", "Marek", "Ola", "Łukasz", "O'Neil", "Ewa"]
TIERS = ["Bronze", "Silver", "Gold", "Platinum"]
WORDS = ["Linen", "Ceramic", "Oak", "Wool", "Copper", "Mug", "Throw", "Board", "Lamp", "Vase"]


def template_of(path):
    src = open(path, encoding="utf-8").read()
    m = re.search(r"k_template\[\]\s*=\s*(.*?);\n", src, re.S)
    if not m:
        sys.exit("render_ref.py: no k_template in " + path)
    lits = re.findall(r'"(?:[^"\\]|\\.)*"', m.group(1))
    return "".join(ast.literal_eval(s) for s in lits)


def mix(x):
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    return x


SHOP = {"name": "Corner & Co", "url": "https://corner.example", "logo": "https://corner.example/logo.png"}
CAT = []
for i in range(CATALOGUE):
    CAT.append({"name": "%s %s no. %d" % (WORDS[i % 10], WORDS[(i // 10) % 10], i),
                "price": (199 + mix(i) % 20000) / 100.0,
                "url": "https://corner.example/p/%d" % i})


def customer(i):
    h = mix(i + 1)
    tier = h % 4
    c = {"first_name": FIRST[i % 10], "email": "customer%d@example.com" % i,
         "points": h % 100000, "tier": TIERS[tier], "next_tier": TIERS[tier + 1 if tier < 3 else 3],
         "to_next": (h >> 20) % 5000 if tier < 3 else 0, "currency": "PLN", "shop": SHOP,
         "products": [CAT[(h >> (8 * k)) % CATALOGUE] for k in range(PICKS)],
         "unsubscribe_url": "https://corner.example/u?c=%d&t=%08x" % (i, h >> 32)}
    if h % 3 != 0:
        c["voucher"] = {"code": "WB-%06X" % (h & 0xFFFFFF), "value": 5 + h % 20,
                        "expires": "2026-%02d-%02d" % (h % 12 + 1, h % 28 + 1)}
    return c


def main(a):
    if len(a) not in (2, 4):
        sys.exit(__doc__)
    tmpl = template_of(a[0])
    n = int(a[1])
    njs = int(a[3]) if len(a) == 4 else 0
    ctx = [customer(i) for i in range(max(n, njs))]
    if njs:
        with open(a[2], "w", encoding="utf-8") as f:
            json.dump({"template": tmpl, "contexts": ctx[:njs]}, f, ensure_ascii=False)
        del ctx[n:]
    r = pystache.Renderer()
    parsed = pystache.parse(tmpl)
    out = r.render(parsed, ctx[4])
    for want in ("Hi Tom &amp; Jerry,", "customer4@example.com",
                 '<a href="https://corner.example/u?c=4&t=', "https://corner.example/p/"):
        if want not in out or "{{" in out:
            sys.exit("render_ref.py: unexpected output (missing %r):\n%s" % (want, out))
    total = 0
    t0 = time.monotonic()
    for c in ctx:
        total += len(r.render(parsed, c).encode("utf-8"))
    dt = time.monotonic() - t0
    print(json.dumps({"renders": n, "s": round(dt, 3), "renders_per_s": round(n / dt),
                      "avg_output_bytes": round(total / n)}))


if __name__ == "__main__":
    main(sys.argv[1:])
