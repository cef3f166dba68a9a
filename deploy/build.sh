#!/bin/sh
# build.sh OUTPUT — build the static groundwork binary exactly as the
# container image does, and print its size.
#
# This file is the one place the release build flags are written down: the
# Dockerfile runs it, and CI runs it (there is no container engine in CI), so
# what CI checks is what ships. GOOS/GOARCH from the environment are honoured
# for cross-builds.
set -eu

if [ "$#" -ne 1 ]; then
	echo "usage: deploy/build.sh OUTPUT" >&2
	exit 2
fi
out=$1
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac

mkdir -p "$(dirname "$out")"

# Build from the module root whatever the caller's working directory.
cd "$(dirname "$0")/.."

CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out" ./cmd/groundwork

size=$(wc -c <"$out" | tr -d ' ')
echo "built $out: $size bytes ($((size / 1024 / 1024)) MiB)"
