#!/usr/bin/env bash
# One device call: kernel tests at full size, mixer profile (+ tile sweep), then the benchmark table.
# Usage (on the GPU machine): bash scripts/gpu_bench.sh [tests|profile|sweep|ncu|ncusrc|tp|ablate|model|host|tiny64|short|table|long] ...
set -o pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv | tee "$OUT/gpu.txt"
for step in "$@"; do
  case $step in
    tests) python -m pytest -q -x tests/kernels 2>&1 | tee "$OUT/tests.log" | tail -15 ;;
    profile) python tools/kernel_dev/mixer_profile.py --kernels 2>&1 | tee "$OUT/profile.log" ;;
    sweep) python tools/kernel_dev/mixer_profile.py --sweep 2>&1 | tee "$OUT/sweep.log" ;;
    ncu) bash tools/kernel_dev/ncu_scan.sh > "$OUT/ncu_summary.txt" 2>&1; tail -3 "$OUT/ncu_summary.txt" ;;
    ncusrc) # source-level stall sampling of the forward scan launches (LOCAL, main, recompute) of scan_once's 2nd round
      NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
      "$NCU" --clock-control none --kernel-name regex:"${KERNELS:-scan_fwd}" --launch-skip "${SKIP:-3}" \
        --launch-count "${COUNT:-3}" --section SourceCounters --section WarpStateStats --page source \
        --print-source sass --csv python tools/kernel_dev/scan_once.py > "$OUT/ncu_source.csv" 2>"$OUT/ncu_source.err"
      python tools/kernel_dev/ncu_source_top.py "$OUT/ncu_source.csv" 25 | tee "$OUT/ncu_source_top.txt" ;;
    tp) python tools/kernel_dev/tp_bench.py 2>&1 | tee "$OUT/tp_bench.log" ;;
    ablate) python tools/kernel_dev/ablate.py 2>&1 | tee "$OUT/ablate.log" ;;
    model) python tools/kernel_dev/model_profile.py 2>&1 | tee "$OUT/model_profile.txt" ;;
    host) python tools/kernel_dev/host_bound.py 2>&1 | tee "$OUT/host_bound.txt" ;;
    tiny64) python tools/benchmark.py --sizes tiny --frames 64 --json "$OUT/tiny64.json" 2>&1 | tee "$OUT/tiny64.log" ;;
    short) python tools/benchmark.py --frames 8,16 --sizes tiny,small --json "$OUT/short.json" 2>&1 | tee "$OUT/short.log" ;;
    table) python tools/benchmark.py --json "$OUT/table.json" 2>&1 | tee "$OUT/table.log" ;;
    long) python tools/benchmark.py --long --sizes tiny,small --frames 128,256 --json "$OUT/long.json" 2>&1 | tee "$OUT/long.log" ;;
  esac
done
