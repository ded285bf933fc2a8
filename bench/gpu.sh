#!/usr/bin/env bash
# bench/gpu.sh — issue 8's benchmark on the GPU machine: our trainer and decoder on `--backend webgpu`
# against HF transformers (bench/peer/hf_train.py, hf_decode.py) on the same configs and shapes, the
# ratios ours/HF from this one run, and every figure as JSON.
#
# Prepare here (the GPU machine has no Node and no network), then run there in one go:
#   npx tsc -p tsconfig.build.json && ../shared/tools/gpu-pack.sh --with dist
#   run (carry .gpu):  source .gpu/setup.sh && bench/gpu.sh
# dist/ must hold the compiled bench/ (tsconfig.build.json includes it): `npm run bench` needs tsx, a
# dev dependency that gpu-pack leaves out, so the decode benchmark runs as `node dist/bench/run.js`.
#
# Per spec (examples/r1-tiny.moe, bench/specs/moe-500m.moe): `moe compile --emit graph,hf-config`;
# the shapes of the spec's first pretrain stage (batch × seq_len) and its AdamW settings go to both
# trainers; `moe train --backend webgpu` (the median of the logged tokens/s after the first
# TRAIN_SKIP steps: shader compilation and buffer-pool growth happen there); `bench decode` on webgpu
# (prompt 64, the SPECS table's new tokens, batch 1 and 32); HF training in fp32 and bf16; HF decode in fp32.
#
# Every part has a timeout and the whole run a budget (BENCH_BUDGET_S, default 480 s): a part that
# would start with too little time left is skipped, and the results JSON is rewritten after every
# part, so a hang or a timeout still returns the figures measured before it. A training or decoding
# process is stopped as soon as its figures are out (the final checkpoint of a 0.5B run, 6 GB of
# weights and optimizer state, is not what is measured).
#
# BENCH_ONLY="r1-tiny" runs only the named specs.
# Output: $OUT/results/DATE-h100.json and $OUT/logs.tar.gz (each part's stdout/stderr); without $OUT,
# under /tmp/moe-bench.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# scratch (logs, compiled configs, run folders) apart from what comes back: the device returns only a
# few files from $OUT, so $OUT gets the results JSON and one tarball of the logs
out=${BENCH_WORK:-/tmp/moe-bench}
logs=$out/logs
dest=${OUT:-$out}
rm -rf "$logs"
mkdir -p "$logs" "$dest/results"
date=$(date -u +%F)
result=${1:-$dest/results/$date-h100.json}
budget=${BENCH_BUDGET_S:-480}
started=$(date +%s)
export NODE_OPTIONS=${NODE_OPTIONS:---max-old-space-size=16384}
export BENCH_RESULT=$result BENCH_LOGS=$logs BENCH_ROOT=$root

left() { echo $((budget - ($(date +%s) - started))); }
# cap LIMIT: the part's own limit, or what is left of the budget if that is less
cap() { local l; l=$(left); echo $(($1 < l - 5 ? $1 : l - 5)); }
collect() { python3 "$out/collect.py" "$@" || echo "collect $* failed" >&2; }
# the logs as $dest/logs.tar.gz (rewritten after every spec); a long one keeps its first and last
# 100 kB (the first Dawn error says what went wrong, the last lines how it ended)
pack_logs() {
  local f
  for f in "$logs"/*; do
    if [[ -f $f && $(stat -c %s "$f") -gt 200000 ]]; then
      { head -c 100000 "$f"; printf '\n[… cut …]\n'; tail -c 100000 "$f"; } > "$f.cut" && mv "$f.cut" "$f"
    fi
  done
  tar -czf "$dest/logs.tar.gz" -C "$out" logs
}

# run_until NAME LIMIT FILE PATTERN -- COMMAND…: COMMAND in the background (stdout → logs/NAME.out,
# stderr → logs/NAME.err); stopped once FILE has a line matching PATTERN (its figure is out) or at
# LIMIT seconds. Sets $status to done, exited (rc N) or timeout.
run_until() {
  local name=$1 limit=$2 file=$3 pattern=$4; shift 5
  local t0 pid
  t0=$(date +%s)
  "$@" > "$logs/$name.out" 2> "$logs/$name.err" &
  pid=$!
  status=timeout
  while :; do
    if [[ -f $file ]] && grep -qE "$pattern" "$file"; then status=done; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; status="exited (rc $?)"; break; fi
    if (($(date +%s) - t0 >= limit)); then break; fi
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  # a figure written just before the exit counts
  if [[ $status != done && -f $file ]] && grep -qE "$pattern" "$file"; then status=done; fi
  echo "  $name: $status after $(($(date +%s) - t0)) s"
}

# run_timed NAME LIMIT -- COMMAND…: COMMAND with a timeout (stdout/stderr to logs); sets $status
run_timed() {
  local name=$1 limit=$2; shift 3
  local t0
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@" > "$logs/$name.out" 2> "$logs/$name.err"
  local rc=$?
  case $rc in 0) status=done ;; 124 | 137) status=timeout ;; *) status="exited (rc $rc)" ;; esac
  echo "  $name: $status after $(($(date +%s) - t0)) s"
}

# the collector: merges each part into the results JSON and prints the table (python3 is on the device)
cat > "$out/collect.py" <<'PY'
import json, math, os, re, statistics, sys

path = os.environ["BENCH_RESULT"]
logs = os.environ["BENCH_LOGS"]
try:
    with open(path) as f:
        doc = json.load(f)
except (OSError, ValueError):
    doc = {"specs": {}}

def save():
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)

def spec(name):
    return doc["specs"].setdefault(name, {})

def read_json(file):
    try:
        with open(file) as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError):
        return None

def tail(file, lines=6):
    try:
        with open(file, errors="replace") as f:
            return [l.rstrip()[:400] for l in f.read().splitlines() if l.strip()][-lines:]
    except OSError:
        return []

def dawn_errors(stem):
    """Dawn/WebGPU validation or device errors in a part's logs (Dawn prints them on stdout, tfjs on
    stderr): the count and the first few, each with the line after it (the object it is about)."""
    found = []
    for file in (f"{stem}.out", f"{stem}.err"):
        try:
            with open(file, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for i, line in enumerate(lines):
            if re.search(r"^validation:|^device lost|uncaptured|dawn.*error|error.*(wgsl|shader|pipeline|bind ?group|buffer)|invalid buffer", line, re.I):
                found.append(" / ".join(l.strip()[:300] for l in lines[i:i + 3]))
    return {"count": len(found), "first": found[:5]}

cmd, *args = sys.argv[1:]
if cmd == "meta":
    key, file = args
    value = read_json(file)
    doc[key] = value if value is not None else {"error": tail(file.replace(".out", ".err"))}
elif cmd == "shapes":
    name, spec_path, graph = args
    with open(graph) as f:
        g = json.load(f)
    stage = next(s for s in g["plan"]["stages"] if s["kind"] == "pretrain")
    h = stage["hyper"]
    opt = h.get("optimizer") or {}
    entry = spec(name)
    entry.update({"spec": spec_path, "model": stage["model"], "stage": stage["name"], "batch": h["batch_sequences"], "seq": h["seq_len"],
                  "optimizer": opt, "clip_grad": h.get("clip_grad", 1)})
    model = next(m for m in g["models"] if m["name"] == stage["model"])
    # an expert parameter is one entry with `stack` copies; MTP modules included
    entry["params_ours"] = sum(math.prod(p["shape"]) * p.get("stack", 1) for p in model["params"])
    # the values the shell passes on to the HF trainer
    print(h["batch_sequences"], h["seq_len"], opt.get("lr", 3e-4), ",".join(str(b) for b in opt.get("betas", [0.9, 0.95])),
          opt.get("weight_decay", 0.1), opt.get("eps", 1e-8), h.get("clip_grad", 1))
elif cmd == "ours-train":
    name, metrics, status, skip = args
    records = []
    try:
        with open(metrics) as f:
            records = [json.loads(l) for l in f if l.strip()]
    except (OSError, ValueError):
        pass
    steps = [r for r in records if "tokens_per_s" in r]
    timed = [r["tokens_per_s"] for r in steps if r["step"] > int(skip)]
    entry = {"backend": "webgpu", "status": status, "steps_logged": len(steps), "skipped_steps": int(skip),
             "tokens_per_s_by_step": [round(r["tokens_per_s"], 1) for r in steps],
             "loss_by_step": [round(r["loss"], 4) for r in steps],
             "dawn_errors": dawn_errors(f"{logs}/{name}.ours-train")}
    losses = [r["loss"] for r in steps]
    # dropped GPU work shows as Dawn errors and a loss of exactly 0: such a step time is not a training step
    entry["valid"] = entry["dawn_errors"]["count"] == 0 and bool(losses) and all(math.isfinite(l) and l > 0 for l in losses)
    if timed:
        entry["tokens_per_s"] = statistics.median(timed)
    else:
        entry["log_tail"] = tail(f"{logs}/{name}.ours-train.err") + tail(f"{logs}/{name}.ours-train.out")
    spec(name).setdefault("train", {})["ours"] = entry
elif cmd == "ours-decode":
    name, status = args
    number = r"([0-9.eE+-]+|NaN|Infinity)"
    entry = {"backend": "webgpu", "status": status, "dawn_errors": dawn_errors(f"{logs}/{name}.ours-decode")}
    entry["valid"] = entry["dawn_errors"]["count"] == 0
    try:
        text = open(f"{logs}/{name}.ours-decode.out").read()
    except OSError:
        text = ""
    m = re.search(rf"webgpu\s+prefill\s+{number} tok/s \(batch 32\)\s+decode batch 1\s+{number} tok/s\s+batch 32\s+{number} tok/s\s+no-cache batch 1\s+{number} tok/s", text)
    head = re.search(r"prompt (\d+) tokens, (\d+) new tokens", text)
    if m:
        entry.update({"prefill_tokens_per_s_batch32": float(m[1]), "decode_tokens_per_s": {"1": float(m[2]), "32": float(m[3])},
                      "no_cache_tokens_per_s_batch1": float(m[4])})
    else:
        entry["log_tail"] = tail(f"{logs}/{name}.ours-decode.err") + tail(f"{logs}/{name}.ours-decode.out")
    if head:
        entry.update({"prompt": int(head[1]), "new_tokens": int(head[2])})
    spec(name).setdefault("decode", {})["ours"] = entry
elif cmd in ("hf-train", "hf-decode"):
    name, file, status = args
    value = read_json(file)
    part = "train" if cmd == "hf-train" else "decode"
    entry = value if value is not None else {}
    entry["status"] = status
    if value is None:
        entry["log_tail"] = tail(f"{logs}/{name}.{cmd}.err")
    spec(name).setdefault(part, {})["hf"] = entry
elif cmd == "skip":
    name, part = args
    spec(name).setdefault("skipped", []).append(part)
elif cmd == "table":
    rows = []
    def ratio(a, b):
        return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 else None
    for name, entry in doc["specs"].items():
        train = entry.get("train", {})
        ours_t = train.get("ours", {}).get("tokens_per_s")
        hf_runs = train.get("hf", {}).get("runs", {})
        shape = f"B={entry.get('batch')} T={entry.get('seq')}"
        if train.get("ours", {}).get("valid") is False:
            shape += ", ours INVALID"
        rows.append({"spec": name, "metric": f"train tokens/s fp32 ({shape})", "ours": ours_t, "hf": hf_runs.get("fp32", {}).get("tokens_per_s")})
        rows.append({"spec": name, "metric": f"train tokens/s, ours fp32 vs HF bf16 ({shape})", "ours": ours_t, "hf": hf_runs.get("bf16", {}).get("tokens_per_s")})
        decode = entry.get("decode", {})
        ours_d = decode.get("ours", {})
        hf_d = decode.get("hf", {}).get("runs", {})
        for b in ("1", "32"):
            rows.append({"spec": name, "metric": f"decode tokens/s batch {b} fp32", "ours": ours_d.get("decode_tokens_per_s", {}).get(b),
                         "hf": hf_d.get(b, {}).get("decode_tokens_per_s")})
        if ours_d.get("valid") is False:
            rows[-1]["metric"] += " ours INVALID"
            rows[-2]["metric"] += " ours INVALID"
        rows.append({"spec": name, "metric": "prefill tokens/s batch 32 (64-token prompts)", "ours": ours_d.get("prefill_tokens_per_s_batch32"),
                     "hf": hf_d.get("32", {}).get("prefill_tokens_per_s")})
    for r in rows:
        r["ratio"] = ratio(r["ours"], r["hf"])
    doc["rows"] = rows
    fmt = lambda v: "—" if v is None else (f"{v:,.1f}" if v < 100 else f"{v:,.0f}")
    print(f"\n{'spec':<10} {'metric':<64} {'ours':>10} {'HF':>10} {'ours/HF':>8}")
    for r in rows:
        shown = "—" if r["ratio"] is None else f"{r['ratio']:.3f}×"
        print(f"{r['spec']:<10} {r['metric']:<64} {fmt(r['ours']):>10} {fmt(r['hf']):>10} {shown:>8}")
else:
    raise SystemExit(f"unknown collect command {cmd}")
save()
PY

echo "bench/gpu.sh: budget ${budget} s, results → $result"
# --- the machine and the versions -----------------------------------------------------------------
python3 - "$result" <<'PY'
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as error:  # noqa: BLE001 - informational only
        return f"unavailable: {error}"
def version(pkg):
    try:
        with open(f"node_modules/{pkg}/package.json") as f:
            return json.load(f)["version"]
    except OSError:
        return None
doc = {
    "date": sh("date -u +%FT%TZ"),
    "commit": os.environ.get("BENCH_COMMIT") or sh("git rev-parse HEAD 2>/dev/null") or None,
    "device": {"gpu": sh("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader"),
               "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"), "cores": os.cpu_count(), "os": platform.platform()},
    "versions": {"node": sh("node --version"), "@tensorflow/tfjs-core": version("@tensorflow/tfjs-core"),
                 "@tensorflow/tfjs-backend-webgpu": version("@tensorflow/tfjs-backend-webgpu"), "webgpu (Dawn)": version("webgpu"),
                 "python": platform.python_version()},
    "budget_s": int(os.environ.get("BENCH_BUDGET_S", "480")),
    "specs": {},
}
with open(sys.argv[1], "w") as f:
    json.dump(doc, f, indent=1)
PY
# the WebGPU adapter Dawn gives us (features and limits bound what the webgpu path can do)
timeout -k 2 20 node --input-type=module -e "
import { create } from 'webgpu';
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) { console.log('{\"error\":\"no adapter\"}'); process.exit(0); }
const i = adapter.info ?? {};
const l = adapter.limits;
console.log(JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
  features: [...adapter.features].sort(), subgroupMatrixConfigs: i.subgroupMatrixConfigs ?? null,
  limits: { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup } }));
process.exit(0);
" > "$logs/adapter.out" 2> "$logs/adapter.err"
collect meta webgpu_adapter "$logs/adapter.out"

# --- per spec --------------------------------------------------------------------------------------
# name spec train-steps train-timeout decode-new decode-timeout hf-train-timeout hf-decode-timeout
SPECS=(
  "r1-tiny examples/r1-tiny.moe 12 60 32 60 60 60"
  "moe-500m bench/specs/moe-500m.moe 8 150 32 120 90 75"
)
TRAIN_SKIP=2
for row in "${SPECS[@]}"; do
  read -r name spec steps train_limit new decode_limit hf_train_limit hf_decode_limit <<< "$row"
  [[ -n ${BENCH_ONLY:-} && " $BENCH_ONLY " != *" $name "* ]] && continue
  echo "== $name ($spec), $(left) s of the budget left"
  dir=$out/$name
  mkdir -p "$dir"
  if ! node bin/moe.js compile "$spec" --emit graph,hf-config -o "$dir" > "$logs/$name.compile.out" 2>&1; then
    echo "  compile failed: $(tail -3 "$logs/$name.compile.out")"; collect skip "$name" compile; continue
  fi
  graph=$(ls "$dir"/*.graph.json | head -1)
  config=$(ls "$dir"/*.config.json | head -1)
  read -r batch seq lr betas wd eps clip <<< "$(collect shapes "$name" "$spec" "$graph")"
  echo "  shapes: batch $batch × seq $seq; AdamW lr $lr betas $betas wd $wd eps $eps; clip $clip"

  if (($(cap "$hf_train_limit") >= 20)); then
    run_timed "$name.hf-train" "$(cap "$hf_train_limit")" -- python3 bench/peer/hf_train.py "$config" --batch "$batch" --seq "$seq" \
      --steps 10 --warmup 3 --dtype fp32,bf16 --lr "$lr" --betas "$betas" --weight-decay "$wd" --eps "$eps" --clip "$clip" --out "$logs/$name.hf-train.json"
    collect hf-train "$name" "$logs/$name.hf-train.json" "$status"
  else collect skip "$name" hf-train; fi

  if (($(cap "$train_limit") >= 20)); then
    run_dir=/tmp/moe-bench-run-$name
    rm -rf "$run_dir"
    run_until "$name.ours-train" "$(cap "$train_limit")" "$run_dir/metrics.jsonl" "\"step\":$steps,\"loss\"" -- \
      node bin/moe.js train "$spec" --backend webgpu --steps "$steps" --out "$run_dir"
    collect ours-train "$name" "$run_dir/metrics.jsonl" "$status" "$TRAIN_SKIP"
    rm -rf "$run_dir"
  else collect skip "$name" ours-train; fi

  if (($(cap "$hf_decode_limit") >= 20)); then
    run_timed "$name.hf-decode" "$(cap "$hf_decode_limit")" -- python3 bench/peer/hf_decode.py "$config" --new "$new" --batches 1,32 --out "$logs/$name.hf-decode.json"
    collect hf-decode "$name" "$logs/$name.hf-decode.json" "$status"
  else collect skip "$name" hf-decode; fi

  if (($(cap "$decode_limit") >= 20)); then
    # stopped once the webgpu line is out: the KV-cache summary after it runs on the cpu backend
    run_until "$name.ours-decode" "$(cap "$decode_limit")" "$logs/$name.ours-decode.out" "^ +webgpu " -- \
      node dist/bench/run.js decode "$spec" "$new" webgpu
    collect ours-decode "$name" "$status"
  else collect skip "$name" ours-decode; fi
  pack_logs
done

collect table
pack_logs
echo "total $(($(date +%s) - started)) s; results: $result, logs: $dest/logs.tar.gz"
