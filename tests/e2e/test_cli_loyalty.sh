#!/usr/bin/env bash
# `patron loyalty check-program` (a good programme printed canonical, a bad one
# naming its field) and `patron loyalty import` on a data directory: refused
# before the shop has a programme; the programme set through a real
# `patron serve` (PUT /v1/loyalty/program), the server stopped, then a members
# CSV imported (columns in any order, CRLF, quoted fields, stdin), a re-import
# skipping everyone, files with a bad row (CSV syntax, a value, an unknown
# tier) changing nothing, usage errors (exit 2); then a server on the same data
# shows the imported balances, tiers and join dates, and no member of the bad
# files.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

D="$T/data"

# cli_stdin NAME FILE ARGS...: like cli, with FILE on standard input.
cli_stdin() {
    local name=$1 in=$2
    shift 2
    timeout 60 "$PATRON" "$@" >"$T/out" 2>"$T/err" <"$in"
    status=$?
    { echo "== $name"; cat "$T/err"; } >>"$T/cli.err"
}
# expect_out TEXT NAME: stdout is exactly TEXT (one line).
expect_out() {
    if [[ $(cat "$T/out") == "$1" ]]; then ok; else bad "$2: stdout '$(head -c 300 "$T/out")', want '$1'"; fi
}
# member USER_ID: GET /v1/loyalty/members/USER_ID (the server must run).
member() { api GET "/v1/loyalty/members/$1"; }

# ---- check-program ----
cat >"$T/program.json" <<'EOF'
{"tiers":{"levels":[{"name":"Silver","threshold":1000},{"name":"Gold","threshold":5000}]}}
EOF
cli check-good loyalty check-program "$T/program.json"
expect_status 0 "check-program: a good programme"
cp "$T/out" "$T/canon.json"
jcheck "check-program: canonical JSON" "$T/canon.json" <<'EOF'
[l["name"] for l in j["tiers"]["levels"]] == ["Silver", "Gold"]
[l["threshold"] for l in j["tiers"]["levels"]] == [1000, 5000]
j["enabled"] is True and j["tiers"]["basis"] == "spend" and j["tiers"]["window_days"] == 365
j["earn"]["rounding"] == "floor" and j["expiry"]["months"] == 0
EOF
cli check-canon loyalty check-program "$T/canon.json"
expect_status 0 "check-program: the canonical form is accepted"
check "check-program: the canonical form is a fixed point" cmp -s "$T/out" "$T/canon.json"
echo '{"tiers":{"levels":[{"name":"Silver","threshold":1000},{"name":"Gold","threshold":500}]}}' >"$T/bad-program.json"
cli check-bad loyalty check-program "$T/bad-program.json"
expect_status 1 "check-program: thresholds not ascending"
expect_err_has "$T/bad-program.json: tiers.levels[1].threshold: " "check-program names the file and field"
check "check-program: nothing on stdout for a bad programme" test ! -s "$T/out"
echo '{"tiers":{"levels":[]},"earn":{"points_per_unit":1,"bogus":2}}' >"$T/bad2.json"
cli check-unknown loyalty check-program "$T/bad2.json"
expect_status 1 "check-program: an unknown key"
expect_err_has "earn.bogus" "check-program names the unknown key"
echo '{"tiers":' >"$T/bad3.json"
cli check-syntax loyalty check-program "$T/bad3.json"
expect_status 1 "check-program: a JSON syntax error"
cli check-stdin-less loyalty check-program "$T/no-such-file.json"
expect_status 1 "check-program: a missing file"
expect_err_has "no-such-file.json" "check-program: the missing file is named"
cli check-usage loyalty check-program
expect_status 2 "check-program without FILE"
cli check-usage2 loyalty check-program "$T/program.json" --data "$D"
expect_status 2 "check-program takes no --data"

# ---- a shop without a programme ----
cli shop shop create "Loyal Shop" --data "$D" --format json
expect_status 0 "shop create"
cp "$T/out" "$T/shop.json"
SHOP=$(shop_of "$T/shop.json")
KEY=$(key_of "$T/shop.json")

# members: balances, tiers and join dates from another programme
printf '%s\r\n' 'Joined,POINTS,tier,User_Id' \
    '2021-06-15,1500,Silver,alice' \
    ',250,,bob' \
    '2019-01-02T08:00:00Z,7000,Gold,"carol, jr"' \
    '2022-02-02,3,,"dan ""the man"""' >"$T/good.csv"

cli noprog loyalty import "$T/good.csv" --data "$D" --shop "$SHOP"
expect_status 1 "import before the shop has a programme"
expect_err_has "no loyalty programme" "the refusal says there is no programme"
check "no output on refusal" test ! -s "$T/out"

# ---- usage errors ----
cli u-noshop loyalty import "$T/good.csv" --data "$D"
expect_status 2 "import without --shop"
cli u-nodata loyalty import "$T/good.csv" --shop "$SHOP"
expect_status 2 "import without --data"
cli u-nofile loyalty import --data "$D" --shop "$SHOP"
expect_status 2 "import without FILE"
cli u-format loyalty import "$T/good.csv" --data "$D" --shop "$SHOP" --format csv
expect_status 2 "import --format csv"
cli u-verb loyalty export "$T/good.csv"
expect_status 2 "an unknown action"
cli u-opt loyalty import "$T/good.csv" --data "$D" --shop "$SHOP" --bogus
expect_status 2 "an unknown option"
cli u-none loyalty
expect_status 2 "no action"
cli help loyalty --help
expect_status 0 "--help"
check "--help says the server must not be running" grep -q "must not be running" "$T/out"
cli top-help --help
check "patron --help lists loyalty" grep -q '^  loyalty' "$T/out"
cli u-shop loyalty import "$T/good.csv" --data "$D" --shop shop_0000000000000000
expect_status 1 "import into a shop that does not exist"
expect_err_has "no shop shop_0000000000000000" "the unknown shop is named"
cli u-dir loyalty import "$T/good.csv" --data "$T/nowhere" --shop "$SHOP"
expect_status 1 "import into a directory without a store"
check "a missing data directory is not created" test ! -e "$T/nowhere"

# ---- set the programme through the server, then stop it ----
start_server s1 --data "$D" --listen 127.0.0.1:0 --clv-refit 0
api PUT /v1/loyalty/program "@$T/program.json"
expect_code 201 "PUT /v1/loyalty/program (the first: created)"
jcheck "PUT answers the canonical programme" <<'EOF'
[l["name"] for l in j["tiers"]["levels"]] == ["Silver", "Gold"]
EOF
stop_server s1

# ---- parse errors: FILE:LINE:COL, nothing imported ----
printf 'user_id,points,tier\nerin,10,Gold\nfrank,12x,\n' >"$T/bad-points.csv"
cli bad-points loyalty import "$T/bad-points.csv" --data "$D" --shop "$SHOP"
expect_status 1 "a bad points value"
expect_err_has "$T/bad-points.csv:3:7: points \"12x\" is not a whole number >= 0" "FILE:LINE:COL of the bad value"
printf 'user_id,points,email\nerin,10,e@x\n' >"$T/bad-col.csv"
cli bad-col loyalty import "$T/bad-col.csv" --data "$D" --shop "$SHOP"
expect_status 1 "an unknown column"
expect_err_has "$T/bad-col.csv:1:16: unknown column \"email\"" "the unknown column is named"
printf 'user_id,points\nerin,10\ngina,5\nerin,3\n' >"$T/bad-dup.csv"
cli bad-dup loyalty import "$T/bad-dup.csv" --data "$D" --shop "$SHOP"
expect_status 1 "a user_id twice"
expect_err_has "$T/bad-dup.csv:4:1: user_id \"erin\" is also on line 2" "both lines of a duplicate"
printf 'user_id,points\nerin,10\n"gina,5\n' >"$T/bad-quote.csv"
cli bad-quote loyalty import "$T/bad-quote.csv" --data "$D" --shop "$SHOP"
expect_status 1 "an unterminated quote"
expect_err_has "$T/bad-quote.csv:3:1: unterminated quoted field" "CSV syntax errors have positions"
: >"$T/empty.csv"
cli bad-empty loyalty import "$T/empty.csv" --data "$D" --shop "$SHOP"
expect_status 1 "an empty file"
expect_err_has "the file is empty" "an empty file is reported"
cli_stdin bad-stdin "$T/bad-points.csv" loyalty import - --data "$D" --shop "$SHOP"
expect_status 1 "a bad file on stdin"
expect_err_has "<stdin>:3:7: points" "stdin is named <stdin>"

# ---- an unknown tier: refused by the engine for the whole file ----
printf 'user_id,points,tier\nhank,100,Silver\nivy,200,Platinum\n' >"$T/bad-tier.csv"
cli bad-tier loyalty import "$T/bad-tier.csv" --data "$D" --shop "$SHOP"
expect_status 1 "a tier the programme does not have"
expect_err_has "$T/bad-tier.csv:3: " "the refused row's line"
expect_err_has "Platinum" "the unknown tier is named"

# ---- the good file ----
cli good loyalty import "$T/good.csv" --data "$D" --shop "$SHOP"
expect_status 0 "import the good file"
expect_out "imported 4 members (0 already imported)" "import summary"
cli again loyalty import "$T/good.csv" --data "$D" --shop "$SHOP"
expect_status 0 "import the same file again"
expect_out "imported 0 members (4 already imported)" "a re-import skips everyone"
cli again-json loyalty import "$T/good.csv" --data "$D" --shop "$SHOP" --format json
expect_status 0 "re-import --format json"
cp "$T/out" "$T/again.json"
jcheck "re-import JSON" "$T/again.json" <<<'j == {"imported": 0, "skipped": 4}'
# stdin, one new member and one already imported
printf 'points,user_id\n42,jack\n999,alice\n' >"$T/more.csv"
cli_stdin more "$T/more.csv" loyalty import - --data "$D" --shop "$SHOP" --format json
expect_status 0 "import from stdin"
cp "$T/out" "$T/more.json"
jcheck "import from stdin: JSON" "$T/more.json" <<<'j == {"imported": 1, "skipped": 1}'

# ---- what a server on the same data shows ----
start_server s2 --data "$D" --listen 127.0.0.1:0 --clv-refit 0
member alice
expect_code 200 "alice is a member"
jcheck "alice" <<'EOF'
j["user_id"] == "alice" and j["balance"] == 1500
j["tier"]["name"] == "Silver"
j["member_since"] == "2021-06-15T00:00:00Z"
EOF
member bob
expect_code 200 "bob is a member"
jcheck "bob" <<<'j["balance"] == 250 and j["tier"] is None'
member 'carol,%20jr'
expect_code 200 "carol, jr is a member"
jcheck "carol" <<'EOF'
j["user_id"] == "carol, jr" and j["balance"] == 7000 and j["tier"]["name"] == "Gold"
j["member_since"] == "2019-01-02T08:00:00Z"
EOF
member 'dan%20%22the%20man%22'
expect_code 200 "dan is a member"
jcheck "dan" <<<'j["user_id"] == "dan \"the man\"" and j["balance"] == 3'
member jack
expect_code 200 "jack (from stdin) is a member"
jcheck "jack" <<<'j["balance"] == 42'
for u in erin frank gina hank ivy; do
    member "$u"
    expect_code 404 "$u of a refused file is no member"
done
stop_server s2

# A member imported with 0 points is skipped on a re-import like the others.
printf 'user_id,points\nzed,0\n' >"$T/zero.csv"
cli zero1 loyalty import "$T/zero.csv" --data "$D" --shop "$SHOP"
expect_status 0 "import a 0-point member"
expect_out "imported 1 member (0 already imported)" "a 0-point member is imported"
cli zero2 loyalty import "$T/zero.csv" --data "$D" --shop "$SHOP"
expect_status 0 "re-import a 0-point member"
expect_out "imported 0 members (1 already imported)" "a re-imported 0-point member is skipped"

finish_serve
