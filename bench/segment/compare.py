#!/usr/bin/env python3
"""compare.py RULES.tsv REF.csv NAME=OTHER.csv...: are the member sets identical?

Each members file has RULE_INDEX,CUSTOMER_ID lines (integer ids) in any order.
REF is patron's. For every other file, both are sorted and compared; for each
rule whose sets differ it prints the rule, the counts and example customers on
either side only. Exit status 1 if any set differs.
"""
import sys

import numpy as np
import pandas as pd


def load(path):
    df = pd.read_csv(path, header=None, names=["rule", "cid"], dtype=np.int64)
    key = df["rule"].to_numpy() * (1 << 40) + df["cid"].to_numpy()
    if len(df) and (df["cid"].min() < 0 or df["cid"].max() >= (1 << 40)):
        sys.exit(f"compare.py: {path}: customer ids out of range")
    key.sort()
    return key


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: compare.py RULES.tsv REF.csv NAME=OTHER.csv...")
    names = [line.split("\t")[0] for line in open(sys.argv[1])]
    ref = load(sys.argv[2])
    bad = 0
    for arg in sys.argv[3:]:
        label, _, path = arg.partition("=")
        other = load(path)
        if np.array_equal(ref, other):
            print(f"{label}: identical member sets for all {len(names)} rules "
                  f"({len(ref):,} memberships)")
            continue
        bad = 1
        ra, oa = ref >> 40, other >> 40
        for i, name in enumerate(names, 1):
            a = ref[ra == i] & ((1 << 40) - 1)
            b = other[oa == i] & ((1 << 40) - 1)
            if np.array_equal(a, b):
                continue
            only_p = np.setdiff1d(a, b)[:5].tolist()
            only_o = np.setdiff1d(b, a)[:5].tolist()
            print(f"{label}: MISMATCH rule {i} {name}: patron {len(a)}, {label} {len(b)}; "
                  f"only in patron e.g. {only_p}; only in {label} e.g. {only_o}")
    sys.exit(bad)


if __name__ == "__main__":
    main()
