#!/usr/bin/env bash
# Submits a whole audit as three SLURM jobs, each starting when the one before has succeeded
# (--dependency=afterok): the training (audit.sbatch: one process per GPU over the nodes,
# requeued and resumed at the time limit), the sharded assignment (assign.sbatch as an array of
# SHARDS tasks), and the merge and report (report.sbatch). Prints the three job ids.
#
#   scripts/slurm/submit.sh --run-dir runs/big --config my.yaml [--nodes 2] [--gpus-per-node 4]
#       [--shards 8] [--mapd build/release/mapd] [--time 24:00:00] [-- more sbatch options for all three]
#
# --gpus-per-node 0 trains on CPUs (Gloo), --tasks-per-node processes per node. Whatever follows
# `--` goes to every sbatch (e.g. --partition, --account). Resubmitting with the same run directory
# resumes the training from its checkpoint and skips the assignment parts already done.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run_dir=""
config=""
nodes=1
gpus_per_node=1
tasks_per_node=""
shards=4
mapd="${MAPD:-mapd}"
time_limit=""
sbatch_extra=()
usage="usage: $0 --run-dir DIR --config FILE [--nodes N] [--gpus-per-node G | --tasks-per-node T]"
usage+=" [--shards S] [--mapd PATH] [--time T] [-- sbatch options]"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --run-dir) run_dir="$2"; shift ;;
    --config) config="$2"; shift ;;
    --nodes) nodes="$2"; shift ;;
    --gpus-per-node) gpus_per_node="$2"; shift ;;
    --tasks-per-node) tasks_per_node="$2"; shift ;;
    --shards) shards="$2"; shift ;;
    --mapd) mapd="$2"; shift ;;
    --time) time_limit="$2"; shift ;;
    --) shift; sbatch_extra=("$@"); break ;;
    *) echo "submit.sh: unknown argument '$1'" >&2; echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$run_dir" ]] || { echo "submit.sh: --run-dir is required" >&2; echo "$usage" >&2; exit 2; }
if [[ ! -e "$run_dir/checkpoints/last.pt" && ! -e "$run_dir/checkpoints/step.pt" && -z "$config" ]]; then
  echo "submit.sh: --config is required: '$run_dir' has no checkpoint to resume from" >&2
  exit 2
fi
for value in "$nodes" "$gpus_per_node" "$shards" ${tasks_per_node:+"$tasks_per_node"}; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "submit.sh: '$value' is not a number" >&2; exit 2; }
done
[[ "$shards" -ge 1 ]] || { echo "submit.sh: --shards must be >= 1" >&2; exit 2; }

# Every job gets absolute paths: they run in the submit directory, but a user may cd elsewhere.
run_dir="$(realpath -m "$run_dir")"
[[ -z "$config" ]] || config="$(realpath "$config")"
if [[ "$mapd" == */* ]]; then mapd="$(realpath "$mapd")"; fi
export MAPD_RUN_DIR="$run_dir" MAPD_CONFIG="$config" MAPD="$mapd" MAPD_SHARDS="$shards"

train_options=(--nodes "$nodes")
if [[ "$gpus_per_node" -gt 0 ]]; then
  train_options+=(--ntasks-per-node "${tasks_per_node:-$gpus_per_node}" --gpus-per-task 1)
else
  train_options+=(--ntasks-per-node "${tasks_per_node:-1}")
fi
[[ -z "$time_limit" ]] || train_options+=(--time "$time_limit")

job_id() { cut -d ';' -f 1; }  # sbatch --parsable prints "id" or "id;cluster"
train=$(sbatch --parsable "${train_options[@]}" "${sbatch_extra[@]}" "$here/audit.sbatch" | job_id)
assign=$(sbatch --parsable --dependency "afterok:$train" --array "0-$((shards - 1))" "${sbatch_extra[@]}" \
  "$here/assign.sbatch" | job_id)
report=$(sbatch --parsable --dependency "afterok:$assign" "${sbatch_extra[@]}" "$here/report.sbatch" | job_id)
echo "train $train"
echo "assign $assign"
echo "report $report"
