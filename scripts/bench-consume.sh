#!/usr/bin/env bash
# Consumer throughput: our consumer vs rskafka, librdkafka (kcat) and the Java consumer.
#
#   scripts/bench-consume.sh                  # 5 000 000 records
#   BENCH_RECORDS=500000 scripts/bench-consume.sh
#
# Starts a private Apache Kafka broker (scripts/kafka.sh, on a free port, in a temporary
# directory; stopped on exit), creates a topic with 8 partitions, produces BENCH_RECORDS
# records of 100 bytes once with Kafka's ProducerPerformance, then reads the whole topic with
# each client, one after the other:
#   ours      ingress/examples/bench_consume.rs   (release build; a consumer group, marks done)
#   rskafka   ingress/examples/bench_rskafka.rs   (one PartitionClient per partition, no group)
#   kcat      librdkafka via kcat (Debian package, installed when missing; no group)
#   java      org.apache.kafka.tools.ConsumerPerformance (a consumer group; includes JVM start)
# Each process runs under /usr/bin/time: wall time, user+sys CPU and peak RSS. The last thing
# printed is a markdown table.
#
# Environment: BENCH_RECORDS (default 5000000), BENCH_PARTITIONS (default 8),
# BENCH_KEEP_DIR=1 keeps the temporary directory (broker data and logs), BENCH_BASELINE_BIN=
# <path to an older bench_consume build> adds a row for it (before/after comparisons).
set -euo pipefail

RECORDS="${BENCH_RECORDS:-5000000}"
PARTITIONS="${BENCH_PARTITIONS:-8}"
RECORD_SIZE=100
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KAFKA_SH="$ROOT/scripts/kafka.sh"

die() { echo "bench-consume.sh: error: $*" >&2; exit 1; }
log() { echo "bench-consume.sh: $*" >&2; }

[[ "$RECORDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RECORDS must be a positive number, got: $RECORDS"
[[ "$PARTITIONS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_PARTITIONS must be a positive number, got: $PARTITIONS"

apt_install() {
  # $1 = command, $2 = Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing and there is no apt-get to install $2"
  log "installing $2 (apt-get)"
  if ! apt-get install -y "$2" >/dev/null 2>&1; then
    apt-get update >/dev/null 2>&1 || true
    apt-get install -y "$2" >/dev/null 2>&1 || die "apt-get could not install $2"
  fi
  command -v "$1" >/dev/null 2>&1 || die "$2 installed but $1 is still not on PATH"
}

[[ -x /usr/bin/time ]] || apt_install /usr/bin/time time
apt_install kcat kcat
command -v cargo >/dev/null 2>&1 || die "cargo is not installed"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-consume.XXXXXX")"
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

log "building the release examples (once)"
(cd "$ROOT" && cargo build --release -q -p ingress --example bench_consume --example bench_rskafka) \
  || die "cargo build --release failed"
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$TARGET_DIR" ]] || TARGET_DIR="$ROOT/target"
OURS="$TARGET_DIR/release/examples/bench_consume"
RSKAFKA="$TARGET_DIR/release/examples/bench_rskafka"
[[ -x "$OURS" && -x "$RSKAFKA" ]] || die "release examples not found under $TARGET_DIR/release/examples"

PORT="$(pick_port)"
BOOTSTRAP="$("$KAFKA_SH" start --port "$PORT" --dir "$WORK/broker" | tail -1)"
[[ "$BOOTSTRAP" == *:* ]] || die "kafka.sh start did not print a bootstrap address (got: $BOOTSTRAP)"
TOPIC="bench-$RECORDS-$$"

log "creating $TOPIC ($PARTITIONS partitions) on $BOOTSTRAP"
"$KAFKA_SH" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
  --create --topic "$TOPIC" --partitions "$PARTITIONS" --replication-factor 1 >"$WORK/topic.log" 2>&1 \
  || { cat "$WORK/topic.log" >&2; die "creating the topic failed"; }

log "producing $RECORDS records of $RECORD_SIZE bytes (ProducerPerformance)"
"$KAFKA_SH" run-class org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" \
  --num-records "$RECORDS" --record-size "$RECORD_SIZE" --throughput -1 \
  --producer-props bootstrap.servers="$BOOTSTRAP" acks=1 linger.ms=20 batch.size=262144 \
  compression.type=none >"$WORK/produce.log" 2>&1 \
  || { tail -20 "$WORK/produce.log" >&2; die "producing failed"; }
log "produced: $(tail -1 "$WORK/produce.log")"
# Write the produced segments back now, so the first consumer does not share the machine
# with the kernel's writeback of gigabytes of dirty pages (it ran ~30 % slower otherwise).
sync

# measure <name> <count-file> <cmd...>: runs cmd under /usr/bin/time; stdout to $WORK/<name>.out.
measure() {
  local name="$1"
  shift
  log "consuming with $name"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
    tail -20 "$WORK/$name.err" >&2
    die "$name failed (log: $WORK/$name.err)"
  fi
  log "$name: $(tail -1 "$WORK/$name.time") (wall user sys maxrss-KiB)"
}

# Warm-up, not measured: the first FindCoordinator on a fresh broker creates
# __consumer_offsets, which would otherwise be charged to whichever group client runs first.
log "warm-up: creating the group coordinator (__consumer_offsets)"
"$OURS" "$BOOTSTRAP" "$TOPIC" 1 >"$WORK/warmup.out" 2>&1 \
  || { tail -20 "$WORK/warmup.out" >&2; die "warm-up consumer failed"; }

measure ours "$OURS" "$BOOTSTRAP" "$TOPIC" "$RECORDS"
OURS_COUNT="$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$WORK/ours.out")"
BASELINE_COUNT=""
if [[ -n "${BENCH_BASELINE_BIN:-}" ]]; then
  [[ -x "$BENCH_BASELINE_BIN" ]] || die "BENCH_BASELINE_BIN is not an executable: $BENCH_BASELINE_BIN"
  measure baseline "$BENCH_BASELINE_BIN" "$BOOTSTRAP" "$TOPIC" "$RECORDS"
  BASELINE_COUNT="$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$WORK/baseline.out")"
fi

measure rskafka "$RSKAFKA" "$BOOTSTRAP" "$TOPIC" "$PARTITIONS"
RSKAFKA_COUNT="$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$WORK/rskafka.out")"

# kcat prints one '.' per record (the format has no newline) so the count can be checked.
measure kcat kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -f '.'
KCAT_COUNT="$(wc -c <"$WORK/kcat.out" | tr -d ' ')"

measure java "$KAFKA_SH" run-class org.apache.kafka.tools.ConsumerPerformance \
  --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" --messages "$RECORDS" --hide-header \
  --timeout 60000
# CSV: start, end, MB, MB/s, nMsg, nMsg/s, rebalance ms, fetch ms, fetch MB/s, fetch nMsg/s
JAVA_COUNT="$(grep -E '^[0-9]{4}-' "$WORK/java.out" | tail -1 | cut -d, -f5 | tr -d ' ')"

for pair in "ours:$OURS_COUNT" ${BASELINE_COUNT:+"baseline:$BASELINE_COUNT"} "rskafka:$RSKAFKA_COUNT" "kcat:$KCAT_COUNT" "java:$JAVA_COUNT"; do
  name="${pair%%:*}" count="${pair#*:}"
  [[ "$count" =~ ^[0-9]+$ ]] || die "$name: could not read its record count (see $WORK/$name.out)"
  (( count >= RECORDS )) || die "$name read $count records, expected $RECORDS"
done

row() {
  # row <label> <name> <count>
  local label="$1" name="$2" count="$3" wall user sys rss
  read -r wall user sys rss <"$WORK/$name.time"
  awk -v l="$label" -v n="$count" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v sz="$RECORD_SIZE" 'BEGIN {
    if (w <= 0) w = 0.01
    printf "| %s | %.2f | %.0f | %.1f | %.2f | %.0f |\n", l, w, n / w, n * sz / w / 1e6, u + s, r / 1024
  }'
}

MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo
echo "N = $RECORDS records x $RECORD_SIZE B in $PARTITIONS partitions; $(nproc) cores, ${MODEL:-unknown CPU}; Apache Kafka $("$KAFKA_SH" version), local broker"
echo
echo "| consumer | wall s | records/s | MB/s | CPU s (user+sys) | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|"
row "kafka-ingress \`Consumer\` (group, mark_done)" ours "$OURS_COUNT"
if [[ -n "$BASELINE_COUNT" ]]; then
  row "kafka-ingress \`Consumer\`, baseline binary ($(basename "$BENCH_BASELINE_BIN"))" baseline "$BASELINE_COUNT"
fi
row "rskafka 0.6 \`PartitionClient\` x $PARTITIONS (no group)" rskafka "$RSKAFKA_COUNT"
row "librdkafka $(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9.]*\).*/\1/p') (kcat, no group)" kcat "$KCAT_COUNT"
row "Java consumer $("$KAFKA_SH" version) (ConsumerPerformance, group, incl. JVM start)" java "$JAVA_COUNT"
echo
echo "MB = 10^6 bytes of record values; wall time includes process start-up, connecting and (for groups) joining."
echo "kafka-ingress: $(cat "$WORK/ours.out") (secs from start; first_record_after = group join + offset lookup)"
