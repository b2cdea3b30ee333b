import time, statistics
import jax, jax.numpy as jnp, diffrax, numpy as np
from safetensors.numpy import load_file
w = load_file("w3-problem.safetensors")
W = [(jnp.array(w[f"layers.{i}.weight"]), jnp.array(w[f"layers.{i}.bias"])) for i in range(3)]
y0 = jnp.array(w["y0"])
def f(t, y, args):
    h = jnp.tanh(y @ W[0][0].T + W[0][1]); h = jnp.tanh(h @ W[1][0].T + W[1][1])
    return h @ W[2][0].T + W[2][1]
term, ctrl = diffrax.ODETerm(f), diffrax.PIDController(rtol=1e-6, atol=1e-6)
def one(y):
    sol = diffrax.diffeqsolve(term, diffrax.Dopri5(), t0=0., t1=1., dt0=None, y0=y,
                              stepsize_controller=ctrl, max_steps=4096)
    return sol.ys, sol.stats["num_steps"]
for name, fn in [("batch", jax.jit(one)), ("vmap", jax.jit(jax.vmap(one)))]:
    out = fn(y0); jax.block_until_ready(out)
    for _ in range(5): jax.block_until_ready(fn(y0))
    ts = []
    for _ in range(20):
        t = time.perf_counter(); jax.block_until_ready(fn(y0)); ts.append((time.perf_counter() - t) * 1e3)
    print(f"diffrax {name}: median {statistics.median(ts):.1f} ms, steps mean {np.array(out[1]).mean():.3f}")
