"""Measurements of ``benchmarks/suite.py`` that need a fresh process each time.

* compile latency of a 30-op graph (29 chain steps and a row sum, on a (None, 64)
  input) and of the MLP 784-512-512-10 training step (forward, crossentropy, gradients,
  SGD): the time from "graph built" to "first result returned", in a new process,
  with an empty cache directory (cold), then again in new processes sharing that
  directory (the disk cache). symgraph gets ``SYMGRAPH_CACHE_DIR`` and
  ``NUMBA_CACHE_DIR`` pointing at a temporary directory, PyTensor a temporary
  ``compiledir``; JAX keeps no disk cache by default, so each of its runs is cold.
* ``import`` time in a fresh interpreter.
* peak extra memory of a 20-op chain on a large float32 vector: the resident-set
  high-water mark (``VmHWM``), reset through ``/proc/self/clear_refs`` after the input
  is made and the kernels are compiled on a small input, minus the resident set before
  the call. Where the reset is not allowed, a sampling thread records the largest
  ``VmRSS`` during the call instead (it can miss short peaks); the method is reported.

Every child runs with the one-thread environment and prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from suite_engines import single_thread_env

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

COMPILE_OPS = 30

_COMPILE_CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
import numpy as np
engine, n_ops = {engine!r}, {n_ops}
from suite_cases import apply_chain
x = np.random.default_rng(0).normal(size=(8, 64)).astype(np.float32)
if engine == "symgraph":
    import symgraph.backend as K
    p = K.placeholder((None, 64))
    y = K.sum(apply_chain("symgraph", p, n_ops - 1), axis=1)
    start = time.perf_counter()
    f = K.function([p], [y])
    out = f([x])[0]
elif engine.startswith("pytensor"):
    import pytensor, pytensor.tensor as pt
    p = pt.matrix("x", dtype="float32")
    y = apply_chain("pytensor", p, n_ops - 1).sum(axis=1)
    start = time.perf_counter()
    f = pytensor.function([p], y, mode="NUMBA" if engine == "pytensor_numba" else "FAST_RUN")
    out = f(x)
elif engine == "jax":
    import jax
    fn = jax.jit(lambda v: apply_chain("jax", v, n_ops - 1).sum(axis=1))
    start = time.perf_counter()
    out = jax.block_until_ready(fn(x))
seconds = time.perf_counter() - start
ref = apply_chain("numpy", x, n_ops - 1).sum(axis=1)
print(json.dumps({{"seconds": seconds, "ok": bool(np.allclose(out, ref, rtol=1e-4, atol=1e-5))}}))
if engine == "symgraph":  # untimed: the kernels compile into the cache dirs before the
    f.wait_compiled()  # next process starts (and no compile child outlives the row)
"""

# the MLP training graph of the suite's training case (784-512-512-10, softmax
# crossentropy, gradients, SGD), one step of a 128-row batch: graph built -> first loss
_TRAIN_CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
import numpy as np
engine = {engine!r}
from suite_cases import _mlp_params
sizes = (784, 512, 512, 10)
init = _mlp_params(sizes, seed=4)
rng = np.random.default_rng(5)
x = rng.normal(size=(128, 784)).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
lr = 0.01
if engine == "symgraph":
    import symgraph.backend as K
    ws = [K.variable(p) for p in init]
    px, py = K.placeholder((None, 784)), K.placeholder((None, 10))
    h = px
    for i in range(0, len(ws) - 2, 2):
        h = K.relu(K.dot(h, ws[i]) + ws[i + 1])
    loss = K.mean(K.categorical_crossentropy(py, K.softmax(K.dot(h, ws[-2]) + ws[-1])))
    grads = K.gradients(loss, ws)
    updates = [K.update_sub(w, g * lr) for w, g in zip(ws, grads)]
    start = time.perf_counter()
    f = K.function([px, py], [loss], updates=updates)
    out = f([x, y])[0]
elif engine.startswith("pytensor"):
    import pytensor, pytensor.tensor as pt
    ws = [pytensor.shared(p.copy()) for p in init]
    px, py = pt.matrix("x", dtype="float32"), pt.matrix("y", dtype="float32")
    h = px
    for i in range(0, len(ws) - 2, 2):
        h = pt.maximum(pt.dot(h, ws[i]) + ws[i + 1], 0)
    probs = pt.special.softmax(pt.dot(h, ws[-2]) + ws[-1], axis=-1)
    loss = -(py * pt.log(probs)).sum(axis=1).mean()
    grads = pytensor.grad(loss, ws)
    start = time.perf_counter()
    f = pytensor.function([px, py], loss, mode="NUMBA" if engine == "pytensor_numba" else
                          "FAST_RUN", updates=[(w, w - np.float32(lr) * g)
                                               for w, g in zip(ws, grads)])
    out = f(x, y)
elif engine == "jax":
    import jax, jax.numpy as jnp
    def loss_fn(ws, xb, yb):
        h = xb
        for i in range(0, len(ws) - 2, 2):
            h = jax.nn.relu(h @ ws[i] + ws[i + 1])
        return -(yb * jax.nn.log_softmax(h @ ws[-2] + ws[-1])).sum(axis=1).mean()
    @jax.jit
    def step(ws, xb, yb):
        value, grads = jax.value_and_grad(loss_fn)(ws, xb, yb)
        return value, [w - lr * g for w, g in zip(ws, grads)]
    ws = [jnp.asarray(p) for p in init]
    start = time.perf_counter()
    out, ws = step(ws, x, y)
    out = jax.block_until_ready(out)
seconds = time.perf_counter() - start
h = x
for i in range(0, len(init) - 2, 2):
    h = np.maximum(h @ init[i] + init[i + 1], 0)
z = h @ init[-2] + init[-1]
z = z - z.max(axis=1, keepdims=True)
ref = -(y * (z - np.log(np.exp(z).sum(axis=1, keepdims=True)))).sum(axis=1).mean()
print(json.dumps({{"seconds": seconds, "ok": bool(np.allclose(out, ref, rtol=1e-4))}}))
if engine == "symgraph":  # untimed, as in the 30-op child
    f.wait_compiled()
"""

_IMPORT_CHILD = r"""
import json, time
start = time.perf_counter()
import {module}
print(json.dumps({{"seconds": time.perf_counter() - start}}))
"""

_MEMORY_CHILD = r"""
import gc, json, sys, threading, time
sys.path.insert(0, {here!r})
import numpy as np
from suite_cases import apply_chain
engine, n, n_ops = {engine!r}, {n}, {n_ops}

def status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)

if engine == "symgraph":
    import symgraph.backend as K
    p = K.placeholder((None,))
    f = K.function([p], [apply_chain("symgraph", p, n_ops)])
    run = lambda v: f([v])[0]
else:
    run = lambda v: apply_chain("numpy", v, n_ops)
small = np.linspace(-2, 2, 1000, dtype=np.float32)
run(small)  # compile / warm up
if engine == "symgraph":
    f.wait_compiled()  # tiered execution: the kernels compile in the background
x = np.random.default_rng(0).uniform(-2, 2, size=n).astype(np.float32)
gc.collect()
method = "VmHWM reset via /proc/self/clear_refs"
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    method = "VmRSS sampled every 1 ms (may miss short peaks)"
before = status("VmRSS")
peak = [before]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], status("VmRSS"))
        time.sleep(0.001)
if method.startswith("VmRSS"):
    t = threading.Thread(target=sample, daemon=True); t.start()
out = run(x)
if method.startswith("VmRSS"):
    stop.set(); t.join()
    high = max(peak[0], status("VmRSS"))
else:
    high = status("VmHWM")
ok = bool(np.allclose(out[:1000], apply_chain("numpy", x[:1000], n_ops), rtol=1e-4, atol=1e-5))
print(json.dumps({{"extra": high - before, "output": int(out.nbytes), "method": method,
                   "ok": ok}}))
"""


def _child(code: str, env: dict, timeout: float = 600) -> dict:
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(tail[-1] if tail else f"exit status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_latency(engine: str, runs: int, n_ops: int = COMPILE_OPS,
                    workload: str = "chain") -> dict:
    """``{"cold": [s...], "cached": [s...] or None, "ok": bool}`` for one engine;
    ``workload`` is 'chain' (the 30-op graph) or 'train' (the MLP training step)."""
    if workload == "train":
        code = _TRAIN_CHILD.format(here=HERE, engine=engine)
    else:
        code = _COMPILE_CHILD.format(here=HERE, engine=engine, n_ops=n_ops)
    cold, cached, ok = [], [], True
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="symgraph-bench-") as tmp:
            env = single_thread_env()
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a normal install runs (see import_time)
            env["SYMGRAPH_CACHE_DIR"] = os.path.join(tmp, "symgraph")
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
            flags = env.get("PYTENSOR_FLAGS", "")
            env["PYTENSOR_FLAGS"] = ",".join(
                f for f in (flags, f"compiledir={os.path.join(tmp, 'pytensor')}") if f)
            result = _child(code, env)
            cold.append(result["seconds"])
            ok &= result["ok"]
            if engine != "jax":  # JAX has no disk cache unless configured
                result = _child(code, env)
                cached.append(result["seconds"])
                ok &= result["ok"]
    return {"cold": cold, "cached": cached or None, "ok": ok}


def import_time(module: str, runs: int) -> list[float]:
    """Fresh-process import times, as a user pays them: with Python's bytecode cache
    (an environment may set PYTHONDONTWRITEBYTECODE, which recompiles every source file
    on every import; one untimed import first writes the cache)."""
    code = _IMPORT_CHILD.format(module=module)
    env = single_thread_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    _child(code, env)
    return [_child(code, env)["seconds"] for _ in range(runs)]


def peak_memory(engine: str, n: int, n_ops: int = 20) -> dict:
    code = _MEMORY_CHILD.format(here=HERE, engine=engine, n=n, n_ops=n_ops)
    return _child(code, single_thread_env())


def median(values):
    return statistics.median(values) if values else None
