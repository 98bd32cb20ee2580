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


def to_ns(s):
    """ISO-8601 text (Z, +HH:MM or no zone = UTC; or a date) -> int64 ns since the epoch."""
    return pd.to_datetime(s, utc=True).dt.tz_localize(None).to_numpy().view("int64")


def byte_matrix(s):
    """Strings -> n x width uint8 matrix (NUL-padded on the right); None if not ASCII."""
    try:
        a = s.to_numpy().astype("S")
    except UnicodeEncodeError:
        return None
    return a.view(np.uint8).reshape(len(a), a.dtype.itemsize)


def ids_as_int(s):
    """Ids -> int64 when that is lossless, else None.

    Lossless means every id is 1-18 digits without a leading zero (or is "0"), so text
    and number map one to one: grouping and sorting by the integer then equals grouping
    by the text and sorting numerically, and str(int) gives the id back. Hashing int64
    keys is several times faster than hashing millions of Python strings.
    """
    b = byte_matrix(s)
    if b is None or b.shape[1] > 18 or len(b) == 0:
        return None
    digit = (b >= 48) & (b <= 57)
    length = (b != 0).sum(axis=1)
    if not ((digit.sum(axis=1) == length) & (length >= 1)
            & ~(~digit[:, :-1] & digit[:, 1:]).any(axis=1)  # digits form one prefix
            & ((b[:, 0] != ord("0")) | (length == 1))).all():
        return None
    val = np.zeros(len(b), np.int64)
    for j in range(b.shape[1]):
        val = np.where(digit[:, j], val * 10 + (b[:, j] - 48), val)
    return val


def decimal_to_int(s, digits, signed, what):
    """Exact decimal text -> int64 in units of 10**-digits ('7.5' -> 750 for digits=2).

    Vectorised over the bytes of the strings (an n x width uint8 matrix, NUL-padded),
    validating as it goes: [-]D{1,15}[.D{1,digits}]. No float is involved, and it is
    ~7x faster than Series.str.extract with a regex.
    """
    b = byte_matrix(s)
    if b is None:
        fail(f"bad {what}: non-ASCII text")
    n = len(b)
    neg = (b[:, 0] == ord("-")) if signed else np.zeros(n, bool)
    val, n_digits, n_frac, n_dots = (np.zeros(n, np.int64) for _ in range(4))
    bad, ended = np.zeros(n, bool), np.zeros(n, bool)
    for j in range(b.shape[1]):
        c = b[:, j]
        digit, dot, end = (c >= 48) & (c <= 57), c == 46, c == 0
        bad |= (ended & ~end) | ~(digit | dot | end | (neg if j == 0 else False))
        ended |= end
        val = np.where(digit, val * 10 + (c - 48), val)
        n_digits += digit
        n_frac += digit & (n_dots > 0)
        n_dots += dot
    n_int = n_digits - n_frac
    bad |= (n_int < 1) | (n_int > 15) | (n_dots > 1) | ((n_dots == 1) & (n_frac == 0))
    bad |= n_frac > digits
    if bad.any():
        fail(f"bad {what}: {s.iloc[bad.argmax()]!r}")
    val *= 10 ** (digits - n_frac)
    return np.where(neg, -val, val)


def as_of_ns(text):
    ts = pd.Timestamp(text)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.value


def day_after(max_ns):
    """Default as-of: 00:00:00Z of the day after the newest order."""
    if pd.isna(max_ns):
        fail("no orders in the input, so no default as-of")
    return (max_ns // DAY_NS + 1) * DAY_NS


def customer_ids(s):
    """-> (ids as int64 if lossless else text, whether every id is a non-negative integer).

    The sort rule looks at every id in the input, not only at the customers kept."""
    as_int = ids_as_int(s)
    if as_int is not None:
        return as_int, True
    return s, bool(pd.Series(s.unique()).str.fullmatch(r"\d+").all())


def load_orders(path, as_of):
    """Orders layout -> per-customer (last_ns, frequency, money in cents)."""
    raw = read_str_csv(path, ["order_id", "customer_id", "ordered_at", "amount"])
    order_id = ids_as_int(raw["order_id"])
    cust, numeric_ids = customer_ids(raw["customer_id"])
    df = pd.DataFrame({
        "order_id": raw["order_id"] if order_id is None else order_id,
        "customer_id": cust,
        "t": to_ns(raw["ordered_at"]),
        "money": decimal_to_int(raw["amount"], 2, False, "amount")})
    del raw
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
    return g, as_of, 2, numeric_ids, {}


def load_uci(path, as_of, cols):
    """UCI Online Retail (I or II) -> per-customer (last_ns, frequency, thousandths)."""
    inv, qty, date, price, cust = cols
    df = read_str_csv(path, [inv, qty, date, price, cust])
    n_rows = len(df)
    df = df[df[cust] != ""]  # rows without a customer id are skipped (and counted)
    stats = {"rows": n_rows, "rows_without_customer": n_rows - len(df)}
    ids, numeric_ids = customer_ids(df[cust])
    df = pd.DataFrame({
        "customer_id": ids,
        "invoice": df[inv],
        "t": to_ns(df[date]),  # naive: taken as UTC
        "money": decimal_to_int(df[qty], 0, True, "Quantity")  # x price in thousandths
        * decimal_to_int(df[price], 3, True, "UnitPrice"),
        "is_order": ~df[inv].str.startswith("C")})
    # An invoice (order) is timed by its earliest row, like multi-row orders in part B.
    invoices = df[df["is_order"]].groupby(["customer_id", "invoice"], sort=False)["t"].min()
    if as_of is None:
        as_of = day_after(invoices.max())
    df = df[df["t"] < as_of]  # rows at or after A are ignored entirely
    invoices = invoices[invoices < as_of]
    orders = invoices.groupby(level=0, sort=False).agg(["max", "size"])
    orders.columns = ["last", "frequency"]
    money = df.groupby("customer_id", sort=False)["money"].sum()
    stats["customers_only_cancellations"] = int((~money.index.isin(orders.index)).sum())
    g = orders.join(money, how="left")  # customers with only cancellations drop out here
    return g, as_of, 3, numeric_ids, stats


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


def sort_customers(g, numeric):
    """Numeric order if every input id is a non-negative integer, else byte order."""
    if numeric and g.index.dtype == object:  # digit ids with leading zeros or > 18 digits
        ids = g.index.to_series()
        digits = ids.str.lstrip("0")  # numeric order = (digit count, digits) for any length;
        key = pd.DataFrame({"len": digits.str.len().values,  # the text breaks 7 vs 007 ties
                            "digits": digits.values, "id": ids.values})
        return g.iloc[key.sort_values(["len", "digits", "id"]).index]
    # int64 ids sort numerically; Python compares str by code point = UTF-8 byte order
    return g.sort_index()


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
        g, as_of, digits, numeric_ids, stats = load_orders(args.input, as_of)
    else:
        if header not in UCI_HEADERS:
            fail(f"not a UCI Online Retail header: {header!r}")
        g, as_of, digits, numeric_ids, stats = load_uci(args.input, as_of, UCI_HEADERS[header])

    g = sort_customers(g, numeric_ids)
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
    out.to_csv(args.out, index=False, lineterminator="\n")

    stats.update(layout=layout, as_of=pd.Timestamp(as_of, tz="UTC").isoformat(),
                 customers=n)
    print("rfm_pandas: " + " ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
