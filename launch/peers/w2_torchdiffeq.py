#!/usr/bin/env python
"""W2 (WORKLOADS.md): ODE-Net classifier, structure of torchdiffeq's examples/odenet_mnist.py.

usage: w2_torchdiffeq.py WEIGHTS [ITERS] [--verify] [--warmup N]

Batch i = training images [128 i, 128 i + 128) of Fashion-MNIST in file order
(warm-up batches included: warm-up iterations use batches 0..W-1, timed ones W..W+ITERS-1).
"""
import gzip
import json
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file
from torchdiffeq import odeint_adjoint

torch.set_num_threads(1)

TOL = 1e-3
BATCH = 128
DATA = "/usr/share/datasets/fashion-mnist"


def gn(c):
    return nn.GroupNorm(32, c, eps=1e-5)


class ConcatConv2d(nn.Module):
    """3x3 pad 1 conv on cat([t-plane, x]) -- time channel is input channel 0."""

    def __init__(self, cin, cout):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin + 1, 3, 3))
        self.bias = nn.Parameter(torch.empty(cout))

    def forward(self, t, x):
        tt = torch.ones_like(x[:, :1, :, :]) * t
        return F.conv2d(torch.cat([tt, x], 1), self.weight, self.bias, stride=1, padding=1)


class ODEfunc(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.norm1 = gn(dim)
        self.conv1 = ConcatConv2d(dim, dim)
        self.norm2 = gn(dim)
        self.conv2 = ConcatConv2d(dim, dim)
        self.norm3 = gn(dim)
        self.nfe = 0

    def forward(self, t, x):
        self.nfe += 1
        out = F.relu(self.norm1(x))
        out = self.conv1(t, out)
        out = F.relu(self.norm2(out))
        out = self.conv2(t, out)
        return self.norm3(out)


class Down(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 3, 1)          # 28 -> 26, no padding (as in the example)
        self.norm1 = gn(64)
        self.conv2 = nn.Conv2d(64, 64, 4, 2, 1)      # 26 -> 13
        self.norm2 = gn(64)
        self.conv3 = nn.Conv2d(64, 64, 4, 2, 1)      # 13 -> 6

    def forward(self, x):
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.conv2(x)))
        return self.conv3(x)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = gn(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.norm(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class ODENet(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = Down()
        self.ode = ODEfunc()
        self.head = Head()
        self.register_buffer("ts", torch.tensor([0.0, 1.0]))

    def forward(self, x):
        h = self.down(x)
        h = odeint_adjoint(self.ode, h, self.ts, method="dopri5", rtol=TOL, atol=TOL)[1]
        return self.head(h)


def load_model(path):
    m = ODENet()
    sd = load_file(path)
    own = m.state_dict()
    fixed = {k: v.reshape(own[k].shape) for k, v in sd.items()}
    fixed["ts"] = own["ts"]
    m.load_state_dict(fixed, strict=True)
    return m


def read_idx(name):
    with gzip.open(f"{DATA}/{name}", "rb") as f:
        buf = f.read()
    magic = int.from_bytes(buf[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(buf[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix):
    x = torch.from_numpy(read_idx(f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(read_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))
    return x, y


def main():
    argv = sys.argv[1:]
    warmup = 5
    if "--warmup" in argv:
        i = argv.index("--warmup")
        warmup = int(argv[i + 1])
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    path = args[0]
    iters = int(args[1]) if len(args) > 1 else 10
    torch.manual_seed(0)
    model = load_model(path)
    nparams = sum(p.numel() for p in model.parameters())

    if "--verify" in argv:
        x, y = load_split("t10k")
        x, y = x[:1000], y[:1000]
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, 1000, 250):
                correct += (model(x[i:i + 250]).argmax(1) == y[i:i + 250]).sum().item()
        print(json.dumps({"verify_test_acc_first1000": correct / 1000, "params": nparams}))
        return

    xtr, ytr = load_split("train")
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    times, nf, nb = [], [], []
    loss = None
    for it in range(warmup + iters):
        xb = xtr[BATCH * it: BATCH * it + BATCH].contiguous()
        yb = ytr[BATCH * it: BATCH * it + BATCH].contiguous()
        t0 = time.perf_counter()
        opt.zero_grad()
        model.ode.nfe = 0
        loss = F.cross_entropy(model(xb), yb)
        f_nfe = model.ode.nfe
        model.ode.nfe = 0
        loss.backward()
        b_nfe = model.ode.nfe
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        tag = "warmup" if it < warmup else "timed"
        print(f"iter {it:3d} [{tag}] {dt:9.2f} ms  loss {loss.item():.5f}  nfe_f {f_nfe}  nfe_b {b_nfe}",
              flush=True)
        if it >= warmup:
            times.append(dt)
            nf.append(f_nfe)
            nb.append(b_nfe)
    print(json.dumps({
        "workload": "W2", "impl": "torchdiffeq", "weights": path, "iters": iters, "warmup": warmup,
        "threads": torch.get_num_threads(), "params": nparams,
        "median_ms": statistics.median(times), "min_ms": min(times),
        "nfe_forward_median": statistics.median(nf), "nfe_backward_median": statistics.median(nb),
        "nfe_forward_mean": statistics.mean(nf), "nfe_backward_mean": statistics.mean(nb),
        "final_loss": loss.item(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
