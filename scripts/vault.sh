#!/usr/bin/env bash
# Starts and stops the HashiCorp Vault dev server that crmkit's Vault secret
# store tests (auth/secretstore/vault) run against.
#
#   scripts/vault.sh build   build the server binary if it is not cached yet
#   scripts/vault.sh start   build if needed, start it, write .tools/run/vault.env
#   scripts/vault.sh env     print the export lines (eval "$(scripts/vault.sh env)")
#   scripts/vault.sh stop    stop it and remove its state
#
# After start, `source .tools/run/vault.env` sets CRMKIT_TEST_VAULT_ADDR and
# CRMKIT_TEST_VAULT_TOKEN for `go test ./auth/secretstore/vault/...`.
#
# The server is built from the tools module in tools/vault (its own go.mod,
# so Vault's large dependency graph never enters crmkit's). A cold build takes
# 5 to 10 minutes and several GB of memory, so the binary is cached as
# .tools/bin/vault-<hash of tools/vault/go.sum> and reused until go.sum
# changes. Set VAULT_BUILD_P=1 to compile one package at a time when memory
# is short.
#
# Dev mode only: in-memory storage, unsealed, a random root token, and plain
# HTTP, which is why it listens on a loopback address (127.0.0.1) and nowhere
# else. Never use this script's server for anything but tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

run_dir=$root/.tools/run
state_dir=$run_dir/vault
env_file=$run_dir/vault.env
pid_file=$state_dir/vault.pid
log_file=$state_dir/vault.log

say() { printf 'vault.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# shellcheck source=lib/tools.sh
. "$root/scripts/lib/tools.sh"

binary() { tool_binary vault; }

build() {
	tool_build vault github.com/hashicorp/vault "a cold build takes 5 to 15 minutes and several GB of memory" \
		${VAULT_BUILD_P:+-p "$VAULT_BUILD_P"} -ldflags='-s -w' ||
		die "building Vault failed (exit $?); if the build was killed for memory, retry with VAULT_BUILD_P=1"
}

# healthy PORT: Vault on PORT is initialized, unsealed and active.
healthy() { http_ok "$1" /v1/sys/health; }

running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

start() {
	if running && [ -f "$env_file" ]; then
		say "already running (pid $(cat "$pid_file")); env in ${env_file#"$root"/}"
		return 0
	fi
	stop_quiet
	build
	local bin token port pid try i
	bin=$(binary)
	mkdir -p "$state_dir"
	chmod 700 "$run_dir" "$state_dir"
	token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	for try in 1 2 3 4 5; do
		# A random port whose neighbour (the dev server's cluster port) is free too.
		port=$((20000 + RANDOM % 30000))
		if port_open "$port" || port_open $((port + 1)); then continue; fi
		say "starting the dev server on 127.0.0.1:$port"
		local t0
		t0=$(date +%s%N)
		# The root token goes in through the environment, not argv, so that it
		# does not show in ps; -dev-no-store-token keeps it out of ~/.vault-token.
		VAULT_DEV_ROOT_TOKEN_ID=$token setsid "$bin" server -dev \
			-dev-listen-address="127.0.0.1:$port" -dev-no-store-token \
			>"$log_file" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$pid_file"
		for i in $(seq 1 300); do
			if ! kill -0 "$pid" 2>/dev/null; then break; fi
			if healthy "$port"; then break; fi
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null && healthy "$port"; then
			say "ready in $((($(date +%s%N) - t0) / 1000000))ms (pid $pid)"
			ensure_kv "$bin" "http://127.0.0.1:$port" "$token"
			umask 077
			printf 'export CRMKIT_TEST_VAULT_ADDR=%q\nexport CRMKIT_TEST_VAULT_TOKEN=%q\n' \
				"http://127.0.0.1:$port" "$token" >"$env_file"
			say "wrote ${env_file#"$root"/}; source it to run the Vault tests"
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -f "$pid_file"
		# Another process may have taken a port between the check and the
		# bind: try other ports. Any other failure is final.
		if ! grep -q 'address already in use' "$log_file"; then
			say "the server did not become ready; its log ends with:"
			tail -n 20 "$log_file" >&2 || true
			die "could not start the Vault dev server"
		fi
	done
	die "could not start the Vault dev server after $try tries"
}

# ensure_kv: dev mode mounts KV version 2 at secret/; mount it if a future
# Vault stops doing so, and fail if secret/ is something else.
ensure_kv() {
	local bin=$1 opts
	export VAULT_ADDR=$2 VAULT_TOKEN=$3
	if opts=$("$bin" read -field=options sys/mounts/secret 2>/dev/null); then
		[[ $opts == *version:2* ]] || die "secret/ is mounted but is not KV version 2 (options: $opts)"
	else
		say "mounting KV version 2 at secret/"
		"$bin" secrets enable -path=secret -version=2 kv >/dev/null
	fi
	unset VAULT_ADDR VAULT_TOKEN
}

stop_quiet() {
	local pid i
	if [ -f "$pid_file" ]; then
		pid=$(cat "$pid_file")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -rf "$state_dir" "$env_file"
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop_quiet; say "stopped" ;;
env)
	[ -f "$env_file" ] && running || die "not running: scripts/vault.sh start"
	cat "$env_file"
	;;
*) die "usage: scripts/vault.sh build|start|stop|env" ;;
esac
