#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One entry point for developers and CI on Debian 12:
#   ./dev.sh demo   install what is missing, build, run the demo on embedded Kafka + the Auth0 emulator
#   ./dev.sh test   install what is missing, build, run every test: suites unit, deploy (promtool on
#                   deploy/prometheus/) and integration; `./dev.sh test --suite deploy` runs one
#   ./dev.sh build  install what is missing and build
#   ./dev.sh bench  build and run the benchmarks (figures in README's Performance section)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
BUILD=${KYC_BRIDGE_BUILD_DIR:-$ROOT/build}

PACKAGES=(g++ meson ninja-build pkg-config cmake
  librdkafka-dev libssl-dev libsqlite3-dev libsqlitecpp-dev nlohmann-json3-dev prometheus-cpp-dev libcivetweb-dev
  libspdlog-dev libgtest-dev libgmock-dev libcurl4-openssl-dev libtomlplusplus-dev libcli11-dev
  libcpp-httplib-dev prometheus kcat jq curl)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "dev.sh: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "dev.sh: missing packages; run as root:"
    echo "  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
}

build() {
  install_missing
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" --buildtype=debugoptimized
  fi
  ninja -C "$BUILD" -j"$(nproc)"
}

run_tests() {
  build
  # Unit tests first (fast), then the integration tests that start real processes.
  local code=0
  meson test -C "$BUILD" --print-errorlogs --num-processes 1 "$@" | tee "$BUILD/dev-test.out" || code=$?
  local ok fail
  ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$BUILD/dev-test.out" | tail -1)
  fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$BUILD/dev-test.out" | tail -1)
  echo "tests: ${ok:-0} passed, ${fail:-0} failed"
  return $code
}

wait_for_file() {  # path, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "dev.sh: timed out waiting for $1" >&2; return 1
}

demo() {
  build
  local var=$ROOT/var/demo
  rm -rf "$var"; mkdir -p "$var"
  local pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

  echo "== starting the Auth0 emulator"
  "$BUILD/tests/emulator/auth0-emulator" --listen 127.0.0.1:0 --port-file "$var/emulator.port" \
    --client-id demo-client --client-secret demo-secret --roles ROLE_CUSTOMER,ROLE_ADMIN \
    --seed-users "$ROOT/config/samples/auth0-existing-users.json" >"$var/emulator.log" 2>&1 &
  pids+=($!)
  wait_for_file "$var/emulator.port" 10
  local emu="http://127.0.0.1:$(cat "$var/emulator.port")"

  echo "== starting kyc-bridge run --config config/demo.toml (embedded Kafka)"
  KYC_BRIDGE_AUTH0_BASE_URL=$emu KYC_BRIDGE_STORE_PATH=$var/kyc-bridge.db \
    "$BUILD/src/cli/kyc-bridge" run --config "$ROOT/config/demo.toml" >"$var/daemon.log" 2>&1 &
  local daemon=$!
  pids+=($daemon)
  wait_for_file "$var/kafka-bootstrap.txt" 20
  local bootstrap; bootstrap=$(cat "$var/kafka-bootstrap.txt")
  echo "   embedded Kafka at $bootstrap"

  echo "== publishing config/samples/*.json to customer.kyc_verified"
  for f in "$ROOT"/config/samples/0*.json; do
    local key; key=$(sed -n 's/.*"customer_id" *: *"\([^"]*\)".*/\1/p' "$f" | head -1)
    kcat -P -b "$bootstrap" -t customer.kyc_verified -k "${key:-unknown}" "$f"
    echo "   $(basename "$f") (key ${key:-none})"
  done

  echo "== waiting for the pipeline"
  local i created=0 dead=0
  for ((i = 0; i < 300; i++)); do
    created=$(kcat -C -b "$bootstrap" -t auth.user_created -e -q -f '%k\n' 2>/dev/null | grep -c . || true)
    dead=$(kcat -C -b "$bootstrap" -t customer.kyc_verified.dlq -e -q -f '%k\n' 2>/dev/null | grep -c . || true)
    [ "$created" -ge 2 ] && [ "$dead" -ge 1 ] && break
    sleep 0.2
  done

  echo; echo "== Auth0 users (emulator) with their roles"
  curl -s "$emu/__emulator/users" | jq -r '.[] | "   \(.user_id)  roles=\(.roles | join(","))  customer_id=\(.app_metadata.customer_id // "-")  provisioned_by=\(.app_metadata.provisioned_by // "-")"'
  echo; echo "== emails Auth0 sent"
  curl -s "$emu/__emulator/emails" | jq -r '.[] | "   \(.type) → \(.user_id // .email)"'
  echo; echo "== auth.user_created events"
  kcat -C -b "$bootstrap" -t auth.user_created -e -q -f '   key=%k value=%s\n'
  echo; echo "== rejected events (customer.kyc_verified.dlq, reason in the kyc_bridge_error header)"
  kcat -C -b "$bootstrap" -t customer.kyc_verified.dlq -e -q -f '   key=%k headers=%h\n'
  KYC_BRIDGE_STORE_PATH=$var/kyc-bridge.db KYC_BRIDGE_AUTH0_BASE_URL=$emu \
    "$BUILD/src/cli/kyc-bridge" rejected list --config "$ROOT/config/demo.toml" | sed 's/^/   store: /'
  echo; echo "== jobs in the store (kyc-bridge jobs list): 02 repeats 01's event_id, so the inbox dropped it"
  KYC_BRIDGE_STORE_PATH=$var/kyc-bridge.db KYC_BRIDGE_AUTH0_BASE_URL=$emu \
    "$BUILD/src/cli/kyc-bridge" jobs list --state done --config "$ROOT/config/demo.toml" | sed 's/^/   /'
  echo; echo "== Auth0 calls: $(curl -s "$emu/__emulator/stats" | jq -c '{token_requests, management_requests, by_route}')"
  echo; echo "== metrics (http://127.0.0.1:9464/metrics)"
  curl -s http://127.0.0.1:9464/metrics | grep '^kyc_bridge_' | sed 's/^/   /' || true

  echo; echo "== stopping (SIGTERM)"
  kill -TERM "$daemon"
  local code=0; wait "$daemon" || code=$?
  echo "   kyc-bridge exited with $code; logs in var/demo/"
  [ "$created" -ge 2 ] && [ "$dead" -ge 1 ] && [ "$code" -eq 0 ]
}

case "${1:-}" in
  build) build ;;
  test) shift; run_tests "$@" ;;
  demo) demo ;;
  bench) build; meson test -C "$BUILD" --benchmark --verbose ;;
  *) echo "usage: ./dev.sh demo | test | build | bench" >&2; exit 64 ;;
esac
