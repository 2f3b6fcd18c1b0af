#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the shipped Prometheus assets (deploy/prometheus/): the scrape config and the rules pass
# promtool, every alert has a runbook and a unit test that passes, and every dashboard query parses.
# Usage: check_prometheus_assets.sh PROMTOOL JQ DEPLOY_PROMETHEUS_DIR
set -euo pipefail
promtool=$1 jq=$2 dir=$3
rules=$dir/kyc-bridge.rules.yml
tests=$dir/kyc-bridge.rules.test.yml
dashboard=$dir/grafana-dashboard.json
fail() { echo "check_prometheus_assets: $*" >&2; exit 1; }

"$promtool" check config "$dir/prometheus.yml"
"$promtool" check rules --lint-fatal "$rules"
"$promtool" test rules "$tests"

# promtool does not require a runbook or a test per alert; the issue does.
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$rules")
[ -n "$alerts" ] || fail "no alerts in $rules"
[ "$(grep -c '^ *runbook: ' "$rules")" -eq "$(wc -l <<<"$alerts")" ] ||
  fail "every alert in $rules needs annotations.runbook"
for alert in $alerts; do
  grep -q "alertname: $alert\$" "$tests" || fail "$alert has no test in $tests"
  grep -A12 "alertname: $alert\$" "$tests" | grep -q 'exp_labels' ||
    fail "$alert has no firing case in $tests"
  grep -A2 "alertname: $alert\$" "$tests" | grep -q 'exp_alerts: \[\]' ||
    fail "$alert has no case that must not fire in $tests"
done

# The dashboard is valid JSON, and each query parses as PromQL: promtool checks them as
# recording rules, with Grafana's variables replaced by values.
"$jq" -e '.panels | length > 0' "$dashboard" >/dev/null || fail "$dashboard has no panels"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  "$jq" -r '[.panels[].targets[]?.expr] | to_entries[]
            | (.value | gsub("\\$__rate_interval"; "5m") | gsub("\\$instance"; ".*")) as $expr
            | "      - record: dashboard:query_\(.key)\n        expr: \($expr | tojson)"' "$dashboard"
} >"$work/dashboard.rules.yml"
"$promtool" check rules --lint-fatal "$work/dashboard.rules.yml" || fail "a query in $dashboard does not parse"
echo "check_prometheus_assets: OK ($(wc -l <<<"$alerts") alerts tested, $(grep -c 'record:' "$work/dashboard.rules.yml") dashboard queries parse)"
