import time, sys, statistics
import torch, torchdiffeq, torchode as to
from safetensors.torch import load_file
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
w = load_file("w3-problem.safetensors")
net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64),
                          torch.nn.Tanh(), torch.nn.Linear(64, 2))
with torch.no_grad():
    for i, j in [(0, 0), (2, 1), (4, 2)]:
        net[i].weight.copy_(w[f"layers.{j}.weight"]); net[i].bias.copy_(w[f"layers.{j}.bias"])
y0 = w["y0"]
nfe = [0]
class F(torch.nn.Module):
    def forward(self, t, y):
        nfe[0] += 1
        return net(y)
f = F()
def td():
    nfe[0] = 0
    with torch.no_grad():
        return torchdiffeq.odeint(f, y0, torch.tensor([0., 1.]), rtol=1e-6, atol=1e-6, method="dopri5")
def timeit(fn, iters=20, warm=5):
    for _ in range(warm): fn()
    ts = []
    for _ in range(iters):
        t = time.perf_counter(); fn(); ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)
print(f"torchdiffeq: median {timeit(td):.1f} ms, NFE {nfe[0]}")
term = to.ODETerm(lambda t, y: net(y))
solver = to.AutoDiffAdjoint(to.Dopri5(term=term), to.IntegralController(atol=1e-6, rtol=1e-6, term=term))
t_eval = torch.tensor([[0., 1.]]).repeat(4096, 1)
res = [None]
def tode():
    with torch.no_grad():
        res[0] = solver.solve(to.InitialValueProblem(y0=y0, t_eval=t_eval))
ms = timeit(tode, iters=10, warm=2)
steps = res[0].stats["n_steps"].float()
print(f"torchode: median {ms:.1f} ms, step attempts per sample mean {steps.mean():.3f}")
