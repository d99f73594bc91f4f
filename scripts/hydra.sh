#!/usr/bin/env bash
# Starts and stops the Ory Hydra server that crmkit's auth tests use as an
# independent OAuth 2.0 / OpenID Connect authorization server.
#
#   scripts/hydra.sh build   build the server binary if it is not cached yet
#   scripts/hydra.sh start   build if needed, start it, write .tools/run/hydra.env
#   scripts/hydra.sh env     print the export lines (eval "$(scripts/hydra.sh env)")
#   scripts/hydra.sh stop    stop it and remove its state
#
# After start, `source .tools/run/hydra.env` sets CRMKIT_TEST_HYDRA_PUBLIC_URL
# (the issuer: discovery, authorize, token) and CRMKIT_TEST_HYDRA_ADMIN_URL
# (clients, login/consent acceptance, introspection) for `go test ./auth/...`.
#
# The server is built from the tools module in tools/hydra (its own go.mod,
# so Hydra's dependency graph never enters crmkit's) with the sqlite build
# tag, into .tools/bin/hydra-<hash of tools/hydra/go.sum>, and reused until
# go.sum changes. A cold build takes about 3 minutes on 2 cores.
#
# The server runs `serve all --dev` with DSN=memory: all state is in memory
# and gone when it stops, and it speaks plain HTTP, which is why both ports
# listen on 127.0.0.1 and nowhere else. Never use it for anything but tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

run_dir=$root/.tools/run
state_dir=$run_dir/hydra
env_file=$run_dir/hydra.env
pid_file=$state_dir/hydra.pid
log_file=$state_dir/hydra.log

say() { printf 'hydra.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# shellcheck source=lib/tools.sh
. "$root/scripts/lib/tools.sh"

binary() { tool_binary hydra; }

build() {
	tool_build hydra github.com/ory/hydra/v2 "about 3 minutes cold" -tags sqlite ||
		die "building Hydra failed (exit $?)"
}

# ready PORT: Hydra answers on PORT that it is ready.
ready() { http_ok "$1" /health/ready; }

running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

start() {
	if running && [ -f "$env_file" ]; then
		say "already running (pid $(cat "$pid_file")); env in ${env_file#"$root"/}"
		return 0
	fi
	stop_quiet
	build
	local bin system pub adm pid try i t0
	bin=$(binary)
	mkdir -p "$state_dir"
	chmod 700 "$run_dir" "$state_dir"
	for try in 1 2 3 4 5; do
		pub=$((20000 + RANDOM % 30000))
		adm=$((pub + 1))
		if port_open "$pub" || port_open "$adm"; then continue; fi
		system=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		t0=$(date +%s%N)
		# Configuration goes in through the environment (Hydra maps
		# SERVE_PUBLIC_PORT to serve.public.port and so on), the system secret
		# included, so that it does not show in ps. The login and consent URLs
		# are never opened: the tests accept login and consent through the
		# admin API. The JWT-bearer grant keeps Hydra's defaults: jti and iat
		# required, assertions valid for at most 30 days.
		DSN=memory \
			SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT=$pub \
			SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT=$adm \
			URLS_SELF_ISSUER=http://127.0.0.1:$pub \
			URLS_LOGIN=http://127.0.0.1:$pub/crmkit-test/login \
			URLS_CONSENT=http://127.0.0.1:$pub/crmkit-test/consent \
			SECRETS_SYSTEM=$system LOG_LEVEL=warn \
			setsid "$bin" serve all --dev --sqa-opt-out >"$log_file" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$pid_file"
		for i in $(seq 1 300); do
			if ! kill -0 "$pid" 2>/dev/null; then break; fi
			if ready "$pub" && ready "$adm"; then break; fi
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null && ready "$pub" && ready "$adm"; then
			say "ready in $((($(date +%s%N) - t0) / 1000000))ms on 127.0.0.1:$pub (public) and :$adm (admin), pid $pid"
			umask 077
			printf 'export CRMKIT_TEST_HYDRA_PUBLIC_URL=%q\nexport CRMKIT_TEST_HYDRA_ADMIN_URL=%q\n' \
				"http://127.0.0.1:$pub" "http://127.0.0.1:$adm" >"$env_file"
			say "wrote ${env_file#"$root"/}; source it to run the Hydra tests"
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
			die "could not start Hydra"
		fi
	done
	die "could not start Hydra after $try tries"
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
	[ -f "$env_file" ] && running || die "not running: scripts/hydra.sh start"
	cat "$env_file"
	;;
*) die "usage: scripts/hydra.sh build|start|stop|env" ;;
esac
