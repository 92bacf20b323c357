"""JAX (XLA, jit-compiled) CPU training-step anchors: the strongest "what a user would pick instead" for
small networks, since jit removes the per-op dispatch overhead that dominates PyTorch eager at these sizes.
usage: XLA_FLAGS=--xla_cpu_multi_thread_eigen=false python py/train_jax.py TAG [model ...]
Same models, batch sizes and optimisers as py/train_torch.py. One jitted function does forward, loss,
backward and the optimiser update (donated buffers). Threads: set by the caller (taskset / XLA flags);
the tag should say which.
CSV: tag,model,phase,median_us,best_us,steps_per_s_median,iters_per_rep,reps
"""
import os, sys, time, statistics
import jax
import jax.numpy as jnp
import optax

jax.config.update("jax_platform_name", "cpu")
REPS = int(os.environ.get("REPS", "11"))
TARGET_S = float(os.environ.get("TARGET_S", "0.15"))


def dense_init(key, n_in, n_out, std=None):
    std = (1.0 / n_in) ** 0.5 if std is None else std
    return {"w": jax.random.normal(key, (n_in, n_out)) * std, "b": jnp.zeros((n_out,))}


def mlp_params(key, sizes):
    keys = jax.random.split(key, len(sizes) - 1)
    return [dense_init(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def mlp_apply(params, x, act, last_act=None):
    for i, p in enumerate(params):
        x = x @ p["w"] + p["b"]
        if i < len(params) - 1:
            x = act(x)
        elif last_act is not None:
            x = last_act(x)
    return x


def mse(a, b):
    return jnp.mean((a - b) ** 2)


def ce(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def lstm_params(key, inp, hid):
    k1, k2, k3 = jax.random.split(key, 3)
    return {"wx": jax.random.normal(k1, (inp, 4 * hid)) * (1 / inp) ** 0.5,
            "wh": jax.random.normal(k2, (hid, 4 * hid)) * (1 / hid) ** 0.5,
            "b": jnp.zeros((4 * hid,)), "head": dense_init(k3, hid, 1)}


def lstm_apply(p, x):  # x [B, T, F]; all gates in one matmul per step, input projection for all steps at once
    B, T, F = x.shape
    hid = p["wh"].shape[0]
    xp = jnp.einsum("btf,fg->tbg", x, p["wx"]) + p["b"]

    def step(carry, xt):
        h, c = carry
        g = xt + h @ p["wh"]
        i, f, gg, o = jnp.split(g, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    (h, _), _ = jax.lax.scan(step, (jnp.zeros((B, hid)), jnp.zeros((B, hid))), xp)
    return h @ p["head"]["w"] + p["head"]["b"]


def rnn_params(key, kind, inp, hid):
    gates = {"rnn": 1, "gru": 3}[kind]
    k1, k2, k3 = jax.random.split(key, 3)
    return {"wx": jax.random.normal(k1, (inp, gates * hid)) * (1 / inp) ** 0.5,
            "wh": jax.random.normal(k2, (hid, gates * hid)) * (1 / hid) ** 0.5,
            "b": jnp.zeros((gates * hid,)), "head": dense_init(k3, hid, 1)}


def rnn_apply(p, x, kind):  # SimpleRNN (tanh) or GRU (Keras reset_after=False style), input projection hoisted
    B, T, F = x.shape
    hid = p["wh"].shape[0]
    xp = jnp.einsum("btf,fg->tbg", x, p["wx"]) + p["b"]

    def step(h, xt):
        if kind == "rnn":
            return jnp.tanh(xt + h @ p["wh"]), None
        xz, xr, xn = jnp.split(xt, 3, axis=-1)
        wz, wr, wn = jnp.split(p["wh"], 3, axis=-1)
        z = jax.nn.sigmoid(xz + h @ wz)
        r = jax.nn.sigmoid(xr + h @ wr)
        n = jnp.tanh(xn + (r * h) @ wn)
        return (1 - z) * n + z * h, None

    h, _ = jax.lax.scan(step, jnp.zeros((B, hid)), xp)
    return h @ p["head"]["w"] + p["head"]["b"]


def build(name):
    key = jax.random.PRNGKey(1)
    kx, ky, kp = jax.random.split(key, 3)
    if name == "deep_sigmoid":
        params = mlp_params(kp, [10] + [64] * 9 + [1])
        x, y = jax.random.normal(kx, (32, 10)), jax.random.uniform(ky, (32, 1))
        loss = lambda p, x, y: mse(mlp_apply(p, x, jax.nn.sigmoid, jax.nn.sigmoid), y)
        return params, x, y, loss, optax.sgd(0.1)
    if name == "problematic":
        params = mlp_params(kp, [784] + [128] * 4 + [10])
        x, y = jax.random.normal(kx, (128, 784)), jax.random.randint(ky, (128,), 0, 10)
        loss = lambda p, x, y: ce(mlp_apply(p, x, jax.nn.sigmoid), y)
        return params, x, y, loss, optax.adam(1e-3)
    if name == "xor":
        params = mlp_params(kp, [2, 8, 8, 1])
        x = jnp.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); y = jnp.array([[0.], [1.], [1.], [0.]])
        loss = lambda p, x, y: optax.sigmoid_binary_cross_entropy(mlp_apply(p, x, jax.nn.sigmoid), y).mean()
        return params, x, y, loss, optax.adam(1e-2)
    if name == "lstm":
        params = lstm_params(kp, 10, 20)
        x, y = jax.random.normal(kx, (32, 100, 10)), jax.random.normal(ky, (32, 1))
        loss = lambda p, x, y: mse(lstm_apply(p, x), y)
        return params, x, y, loss, optax.adam(1e-3)
    if name in ("rnn", "gru"):
        params = rnn_params(kp, name, 10, 20)
        x, y = jax.random.normal(kx, (32, 100, 10)), jax.random.normal(ky, (32, 1))
        loss = lambda p, x, y: mse(rnn_apply(p, x, name), y)
        return params, x, y, loss, optax.adam(1e-3)
    if name == "improved":  # 784 -> 3x[Dense 128 relu, BatchNorm (batch statistics), Dropout 0.2] -> 10, Adam, clip 1.0
        keys = jax.random.split(kp, 4)
        params = {"dense": [dense_init(keys[i], d, 128, (2.0 / d) ** 0.5) for i, d in enumerate([784, 128, 128])],
                  "bn": [{"g": jnp.ones((128,)), "b": jnp.zeros((128,))} for _ in range(3)],
                  "out": dense_init(keys[3], 128, 10)}
        x, y = jax.random.normal(kx, (128, 784)), jax.random.randint(ky, (128,), 0, 10)
        masks = jax.random.bernoulli(jax.random.PRNGKey(7), 0.8, (3, 128, 128)) / 0.8  # fixed masks: same work as fresh ones

        def loss(p, x, y):
            h = x
            for d, bn, m in zip(p["dense"], p["bn"], masks):
                h = jax.nn.relu(h @ d["w"] + d["b"])
                mu, var = h.mean(0), h.var(0)
                h = (h - mu) / jnp.sqrt(var + 1e-3) * bn["g"] + bn["b"]
                h = h * m
            return ce(h @ p["out"]["w"] + p["out"]["b"], y)
        return params, x, y, loss, optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))
    if name == "resmlp50":
        keys = jax.random.split(kp, 51)
        params = {"blocks": [dense_init(k, 100, 100, 0.01) for k in keys[:50]], "out": dense_init(keys[50], 100, 1)}
        x, y = jax.random.normal(kx, (64, 100)), jax.random.normal(ky, (64, 1))

        def loss(p, x, y):
            h = x
            for b in p["blocks"]:
                h = h + jax.nn.relu(h @ b["w"] + b["b"])
            return mse(h @ p["out"]["w"] + p["out"]["b"], y)
        return params, x, y, loss, optax.sgd(1e-4)  # 1e-2 diverges to NaN by step 3
    raise ValueError(name)


ALL = ["deep_sigmoid", "problematic", "improved", "xor", "lstm", "rnn", "gru", "resmlp50"]
tag = sys.argv[1] if len(sys.argv) > 1 else "run"
models = sys.argv[2:] or ALL
print("tag,model,phase,median_us,best_us,steps_per_s_median,iters_per_rep,reps", flush=True)
for name in models:
    params, x, y, lossf, tx = build(name)
    state = tx.init(params)

    def step(params, state, x, y):
        l, g = jax.value_and_grad(lossf)(params, x, y)
        upd, state = tx.update(g, state, params)
        return optax.apply_updates(params, upd), state, l

    step = jax.jit(step, donate_argnums=(0, 1))
    carry = [params, state]

    def run():
        carry[0], carry[1], l = step(carry[0], carry[1], x, y)
        return l

    for _ in range(20):
        run().block_until_ready()
    t0 = time.perf_counter(); run().block_until_ready(); one = max(time.perf_counter() - t0, 1e-7)
    iters = max(3, int(TARGET_S / one))
    times = []
    for _ in range(REPS):
        t = time.perf_counter()
        for _ in range(iters):
            l = run()
        l.block_until_ready()
        times.append((time.perf_counter() - t) / iters)
    med, best = statistics.median(times), min(times)
    print(f"{tag},{name},step,{med*1e6:.2f},{best*1e6:.2f},{1/med:.1f},{iters},{REPS}", flush=True)
