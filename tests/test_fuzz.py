"""Random graphs against the NumPy references (issue 14, family 5).

Hypothesis draws small programs of elementwise ops, broadcasting, casts and reductions
over placeholders of several dtypes with ``None`` dims, and feeds them data holding NaN,
infinities, -0.0 and empty dims. Every program is compiled three ways (default; graph
passes off; fusion off) and each must match the op references (``reference_eval``):
exactly for ints and bools, to a dtype-sized tolerance for floats, with the same NaN
and infinity positions.

CI runs a few hundred derandomized examples (the same ones every run); ``pytest
--long tests/test_fuzz.py`` runs 20,000 random ones (a nightly job).
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgraph.backend as K
from symgraph import ops
from symgraph.errors import ShapeError
from symgraph.runtime.function import Function
from symgraph.runtime.reference import reference_eval

LONG = os.environ.get("SYMGRAPH_FUZZ_LONG") == "1"
EXAMPLES = 20_000 if LONG else 300
FLOATS = ("float16", "float32", "float64")
DTYPES = FLOATS + ("int32", "int64")
SPECIALS = (np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e-30)

UNARY = {
    "neg": lambda x: -x, "abs": K.abs, "square": K.square, "exp": K.exp,
    "tanh": K.tanh, "sigmoid": K.sigmoid, "sign": K.sign, "relu": K.relu,
    "log1p_abs": lambda x: K.log(K.abs(x) + 1), "sqrt_abs": lambda x: K.sqrt(K.abs(x)),
    "softsign": K.softsign,
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "max": K.maximum, "min": K.minimum,
    "where_gt": lambda a, b: ops.where(K.greater(a, b), a, b),  # broadcasting where
}
REDUCE = {"sum": K.sum, "mean": K.mean, "max": K.max, "min": K.min}
FLOAT_ONLY = {"exp", "tanh", "sigmoid", "log1p_abs", "sqrt_abs", "softsign"}


@st.composite
def programs(draw):
    """A program: input specs, then steps over earlier values (by index)."""
    rank = draw(st.integers(1, 3))
    base = [draw(st.sampled_from([0, 1, 2, 3])) for _ in range(rank)]
    inputs = []
    for _ in range(draw(st.integers(1, 3))):
        dtype = draw(st.sampled_from(DTYPES))
        # each dim: the base size, or 1 (broadcast); a dim may be None statically
        dims = [draw(st.sampled_from([b, 1])) if b != 1 else 1 for b in base]
        lead = draw(st.integers(0, rank - 1))  # fewer dims broadcast on the left
        dims = dims[lead:]
        static = tuple(None if draw(st.booleans()) else d for d in dims)
        inputs.append((dtype, tuple(dims), static))
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "cast", "reduce"]))
        a, b = draw(st.integers(0, 99)), draw(st.integers(0, 99))
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))), a))
        elif kind == "binary":
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))), a, b))
        elif kind == "cast":
            steps.append(("cast", draw(st.sampled_from(DTYPES)), a))
        else:
            steps.append(("reduce", draw(st.sampled_from(sorted(REDUCE))), a,
                          draw(st.integers(-3, 2)), draw(st.booleans())))
    seed = draw(st.integers(0, 2**31 - 1))
    return inputs, steps, seed


def _build(inputs, steps):
    placeholders = [K.placeholder(static, dtype=dtype) for dtype, _, static in inputs]
    values = list(placeholders)
    for step in steps:
        kind, name, a = step[:3]
        x = values[a % len(values)]
        if kind == "unary":
            if name in FLOAT_ONLY and not x.dtype.startswith("float"):
                x = K.cast(x, "float32")
            values.append(UNARY[name](x))
        elif kind == "binary":
            y = values[step[3] % len(values)]
            if x.dtype != y.dtype:  # the backend's rule: one dtype per binary op
                y = K.cast(y, x.dtype)
            try:
                values.append(BINARY[name](x, y))
            except ShapeError:  # operands that do not broadcast: not a program to test
                continue
        elif kind == "cast":
            values.append(K.cast(x, name))
        else:
            if x.ndim == 0:
                continue
            axis = step[3] % x.ndim - (x.ndim if step[3] < 0 else 0)
            values.append(REDUCE[name](x, axis=axis, keepdims=step[4]))
    return placeholders, values[len(placeholders):] or values[-1:]


def _data(rng, dtype, shape):
    if dtype.startswith("int"):
        return rng.integers(-5, 6, size=shape).astype(dtype)
    out = rng.normal(size=shape) * 3
    flat = out.reshape(-1)
    if flat.size:
        picks = rng.random(flat.size) < 0.15
        flat[picks] = rng.choice(SPECIALS, size=int(picks.sum()))
    with np.errstate(over="ignore"):  # 1e30 is inf in float16: one more special value
        return out.astype(dtype)


def _close(got, ref, what, rtol):
    assert got.shape == ref.shape and got.dtype == ref.dtype, (what, got.shape, ref.shape,
                                                               got.dtype, ref.dtype)
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, ref, err_msg=what)
        return
    assert (np.isnan(got) == np.isnan(ref)).all(), what
    finite = np.isfinite(ref)
    assert (got[~finite & ~np.isnan(ref)] == ref[~finite & ~np.isnan(ref)]).all(), what
    if finite.any():
        g, r = got[finite].astype(np.float64), ref[finite].astype(np.float64)
        atol = rtol * max(1.0, float(np.abs(r).max()))  # cancellation: judge by the scale
        bad = np.abs(g - r) > rtol * np.abs(r) + atol
        assert not bad.any(), (what, g[bad], r[bad])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_random_graphs_compiled_three_ways_match_the_references(program):
    inputs, steps, seed = program
    K.clear_session()
    placeholders, outputs = _build(inputs, steps)
    # a float16 (or float32) value anywhere upstream bounds the precision of everything
    # after it, whatever the output's dtype: NumPy rounds float16 at every step of its
    # references (sigmoid is four float16 operations there, one float32 one here)
    used = {n.dtype for n in outputs[0].graph.nodes if n.dtype.startswith("float")}
    rtol = max([{"float16": 1e-2, "float32": 1e-4, "float64": 1e-9}[d] for d in used] +
               [1e-9])
    rng = np.random.default_rng(seed)
    feeds = [_data(rng, dtype, dims) for dtype, dims, _ in inputs]
    with np.errstate(all="ignore"):
        expected = reference_eval(outputs, dict(zip(placeholders, feeds)))
        variants = {
            "default": Function(placeholders, outputs),
            "no passes": Function(placeholders, outputs, passes=()),
            "unfused": Function(placeholders, outputs, fuse=False),
        }
        for name, f in variants.items():
            for got, ref, out in zip(f(feeds), expected, outputs):
                _close(np.asarray(got), np.asarray(ref), f"{name}: {out.name} {steps}", rtol)


def test_found_by_the_fuzzer_float16_intermediates_are_rounded():
    # cast(x, float16) -> log(|.| + 1) -> cast back, fused: the float16 intermediate was
    # kept in float32, one float16 ulp more precise than the tensor it stands for
    x = K.placeholder((2, 1, 2), dtype="float64")
    h = K.cast(x, "float16")
    y = x + K.cast(K.log(K.abs(h) + 1), "float64")
    data = np.random.default_rng(0).normal(size=(2, 1, 2)) * 3
    (got,), (ref,) = Function([x], [y])([data]), reference_eval([y], {x: data})
    np.testing.assert_array_equal(got, ref)
