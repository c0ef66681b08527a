# ruff: noqa: N803, N806  (K is the Keras idiom for the backend module)
"""The in-process workloads of ``benchmarks/suite.py``, one builder per workload.

Each builder gets the sizes and the engines to build for and returns a :class:`Case`:
for every engine a zero-argument callable that does the whole piece of work once
(compiled functions are built here, outside the timing) and returns a value that is
checked against NumPy's after the warm-up call. An engine that cannot express the
workload (or fails to build it) is recorded in ``errors`` with the reason.

Engines get the same input arrays; JAX gets them placed on its device once (the work
timed is the computation, not the host-to-device copy), the others take NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from suite_engines import pytensor_mode

F32 = np.float32


@dataclass
class Target:
    """A target for symgraph's number: ``kind`` is 'ratio' (ratio to NumPy <= value),
    'best' (ratio <= the best of NumPy/PyTensor/JAX), 'abs' (seconds <= value) or
    'memory' (extra bytes <= value times the output's bytes)."""

    kind: str
    value: float
    text: str


@dataclass
class Case:
    key: str
    title: str
    target: Target | None
    impls: dict[str, Callable] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    rtol: float = 1e-3
    atol: float = 1e-5
    floor: Callable | None = None  # a plain copy of the same bytes (elementwise chain)
    per: int = 1  # the callable repeats the work this many times (times are divided)
    unit: str = "ms"


def _build(case: Case, engines, builders: dict[str, Callable[[], Callable]]) -> Case:
    for engine in engines:
        if engine not in builders:
            case.errors[engine] = "n/a"
            continue
        try:
            case.impls[engine] = builders[engine]()
        except Exception as exc:  # noqa: BLE001 - report the engine as failed, go on
            case.errors[engine] = f"build failed: {type(exc).__name__}: {exc}".splitlines()[0]
    return case


def _pt():
    import pytensor
    import pytensor.tensor as pt

    return pytensor, pt


def _jax():
    import jax
    import jax.numpy as jnp

    return jax, jnp


def _jax_ready(out):
    import jax

    return jax.block_until_ready(out)


def _fresh_graph():
    import symgraph.backend as K

    K.clear_session()
    return K


# ---------------------------------------------------------------------------------------
# elementwise chain: relu(x*0.5+0.1)*sigmoid(x) + tanh(x)**2
# ---------------------------------------------------------------------------------------

def elementwise_chain(n: int, engines) -> Case:
    x = np.random.default_rng(0).normal(size=n).astype(F32)
    case = Case("chain", f"elementwise chain relu(x*0.5+0.1)*sigmoid(x)+tanh(x)**2, "
                f"{n:,} float32", Target("ratio", 0.25, "<= 0.25x"))
    case.floor = x.copy

    def numpy_():
        return lambda: np.maximum(x * 0.5 + 0.1, 0) * (1 / (1 + np.exp(-x))) + np.tanh(x) ** 2

    def symgraph_():
        K = _fresh_graph()
        p = K.placeholder((None,))
        f = K.function([p], [K.relu(p * 0.5 + 0.1) * K.sigmoid(p) + K.square(K.tanh(p))])
        return lambda: f([x])[0]

    def pytensor_(engine):
        pytensor, pt = _pt()
        p = pt.vector("x", dtype="float32")
        y = pt.maximum(p * 0.5 + 0.1, 0) * pt.sigmoid(p) + pt.tanh(p) ** 2
        f = pytensor.function([p], y, mode=pytensor_mode(engine))
        return lambda: f(x)

    def jax_():
        jax, jnp = _jax()
        f = jax.jit(lambda v: jax.nn.relu(v * 0.5 + 0.1) * jax.nn.sigmoid(v) + jnp.tanh(v) ** 2)
        xd = jax.device_put(x)
        return lambda: _jax_ready(f(xd))

    def numexpr_():
        import numexpr as ne

        consts = {"h": F32(0.5), "c": F32(0.1), "z": F32(0), "one": F32(1)}
        expr = "where(x*h+c > z, x*h+c, z) * (one/(one+exp(-x))) + tanh(x)**2"
        return lambda: ne.evaluate(expr, local_dict={"x": x, **consts})

    return _build(case, engines, {
        "numpy": numpy_, "symgraph": symgraph_, "jax": jax_, "numexpr": numexpr_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


# ---------------------------------------------------------------------------------------
# zeros_like(exp(dot(x, x)))
# ---------------------------------------------------------------------------------------

def zeros_like_expensive(n: int, engines) -> Case:
    x = (np.random.default_rng(1).uniform(-1, 1, size=(n, n)) / n).astype(F32)
    case = Case("zeros_like", f"zeros_like(exp(dot(x, x))), {n}x{n} float32",
                Target("ratio", 0.0005, "<= 0.0005x"), atol=0)

    def symgraph_():
        K = _fresh_graph()
        p = K.placeholder((None, None))
        f = K.function([p], [K.zeros_like(K.exp(K.dot(p, p)))])
        return lambda: f([x])[0]

    def pytensor_(engine):
        pytensor, pt = _pt()
        p = pt.matrix("x", dtype="float32")
        f = pytensor.function([p], pt.zeros_like(pt.exp(pt.dot(p, p))),
                              mode=pytensor_mode(engine))
        return lambda: f(x)

    def jax_():
        jax, jnp = _jax()
        f = jax.jit(lambda v: jnp.zeros_like(jnp.exp(v @ v)))
        xd = jax.device_put(x)
        return lambda: _jax_ready(f(xd))

    return _build(case, engines, {
        "numpy": lambda: (lambda: np.zeros_like(np.exp(x @ x))),
        "symgraph": symgraph_, "jax": jax_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


# ---------------------------------------------------------------------------------------
# MLP 784-512-512-10: inference, and the training step
# ---------------------------------------------------------------------------------------

def _mlp_params(sizes, seed=2):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)).astype(F32))
        params.append((rng.normal(size=fan_out) * 0.01).astype(F32))
    return params


def _np_softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_inference(batches: int, batch: int, engines, sizes=(784, 512, 512, 10)) -> Case:
    params = _mlp_params(sizes)
    rng = np.random.default_rng(3)
    distinct = min(batches, 20)  # cycle over 20 distinct batches (memory), 'batches' calls
    data = [rng.normal(size=(batch, sizes[0])).astype(F32) for _ in range(distinct)]
    order = [data[i % distinct] for i in range(batches)]
    case = Case("mlp", f"MLP {'-'.join(map(str, sizes))} inference (relu, softmax), "
                f"{batches} batches of {batch}", Target("ratio", 0.92, "<= 0.92x"))

    def numpy_():
        def run():
            for xb in order:
                a = xb
                for i in range(0, len(params) - 2, 2):
                    a = np.maximum(a @ params[i] + params[i + 1], 0)
                out = _np_softmax(a @ params[-2] + params[-1])
            return out
        return run

    def symgraph_():
        K = _fresh_graph()
        ws = [K.variable(p) for p in params]
        p = K.placeholder((None, sizes[0]))
        h = p
        for i in range(0, len(ws) - 2, 2):
            h = K.relu(K.dot(h, ws[i]) + ws[i + 1])
        f = K.function([p], [K.softmax(K.dot(h, ws[-2]) + ws[-1])])

        def run():
            for xb in order:
                out = f([xb])[0]
            return out
        return run

    def pytensor_(engine):
        pytensor, pt = _pt()
        ws = [pytensor.shared(w) for w in params]
        p = pt.matrix("x", dtype="float32")
        h = p
        for i in range(0, len(ws) - 2, 2):
            h = pt.maximum(pt.dot(h, ws[i]) + ws[i + 1], 0)
        y = pt.special.softmax(pt.dot(h, ws[-2]) + ws[-1], axis=-1)
        f = pytensor.function([p], y, mode=pytensor_mode(engine))

        def run():
            for xb in order:
                out = f(xb)
            return out
        return run

    def jax_():
        jax, jnp = _jax()

        @jax.jit
        def forward(ws, v):
            for i in range(0, len(ws) - 2, 2):
                v = jax.nn.relu(v @ ws[i] + ws[i + 1])
            return jax.nn.softmax(v @ ws[-2] + ws[-1], axis=-1)

        ws = [jax.device_put(w) for w in params]
        dev = [jax.device_put(xb) for xb in data]
        dev_order = [dev[i % distinct] for i in range(batches)]

        def run():
            for xb in dev_order:
                out = forward(ws, xb)
            return _jax_ready(out)
        return run

    return _build(case, engines, {
        "numpy": numpy_, "symgraph": symgraph_, "jax": jax_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


def mlp_training(steps: int, batch: int, engines, sizes=(784, 512, 512, 10),
                 lr: float = 0.01) -> Case:
    """Forward, softmax crossentropy, gradients, plain SGD; each engine trains its own copy
    of the same initial weights. The value checked is the loss of the first step of a
    call, so the warm-up calls (all from the same weights) must agree."""
    init = _mlp_params(sizes, seed=4)
    rng = np.random.default_rng(5)
    distinct = min(steps, 20)
    xs = [rng.normal(size=(batch, sizes[0])).astype(F32) for _ in range(distinct)]
    ys = [np.eye(sizes[-1], dtype=F32)[rng.integers(0, sizes[-1], batch)]
          for _ in range(distinct)]
    order = [(xs[i % distinct], ys[i % distinct]) for i in range(steps)]
    case = Case("train", f"MLP {'-'.join(map(str, sizes))} training step (crossentropy, "
                f"gradients, SGD), {steps} steps of {batch}", Target("ratio", 0.70, "<= 0.70x"),
                rtol=1e-3, atol=1e-4)

    def numpy_():
        params = [p.copy() for p in init]
        eps = F32(1e-7)

        def step(x, y):
            acts = [x]
            h = x
            for i in range(0, len(params) - 2, 2):
                h = np.maximum(h @ params[i] + params[i + 1], 0)
                acts.append(h)
            p = _np_softmax(h @ params[-2] + params[-1])
            loss = -(y * np.log(np.clip(p, eps, 1 - eps))).sum(axis=1).mean()
            d = (p - y) / F32(len(x))
            for i in range(len(params) - 2, -1, -2):
                gw, gb = acts[i // 2].T @ d, d.sum(axis=0)
                if i:
                    d = (d @ params[i].T) * (acts[i // 2] > 0)
                params[i] -= lr * gw
                params[i + 1] -= lr * gb
            return loss

        def run():
            losses = [step(x, y) for x, y in order]
            return np.asarray(losses[0])
        return run

    def symgraph_():
        K = _fresh_graph()
        ws = [K.variable(p) for p in init]
        x = K.placeholder((None, sizes[0]))
        y = K.placeholder((None, sizes[-1]))
        h = x
        for i in range(0, len(ws) - 2, 2):
            h = K.relu(K.dot(h, ws[i]) + ws[i + 1])
        probs = K.softmax(K.dot(h, ws[-2]) + ws[-1])
        loss = K.mean(K.categorical_crossentropy(y, probs))
        grads = K.gradients(loss, ws)
        f = K.function([x, y], [loss],
                       updates=[K.update_sub(w, g * lr) for w, g in zip(ws, grads)])

        def run():
            losses = [f([xb, yb])[0] for xb, yb in order]
            return np.asarray(losses[0])
        return run

    def pytensor_(engine):
        pytensor, pt = _pt()
        ws = [pytensor.shared(p.copy()) for p in init]
        x = pt.matrix("x", dtype="float32")
        y = pt.matrix("y", dtype="float32")
        h = x
        for i in range(0, len(ws) - 2, 2):
            h = pt.maximum(pt.dot(h, ws[i]) + ws[i + 1], 0)
        probs = pt.special.softmax(pt.dot(h, ws[-2]) + ws[-1], axis=-1)
        loss = -(y * pt.log(probs)).sum(axis=1).mean()
        grads = pytensor.grad(loss, ws)
        f = pytensor.function([x, y], loss, mode=pytensor_mode(engine),
                              updates=[(w, w - np.float32(lr) * g) for w, g in zip(ws, grads)])

        def run():
            losses = [f(xb, yb) for xb, yb in order]
            return np.asarray(losses[0])
        return run

    def jax_():
        jax, jnp = _jax()

        def loss_fn(ws, x, y):
            h = x
            for i in range(0, len(ws) - 2, 2):
                h = jax.nn.relu(h @ ws[i] + ws[i + 1])
            logp = jax.nn.log_softmax(h @ ws[-2] + ws[-1], axis=-1)
            return -(y * logp).sum(axis=1).mean()

        @jax.jit
        def step(ws, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(ws, x, y)
            return [w - lr * g for w, g in zip(ws, grads)], loss

        state = {"ws": [jax.device_put(p.copy()) for p in init]}
        dev = [(jax.device_put(xb), jax.device_put(yb)) for xb, yb in order[:distinct]]
        dev_order = [dev[i % distinct] for i in range(steps)]

        def run():
            losses = []
            for xb, yb in dev_order:
                state["ws"], loss = step(state["ws"], xb, yb)
                losses.append(loss)
            _jax_ready(state["ws"])
            return np.asarray(losses[0])
        return run

    return _build(case, engines, {
        "numpy": numpy_, "symgraph": symgraph_, "jax": jax_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


# ---------------------------------------------------------------------------------------
# reductions and softmax on n x n
# ---------------------------------------------------------------------------------------

REDUCTIONS = {
    # key: (title, numpy, symgraph, pytensor, jax) - each a function of the input
    "sum0": ("sum over axis 0", lambda a: a.sum(axis=0),
             lambda K, a: K.sum(a, axis=0), lambda pt, a: a.sum(axis=0),
             lambda jnp, a: a.sum(axis=0)),
    "sum1": ("sum over axis 1", lambda a: a.sum(axis=1),
             lambda K, a: K.sum(a, axis=1), lambda pt, a: a.sum(axis=1),
             lambda jnp, a: a.sum(axis=1)),
    "mean": ("mean (all)", lambda a: a.mean(),
             lambda K, a: K.mean(a), lambda pt, a: a.mean(), lambda jnp, a: a.mean()),
    "max": ("max (all)", lambda a: a.max(),
            lambda K, a: K.max(a), lambda pt, a: a.max(), lambda jnp, a: a.max()),
    "softmax": ("softmax over the last axis", _np_softmax,
                lambda K, a: K.softmax(a), lambda pt, a: pt.special.softmax(a, axis=-1),
                None),
}


def reduction(kind: str, n: int, engines) -> Case:
    title, np_fn, k_fn, pt_fn, jnp_fn = REDUCTIONS[kind]
    x = np.random.default_rng(6).uniform(0, 1, size=(n, n)).astype(F32)
    target = (Target("ratio", 0.2, "<= 0.2x") if kind == "softmax"
              else Target("best", 1.0, "<= best of NumPy/PyTensor/JAX"))
    case = Case(f"reduce_{kind}", f"{title}, {n}x{n} float32", target, rtol=1e-3, atol=1e-6)

    def symgraph_():
        K = _fresh_graph()
        p = K.placeholder((None, None))
        f = K.function([p], [k_fn(K, p)])
        return lambda: f([x])[0]

    def pytensor_(engine):
        pytensor, pt = _pt()
        p = pt.matrix("x", dtype="float32")
        f = pytensor.function([p], pt_fn(pt, p), mode=pytensor_mode(engine))
        return lambda: f(x)

    def jax_():
        jax, jnp = _jax()
        fn = jnp_fn or (lambda jnp_, a: jax.nn.softmax(a, axis=-1))
        f = jax.jit(lambda a: fn(jnp, a))
        xd = jax.device_put(x)
        return lambda: _jax_ready(f(xd))

    return _build(case, engines, {
        "numpy": lambda: (lambda: np_fn(x)), "symgraph": symgraph_, "jax": jax_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


# ---------------------------------------------------------------------------------------
# small CNN forward: conv 3x3x32 (valid) + bias, relu, maxpool 2x2, dense
# ---------------------------------------------------------------------------------------

def cnn_forward(batch: int, engines, side: int = 28, filters: int = 32,
                classes: int = 10) -> Case:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(batch, side, side, 1)).astype(F32)
    w = (rng.normal(size=(3, 3, 1, filters)) / 3).astype(F32)
    b = (rng.normal(size=filters) * 0.1).astype(F32)
    conv_side = side - 2
    pooled = conv_side // 2
    flat = pooled * pooled * filters
    wd = (rng.normal(size=(flat, classes)) / np.sqrt(flat)).astype(F32)
    bd = (rng.normal(size=classes) * 0.1).astype(F32)
    case = Case("cnn", f"CNN forward: conv 3x3x{filters} + relu, maxpool 2x2, dense {classes}; "
                f"batch {batch} of {side}x{side}x1", Target("ratio", 0.24, "<= 0.24x"),
                rtol=1e-3, atol=1e-4)

    def numpy_():
        from numpy.lib.stride_tricks import sliding_window_view

        wk = w.reshape(9, filters)

        def run():
            patches = sliding_window_view(x[..., 0], (3, 3), axis=(1, 2))
            h = patches.reshape(-1, 9) @ wk + b
            h = np.maximum(h, 0).reshape(batch, conv_side, conv_side, filters)
            h = h[:, :pooled * 2, :pooled * 2]
            h = h.reshape(batch, pooled, 2, pooled, 2, filters).max(axis=(2, 4))
            return h.reshape(batch, flat) @ wd + bd
        return run

    def symgraph_():
        K = _fresh_graph()
        p = K.placeholder((None, side, side, 1))
        h = K.relu(K.bias_add(K.conv2d(p, K.variable(w), padding="valid",
                                       data_format="channels_last"), K.variable(b),
                              data_format="channels_last"))
        h = K.pool2d(h, (2, 2), strides=(2, 2), data_format="channels_last", pool_mode="max")
        f = K.function([p], [K.dot(K.batch_flatten(h), K.variable(wd)) + K.variable(bd)])
        return lambda: f([x])[0]

    def pytensor_(engine):
        pytensor, pt = _pt()
        from pytensor.tensor.signal import convolve2d

        p = pt.tensor4("x", dtype="float32")
        # convolve2d flips the kernel: flip it back to get TF's cross-correlation; the
        # single input channel means no channel sum. (batch, 1, H, W) * (filters, 3, 3).
        wf = pt.constant(np.ascontiguousarray(w[::-1, ::-1, 0, :].transpose(2, 0, 1)))
        h = convolve2d(p[:, :, :, 0][:, None, :, :], wf[None, :, :, :], mode="valid")
        h = pt.maximum(h + pt.constant(b)[None, :, None, None], 0)
        h = h[:, :, :pooled * 2, :pooled * 2]
        h = h.reshape((batch, filters, pooled, 2, pooled, 2)).max(axis=(3, 5))
        h = h.dimshuffle(0, 2, 3, 1).reshape((batch, flat))
        f = pytensor.function([p], pt.dot(h, pt.constant(wd)) + pt.constant(bd),
                              mode=pytensor_mode(engine))
        return lambda: f(x)

    def jax_():
        jax, jnp = _jax()

        @jax.jit
        def forward(v):
            h = jax.lax.conv_general_dilated(v, w, (1, 1), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
            h = jax.nn.relu(h + b)
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                      "VALID")
            return h.reshape(batch, flat) @ wd + bd

        xd = jax.device_put(x)
        return lambda: _jax_ready(forward(xd))

    return _build(case, engines, {
        "numpy": numpy_, "symgraph": symgraph_, "jax": jax_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


# ---------------------------------------------------------------------------------------
# per-call cost of a compiled a + b
# ---------------------------------------------------------------------------------------

def call_cost(shape: tuple, calls: int, engines, numpy_scalars: bool = False) -> Case:
    """a + b called ``calls`` times on float32 arrays of ``shape`` (0-d arrays for
    ``()``), or on ``np.float32`` scalars with ``numpy_scalars``."""
    a = np.full(shape, 1.5, dtype=F32)
    b = np.full(shape, 2.25, dtype=F32)
    if numpy_scalars:
        a, b = F32(1.5), F32(2.25)
    what = "np.float32 scalars" if numpy_scalars else \
        "0-d arrays" if shape == () else f"{int(np.prod(shape))} floats"
    key = "call_npscalar" if numpy_scalars else "call_scalar" if shape == () else "call_vec"
    case = Case(key, f"per-call cost of a compiled a+b on {what} (float32)",
                Target("abs", 2e-6, "<= 2 us"), per=calls, unit="us")

    def loop(fn):
        def run():
            for _ in range(calls):
                out = fn()
            return out
        return run

    def symgraph_():
        K = _fresh_graph()
        pa, pb = K.placeholder(shape), K.placeholder(shape)
        f = K.function([pa, pb], [pa + pb])
        feed = [a, b]
        return loop(lambda: f(feed)[0])

    def pytensor_(engine):
        pytensor, pt = _pt()
        pa = pt.tensor("a", dtype="float32", shape=shape)
        pb = pt.tensor("b", dtype="float32", shape=shape)
        f = pytensor.function([pa, pb], pa + pb, mode=pytensor_mode(engine))
        return loop(lambda: f(a, b))

    def jax_():
        jax, _ = _jax()
        f = jax.jit(lambda u, v: u + v)
        ad, bd = jax.device_put(a), jax.device_put(b)
        return loop(lambda: f(ad, bd).block_until_ready())

    def numexpr_():
        import numexpr as ne

        return loop(lambda: ne.evaluate("a + b", local_dict={"a": a, "b": b}))

    return _build(case, engines, {
        "numpy": lambda: loop(lambda: np.add(a, b)), "symgraph": symgraph_, "jax": jax_,
        "numexpr": numexpr_,
        "pytensor_c": lambda: pytensor_("pytensor_c"),
        "pytensor_numba": lambda: pytensor_("pytensor_numba")})


# ---------------------------------------------------------------------------------------
# building a 10k-op graph (no compilation)
# ---------------------------------------------------------------------------------------

# The chain used for graph building, compile latency and peak memory: ten unary steps,
# repeated; every value stays in a moderate range whatever the repetition count.
CHAIN = [("mul", 0.9), ("add", 0.1), ("tanh",), ("mul", 1.5), ("sigmoid",), ("sub", 0.3),
         ("relu",), ("square",), ("add", 0.2), ("abs",)]


def chain_ops(n_ops: int):
    return [CHAIN[i % len(CHAIN)] for i in range(n_ops)]


def apply_chain(ns: str, x, n_ops: int):
    """Apply ``n_ops`` chain steps with engine namespace ``ns`` (numpy, symgraph, pytensor,
    jax) to ``x``. NumPy's sigmoid is the usual 1/(1+exp(-x))."""
    if ns == "numpy":
        table = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
                 "relu": lambda v: np.maximum(v, 0), "square": np.square, "abs": np.abs}
    elif ns == "symgraph":
        import symgraph.backend as K

        table = {"tanh": K.tanh, "sigmoid": K.sigmoid, "relu": K.relu, "square": K.square,
                 "abs": K.abs}
    elif ns == "pytensor":
        import pytensor.tensor as pt

        table = {"tanh": pt.tanh, "sigmoid": pt.sigmoid, "relu": lambda v: pt.maximum(v, 0),
                 "square": pt.sqr, "abs": pt.abs}
    elif ns == "jax":
        import jax
        import jax.numpy as jnp

        table = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu,
                 "square": jnp.square, "abs": jnp.abs}
    else:
        raise ValueError(ns)
    for op in chain_ops(n_ops):
        if op[0] == "mul":
            x = x * op[1]
        elif op[0] == "add":
            x = x + op[1]
        elif op[0] == "sub":
            x = x - op[1]
        else:
            x = table[op[0]](x)
    return x


def graph_build(n_ops: int, engines) -> Case:
    """Build (not compile) an ``n_ops`` chain; the value checked is the op count."""
    case = Case("build", f"building a {n_ops:,}-op graph (no compile)",
                Target("abs", 20e-3, "<= 20 ms"), atol=0, rtol=0)

    def symgraph_():
        import symgraph.backend as K

        def run():
            K.clear_session()
            apply_chain("symgraph", K.placeholder((None,)), n_ops)
            return np.asarray(n_ops)
        return run

    def pytensor_():
        import pytensor.tensor as pt

        def run():
            apply_chain("pytensor", pt.vector("x", dtype="float32"), n_ops)
            return np.asarray(n_ops)
        return run

    def jax_():
        jax, _ = _jax()
        x = np.ones(4, F32)

        def run():
            jaxpr = jax.make_jaxpr(lambda v: apply_chain("jax", v, n_ops))(x)
            return np.asarray(n_ops if len(jaxpr.jaxpr.eqns) >= n_ops else -1)
        return run

    return _build(case, engines, {"symgraph": symgraph_, "pytensor_c": pytensor_,
                                  "jax": jax_})
