#!/usr/bin/env bash
# Single- or multi-node training through torchrun.
#   scripts/dist_train.sh GPUS CONFIG [key=value ...]
# Multi-node: run on every node with NNODES, NODE_RANK, MASTER_ADDR (and MASTER_PORT) set.
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 GPUS CONFIG [key=value ...]" >&2; exit 2; fi
GPUS=$1; CONFIG=$2; shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec python -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$GPUS" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
  "$ROOT/tools/train.py" --config "$CONFIG" "$@"
