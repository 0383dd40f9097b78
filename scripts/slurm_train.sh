#!/usr/bin/env bash
# Slurm training: one task per GPU through srun; ranks come from SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID and
# the master address from the node list (videomamba.utils.distributed). Preemption: Slurm's SIGTERM (or
# SIGUSR1 with --signal=USR1@120, which also requeues) makes training stop after the current step; the job
# resumes from output_dir/checkpoint-latest.pth when restarted (train.auto_resume).
#   scripts/slurm_train.sh PARTITION JOB_NAME GPUS CONFIG [key=value ...]
# Env: GPUS_PER_NODE (default min(GPUS, 8)), CPUS_PER_TASK (default 10), SRUN_ARGS (extra srun options).
set -euo pipefail
if [ $# -lt 4 ]; then echo "usage: $0 PARTITION JOB_NAME GPUS CONFIG [key=value ...]" >&2; exit 2; fi
PARTITION=$1; JOB_NAME=$2; GPUS=$3; CONFIG=$4; shift 4
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-10}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export MASTER_PORT=${MASTER_PORT:-$(( 20000 + RANDOM % 20000 ))}
exec srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 \
  --signal=USR1@120 ${SRUN_ARGS:-} \
  python -u "$ROOT/tools/train.py" --config "$CONFIG" "$@"
