#!/bin/sh
# `carprice data generate` flags: exit 2 with one line on bad flags; --out is
# the same bytes as stdout; chunks with --first-row/--no-header concatenate
# into the whole file. Usage: cli.sh path/to/carprice
set -u
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

expect_rc() { # expected-rc args...
    want=$1
    shift
    "$bin" data "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: carprice data $* -> rc $rc, want $want"
        fail=1
    elif [ "$want" -eq 2 ] && [ "$lines" -ne 1 ] && [ $# -gt 0 ]; then
        echo "FAIL: carprice data $* -> $lines lines on stderr, want 1"
        fail=1
    fi
}

expect_rc 2 generate
expect_rc 2 generate --rows
expect_rc 2 generate --rows abc
expect_rc 2 generate --rows 10 --seed -3
expect_rc 2 generate --rows 10 --bogus
expect_rc 2 generate --rows 10 --out "$tmp"
expect_rc 2 frobnicate
expect_rc 1 generate --rows 10 --out "$tmp/missing/dir/x.csv"
expect_rc 0 generate --help
expect_rc 0 --help

"$bin" data generate --rows 2500 --seed 8 >"$tmp/stdout.csv" 2>/dev/null || fail=1
"$bin" data generate --rows 2500 --seed 8 --out "$tmp/file.csv" 2>/dev/null || fail=1
cmp -s "$tmp/stdout.csv" "$tmp/file.csv" || { echo "FAIL: --out differs from stdout"; fail=1; }
ls "$tmp" | grep -q tmp- && { echo "FAIL: temporary file left behind"; fail=1; }

"$bin" data generate --rows 1000 --seed 8 --out "$tmp/a.csv" 2>/dev/null || fail=1
"$bin" data generate --rows 1.5k --seed 8 --first-row 1000 --no-header --out "$tmp/b.csv" \
    2>/dev/null && echo "FAIL: --rows 1.5k accepted" && fail=1
"$bin" data generate --rows 1500 --seed 8 --first-row 1000 --no-header --out "$tmp/b.csv" \
    2>/dev/null || fail=1
cat "$tmp/a.csv" "$tmp/b.csv" | cmp -s - "$tmp/stdout.csv" ||
    { echo "FAIL: chunks do not concatenate to the whole"; fail=1; }

"$bin" data generate --rows 100 --seed 8 2>"$tmp/err" >/dev/null
grep -q 'event=data.generate.done rows=100 .*rows_per_s=' "$tmp/err" ||
    { echo "FAIL: no rows/s report on stderr"; fail=1; }

[ $fail -eq 0 ] && echo "cli: ok"
exit $fail
