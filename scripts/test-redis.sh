#!/usr/bin/env bash
# test-redis.sh CMD [ARG...] runs CMD with a real Redis for the tests and
# exits with CMD's exit code. The Makefile wraps `go test` in it.
#
# Which Redis, first that answers PING:
#   1. $MMQ_TEST_REDIS_ADDR, then $MMQ_REDIS_ADDR, when set;
#   2. 127.0.0.1:6379, but only when neither is set: a named address that
#      does not answer means "not the default one", so step 2 is skipped;
#   3. a redis-server started here on a free port in a temp dir (no
#      persistence), stopped and removed when CMD ends.
# CMD then sees MMQ_TEST_REDIS_ADDR set to that address.
#
# With none of these, CI set (non-empty, as internal/redistest reads it) is an
# error; otherwise the tests fall back to the embedded miniredis, with a loud
# banner here and in internal/redistest, and MMQ_TEST_EMBEDDED=1 is exported.
#
# MMQ_TEST_DEFAULT_ADDR replaces 127.0.0.1:6379 in step 2; it exists only to
# test this script on a machine where 6379 answers.
set -euo pipefail

if (($# == 0)); then
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
fi

default_addr=${MMQ_TEST_DEFAULT_ADDR:-127.0.0.1:6379}

log() { printf 'test-redis: %s\n' "$*" >&2; }

# answers ADDR succeeds when a Redis at host:port replies +PONG to PING within
# about 2 seconds. It uses redis-cli when present, else bash's /dev/tcp.
answers() {
	local addr=$1 host port
	host=${addr%:*}
	port=${addr##*:}
	host=${host#[}
	host=${host%]}
	[[ -n $host && -n $port && $host != "$addr" ]] || return 1
	if command -v redis-cli >/dev/null 2>&1; then
		[[ $(timeout 2 redis-cli -h "$host" -p "$port" ping 2>/dev/null) == PONG ]]
		return
	fi
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "PING\r\n" >&3
		IFS= read -r reply <&3 || exit 1
		[[ $reply == "+PONG"* ]]
	' _ "$host" "$port" 2>/dev/null
}

# in_use PORT succeeds when something on 127.0.0.1 accepts connections there.
in_use() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

redis_pid=""
redis_dir=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [[ -n $redis_pid ]]; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	if [[ -n $redis_dir ]]; then
		rm -rf "$redis_dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_redis starts redis-server on the first free port from 6399 on and sets
# addr; it fails when none came up.
start_redis() {
	local port deadline
	redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/mmq-test-redis.XXXXXX")
	for port in $(seq 6399 6449); do
		in_use "$port" && continue
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no --dir "$redis_dir" --logfile "$redis_dir/redis.log" &
		redis_pid=$!
		deadline=$((SECONDS + 10))
		while ((SECONDS < deadline)); do
			if answers "127.0.0.1:$port"; then
				addr=127.0.0.1:$port
				return 0
			fi
			kill -0 "$redis_pid" 2>/dev/null || break # lost the port to someone; next one
			sleep 0.1
		done
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
		redis_pid=""
		log "redis-server on port $port did not answer within 10s; log: $(tail -n 3 "$redis_dir/redis.log" 2>/dev/null | tr '\n' ' ')"
	done
	return 1
}

addr=""
named=""
for var in MMQ_TEST_REDIS_ADDR MMQ_REDIS_ADDR; do
	[[ -n ${!var:-} ]] || continue
	if answers "${!var}"; then
		addr=${!var}
		log "using Redis at $addr (from \$$var)"
		break
	fi
	named=$var
	log "\$$var=${!var} does not answer PING"
done

# An address that was named but is dead says "not the default one": then start
# a private redis-server rather than write into whatever listens on 6379.
if [[ -z $addr && -n $named ]]; then
	log "not trying $default_addr: \$$named names another Redis"
elif [[ -z $addr ]] && answers "$default_addr"; then
	addr=$default_addr
	log "using Redis at $addr (already running)"
fi

if [[ -z $addr ]] && command -v redis-server >/dev/null 2>&1; then
	if start_redis; then
		log "using Redis at $addr (redis-server pid $redis_pid started for this run, no persistence, stopped at exit)"
	else
		log "could not start redis-server on any port in 6399-6449"
	fi
fi

if [[ -n $addr ]]; then
	export MMQ_TEST_REDIS_ADDR=$addr
elif [[ -n ${CI:-} ]]; then
	log "ERROR: no Redis answers (MMQ_TEST_REDIS_ADDR, MMQ_REDIS_ADDR, $default_addr) and redis-server is not on PATH or would not start."
	log "ERROR: CI is set, so tests may not fall back to the embedded miniredis. Install redis-server (apt-get install redis-server)."
	exit 1
else
	export MMQ_TEST_EMBEDDED=1
	cat >&2 <<EOF
test-redis: using NO real Redis: tests fall back to the EMBEDDED miniredis
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!! No Redis answers at \$MMQ_TEST_REDIS_ADDR, \$MMQ_REDIS_ADDR or $default_addr,
!!! and redis-server is not on PATH (or would not start).
!!! Tests fall back to the EMBEDDED in-memory miniredis. It is not Redis:
!!! passing here is no proof against a real server.
!!! Fix: apt-get install redis-server, or set MMQ_TEST_REDIS_ADDR.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
EOF
fi

rc=0
"$@" || rc=$?
exit "$rc"
