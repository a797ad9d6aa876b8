#!/usr/bin/env bash
# Workload 9 (pool): user-space instructions per operation for each Rust pool, counted by
# callgrind over the whole process (the pool's own tasks, the drivers' connection tasks and
# tokio's scheduler included), at two sizes of phase; the difference divided by the difference
# in operations leaves out the start-up (data, connects), which is the same in both.
#
#   bash bench/scripts/pool_instructions.sh          (SCALES="0.1 0.3" by default)
#
# Callgrind runs one thread at a time, so this counts work, not contention between the two
# workers. A run: the warm-up phase (ops/5) and one round (ops), so 1.2 x ops per size.
set -euo pipefail
cd "$(dirname "$0")/../.."
read -r LO HI <<< "${SCALES:-0.1 0.3}"
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p pgtusk-bench
BIN="$TARGET/release/pgtusk-bench"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
count() { # driver scale -> "instructions ops"
  local d=$1 s=$2 f="$OUT/$RANDOM"
  valgrind --tool=callgrind --callgrind-out-file="$f" \
    "$BIN" pool --rounds 1 --scale "$s" --only "$d" --no-python --out "$OUT" > "$f.log" 2>&1
  local ops total
  ops=$(grep -m1 -oE '[0-9]+ ops per phase' "$f.log" | cut -d' ' -f1)
  total=$(callgrind_annotate "$f" 2>/dev/null | grep 'PROGRAM TOTALS' | tr -d ',' | awk '{print $1}')
  echo "$total $ops"
}
printf '%-18s %14s %10s\n' driver "instr/op" "pg/this"
pg=""
for d in pgtusk "pgtusk acquire" deadpool-postgres sqlx "sqlx no ping"; do
  read -r t1 o1 <<< "$(count "$d" "$LO")"
  read -r t2 o2 <<< "$(count "$d" "$HI")"
  # warm-up ops/5 plus one round of ops: 6/5 of ops per run.
  per_op=$(awk -v a="$t1" -v b="$t2" -v x="$o1" -v y="$o2" 'BEGIN { printf "%d", (b - a) / ((y - x) * 1.2) }')
  [ -n "$pg" ] || pg=$per_op
  awk -v d="$d" -v n="$per_op" -v pg="$pg" 'BEGIN { printf "%-18s %14d %10.2f\n", d, n, pg / n }'
done
