#!/usr/bin/env bash
# Record-batch decode throughput of kafka-proto (criterion), printed as one table:
# 4 batches of 1 000 records with ~100-byte values, uncompressed and per codec, plus CRC-32C.
#
#   scripts/bench-decode.sh                 # full criterion run
#   QUICK=1 scripts/bench-decode.sh         # shorter measurement (noisier)
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
if [[ -n "${QUICK:-}" ]]; then
  args=(-- --warm-up-time 1 --measurement-time 3)
fi
cargo bench -p kafka-proto --bench record_batch "${args[@]}" >&2

python3 - <<'PY'
import glob, json, os
rows = {}
for bench in glob.glob("target/criterion/*/*/*/new/benchmark.json") + glob.glob("target/criterion/*/*/new/benchmark.json"):
    d = os.path.dirname(bench)
    b = json.load(open(bench))
    est = json.load(open(os.path.join(d, "estimates.json")))
    secs = est["mean"]["point_estimate"] / 1e9
    group, fn = b["group_id"], b["function_id"]
    tp = b.get("throughput") or {}
    row = rows.setdefault(group, {"wire": b.get("value_str")})
    if "Elements" in tp:
        row["records_s"] = tp["Elements"] / secs
    if "Bytes" in tp:
        row["mib_s"] = tp["Bytes"] / secs / (1 << 20)
    row["secs"] = secs
print("| benchmark | wire bytes | records/s | MiB/s (uncompressed) |")
print("|---|---|---|---|")
for group in sorted(rows):
    r = rows[group]
    rec = f"{r['records_s']/1e6:.2f} M" if "records_s" in r else "-"
    mib = f"{r['mib_s']:.0f}" if "mib_s" in r else "-"
    print(f"| {group} | {r['wire'] or '1 MiB'} | {rec} | {mib} |")
PY
