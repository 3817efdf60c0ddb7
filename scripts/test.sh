#!/usr/bin/env bash
# Runs every test of zhizhi on a fresh Debian 12 machine: installs what the tests need, starts the services
# they use, then runs the Go tests. Long fuzzing, soak tests and benchmarks are separate (see Makefile).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:-}"

need_pkgs=()
need() { # need <command or /absolute/file> <debian package>
	case "$1" in
	/*) [ -e "$1" ] || need_pkgs+=("$2") ;;
	*) command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2") ;;
	esac
}
# Packages the tests use, added as the tests that need them land.
while read -r cmd pkg; do
	[ -n "$cmd" ] && need "$cmd" "$pkg"
done < scripts/test-deps.txt

if [ "${#need_pkgs[@]}" -gt 0 ]; then
	echo "== installing: ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

echo "== go vet"
go vet ./...

echo "== go test"
# -race on the packages where goroutines meet (spool, delivery, store, server); the rest without.
race_pkgs=$(go list ./agent/... ./collector/... ./server/... 2>/dev/null | grep -E '/(spool|deliver|store|server)$' || true)
go test -count=1 -timeout 20m ./...
if [ -n "$race_pkgs" ]; then
	echo "== go test -race ($race_pkgs)"
	# shellcheck disable=SC2086
	go test -count=1 -race -timeout 20m $race_pkgs
fi
echo "== all tests passed"
