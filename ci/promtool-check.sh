#!/usr/bin/env bash
# Validates the observability files with promtool (Debian/Ubuntu: `apt-get install prometheus`;
# or the promtool binary from a Prometheus release). Without promtool on PATH it says so and
# exits 0, so it can run as an optional CI step; set PROMTOOL_REQUIRED=1 to make that fatal.
#   ci/promtool-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: skipping promtool checks" >&2
  [ "${PROMTOOL_REQUIRED:-0}" = "1" ] && exit 1
  exit 0
fi

export PATH="$PWD/node_modules/.bin:$PATH"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
node ci/promtool-inputs.ts "$work"

echo "== promtool check rules (alert rules)"
promtool check rules ci/alerts/*.rules.yml
echo "== promtool check rules (dashboard queries as recording rules)"
promtool check rules "$work/dashboard.rules.yml"
echo "== promtool check config (deploy/prometheus.yml, rule_files pointed at ci/alerts)"
promtool check config --syntax-only deploy/prometheus.yml
promtool check config "$work/prometheus.yml"
echo "== promtool check metrics (sample exposition of every orchqueue_ series)"
promtool check metrics < "$work/metrics.prom"
echo "promtool checks passed"
