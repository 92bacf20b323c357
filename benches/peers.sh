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
# stay in target/criterion).
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
cores=$(nproc)
echo "peers: ${MODELS[*]} on $cores cores; raw output in $OUT" >&2

# gradlab: criterion medians, one thread pinned like the peers' one-thread runs.
cargo bench --bench train --no-run -q 2>/dev/null || cargo bench --bench train --no-run
bench() { taskset -c "$CORES" cargo bench -q --bench train -- --warm-up-time 1 --measurement-time 3 "$@"; }
CORES=0 bench "^train_step/($models_re)/1t\$" >"$OUT/gradlab_1t.txt"
CORES=0,1 bench "^train_step/($models_re)/nt\$" >"$OUT/gradlab_nt.txt"

# JAX: one process per thread count (XLA fixes its threads at start-up).
(cd benches/peers &&
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 \
    "../../$PY" train_jax.py 1 "${MODELS[@]}") >"$OUT/jax_1t.csv"
(cd benches/peers &&
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2" taskset -c 0,1 \
    "../../$PY" train_jax.py 2 "${MODELS[@]}") >"$OUT/jax_2t.csv"

# PyTorch: one process that alternates 1 and 2 threads per repetition.
(cd benches/peers && taskset -c 0,1 "../../$PY" train_torch.py torch "${MODELS[@]}") >"$OUT/torch.csv"

"$PY" - "$OUT" "${MODELS[@]}" <<'EOF'
import csv, json, os, sys
out, models = sys.argv[1], sys.argv[2:]

def gradlab(model, tag):
    p = f"target/criterion/train_step/{model}_{tag}/new/estimates.json"  # criterion writes / as _
    return json.load(open(p))["median"]["point_estimate"] / 1e3 if os.path.exists(p) else None

jax = {}
for t in ("1", "2"):
    for r in csv.DictReader(open(f"{out}/jax_{t}t.csv")):
        jax[(r["model"], t)] = float(r["median_us"])
torch = {}
for r in csv.DictReader(open(f"{out}/torch.csv")):
    if r["phase"] == "step":
        torch[(r["model"], r["threads"])] = float(r["median_us"])

def f(v):
    return "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")

def ratio(a, b):
    return "-" if a is None or b is None else f"{b / a:.2f}"

print("median microseconds per training step; 'JAX/gradlab' > 1 means gradlab is faster")
print("| model | gradlab 1T | JAX 1T | PyTorch 1T | JAX/gradlab 1T | gradlab 2T | JAX 2T | PyTorch 2T "
      "| JAX/gradlab 2T | gradlab 1T/2T |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    g1, g2 = gradlab(m, "1t"), gradlab(m, "nt")
    j1, j2 = jax.get((m, "1")), jax.get((m, "2"))
    t1, t2 = torch.get((m, "1")), torch.get((m, "2"))
    print(f"| {m} | {f(g1)} | {f(j1)} | {f(t1)} | {ratio(g1, j1)} | {f(g2)} | {f(j2)} | {f(t2)} "
          f"| {ratio(g2, j2)} | {ratio(g2, g1)} |")
EOF
