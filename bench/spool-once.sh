#!/usr/bin/env bash
# spool-once.sh feeds one real sample of this machine (`zhizhi-agent once`) to bench/spoolsize: bytes per
# sample in the spool and how long the 64 MiB cap lasts at 15 s.
# Usage: bench/spool-once.sh BIN_DIR   (BIN_DIR holds zhizhi-agent and spoolsize)
set -euo pipefail
BIN=${1:?usage: spool-once.sh BIN_DIR}
TMP=$(mktemp -d /tmp/zhizhi-spool.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
umask 077
# `once` only collects; the server and token are not contacted but must be configured.
printf 'zz_ag-aaaaaaaaaaaa_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" >"$TMP/token"
printf 'server: http://127.0.0.1:9\ntoken_file: %s/token\nspool:\n  dir: %s/spool\n' "$TMP" "$TMP" >"$TMP/agent.yaml"
"$BIN/zhizhi-agent" once --config "$TMP/agent.yaml" >"$TMP/once.json"
"$BIN/spoolsize" <"$TMP/once.json"
