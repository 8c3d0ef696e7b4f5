#!/usr/bin/env bash
# End-to-end engine benchmark: Kafka -> subscription runtime -> no-op HTTP handler.
#
#   scripts/bench-ingress.sh                          # 500 000 records per scenario
#   BENCH_RECORDS=100000 scripts/bench-ingress.sh
#   KAFKA_BOOTSTRAP=127.0.0.1:9092 scripts/bench-ingress.sh   # an already running broker
#
# Starts a private Apache Kafka broker (scripts/kafka.sh, free port, temporary directory,
# stopped on exit) unless KAFKA_BOOTSTRAP names one. Runs two scenarios, each on its own
# topic of BENCH_PARTITIONS partitions and BENCH_RECORDS JSON records of 100 bytes:
#   service      a service sink (parallel, ingress.max-in-flight=100 per partition), no keys
#   vo           a virtual-object sink (one in flight per key), BENCH_KEYS keys (murmur2)
#   service-h2c  the service sink over HTTP/2 with prior knowledge (one multiplexed connection)
#   vo-h2c       the virtual-object sink over HTTP/2 with prior knowledge
# Per scenario, ingress/examples/bench_ingress.rs (release build):
#   produce  creates the topic and writes the backlog (its own process)
#   run      the engine plus a keep-alive HTTP handler in one process that only counts:
#            events/s = backlog records / (last - first request at the handler), group join
#            excluded; then BENCH_LATENCY_RECORDS records produced at BENCH_LATENCY_RATE/s
#            while the engine runs, latency = handler receive time - kafka.timestamp (the
#            produce time; 1 ms timestamp resolution); peak RSS = VmHWM of the run process.
# The last thing printed is a markdown table.
#
# Environment: BENCH_RECORDS (500000), BENCH_PARTITIONS (8), BENCH_KEYS (1000),
# BENCH_LATENCY_RECORDS (10000), BENCH_LATENCY_RATE (1000 records/s), BENCH_OPTIONS (extra
# subscription options for both scenarios, `name=value,...`; defaults otherwise),
# BENCH_KEEP_DIR=1 keeps the temporary directory (broker data and logs).
set -euo pipefail

RECORDS="${BENCH_RECORDS:-500000}"
PARTITIONS="${BENCH_PARTITIONS:-8}"
KEYS="${BENCH_KEYS:-1000}"
LAT_RECORDS="${BENCH_LATENCY_RECORDS:-10000}"
LAT_RATE="${BENCH_LATENCY_RATE:-1000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KAFKA_SH="$ROOT/scripts/kafka.sh"

die() { echo "bench-ingress.sh: error: $*" >&2; exit 1; }
log() { echo "bench-ingress.sh: $*" >&2; }

for v in RECORDS PARTITIONS KEYS LAT_RECORDS LAT_RATE; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number, got: ${!v}"
done
command -v cargo >/dev/null 2>&1 || die "cargo is not installed"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-ingress.XXXXXX")"
PORT=""
cleanup() {
  local rc=$?
  if [[ -n "$PORT" ]]; then
    "$KAFKA_SH" stop --port "$PORT" --dir "$WORK/broker" >/dev/null 2>&1 || true
  fi
  if [[ "${BENCH_KEEP_DIR:-0}" == 1 || $rc -ne 0 ]]; then
    log "kept $WORK (logs)"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if port_free "$p" && port_free "$((p + 1))" && port_free "$((p + 2))"; then
      echo "$p"
      return 0
    fi
  done
  die "no free port pair found in 20000-40000"
}

log "building the release example"
(cd "$ROOT" && cargo build --release -q -p ingress --example bench_ingress) \
  || die "cargo build --release failed"
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$TARGET_DIR" ]] || TARGET_DIR="$ROOT/target"
BENCH="$TARGET_DIR/release/examples/bench_ingress"
[[ -x "$BENCH" ]] || die "release example not found: $BENCH"

if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
  BOOTSTRAP="$KAFKA_BOOTSTRAP"
  BROKER_DESC="the broker at $BOOTSTRAP"
else
  PORT="$(pick_port)"
  BOOTSTRAP="$("$KAFKA_SH" start --port "$PORT" --dir "$WORK/broker" | tail -1)"
  [[ "$BOOTSTRAP" == *:* ]] || die "kafka.sh start did not print a bootstrap address (got: $BOOTSTRAP)"
  BROKER_DESC="Apache Kafka $("$KAFKA_SH" version), local private broker"
fi

# scenario <name> <sink> <keys>: produces, runs, leaves "<name>.out" with the result line.
scenario() {
  local name="$1" sink="$2" keys="$3" topic="bench-ingress-$1-$$-$RANDOM"
  log "$name: producing $RECORDS records to $topic ($PARTITIONS partitions, $keys keys)"
  "$BENCH" produce "$BOOTSTRAP" "$topic" "$RECORDS" "$PARTITIONS" "$keys" \
    >"$WORK/$name.produce" 2>&1 || { tail -20 "$WORK/$name.produce" >&2; die "$name: producing failed"; }
  log "$name: $(tail -1 "$WORK/$name.produce")"
  sync
  log "$name: running the engine"
  "$BENCH" run "$BOOTSTRAP" "$topic" "$RECORDS" "$PARTITIONS" "$keys" "$sink" "$LAT_RECORDS" "$LAT_RATE" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || { tail -20 "$WORK/$name.err" >&2; die "$name: run failed"; }
  log "$name: $(tail -1 "$WORK/$name.out")"
}

field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$WORK/$1.out" | tail -1; }

scenario service service 0
scenario vo vo "$KEYS"
scenario service-h2c service-h2c 0
scenario vo-h2c vo-h2c "$KEYS"

row() {
  # row <label> <name>
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(field "$2" records)" "$(field "$2" secs)" \
    "$(field "$2" eps)" "$(field "$2" p50_ms)" "$(field "$2" p99_ms)" "$(field "$2" peak_rss_mib)"
}

MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo
echo "$RECORDS records x 100 B per scenario in $PARTITIONS partitions; $(nproc) cores, ${MODEL:-unknown CPU}; $BROKER_DESC"
echo
echo "| scenario | records | seconds | events/s | p50 ms | p99 ms | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "service sink (parallel, max-in-flight 100/partition), HTTP/1.1" service
row "virtual-object sink, $KEYS keys (one in flight per key), HTTP/1.1" vo
row "service sink, HTTP/2 (h2c)" service-h2c
row "virtual-object sink, $KEYS keys, HTTP/2 (h2c)" vo-h2c
echo
echo "seconds: first to last request at the handler for the backlog (group join excluded:" \
  "service $(field service join_secs) s, vo $(field vo join_secs) s, service-h2c $(field service-h2c join_secs) s, vo-h2c $(field vo-h2c join_secs) s). Latency: $LAT_RECORDS records" \
  "produced at $LAT_RATE/s while the engine runs, handler receive time - kafka.timestamp." \
  "Peak RSS: VmHWM of the process running the engine and the no-op handler."
echo "Latency p90/max ms: service $(field service p90_ms)/$(field service max_ms)," \
  "vo $(field vo p90_ms)/$(field vo max_ms), service-h2c $(field service-h2c p90_ms)/$(field service-h2c max_ms)," \
  "vo-h2c $(field vo-h2c p90_ms)/$(field vo-h2c max_ms). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" \
  "(the broker, the producer and the handler share the machine with the engine)."
