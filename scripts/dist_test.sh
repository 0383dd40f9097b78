#!/usr/bin/env bash
# Multi-view test of a checkpoint on GPUS processes (torchrun); the merged metrics go to output_dir.
#   scripts/dist_test.sh GPUS CONFIG CHECKPOINT [key=value ...]
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 GPUS CONFIG CHECKPOINT [key=value ...]" >&2; exit 2; fi
GPUS=$1; CONFIG=$2; CKPT=$3; shift 3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec python -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="${MASTER_PORT:-29501}" \
  "$ROOT/tools/test.py" --config "$CONFIG" --checkpoint "$CKPT" "$@"
