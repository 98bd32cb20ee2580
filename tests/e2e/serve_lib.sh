# shellcheck shell=bash
# serve_lib.sh - helpers for the end-to-end tests of `patron serve` (sourced
# after lib.sh by tests/e2e/test_serve_*.sh; not a test itself).
#
# Servers: start_server NAME ARGS... runs `patron serve ARGS...` in the
# background with its stderr in $T/NAME.err and sets $SPID and $URL; the EXIT
# trap stops every server still running (by PID). finish_serve fails the test
# when a server's or a CLI run's stderr holds sanitizer output.
#
# Requests: api METHOD PATH [BODY] [CURL ARGS...] -> $code, body in $T/body,
# headers in $T/hdr; $KEY (if set) goes in as a Bearer key. A BODY starting
# with @ names a file.
#
# JSON: jcheck NAME [FILE] reads Python expressions from stdin, one a line, and
# counts each as a check (a line `name = ...` just runs); `j` is the last
# response body (or FILE) as JSON, `raw` its text. Helpers: iso(t), secs(iso),
# load(path), NOW, T, strip(profile) drops the fields that move with the clock,
# j and load() leave out the Segment Entered/Exited events the engine writes
# (jall has them),
# err(code, field) checks an error body. pyrun [FILE] runs a program instead.

_spids=()
_errs=()
trap '_stop_all; rm -rf "$T"' EXIT

# _term PID: SIGTERM, then SIGKILL after 30 s; returns 1 if it had to kill.
_term() {
    local i
    kill -TERM "$1" 2>/dev/null || return 0
    for ((i = 0; i < 600; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$1" 2>/dev/null
    return 1
}

_stop_all() {
    local p
    for p in "${_spids[@]}"; do
        _term "$p"
        wait "$p" 2>/dev/null
    done
    _spids=()
}

NOW=$(date -u +%s)
# iso SECONDS: ISO-8601 UTC of a Unix time.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# cli NAME ARGS...: `patron ARGS...`; stdout in $T/out, stderr in $T/err (and
# appended to $T/cli.err for the sanitizer check), exit status in $status.
cli() {
    local name=$1
    shift
    timeout 60 "$PATRON" "$@" >"$T/out" 2>"$T/err" </dev/null
    status=$?
    { echo "== $name"; cat "$T/err"; } >>"$T/cli.err"
}

# start_server NAME ARGS...: sets SPID, URL (empty URL: it did not start).
start_server() {
    local name=$1 i port=""
    shift
    _errs+=("$T/$name.err")
    "$PATRON" serve "$@" 2>"$T/$name.err" &
    SPID=$!
    _spids+=("$SPID")
    for ((i = 0; i < 400; i++)); do
        port=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$T/$name.err" | cut -d: -f3)
        [[ -n $port ]] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    URL=${port:+http://127.0.0.1:$port}
    if [[ -n $URL ]]; then ok; else bad "server $name did not start: $(tail -c 400 "$T/$name.err")"; fi
}

# stop_server NAME: SIGTERM to $SPID; the exit status must be 0 and stderr must
# say "stopped cleanly".
stop_server() {
    local name=$1 rc p rest=()
    _term "$SPID" || bad "$name: still running 30 s after SIGTERM"
    wait "$SPID"
    rc=$?
    for p in "${_spids[@]}"; do [[ $p != "$SPID" ]] && rest+=("$p"); done
    _spids=("${rest[@]}")
    if [[ $rc -eq 0 ]]; then ok; else bad "$name: SIGTERM exit status $rc, want 0"; fi
    if grep -q 'stopped cleanly' "$T/$name.err"; then ok; else bad "$name: no 'stopped cleanly'"; fi
}

api() {
    local m=$1 p=$2 body=${3-}
    shift 2
    [[ $# -gt 0 ]] && shift
    local args=(-s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" --max-time 30)
    [[ -n ${KEY-} ]] && args+=(-H "Authorization: Bearer $KEY")
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    code=$(curl "${args[@]}" "$@" "$URL$p") || code=000
}

# expect_code N NAME: the last request's HTTP status.
expect_code() {
    if [[ $code == "$1" ]]; then ok; else bad "$2: HTTP $code, want $1: $(head -c 300 "$T/body")"; fi
}

# post TYPE JSON WANT: one event to /v1/TYPE, answered 200 with status WANT;
# accepted events are kept in $T/sent.jsonl.
post() {
    api POST "/v1/$1" "$2"
    if [[ $code == 200 ]] && grep -q '"success":true' "$T/body" &&
        grep -q "\"status\":\"$3\"" "$T/body"; then ok; else
        bad "POST /v1/$1 $(head -c 140 <<<"$2"): HTTP $code $(head -c 200 "$T/body"), want $3"
    fi
    if [[ $code == 200 && $3 == accepted ]]; then printf '%s\n' "$2" >>"$T/sent.jsonl"; fi
}

# batch FILE [QUERY]: POST /v1/batch; accepted events go to $T/sent.jsonl.
batch() {
    api POST "/v1/batch${2-}" "@$1"
    [[ $code == 200 ]] || return 0
    pyrun "$T/body" <<EOF
req = load("$1")
for r in j["results"]:
    if r["status"] == "accepted":
        print(json.dumps(req["batch"][r["index"]]))
EOF
    cat "$T/py.out" >>"$T/sent.jsonl"
}

# metric NAME-REGEX FILE: the value of a Prometheus line.
metric() { grep -E "^$1 " "$2" | awk '{print $2}'; }
# ts SECONDS-AGO: ISO-8601 UTC.
ts() { iso $((NOW - $1)); }

# expect_error HTTP CODE FIELD NAME: the last answer is an error body with this
# HTTP status, code and field (FIELD as Python: None or "name").
expect_error() {
    expect_code "$1" "$4"
    jcheck "$4" <<<"err(\"$2\", $3)"
}

# One Python process answers every JSON check (a Python start costs ~0.1 s).
# Request: "check|run FILE", code lines, a line "@@end"; answer: lines, then
# "@@done". check: each line is an assignment `name = ...` (run) or an
# expression (a check: "ok" or "FAIL ..."). run: the lines run as one program; what it prints comes
# back as "| " lines.
cat >"$T/jcheck.py" <<'PY'
import datetime, io, json, os, re, sys, traceback
T = os.path.dirname(os.path.abspath(sys.argv[0]))
NOW = int(sys.argv[1])
def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def secs(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
def load(path):
    return received(json.load(open(path, encoding="utf-8")))
def is_seg_event(e):
    """A Segment Entered / Exited event the engine wrote (not one a client sent)."""
    b = e.get("body") if isinstance(e, dict) else None
    return isinstance(b, dict) and b.get("event") in ("Segment Entered", "Segment Exited") and \
        "messageId" not in b and isinstance(b.get("properties"), dict) and \
        "segment_id" in b["properties"]
def received(p):
    """p with the engine's segment events left out of timelines and exports: the
    older suites check what clients sent; test_serve_segments reads jall."""
    if isinstance(p, dict):
        return {k: ([received(e) for e in v if not is_seg_event(e)]
                    if k in ("timeline", "events") and isinstance(v, list) else received(v))
                for k, v in p.items()}
    return [received(v) for v in p] if isinstance(p, list) else p
RANKS = ("r", "f", "m", "score", "segment")  # live RFM ranks: move as other customers come
def strip(p, also=()):
    """p without the fields that move with the clock (and the keys in also).
    clv moves with the refit schedule: a server fits at start, so after a
    restart it has a model where the first process had none yet; segment
    events too (a restart re-evaluates RFM segments with fresh boundaries)."""
    p = received(p)
    drop = ("days_since_last_order", "age_minutes", "recency_days", "clv") + tuple(also)
    if isinstance(p, dict):
        return {k: strip(v, also) for k, v in p.items() if k not in drop}
    return [strip(v, also) for v in p] if isinstance(p, list) else p
def first_diff(a, b, path=""):
    """"same", or where a and b first differ."""
    if isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b):
        return next((d for d in (first_diff(a[k], b[k], path + "." + k) for k in a) if d != "same"), "same")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((d for d in (first_diff(x, y, "%s[%d]" % (path, i)) for i, (x, y) in enumerate(zip(a, b))) if d != "same"), "same")
    return "same" if a == b else "%s: %s vs %s" % (path or "top", json.dumps(a)[:150], json.dumps(b)[:150])
def err(code, field):
    """The body is an error with exactly these code and field."""
    e = j["error"]
    return sorted(e) == ["code", "field", "message"] and e["code"] == code and \
        e["field"] == field and isinstance(e["message"], str) and e["message"] != ""
def answer(line):
    sys.__stdout__.write(line.replace("\n", " ") + "\n")
while True:
    head = sys.stdin.readline()
    if not head:
        break
    mode, path = head.rstrip("\n").split(" ", 1)
    lines = []
    for line in iter(sys.stdin.readline, ""):
        if line.rstrip("\n") == "@@end":
            break
        lines.append(line.rstrip("\n"))
    raw = open(path, encoding="utf-8", errors="replace").read() if os.path.isfile(path) else ""
    try:
        jall = json.loads(raw)
        j = received(jall)
    except ValueError:
        j = jall = None
    env = dict(globals(), j=j, jall=jall, raw=raw)
    if mode == "run":
        out = io.StringIO()
        sys.stdout = out
        try:
            exec("\n".join(lines), env)
        except Exception:
            answer("FAIL " + traceback.format_exc().splitlines()[-1])
        sys.stdout = sys.__stdout__
        for l in out.getvalue().splitlines():
            answer("| " + l)
    for line in lines if mode == "check" else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            try:
                code = compile(line, "check", "eval")
            except SyntaxError:
                if not re.match(r"[A-Za-z_]\w* = ", line):
                    raise  # only `name = ...` may be a statement: a typo must not pass
                exec(line, env)
                continue
            good, why = bool(eval(code, env)), ""
        except Exception as e:
            good, why = False, "%s: %s" % (type(e).__name__, e)
        if good:
            answer("ok")
            continue
        if not why and " == " in line:
            try:
                why = "left side is " + json.dumps(eval(line.split(" == ", 1)[0], env))[:300]
            except Exception:
                pass
        answer("FAIL %s  [%s]  body: %s" % (line, why, raw[:200]))
    answer("@@done")
    sys.__stdout__.flush()
PY
coproc JC { exec python3 -u "$T/jcheck.py" "$NOW"; }
_jc_in=${JC[1]}
_jc_out=${JC[0]}
_spids+=("$JC_PID")

# _py MODE FILE: sends stdin as one request; the answer lines go to $T/py.out.
_py() {
    local line
    : >"$T/py.out"
    { echo "$1 $2"; cat; echo "@@end"; } >&"$_jc_in"
    while IFS= read -r -t 60 line <&"$_jc_out"; do
        [[ $line == "@@done" ]] && return 0
        printf '%s\n' "$line" >>"$T/py.out"
    done
    return 1
}

# jcheck NAME [FILE] <<< checks: each expression line is one check.
jcheck() {
    local name=$1 line
    if ! _py check "${2:-$T/body}"; then
        bad "$name: the JSON checker did not answer"
        return
    fi
    while IFS= read -r line; do
        if [[ $line == ok ]]; then ok; else bad "$name: ${line#FAIL }"; fi
    done <"$T/py.out"
}

# pyrun [FILE] <<< program: runs it (j = FILE as JSON); its output is in $T/py.out.
pyrun() {
    _py run "${1:-$T/body}" || bad "pyrun: the JSON checker did not answer"
    if grep -q '^FAIL' "$T/py.out"; then bad "pyrun: $(grep '^FAIL' "$T/py.out")"; fi
    sed -i -n 's/^| //p' "$T/py.out"
}

# key_of FILE / shop_of FILE: api_key / shop_id of a `shop ... --format json` answer.
key_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$1" 2>/dev/null; }
shop_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shop_id"])' "$1" 2>/dev/null; }

finish_serve() {
    _stop_all
    local f
    for f in "${_errs[@]}" "$T/cli.err"; do
        [[ -f $f ]] || continue
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|AddressSanitizer|UndefinedBehaviorSanitizer' "$f"; then
            bad "sanitizer report in $(basename "$f"): $(grep -m3 -E 'Sanitizer|runtime error' "$f")"
        else
            ok
        fi
    done
    finish
}
