#!/usr/bin/env bash
# THE test command: starts a broker unless KAFKA_BOOTSTRAP names one, runs the whole
# workspace's tests against it, stops what it started, exits with the tests' status.
#
#   scripts/test.sh                                   # Apache Kafka from scripts/kafka.sh
#   KAFKA_BROKER=tansu scripts/test.sh                # tansu instead
#   KAFKA_BOOTSTRAP=localhost:19092 scripts/test.sh   # any running broker (Redpanda, ...)
#   KAFKA_VERSION=3.9.1 scripts/test.sh               # another Apache Kafka version
#   scripts/test.sh -p kafka-proto                    # extra arguments go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started_dir=""
started_port=""
cleanup() {
  if [[ -n "$started_dir" ]]; then
    scripts/kafka.sh stop --port "$started_port" --dir "$started_dir" || true
    rm -rf "$started_dir"
  fi
}
trap cleanup EXIT

if [[ -z "${KAFKA_BOOTSTRAP:-}" ]]; then
  port="${KAFKA_TEST_PORT:-19092}"
  while port_in_use "$port" || port_in_use $((port + 1)); do port=$((port + 2)); done
  started_port="$port"
  started_dir="$(mktemp -d "${TMPDIR:-/tmp}/kafka-ingress-test-XXXXXX")"
  KAFKA_BOOTSTRAP="$(scripts/kafka.sh start --broker "${KAFKA_BROKER:-kafka}" --port "$port" --dir "$started_dir" --owner-pid $$ | tail -1)"
  export KAFKA_BOOTSTRAP
fi
# The interop tests run librdkafka (PyPI confluent-kafka) beside our consumer.
if [[ -z "${KAFKA_INGRESS_PYTHON:-}" ]]; then
  KAFKA_INGRESS_PYTHON="$(scripts/python-deps.sh | tail -1)"
fi
export KAFKA_INGRESS_PYTHON
# The Restate-compatibility suite runs Restate's own CLI (npm @restatedev/restate).
if [[ -z "${KAFKA_INGRESS_RESTATE_CLI:-}" ]]; then
  KAFKA_INGRESS_RESTATE_CLI="$(scripts/restate-cli.sh | tail -1)"
fi
export KAFKA_INGRESS_RESTATE_CLI
# The Restate-as-the-sink suite runs a real restate-server and a Restate SDK endpoint (npm).
if [[ -z "${KAFKA_INGRESS_RESTATE_SERVER:-}" ]]; then
  KAFKA_INGRESS_RESTATE_SERVER="$(scripts/restate-server.sh | tail -1)"
fi
export KAFKA_INGRESS_RESTATE_SERVER

echo "test.sh: testing against the broker at $KAFKA_BOOTSTRAP (${KAFKA_BROKER:-kafka})"

# `-p`/`--package` narrows the run to those packages; otherwise the whole workspace runs.
scoped=false
for arg in "$@"; do
  case "$arg" in -p|--package|--package=*) scoped=true ;; esac
done
if $scoped; then
  cargo test "$@"
else
  cargo test --workspace "$@"
fi
