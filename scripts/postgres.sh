#!/usr/bin/env bash
# Starts and stops the throwaway PostgreSQL server that crmkit's PostgreSQL
# secret store tests (auth/secretstore/postgres) and the rotation race run
# against.
#
#   scripts/postgres.sh start   install PostgreSQL if missing, start a server, write .tools/run/postgres.env
#   scripts/postgres.sh env     print the export line (eval "$(scripts/postgres.sh env)")
#   scripts/postgres.sh stop    stop it and remove its data directory
#
# After start, `source .tools/run/postgres.env` sets CRMKIT_TEST_POSTGRES_DSN
# (postgres://crmkit:...@127.0.0.1:PORT/crmkit?sslmode=disable).
#
# On a machine without PostgreSQL (CI's machines start fresh) it installs
# Debian's postgresql package; that needs root. The server is a new cluster
# in a temporary directory, run by the postgres user (as root) or by you,
# listening on a random free port on 127.0.0.1 only, with its unix socket in
# the temporary directory, and durability off (fsync and friends): a test
# server whose data is thrown away on stop.
#
# sslmode=disable is deliberate and limited to this server: the connection
# never leaves the machine (loopback only). crmkit's TLS policy (TLS 1.2 or
# newer, verified certificates) is for connections that leave the machine,
# and a production DSN must use sslmode=verify-full.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

run_dir=$root/.tools/run
state_file=$run_dir/postgres.state
env_file=$run_dir/postgres.env

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# bin_dir prints the directory holding initdb, pg_ctl, postgres and psql:
# Debian's /usr/lib/postgresql/<newest>/bin, or wherever PATH finds initdb.
bin_dir() {
	local d best=""
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && [ -x "$d/psql" ]; then
			best=$d # the glob sorts by version for equal digit counts
		fi
	done
	if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$(command -v initdb)")")
		if [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && [ -x "$d/psql" ]; then best=$d; fi
	fi
	[ -n "$best" ] && printf '%s' "$best"
}

install_postgres() {
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and this is not a Debian-like system: install PostgreSQL's server"
	say "installing PostgreSQL from Debian's packages"
	local t0=$SECONDS policy=/usr/sbin/policy-rc.d ours=""
	# Keep the package's own cluster from being started: this script runs its
	# own. policy-rc.d is Debian's switch for that; only ours is removed.
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		ours=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	local status=0
	{ apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql >/dev/null; }; } || status=$?
	if [ -n "$ours" ]; then rm -f "$policy"; fi
	[ "$status" -eq 0 ] || die "apt-get install postgresql failed (exit $status)"
	say "installed in $((SECONDS - t0))s"
}

# as_owner CMD...: run CMD as the server's owner (postgres when we are root,
# since PostgreSQL refuses to run as root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# shellcheck source=lib/tools.sh
. "$root/scripts/lib/tools.sh" # port_open

running() {
	[ -f "$state_file" ] || return 1
	local dir bin port
	# shellcheck disable=SC1090
	. "$state_file"
	[ -d "$dir" ] && "$bin/pg_isready" -q -h "$dir" -p "$port" -t 2
}

start() {
	if running && [ -f "$env_file" ]; then
		say "already running; env in ${env_file#"$root"/}"
		return 0
	fi
	stop_quiet
	local bin dir port password try t0
	bin=$(bin_dir) || true
	if [ -z "$bin" ]; then
		install_postgres
		bin=$(bin_dir) || die "PostgreSQL was installed but initdb, pg_ctl, postgres and psql are not under /usr/lib/postgresql/*/bin"
	fi
	t0=$(date +%s%N)
	mkdir -p "$run_dir"
	chmod 700 "$run_dir"
	dir=$(mktemp -d /tmp/crmkit-postgres.XXXXXX)
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
	# Written now so that stop removes the directory even if start fails.
	printf 'dir=%q\nbin=%q\nport=\n' "$dir" "$bin" >"$state_file"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
		{ tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
	# Local (unix socket) connections are trusted, for this script's psql;
	# TCP connections need the password.
	printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' | as_owner tee "$dir/data/pg_hba.conf" >/dev/null
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		if port_open "$port"; then continue; fi
		if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -s \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null 2>&1; then
			break
		fi
		if ! grep -q 'could not bind\|already in use' "$dir/server.log" 2>/dev/null; then
			tail -n 20 "$dir/server.log" >&2 || true
			die "could not start PostgreSQL"
		fi
		port=""
	done
	[ -n "$port" ] || die "could not find a free port for PostgreSQL"
	printf 'dir=%q\nbin=%q\nport=%q\n' "$dir" "$bin" "$port" >"$state_file"
	password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# The SQL, password included, goes in on stdin, not argv (ps shows argv).
	printf "CREATE ROLE crmkit LOGIN PASSWORD '%s';\nCREATE DATABASE crmkit OWNER crmkit;\n" "$password" |
		as_owner "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres -f - >/dev/null ||
		die "creating the crmkit role and database failed"
	umask 077
	printf "export CRMKIT_TEST_POSTGRES_DSN='%s'\n" \
		"postgres://crmkit:$password@127.0.0.1:$port/crmkit?sslmode=disable" >"$env_file"
	say "ready in $((($(date +%s%N) - t0) / 1000000))ms on 127.0.0.1:$port ($("$bin/postgres" --version)); wrote ${env_file#"$root"/}"
}

stop_quiet() {
	if [ -f "$state_file" ]; then
		local dir="" bin="" port="" pid i
		# shellcheck disable=SC1090
		. "$state_file"
		if [ -n "$dir" ] && [ -d "$dir" ]; then
			if [ -f "$dir/data/postmaster.pid" ]; then
				as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 -s stop >/dev/null 2>&1 || true
				# pg_ctl gave up: end the postmaster by its recorded pid.
				if [ -f "$dir/data/postmaster.pid" ]; then
					pid=$(head -n 1 "$dir/data/postmaster.pid")
					if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
						kill -QUIT "$pid" 2>/dev/null || true
						for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
					fi
				fi
			fi
			case $dir in /tmp/crmkit-postgres.*) rm -rf "$dir" ;; esac
		fi
	fi
	rm -f "$state_file" "$env_file"
}

case "${1:-}" in
start) start ;;
stop) stop_quiet; say "stopped" ;;
env)
	running && [ -f "$env_file" ] || die "not running: scripts/postgres.sh start"
	cat "$env_file"
	;;
*) die "usage: scripts/postgres.sh start|stop|env" ;;
esac
