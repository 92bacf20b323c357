#!/usr/bin/env bash
# Queues a sweep on Slurm: an array of N shard tasks, then the merge once all of them succeeded.
#   deploy/slurm/submit.sh N [report options...]
#   deploy/slurm/submit.sh 40 --scenarios scenarios/sweeps --only phase_diagram_large
# Set REPORT (default: target/release/report) and SWEEP_DIR (default: ./sweep, on a shared filesystem).
set -euo pipefail
if [[ $# -lt 1 || ! $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N [report options...]   (N shards, N >= 1)" >&2
  exit 2
fi
N=$1
shift
here="$(cd "$(dirname "$0")" && pwd)"
export SHARDS=$N
export REPORT="${REPORT:-$PWD/target/release/report}"
export SWEEP_DIR="${SWEEP_DIR:-$PWD/sweep}"
export REPORT_ARGS="$*"
mkdir -p "$SWEEP_DIR"
"$REPORT" $REPORT_ARGS --list-units | tail -n 1
array=$(sbatch --parsable --export=ALL --array="0-$((N - 1))" "$here/shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" "$here/merge.sbatch")
echo "shards: job $array (array 0-$((N - 1))); merge: job $merge; report in $SWEEP_DIR/report"
