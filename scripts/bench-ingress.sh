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
#   run-process  the same, with the real kafka-ingress binary (release) and the no-op handler
#            each in its own process (the "-proc" scenarios): the deployment and subscription
#            are created over the admin API; cpu us/event is the ingress process's own CPU
#            time (utime + stime) for the backlog, and peak RSS is the ingress process's alone.
# The last thing printed is a markdown table.
#
# Environment: BENCH_RECORDS (500000), BENCH_PARTITIONS (8), BENCH_KEYS (1000),
# BENCH_LATENCY_RECORDS (10000), BENCH_LATENCY_RATE (1000 records/s), BENCH_OPTIONS (extra
# subscription options for both scenarios, `name=value,...`; defaults otherwise),
# BENCH_KEEP_DIR=1 keeps the temporary directory (broker data and logs),
# BENCH_SCENARIOS (default "service vo service-h2c vo-h2c service-proc vo-proc").
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

SCENARIOS="${BENCH_SCENARIOS:-service vo service-h2c vo-h2c service-proc vo-proc}"
for s in $SCENARIOS; do
  case "$s" in service|vo|service-h2c|vo-h2c|service-proc|vo-proc|service-h2c-proc|vo-h2c-proc) ;;
    *) die "unknown scenario in BENCH_SCENARIOS: $s" ;;
  esac
done

log "building the release example and binary"
(cd "$ROOT" && cargo build --release -q -p ingress --example bench_ingress && cargo build --release -q -p admin --bin kafka-ingress) \
  || die "cargo build --release failed"
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$TARGET_DIR" ]] || TARGET_DIR="$ROOT/target"
BENCH="$TARGET_DIR/release/examples/bench_ingress"
[[ -x "$BENCH" ]] || die "release example not found: $BENCH"
BINARY="$TARGET_DIR/release/kafka-ingress"
[[ -x "$BINARY" ]] || die "release binary not found: $BINARY"

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
  if [[ "$name" == *-proc ]]; then
    log "$name: running kafka-ingress and the handler, each in its own process"
    "$BENCH" run-process "$BINARY" "$BOOTSTRAP" "$topic" "$RECORDS" "$PARTITIONS" "$keys" "$sink" "$LAT_RECORDS" "$LAT_RATE" \
      >"$WORK/$name.out" 2>"$WORK/$name.err" || { tail -20 "$WORK/$name.err" >&2; die "$name: run failed"; }
  else
    log "$name: running the engine"
    "$BENCH" run "$BOOTSTRAP" "$topic" "$RECORDS" "$PARTITIONS" "$keys" "$sink" "$LAT_RECORDS" "$LAT_RATE" \
      >"$WORK/$name.out" 2>"$WORK/$name.err" || { tail -20 "$WORK/$name.err" >&2; die "$name: run failed"; }
  fi
  log "$name: $(tail -1 "$WORK/$name.out")"
}

field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$WORK/$1.out" | tail -1; }

for name in $SCENARIOS; do
  sink="${name%-proc}"
  if [[ "$sink" == vo* ]]; then scenario "$name" "$sink" "$KEYS"; else scenario "$name" "$sink" 0; fi
done

label() {
  case "$1" in
    service) echo "service sink (parallel, max-in-flight 100/partition), HTTP/1.1, handler in the engine's process" ;;
    vo) echo "virtual-object sink, $KEYS keys (one in flight per key), HTTP/1.1, handler in the engine's process" ;;
    service-h2c) echo "service sink, HTTP/2 (h2c), handler in the engine's process" ;;
    vo-h2c) echo "virtual-object sink, $KEYS keys, HTTP/2 (h2c), handler in the engine's process" ;;
    service-proc) echo "**kafka-ingress binary**, service sink, HTTP/1.1, handler in its own process" ;;
    vo-proc) echo "**kafka-ingress binary**, virtual-object sink, $KEYS keys, HTTP/1.1, handler in its own process" ;;
    service-h2c-proc) echo "**kafka-ingress binary**, service sink, h2c, handler in its own process" ;;
    vo-h2c-proc) echo "**kafka-ingress binary**, virtual-object sink, $KEYS keys, h2c, handler in its own process" ;;
  esac
}

MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo
echo "$RECORDS records x 100 B per scenario in $PARTITIONS partitions; $(nproc) cores, ${MODEL:-unknown CPU}; $BROKER_DESC"
echo
echo "| scenario | events/s | ingress CPU us/event | p50 ms | p99 ms | peak RSS MiB | group join s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in $SCENARIOS; do
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$name")" "$(field "$name" eps)" \
    "$(field "$name" cpu_us_per_event)" "$(field "$name" p50_ms)" "$(field "$name" p99_ms)" \
    "$(field "$name" peak_rss_mib)" "$(field "$name" join_secs)"
done
echo
echo "events/s: backlog records / (last - first request at the handler). Ingress CPU: utime + stime" \
  "of the ingress process for the backlog / records (in-process rows: engine + handler together)." \
  "Peak RSS: VmHWM of the ingress process (in-process rows: engine + handler). Latency:" \
  "$LAT_RECORDS records produced at $LAT_RATE/s while the ingress runs, handler receive time - kafka.timestamp."
for name in $SCENARIOS; do
  h="$(field "$name" handler_cpu_us_per_event)"
  [[ -n "$h" ]] && echo "$name: handler process CPU $h us/event"
done
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the broker, the producer and the handler share the machine with the ingress)."
