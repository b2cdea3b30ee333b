#!/usr/bin/env python
"""W1 (WORKLOADS.md): FFJORD-style CNF on 2-D moons, Diffrax peer of w1_torchdiffeq.py.

usage: w1_diffrax.py WEIGHTS [ITERS] [--adjoint=recursive|backsolve] [--trace=vjp|jvp] [--seed=N]
                             [--loss-only=BATCH.npy] [--count-nfe]

Same model and convention as w1_torchdiffeq.py: data x at t=0 is integrated to z at
t=T=0.5 together with delta_logp, d(delta_logp)/dt = -tr(df/dz) (exact 2x2 trace),
log p(x) = log N(z_T; 0, I) - delta_logp_T, loss = -mean log p(x).
The whole batch (512 x 2 plus 512 x 1) is ONE ODE system, as in torchdiffeq.
Dopri5, PIDController(rtol=1e-5, atol=1e-5) with default (integral) gains, dt0=None.
One jitted training step = value_and_grad through diffeqsolve + one optax Adam step.
"""
import json
import math
import resource
import statistics
import sys
import time

import numpy as np
import jax
import jax.numpy as jnp
import diffrax
import optax
from safetensors.numpy import load_file

T_END = 0.5
TOL = 1e-5
BATCH = 512
WARMUP = 5
DIMS = [2, 64, 64, 64, 2]


def load_params(path):
    w = load_file(path)
    params = []
    for i in range(4):
        p = {k: jnp.asarray(w[f"layers.{i}.{k}"]).reshape(-1) if k != "weight"
             else jnp.asarray(w[f"layers.{i}.{k}"])
             for k in ("weight", "bias", "gate_weight", "gate_bias", "time_weight")}
        assert p["weight"].shape == (DIMS[i + 1], DIMS[i])  # PyTorch layout [out, in]
        params.append(p)
    return params


def vf(params, t, z):
    """concat-squash MLP: out = (W x + b) * sigmoid(a t + c) + d t, tanh between layers."""
    h = z
    for i, p in enumerate(params):
        gate = jax.nn.sigmoid(p["gate_weight"] * t + p["gate_bias"])
        h = (h @ p["weight"].T + p["bias"]) * gate + p["time_weight"] * t
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return h


NFE_COUNTER = [0]


def _count(_):
    NFE_COUNTER[0] += 1


def make_dynamics(count=False, trace="vjp"):
    def dynamics(t, state, params):
        z, _ = state
        if count:
            jax.debug.callback(_count, t, ordered=False)
        f = lambda zz: vf(params, t, zz)
        # exact trace of the per-sample 2x2 Jacobian; samples are independent, so a
        # batch-wide basis vector e_i gives row/column i of every sample's Jacobian at once.
        e0 = jnp.zeros_like(z).at[:, 0].set(1.0)
        e1 = jnp.zeros_like(z).at[:, 1].set(1.0)
        if trace == "vjp":  # as torch's two autograd.grad calls (reverse mode, one shared forward)
            dz, pullback = jax.vjp(f, z)
            div = pullback(e0)[0][:, 0] + pullback(e1)[0][:, 1]
        else:  # "jvp": forward mode, both tangents under vmap (3.5x slower to differentiate, see report)
            eye = jnp.stack([e0, e1])
            dz, jcols = jax.vmap(lambda v: jax.jvp(f, (z,), (v,)), out_axes=(None, 0))(eye)
            div = jcols[0][:, 0] + jcols[1][:, 1]
        return dz, -div[:, None]
    return dynamics


def make_nll(adjoint, count=False, rtol=TOL, atol=TOL, trace="vjp"):
    term = diffrax.ODETerm(make_dynamics(count, trace))
    solver = diffrax.Dopri5()
    ctrl = diffrax.PIDController(rtol=rtol, atol=atol)

    def nll(params, x):
        y0 = (x, jnp.zeros((x.shape[0], 1), x.dtype))
        sol = diffrax.diffeqsolve(term, solver, t0=0.0, t1=T_END, dt0=None, y0=y0, args=params,
                                  stepsize_controller=ctrl, adjoint=adjoint, max_steps=4096)
        z, dl = sol.ys[0][-1], sol.ys[1][-1]
        logpz = -0.5 * jnp.sum(z ** 2, axis=1, keepdims=True) - math.log(2 * math.pi)
        logpx = logpz - dl
        stats = {k: sol.stats[k] for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")}
        return -jnp.mean(logpx), stats
    return nll


def moons(rng, n):
    """numpy port of w1_torchdiffeq.moons (same construction, numpy RNG)."""
    n_out = n // 2
    n_in = n - n_out
    th_o = rng.random(n_out, dtype=np.float32) * np.float32(math.pi)
    th_i = rng.random(n_in, dtype=np.float32) * np.float32(math.pi)
    outer = np.stack([np.cos(th_o), np.sin(th_o)], 1)
    inner = np.stack([1 - np.cos(th_i), 0.5 - np.sin(th_i)], 1)
    x = np.concatenate([outer, inner], 0).astype(np.float32)
    x = x + np.float32(0.1) * rng.standard_normal(x.shape, dtype=np.float32)
    x = x * 2 + np.array([-1.0, -0.2], dtype=np.float32)
    return x.astype(np.float32)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "1") for a in sys.argv[1:] if a.startswith("--"))
    path = args[0]
    iters = int(args[1]) if len(args) > 1 else 20
    adj_name = opts.get("adjoint", "recursive")
    adjoint = {"recursive": diffrax.RecursiveCheckpointAdjoint(),
               "backsolve": diffrax.BacksolveAdjoint()}[adj_name]
    trace = opts.get("trace", "vjp")
    params = load_params(path)

    if "loss-only" in opts:  # initial loss on a fixed saved batch (cross-check with torchdiffeq)
        x = jnp.asarray(np.load(opts["loss-only"]).astype(np.float32))
        out = {}
        for tol in (TOL, 1e-8):
            l, st = jax.jit(make_nll(adjoint, rtol=tol, atol=tol, trace=trace))(params, x)
            out[f"loss_tol{tol:g}"] = float(l)
            out[f"stats_tol{tol:g}"] = {k: int(v) for k, v in st.items()}
        print(json.dumps(out))
        return

    if "count-nfe" in opts:  # untimed diagnostic: count vector-field evaluations by callback
        x = jnp.asarray(moons(np.random.default_rng(123), BATCH))
        nll_c = make_nll(adjoint, count=True, trace=trace)
        fwd = jax.jit(nll_c)
        jax.block_until_ready(fwd(params, x))
        NFE_COUNTER[0] = 0
        l, st = fwd(params, x); jax.block_until_ready(l); jax.effects_barrier()
        n_fwd = NFE_COUNTER[0]
        g = jax.jit(jax.value_and_grad(nll_c, has_aux=True))
        jax.block_until_ready(g(params, x))
        NFE_COUNTER[0] = 0
        (l2, st2), gr = g(params, x); jax.block_until_ready(gr); jax.effects_barrier()
        n_total = NFE_COUNTER[0]
        print(json.dumps({"adjoint": adj_name, "stats": {k: int(v) for k, v in st.items()},
                          "vf_calls_forward_only": n_fwd, "vf_calls_value_and_grad": n_total}))
        return

    nll = make_nll(adjoint, trace=trace)
    opt = optax.adam(1e-3)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, x):
        (loss, stats), grads = jax.value_and_grad(nll, has_aux=True)(params, x)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss, stats

    rng = np.random.default_rng(int(opts.get("seed", 0)))
    # compile (excluded from all timings; uses a throwaway batch, params not updated)
    t0 = time.perf_counter()
    jax.block_until_ready(step.lower(params, opt_state, jnp.zeros((BATCH, 2), jnp.float32)).compile())
    compile_s = time.perf_counter() - t0

    times, steps, acc, rej, cpu = [], [], [], [], []
    first_loss = None
    for it in range(WARMUP + iters):
        x = jax.block_until_ready(jnp.asarray(moons(rng, BATCH)))
        c0 = time.process_time()
        t0 = time.perf_counter()
        params, opt_state, loss, st = step(params, opt_state, x)
        loss = float(jax.block_until_ready(loss))
        dt = (time.perf_counter() - t0) * 1e3
        dc = (time.process_time() - c0) * 1e3  # CPU time of all our threads
        st = {k: int(v) for k, v in st.items()}
        if first_loss is None:
            first_loss = loss
        tag = "warmup" if it < WARMUP else "timed"
        print(f"iter {it:3d} [{tag}] {dt:9.2f} ms  loss {loss:.5f}  steps {st['num_steps']} "
              f"(acc {st['num_accepted_steps']} rej {st['num_rejected_steps']})  "
              f"nfe_f {6 * st['num_steps'] + 1}", flush=True)
        if it >= WARMUP:
            times.append(dt)
            steps.append(st["num_steps"])
            acc.append(st["num_accepted_steps"])
            rej.append(st["num_rejected_steps"])
            cpu.append(dc)
    print(json.dumps({
        "workload": "W1", "impl": "diffrax", "adjoint": adj_name, "trace": trace, "weights": path, "iters": iters,
        "warmup": WARMUP, "compile_s": compile_s,
        "median_ms": statistics.median(times), "min_ms": min(times),
        "steps_mean": statistics.mean(steps), "steps_max": max(steps),
        "accepted_mean": statistics.mean(acc), "rejected_mean": statistics.mean(rej),
        "nfe_forward_mean_6s_plus_1": statistics.mean(6 * s + 1 for s in steps),
        "cpu_ms_over_wall_ms": sum(cpu) / sum(times),  # < 1 at one thread = preempted
        "first_loss": first_loss, "final_loss": loss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "jax": jax.__version__, "diffrax": diffrax.__version__,
    }))


if __name__ == "__main__":
    main()
