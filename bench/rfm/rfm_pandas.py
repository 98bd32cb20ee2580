#!/usr/bin/python3
"""Reference RFM implementation in pandas (see RFM-SPEC.md, parts A and B).

Usage:
    rfm_pandas.py INPUT.csv [--as-of DATE|INSTANT] [--layout orders|uci] --out OUT.csv

Money is never summed in floating point: amounts are parsed from their text into
integer cents (orders layout) or thousandths (UCI: Quantity x UnitPrice), summed as
int64 and formatted from integers. Times are int64 nanoseconds since the epoch (UTC).
A short summary goes to stderr.
"""
import argparse
import sys

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9

ORDERS_HEADER = "order_id,customer_id,ordered_at,amount"
UCI_HEADERS = {
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country":
        ("InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"),
    "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country":
        ("Invoice", "Quantity", "InvoiceDate", "Price", "Customer ID"),
}

# Segment grid indexed by 5*(R-1) + (F-1).
_GRID = {
    5: ["New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers"],
    3: ["About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
    1: ["Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"],
}
SEGMENTS = np.array([name for r in (1, 2, 3, 4, 5) for name in _GRID[r]], dtype=object)


def fail(msg):
    sys.exit(f"rfm_pandas: {msg}")


def read_str_csv(path, usecols):
    """Read the given columns as plain strings (no NA guessing: "" stays "")."""
    return pd.read_csv(path, usecols=usecols, dtype=str, keep_default_na=False,
                       na_filter=False, encoding="utf-8")


def to_ns(s, fmt):
    """Parse timestamps to int64 ns UTC: fast fixed format, else general ISO-8601."""
    try:
        t = pd.to_datetime(s, format=fmt)
    except (ValueError, TypeError):
        t = pd.to_datetime(s, utc=True)  # offsets, fractions, plain dates
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t.values.astype("datetime64[ns]").view("int64")


def decimal_to_int(s, digits, signed, what):
    """Exact decimal text -> int64 in units of 10**-digits (e.g. '7.5' -> 750)."""
    frac_re = rf"(?:\.(\d{{1,{digits}}}))?" if digits else "()"
    parts = s.str.extract(("^(-?)" if signed else "^()") + r"(\d{1,15})" + frac_re + r"\Z")
    bad = parts[1].isna()
    if bad.any():
        fail(f"bad {what} {s[bad].iloc[0]!r} (data row {bad.values.argmax() + 1})")
    value = parts[1].astype("int64") * 10**digits
    if digits:
        value += parts[2].fillna("").str.ljust(digits, "0").astype("int64")
    return np.where(parts[0] == "-", -value, value)


def as_of_ns(text):
    ts = pd.Timestamp(text)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.value


def day_after(max_ns):
    return (max_ns // DAY_NS + 1) * DAY_NS


def load_orders(path, as_of):
    """Orders layout -> per-customer (last_ns, frequency, money in cents)."""
    df = read_str_csv(path, ["order_id", "customer_id", "ordered_at", "amount"])
    df["t"] = to_ns(df["ordered_at"], "%Y-%m-%dT%H:%M:%SZ")
    df["money"] = decimal_to_int(df["amount"], 2, False, "amount")
    if not df["order_id"].is_unique:
        # Multi-row orders: a row whose customer differs from the order's first row is
        # a bad row; the rest add up, and the order's time is its earliest row.
        first = df.groupby("order_id", sort=False)["customer_id"].transform("first")
        n_bad = int((df["customer_id"] != first).sum())
        if n_bad:
            print(f"rfm_pandas: dropped {n_bad} rows with a conflicting customer_id",
                  file=sys.stderr)
            df = df[df["customer_id"] == first]
        df = df.groupby("order_id", sort=False).agg(
            customer_id=("customer_id", "first"), t=("t", "min"), money=("money", "sum"))
    if as_of is None:
        as_of = day_after(df["t"].max())
    df = df[df["t"] < as_of]  # an order is used when its (earliest) time is before A
    g = df.groupby("customer_id", sort=False).agg(
        last=("t", "max"), frequency=("t", "size"), money=("money", "sum"))
    return g, as_of, 2, {}


def load_uci(path, as_of, cols):
    """UCI Online Retail (I or II) -> per-customer (last_ns, frequency, thousandths)."""
    inv, qty, date, price, cust = cols
    df = read_str_csv(path, [inv, qty, date, price, cust])
    n_rows = len(df)
    df = df[df[cust] != ""]  # rows without a customer id are skipped (and counted)
    stats = {"rows": n_rows, "rows_without_customer": n_rows - len(df)}
    df = df.assign(
        t=to_ns(df[date], "%Y-%m-%d %H:%M:%S"),
        money=decimal_to_int(df[qty], 0, True, "Quantity")  # x price in thousandths
        * decimal_to_int(df[price], 3, True, "UnitPrice"),
        is_order=~df[inv].str.startswith("C"))
    # An invoice (order) is timed by its earliest row, like multi-row orders in part B.
    invoices = df[df["is_order"]].groupby([cust, inv], sort=False)["t"].min()
    if as_of is None:
        as_of = day_after(invoices.max())
    df = df[df["t"] < as_of]  # rows at or after A are ignored entirely
    invoices = invoices[invoices < as_of]
    orders = invoices.groupby(level=0, sort=False).agg(["max", "size"])
    orders.columns = ["last", "frequency"]
    money = df.groupby(cust, sort=False)["money"].sum()
    stats["customers_only_cancellations"] = int((~money.index.isin(orders.index)).sum())
    g = orders.join(money, how="left")  # customers with only cancellations drop out here
    g.index.name = "customer_id"
    return g, as_of, 3, stats


def score(metric, worse_first_ascending, n):
    """1 + floor(5 * (min_rank - 1) / n), min_rank counting strictly worse customers."""
    rank = metric.rank(method="min", ascending=worse_first_ascending).astype("int64")
    return 1 + (5 * (rank - 1)) // n


def format_money(units, digits):
    """Integer units of 10**-digits -> text with 2 decimals, rounding half away from 0."""
    units = units.to_numpy(dtype="int64")
    mag = np.abs(units)
    if digits == 3:
        mag = (mag + 5) // 10
    sign = pd.Series(np.where((units < 0) & (mag > 0), "-", ""), dtype=object)
    return (sign + pd.Series(mag // 100).astype(str) + "."
            + pd.Series(mag % 100).astype(str).str.zfill(2)).values


def sort_order(ids):
    """Numeric order when every id is a non-negative integer, else byte order."""
    key = pd.DataFrame({"id": ids})
    if ids.str.fullmatch(r"\d+").all():
        # Numeric order for any length: (digit count, digits) without leading zeros;
        # the id as written breaks ties such as 7 vs 007.
        key["digits"] = ids.str.lstrip("0")
        key["len"] = key["digits"].str.len()
        cols = ["len", "digits", "id"]
    else:
        cols = ["id"]  # Python compares str by code point, i.e. UTF-8 byte order
    return key.sort_values(cols, kind="stable").index


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("--as-of", help="date (00:00:00Z) or ISO instant; "
                    "default: 00:00:00Z of the day after the newest order")
    ap.add_argument("--layout", choices=["orders", "uci"], help="default: from the header")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.input, encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\r\n").lstrip("\ufeff")
    layout = args.layout or ("orders" if header == ORDERS_HEADER
                             else "uci" if header in UCI_HEADERS else None)
    if layout is None:
        fail(f"unknown header {header!r}; use --layout")
    as_of = None if args.as_of is None else as_of_ns(args.as_of)
    if layout == "orders":
        g, as_of, digits, stats = load_orders(args.input, as_of)
    else:
        if header not in UCI_HEADERS:
            fail(f"not a UCI Online Retail header: {header!r}")
        g, as_of, digits, stats = load_uci(args.input, as_of, UCI_HEADERS[header])

    n = len(g)
    recency = (as_of - g["last"]) // DAY_NS
    r = score(recency, False, n)  # worse = larger recency: largest first
    f = score(g["frequency"], True, n)
    m = score(g["money"], True, n)  # UCI: ranks the exact thousandths
    out = pd.DataFrame({
        "customer_id": g.index.astype(str),
        "recency": recency.values, "frequency": g["frequency"].values,
        "monetary": format_money(g["money"], digits),
        "r": r.values, "f": f.values, "m": m.values,
        "segment": SEGMENTS[(5 * (r - 1) + (f - 1)).values],
    })
    out = out.iloc[sort_order(out["customer_id"])] if n else out
    out.to_csv(args.out, index=False, lineterminator="\n")

    stats.update(layout=layout, as_of=pd.Timestamp(as_of, tz="UTC").isoformat(),
                 customers=n)
    print("rfm_pandas: " + " ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
