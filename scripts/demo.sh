#!/usr/bin/env bash
# The quickstart, end to end, on this machine: install and start a local Apache Kafka (KRaft,
# from Maven Central), build and start kafka-ingress and the example handler service, register
# the handler, create a subscription with curl exactly as Restate's docs do, produce keyed
# JSON events, show them arriving in per-key order, then clean up everything it started.
#
#   scripts/demo.sh
#
# Ports (override with env): ADMIN_PORT=9070 HANDLER_PORT=9080 KAFKA_PORT=9092.
# Needs: Rust (cargo), Java 17+ with Maven, python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

ADMIN_PORT="${ADMIN_PORT:-9070}"
HANDLER_PORT="${HANDLER_PORT:-9080}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
EVENTS_PER_KEY="${EVENTS_PER_KEY:-5}"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for tool in cargo curl python3; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
for port in "$ADMIN_PORT" "$HANDLER_PORT" "$KAFKA_PORT"; do
  if port_in_use "$port"; then
    die "port $port is in use; set ADMIN_PORT / HANDLER_PORT / KAFKA_PORT to free ports"
  fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kafka-ingress-demo-XXXXXX")"
ingress_pid=""
handler_pid=""
cleanup() {
  status=$?
  say "cleaning up"
  [[ -n "$ingress_pid" ]] && kill -TERM "$ingress_pid" 2>/dev/null && wait "$ingress_pid" 2>/dev/null || true
  [[ -n "$handler_pid" ]] && kill "$handler_pid" 2>/dev/null && wait "$handler_pid" 2>/dev/null || true
  scripts/kafka.sh stop --port "$KAFKA_PORT" --dir "$work/kafka" >/dev/null 2>&1 || true
  if [[ $status -ne 0 ]]; then
    echo "--- kafka-ingress log (tail) ---"; tail -n 30 "$work/ingress.log" 2>/dev/null || true
    echo "--- handler log (tail) ---"; tail -n 30 "$work/handler.log" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

say "1. install and start Apache Kafka (KRaft) on port $KAFKA_PORT"
bootstrap="$(scripts/kafka.sh start --port "$KAFKA_PORT" --dir "$work/kafka" --owner-pid $$ | tail -1)"
echo "broker at $bootstrap"

say "2. build kafka-ingress"
cargo build --release --locked -p admin
bin="$root/target/release/kafka-ingress"

say "3. start the example handler service (examples/handler/handler.py) on port $HANDLER_PORT"
python3 -u examples/handler/handler.py --port "$HANDLER_PORT" --host 127.0.0.1 >"$work/handler.log" 2>&1 &
handler_pid=$!

say "4. start kafka-ingress (admin API on port $ADMIN_PORT)"
cat >"$work/restate.toml" <<TOML
base-dir = "$work/data"

[admin]
bind-address = "127.0.0.1:$ADMIN_PORT"

[[ingress.kafka-clusters]]
name = "my-cluster"
brokers = ["PLAINTEXT://$bootstrap"]
TOML
cat "$work/restate.toml"
"$bin" --config-file "$work/restate.toml" >"$work/ingress.log" 2>&1 &
ingress_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "localhost:$ADMIN_PORT/health" >/dev/null 2>&1 && break
  kill -0 "$ingress_pid" 2>/dev/null || die "kafka-ingress exited: $(tail -n 5 "$work/ingress.log")"
  sleep 0.1
done
curl -fsS "localhost:$ADMIN_PORT/health"; echo
for _ in $(seq 1 50); do
  curl -fsS "localhost:$HANDLER_PORT/discover" >/dev/null 2>&1 && break
  sleep 0.1
done

say "5. create the topic my-topic (4 partitions)"
scripts/kafka.sh run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
  --create --topic my-topic --partitions 4 --replication-factor 1

say "6. register the handler service"
set -x
curl -sS "localhost:$ADMIN_PORT/deployments" -H 'content-type: application/json' \
  -d "{\"uri\": \"http://localhost:$HANDLER_PORT\"}"
{ set +x; } 2>/dev/null
echo

say "7. create the subscription (as in Restate's docs)"
set -x
curl -sS "localhost:$ADMIN_PORT/subscriptions" -H 'content-type: application/json' \
-d '{
"source": "kafka://my-cluster/my-topic",
"sink": "service://Counter/add",
"options": {"auto.offset.reset": "earliest"}
}'
{ set +x; } 2>/dev/null
echo
curl -sS "localhost:$ADMIN_PORT/subscriptions"; echo

say "8. produce keyed JSON events (key:value)"
keys=(alice bob carol dave)
: >"$work/events.txt"
for i in $(seq 1 "$EVENTS_PER_KEY"); do
  for k in "${keys[@]}"; do echo "$k:$i" >>"$work/events.txt"; done
done
head -n 8 "$work/events.txt"; echo "... ($(wc -l <"$work/events.txt") events)"
scripts/kafka.sh run-class org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$bootstrap" \
  --topic my-topic --property parse.key=true --property key.separator=: <"$work/events.txt"

say "9. watch them arrive at the handler"
expected=$(wc -l <"$work/events.txt")
for _ in $(seq 1 300); do
  got=$(grep -c '^Counter/' "$work/handler.log" || true)
  [[ "$got" -ge "$expected" ]] && break
  sleep 0.1
done
got=$(grep -c '^Counter/' "$work/handler.log" || true)
[[ "$got" -ge "$expected" ]] || die "only $got of $expected events arrived"
grep '^Counter/' "$work/handler.log" | head -n 8
echo "..."

say "10. per-key order: each key's values arrive as produced"
ok=1
for k in "${keys[@]}"; do
  seq_seen=$(grep "^Counter/$k/add " "$work/handler.log" | sed -E 's/.* body=([0-9]+).*/\1/' | tr '\n' ' ')
  echo "$k: $seq_seen"
  [[ "$seq_seen" == "$(seq -s ' ' 1 "$EVENTS_PER_KEY") " ]] || ok=0
done
[[ $ok -eq 1 ]] || die "per-key order violated"
echo "every key in order"

say "11. subscription status"
sub_id=$(curl -sS "localhost:$ADMIN_PORT/subscriptions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["subscriptions"][0]["id"])')
curl -sS "localhost:$ADMIN_PORT/subscriptions/$sub_id/status"; echo

say "demo finished: all $expected events delivered in per-key order"
