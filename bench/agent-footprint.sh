#!/usr/bin/env bash
# agent-footprint.sh measures zhizhi-agent's steady RSS and CPU per cycle side by side with Debian's
# prometheus-node-exporter scraped at the same interval, in the same run, plus both stripped binary sizes.
#
# Usage: bench/agent-footprint.sh [MINUTES]        (default 3; env MINUTES, INTERVAL=10, WARMUP=20,
#        BIN_DIR=dir with prebuilt zhizhi and zhizhi-agent to skip the build, KEEP=1 keeps the temp dir,
#        AGENT_ENV="GOGC=50 GOMEMLIMIT=4MiB" sets environment variables for the agent only)
#
# It builds the stripped agent and server, starts `zhizhi up --no-local-agent` on a loopback port, enrolls one
# agent, runs `zhizhi-agent run` at INTERVAL and node_exporter scraped by curl every INTERVAL, then samples
# VmRSS (/proc/PID/status), utime+stime (/proc/PID/stat, clock ticks) and the per-thread scheduler run time
# (/proc/PID/task/*/schedstat, nanoseconds: the ticks are 10 ms coarse) of both every INTERVAL for MINUTES.
set -euo pipefail

MINUTES=${1:-${MINUTES:-3}}
INTERVAL=${INTERVAL:-10}
WARMUP=${WARMUP:-20}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/zhizhi-footprint.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$TMP"; else echo "kept $TMP" >&2; fi
}
trap cleanup EXIT

log() { echo "# $*" >&2; }

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}

wait_http() { # url, what
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$2 did not answer on $1" >&2
	exit 1
}

if [[ ! -x "$NODE_EXPORTER" ]]; then
	log "installing prometheus-node-exporter"
	DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus-node-exporter >/dev/null
fi

BIN=${BIN_DIR:-$TMP/bin}
if [[ -z "${BIN_DIR:-}" ]]; then
	log "building stripped binaries into $BIN"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/zhizhi-agent" ./cmd/zhizhi-agent)
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/zhizhi" ./cmd/zhizhi)
fi

# Server.
SPORT=$(free_port)
"$BIN/zhizhi" up --data "$TMP/data" --listen "127.0.0.1:$SPORT" --no-local-agent >"$TMP/server.out" 2>"$TMP/server.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$SPORT/healthz" "zhizhi up"
TOKEN=$("$BIN/zhizhi" agents add --system footprint --department bench --data "$TMP/data" | awk '/^token:/ {print $2}')
[[ -n "$TOKEN" ]] || { echo "no token from zhizhi agents add" >&2; exit 1; }
umask 077
printf '%s\n' "$TOKEN" >"$TMP/agent.token"
cat >"$TMP/agent.yaml" <<EOF
server: http://127.0.0.1:$SPORT
token_file: $TMP/agent.token
interval: ${INTERVAL}s
spool:
  dir: $TMP/spool
log:
  level: warn
EOF

# Both subjects, started together.
# shellcheck disable=SC2086 # AGENT_ENV is a list of NAME=VALUE words
env ${AGENT_ENV:-} "$BIN/zhizhi-agent" run --config "$TMP/agent.yaml" 2>"$TMP/agent.log" &
APID=$!
PIDS+=($APID)
NPORT=$(free_port)
"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NPORT" 2>"$TMP/node_exporter.log" &
NPID=$!
PIDS+=($NPID)
wait_http "http://127.0.0.1:$NPORT/metrics" "node_exporter"
(
	while :; do
		curl -fsS -o "$TMP/scrape.txt" "http://127.0.0.1:$NPORT/metrics" || true
		sleep "$INTERVAL"
	done
) &
PIDS+=($!)

HZ=$(getconf CLK_TCK)
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# utime+stime in clock ticks (fields 14 and 15; the command name in field 2 has no spaces here).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Resident pages of the process that are anonymous (heap, stacks) and file-backed (the mapped binary).
rss_split() { awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {printf "%.1f anon + %.1f file", a / 1024, f / 1024}' "/proc/$1/status"; }
# Sum of on-CPU nanoseconds over the live threads.
run_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'; }
alive() { kill -0 "$1" 2>/dev/null || { echo "process $1 died; logs in $TMP" >&2; KEEP=1; exit 1; }; }

log "warm-up ${WARMUP}s (agent first cycle has a random delay up to one interval)"
sleep "$WARMUP"
alive "$APID"
alive "$NPID"

STEPS=$((MINUTES * 60 / INTERVAL))
SAMPLES=$TMP/samples.tsv
printf 't\tagent_rss_kib\tagent_ticks\tagent_run_ns\tne_rss_kib\tne_ticks\tne_run_ns\n' >"$SAMPLES"
T0=$(date +%s)
for i in $(seq 0 "$STEPS"); do
	if ((i > 0)); then sleep $((T0 + i * INTERVAL - $(date +%s))) 2>/dev/null || true; fi
	alive "$APID"
	alive "$NPID"
	printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(($(date +%s) - T0))" \
		"$(rss_kib "$APID")" "$(ticks "$APID")" "$(run_ns "$APID")" \
		"$(rss_kib "$NPID")" "$(ticks "$NPID")" "$(run_ns "$NPID")" >>"$SAMPLES"
done

WARNINGS=$(grep -c . "$TMP/agent.log" || true)
A_SPLIT=$(rss_split "$APID")
N_SPLIT=$(rss_split "$NPID")
SERIES=$(grep -vc '^#' "$TMP/scrape.txt" || true)
SCRAPE_BYTES=$(wc -c <"$TMP/scrape.txt")
AGENT_SIZE=$(stat -c %s "$BIN/zhizhi-agent")
NE_SIZE=$(stat -c %s "$NODE_EXPORTER")

echo
echo "agent-footprint: ${MINUTES} min window after ${WARMUP}s warm-up, interval ${INTERVAL}s, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "samples (every ${INTERVAL}s):"
column -t "$SAMPLES"
echo
awk -v hz="$HZ" -v interval="$INTERVAL" -v asize="$AGENT_SIZE" -v nsize="$NE_SIZE" '
NR == 2 { t0 = $1; a0 = $3; an0 = $4; n0 = $6; nn0 = $7; ar0 = $2; nr0 = $5 }
NR > 1  { t = $1; a1 = $3; an1 = $4; n1 = $6; nn1 = $7; ar = $2; nr = $5
          if ($2 > amax) amax = $2; if ($5 > nmax) nmax = $5 }
END {
	cycles = (t - t0) / interval
	ams = (a1 - a0) * 1000 / hz / cycles; nms = (n1 - n0) * 1000 / hz / cycles
	ans = (an1 - an0) / 1e6 / cycles;     nns = (nn1 - nn0) / 1e6 / cycles
	printf "%-34s %14s %16s %8s\n", "", "zhizhi-agent", "node_exporter", "ratio"
	printf "%-34s %14.1f %16.1f %8.2f\n", "RSS at window start (MiB)", ar0 / 1024, nr0 / 1024, ar0 / nr0
	printf "%-34s %14.1f %16.1f %8.2f\n", "RSS steady, window end (MiB)", ar / 1024, nr / 1024, ar / nr
	printf "%-34s %14.1f %16.1f %8.2f\n", "RSS max in window (MiB)", amax / 1024, nmax / 1024, amax / nmax
	printf "%-34s %14.2f %16.2f %8.3f\n", "CPU ms per cycle (utime+stime)", ams, nms, (nms > 0 ? ams / nms : 0)
	printf "%-34s %14.2f %16.2f %8.3f\n", "CPU ms per cycle (schedstat)", ans, nns, (nns > 0 ? ans / nns : 0)
	printf "%-34s %14.1f %16.1f %8.2f\n", "stripped binary (MiB)", asize / 1048576, nsize / 1048576, asize / nsize
	printf "cycles in window: %.0f\n", cycles
	printf "targets: RSS <= 10 MiB %s, CPU <= 3 ms/cycle %s, binary <= 8 MiB %s\n", \
		(ar / 1024 <= 10 ? "MET" : "MISSED"), (ams <= 3 && ans <= 3 ? "MET" : "MISSED"), \
		(asize / 1048576 <= 8 ? "MET" : "MISSED")
}' "$SAMPLES"
echo "RSS at the end (MiB): zhizhi-agent $A_SPLIT; node_exporter $N_SPLIT"
echo "agent environment: ${AGENT_ENV:-(none)}"
echo "node_exporter scrape: $SERIES series lines, $SCRAPE_BYTES bytes"
echo "agent log lines at level warn: $WARNINGS"
echo "server's view of the agent (LAST SEEN must not be 'never'):"
"$BIN/zhizhi" agents list --data "$TMP/data" | cut -c1-160
