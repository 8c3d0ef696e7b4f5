#!/usr/bin/env bash
# Restate's own CLI (npm @restatedev/restate, pinned), for the Restate-compatibility tests and
# for users who manage kafka-ingress with it. Installs into $KAFKA_INGRESS_CACHE (default
# ~/.cache/kafka-ingress) once and prints the path of the `restate` command as the last line.
#
#   scripts/restate-cli.sh                       # 1.7.12
#   RESTATE_CLI_VERSION=1.7.12 scripts/restate-cli.sh
set -euo pipefail

version="${RESTATE_CLI_VERSION:-1.7.12}"
cache="${KAFKA_INGRESS_CACHE:-$HOME/.cache/kafka-ingress}"
dir="$cache/restate-cli-$version"
bin="$dir/node_modules/.bin/restate"

if [[ ! -x "$bin" ]] || ! "$bin" --version 2>/dev/null | grep -q "restate-cli $version "; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "restate-cli.sh: npm is needed to install @restatedev/restate (Node.js 18 or newer)" >&2
    exit 1
  fi
  echo "restate-cli.sh: installing @restatedev/restate@$version from npm into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    "@restatedev/restate@$version" >&2
fi
echo "restate-cli.sh: $("$bin" --version)" >&2
echo "$bin"
