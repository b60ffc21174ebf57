#!/usr/bin/env bash
# Build the Istio oracle into OUTDIR (default .tools/oracle):
#   mesh-oracle  the oracle CLI (a Go test binary, see main_test.go)
#   istioctl     istioctl from the same istio.io/istio pin
# Skips the build when OUTDIR/.key matches: sha256 of go.mod, go.sum, the oracle's *.go files and
# this script, plus `go version`. Build flags: see README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../.tools/oracle}"

if ! command -v go >/dev/null 2>&1; then
  echo "oracle/build.sh: \`go\` is not on PATH. The oracle needs Go >= 1.26 (oracle/go.mod) and the Go module proxy." >&2
  exit 1
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"

key="$(
  cd "$here"
  {
    go version
    sha256sum go.mod go.sum build.sh
    find . -maxdepth 1 -name '*.go' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
)"

if [[ -x "$out/mesh-oracle" && -x "$out/istioctl" && -f "$out/.key" && "$(cat "$out/.key")" == "$key" ]]; then
  echo "oracle: up to date in $out"
  exit 0
fi

cd "$here"
rm -f "$out/.key"
start=$SECONDS

# mesh-oracle: tags vtprotobuf only. Istio's STANDARD_TAGS add disable_pgv, but that drops the
# Validate() methods pilot/test/xdstest/validate.go calls, so the test harness does not compile
# with it.
echo "oracle: building mesh-oracle (go test -c -tags vtprotobuf) ..."
go test -c -tags vtprotobuf -ldflags='-s -w' -o "$out/mesh-oracle.tmp" .
mv -f "$out/mesh-oracle.tmp" "$out/mesh-oracle"

# istioctl: Istio's release tags (Makefile.core.mk STANDARD_TAGS).
echo "oracle: building istioctl (go build -tags vtprotobuf,disable_pgv) ..."
go build -tags vtprotobuf,disable_pgv -ldflags='-s -w' -o "$out/istioctl.tmp" istio.io/istio/istioctl/cmd/istioctl
mv -f "$out/istioctl.tmp" "$out/istioctl"

echo "$key" >"$out/.key"
echo "oracle: built in $((SECONDS - start))s into $out"
