#!/usr/bin/env bash
# scripts/s3-test-server.sh start|stop|env: a real S3-compatible server for
# the tests of the s3 blob backend: the Versity S3 Gateway (versitygw,
# Apache-2.0, a Go program) serving a temporary directory on 127.0.0.1:7170.
# `start` installs it with `go install` when it is not on PATH (a few
# minutes the first time); `env` prints the MMQ_TEST_S3_* variables the
# tests read. Nothing is kept: `stop` removes the directory.
set -euo pipefail

version=v1.8.0
addr=${MMQ_TEST_S3_ADDR:-127.0.0.1:7170}
dir=${MMQ_TEST_S3_DIR:-/tmp/mmq-s3-test}
access=mmqtest
secret=mmqtestsecret

log() { printf '== s3-test-server: %s\n' "$*" >&2; }

binary() {
	if command -v versitygw >/dev/null 2>&1; then
		command -v versitygw
		return
	fi
	local bin
	bin="$(go env GOPATH)/bin/versitygw"
	if [[ ! -x $bin ]]; then
		log "installing versitygw $version with go install (first time: a few minutes)"
		(cd / && go install "github.com/versity/versitygw/cmd/versitygw@$version") >&2
	fi
	echo "$bin"
}

answers() { curl -s -o /dev/null --max-time 2 "http://$addr/"; }

start() {
	stop
	local bin
	bin=$(binary)
	mkdir -p "$dir/root"
	ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
		nohup "$bin" --port "$addr" posix "$dir/root" >"$dir/versitygw.log" 2>&1 &
	echo $! >"$dir/pid"
	for _ in $(seq 100); do
		answers && break
		sleep 0.1
	done
	if ! answers; then
		log "versitygw did not answer on $addr within 10s:"
		tail -n 20 "$dir/versitygw.log" >&2 || true
		exit 1
	fi
	log "versitygw on $addr ($dir/root)"
}

stop() {
	if [[ -f $dir/pid ]]; then
		kill "$(cat "$dir/pid")" 2>/dev/null || true
		sleep 0.2
	fi
	rm -rf "$dir"
}

case ${1:-} in
start) start ;;
stop) stop ;;
env)
	echo "MMQ_TEST_S3_ENDPOINT=$addr"
	echo "MMQ_TEST_S3_ACCESS_KEY=$access"
	echo "MMQ_TEST_S3_SECRET_KEY=$secret"
	;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
