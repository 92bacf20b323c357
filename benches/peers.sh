#!/usr/bin/env bash
# One training step of the eight models of benches/models in gradlab, JAX (the whole step in one
# jax.jit-compiled XLA program) and PyTorch (eager), on one thread and on two, in one run, printed
# as one table of median microseconds per step.
#
# usage: benches/peers.sh [model ...]     (default: all eight)
#
# Neither JAX nor PyTorch is a dependency of the project and CI does not run this: the first run
# creates a virtual environment with pip (in $PEERS_VENV, default target/peers-venv) holding jax,
# optax and a CPU build of torch. Raw outputs go to target/peers/<time>/ (criterion's estimates
# stay in target/criterion). ROUNDS (default 2) rounds of all three run one after the other, and
# the table shows the median of each cell over the rounds, with every round's figure below it.
#
# Threads: "1T" pins each peer to core 0 (taskset) and runs gradlab's `train_step/*/1t` benches,
# which step in a rayon pool of one thread; "2T" gives each cores 0 and 1 and runs gradlab's
# `train_step/*/nt` benches (a pool of every available core: run it on a two-core machine, or read
# the "nt" column as that many threads). The machine's other load shifts all three alike only
# when they share a run: compare within one table, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=(deep_sigmoid problematic improved xor lstm rnn gru resmlp50)
MODELS=("${@:-${ALL[@]}}")
VENV=${PEERS_VENV:-target/peers-venv}
PY="$VENV/bin/python"

if ! "$PY" -c 'import jax, optax, torch' 2>/dev/null; then
  echo "peers: creating $VENV (jax, optax, torch for the CPU)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q jax optax
  # The CPU wheel index is far smaller than PyPI's CUDA build; PyPI's runs on a CPU just as well.
  "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu ||
    "$VENV/bin/pip" install -q torch
fi

OUT="target/peers/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
models_re=$(IFS='|'; echo "${MODELS[*]}")
ROUNDS=${ROUNDS:-2}
echo "peers: ${MODELS[*]}; $ROUNDS rounds on $(nproc) cores; raw output in $OUT" >&2
cargo bench --bench train --no-run -q 2>/dev/null || cargo bench --bench train --no-run

bench() { taskset -c "$CORES" cargo bench -q --bench train -- --warm-up-time 1 --measurement-time 3 "$@"; }

# Rounds of all three, one after the other, so that a change in the machine's load lands on each
# system in some round; the table takes each cell's median over the rounds.
for r in $(seq 1 "$ROUNDS"); do
  # gradlab: criterion medians, one thread pinned like the peers' one-thread runs.
  CORES=0 bench "^train_step/($models_re)/1t\$" >"$OUT/gradlab_1t_r$r.txt"
  CORES=0,1 bench "^train_step/($models_re)/nt\$" >"$OUT/gradlab_nt_r$r.txt"
  "$PY" - "$OUT/gradlab_r$r.csv" "${MODELS[@]}" <<'PY'
import json, os, sys
with open(sys.argv[1], "w") as out:
    out.write("model,threads,median_us\n")
    for m in sys.argv[2:]:
        for tag, t in (("1t", 1), ("nt", 2)):
            p = f"target/criterion/train_step/{m}_{tag}/new/estimates.json"  # criterion writes / as _
            if os.path.exists(p):
                out.write(f"{m},{t},{json.load(open(p))['median']['point_estimate'] / 1e3}\n")
PY
  # JAX: one process per thread count (XLA fixes its threads at start-up).
  (cd benches/peers &&
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 \
      "../../$PY" train_jax.py 1 "${MODELS[@]}") >"$OUT/jax_1t_r$r.csv"
  (cd benches/peers &&
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2" taskset -c 0,1 \
      "../../$PY" train_jax.py 2 "${MODELS[@]}") >"$OUT/jax_2t_r$r.csv"
  # PyTorch: one process that alternates 1 and 2 threads per repetition; whole steps only.
  (cd benches/peers && PHASES=step taskset -c 0,1 "../../$PY" train_torch.py torch "${MODELS[@]}") \
    >"$OUT/torch_r$r.csv"
done

"$PY" - "$OUT" "$ROUNDS" "${MODELS[@]}" <<'PY' | tee "$OUT/table.md"
import csv, statistics, sys
from collections import defaultdict
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
cells = defaultdict(list)  # (system, model, threads) -> one median per round
for r in range(1, rounds + 1):
    for row in csv.DictReader(open(f"{out}/gradlab_r{r}.csv")):
        cells[("gradlab", row["model"], row["threads"])].append(float(row["median_us"]))
    for t in ("1", "2"):
        for row in csv.DictReader(open(f"{out}/jax_{t}t_r{r}.csv")):
            cells[("jax", row["model"], t)].append(float(row["median_us"]))
    for row in csv.DictReader(open(f"{out}/torch_r{r}.csv")):
        if row["phase"] == "step":
            cells[("torch", row["model"], row["threads"])].append(float(row["median_us"]))


def get(system, m, t):
    v = cells.get((system, m, t))
    return statistics.median(v) if v else None


def f(v):
    return "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def ratio(a, b):
    return "-" if a is None or b is None else f"{b / a:.2f}"


print(f"median microseconds per training step (median over {rounds} rounds of each system's median);")
print("'JAX/gradlab' > 1: gradlab is faster; 'gradlab 1T/2T' > 1: gradlab's second thread helps")
print()
print("| model | gradlab 1T | JAX 1T | PyTorch 1T | JAX/gradlab 1T | gradlab 2T | JAX 2T | PyTorch 2T "
      "| JAX/gradlab 2T | gradlab 1T/2T |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    g1, g2 = get("gradlab", m, "1"), get("gradlab", m, "2")
    j1, j2 = get("jax", m, "1"), get("jax", m, "2")
    t1, t2 = get("torch", m, "1"), get("torch", m, "2")
    print(f"| {m} | {f(g1)} | {f(j1)} | {f(t1)} | {ratio(g1, j1)} | {f(g2)} | {f(j2)} | {f(t2)} "
          f"| {ratio(g2, j2)} | {ratio(g2, g1)} |")
print()
print("each round's median (microseconds), to judge the noise:")
for key in sorted(cells):
    print(f"  {key[0]} {key[1]} {key[2]}T: " + ", ".join(f(x) for x in cells[key]))
PY
