#!/usr/bin/env bash
# GPU check for the model zoo's measurement protocol (see docs/benchmarks.md).
#
# Measures on CUDA, in this order (a cut run keeps the most important numbers): B0, B3, B7,
# ResNet-50, then MobileNetV3-Large and ConvNeXt-Tiny; for each, fp32, bf16 and fp16 on every
# GPU runtime the zoo has (eager with autocast, torch.compile, TensorRT through torch-tensorrt,
# installed from requirements-gpu.txt when missing), at batch 1 (latency) and batch 256
# (throughput). Every result carries its export/compile time and its equivalence figures
# against eager fp32 (a runtime that disagrees is reported failed and not stored). Then the
# protocol is cross-checked against torch.utils.benchmark.Timer (B0 and B3, batch 1 fp32 and
# batch 256 bf16), and the CUDA unit tests run. Every step is bounded by `timeout`. Results
# (JSON, CSV, a Markdown summary, the raw logs) go to $OUT if set, else bench/out/gpu-<date>/.
#
# Usage: bash bench/gpu_check.sh            (PYTHON=/path/to/python to choose the interpreter)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi
RESULTS="${OUT:-bench/out/gpu-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$RESULTS"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
STORE="$RESULTS/measurements.sqlite"
VARIANTS="b0 b1 b2 b3 b4 b5 b6 b7"
START=$(date +%s)
status=0

step() {  # step NAME SECONDS COMMAND... : run with a time bound, log, remember failures
    local name=$1 limit=$2; shift 2
    # Messages go to stderr: stdout is the step's result file.
    echo "== $name (limit ${limit}s, at +$(( $(date +%s) - START ))s)" | tee -a "$RESULTS/log.txt" >&2
    timeout --kill-after=10 "$limit" "$@" 2> >(tee -a "$RESULTS/log.txt" >&2)
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "!! $name failed with status $rc" | tee -a "$RESULTS/log.txt" >&2
        status=1
    fi
    return 0
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
    "$PY" -c "import torch, timm, ptflops, importlib.metadata as m; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version()); print('timm', timm.__version__, 'ptflops', m.version('ptflops')); print('device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'NO CUDA')"
} > "$RESULTS/environment.txt" 2>&1
cat "$RESULTS/environment.txt"

COMMON=(--device cuda --store "$STORE" --format json --no-progress --warmup 5 --max-seconds 2)
# GPU-only runtimes: torch-tensorrt (requirements-gpu.txt). Offline machines carry the wheels.
if ! "$PY" -c "import torch_tensorrt" 2>/dev/null; then
    step "install requirements-gpu.txt" 240 "$PY" -m pip install -q -r requirements-gpu.txt \
        > "$RESULTS/pip_gpu.txt"
fi
TRT=0; "$PY" -c "import torch_tensorrt" 2>/dev/null && TRT=1
echo "torch-tensorrt importable: $TRT" | tee -a "$RESULTS/log.txt" >&2

# In the order that keeps the most important numbers if the run is cut: B0, B3, B7, then peers.
MODELS=("--variant b0" "--variant b3" "--variant b7" "--model resnet50" "--model mobilenetv3_large_100 convnext_tiny")
for models in "${MODELS[@]}"; do
    tag=$(echo "$models" | awk '{print $NF}')
    for precision in fp32 bf16 fp16; do
        runtimes="eager compile"
        [ "$TRT" = 1 ] && runtimes="$runtimes tensorrt"
        for runtime in $runtimes; do
            step "$tag $runtime $precision batch 1" 150 \
                "$PY" -m zoo measure $models --runtime "$runtime" --precision "$precision" \
                --batch-size 1 --iters 100 "${COMMON[@]}" > "$RESULTS/${tag}_${runtime}_${precision}_bs1.json"
            step "$tag $runtime $precision batch 256" 150 \
                "$PY" -m zoo measure $models --runtime "$runtime" --precision "$precision" \
                --batch-size 256 --iters 30 "${COMMON[@]}" > "$RESULTS/${tag}_${runtime}_${precision}_bs256.json"
        done
    done
done

step "protocol vs torch.utils.benchmark.Timer on CUDA" 75 "$PY" - > "$RESULTS/timer_check.txt" <<'PYEOF'
import statistics
import torch
from torch.utils.benchmark import Timer
from zoo.build import build_model, spec_from_variant
from zoo.protocol import Protocol
from zoo.timing import time_forward

print(f"{'model':<16}{'batch':>6}{'prec':>6}{'ours ms':>10}{'Timer ms':>10}{'ratio':>8}  within 10 %")
failures = 0
for variant in ("b0", "b3"):
    spec = spec_from_variant(variant)
    for batch, precision in ((1, "fp32"), (256, "bf16")):
        torch.backends.cudnn.benchmark = True
        model = build_model(spec, device="cuda").to(memory_format=torch.channels_last)
        x = torch.randn(batch, 3, spec.resolution, spec.resolution, device="cuda")
        x = x.contiguous(memory_format=torch.channels_last)
        p = Protocol(device="cuda:0", batch_size=batch, precision=precision, warmup_iters=5,
                     min_iters=10, max_iters=200, max_seconds=1.0, threads=torch.get_num_threads())
        dtype = torch.bfloat16 if precision == "bf16" else None
        stmt = ("with torch.inference_mode(), torch.autocast('cuda', dtype=dtype, enabled=dtype is not None):\n"
                "    model(x)")
        ours, timers = [], []
        for _ in range(5):
            ours.append(time_forward(model, x, p).latency_ms_median)
            t = Timer(stmt=stmt, globals={"model": model, "x": x, "torch": torch, "dtype": dtype},
                      num_threads=torch.get_num_threads())
            timers.append(t.blocked_autorange(min_run_time=1.0).median * 1000)
        ratio = statistics.median(o / t for o, t in zip(ours, timers))
        ok = abs(ratio - 1) <= 0.10
        failures += not ok
        print(f"{spec.model:<16}{batch:>6}{precision:>6}{statistics.median(ours):>10.3f}"
              f"{statistics.median(timers):>10.3f}{ratio:>8.3f}  {'PASS' if ok else 'FAIL'}")
        del model, x
        torch.cuda.empty_cache()
raise SystemExit(1 if failures else 0)
PYEOF
cat "$RESULTS/timer_check.txt"

step "CUDA unit tests" 90 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/test_zoo_measure.py \
    > "$RESULTS/pytest_cuda.txt"
tail -3 "$RESULTS/pytest_cuda.txt"

"$PY" -m zoo export --format csv --store "$STORE" > "$RESULTS/measurements.csv" || status=1
"$PY" - "$RESULTS" > "$RESULTS/summary.md" <<'PYEOF' || status=1
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| run | model | res | batch | prec | median ms | p90 ms | img/s | peak MB (cuda_max_allocated) |")
print("|---|---|---:|---:|---|---:|---:|---:|---:|")
rows = []
for path in sorted(out.glob("*_bs*.json")):
    name = path.stem
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"| {name} | (no results) | | | | | | | |")
        continue
    rows = found or rows
    for r in found:
        print(f"| {name} | {r['model']} | {r['resolution']} | {r['batch_size']} | {r['precision']} "
              f"| {r['latency_ms_median']:.2f} | {r['latency_ms_p90']:.2f} | {r['throughput_ips']:,.0f} "
              f"| {r['peak_memory_mb']:,.0f} |")
if rows:
    r = rows[0]
    print(f"\n{r['device_name']}; torch {r['torch_version']}, timm {r['timm_version']}; "
          f"channels_last={r['channels_last']}; warm-up {r['warmup_iters']}; {r['threads']} CPU threads")
PYEOF
cat "$RESULTS/summary.md"
echo "total $(( $(date +%s) - START ))s; results in $RESULTS; status $status"
exit $status
