# Sourced by scripts/hydra.sh and scripts/vault.sh (and usable by any script
# that serves tests from a tools module): building a server from its tools
# module under tools/NAME, cached by the hash of its go.sum, and probing it
# on loopback. The caller defines root (the repository), say and die.

# tool_binary NAME prints the cached binary's path:
# .tools/bin/NAME-<first 12 hex digits of sha256 of tools/NAME/go.sum>.
tool_binary() {
	local sum
	sum=$(sha256sum "$root/tools/$1/go.sum" | cut -c1-12)
	printf '%s/.tools/bin/%s-%s' "$root" "$1" "$sum"
}

# tool_build NAME PKG HINT [go build flags...] builds PKG from tools/NAME
# into tool_binary NAME unless it is there already: one build at a time
# (two scripts starting together wait for each other), progress every 30 s,
# binaries for an older go.sum removed. HINT is said before a build starts
# (how long a cold build takes). It returns the build's exit status.
tool_build() {
	local name=$1 pkg=$2 hint=$3
	shift 3
	local bin lock start ticker status=0
	bin=$(tool_binary "$name")
	mkdir -p "$root/.tools/bin"
	exec {lock}>"$root/.tools/bin/.$name-build.lock"
	flock "$lock"
	if [ -x "$bin" ]; then
		say "using cached $(basename "$bin")"
		exec {lock}>&-
		return 0
	fi
	say "building $name from tools/$name into .tools/bin/$(basename "$bin"): $hint; it is cached afterwards"
	start=$SECONDS
	(while sleep 30; do say "still building ($((SECONDS - start))s)"; done) &
	ticker=$!
	(
		cd "$root/tools/$name"
		GOWORK=off go build -buildvcs=false -trimpath "$@" -o "$bin.tmp" "$pkg"
	) || status=$?
	kill "$ticker" 2>/dev/null || true
	wait "$ticker" 2>/dev/null || true
	if [ "$status" -ne 0 ]; then
		rm -f "$bin.tmp"
		exec {lock}>&-
		return "$status"
	fi
	mv "$bin.tmp" "$bin"
	find "$root/.tools/bin" -maxdepth 1 -name "$name-*" ! -name "$(basename "$bin")" -delete
	exec {lock}>&-
	say "built in $((SECONDS - start))s"
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_ok PORT PATH: GET PATH on 127.0.0.1:PORT answers 200. Bash's /dev/tcp
# keeps this free of curl.
http_ok() {
	local line
	line=$(timeout 2 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
		IFS= read -r line <&3 && printf "%s" "$line"
	' _ "$1" "$2" 2>/dev/null) || return 1
	[[ $line == HTTP/1.?" 200"* ]]
}
