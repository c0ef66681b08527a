"""Test helpers: run a graph compiled and through the NumPy reference interpreter."""

from __future__ import annotations

import numpy as np

import symgraph.backend as K
from symgraph.runtime.reference import reference_eval


def run_both(inputs, outputs, feeds):
    """Evaluate ``outputs`` with the compiled function and with the op references."""
    f = K.function(inputs, outputs)
    compiled = f(feeds)
    ref = reference_eval(outputs, dict(zip(inputs, feeds)))
    return compiled, ref


def assert_close(actual, expected, dtype=None, rtol=None, atol=None):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.dtype.kind == "f":
        tight = actual.dtype == np.float64
        rtol = rtol if rtol is not None else (1e-10 if tight else 1e-5)
        atol = atol if atol is not None else (1e-12 if tight else 1e-6)
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(actual, expected)


def random_array(rng, shape, dtype, int_bound=10):
    """Normal floats, or ints in ``[-int_bound, int_bound)`` for int dtypes."""
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-int_bound, int_bound, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def random_elementwise_graph(rng, unary, binary, width: int, steps: int = 8):
    """A random elementwise graph over ``x`` (None, width) and ``y`` (width,): each step
    applies a random unary builder to, or a random binary builder between, earlier
    nodes. Returns ``(x, y, nodes)``."""
    x = K.placeholder((None, width))
    y = K.placeholder((width,))
    nodes = [x, y, x * 0.5]
    for _ in range(steps):
        if rng.random() < 0.5:
            nodes.append(unary[rng.integers(len(unary))](nodes[rng.integers(len(nodes))]))
        else:
            a, b = rng.integers(len(nodes), size=2)
            nodes.append(binary[rng.integers(len(binary))](nodes[a], nodes[b]))
    return x, y, nodes


def needs_keras_231():
    """A pytest mark skipping a module unless ``keras==2.3.1`` is installed."""
    import importlib.metadata

    import pytest

    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return pytest.mark.skipif(version != "2.3.1", reason="needs keras==2.3.1 (the keras2 extra)")


def scoped_chain(scopes: int = 100, per_scope: int = 100):
    """``scopes`` name scopes of ``per_scope`` elementwise nodes each, chained: the large
    graph (10,001 nodes by default) the HTML view's tests and screenshots open."""
    h = K.placeholder((None, 8), name="x")
    for i in range(scopes):
        with K.name_scope(f"block_{i}"):
            for _ in range(per_scope // 2):
                h = K.sin(h) + h
    return h
