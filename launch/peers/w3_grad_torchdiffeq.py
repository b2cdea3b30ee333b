# One gradient of L = 1/2 sum ||z(1)||^2 on the W3 problem with torchdiffeq,
# in this process: python w3_grad_torchdiffeq.py MODE TOL  (MODE adjoint|backprop)
import sys, time, resource, json
import torch, torchdiffeq
from safetensors.torch import load_file
torch.set_num_threads(1)
mode, tol = sys.argv[1], float(sys.argv[2])
w = load_file("w3-problem.safetensors")
net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64),
                          torch.nn.Tanh(), torch.nn.Linear(64, 2))
with torch.no_grad():
    for i, j in [(0, 0), (2, 1), (4, 2)]:
        net[i].weight.copy_(w[f"layers.{j}.weight"]); net[i].bias.copy_(w[f"layers.{j}.bias"])
y0 = w["y0"]
nfe = [0]
class F(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.net = net
    def forward(self, t, y):
        nfe[0] += 1
        return self.net(y)
f = F()
t = torch.tensor([0.0, 1.0])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
solve = torchdiffeq.odeint_adjoint if mode == "adjoint" else torchdiffeq.odeint
kw = dict(rtol=tol, atol=tol, method="dopri5")
if mode == "adjoint":
    kw.update(adjoint_rtol=tol, adjoint_atol=tol, adjoint_options=dict(norm="seminorm"))
z = solve(f, y0, t, **kw)
forward = nfe[0]
loss = 0.5 * (z[-1] ** 2).sum()
loss.backward()
ms = (time.perf_counter() - start) * 1e3
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(library="torchdiffeq", mode=mode, tol=tol, peak_mb=round(peak, 1),
                      nfe_forward=forward, nfe_backward=nfe[0] - forward, ms=round(ms, 1))))
