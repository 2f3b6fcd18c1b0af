#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs `meson install` into a scratch DESTDIR and checks what lands there: the kyc-bridge binary
# (and no other program), the systemd unit naming it, the example config, the Prometheus assets.
# Usage: check_install.sh MESON BUILD_DIR BINDIR DOC_DIR PROMETHEUS_DIR [UNIT_DIR]
# (installed paths are absolute, as meson resolves them; no UNIT_DIR: -Dsystemd=disabled)
# Exit 77 (skipped) when meson or the build dir cannot be used.
set -euo pipefail
meson=$1 build=$2 bindir=$3 docdir=$4 promdir=$5 unitdir=${6:-}
fail() { echo "check_install: $*" >&2; exit 1; }
skip() { echo "check_install: skipped: $*" >&2; exit 77; }

[ -x "$meson" ] || skip "meson not found at $meson"
[ -f "$build/meson-private/install.dat" ] || skip "$build is not a configured meson build dir"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/root
# --no-rebuild: `meson test` has built the binary (the test depends on it); running ninja from
# inside a test would race the build that started it.
"$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "meson install failed"; }

exe=$dest$bindir/kyc-bridge
[ -x "$exe" ] || fail "$bindir/kyc-bridge not installed or not executable"
version=$("$exe" --version) || fail "installed kyc-bridge --version exited non-zero"
[[ $version == "kyc-bridge "* ]] || fail "installed kyc-bridge --version printed '$version'"
others=$(find "$dest$bindir" -mindepth 1 ! -name kyc-bridge)
[ -z "$others" ] || fail "only kyc-bridge belongs in $bindir, found: $others"

[ -s "$dest$docdir/kyc-bridge.toml" ] || fail "example config $docdir/kyc-bridge.toml not installed"
for asset in prometheus.yml kyc-bridge.rules.yml grafana-dashboard.json; do
  [ -s "$dest$promdir/$asset" ] || fail "$promdir/$asset not installed"
done

if [ -n "$unitdir" ]; then
  unit=$dest$unitdir/kyc-bridge.service
  [ -s "$unit" ] || fail "$unitdir/kyc-bridge.service not installed"
  grep -q "^ExecStart=$bindir/kyc-bridge " "$unit" ||
    fail "the installed unit's ExecStart does not name $bindir/kyc-bridge: $(grep '^ExecStart=' "$unit")"
fi
echo "check_install: OK ($version; unit: ${unitdir:-not installed})"
