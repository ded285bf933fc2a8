#!/usr/bin/env bash
# bench/gpu-graphs.sh — captured step graphs (runtime/backend/webgpu-graph.ts) on the GPU machine:
# r1-tiny training on webgpu with graphs on and off (same seed: the losses must agree), a CPU profile
# of the graph run, then bench/gpu.sh for r1-tiny (our trainer and decoder against HF in one run).
#   here:  npm run build && ../shared/tools/gpu-pack.sh --with dist
#   there: source .gpu/setup.sh && bench/gpu-graphs.sh          (carry .gpu)
set -uo pipefail
cd "$(dirname "$0")/.."
dest=${OUT:-/tmp/moe-graphs}
mkdir -p "$dest/prof"
steps=${GRAPH_STEPS:-15}
for mode in 1 0; do
  rm -rf "/tmp/graphs-$mode"
  MOE_WEBGPU_GRAPHS=$mode timeout 200 node bin/moe.js train examples/r1-tiny.moe --backend webgpu --steps "$steps" --out "/tmp/graphs-$mode" > "$dest/train-$mode.log" 2>&1
  echo "graphs=$mode rc=$?"
  cp "/tmp/graphs-$mode/metrics.jsonl" "$dest/metrics-$mode.jsonl" 2>/dev/null
done
python3 - "$dest" <<'PY'
import json, statistics, sys
d = sys.argv[1]
runs = {}
for m in ("1", "0"):
    try:
        runs[m] = [json.loads(l) for l in open(f"{d}/metrics-{m}.jsonl") if '"loss"' in l]
    except OSError:
        runs[m] = []
for m, rs in runs.items():
    tps = [r["tokens_per_s"] for r in rs[2:]]
    print(f"graphs={m}: steps {len(rs)}, median tokens/s after step 2: {statistics.median(tps) if tps else 'n/a'}")
if runs["1"] and runs["0"]:
    worst = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(runs["1"], runs["0"]))
    print(f"largest relative loss difference, graphs on vs off: {worst:.3g}")
PY
rm -rf /tmp/graphs-prof
MOE_WEBGPU_GRAPHS=1 timeout 200 node --cpu-prof --cpu-prof-dir="$dest/prof" bin/moe.js train examples/r1-tiny.moe --backend webgpu --steps "$steps" --out /tmp/graphs-prof > "$dest/train-prof.log" 2>&1
echo "profile rc=$?"
xz -T4 "$dest"/prof/*.cpuprofile 2>/dev/null
BENCH_ONLY=r1-tiny BENCH_BUDGET_S=${BENCH_BUDGET_S:-300} bench/gpu.sh
