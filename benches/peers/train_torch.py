"""PyTorch CPU eager training-step anchors.
usage: python py/train_torch.py TAG [model ...]
For each model and torch.set_num_threads(1)/(2) (interleaved per rep) times:
  step   = zero_grad + forward + loss + backward (+clip) + optimizer.step
  fwdbwd = zero_grad + forward + loss + backward
  fwd    = forward + loss under torch.no_grad()
CSV: tag,model,threads,phase,median_us,best_us,steps_per_s_median,iters_per_rep,reps
"""
import os, sys, time, statistics
import torch
import torch.nn as nn

torch.manual_seed(0)
REPS = int(os.environ.get("REPS", "11"))
TARGET_S = float(os.environ.get("TARGET_S", "0.15"))


def mlp(sizes, act, last_act=None):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
        elif last_act:
            layers.append(last_act())
    return nn.Sequential(*layers)


class ResMLP(nn.Module):  # 50 blocks: h = h + relu(W h + b), width 100
    def __init__(self, width=100, depth=50):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.out = nn.Linear(width, 1)
        for b in self.blocks:  # small init keeps the residual stream bounded
            nn.init.normal_(b.weight, std=0.01); nn.init.zeros_(b.bias)

    def forward(self, x):
        for b in self.blocks:
            x = x + torch.relu(b(x))
        return self.out(x)


class SeqModel(nn.Module):  # fused nn.LSTM / nn.RNN / nn.GRU, loss on last hidden state
    def __init__(self, kind, inp=10, hid=20):
        super().__init__()
        self.rnn = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": nn.GRU}[kind](inp, hid, batch_first=True)
        self.head = nn.Linear(hid, 1)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


class CellLoop(nn.Module):  # same nets unrolled in Python with *Cell: one op group per time step (tape-like)
    def __init__(self, kind, inp=10, hid=20):
        super().__init__()
        self.kind = kind
        self.cell = {"lstm": nn.LSTMCell, "rnn": nn.RNNCell, "gru": nn.GRUCell}[kind](inp, hid)
        self.head = nn.Linear(hid, 1)
        self.hid = hid

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.hid)
        c = x.new_zeros(x.shape[0], self.hid)
        for t in range(x.shape[1]):
            if self.kind == "lstm":
                h, c = self.cell(x[:, t], (h, c))
            else:
                h = self.cell(x[:, t], h)
        return self.head(h)


def build(name):
    g = torch.Generator().manual_seed(1)
    if name == "deep_sigmoid":  # 10 -> 9x64 sigmoid -> 1 sigmoid, MSE, SGD, batch 32
        m = mlp([10] + [64] * 9 + [1], nn.Sigmoid, nn.Sigmoid)
        x, y = torch.randn(32, 10, generator=g), torch.rand(32, 1, generator=g)
        return m, x, y, nn.MSELoss(), torch.optim.SGD(m.parameters(), lr=0.1), None
    if name == "problematic":  # 784 -> 4x128 sigmoid -> 10, softmax CE, Adam, batch 128
        m = mlp([784] + [128] * 4 + [10], nn.Sigmoid)
        x, y = torch.randn(128, 784, generator=g), torch.randint(0, 10, (128,), generator=g)
        return m, x, y, nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3), None
    if name == "improved":  # 784 -> 3x[Linear128 he_normal, ReLU, BN, Dropout .2] -> 10, Adam, clip 1.0
        layers, d = [], 784
        for _ in range(3):
            lin = nn.Linear(d, 128); nn.init.kaiming_normal_(lin.weight, nonlinearity="relu"); nn.init.zeros_(lin.bias)
            layers += [lin, nn.ReLU(), nn.BatchNorm1d(128), nn.Dropout(0.2)]; d = 128
        layers.append(nn.Linear(128, 10))
        m = nn.Sequential(*layers)
        x, y = torch.randn(128, 784, generator=g), torch.randint(0, 10, (128,), generator=g)
        return m, x, y, nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3), 1.0
    if name == "xor":  # 2 -> 8 sig -> 8 sig -> 1 sig, BCE, Adam, batch 4
        m = mlp([2, 8, 8, 1], nn.Sigmoid, nn.Sigmoid)
        x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); y = torch.tensor([[0.], [1.], [1.], [0.]])
        return m, x, y, nn.BCELoss(), torch.optim.Adam(m.parameters(), lr=1e-2), None
    if name in ("lstm", "rnn", "gru", "lstm_cellloop", "rnn_cellloop", "gru_cellloop"):
        kind = name.split("_")[0]
        m = CellLoop(kind) if name.endswith("cellloop") else SeqModel(kind)
        x, y = torch.randn(32, 100, 10, generator=g), torch.randn(32, 1, generator=g)
        return m, x, y, nn.MSELoss(), torch.optim.Adam(m.parameters(), lr=1e-3), None
    if name == "resmlp50":  # 50 residual blocks width 100, batch 64, MSE, SGD
        m = ResMLP()
        x, y = torch.randn(64, 100, generator=g), torch.randn(64, 1, generator=g)
        return m, x, y, nn.MSELoss(), torch.optim.SGD(m.parameters(), lr=1e-4), None  # 1e-2 diverges
    raise ValueError(name)


def phases(m, x, y, lossf, opt, clip):
    def fwdbwd():
        opt.zero_grad(set_to_none=True)
        loss = lossf(m(x), y)
        loss.backward()
        return loss

    def step():
        fwdbwd()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(m.parameters(), clip)
        opt.step()

    def fwd():
        with torch.no_grad():
            return lossf(m(x), y)
    return {"step": step, "fwdbwd": fwdbwd, "fwd": fwd}


def timed(f, iters):
    t = time.perf_counter()
    for _ in range(iters):
        f()
    return (time.perf_counter() - t) / iters


ALL = ["deep_sigmoid", "problematic", "improved", "xor", "lstm", "rnn", "gru",
       "lstm_cellloop", "rnn_cellloop", "gru_cellloop", "resmlp50"]
tag = sys.argv[1] if len(sys.argv) > 1 else "run"
models = sys.argv[2:] or ALL
print("tag,model,threads,phase,median_us,best_us,steps_per_s_median,iters_per_rep,reps", flush=True)
for name in models:
    m, x, y, lossf, opt, clip = build(name)
    m.train()
    ph = phases(m, x, y, lossf, opt, clip)
    cfgs = [(t, p) for p in os.environ.get("PHASES", "step,fwdbwd,fwd").split(",") for t in (1, 2)]
    iters = {}
    for t, p in cfgs:
        torch.set_num_threads(t)
        for _ in range(10):
            ph[p]()
        t0 = time.perf_counter(); ph[p](); one = max(time.perf_counter() - t0, 1e-7)
        iters[(t, p)] = max(3, int(TARGET_S / one))
    times = {c: [] for c in cfgs}
    for _ in range(REPS):
        for t, p in cfgs:
            torch.set_num_threads(t)
            times[(t, p)].append(timed(ph[p], iters[(t, p)]))
    for t, p in cfgs:
        med, best = statistics.median(times[(t, p)]), min(times[(t, p)])
        print(f"{tag},{name},{t},{p},{med*1e6:.2f},{best*1e6:.2f},{1/med:.1f},{iters[(t, p)]},{REPS}", flush=True)
