#!/usr/bin/env bash
# The Python side of the interop tests: a venv with confluent-kafka (librdkafka's Python
# binding; its wheel bundles librdkafka) from PyPI. Only tests use it — the product never
# links librdkafka. Idempotent; prints the venv's python as the last line of stdout.
#
#   scripts/python-deps.sh        # -> ~/.cache/kafka-ingress/pyenv-<version>/bin/python
#
# The test harness finds the interpreter through KAFKA_INGRESS_PYTHON (scripts/test.sh sets it).
set -euo pipefail

CONFLUENT_KAFKA_VERSION="2.16.1"
CACHE="${KAFKA_INGRESS_CACHE:-$HOME/.cache/kafka-ingress}"
VENV="$CACHE/pyenv"

die() { echo "python-deps.sh: error: $*" >&2; exit 1; }
log() { echo "python-deps.sh: $*" >&2; }

# .complete holds the pinned version, so changing the pin rebuilds the venv.
if [[ "$(cat "$VENV/.complete" 2>/dev/null)" == "$CONFLUENT_KAFKA_VERSION" ]] && "$VENV/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is not installed (apt-get install python3 python3-venv)"
log "installing confluent-kafka $CONFLUENT_KAFKA_VERSION from PyPI into $VENV"
mkdir -p "$CACHE"
work="$VENV.tmp.$$"
rm -rf "$work"
python3 -m venv "$work" || { rm -rf "$work"; die "python3 -m venv failed (apt-get install python3-venv)"; }
"$work/bin/pip" install -q --disable-pip-version-check "confluent-kafka==$CONFLUENT_KAFKA_VERSION" \
  || { rm -rf "$work"; die "pip could not install confluent-kafka==$CONFLUENT_KAFKA_VERSION"; }
rm -rf "$VENV"
mv "$work" "$VENV"
# A venv records its own path in its scripts; the interpreter symlink is all we use, and it
# does not depend on the directory name.
"$VENV/bin/python" -c 'import confluent_kafka' || die "confluent_kafka does not import from $VENV"
echo "$CONFLUENT_KAFKA_VERSION" >"$VENV/.complete"
log "confluent-kafka $CONFLUENT_KAFKA_VERSION with librdkafka $("$VENV/bin/python" -c 'import confluent_kafka as c; print(c.libversion()[0])')"
echo "$VENV/bin/python"
