#!/bin/sh
# Stands in for `carprice train` in the watch-data tests: records its
# arguments and each start, runs while $STANDIN_DIR/hold exists, then exits
# with the status in $STANDIN_DIR/status (default 0).
d="${STANDIN_DIR:?STANDIN_DIR is not set}"
printf '%s\n' "$@" > "$d/args.tmp" && mv "$d/args.tmp" "$d/args"
echo "$$" >> "$d/launches"
echo "$$" > "$d/pid"
while [ -e "$d/hold" ]; do sleep 0.1; done
exit "$(cat "$d/status" 2>/dev/null || echo 0)"
