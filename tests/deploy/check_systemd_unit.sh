#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks deploy/systemd/kyc-bridge.service with systemd's own tools: `systemd-analyze verify`
# must print nothing (a warning means a directive systemd ignores), and `systemd-analyze security`
# must rate its exposure at most 2.0.
# Usage: check_systemd_unit.sh UNIT [KYC_BRIDGE_BINARY]
# Exit 77 (skipped) when systemd-analyze is not installed.
set -euo pipefail
unit=$1 binary=${2:-/bin/true}
fail() { echo "check_systemd_unit: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "check_systemd_unit: skipped: no systemd-analyze" >&2; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify rejects an ExecStart binary that does not exist, and /usr/local/bin/kyc-bridge is not
# installed here: a copy names the built binary (or /bin/true) instead; nothing else changes.
sed "s|^ExecStart=/usr/local/bin/kyc-bridge |ExecStart=$binary |" "$unit" >"$work/kyc-bridge.service"
[ "$(diff "$unit" "$work/kyc-bridge.service" | grep -c '^>')" -eq 1 ] ||
  fail "expected one ExecStart=/usr/local/bin/kyc-bridge line in $unit"

report=$(systemd-analyze verify "$work/kyc-bridge.service" 2>&1) ||
  fail "systemd-analyze verify failed: $report"
[ -z "$report" ] || fail "systemd-analyze verify warned: $report"

# --threshold counts in tenths: 20 is an exposure of 2.0.
if ! security=$(systemd-analyze security --offline=yes --threshold=20 --no-pager "$unit" 2>&1); then
  echo "$security" | grep '✗' >&2 || true
  fail "$(echo "$security" | grep 'Overall exposure' || echo "$security" | tail -1) (threshold 2.0)"
fi
echo "check_systemd_unit: OK (verify clean; $(echo "$security" | grep -o 'Overall exposure level.*'))"
