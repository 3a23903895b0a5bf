#!/usr/bin/env bash
# scripts/redis-topologies.sh start|stop|env: a throwaway Redis Cluster
# (3 primaries) and a Sentinel setup (primary, replica, one sentinel) on
# loopback ports, for `make test-topologies`. Nothing is persisted; `stop`
# removes everything. `env` prints the variables the tests read.
set -euo pipefail

dir=${MMQ_TOPOLOGY_DIR:-/tmp/mmq-redis-topologies}
cluster_ports=(7101 7102 7103)
primary=7111
replica=7112
sentinel=7121
master=mmqmaster

log() { printf '== topologies: %s\n' "$*" >&2; }
cli() { timeout 5 redis-cli -p "$1" "${@:2}"; }
up() { [[ $(cli "$1" ping 2>/dev/null) == PONG ]]; }
wait_for() { # description, command...
	local what=$1
	shift
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	log "$what: not ready after 10s"
	return 1
}
server() { # port, extra args...
	local port=$1
	shift
	mkdir -p "$dir/$port"
	redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
		--dir "$dir/$port" --logfile "$dir/$port/redis.log" --pidfile "$dir/$port/redis.pid" "$@"
	wait_for "redis on $port" up "$port"
}

start() {
	command -v redis-server >/dev/null || { log "redis-server is not installed"; exit 1; }
	stop
	mkdir -p "$dir"
	for p in "${cluster_ports[@]}"; do
		server "$p" --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 2000
	done
	local nodes=()
	for p in "${cluster_ports[@]}"; do nodes+=("127.0.0.1:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log"
	cluster_ok() { cli "${cluster_ports[0]}" cluster info | grep -q 'cluster_state:ok'; }
	wait_for "cluster state ok" cluster_ok

	server "$primary"
	server "$replica" --replicaof 127.0.0.1 "$primary"
	mkdir -p "$dir/$sentinel"
	cat >"$dir/$sentinel/sentinel.conf" <<CONF
port $sentinel
bind 127.0.0.1
daemonize yes
dir $dir/$sentinel
logfile $dir/$sentinel/sentinel.log
pidfile $dir/$sentinel/sentinel.pid
sentinel monitor $master 127.0.0.1 $primary 1
sentinel down-after-milliseconds $master 1000
sentinel failover-timeout $master 5000
CONF
	redis-server "$dir/$sentinel/sentinel.conf" --sentinel
	sentinel_ok() { cli "$sentinel" sentinel get-master-addr-by-name "$master" | grep -q "$primary"; }
	wait_for "sentinel knows the primary" sentinel_ok
	log "cluster on ${cluster_ports[*]}, sentinel on $sentinel (master $master: $primary, replica $replica)"
}

stop() {
	for pidfile in "$dir"/*/*.pid; do
		[[ -f $pidfile ]] || continue
		kill "$(cat "$pidfile")" 2>/dev/null || true
	done
	sleep 0.3
	rm -rf "$dir"
}

env_vars() {
	local nodes=()
	for p in "${cluster_ports[@]}"; do nodes+=("127.0.0.1:$p"); done
	echo "MMQ_TEST_REDIS_CLUSTER=$(IFS=,; echo "${nodes[*]}")"
	echo "MMQ_TEST_REDIS_SENTINEL=127.0.0.1:$sentinel"
	echo "MMQ_TEST_REDIS_SENTINEL_MASTER=$master"
}

case ${1:-} in
start) start ;;
stop) stop ;;
env) env_vars ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
