#!/usr/bin/env bash
# Installs libsparkconnect into a temporary prefix and builds the example
# program against it with pkg-config alone, as an outside user would.
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc -std=c11 -Wall -Werror "$src/examples/sc_query.c" $(pkg-config --cflags --libs sparkconnect) \
    -o "$prefix/sc_query"
"$prefix/sc_query" 2>/dev/null && exit 1 # no arguments: must refuse with usage
echo "installed library links; example built"
