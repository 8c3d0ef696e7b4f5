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
#            time (utime + stime) for the backlog (the notes under the table give its kernel
#            part, stime), and peak RSS is the ingress process's alone.
#   restate-vo, restate-service  the peer: Restate's own Kafka ingress (restate-server 1.7.12
#            from npm, scripts/restate-server.sh) delivering the same kind of backlog
#            (BENCH_RESTATE_RECORDS, default 20 000: it is about 10x slower) to a Restate TS SDK
#            endpoint whose handlers only count (testkit/restate-endpoint/); cpu us/event and
#            peak RSS are the restate-server process's. On by default when node and npm are
#            installed; BENCH_RESTATE=0 turns it off.
# The last thing printed is a markdown table.
#
# Environment: BENCH_RECORDS (500000), BENCH_PARTITIONS (8), BENCH_KEYS (1000),
# BENCH_LATENCY_RECORDS (10000), BENCH_LATENCY_RATE (1000 records/s), BENCH_OPTIONS (extra
# subscription options for both scenarios, `name=value,...`; defaults otherwise),
# BENCH_CALLGRIND=1 instead runs each -proc row's ingress under valgrind's callgrind twice
# (BENCH_RECORDS and twice that) and prints the instructions per event: the difference of
# the two runs' totals over the difference in records, so start-up cancels out (stable where
# CPU time is not; this VM has no hardware counters for perf; try BENCH_RECORDS=10000),
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

RESTATE_RECORDS="${BENCH_RESTATE_RECORDS:-20000}"
[[ "$RESTATE_RECORDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RESTATE_RECORDS must be a positive number, got: $RESTATE_RECORDS"
default_scenarios="service vo service-h2c vo-h2c service-proc vo-proc"
if [[ "${BENCH_RESTATE:-1}" != 0 ]] && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  default_scenarios="$default_scenarios restate-vo restate-service"
fi
SCENARIOS="${BENCH_SCENARIOS:-$default_scenarios}"
for s in $SCENARIOS; do
  case "$s" in service|vo|service-h2c|vo-h2c|service-proc|vo-proc|service-h2c-proc|vo-h2c-proc|restate-vo|restate-service) ;;
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
BINARY="${BENCH_BINARY:-$TARGET_DIR/release/kafka-ingress}"  # BENCH_BINARY: another build to compare
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
  if [[ "${BENCH_CALLGRIND:-0}" == 1 && "$1" == *-proc ]]; then
    callgrind_scenario "$@"
    return
  fi
  run_scenario "$@"
}

# callgrind_scenario <name> <sink> <keys>: the -proc row twice under callgrind.
callgrind_scenario() {
  command -v valgrind >/dev/null || die "BENCH_CALLGRIND=1 needs valgrind (apt-get install valgrind)"
  local name="$1" base="$RECORDS" small big
  RECORDS="$base" run_scenario "$@"
  small="$(field "$name" instructions_total)"
  cp "$WORK/$name.out" "$WORK/$name.small.out"
  RECORDS=$((2 * base)) run_scenario "$@"
  big="$(field "$name" instructions_total)"
  [[ "$small" -gt 0 && "$big" -gt "$small" ]] || die "$name: callgrind totals $small / $big"
  echo "instructions_per_event=$(( (big - small) / base ))" >>"$WORK/$name.out"
  log "$name: $((small / 1000000)) M instructions for $base records, $((big / 1000000)) M for $((2 * base)): $(( (big - small) / base )) per event"
}

run_scenario() {
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

# CPU seconds (utime + stime) and VmHWM (MiB) of a process.
proc_cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
proc_hwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# restate_scenario <name> <Service/handler> <keys>: Restate 1.7.12's Kafka ingress as the peer.
restate_scenario() {
  local name="$1" target="$2" keys="$3" topic="bench-ingress-$1-$$-$RANDOM"
  local dir="$WORK/$name" rdir admin_port ingress_port node_port ep_port stats_port
  mkdir -p "$dir"
  rdir="$("$ROOT/scripts/restate-server.sh" 2>"$dir/install.log" | tail -1)" \
    || { cat "$dir/install.log" >&2; die "$name: scripts/restate-server.sh failed"; }
  log "$name: producing $RESTATE_RECORDS records to $topic ($PARTITIONS partitions, $keys keys)"
  "$BENCH" produce "$BOOTSTRAP" "$topic" "$RESTATE_RECORDS" "$PARTITIONS" "$keys" \
    >"$dir/produce" 2>&1 || { tail -20 "$dir/produce" >&2; die "$name: producing failed"; }
  admin_port="$(pick_port)"; ingress_port=$((admin_port + 1)); node_port=$((admin_port + 2))
  ep_port="$(pick_port)"; stats_port="$(pick_port)"
  (cd "$rdir" && PORT="$ep_port" STATS_PORT="$stats_port" exec node endpoint.mjs) >"$dir/endpoint.log" 2>&1 &
  local ep_pid=$!
  printf '[[ingress.kafka-clusters]]\nname = "bench"\nbrokers = ["PLAINTEXT://%s"]\n' "$BOOTSTRAP" >"$dir/restate.toml"
  RESTATE_ADMIN__BIND_ADDRESS="127.0.0.1:$admin_port" RESTATE_INGRESS__BIND_ADDRESS="127.0.0.1:$ingress_port" \
    RESTATE_BIND_ADDRESS="127.0.0.1:$node_port" RESTATE_ADVERTISED_ADDRESS="http://127.0.0.1:$node_port/" \
    RESTATE_LISTEN_MODE=tcp RESTATE_DISABLE_TELEMETRY=true RESTATE_LOG_DISABLE_ANSI_CODES=true \
    "$rdir/bin/restate-server" --config-file "$dir/restate.toml" --base-dir "$dir/data" --node-name n1 --no-logo \
    >"$dir/restate.log" 2>&1 &
  local rs_pid=$!
  local admin="http://127.0.0.1:$admin_port" i
  for i in $(seq 1 300); do
    curl -sf -o /dev/null "$admin/deployments" -H 'content-type: application/json' \
      -d "{\"uri\": \"http://127.0.0.1:$ep_port\"}" && break
    kill -0 "$rs_pid" 2>/dev/null || { tail -20 "$dir/restate.log" >&2; die "$name: restate-server exited"; }
    kill -0 "$ep_pid" 2>/dev/null || { tail -20 "$dir/endpoint.log" >&2; die "$name: the SDK endpoint exited"; }
    sleep 0.2
  done
  [[ $i -lt 300 ]] || { tail -20 "$dir/restate.log" >&2; die "$name: could not register the endpoint with Restate"; }
  local cpu0 t0 stats count first last
  cpu0="$(proc_cpu "$rs_pid")"
  t0="$(date +%s.%N)"
  curl -sf -o "$dir/subscription" "$admin/subscriptions" -H 'content-type: application/json' \
    -d "{\"source\": \"kafka://bench/$topic\", \"sink\": \"service://$target\", \"options\": {\"auto.offset.reset\": \"earliest\"}}" \
    || { tail -20 "$dir/restate.log" >&2; die "$name: creating the Restate subscription failed"; }
  log "$name: Restate's Kafka ingress delivering to $target"
  local join=""
  while :; do
    stats="$(curl -sf "http://127.0.0.1:$stats_port/" || echo "0 0 0")"
    read -r count first last <<<"$stats"
    [[ -z "$join" && "$count" -gt 0 ]] && join="$(echo "$(date +%s.%N) - $t0" | bc -l)"
    [[ "$count" -ge "$RESTATE_RECORDS" ]] && break
    kill -0 "$rs_pid" 2>/dev/null || { tail -20 "$dir/restate.log" >&2; die "$name: restate-server exited"; }
    (( $(echo "$(date +%s.%N) - $t0 > 1800" | bc -l) )) && die "$name: $count of $RESTATE_RECORDS after 30 min"
    sleep 0.05
  done
  local cpu1 hwm secs
  cpu1="$(proc_cpu "$rs_pid")"
  hwm="$(proc_hwm "$rs_pid")"
  kill "$rs_pid" "$ep_pid" 2>/dev/null || true
  wait "$rs_pid" "$ep_pid" 2>/dev/null || true
  secs="$(echo "($last - $first) / 1000000" | bc -l)"
  printf 'records=%s secs=%.3f eps=%.0f join_secs=%.3f p50_ms=- p99_ms=- peak_rss_mib=%s cpu_us_per_event=%.1f\n' \
    "$RESTATE_RECORDS" "$secs" "$(echo "$RESTATE_RECORDS / $secs" | bc -l)" "$join" "$hwm" \
    "$(echo "($cpu1 - $cpu0) * 1000000 / $RESTATE_RECORDS" | bc -l)" >"$WORK/$name.out"
  log "$name: $(cat "$WORK/$name.out")"
}

field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$WORK/$1.out" | tail -1; }

for name in $SCENARIOS; do
  case "$name" in
    restate-vo) restate_scenario "$name" BenchObject/hit "$KEYS" ;;
    restate-service) restate_scenario "$name" BenchService/hit 0 ;;
    vo*) scenario "$name" "${name%-proc}" "$KEYS" ;;
    *) scenario "$name" "${name%-proc}" 0 ;;
  esac
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
    restate-vo) echo "Restate 1.7.12's Kafka ingress -> TS SDK virtual object, $KEYS keys ($RESTATE_RECORDS records)" ;;
    restate-service) echo "Restate 1.7.12's Kafka ingress -> TS SDK service ($RESTATE_RECORDS records)" ;;
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
[[ " $SCENARIOS " == *" restate-"* ]] && echo "Restate rows: the same topic layout with $RESTATE_RECORDS records;" \
  "CPU and peak RSS of the restate-server process (its SDK endpoint is a separate node process); no latency phase."
for name in $SCENARIOS; do
  h="$(field "$name" handler_cpu_us_per_event)"
  [[ -n "$h" ]] && echo "$name: handler process CPU $h us/event"
  k="$(field "$name" sys_us_per_event)"
  [[ -n "$k" ]] && echo "$name: of the ingress CPU, in the kernel (stime): $k us/event"
  i="$(field "$name" instructions_per_event)"
  [[ -n "$i" ]] && echo "$name: ingress instructions per event (callgrind, the difference of two backlogs): $i"
done
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the broker, the producer and the handler share the machine with the ingress)."
