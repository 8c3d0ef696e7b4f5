#!/usr/bin/env bash
# A real Restate server (npm @restatedev/restate-server, pinned) and the Restate TypeScript SDK
# (npm @restatedev/restate-sdk, pinned), for the tests that run kafka-ingress against Restate's
# HTTP ingress. Installs both into $KAFKA_INGRESS_CACHE (default ~/.cache/kafka-ingress) once,
# copies the test service endpoint (testkit/restate-endpoint/) next to them, and prints the
# install directory as the last line. In it:
#   bin/restate-server  -> the restate-server binary (the npm package's per-platform binary)
#   endpoint.mjs        -> `PORT=9080 node endpoint.mjs` serves the Counter and Svc services
#
#   scripts/restate-server.sh                          # server 1.7.12, SDK 1.17.2
#   RESTATE_SERVER_VERSION=1.7.12 RESTATE_SDK_VERSION=1.17.2 scripts/restate-server.sh
set -euo pipefail

version="${RESTATE_SERVER_VERSION:-1.7.12}"
sdk_version="${RESTATE_SDK_VERSION:-1.17.2}"
cache="${KAFKA_INGRESS_CACHE:-$HOME/.cache/kafka-ingress}"
dir="$cache/restate-$version"
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/testkit/restate-endpoint"

die() { echo "restate-server.sh: error: $*" >&2; exit 1; }
log() { echo "restate-server.sh: $*" >&2; }

command -v node >/dev/null 2>&1 || die "node is needed (Node.js 20 or newer)"
command -v npm >/dev/null 2>&1 || die "npm is needed to install @restatedev/restate-server (Node.js 20 or newer)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 20 ]] || die "Node.js 20 or newer is needed, found $(node --version)"
[[ -f "$src/endpoint.mjs" ]] || die "missing $src/endpoint.mjs"

# The npm package's `restate-server` bin is a node wrapper that spawns the binary from the
# optional dependency @restatedev/restate-server-<platform>-<arch>; we call the binary itself
# (no node process in between, signals reach the server directly).
platform="$(node -p 'process.platform + "-" + process.arch')"
bin="$dir/node_modules/@restatedev/restate-server-$platform/bin/restate-server"
sdk_pkg="$dir/node_modules/@restatedev/restate-sdk/package.json"

installed() {
  [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -qx "restate-server $version" \
    && [[ -f "$sdk_pkg" ]] \
    && [[ "$(node -p 'require(process.argv[1]).version' "$sdk_pkg")" == "$sdk_version" ]]
}

if ! installed; then
  log "installing @restatedev/restate-server@$version and @restatedev/restate-sdk@$sdk_version from npm into $dir"
  mkdir -p "$dir"
  npm install --no-audit --no-fund --loglevel=error --prefix "$dir" \
    "@restatedev/restate-server@$version" "@restatedev/restate-sdk@$sdk_version" >&2
  [[ -x "$bin" ]] || die "npm installed @restatedev/restate-server but there is no binary at $bin (is $platform supported?)"
  installed || die "the installed restate-server or SDK is not the expected version ($version, SDK $sdk_version)"
fi

mkdir -p "$dir/bin"
ln -sfn "$bin" "$dir/bin/restate-server"
# Always copy: the endpoint source lives in the repository and may have changed.
cp -f "$src"/*.mjs "$dir/"

log "$("$bin" --version) at $bin"
log "restate-sdk $sdk_version, endpoint: $dir/endpoint.mjs"
echo "$dir"
