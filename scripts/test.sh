#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, vet, staticcheck,
# then the servers the tests use, then every package's tests with the race
# detector. It needs only Go (and root, on a machine without PostgreSQL, to
# install it from Debian's packages); everything else it builds or installs
# into ./.tools on first run:
#
#   staticcheck   go install, seconds
#   PostgreSQL    Debian's package if missing; a throwaway cluster on 127.0.0.1
#   Ory Hydra     built from tools/hydra, about 3 minutes the first time
#   Vault         built from tools/vault, 10 to 15 minutes the first time
#
# The servers are started before the tests and stopped when the script ends,
# however it ends. CRMKIT_SERVICES=0 skips them: the tests that need them then
# skip, saying how to start them.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
export GOBIN="$PWD/.tools/bin"
export PATH="$GOBIN:$PATH"

step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }

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

if [ "${CRMKIT_SERVICES:-1}" != 0 ]; then
	stop_services() {
		scripts/vault.sh stop || true
		scripts/hydra.sh stop || true
		scripts/postgres.sh stop || true
	}
	trap stop_services EXIT
	step "PostgreSQL"
	scripts/postgres.sh start
	step "Ory Hydra"
	scripts/hydra.sh start
	step "HashiCorp Vault"
	scripts/vault.sh start
	for f in postgres hydra vault; do
		# shellcheck disable=SC1090
		. ".tools/run/$f.env"
	done
	# A test that needs a server fails, rather than skips, when it is missing.
	export CRMKIT_REQUIRE_SERVERS=1
fi

step "go test -race ./..."
go test -race -count=1 ./...
step "done"
