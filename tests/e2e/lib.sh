# lib.sh - helpers for the end-to-end CLI tests (sourced by tests/e2e/test_*.sh).
# Each test script gets the patron binary as $1, works in a temporary folder,
# and ends with "N passed, N failed"; its exit status is non-zero on a failure.
set -uo pipefail
PATRON=$(realpath "${1:?usage: $0 PATRON}")
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
SHARED_DATA="$ROOT/../shared/data"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
_pass=0
_fail=0

ok() { _pass=$((_pass + 1)); }
bad() { _fail=$((_fail + 1)); echo "FAIL: $*" >&2; }

# check NAME CMD...: the command must succeed.
check() {
    local name=$1
    shift
    if "$@"; then ok; else bad "$name"; fi
}

# run_patron ARGS...: runs patron, keeps stdout/stderr/status in $T/out $T/err $status.
run_patron() {
    "$PATRON" "$@" >"$T/out" 2>"$T/err"
    status=$?
}

# expect_status N NAME
expect_status() {
    if [[ $status -eq $1 ]]; then ok; else bad "$2: exit status $status, want $1 (stderr: $(head -c 300 "$T/err"))"; fi
}

# expect_err_has TEXT NAME: stderr contains TEXT (fixed string).
expect_err_has() {
    if grep -qF -- "$1" "$T/err"; then ok; else bad "$2: stderr lacks '$1': $(head -c 300 "$T/err")"; fi
}

# same_file A B NAME: byte-identical.
same_file() {
    if cmp -s "$1" "$2"; then ok; else bad "$3: $1 and $2 differ: $(diff "$1" "$2" | head -5)"; fi
}

finish() {
    echo "$(basename "$0" .sh): $_pass passed, $_fail failed"
    [[ $_fail -eq 0 ]]
}

have_shared() { [[ -d "$SHARED_DATA" ]]; }
