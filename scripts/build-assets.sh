#!/usr/bin/env bash
# Refreshes the console's vendored front-end assets from npm: installs exactly what web/package-lock.json pins and
# copies Apache ECharts (echarts.min.js, LICENSE, NOTICE) into server/console/static/vendor/, where go:embed picks
# them up. The copied files are committed, so a plain `go build` never needs npm.
#
# To move to a newer ECharts: (cd web && npm install echarts@6 --save-exact), run this script, then
# `go test ./server/console/` (it checks the embedded file against the lock file) and commit both.
set -euo pipefail
cd "$(dirname "$0")/.."

(cd web && npm ci --no-audit --no-fund)

src=web/node_modules/echarts
dst=server/console/static/vendor
mkdir -p "$dst"
install -m 0644 "$src/dist/echarts.min.js" "$dst/echarts.min.js"
install -m 0644 "$src/LICENSE" "$dst/echarts.LICENSE"
install -m 0644 "$src/NOTICE" "$dst/echarts.NOTICE"
version=$(node -p 'require("./web/node_modules/echarts/package.json").version')
echo "copied echarts $version into $dst"
