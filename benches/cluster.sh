#!/usr/bin/env bash
# Benchmark (not a test): bt_rank GROUP BY category over 50M votes in 16 Parquet files, in
# the embedded engine and on a Ballista cluster of 1 and of 2 executors on this machine
# (the same cores in total). Prints the median wall time of each, whole process, client
# start-up included. Figures are in the README (Performance, "On a cluster").
#
#   benches/cluster.sh [PREFDB] [DATA_DIR]
#   VOTES=50000000 RUNS=3 benches/cluster.sh target/release/prefdb
set -euo pipefail

PREFDB=${1:-${CARGO_TARGET_DIR:-target}/release/prefdb}
DATA=${2:-$HOME/.cache/prefdb/cluster-bench}
VOTES=${VOTES:-50000000}
RUNS=${RUNS:-3}
FILES=16
CORES=$(nproc)
QUERY="SELECT category, bt_rank(model_a, model_b, winner) AS r FROM votes GROUP BY category"

mkdir -p "$DATA/votes"
for i in $(seq 0 $((FILES - 1))); do
  out="$DATA/votes/part-$i.parquet"
  [ -f "$out" ] || "$PREFDB" gen arena --votes $((VOTES / FILES)) --models 100 --seed "$i" --out "$out" 2>/dev/null
done

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_all EXIT

# The median of RUNS whole-process wall times of `prefdb sql ARGS... QUERY`.
median_seconds() {
  local times=()
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    "$PREFDB" sql "$@" --format json "$QUERY" >/dev/null || { echo "the query failed" >&2; exit 1; }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

# The executors the scheduler on PORT counts, from /readyz (bounded wait).
wait_for_executors() {
  local port=$1 want=$2
  for _ in $(seq 300); do
    if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
      printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
      if grep -q "ready: $want executors" <&3; then exec 3<&-; return 0; fi
      exec 3<&-
    fi
    sleep 0.2
  done
  echo "the scheduler never counted $want executors" >&2
  return 1
}

echo "bt_rank GROUP BY category, $VOTES votes in $FILES files, $CORES cores, median of $RUNS"
echo "embedded: $(median_seconds --table "votes=$DATA/votes") s"

for executors in 1 2; do
  port=47350
  "$PREFDB" cluster scheduler --bind "127.0.0.1:$port" 2>/dev/null &
  PIDS+=($!)
  per=$((CORES / executors)); [ "$per" -ge 1 ] || per=1
  for e in $(seq "$executors"); do
    "$PREFDB" cluster executor --scheduler "127.0.0.1:$port" --bind "127.0.0.1:$((port + 10 * e))" \
      --concurrency "$per" 2>/dev/null &
    PIDS+=($!)
  done
  wait_for_executors "$port" "$executors"
  echo "cluster, $executors executor(s) x $per tasks: $(median_seconds --cluster "df://127.0.0.1:$port" --table "votes=$DATA/votes") s"
  stop_all
  sleep 1
done
