#!/usr/bin/env bash
# Builds a static x86_64-unknown-linux-musl release binary of kafka-ingress (rustls on ring,
# no OpenSSL, no glibc) into target/static/kafka-ingress, and proves it is static: `file`,
# the ELF program/dynamic headers (readelf), `ldd`, and running `--version`. Exits non-zero
# with the failed check named.
#
#   scripts/build-static.sh [extra cargo build arguments]
#
# ring compiles some C, which needs a C compiler for musl. In order of preference:
#   1. $CC_x86_64_unknown_linux_musl, if set;
#   2. musl-gcc (Debian/Ubuntu package musl-tools), installed with apt-get when missing
#      (as root, or with non-interactive sudo);
#   3. `zig cc` from the PyPI package ziglang, in a venv under ~/.cache/kafka-ingress.
# KAFKA_INGRESS_MUSL_CC=musl-gcc|zig forces one of the last two. Linking uses the host's
# `cc` with Rust's bundled musl (the target's self-contained mode), so gcc or clang must exist.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-musl
TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT="$TARGET_DIR/static/kafka-ingress"
CACHE=${KAFKA_INGRESS_CACHE:-$HOME/.cache/kafka-ingress}
ZIGLANG_VERSION=0.14.1
MUSL_CC_CHOICE=${KAFKA_INGRESS_MUSL_CC:-auto}

log() { echo "build-static: $*" >&2; }
die() {
  echo "build-static: FAILED: $*" >&2
  exit 1
}

# apt-get install as root or through sudo that needs no password; returns 1 when neither
# is possible, so the caller can try another way.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      return 1
    fi
  fi
  log "installing $* (apt-get)"
  ${sudo[@]+"${sudo[@]}"} apt-get update -qq >/dev/null || return 1
  DEBIAN_FRONTEND=noninteractive ${sudo[@]+"${sudo[@]}"} \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null || return 1
}

# Prints the path of a `zig cc` wrapper that targets x86_64 musl, installing ziglang first.
zig_cc() {
  local venv="$CACHE/ziglang-$ZIGLANG_VERSION"
  local wrapper="$venv/bin/zig-cc-x86_64-linux-musl"
  if [ ! -x "$wrapper" ]; then
    command -v python3 >/dev/null 2>&1 || return 1
    log "installing ziglang $ZIGLANG_VERSION from PyPI into $venv"
    python3 -m venv "$venv" >&2 || return 1
    "$venv/bin/pip" install -q "ziglang==$ZIGLANG_VERSION" >&2 || return 1
    # cc-rs passes --target=<rust triple>, which zig does not parse: drop it, zig gets its own.
    cat >"$wrapper" <<EOF
#!/bin/sh
for arg in "\$@"; do
  shift
  case "\$arg" in --target=*) ;; *) set -- "\$@" "\$arg" ;; esac
done
exec "$venv/bin/python3" -m ziglang cc -target x86_64-linux-musl "\$@"
EOF
    chmod +x "$wrapper"
  fi
  echo "$wrapper"
}

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  die "this script builds and runs an x86_64 Linux binary; this host is $(uname -s) $(uname -m)"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust with rustup)"

# The Rust standard library for the musl target.
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx "$TARGET"; then
    log "adding the Rust target $TARGET"
    rustup target add "$TARGET" || die "rustup target add $TARGET failed"
  fi
elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/$TARGET" ]; then
  die "the Rust target $TARGET is not installed and rustup is not available"
fi

# A C compiler for musl (for ring).
musl_cc=${CC_x86_64_unknown_linux_musl:-}
if [ -z "$musl_cc" ] && [ "$MUSL_CC_CHOICE" != zig ]; then
  if command -v musl-gcc >/dev/null 2>&1 || { apt_install musl-tools && command -v musl-gcc >/dev/null 2>&1; }; then
    musl_cc=musl-gcc
  elif [ "$MUSL_CC_CHOICE" = musl-gcc ]; then
    die "musl-gcc is missing and could not be installed (apt-get install musl-tools)"
  fi
fi
if [ -z "$musl_cc" ]; then
  [ "$MUSL_CC_CHOICE" = zig ] || log "no musl-gcc: falling back to zig cc"
  musl_cc=$(zig_cc) || die "no C compiler for musl: install musl-tools (apt-get install musl-tools) or python3-venv for the zig fallback"
fi
command -v cc >/dev/null 2>&1 || die "no host \`cc\` to link with: install gcc (apt-get install gcc)"
log "C compiler for $TARGET: $musl_cc"
export CC_x86_64_unknown_linux_musl="$musl_cc"
export AR_x86_64_unknown_linux_musl=${AR_x86_64_unknown_linux_musl:-ar}

log "cargo build --release --locked --target $TARGET -p admin $*"
cargo build --release --locked --target "$TARGET" -p admin "$@"

mkdir -p "$(dirname "$OUT")"
cp "$TARGET_DIR/$TARGET/release/kafka-ingress" "$OUT"
log "built $OUT"

# --- Proof that it is static -------------------------------------------------------------
if ! command -v file >/dev/null 2>&1; then
  apt_install file || true
fi
if command -v file >/dev/null 2>&1; then
  file_out=$(file -b "$OUT")
  echo "file: $file_out"
  # Rust's musl target links static-pie by default; `file` calls that "static-pie linked".
  case "$file_out" in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) die "file does not report a static executable: $file_out" ;;
  esac
else
  log "\`file\` is not available (could not install it); relying on the ELF headers"
fi

if ! command -v readelf >/dev/null 2>&1; then
  apt_install binutils || true
fi
command -v readelf >/dev/null 2>&1 || die "readelf is missing (apt-get install binutils)"
# A dynamically linked executable names its loader in PT_INTERP and its libraries in DT_NEEDED.
if readelf -lW "$OUT" | grep -q 'Requesting program interpreter'; then
  die "the binary has a program interpreter (PT_INTERP): $(readelf -lW "$OUT" | grep 'program interpreter')"
fi
needed=$(readelf -dW "$OUT" | grep '(NEEDED)' || true)
[ -z "$needed" ] || die "the binary needs shared libraries (DT_NEEDED):
$needed"
echo "readelf: no PT_INTERP, no DT_NEEDED"

if command -v ldd >/dev/null 2>&1; then
  # ldd exits non-zero for a static binary; its words are what matter.
  ldd_out=$(ldd "$OUT" 2>&1 || true)
  echo "ldd: $(echo "$ldd_out" | tr -s '\t\n' '  ' | sed 's/^ *//; s/ *$//')"
  case "$ldd_out" in
    *"not a dynamic executable"* | *"statically linked"*) ;;
    *) die "ldd lists shared libraries: $ldd_out" ;;
  esac
else
  log "\`ldd\` is not available; relying on the ELF headers"
fi

version=$("$OUT" --version 2>&1) || die "running $OUT --version failed: $version"
case "$version" in
  kafka-ingress\ *) echo "run: $OUT --version -> $version" ;;
  *) die "unexpected --version output: $version" ;;
esac

size=$(stat -c %s "$OUT")
echo "size: $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.1f MiB", b / 1048576 }'))"
echo "ok: $OUT is a static x86_64 musl executable"
