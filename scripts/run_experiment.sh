#!/usr/bin/env bash
# Launch one experiment config with the generic launchers (used by every scripts/<dataset>/.../run_*.sh).
#
#   bash scripts/run_experiment.sh CONFIG OFFICIAL_GPUS [key=value ...]
#
# Environment:
#   LAUNCHER   torchrun (default: scripts/dist_train.sh, one node) | slurm (scripts/slurm_train.sh)
#   GPUS       world size (default: OFFICIAL_GPUS, the official number of GPUs of this experiment; with
#              another value the effective LR scales linearly, see configs/README.md)
#   PARTITION  SLURM partition (slurm only, required)   JOB_NAME  SLURM job name (default: the config name)
#   OUTPUT_DIR output folder (default: the config's output_dir)
#   DRY_RUN=1  print the launcher command instead of running it
# Extra arguments are config overrides, e.g. data.data_path=/data/k400/lists data.prefix=/data/k400/videos
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG OFFICIAL_GPUS [key=value ...]" >&2
  exit 2
fi
CONFIG=$1
OFFICIAL_GPUS=$2
shift 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -f "$CONFIG" ]; then
  echo "error: config not found: $ROOT/$CONFIG" >&2
  exit 2
fi
LAUNCHER=${LAUNCHER:-torchrun}
GPUS=${GPUS:-$OFFICIAL_GPUS}
if [ "$GPUS" != "$OFFICIAL_GPUS" ]; then
  echo "note: running on $GPUS GPUs instead of the official $OFFICIAL_GPUS: the effective LR is scaled by" \
       "$GPUS/$OFFICIAL_GPUS (keep batch_size x update_freq x GPUs constant to match the official run)" >&2
fi
EXTRA=()
if [ -n "${OUTPUT_DIR:-}" ]; then
  EXTRA+=("output_dir=$OUTPUT_DIR")
fi
run() {
  if [ -n "${DRY_RUN:-}" ]; then
    echo "$@"
  else
    exec "$@"
  fi
}
case "$LAUNCHER" in
  torchrun|pytorch|dist)
    run bash scripts/dist_train.sh "$GPUS" "$CONFIG" "${EXTRA[@]}" "$@"
    ;;
  slurm)
    if [ -z "${PARTITION:-}" ]; then
      echo "error: LAUNCHER=slurm needs PARTITION=<slurm partition>" >&2
      exit 2
    fi
    JOB_NAME=${JOB_NAME:-$(basename "$(dirname "$CONFIG")")_$(basename "$CONFIG" .yaml)}
    run bash scripts/slurm_train.sh "$PARTITION" "$JOB_NAME" "$GPUS" "$CONFIG" "${EXTRA[@]}" "$@"
    ;;
  *)
    echo "error: LAUNCHER must be torchrun or slurm, got '$LAUNCHER'" >&2
    exit 2
    ;;
esac
