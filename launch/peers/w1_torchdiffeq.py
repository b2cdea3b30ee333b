#!/usr/bin/env python
"""W1 (WORKLOADS.md): FFJORD-style CNF on 2-D moons, reference torchdiffeq implementation.

usage: w1_torchdiffeq.py WEIGHTS [ITERS] [--verify]

Data x at t=0 is integrated to z at t=T=0.5 together with
delta_logp, d(delta_logp)/dt = -tr(df/dz)  (FFJORD convention), so
log p(x) = log N(z_T; 0, I) - delta_logp_T  and  loss = -mean log p(x).
"""
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
from safetensors.torch import load_file
from torchdiffeq import odeint, odeint_adjoint

torch.set_num_threads(1)

T_END = 0.5
TOL = 1e-5
BATCH = 512
WARMUP = 5


class ConcatSquash(nn.Module):
    """out = (W x + b) * sigmoid(a t + c) + d t"""

    def __init__(self, din, dout):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dout, din))
        self.bias = nn.Parameter(torch.empty(dout))
        self.gate_weight = nn.Parameter(torch.empty(dout))
        self.gate_bias = nn.Parameter(torch.empty(dout))
        self.time_weight = nn.Parameter(torch.empty(dout))

    def forward(self, t, x):
        gate = torch.sigmoid(self.gate_weight * t + self.gate_bias)
        return torch.nn.functional.linear(x, self.weight, self.bias) * gate + self.time_weight * t


class CNFDynamics(nn.Module):
    def __init__(self):
        super().__init__()
        dims = [2, 64, 64, 64, 2]
        self.layers = nn.ModuleList([ConcatSquash(dims[i], dims[i + 1]) for i in range(4)])
        self.nfe = 0

    def vf(self, t, z):
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(t, h)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return h

    def forward(self, t, state):
        self.nfe += 1
        z, _ = state
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.requires_grad_(True)
            dz = self.vf(t, z)
            # exact trace of the 2x2 Jacobian (FFJORD divergence_bf)
            div = 0.0
            for i in range(z.shape[1]):
                div = div + torch.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i]
        return dz, -div.view(-1, 1)


def load_model(path):
    m = CNFDynamics()
    sd = load_file(path)
    own = m.state_dict()
    fixed = {}
    for k, v in sd.items():
        if k not in own:
            raise KeyError(f"unexpected tensor {k}")
        fixed[k] = v.reshape(own[k].shape)  # adapts [out,1] -> [out] if needed
    m.load_state_dict(fixed, strict=True)
    return m


def moons(n):
    n_out = n // 2
    n_in = n - n_out
    th_o = torch.rand(n_out) * math.pi
    th_i = torch.rand(n_in) * math.pi
    outer = torch.stack([torch.cos(th_o), torch.sin(th_o)], 1)
    inner = torch.stack([1 - torch.cos(th_i), 0.5 - torch.sin(th_i)], 1)
    x = torch.cat([outer, inner], 0)
    x = x + 0.1 * torch.randn_like(x)
    x = x * 2 + torch.tensor([-1.0, -0.2])
    return x


def nll(func, x, adjoint=True):
    ts = torch.tensor([0.0, T_END])
    dlogp0 = torch.zeros(x.shape[0], 1)
    if adjoint:
        zt, dlt = odeint_adjoint(func, (x, dlogp0), ts, method="dopri5", rtol=TOL, atol=TOL,
                                 adjoint_rtol=TOL, adjoint_atol=TOL)
    else:
        zt, dlt = odeint(func, (x, dlogp0), ts, method="dopri5", rtol=TOL, atol=TOL)
    z, dl = zt[-1], dlt[-1]
    logpz = -0.5 * (z ** 2).sum(1, keepdim=True) - math.log(2 * math.pi)
    logpx = logpz - dl
    return -logpx.mean()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[0]
    iters = int(args[1]) if len(args) > 1 else 20
    torch.manual_seed(0)
    func = load_model(path)

    if "--verify" in sys.argv:
        x = moons(2000)
        with torch.no_grad():
            l = nll(func, x, adjoint=False)
        print(json.dumps({"verify_nll_2000_moons": l.item(), "nfe": func.nfe}))
        return

    opt = torch.optim.Adam(func.parameters(), lr=1e-3)
    times, nf, nb = [], [], []
    loss = None
    for it in range(WARMUP + iters):
        x = moons(BATCH)
        t0 = time.perf_counter()
        opt.zero_grad()
        func.nfe = 0
        loss = nll(func, x)
        f_nfe = func.nfe
        func.nfe = 0
        loss.backward()
        b_nfe = func.nfe
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        tag = "warmup" if it < WARMUP else "timed"
        print(f"iter {it:3d} [{tag}] {dt:9.2f} ms  loss {loss.item():.5f}  nfe_f {f_nfe}  nfe_b {b_nfe}",
              flush=True)
        if it >= WARMUP:
            times.append(dt)
            nf.append(f_nfe)
            nb.append(b_nfe)
    print(json.dumps({
        "workload": "W1", "impl": "torchdiffeq", "weights": path, "iters": iters, "warmup": WARMUP,
        "threads": torch.get_num_threads(),
        "median_ms": statistics.median(times), "min_ms": min(times),
        "nfe_forward_median": statistics.median(nf), "nfe_backward_median": statistics.median(nb),
        "nfe_forward_mean": statistics.mean(nf), "nfe_backward_mean": statistics.mean(nb),
        "final_loss": loss.item(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
