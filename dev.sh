#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One entry point for developers and CI on Debian 12:
#   ./dev.sh demo   install what is missing, build, run the demo on embedded Kafka + the Auth0 emulator
#   ./dev.sh test   install what is missing, build, run every test: suites unit, deploy (promtool on
#                   deploy/prometheus/) and integration, then the unit tests again under ASan+UBSan
#                   (build-asan/); `./dev.sh test --suite deploy` runs one suite, without ASan
#   ./dev.sh build  install what is missing and build
#   ./dev.sh bench  build and run the benchmarks (figures in README's Performance section)
#   ./dev.sh fuzz [SECONDS]  build the libFuzzer targets with clang (build-fuzz/) and run each for
#                   SECONDS (60) on a copy of tests/fuzz/corpus/; fails on any finding
#   ./dev.sh test-sanitizers  every test suite built with ASan+UBSan (build-asan/)
#   ./dev.sh test-tsan  the unit tests that run threads (store, provision, http, auth0, core, relay)
#                   under TSan (build-tsan/)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
BUILD=${KYC_BRIDGE_BUILD_DIR:-$ROOT/build}
ASAN_BUILD=$ROOT/build-asan
TSAN_BUILD=$ROOT/build-tsan
FUZZ_BUILD=$ROOT/build-fuzz

PACKAGES=(g++ meson ninja-build pkg-config cmake
  librdkafka-dev libssl-dev libsqlite3-dev libsqlitecpp-dev nlohmann-json3-dev prometheus-cpp-dev libcivetweb-dev
  libspdlog-dev libgtest-dev libgmock-dev libcurl4-openssl-dev libtomlplusplus-dev libcli11-dev
  libcpp-httplib-dev libsystemd-dev prometheus kcat jq curl openssl nodejs
  python3-yaml systemd  # tests/deploy: YAML parsing, systemd-analyze verify|security
  clang libclang-rt-14-dev)  # ./dev.sh fuzz: clang 14 and its libclang_rt.fuzzer

# What the binary needs at run time (deploy/docker/Dockerfile's runtime stage installs the same
# list; tests/deploy/check_deploy_files.py compares them). Installed here too, so that a build
# machine can run what it builds.
mapfile -t RUNTIME_PACKAGES < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$ROOT/deploy/runtime-packages.txt")

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"; do
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

# "N passed, M failed" from a meson test output.
results() {
  [ -f "$1" ] || { echo "not run"; return 0; }
  local ok fail
  ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$1" | tail -1)
  fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$1" | tail -1)
  echo "${ok:-0} passed, ${fail:-0} failed"
}

run_tests() {
  build
  # Unit tests first (fast), then the integration tests that start real processes.
  local code=0
  meson test -C "$BUILD" --print-errorlogs --num-processes 1 "$@" | tee "$BUILD/dev-test.out" || code=$?
  local summary; summary="tests: $(results "$BUILD/dev-test.out")"
  if [ $# -eq 0 ]; then  # a chosen suite or test runs alone
    asan_unit_tests || code=$?
    summary+="; unit tests under ASan+UBSan: $(results "$ASAN_BUILD/dev-test.out")"
  fi
  echo "$summary"
  return $code
}

# --- sanitizers: separate build dirs, every target instrumented (meson.build, -Dsanitizers) ----

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# -O0: half the compile time of -O2 under the sanitizers (5.5 against 14 CPU-minutes for the unit
# tests), and the unit tests run as fast (30 s: they wait on Kafka, not on the CPU).
setup_sanitized() {  # build dir, -Dsanitizers value
  install_missing
  if [ ! -f "$1/build.ninja" ]; then
    meson setup "$1" --buildtype=debug -Dsanitizers="$2"
  fi
}

# The executables of the named unit tests (all of them if none), as ninja targets: meson test
# would rebuild every target first, integration binaries included.
unit_test_targets() {  # build dir, test names...
  local dir=$1; shift
  ninja -C "$dir" build.ninja >/dev/null  # re-reads the meson.build files first: new tests count
  meson introspect --tests "$dir" | jq -r --arg dir "$dir/" --arg names "$*" '
    ($names | split(" ")) as $want
    | .[] | select((.suite | index("kyc-bridge:unit")) and ($want == [] or (.name | IN($want[]))))
    | .cmd[0] | ltrimstr($dir)'
}

asan_unit_tests() {
  setup_sanitized "$ASAN_BUILD" address_undefined
  echo "== unit tests under ASan+UBSan ($ASAN_BUILD)"
  rm -f "$ASAN_BUILD/dev-test.out"
  # shellcheck disable=SC2046  # one ninja target per word
  ninja -C "$ASAN_BUILD" -j"$(nproc)" $(unit_test_targets "$ASAN_BUILD") || return 1
  meson test -C "$ASAN_BUILD" --suite unit --no-rebuild --print-errorlogs --num-processes 1 |
    tee "$ASAN_BUILD/dev-test.out"
}

test_sanitizers() {
  setup_sanitized "$ASAN_BUILD" address_undefined
  ninja -C "$ASAN_BUILD" -j"$(nproc)"
  local code=0
  meson test -C "$ASAN_BUILD" --print-errorlogs --num-processes 1 "$@" | tee "$ASAN_BUILD/dev-test.out" || code=$?
  echo "tests under ASan+UBSan: $(results "$ASAN_BUILD/dev-test.out")"
  return $code
}

# The unit tests that run threads: the store's writer, the provisioner's workers, the HTTP event
# loop, the token cache's fetch thread and the pacer, core's log limiter, the relay's loop. Not
# kafka or app: librdkafka starts its threads with C11 thrd_create, which GCC 12's TSan runtime
# does not intercept, and the first allocation on such a thread crashes TSan (SEGV in its
# allocator).
TSAN_TESTS=(store provision http auth0 core relay)

test_tsan() {
  setup_sanitized "$TSAN_BUILD" thread
  # libcurl and SQLite are not instrumented; their locks are pthread calls TSan intercepts, and no
  # report has needed a suppression yet: tests/sanitizers/tsan.supp says how to add one.
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/sanitizers/tsan.supp}
  # shellcheck disable=SC2046
  ninja -C "$TSAN_BUILD" -j"$(nproc)" $(unit_test_targets "$TSAN_BUILD" "${TSAN_TESTS[@]}") || return 1
  local code=0
  meson test -C "$TSAN_BUILD" --no-rebuild --print-errorlogs --num-processes 1 "${TSAN_TESTS[@]}" |
    tee "$TSAN_BUILD/dev-test.out" || code=$?
  echo "tests under TSan: $(results "$TSAN_BUILD/dev-test.out")"
  return $code
}

# --- fuzzing: libFuzzer under clang, in its own build dir (tests/fuzz/) ----------------------

# target:seed dir under tests/fuzz/corpus/
FUZZ_TARGETS=(fuzz_event:events fuzz_auth0_response:auth0_response fuzz_config:config)

fuzz() {  # seconds per target
  local seconds=${1:-60}
  install_missing
  if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
    CC=clang CXX=clang++ meson setup "$FUZZ_BUILD" --buildtype=debugoptimized -Dfuzzing=true -Dtests=false
  fi
  # The corpus grows while a target runs: each works on a copy, never on tests/fuzz/corpus/.
  local scratch=$ROOT/var/fuzz entry code=0
  rm -rf "$scratch"
  for entry in "${FUZZ_TARGETS[@]}"; do
    fuzz_one "${entry%%:*}" "$ROOT/tests/fuzz/corpus/${entry#*:}" "$scratch/${entry%%:*}" "$seconds" ||
      code=1
  done
  [ $code -eq 0 ] && echo "fuzz: no finding" || echo "fuzz: FINDINGS above; inputs and logs in $scratch/"
  return $code
}

fuzz_one() {  # target, seed dir, work dir, seconds
  local target=$1 seeds=$2 work=$3 seconds=$4
  mkdir -p "$work/corpus" "$work/findings"
  if ! ninja -C "$FUZZ_BUILD" -j"$(nproc)" "tests/fuzz/$target" >"$work/build.log" 2>&1; then
    echo "$target: BUILD FAILED"; grep -m 5 'error' "$work/build.log" | sed 's/^/   /'
    return 1
  fi
  if compgen -G "$seeds/*" >/dev/null; then
    cp "$seeds"/* "$work/corpus/"
  elif [ "$target" = fuzz_event ]; then
    cp "$ROOT"/config/samples/0*.json "$work/corpus/"  # until corpus/events/ has seeds
  fi
  local rc=0
  "$FUZZ_BUILD/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/findings/" "$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?
  local execs finding
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  finding=$(find "$work/findings" -type f | head -1)
  if [ $rc -eq 0 ] && [ -z "$finding" ]; then
    echo "$target: ${execs:-?} executions in ${seconds}s, no finding"
    return 0
  fi
  echo "$target: ${execs:-?} executions, FINDING ${finding:-(exit $rc, no input written)}"
  # The report's first line and our frames of its first stack.
  grep -a -m 1 -E 'runtime error|ERROR: |^fuzz_[a-z0-9_]+: ' "$work/fuzz.log" | sed 's/^/   /' || true
  awk '/runtime error|ERROR: / { p = 1 } p && /^$/ { exit }
       p && /^ +#[0-9]+ .* in kyc_bridge::/ { print "   " $0; if (++n == 4) exit }' "$work/fuzz.log"
  echo "   reproduce: $FUZZ_BUILD/tests/fuzz/$target $finding"
  return 1
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
  fuzz) fuzz "${2:-60}" ;;
  test-sanitizers) shift; test_sanitizers "$@" ;;
  test-tsan) test_tsan ;;
  *) echo "usage: ./dev.sh demo | test | build | bench | fuzz [SECONDS] | test-sanitizers | test-tsan" >&2
     exit 64 ;;
esac
