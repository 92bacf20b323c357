"""Writes pytorch_hooks.csv: the records a PyTorch user would log from hooks while training a 6-layer
sigmoid MLP (nn.Linear's default init, SGD), in gradlab's tidy records format, for
`cargo run -p report -- diagnose examples/records/pytorch_hooks.csv`.

The PyTorch side would look like this (forward hooks for activations, parameter .grad after backward):

    rows = []
    def log(step, layer, metric, value):
        rows.append(("pytorch_mlp", "sigmoid, default init", 0, step, layer, metric, float(value)))
    names = {lin: f"{i + 1}:linear(sigmoid)" if i < 5 else f"{i + 1}:linear" for i, lin in enumerate(linears)}
    for lin, act in zip(linears[:5], sigmoids):
        act.register_forward_hook(lambda m, i, out, name=names[lin]: (
            log(step, name, "act_mean", out.mean()), log(step, name, "act_std", out.std()),
            log(step, name, "saturated_frac", ((out < 0.01) | (out > 0.99)).float().mean())))
    ... loss.backward(); for lin in linears: log(step, names[lin], "grad_norm", lin.weight.grad.norm()) ...

torch is not needed to regenerate the file: the same network is trained here with numpy (same init
distribution, same backward pass), deterministically from seed 0. Run: python3 pytorch_hooks.py
"""
import csv
import numpy as np

rng = np.random.default_rng(0)
SIZES = [20, 32, 32, 32, 32, 32, 2]  # 6 linear layers; sigmoid after the first five
STEPS, EVERY, BATCH, LR = 101, 10, 64, 0.1
SCENARIO, VARIANT, SEED = "pytorch_mlp", "sigmoid, default init", 0

# nn.Linear's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias likewise.
W = [rng.uniform(-1, 1, (o, i)) / np.sqrt(i) for i, o in zip(SIZES[:-1], SIZES[1:])]
B = [rng.uniform(-1, 1, o) / np.sqrt(i) for i, o in zip(SIZES[:-1], SIZES[1:])]
names = [f"{k + 1}:linear(sigmoid)" if k < 5 else f"{k + 1}:linear" for k in range(6)]
teacher = rng.normal(size=SIZES[0])

rows = []


def log(step, layer, metric, value):
    rows.append((SCENARIO, VARIANT, SEED, step, layer, metric, f"{float(value):.6g}"))


for step in range(STEPS):
    x = rng.normal(size=(BATCH, SIZES[0]))
    y = (x @ teacher > 0).astype(int)
    hs, h = [x], x
    for k in range(6):
        z = h @ W[k].T + B[k]
        h = 1 / (1 + np.exp(-z)) if k < 5 else z
        hs.append(h)
    logits = hs[-1]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(BATCH), y]).mean()
    g = p.copy()
    g[np.arange(BATCH), y] -= 1
    g /= BATCH  # dL/dlogits
    gW, gB, signal = [None] * 6, [None] * 6, [None] * 6
    for k in reversed(range(6)):
        signal[k] = np.linalg.norm(g)  # dL/d(output of layer k), the backward hook's grad_output
        if k < 5:
            g = g * hs[k + 1] * (1 - hs[k + 1])  # through the sigmoid
        gW[k], gB[k] = g.T @ hs[k], g.sum(0)
        g = g @ W[k]
    rec = step % EVERY == 0
    if rec:
        log(step, "*", "loss", loss)
        log(step, "*", "global_grad_norm", np.sqrt(sum((a**2).sum() + (b**2).sum() for a, b in zip(gW, gB))))
        for k in range(6):
            n = names[k]
            log(step, n, "grad_norm", np.linalg.norm(gW[k]))
            log(step, n, "grad_rms", np.sqrt((gW[k] ** 2).mean()))
            log(step, n, "bias_grad_norm", np.linalg.norm(gB[k]))
            log(step, n, "signal_norm", signal[k])
            if k < 5:
                out = hs[k + 1]
                log(step, n, "act_mean", out.mean())
                log(step, n, "act_std", out.std())
                log(step, n, "saturated_frac", ((out < 0.01) | (out > 0.99)).mean())
    for k in range(6):
        before = np.linalg.norm(W[k])
        W[k] -= LR * gW[k]
        B[k] -= LR * gB[k]
        if rec:
            log(step, names[k], "update_ratio", LR * np.linalg.norm(gW[k]) / before)

with open(__file__.replace(".py", ".csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["scenario", "variant", "seed", "step", "layer", "metric", "value"])
    w.writerows(rows)
