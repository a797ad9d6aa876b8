#!/usr/bin/env bash
# User-space instructions per operation, per Rust driver and workload, counted by callgrind:
# exact and repeatable where CPU time on a shared 2-core machine is not, and free of the
# kernel's share (loopback TCP, wake-ups), which is the same for every driver.
#
#   bash bench/scripts/instructions.sh [WORKLOAD…]      (default: point tiny series wide arrays bytea typed)
# (point-tls: the tokio-postgres and sqlx columns are tokio-postgres-rustls and sqlx rustls)
#
# Counts the bench's `phase` function only (the warm-up phase and one round, at --scale
# $SCALE), which includes the bench's own checksum work, the same for every driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${SCALE:-0.2}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p pgtusk-bench
BIN="$TARGET/release/pgtusk-bench"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(point tiny series wide arrays bytea typed)
printf '%-8s %16s %16s %16s %10s %10s\n' workload pgtusk tokio-postgres sqlx "pg/tp" "pg/sqlx"
for w in "${WORKLOADS[@]}"; do
  declare -A per_op=()
  # Workload 15 (point-tls) names its peers after their rustls integrations.
  peers=(tokio-postgres sqlx)
  [ "$w" != point-tls ] || peers=(tokio-postgres-rustls "sqlx rustls")
  for d in pgtusk "${peers[@]}"; do
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$w.$d" --collect-atstart=no \
      --toggle-collect='pgtusk_bench::phase' \
      "$BIN" "$w" --rounds 1 --scale "$SCALE" --only "$d" --no-python --out "$OUT" \
      > "$OUT/$w.$d.log" 2>&1
    ops=$(grep -m1 -oE '[0-9]+ ops per phase' "$OUT/$w.$d.log" | cut -d' ' -f1)
    total=$(callgrind_annotate "$OUT/$w.$d" 2>/dev/null | grep 'PROGRAM TOTALS' | tr -d ',' | awk '{print $1}')
    per_op[$d]=$(( total / (2 * ops) ))
  done
  awk -v w="$w" -v pg="${per_op[pgtusk]}" -v tp="${per_op[${peers[0]}]}" -v sx="${per_op[${peers[1]}]}" \
    'BEGIN { printf "%-8s %16d %16d %16d %10.2f %10.2f\n", w, pg, tp, sx, pg / tp, pg / sx }'
  unset per_op
done
