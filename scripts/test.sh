#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, vet, staticcheck,
# and every package's tests with the race detector. It needs only Go: the
# tools it uses are installed into ./.tools on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
export GOBIN="$PWD/.tools/bin"
export PATH="$GOBIN:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*'))
if [ -n "$unformatted" ]; then
	echo "these files need gofmt -w:"; echo "$unformatted"; exit 1
fi
echo "all files formatted"

step "go vet"
go vet ./...
echo "vet clean"

step "staticcheck $STATICCHECK_VERSION"
if ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
staticcheck ./...
echo "staticcheck clean"

step "go test -race ./..."
go test -race -count=1 ./...
