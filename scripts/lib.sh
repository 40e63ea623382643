# Shared shell helpers for carprice's bootstrap and service glue. Sourced, not run.
# shellcheck shell=bash

CARPRICE_ROOT=${CARPRICE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# Downloads and resolved jars live outside the work tree so clean checkouts reuse them.
CARPRICE_CACHE=${CARPRICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/carprice}
# Runtime state of the local stack (data dirs, logs, pids): git-ignored.
CARPRICE_RUN=${CARPRICE_RUN:-$CARPRICE_ROOT/.run}

# shellcheck source=../versions.env
. "$CARPRICE_ROOT/versions.env"

SPARK_JARS=$CARPRICE_CACHE/jars/spark-$SPARK_VERSION
KAFKA_JARS=$CARPRICE_CACHE/jars/kafka-$KAFKA_VERSION
HADOOP_JARS=$CARPRICE_CACHE/jars/hadoop-$HADOOP_VERSION
CARPRICE_VENV=${CARPRICE_VENV:-$CARPRICE_CACHE/venv}

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
